"""Probes that the checks of several assignments share.

A probe runs in the sandbox beside the submission, sent there as its source text (`Sandbox.run`), so each is one
self-contained function of the submission's module `m`; it returns data, never a verdict (AUTHORING.md).
"""


def probe_raised(m, name, *args):
    """The name of the exception that `m.<name>(*args)` raises (a function or a class of the submission), or None
    when it returns. NotImplementedError propagates: an unwritten function is reported as not written yet, not as
    one that raises the wrong exception."""
    try:
        getattr(m, name)(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the kind of exception is the data the check judges
        return type(exc).__name__
    return None
