"""`dlcourse check <slug> --watch`: check again each time the file is saved, and print only what changed.

A re-check costs about the checks' own work: the grader's imports (torch, pytest, the engine) stay loaded in this
process, and the next run's sandbox worker is started as soon as a run ends (`Sandbox.prestart`), so that when the
file is saved it is already isolated, with NumPy/torch imported, waiting for the submission.

Why a pre-started worker and not a fork server: a zygote that imported torch before isolating itself, then forked a
child per run that entered the namespaces, would carry into every run whatever the import left in its memory and
descriptors, and would have to rebuild the isolation in a process that forked from a multi-threaded one. A
pre-started worker is the very worker a cold `dlcourse check` uses, built the same way (allowlist root, an
unprivileged user, its own cgroups, rlimits, tripwires) before it ever holds the submission; only the moment it
starts changes. Every run gets a fresh one, so nothing of one run's submission survives into the next.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from . import spec as specs, warm
from .grading import GradingError, grade, resolve_submission
from .report import Report, display_path, render
from .sandbox import Limits, Sandbox, SandboxUnavailable


class Watcher:
    """Grades one submission again and again, each time with a worker started before it was needed."""

    def __init__(self, slug: str, submission=None, *, device: str = "cpu", select: list[str] | None = None,
                 isolation: str = "auto", limits: Limits | None = None, sandbox: Sandbox | None = None):
        try:
            self.spec = specs.load(slug)
        except specs.UnknownAssignment as exc:
            raise GradingError(str(exc)) from None
        self.path = resolve_submission(self.spec, submission if submission is not None else self.spec.skeleton)
        self.device, self.select, self.isolation, self.limits = device, select, isolation, limits
        self._spare = sandbox
        self._stat: tuple | None = None
        self._digest: bytes | None = None
        self._used: list[Sandbox] = []  # workers of earlier runs, being closed in the background

    def run(self) -> Report:
        """Grade the file as it is now, with the worker `prepare` started (a fresh one when there is none).
        Call `prepare` once the report is shown, so that the next run's worker starts while the student edits."""
        spare, self._spare = self._spare, None
        self._digest = self._read_digest()
        if spare is not None:
            spare.close_in_background = True  # the report need not wait for the used worker to end
            self._used = [s for s in self._used if s.closer is None or s.closer.is_alive()] + [spare]
        return grade(self.spec.slug, self.path, mode="check", device=self.device, select=self.select,
                     isolation=self.isolation, limits=self.limits, sandbox=spare)

    def prepare(self, wait: bool = False) -> None:
        """Start the worker of the next run (where the sandbox cannot start, the next run says why); `wait`:
        until it is isolated and has imported its framework (the benchmark's steady state)."""
        if self._spare is None:
            try:
                self._spare = warm.prestart(self.spec.slug, self.device, self.isolation, self.limits)
            except SandboxUnavailable:
                self._spare = None
        if wait and self._spare is not None:
            try:
                self._spare.wait_booted()
            except SandboxUnavailable:
                self._spare.close()
                self._spare = None

    def changed(self) -> bool:
        """Whether the file's content differs from what was last graded (a save that changed nothing does not
        count; a file being rewritten is read again on the next poll)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        stat = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stat == self._stat:
            return False
        self._stat = stat
        digest = self._read_digest()
        return digest is not None and digest != self._digest

    def _read_digest(self) -> bytes | None:
        try:
            return hashlib.sha256(Path(self.path).read_bytes()).digest()
        except OSError:
            return None

    def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        for used in self._used:
            if used.closer is not None:
                used.closer.join(10)
        self._used = []


def watch(slug: str, submission=None, *, device: str = "cpu", select: list[str] | None = None,
          verbose: bool = False, json_path=None, console=None, sandbox: Sandbox | None = None, poll: float = 0.1,
          max_runs: int | None = None, isolation: str = "auto", limits: Limits | None = None) -> list[Report]:
    """Check `submission` now and after every save until interrupted (or `max_runs` runs); print the first report
    whole and then only what changed. Returns the reports. A GradingError of the first run propagates (a wrong
    slug, `--only` matching nothing); later ones are printed and the watch goes on."""
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    watcher = Watcher(slug, submission, device=device, select=select, isolation=isolation, limits=limits,
                      sandbox=sandbox)
    reports: list[Report] = []
    try:
        report = watcher.run()
        reports.append(report)
        render(report, console, verbose=verbose)
        watcher.prepare()
        _write(report, json_path, console)
        watcher.changed()  # note the file's state as graded
        console.print(Text(f"watching {display_path(str(watcher.path))}: the checks run again each time you save "
                           "it (Ctrl-C to stop)", style="cyan"))
        while max_runs is None or len(reports) < max_runs:
            time.sleep(poll)
            if not watcher.changed():
                continue
            time.sleep(min(poll, 0.05))  # let an editor finish writing
            watcher.changed()
            console.print(Text(f"\n{time.strftime('%H:%M:%S')} {display_path(str(watcher.path))} changed: "
                               "checking again", style="cyan"))
            try:
                new = watcher.run()
            except GradingError as exc:
                console.print(Text(f"error: {exc}", style="bold red"))
                watcher.prepare()
                continue
            render_changes(report, new, console, verbose=verbose)
            watcher.prepare()
            _write(new, json_path, console)
            reports.append(new)
            report = new
    except KeyboardInterrupt:
        console.print(Text("stopped watching", style="cyan"))
    finally:
        watcher.close()
    return reports


def _write(report: Report, json_path, console) -> None:
    if json_path:
        try:
            report.write_json(json_path)
        except OSError as exc:
            console.print(f"could not write {json_path}: {exc.strerror or exc}", highlight=False)


def changes(old: Report, new: Report, verbose: bool = False) -> list[tuple[str, object]]:
    """What differs between two reports of the same file: [("fixed" | "broken" | "changed" | "new", result)],
    plus ("module", text) when the module's own problem appeared, changed or went away."""
    out: list[tuple[str, object]] = []
    if old.module_problem != new.module_problem:
        out.append(("module", new.module_problem))
    before = {r.name: r for r in old.results}
    for r in new.results:
        o = before.get(r.name)
        if o is None:
            out.append(("new", r))
        elif o.passed != r.passed:
            out.append(("fixed" if r.passed else "broken", r))
        elif o.output != r.output or (o.stdout != r.stdout and (verbose or not r.passed)):
            out.append(("changed", r))
    return out


def render_changes(old: Report, new: Report, console, verbose: bool = False) -> None:
    """Print only what changed since the last run, then the summary line."""
    from rich.text import Text

    from .report import _panel

    found = changes(old, new, verbose)
    if not found:
        console.print(Text("no change in the results", style="dim"))
    for kind, item in found:
        if kind == "module":
            if item:
                console.print(_panel(str(item), f"{display_path(new.submission)}: no check could run", "red"))
            else:
                console.print(Text("the module's problem is fixed: its checks run again", style="green"))
            continue
        r = item
        if r.passed:
            console.print(Text(f"✔ {r.name}" + (" (now passes)" if kind == "fixed" else ""), style="green"))
            if verbose and r.stdout.strip():
                console.print(_panel(r.stdout.rstrip(), f"{r.name}: what your code printed", "blue"))
        elif r.brief or r.gated:
            console.print(Text(f"✘ {r.name}: {r.output}", style="yellow"))
        else:
            label = {"broken": " (passed before)", "changed": " (new message)"}.get(kind, "")
            console.print(_panel(r.output or "(no message)", f"✘ {r.name}{label}", "red", r.stdout))
    style = "bold green" if new.score == new.max_score and not new.hidden_pending else "bold"
    console.print(Text(new.summary_line(), style=style))
