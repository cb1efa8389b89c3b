"""The process's peak resident memory over one phase of a case (its build, its timing).

Linux keeps the process's peak as VmHWM in /proc/self/status, and writing 5 to /proc/self/clear_refs
(Linux 4.0 and later) lowers it to the current resident size, so each phase reads a peak of its own.
Where the reset is refused (a kernel or container that forbids it), a thread samples VmRSS instead;
where there is no /proc (macOS), only the process's lifetime peak (getrusage) can speak, and only for a
phase that raised it. ``how`` says which, every time; a peak that cannot be read is None, never 0.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
from pathlib import Path

PROC_SELF = Path("/proc/self")
#: how often VmRSS is read where the peak cannot be reset
SAMPLE_INTERVAL_S = 0.005
_FIELD = re.compile(rb"^(VmHWM|VmRSS):\s+(\d+)\s+kB", re.MULTILINE)


def read_status(status: Path) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak) in bytes, from a /proc/<pid>/status file; a field the
    file lacks is left out."""
    with open(status, "rb") as handle:
        text = handle.read()
    return {name.decode(): int(kb) * 1024 for name, kb in _FIELD.findall(text)}


def reset_peak(clear_refs: Path) -> None:
    """Lower the process's VmHWM to its resident size now; raises OSError as the kernel refuses (EACCES or
    EPERM where forbidden, EINVAL before Linux 4.0, ENOENT without /proc)."""
    handle = os.open(clear_refs, os.O_WRONLY)
    try:
        os.write(handle, b"5")
    finally:
        os.close(handle)


def _why(exc: OSError) -> str:
    """An OSError in a few words: 'Permission denied (EACCES)'."""
    code = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or exc}{f' ({code})' if code else ''}"


def _lifetime_peak() -> int | None:
    """The process's peak resident size since it began (getrusage), in bytes; None without getrusage."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB on Linux


#: how far above the resident size a peak may read just after its reset: the pages a process touches between two
#: reads of its status (a peak that did not come down reads as the phase's whole lifetime, far above)
RESET_SLACK_BYTES = 1 << 20


class PeakMemory:
    """The process's peak resident memory from ``start`` (or entering ``with``) to ``stop`` (or leaving it).

    After it stops: ``before_bytes``, the resident size at the start; ``peak_bytes``, the peak between
    start and stop; either None where this machine cannot tell it; ``how``, how they were read or why not.
    One at a time per process: each resets the process's peak.
    """

    def __init__(self, proc: Path = PROC_SELF, interval_s: float = SAMPLE_INTERVAL_S):
        self.status = proc / "status"
        self.clear_refs = proc / "clear_refs"
        self.interval_s = interval_s
        self.before_bytes: int | None = None
        self.peak_bytes: int | None = None
        self.how = ""
        self.samples = 0  # VmRSS readings taken (where the peak is sampled)
        self._mode = ""  # "reset", "sampled", "lifetime", then "stopped"
        self._hwm_at_start = 0
        self._sampled_peak = 0
        self._sampler: threading.Thread | None = None
        self._stopping = threading.Event()

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> PeakMemory:
        """Begin: reset the peak where the kernel lets it, or start sampling."""
        try:
            before = read_status(self.status)
        except OSError as exc:
            return self._start_lifetime(f"{self.status} cannot be read: {_why(exc)}")
        if "VmRSS" not in before or "VmHWM" not in before:
            return self._start_lifetime(f"{self.status} has no VmRSS and VmHWM")
        self.before_bytes = before["VmRSS"]
        try:
            reset_peak(self.clear_refs)
            after = read_status(self.status)
        except OSError as exc:
            refused = f"{self.clear_refs}: {_why(exc)}"
        else:
            # a peak already at the resident size has nothing to lower; any other must have come down, to the
            # resident size give or take what the process touched between the reads
            peak = after.get("VmHWM", before["VmHWM"])
            near = peak <= after.get("VmRSS", 0) + RESET_SLACK_BYTES
            if before["VmHWM"] <= before["VmRSS"] + RESET_SLACK_BYTES or peak < before["VmHWM"] or near:
                self._mode, self.how = "reset", f"VmHWM reset at the phase's start ({self.clear_refs})"
                return self
            refused = f"{self.clear_refs} took the write but VmHWM stayed up"
        self._mode, self._hwm_at_start = "sampled", before["VmHWM"]
        self._sampled_peak = before["VmRSS"]
        self.how = (f"VmRSS sampled every {self.interval_s * 1000:g} ms, or VmHWM where the phase raised it "
                    f"(the peak reset was refused: {refused})")
        self._sampler = threading.Thread(target=self._sample, name="trtbench-rss", daemon=True)
        self._sampler.start()
        return self

    def _start_lifetime(self, why: str) -> PeakMemory:
        peak = _lifetime_peak()
        if peak is None:
            self._mode, self.how = "stopped", f"not readable here: {why}, and no getrusage"
        else:
            self._mode, self._hwm_at_start, self.how = "lifetime", peak, why
        return self

    def _sample(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self._read_rss()

    def _read_rss(self) -> None:
        try:
            rss = read_status(self.status).get("VmRSS", 0)
        except OSError:
            return
        self.samples += 1
        self._sampled_peak = max(self._sampled_peak, rss)

    def stop(self) -> None:
        """End the phase and read its peak (again: nothing more)."""
        mode, self._mode = self._mode, "stopped"
        if mode == "reset":
            try:
                self.peak_bytes = read_status(self.status).get("VmHWM")
            except OSError as exc:
                self.how = f"not read: {self.status} cannot be read: {_why(exc)}"
        elif mode == "sampled":
            self._stopping.set()
            if self._sampler is not None:
                self._sampler.join()
            self._read_rss()
            try:
                hwm = read_status(self.status).get("VmHWM", 0)
            except OSError:
                hwm = 0
            # a lifetime peak the phase raised is the phase's own, exactly
            self.peak_bytes = hwm if hwm > self._hwm_at_start else self._sampled_peak
        elif mode == "lifetime":
            peak = _lifetime_peak() or 0
            if peak > self._hwm_at_start:
                self.peak_bytes = peak
                self.how = f"the process's lifetime peak (getrusage), which the phase raised ({self.how})"
            else:
                self.how = (f"not readable here: {self.how}, and the phase did not raise the process's lifetime "
                            "peak (getrusage), the only peak there is to read")
