"""The allowlist sandbox: what a submission can see, who it runs as, and that every wait ends.

Each test runs the submission both ways the sandbox can be built on one machine: as a root grader does (host
root in new namespaces, then an unprivileged host uid) and as any other grader does (a user namespace, then uid
1000 of a nested one); on a machine without namespaces they skip.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.paths import REPO_ROOT, SOLUTIONS
from autograder.sandbox import Limits, Sandbox, SandboxConfig, StudentError, StudentTimeout
from autograder.sandbox import codec, spawn
from autograder.sandbox.client import allowlist

WAYS = ["root", "userns"]
SPAWNS = ["exec", "zygote"]  # sandbox/spawn.py: a launcher exec'd, or forked from a zygote


@pytest.fixture
def spawning(request, monkeypatch):
    """Parametrize a test with `spawning` in SPAWNS: the sandboxes it starts come about that way."""
    monkeypatch.setattr(spawn, "_enabled", request.param == "zygote")
    return request.param


def make(tmp_path, source, way="root", *, framework="numpy", isolation="namespaces", limits=None, name="m.py"):
    folder = tmp_path / "submissions" / "bob"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))
    return Sandbox(SandboxConfig(module_path=folder / name, module_file=name, framework=framework,
                                 isolation=isolation, limits=limits or Limits(call_timeout=5),
                                 user_namespace=(way == "userns")))


def require_namespaces(sb):
    try:
        sb.start()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"namespaces unavailable here: {exc}")


FIND = '''
import os

def find(paths, marker):
    seen = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                seen[p] = f.read(200).decode("latin-1")
        except OSError as exc:
            seen[p] = type(exc).__name__
    hits = []
    for top, dirs, files in os.walk("/"):
        if top == "/proc" or top.startswith("/proc/"):
            dirs[:] = []
            continue
        system = top.startswith("/usr") or "site-packages" in top or "/lib/python3" in top
        for f in files:
            full = os.path.join(top, f)
            if f.startswith(".dlcourse-test-secret") or (f == "grades.csv" and not system):
                hits.append(full)
            if system:
                continue  # the allowlisted system folders: names are checked, contents would take minutes
            try:
                with open(full, "rb") as fh:
                    if marker.encode() in fh.read(1 << 16):
                        hits.append(full)
            except OSError:
                pass
        for d in dirs:
            if d in ("solutions", "submissions", "grader-cwd", "elsewhere", "alice"):
                hits.append(os.path.join(top, d))
    print("listing /:", sorted(os.listdir("/")))
    return {"files": seen, "hits": hits, "root": sorted(os.listdir("/"))}
'''


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """Secrets where a grader keeps them: its home folder, its working folder, a sibling submission, a copy of
    solutions/ elsewhere on the disk. Removed afterwards."""
    marker = "SECRET-" + secrets.token_hex(8)
    home = Path(os.path.expanduser("~"))
    places = {
        "home": home / f".dlcourse-test-secret-{secrets.token_hex(4)}",
        "cwd": tmp_path / "grader-cwd" / "grades.csv",
        "sibling": tmp_path / "submissions" / "alice" / "m.py",
        "solutions copy": tmp_path / "elsewhere" / "solutions" / "backprop" / "backprop.py",
    }
    for path in places.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{marker}\n")
    monkeypatch.chdir(places["cwd"].parent)
    yield marker, places
    places["home"].unlink(missing_ok=True)


@pytest.mark.parametrize("spawning", SPAWNS, indirect=True)
@pytest.mark.parametrize("way", WAYS)
def test_a_submission_finds_none_of_the_graders_files(tmp_path, planted, way, spawning):
    marker, places = planted
    with make(tmp_path, FIND, way) as sb:
        require_namespaces(sb)
        assert isinstance(sb.proc, spawn.Forked) == (spawning == "zygote")
        paths = [str(p) for p in places.values()] + ["/etc/shadow", str(SOLUTIONS / "backprop" / "backprop.py"),
                                                     str(REPO_ROOT / "README.md")]
        seen = sb.call("find", paths, marker, _timeout=60)
        printed = sb.output_tail(100000)
    text = json.dumps(seen) + printed
    assert marker not in text and "root:" not in json.dumps(seen["files"])
    assert all(v == "FileNotFoundError" for v in seen["files"].values()), seen["files"]
    assert seen["hits"] == [], seen["hits"]
    # The root holds the sandbox's own folders and the first component of each allowlisted path (where the
    # interpreter and site-packages live: /usr, or wherever this machine keeps its virtual environment).
    bound = {Path(p).parts[1] for p in allowlist("cpu") if len(Path(p).parts) > 1}
    assert set(seen["root"]) <= {"dev", "etc", "proc", "tmp", "sandbox"} | bound, sorted(set(seen["root"]) - bound)


PRIVILEGES = '''
import ctypes, os

def probe():
    libc = ctypes.CDLL(None, use_errno=True)
    out = {"uid": os.getuid(), "euid": os.geteuid(), "cwd": os.getcwd(), "groups": os.getgroups()}
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    out["caps"] = [int(status[k].strip(), 16) for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb")]
    out["no_new_privs"] = status.get("NoNewPrivs", "").strip()
    out["sys"] = os.path.exists("/sys/fs/cgroup") or os.path.exists("/sys/power/state")
    out["cgroup"] = open("/proc/self/cgroup").read().split()
    out["userns"] = libc.unshare(0x10000000)  # CLONE_NEWUSER: refused (or harmless, see below)
    out["mount"] = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
    writable = []
    for path in ("/", "/usr", "/etc", "/proc/sys/kernel/hostname", "/sandbox", "/tmp", "/dev"):
        try:
            if os.path.isdir(path):
                fn = os.path.join(path, "dlcourse-write-test")
                open(fn, "w").close()
                os.remove(fn)
            else:
                open(path, "w").close()
            writable.append(path)
        except OSError:
            pass
    out["writable"] = writable
    out["dev"] = sorted(os.listdir("/dev"))
    out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    out["fds"] = {f: os.readlink(f"/proc/self/fd/{f}") for f in fds if os.path.exists(f"/proc/self/fd/{f}")}
    return out
'''


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("spawning", SPAWNS, indirect=True)
def test_the_submission_runs_unprivileged_in_a_sealed_root(tmp_path, way, spawning):
    with make(tmp_path, PRIVILEGES, way) as sb:
        require_namespaces(sb)
        seen = sb.call("probe")
    assert seen["uid"] != 0 and seen["euid"] != 0 and seen["cwd"] == "/sandbox"
    assert seen["caps"] == [0, 0, 0, 0] and seen["no_new_privs"] == "1"
    assert not seen["sys"]
    assert seen["cgroup"] and all(line.endswith(":/") for line in seen["cgroup"])  # its own cgroup namespace
    assert seen["mount"] != 0
    if way == "userns":
        assert seen["userns"] != 0  # no user namespaces below the sandbox's own
    assert set(seen["writable"]) <= {"/sandbox", "/tmp"}, seen["writable"]
    assert set(seen["dev"]) <= {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr",
                                "shm"}
    assert seen["pids"][0] == 1 and len(seen["pids"]) <= 3
    # Only its own two pipes, /dev/null as stdin, the output file (stdout, stderr) and the file its stack is
    # written to when a call times out (write-only): no other descriptor of the grader.
    pipes = [v for v in seen["fds"].values() if v.startswith("pipe:")]
    sockets = [v for v in seen["fds"].values() if v.startswith("socket:")]
    assert len(pipes) == 2 and not sockets, seen["fds"]
    files = {v.rsplit("/", 1)[-1] for v in seen["fds"].values() if not v.startswith("pipe:")}
    assert files <= {"null", "output", "stack"} and len(seen["fds"]) <= 6, seen["fds"]


def test_the_working_folder_is_capped_and_fresh_after_a_restart(tmp_path):
    src = '''
    import os
    def fill():
        n = 0
        try:
            with open("big", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
                    n += 1
        except OSError as exc:
            return n, type(exc).__name__
    def many():
        n = 0
        try:
            while n < 100000:
                open(f"f{n}", "w").close()
                n += 1
        except OSError as exc:
            return n, type(exc).__name__
        return n, None
    def listing():
        return sorted(os.listdir("."))
    def crash():
        os._exit(3)
    '''
    limits = Limits(call_timeout=10, file_bytes=8 << 20)
    with make(tmp_path, src, limits=limits) as sb:
        require_namespaces(sb)
        written, err = sb.call("fill")
        assert written <= 8 and err is not None
        files, err = sb.call("many")
        assert files < 10000 and err is not None
        with pytest.raises(StudentError, match="died"):
            sb.call("crash")
        assert sb.call("listing") == ["m.py"]


def test_a_worker_that_stops_reading_cannot_stall_the_grader(tmp_path):
    """The request pipe is shrunk and filled from inside and the worker reads elsewhere: the grader's write
    has a deadline like its reads (this used to block forever)."""
    src = '''
    import fcntl, os, sys
    def hijack():
        req = int(sys.argv[1])
        keep = os.dup(req)
        r, w = os.pipe()
        os.dup2(r, req)  # the worker's loop now reads a pipe nobody writes
        fcntl.fcntl(keep, 1031, 4096)  # F_SETPIPE_SZ
        fd = os.open(f"/proc/self/fd/{keep}", os.O_WRONLY | os.O_NONBLOCK)
        try:
            while True:
                os.write(fd, b"\\0" * 4096)
        except BlockingIOError:
            pass
        return 1
    def ok():
        return 2
    '''
    for isolation, way in (("process", "root"), ("namespaces", "userns"), ("namespaces", "root")):
        with make(tmp_path, src, way, isolation=isolation, limits=Limits(call_timeout=1)) as sb:
            if isolation == "namespaces":
                require_namespaces(sb)
            try:
                assert sb.call("hijack") == 1
            except StudentError as exc:  # as another host uid, it cannot reopen the grader's pipe at all
                assert way == "root" and isolation == "namespaces" and "Permission denied" in str(exc)
                continue
            t0 = time.monotonic()
            with pytest.raises(StudentTimeout):
                sb.call("ok", np.zeros(100_000))
            assert time.monotonic() - t0 < 15
            assert sb.call("ok") == 2  # a fresh worker


def test_write_frame_has_a_deadline():
    r, w = os.pipe()
    os.set_blocking(w, False)
    t0 = time.monotonic()
    with pytest.raises(codec.ChannelTimeout):
        codec.write_frame(w, b"{}", [b"x" * (1 << 22)], time.monotonic() + 0.5)
    assert time.monotonic() - t0 < 3
    os.close(r)
    os.close(w)


def test_answers_are_capped_and_text_comes_back_valid(tmp_path):
    src = '''
    import numpy as np
    def many():
        return list(range(300_000))
    def big():
        return np.zeros(1 << 20)
    def long_text():
        return "y" * (5 << 20)
    def surrogate():
        raise ValueError("bad \\ud800 value")
    def surrogate_value():
        return {"k\\udcff": "v\\ud800"}
    def nested():
        x = []
        for _ in range(60):
            x = [x]
        return x
    '''
    limits = Limits(call_timeout=5, answer_bytes=1 << 20, answer_header_bytes=4 << 20, answer_values=100_000)
    with make(tmp_path, src, isolation="auto", limits=limits) as sb:
        for name, says in (("many", "more than 100000 values"), ("big", "array data"), ("long_text", "too large")):
            t0 = time.monotonic()
            with pytest.raises(StudentError, match=says):
                sb.call(name)
            assert time.monotonic() - t0 < 10
        with pytest.raises(StudentError) as info:
            sb.call("surrogate")
        str(info.value).encode("utf-8")
        assert "bad" in str(info.value)
        value = sb.call("surrogate_value")
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        assert len(sb.call("nested")) == 1


def test_decoding_builds_plain_types_and_checks_the_buffer():
    dec = codec.Decoder(max_nodes=1000, text_safe=True)
    header = json.dumps({"v": {"$": "nd", "dtype": "<f8", "shape": [3], "b": 0}, "blobs": [16]}).encode()
    with pytest.raises(codec.CodecError, match="size"):
        dec.decode(header, [b"\0" * 16])
    for bad in ({"$": "nd", "dtype": "|O", "shape": [1], "b": 0}, {"$": "int", "v": "9" * 100000},
                {"$": "torch.device", "v": "nonsense:7"}, {"$": "nd", "dtype": "V0", "shape": [10**12], "b": 0}):
        with pytest.raises(codec.CodecError):
            dec.decode(json.dumps({"v": bad, "blobs": [8]}).encode(), [b"\0" * 8])
    header = json.dumps({"v": {"$": "nd", "dtype": "<f8", "shape": [2], "b": 0}, "blobs": [16]}).encode()
    value = dec.decode(header, [b"\0" * 16])
    assert type(value) is np.ndarray and value.shape == (2,)


SPIN = '''
import ctypes, os, signal, time

def _spin():
    ctypes.CDLL(None).prctl(15, b"dlcspin" + MARK, 0, 0, 0)  # PR_SET_NAME: found by the test
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        pass

def daemons(n):
    for _ in range(n):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                _spin()
            os._exit(0)
    return n

def stall():
    ctypes.CDLL(None).prctl(15, b"dlcspin" + MARK, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
'''


def _spinning(mark: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == f"dlcspin{mark}":
                        found.append(int(pid))
            except OSError:
                pass
    return found


def _wait_gone(mark: str, seconds: float = 10) -> list[int]:
    end = time.monotonic() + seconds
    while _spinning(mark) and time.monotonic() < end:
        time.sleep(0.1)
    return _spinning(mark)


@pytest.mark.parametrize("isolation", ["namespaces", "process"])
def test_daemons_and_forked_busy_loops_die_with_the_worker(tmp_path, isolation):
    mark = secrets.token_hex(3)
    src = f"MARK = {mark.encode()!r}\n" + SPIN
    with make(tmp_path, src, isolation=isolation, limits=Limits(call_timeout=2)) as sb:
        if isolation == "namespaces":
            require_namespaces(sb)
        assert sb.call("daemons", 3) == 3
        time.sleep(0.5)
        assert len(_spinning(mark)) == 3
        t0 = time.monotonic()
        sb.kill()
        assert _wait_gone(mark) == [] and time.monotonic() - t0 < 10


GRADER = '''
import sys, time
from pathlib import Path
from autograder.sandbox import Limits, Sandbox, SandboxConfig
sb = Sandbox(SandboxConfig(module_path=Path(sys.argv[1]), module_file="m.py", isolation=sys.argv[2],
                           limits=Limits(call_timeout=600)))
sb.call("stall")
'''


@pytest.mark.parametrize("spawning", SPAWNS)
@pytest.mark.parametrize("isolation", ["namespaces", "process"])
def test_a_grader_that_dies_takes_its_sandbox_with_it(tmp_path, isolation, spawning):
    mark = secrets.token_hex(3)
    sub = tmp_path / "m.py"
    sub.write_text(f"MARK = {mark.encode()!r}\n" + SPIN)
    env = {**os.environ, "DLCOURSE_ZYGOTE": "1" if spawning == "zygote" else "0"}
    grader = subprocess.Popen([sys.executable, "-c", GRADER, str(sub), isolation], cwd=REPO_ROOT, env=env)
    try:
        end = time.monotonic() + 120
        while not _spinning(mark) and time.monotonic() < end and grader.poll() is None:
            time.sleep(0.2)
        if grader.poll() is not None:
            pytest.skip(f"the grader could not start a {isolation} sandbox here")
        assert _spinning(mark)
        grader.send_signal(signal.SIGKILL)
        grader.wait()
        assert _wait_gone(mark) == []
    finally:
        if grader.poll() is None:
            grader.kill()


def test_process_level_imports_torch_and_runs_it(tmp_path):
    src = "import socket, torch\ndef f(x):\n    return torch.relu(x)\ndef net():\n    socket.socket()\n"
    with make(tmp_path, src, isolation="process", framework="torch") as sb:
        import torch

        assert torch.equal(sb.call("f", torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))
        with pytest.raises(StudentError, match="network access is disabled"):
            sb.call("net")


def test_cpu_time_limit_ignores_a_busy_machine(tmp_path):
    """A call needing about 1 s of CPU, limited to 2 s of CPU time, while three busy loops compete for the
    cores: the wall clock runs far past 2 s, the call still passes."""
    src = '''
    import time
    def work(seconds):
        t0 = time.process_time()
        while time.process_time() - t0 < seconds:
            pass
        return 1
    '''
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        with make(tmp_path, src, isolation="auto", limits=Limits(call_timeout=2, wall_factor=10)) as sb:
            sb.start()
            if sb._cpu() is None:
                pytest.skip("no CPU-time accounting here")
            for _ in range(3):
                assert sb.call("work", 1.0) == 1
            with pytest.raises(StudentTimeout, match="CPU time"):
                sb.call("work", 30.0)
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_a_sandbox_that_cannot_start_is_not_the_students_fault(tmp_path, monkeypatch):
    from autograder.sandbox import SandboxUnavailable

    monkeypatch.setattr(spawn, "_enabled", False)  # exec'd: the interpreter itself is missing

    with make(tmp_path, "def f():\n    return 1\n", isolation="namespaces") as sb:
        sb.config.limits.boot_timeout = 60
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
        with pytest.raises(SandboxUnavailable):
            sb.call("f")
        assert sb.start_error
        with pytest.raises(SandboxUnavailable):
            sb.call("f")


def test_the_allowlist_names_no_project_folder():
    from autograder.sandbox.client import allowlist

    paths = allowlist()
    root = str(REPO_ROOT.resolve())
    assert all(not p.startswith(root) or "site-packages" in p for p in paths), paths
    assert not any(p in ("/", "/home", "/root", "/etc", "/tmp", "/var", "/opt") for p in paths), paths


def test_a_library_folder_under_tmp_stays_visible_beside_the_fresh_tmp(tmp_path, monkeypatch):
    """A virtual environment under /tmp (a CI clone, tox) is bound inside the sandbox's own /tmp, not hidden by it."""
    from autograder.sandbox import client

    lib = tmp_path / "venv-site-packages"
    lib.mkdir()
    (lib / "dlc_tmp_lib.py").write_text("ANSWER = 42\n")
    assert str(lib).startswith("/tmp/") or pytest.skip("pytest's tmp_path is not under /tmp here")
    real = client._third_party_path
    monkeypatch.setattr(client, "_third_party_path", lambda: [*real(), str(lib)])
    src = "import dlc_tmp_lib\n\ndef answer():\n    return dlc_tmp_lib.ANSWER\n"
    with make(tmp_path, src, isolation="namespaces") as sb:
        require_namespaces(sb)
        assert sb.call("answer") == 42
