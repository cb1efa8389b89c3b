"""One timed case per device at a time, and whether anything else used the device meanwhile.

Two `trtbench run` on one machine used to time at once and each got the other's load in its
numbers. Now a case holds its device's lock while it is timed (builds, exports and output checks
run in parallel freely): a second run waits for it, saying who holds it, or with ``--no-wait``
refuses. The lock is a file lock in a folder every user of the machine shares
(``$TRTBENCH_LOCK_DIR``, default ``<tmp>/trtbench-devices``), so it also keeps two users apart.

The lock keeps trtbench runs apart; other programs it cannot stop. ``DeviceUse`` measures them
while a case is timed: on the CPU, the CPU time the rest of the machine used (from /proc/stat,
less this process's own); on a GPU, the other processes NVML lists on it. A record says whether
its device was shared and how that was read.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trtbench.errors import TrtbenchError, one_line

#: the average CPUs other processes may use while a CPU case is timed before it counts as shared
SHARED_CPUS = 0.25


class DeviceBusy(TrtbenchError):
    """``--no-wait`` and another trtbench run is timing on the device."""

    exit_code = 6


def lock_dir() -> Path:
    """Where device locks live: shared by every user of this machine."""
    return Path(os.environ.get("TRTBENCH_LOCK_DIR") or Path(tempfile.gettempdir()) / "trtbench-devices")


@dataclass
class DeviceUse:
    """What a timed case learnt about its device: how long it waited for it, and whether anything
    else used it (None where that could not be read) and how that was read."""

    device: str
    waited_s: float = 0.0
    shared: bool | None = None
    evidence: str = ""


class DeviceLock:
    """The lock of one device (``key``: "cpu", or "gpu-<uuid>")."""

    def __init__(self, key: str, wait: bool = True, on_wait: Callable[[str], None] | None = None):
        self.key = key
        self.wait = wait
        self.on_wait = on_wait
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        self.folder = lock_dir()
        self.path = self.folder / f"{safe}.lock"
        self.holder_path = self.folder / f"{safe}.json"

    @contextlib.contextmanager
    def held(self) -> Iterator[float]:
        """Hold the device (waiting, or refusing with ``wait`` False); yields the seconds waited."""
        self._make_folder()
        fd = self._open(self.path, os.O_RDWR | os.O_CREAT)
        started = time.monotonic()
        try:
            if not _try_lock(fd):
                holder = self.holder()
                if not self.wait:
                    raise DeviceBusy(f"{self.key} is busy: {holder}; wait for it (run without --no-wait) "
                                     "or try again later")
                if self.on_wait is not None:
                    self.on_wait(f"waiting for {self.key}: {holder}")
                while not _try_lock(fd):
                    time.sleep(0.1)
            waited = time.monotonic() - started
            try:
                self._write_holder()
                yield waited
            finally:
                with contextlib.suppress(OSError):
                    self.holder_path.unlink()
        finally:
            os.close(fd)  # closing the file releases its lock

    def _open(self, path: Path, flags: int) -> int:
        """``path`` opened without following a symbolic link: the folder is shared by every user, and
        a link planted there must not lead a lock or a note onto someone's file."""
        try:
            fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise TrtbenchError(f"device lock {path} is a symbolic link, which trtbench never makes: remove it, "
                                    "or set TRTBENCH_LOCK_DIR to a folder of your own") from None
            raise TrtbenchError(f"cannot open the device lock {path} ({exc.strerror}): set TRTBENCH_LOCK_DIR to a "
                                "writable folder") from None
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)  # so another user's run can take it too (when this user made it)
        return fd

    def holder(self) -> str:
        """Who holds the device, in words (from the note the holder leaves beside the lock)."""
        try:
            fd = os.open(self.holder_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                data = json.loads(os.read(fd, 4096).decode("utf-8")) if stat.S_ISREG(os.fstat(fd).st_mode) else {}
            finally:
                os.close(fd)
            # the note is another user's file: its words are shown escaped, never as terminal codes
            return (f"another trtbench run is timing on it (pid {int(data['pid'])} on {_plain(data['host'])}, "
                    f"since {_plain(data['since'])})")
        except (OSError, ValueError, KeyError, TypeError, OverflowError, RecursionError):
            return "another trtbench run is timing on it"

    def _make_folder(self) -> None:
        try:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
                # like /tmp: every user may add a lock, none may remove another's
                with contextlib.suppress(OSError):
                    self.folder.chmod(0o1777)
        except OSError as exc:
            raise TrtbenchError(f"cannot create the device lock folder {self.folder} ({exc.strerror}): "
                                "set TRTBENCH_LOCK_DIR to a writable folder") from None

    def _write_holder(self) -> None:
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%H:%M:%S"),
                "command": " ".join(sys.argv)}
        try:  # non-blocking: a FIFO planted there would otherwise wait for a reader forever
            fd = self._open(self.holder_path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK)
        except TrtbenchError:
            return  # the note is a courtesy to whoever waits; the lock is what keeps timings apart
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                handle.truncate()
                handle.write(json.dumps(note))


def _plain(value) -> str:
    """Text from someone else's file, short and with control characters escaped."""
    return one_line(str(value)[:80])


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class CpuUse:
    """The CPU time the rest of the machine used between ``start`` and ``stop``."""

    def start(self) -> None:
        self.began = (time.monotonic(), _busy_cpu_s(), _own_cpu_s())

    def stop(self) -> tuple[bool | None, str]:
        wall, busy, own = self.began
        now_busy = _busy_cpu_s()
        if busy is None or now_busy is None:
            return None, "not measured (no /proc/stat)"
        elapsed = time.monotonic() - wall
        if elapsed <= 0:
            return None, "not measured (no time passed)"
        others = max(0.0, (now_busy - busy) - (_own_cpu_s() - own)) / elapsed
        cpus = os.cpu_count() or 1
        text = f"other processes used {others:.2f} of {cpus} CPUs on average while timed (/proc/stat)"
        return others > SHARED_CPUS, text


def _busy_cpu_s() -> float | None:
    """CPU-seconds every CPU of the machine has spent busy since boot (all but idle and iowait)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user, nice]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """This process's CPU-seconds, all its threads and the children it waited for (trtexec)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def gpu_sharers(uuid: str | None) -> tuple[bool | None, str]:
    """Whether processes other than this one run on the GPU ``uuid``, as NVML lists them."""
    from trtbench.measure.gpu import other_processes

    others = other_processes(uuid)
    if others is None:
        return None, "not measured (NVML unavailable: pip install nvidia-ml-py)"
    if others:
        return True, f"{len(others)} other process(es) on the GPU (NVML: pids {', '.join(map(str, others[:5]))})"
    return False, "no other process on the GPU (NVML)"


@contextlib.contextmanager
def timed_alone(key: str, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[DeviceUse]:
    """Hold device ``key`` ("cpu", "gpu-<uuid>") for a timing; the DeviceUse yielded is filled in
    when the block ends."""
    use = DeviceUse(key)
    with DeviceLock(key, wait, on_wait).held() as waited:
        use.waited_s = round(waited, 3)
        cpu = CpuUse() if key == "cpu" else None
        if cpu is not None:
            cpu.start()
        yield use
        use.shared, use.evidence = cpu.stop() if cpu is not None else gpu_sharers(_uuid(key))


def _uuid(key: str) -> str | None:
    uuid = key.removeprefix("gpu-")
    return None if uuid == "unknown" else uuid
