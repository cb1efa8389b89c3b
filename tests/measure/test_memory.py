"""The per-phase peak memory tracker sees a known allocation, with the peak reset by the kernel or, where the
reset is refused, sampled; where nothing can be read it says so and gives no number."""

import errno
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trtbench.measure import memory
from trtbench.measure.memory import PeakMemory, read_status, reset_peak

MIB = 2**20
SIZE = 200 * MIB
linux = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")


def resident(size):
    """``size`` bytes of memory, every page written so that all of it is resident."""
    return np.ones(size // 8, np.float64)


def refused(error):
    """A stand-in for ``reset_peak`` that fails as the kernel's write to clear_refs does."""
    def reset(path):
        raise OSError(error, os.strerror(error), str(path))  # EACCES and EPERM make a PermissionError, as os.open's
    return reset


def kernel_resets_here():
    try:
        reset_peak(Path("/proc/self/clear_refs"))
    except OSError:
        return False
    return True


def test_status_fields_are_read_in_bytes(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  333244 kB\nVmRSS:\t   26040 kB\nThreads:\t1\n")
    assert read_status(status) == {"VmHWM": 333244 * 1024, "VmRSS": 26040 * 1024}


@linux
def test_with_the_reset_a_phase_sees_its_own_allocation_and_not_an_earlier_bigger_one():
    if not kernel_resets_here():
        pytest.skip("this kernel refuses the peak reset (the sampled path is tested below)")
    earlier = resident(300 * MIB)  # raises the process's lifetime peak above what the phase will use
    del earlier
    with PeakMemory() as peak:
        held = resident(SIZE)
        del held
    assert peak.how == "VmHWM reset at the phase's start (/proc/self/clear_refs)" and peak.samples == 0
    assert peak.peak_bytes - peak.before_bytes == pytest.approx(SIZE, rel=0.1)


@linux
def test_where_the_reset_is_refused_sampling_sees_an_allocation_below_the_lifetime_peak(monkeypatch):
    monkeypatch.setattr(memory, "reset_peak", refused(errno.EACCES))
    earlier = resident(300 * MIB)  # the lifetime peak stays above the phase's: only the samples can see it
    del earlier
    with PeakMemory(interval_s=0.001) as peak:
        held = resident(SIZE)
        taken, deadline = peak.samples, time.monotonic() + 10
        while peak.samples < taken + 2 and time.monotonic() < deadline:  # held until sampled
            time.sleep(0.001)
        del held
    assert peak.how == ("VmRSS sampled every 1 ms, or VmHWM where the phase raised it (the peak reset was refused: "
                        "/proc/self/clear_refs: Permission denied (EACCES))")
    assert peak.samples >= 2
    assert peak.peak_bytes - peak.before_bytes == pytest.approx(SIZE, rel=0.1)


@linux
def test_where_the_reset_is_refused_a_lifetime_peak_the_phase_raised_is_its_own(monkeypatch):
    if not kernel_resets_here():
        pytest.skip("this kernel refuses the peak reset, which the test uses to lower the lifetime peak")
    reset_peak(Path("/proc/self/clear_refs"))
    monkeypatch.setattr(memory, "reset_peak", refused(errno.EINVAL))  # a kernel before 4.0
    with PeakMemory(interval_s=3600) as peak:  # no sample is taken in the phase: VmHWM alone tells
        held = resident(SIZE)
        del held
    assert "the peak reset was refused: /proc/self/clear_refs: Invalid argument (EINVAL)" in peak.how
    assert peak.samples == 1  # the reading at the stop, after the allocation was freed
    assert peak.peak_bytes - peak.before_bytes == pytest.approx(SIZE, rel=0.1)


@linux
def test_a_reset_the_kernel_takes_but_ignores_is_not_trusted(monkeypatch):
    monkeypatch.setattr(memory, "reset_peak", lambda path: None)  # the write goes through, VmHWM stays
    earlier = resident(300 * MIB)
    del earlier
    with PeakMemory() as peak:
        pass
    assert peak.how.endswith("(the peak reset was refused: /proc/self/clear_refs took the write but VmHWM stayed up)")
    assert peak.peak_bytes < peak.before_bytes + 300 * MIB * 0.5


@linux
def test_without_a_clear_refs_file_the_os_error_is_the_reason(tmp_path):
    (tmp_path / "status").symlink_to("/proc/self/status")  # a /proc without clear_refs
    with PeakMemory(proc=tmp_path, interval_s=3600) as peak:
        pass
    assert peak.how.endswith(f"(the peak reset was refused: {tmp_path / 'clear_refs'}: No such file or directory "
                             "(ENOENT))")
    assert peak.before_bytes > 0 and peak.peak_bytes >= peak.before_bytes


@pytest.mark.skipif(sys.platform == "win32", reason="getrusage is POSIX")
def test_without_proc_only_a_lifetime_peak_the_phase_raised_is_given(tmp_path, monkeypatch):
    lifetime = [1000 * MIB]
    monkeypatch.setattr(memory, "_lifetime_peak", lambda: lifetime[0])
    with PeakMemory(proc=tmp_path / "no-proc") as flat:
        pass
    assert flat.peak_bytes is None and flat.before_bytes is None
    assert flat.how == (f"not readable here: {tmp_path / 'no-proc' / 'status'} cannot be read: No such file or "
                        "directory (ENOENT), and the phase did not raise the process's lifetime peak (getrusage), "
                        "the only peak there is to read")
    with PeakMemory(proc=tmp_path / "no-proc") as raised:
        lifetime[0] += SIZE
    assert raised.peak_bytes == 1000 * MIB + SIZE and raised.before_bytes is None
    assert raised.how.startswith("the process's lifetime peak (getrusage), which the phase raised (")


def test_the_lifetime_peak_is_in_bytes():
    peak = memory._lifetime_peak()
    if sys.platform == "win32":
        assert peak is None
    else:
        assert peak >= 10 * MIB  # a Python with numpy holds more than 10 MiB: kB would read as less


def test_nothing_readable_gives_no_number(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "_lifetime_peak", lambda: None)  # no /proc, no getrusage: Windows
    with PeakMemory(proc=tmp_path) as peak:
        pass
    assert peak.peak_bytes is None and peak.before_bytes is None
    assert peak.how.startswith("not readable here: ") and peak.how.endswith(", and no getrusage")


def test_stopping_twice_reads_once(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "reset_peak", refused(errno.EPERM))
    (tmp_path / "status").write_text("VmHWM:\t 4000 kB\nVmRSS:\t 3000 kB\n")
    peak = PeakMemory(proc=tmp_path, interval_s=3600).start()
    (tmp_path / "status").write_text("VmHWM:\t 5000 kB\nVmRSS:\t 3500 kB\n")
    peak.stop()
    assert (peak.before_bytes, peak.peak_bytes) == (3000 * 1024, 5000 * 1024)  # VmHWM rose: the phase's own
    assert "Operation not permitted (EPERM)" in peak.how
    (tmp_path / "status").write_text("VmHWM:\t 9000 kB\nVmRSS:\t 9000 kB\n")
    peak.stop()
    assert peak.peak_bytes == 5000 * 1024
