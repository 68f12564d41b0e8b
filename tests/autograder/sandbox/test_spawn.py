"""Sandboxes forked from a zygote (autograder/sandbox/spawn.py) behave as exec'd ones, and the zygote keeps
nothing of the sandboxes it forks."""

import os
import subprocess
import sys
import textwrap

import pytest

from autograder.paths import REPO_ROOT
from autograder.sandbox import Limits, Sandbox, SandboxConfig, StudentError
from autograder.sandbox import spawn

SOURCE = '''
import os

def add(a, b):
    return a + b

def die(code):
    os._exit(code)
'''


def sandbox(tmp_path, framework="numpy"):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(SOURCE))
    return Sandbox(SandboxConfig(module_path=path, module_file="m.py", framework=framework,
                                 limits=Limits(call_timeout=20)))


@pytest.fixture
def zygotes(monkeypatch):
    monkeypatch.setattr(spawn, "_enabled", True)


def test_a_forked_sandbox_answers_dies_and_restarts_as_an_exec_d_one(tmp_path, zygotes, monkeypatch):
    messages = {}
    for mode in ("zygote", "exec"):
        monkeypatch.setattr(spawn, "_enabled", mode == "zygote")
        with sandbox(tmp_path) as sb:
            assert sb.call("add", 2, 3) == 5
            assert isinstance(sb.proc, spawn.Forked) == (mode == "zygote")
            with pytest.raises(StudentError, match="died") as err:
                sb.call("die", 3)
            messages[mode] = str(err.value)
            assert sb.call("add", 1, 1) == 2 and sb.restarts == 1  # a fresh launcher
    assert messages["zygote"] == messages["exec"] and "exit code 3" in messages["zygote"]


def test_the_zygote_holds_no_channel_of_any_sandbox(tmp_path, zygotes):
    for _ in range(3):
        with sandbox(tmp_path) as sb:
            assert sb.call("add", 1, 2) == 3
    zygote = next(z for z in spawn._zygotes.values() if z.owner == os.getpid())
    fds = os.listdir(f"/proc/{zygote.proc.pid}/fd")
    kinds = sorted(os.readlink(f"/proc/{zygote.proc.pid}/fd/{fd}").split(":")[0] for fd in fds)
    assert "pipe" not in kinds, kinds  # the sandboxes' request, answer and stack pipes were all closed
    assert kinds.count("socket") == 1, kinds  # only its control socket


def test_a_zygote_that_cannot_start_means_an_exec_d_sandbox(tmp_path, zygotes, monkeypatch):
    def broken(*_a, **_k):
        raise spawn.ZygoteError("no zygote today")

    monkeypatch.setattr(spawn, "Zygote", broken)
    monkeypatch.setattr(spawn, "_zygotes", {})
    with sandbox(tmp_path) as sb:
        assert sb.call("add", 2, 2) == 4
        assert isinstance(sb.proc, subprocess.Popen)


FORKED_COPY = '''
import os, sys, tempfile
from pathlib import Path
from autograder.sandbox import Sandbox, SandboxConfig, spawn
spawn.enable()
d = Path(tempfile.mkdtemp())
(d / "m.py").write_text("def f():\\n    return 7\\n")
with Sandbox(SandboxConfig(module_path=d / "m.py", module_file="m.py")) as sb:
    assert sb.call("f") == 7
assert spawn._zygotes
pid = os.fork()
if pid == 0:
    ok = not spawn._zygotes  # the parent's zygote is not the child's
    with Sandbox(SandboxConfig(module_path=d / "m.py", module_file="m.py")) as sb:
        ok = ok and sb.call("f") == 7 and isinstance(sb.proc, spawn.Forked)
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
with Sandbox(SandboxConfig(module_path=d / "m.py", module_file="m.py")) as sb:
    assert sb.call("f") == 7  # the parent's zygote still answers in step
sys.exit(os.waitstatus_to_exitcode(status))
'''


def test_a_forked_copy_of_the_grader_starts_its_own_zygote():
    done = subprocess.run([sys.executable, "-c", FORKED_COPY], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]


FDS = '''
import os

def fds():
    return len(os.listdir("/proc/self/fd"))
'''


def test_a_forked_sandbox_holds_no_more_descriptors_than_an_exec_d_one(tmp_path, monkeypatch):
    counts = {}
    for mode in ("exec", "zygote"):
        monkeypatch.setattr(spawn, "_enabled", mode == "zygote")
        path = tmp_path / mode / "m.py"
        path.parent.mkdir()
        path.write_text(textwrap.dedent(FDS))
        with Sandbox(SandboxConfig(module_path=path, module_file="m.py", framework="torch",
                                   limits=Limits(call_timeout=20))) as sb:
            counts[mode] = sb.call("fds")
    assert counts["zygote"] <= counts["exec"], counts
