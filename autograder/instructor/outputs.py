"""Nothing overwritten: every instructor command that writes files goes through these few functions.

- `writable_dir(path, what)`: the folder exists (created if needed) and this user may write in it, else one line
  naming the path and the reason (`OutputError`), never a traceback.
- `claim(paths, force, what)`: the files an export is about to write. Any that already exists is refused with one
  line, unless `force`, which moves each existing one aside (`<name>.old-<UTC time>`) before it is written again:
  an old result is never lost, only renamed.
- `set_aside(path)`: that move, for a file or a folder; returns where it went.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class OutputError(Exception):
    """An output cannot be written (unwritable, or it would replace something without --force): one line."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def writable_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """`path` as a folder this user can write into (created with its parents); OutputError otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot create {what} {path}: a file of that name is in the way")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {what} {path}: {_reason(exc)}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {what} {path}: permission denied")
    return path


def writable_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """`path`'s folder exists and is writable (for a file about to be written); OutputError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder: give a file name")
    writable_dir(path.parent if str(path.parent) else Path("."), what=f"the folder of {what}")
    return path


def stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def set_aside(path: Path) -> Path:
    """Rename `path` to `<name>.old-<UTC time>[-n]` next to it (nothing is deleted); returns the new path."""
    base = f"{path.name}.old-{stamp()}"
    target, n = path.with_name(base), 1
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{base}-{n}")
    try:
        os.replace(path, target)
    except OSError as exc:
        raise OutputError(f"cannot move {path} aside to {target.name}: {_reason(exc)}") from None
    return target


def claim(paths: list[Path], force: bool, what: str = "the export") -> list[tuple[Path, Path]]:
    """Refuse (one line) when any of `paths` exists, unless `force`: then each existing one is set aside.

    Returns [(path, where the old one went)] for what was moved."""
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise OutputError(f"{what} would replace {names}: choose another --out, or pass --force (the old "
                          "files are kept, renamed *.old-<time>)")
    return [(p, set_aside(p)) for p in existing]


def write_text(path: Path, text: str) -> None:
    """Write a text file; an unwritable place is one line (OutputError)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
