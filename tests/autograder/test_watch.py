"""`dlcourse check --watch`: a pre-started worker for every run, a re-check on each save, only what changed."""

import io
import os
import signal
import subprocess
import sys
import threading
import time

from rich.console import Console

from autograder.watch import Watcher, changes, render_changes, watch
from tests.helpers import mutate, reference_source, write_submission

SLUG = "backprop"
RELU = "    return np.maximum(x, 0.0), x\n"
BUGGY = mutate(reference_source(SLUG), RELU, "    return np.abs(x), x\n")
SELECT = ["linear_forward", "relu_forward"]


def console():
    buf = io.StringIO()
    return Console(file=buf, width=200, color_system=None), buf


def test_each_run_uses_a_worker_started_before_the_file_changed(tmp_path):
    path = write_submission(tmp_path, SLUG, BUGGY)
    watcher = Watcher(SLUG, path, select=SELECT)
    try:
        first = watcher.run()
        assert not first.result("relu_forward: max(0, x)").passed
        assert watcher._spare is None
        watcher.prepare()
        spare = watcher._spare
        assert spare is not None and spare.proc is not None  # ready before the student saves
        assert not watcher.changed()  # nothing saved since the run
        path.write_text(reference_source(SLUG))
        assert watcher.changed()
        second = watcher.run()
        assert second.score == second.max_score
        spare.closer.join(30)
        assert spare.proc is None  # it graded the second run, and was closed with it (in the background)
        watcher.prepare(wait=True)
        assert watcher._spare is not None and watcher._spare is not spare and watcher._spare.proc is not None
        found = changes(first, second)
        assert [(kind, r.name) for kind, r in found] == [("fixed", "relu_forward: max(0, x)")]
        con, buf = console()
        render_changes(first, second, con)
        text = buf.getvalue()
        assert "✔ relu_forward: max(0, x) (now passes)" in text
        assert "linear_forward" not in text.split("backprop:")[0]  # unchanged: not printed again
        path.write_text(reference_source(SLUG))  # saved without a change: no new run
        time.sleep(0.01)
        os.utime(path)
        assert not watcher.changed()
    finally:
        watcher.close()


def test_the_watch_loop_prints_the_first_report_then_only_what_changed(tmp_path):
    path = write_submission(tmp_path, SLUG, BUGGY)
    con, buf = console()

    def save_when_watching():
        end = time.monotonic() + 300
        while "watching" not in buf.getvalue() and time.monotonic() < end:
            time.sleep(0.05)
        path.write_text(reference_source(SLUG))

    saver = threading.Thread(target=save_when_watching, daemon=True)
    saver.start()
    reports = watch(SLUG, path, select=SELECT, console=con, max_runs=2, poll=0.05)
    saver.join(5)
    text = buf.getvalue()
    assert len(reports) == 2 and reports[1].score == reports[1].max_score
    first, _, rest = text.partition("changed: checking again")
    assert "relu(x) is off" in first and "┏" in first  # the whole first report, its table included
    assert "(now passes)" in rest and "┏" not in rest and "relu(x) is off" not in rest


def test_dlcourse_check_watch_rechecks_on_save_and_stops_on_ctrl_c(tmp_path):
    path = write_submission(tmp_path, SLUG, BUGGY)
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "check", SLUG, "--submission", str(path),
                             "--only", "relu_forward", "--watch"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "160"})
    lines: list[str] = []

    def read():
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(text, seconds=300):
        end = time.monotonic() + seconds
        while not any(text in line for line in lines) and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
        return any(text in line for line in lines)

    try:
        assert wait_for("watching"), "".join(lines)
        path.write_text(reference_source(SLUG))
        assert wait_for("(now passes)"), "".join(lines)
        assert wait_for("1/1 points"), "".join(lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        reader.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines)
    assert "stopped watching" in text and text.count("relu(x) is off") == 1
