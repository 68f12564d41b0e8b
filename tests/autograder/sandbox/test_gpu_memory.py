"""The GPU memory bound (autograder/sandbox/gpu_memory.py): the driver's table read right, the watch's arithmetic,
the client stopping a sandbox that holds too much (with a stand-in driver here, with the real one on CUDA)."""

import textwrap

import pytest

from autograder.sandbox import Limits, Sandbox, SandboxConfig, StudentError
from autograder.sandbox.gpu_memory import GiB, GpuMemoryExceeded, GpuMemoryWatch, parse_compute_apps

MiB = 1024**2


def test_the_drivers_table_is_read_per_pid_and_odd_lines_are_skipped():
    text = "1234, 2048\n1234, 1024\n 99 , 10\n[N/A], [N/A]\nno processes found\n"
    assert parse_compute_apps(text) == {1234: 3072 * MiB, 99: 10 * MiB}
    assert parse_compute_apps("") == {}


class Driver:
    """A stand-in for nvidia-smi: a table that the test changes, and a count of the questions asked."""

    def __init__(self, table=None):
        self.table, self.asked = table, 0

    def __call__(self):
        self.asked += 1
        return None if self.table is None else dict(self.table)


def test_the_watch_counts_only_the_sandboxs_processes_and_stops_it_over_the_limit():
    driver = Driver({10: 1 * GiB, 11: 2 * GiB, 99: 50 * GiB})  # 99 is someone else's
    watch = GpuMemoryWatch(4 * GiB, lambda: [10, 11], query=driver, interval=0.0)
    watch.check()
    assert watch.peak == 3 * GiB and watch.measured
    driver.table[11] = 5 * GiB
    with pytest.raises(GpuMemoryExceeded, match=r"used 6\.00 GiB of GPU memory, over the sandbox's limit of 4\.00"):
        watch.check()
    assert watch.peak == 6 * GiB and "peak 6.00 GiB" in watch.describe()


def test_the_watch_asks_the_driver_at_most_once_per_interval():
    driver = Driver({})
    watch = GpuMemoryWatch(GiB, lambda: [1], query=driver, interval=60.0)
    for _ in range(50):
        watch.check()
    assert driver.asked == 1


def test_a_driver_that_shows_nothing_is_reported_as_unmeasured_not_as_zero():
    for driver in (Driver(None), Driver({42: GiB})):  # no nvidia-smi; or none of the sandbox's pids visible
        watch = GpuMemoryWatch(GiB, lambda: [1], query=driver, interval=0.0)
        watch.check()
        assert not watch.measured and "could not measure" in watch.describe()


HOLDS = '''
import time

def hold(seconds):
    time.sleep(seconds)
    return 1
'''


def test_the_client_stops_a_call_whose_sandbox_holds_too_much_and_the_next_call_starts_afresh(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(HOLDS))
    sb = Sandbox(SandboxConfig(module_path=path, module_file="m.py", framework="numpy",
                               limits=Limits(call_timeout=20)))
    driver = Driver({})
    with sb:
        sb.gpu_watch = GpuMemoryWatch(2 * GiB, sb._pids, query=driver, interval=0.0)
        assert sb.call("hold", 0.0) == 1  # nothing held: the call goes through
        driver.table = {sb._pids()[0]: 3 * GiB}  # now one of the sandbox's processes holds 3 GiB
        with pytest.raises(StudentError, match="GPU memory") as err:
            sb.call("hold", 5.0)
        assert err.value.kind == "gpu-memory" and "3.00 GiB" in str(err.value)
        driver.table = {}
        assert sb.call("hold", 0.0) == 1 and sb.restarts == 1


LARGE = '''
import time
import torch

def grab(gib, lift):
    if lift:  # the allocator's cap lives in this process: a submission can lift it, the grader's bound holds
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
    x = torch.empty(int(gib * 2**30), dtype=torch.uint8, device="cuda")
    time.sleep(3)
    return int(x.numel())
'''


@pytest.mark.cuda
@pytest.mark.parametrize("lift", [False, True])
def test_on_a_gpu_a_submission_over_its_limit_gets_no_memory(tmp_path, lift):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(LARGE))
    sb = Sandbox(SandboxConfig(module_path=path, module_file="m.py", framework="torch", device="cuda",
                               limits=Limits(call_timeout=60, gpu_memory_bytes=2 * GiB)))
    with sb:
        assert sb.call("grab", 0.5, False) == GiB // 2  # well under the limit
        if lift and not sb.gpu_watch.measured:
            pytest.skip("the driver shows no per-process memory here: only the allocator's cap holds")
        with pytest.raises(StudentError) as err:
            sb.call("grab", 4, lift)
        text = str(err.value)
        if lift:  # the grader measured the sandbox over its limit and stopped it
            assert err.value.kind == "gpu-memory" and "GPU memory" in text, (err.value.kind, text)
        else:  # the allocator's cap refused the allocation inside the student's own code
            assert err.value.kind == "exception" and "OutOfMemory" in text, (err.value.kind, text)
