"""NVIDIA GPUs on this machine, through NVML (nvidia-ml-py) or, failing that, nvidia-smi; and which
TensorRT extra fits the driver.

NVML is initialized once per process and shut down at exit (nvmlInit counts references: an
init per timed case without a shutdown keeps adding to it).

This module imports only the standard library at load time: `make setup` loads it by path with the
system Python, before any package is installed (scripts/gpu_stack.py), so the driver rules live here
once for the Makefile, `trtbench doctor` and the CUDA bindings' errors.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import subprocess
import threading
from typing import Any

#: The TensorRT extras, newest CUDA first: (extra, CUDA major, oldest driver branch, what it runs).
#: CUDA 12.x wheels run on R525 and newer through minor-version compatibility; CUDA 13 wheels
#: (cuda-bindings 13, tensorrt-cu13) need R580: on an older driver they import, then every CUDA call
#: fails with cudaErrorInsufficientDriver.
CUDA_EXTRAS = (
    ("tensorrt-cu13", 13, 580, "CUDA 13 runtime"),
    ("tensorrt-cu12", 12, 525, "CUDA 12.x runtime, R525+ through minor-version compatibility"),
)

_DRIVER_VERSION = re.compile(r"(\d+)\.\d+(\.\d+)*")


def driver_branch(version: str | None) -> int | None:
    """The branch of an NVIDIA driver version ('570.124.06' -> 570), or None when it is not one."""
    match = _DRIVER_VERSION.fullmatch((version or "").strip())
    return int(match.group(1)) if match else None


def extra_for_driver(version: str | None) -> str | None:
    """The TensorRT extra whose CUDA major runs on NVIDIA driver ``version`` ('570.124.06' ->
    'tensorrt-cu12', '580.65.06' -> 'tensorrt-cu13'); None for a driver older than R525 or a version
    that is not one."""
    branch = driver_branch(version)
    if branch is None:
        return None
    return next((extra for extra, _, oldest, _ in CUDA_EXTRAS if branch >= oldest), None)


def cuda_major_of_extra(extra: str) -> int:
    """The CUDA major of a TensorRT extra ('tensorrt-cu12' -> 12)."""
    return next(major for name, major, _, _ in CUDA_EXTRAS if name == extra)


class _Nvml:
    """pynvml after one nvmlInit, shared by everything in the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._module: Any = None
        self._tried = False
        #: whether nvidia-ml-py imported (known after the first get())
        self.installed = False

    def get(self):
        """The initialized pynvml module, or None without nvidia-ml-py or without a driver."""
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    import pynvml
                except ImportError:
                    return None
                self.installed = True
                try:
                    pynvml.nvmlInit()
                except Exception:  # no driver: NVMLError_LibraryNotFound / DriverNotLoaded
                    return None
                self._module = pynvml
                atexit.register(self.shutdown)
            return self._module

    def shutdown(self) -> None:
        """Undo the nvmlInit, if there was one; the next get() initializes again."""
        with self._lock:
            module, self._module, self._tried = self._module, None, False
        if module is not None:
            atexit.unregister(self.shutdown)
            try:
                module.nvmlShutdown()
            except Exception:  # at exit, a failed shutdown has no one to tell
                pass


_NVML = _Nvml()


@functools.lru_cache(maxsize=1)
def _inventory() -> tuple[tuple[dict, ...], tuple[str, ...]]:
    notes: list[str] = []
    found = _from_nvml(notes)
    if found is None:
        found, smi_notes = read_nvidia_smi()
        notes += smi_notes
    return tuple(found), tuple(notes)


def gpus() -> tuple[dict, ...]:
    """One dict per visible GPU (index, name, uuid, driver, memory_mib); empty when there is none.

    A field that could not be read is None and named in notes(); reading never raises.
    """
    return _inventory()[0]


def notes() -> tuple[str, ...]:
    """What reading the GPUs found odd or could not read (an nvidia-smi warning, a field it did not
    report, a failed nvidia-smi), one line each; empty when all was read."""
    return _inventory()[1]


gpus.cache_clear = _inventory.cache_clear  # type: ignore[attr-defined]


def gpu_name(index: int = 0) -> str | None:
    """The name of GPU ``index``, or None."""
    listed = gpus()
    return listed[index]["name"] if len(listed) > index else None


def driver_version() -> str | None:
    """The NVIDIA driver's version ('550.54.15'), from NVML, else nvidia-smi; None without a driver."""
    pynvml = _NVML.get()
    if pynvml is not None:
        try:
            return _text(pynvml.nvmlSystemGetDriverVersion())
        except Exception:  # an NVML that answers nothing else: nvidia-smi may still know
            pass
    listed = gpus()
    return listed[0]["driver"] if listed else None


def visible_gpu_uuid() -> str | None:
    """The UUID of the GPU CUDA calls device 0 (the first of CUDA_VISIBLE_DEVICES), or None."""
    import os

    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    if first.startswith(("GPU-", "MIG-")):
        return first
    listed = gpus()
    index = int(first) if first.isascii() and first.isdigit() else 0
    return listed[index]["uuid"] if index < len(listed) else None


def other_processes(uuid: str | None) -> list[int] | None:
    """The pids of processes other than this one that NVML lists on GPU ``uuid``; None without NVML."""
    import os

    pynvml = _NVML.get()
    if pynvml is None:
        return None
    try:
        handle = pynvml.nvmlDeviceGetHandleByUUID(uuid) if uuid else pynvml.nvmlDeviceGetHandleByIndex(0)
        listed = list(pynvml.nvmlDeviceGetComputeRunningProcesses(handle))
        listed += list(pynvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
    except Exception:  # NVML raises an error class per status; unreadable is not "unshared"
        return None
    return sorted({p.pid for p in listed} - {os.getpid()})


def _from_nvml(notes: list[str]) -> list[dict] | None:
    """The GPUs NVML lists; None without nvidia-ml-py, [] without a driver. A value NVML does not
    give is None, with a line in ``notes``."""
    pynvml = _NVML.get()
    if pynvml is None:
        return [] if _NVML.installed else None

    def read(what: str, call, *args):
        try:
            return call(*args)
        except Exception as exc:  # NVML raises a class per status (NotSupported on some boards, GpuIsLost)
            notes.append(f"NVML could not read {what} ({_error_text(exc)})")
            return None

    driver = read("the driver version", pynvml.nvmlSystemGetDriverVersion)
    count = read("the GPU count", pynvml.nvmlDeviceGetCount) or 0
    listed = []
    for index in range(count):
        handle = read(f"GPU {index}", pynvml.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            continue
        name = read(f"GPU {index}'s name", pynvml.nvmlDeviceGetName, handle)
        uuid = read(f"GPU {index}'s UUID", pynvml.nvmlDeviceGetUUID, handle)
        memory = read(f"GPU {index}'s memory", pynvml.nvmlDeviceGetMemoryInfo, handle)
        listed.append({
            "index": index,
            "name": _text(name) if name is not None else None,
            "uuid": _text(uuid) if uuid is not None else None,
            "driver": _text(driver) if driver is not None else None,
            "memory_mib": memory.total // 2**20 if memory is not None else None,
        })
    return listed


#: the fields nvidia-smi is asked for, in this order (`--format=csv,noheader,nounits`)
NVIDIA_SMI_QUERY = "index,name,uuid,driver_version,memory.total"


def read_nvidia_smi(run=subprocess.run, timeout_s: float = 20.0) -> tuple[list[dict], list[str]]:
    """The GPUs nvidia-smi lists and notes on what it could not tell; ([], []) without nvidia-smi.

    A failing nvidia-smi (no driver loaded, no device, a hang) is a note, never an exception.
    """
    if shutil.which("nvidia-smi") is None:
        return [], []
    command = ["nvidia-smi", f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        done = run(command, capture_output=True, text=True, errors="replace", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return [], [f"nvidia-smi did not answer in {timeout_s:g} s"]
    except OSError as exc:
        return [], [f"nvidia-smi could not be run ({exc})"]
    if done.returncode != 0:
        said = _first_line(done.stdout) or _first_line(done.stderr) or "no message"
        return [], [f"nvidia-smi failed (exit status {done.returncode}): {said}"]
    return parse_nvidia_smi(done.stdout)


def parse_nvidia_smi(text: str) -> tuple[list[dict], list[str]]:
    """The GPUs in nvidia-smi's answer to NVIDIA_SMI_QUERY, and a note per line or field not understood.

    nvidia-smi's CSV does not quote: a comma in a GPU's name splits it, so the name is everything
    between the index and the last three fields. Lines that are not rows (a driver warning such as
    "WARNING: infoROM is corrupted at gpu ...") and fields it cannot report ("[N/A]",
    "[Not Supported]": memory on unified-memory boards) become notes; a MIG device's row (UUID
    "MIG-...") is kept and marked.
    """
    listed: list[dict] = []
    found_notes: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 5 or not fields[0].isdigit():
            found_notes.append(f"nvidia-smi: {_printable(line)}")
            continue
        index, name, uuid, driver, memory = int(fields[0]), ", ".join(fields[1:-3]), *fields[-3:]
        gpu: dict[str, Any] = {"index": index, "name": name, "uuid": uuid, "driver": driver, "memory_mib": None}
        if not uuid.startswith(("GPU-", "MIG-")):
            found_notes.append(f"nvidia-smi: GPU {index}'s UUID not understood ({_printable(uuid)})")
            gpu["uuid"] = None
        elif uuid.startswith("MIG-"):
            gpu["mig"] = True
        if driver_branch(driver) is None:
            found_notes.append(f"nvidia-smi: GPU {index}'s driver version not understood ({_printable(driver)})")
            gpu["driver"] = None
        try:
            gpu["memory_mib"] = int(float(memory))
        except ValueError:
            found_notes.append(f"nvidia-smi: GPU {index}'s memory.total not reported ({_printable(memory)})")
        listed.append(gpu)
    return listed, found_notes


def _first_line(text: str | None) -> str:
    return _printable(next((line.strip() for line in (text or "").splitlines() if line.strip()), ""))


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:300]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NoGpu(Exception):
    """NVML is there but has no GPU by the name asked for; the message says which and why."""


def nvml_device(pci_bus_id: str | None = None):
    """(pynvml, handle) of the GPU at ``pci_bus_id``, or of the GPU CUDA calls device 0 (by its UUID) when
    None; None when NVML is not there (no nvidia-ml-py, no driver). Raises NoGpu when NVML has no such GPU.

    A PCI bus id names the same GPU for CUDA and NVML; an index does not, since NVML counts every GPU
    and CUDA only those CUDA_VISIBLE_DEVICES leaves.
    """
    import os

    pynvml = _NVML.get()
    if pynvml is None:
        return None
    if pci_bus_id:
        try:
            # bytes: older nvidia-ml-py passes the argument to ctypes as it is
            return pynvml, pynvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id.encode())
        except Exception as exc:  # NVMLError_NotFound and the like
            raise NoGpu(f"NVML has no GPU at PCI bus id {pci_bus_id} ({_error_text(exc)})") from None
    uuid = visible_gpu_uuid()
    if uuid is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        raise NoGpu(f"NVML lists no GPU that CUDA calls device 0{where}")
    return pynvml, _handle_by_uuid(pynvml, uuid)


def _handle_by_uuid(pynvml, uuid: str):
    try:
        return pynvml.nvmlDeviceGetHandleByUUID(uuid)
    except Exception as exc:  # NVMLError_NotFound: a GPU gone since it was listed
        raise NoGpu(f"NVML has no GPU {uuid} ({_error_text(exc)})") from None


class Telemetry:
    """Samples a GPU's actual SM clock, power and temperature, and this process's memory on it
    (``process_memory_bytes``, from NVML's compute processes), in a thread while a case is timed.

    Application clocks say what the GPU may run at; the sampled SM clock says what it did, so a
    throttled case shows in its record. A quantity that cannot be read (NVML's "not supported" on
    some boards, any other NVML error) is left out of the samples and named in the summary's
    warnings: telemetry describes a case, it never fails one.
    """

    def __init__(self, read, period_s: float = 0.1):
        self.read = read  # () -> {"sm_clock_mhz": .., "power_w": .., "temperature_c": ..}
        self.period_s = period_s
        self.samples: list[dict] = []
        self.warnings: list[str] = []
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_device(cls, pci_bus_id: str):
        """A sampler over NVML for the GPU at ``pci_bus_id`` (as in ``Cuda.device_properties()``).

        A PCI bus id names the same GPU for CUDA and NVML; an index does not, since NVML counts
        every GPU and CUDA only those CUDA_VISIBLE_DEVICES leaves. A null context when NVML is not
        there (no nvidia-ml-py, no driver).
        """
        return cls._over_device(pci_bus_id)

    @classmethod
    def for_gpu(cls, index: int):
        """A sampler over NVML for NVML's GPU ``index``, or a null context when NVML is not there.

        NVML's index ignores CUDA_VISIBLE_DEVICES: for the GPU a CUDA context runs on, use
        for_device with its PCI bus id.
        """
        import contextlib

        pynvml = _NVML.get()
        if pynvml is None:
            return contextlib.nullcontext(None)
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:  # an index NVML does not have
            return cls.unavailable(f"NVML has no GPU {index} ({_error_text(exc)})")
        return cls._over_nvml(pynvml, handle)

    @classmethod
    def for_uuid(cls, uuid: str):
        """A sampler over NVML for the GPU (or MIG device) of ``uuid``, or a null context when NVML is not
        there."""
        import contextlib

        pynvml = _NVML.get()
        if pynvml is None:
            return contextlib.nullcontext(None)
        try:
            handle = _handle_by_uuid(pynvml, uuid)
        except NoGpu as exc:
            return cls.unavailable(str(exc))
        return cls._over_nvml(pynvml, handle)

    @classmethod
    def for_visible_gpu(cls):
        """A sampler over NVML for the GPU CUDA calls device 0 (the first of CUDA_VISIBLE_DEVICES), found by
        its UUID; a null context when NVML is not there."""
        return cls._over_device(None)

    @classmethod
    def _over_device(cls, pci_bus_id: str | None):
        import contextlib

        try:
            found = nvml_device(pci_bus_id)
        except NoGpu as exc:  # sample nothing, say why
            return cls.unavailable(str(exc))
        return contextlib.nullcontext(None) if found is None else cls._over_nvml(*found)

    @classmethod
    def unavailable(cls, reason: str) -> Telemetry:
        """A sampler that samples nothing, whose summary says ``reason``."""
        sampler = cls(lambda: {})
        sampler.warn(f"GPU telemetry unavailable: {reason}")
        return sampler

    @classmethod
    def _over_nvml(cls, pynvml, handle) -> Telemetry:
        sampler = cls(lambda: {})
        sampler.read = _NvmlReader(pynvml, handle, sampler.warn)  # which reports to the sampler it feeds
        return sampler

    def warn(self, message: str) -> None:
        """Add ``message`` to the summary's warnings, once however often it recurs."""
        if message not in self.warnings:
            self.warnings.append(message)

    def _sample(self) -> None:
        # A reader that raises must not end the sampling thread silently or fail the case at exit.
        try:
            sample = self.read()
        except Exception as exc:
            self.warn(f"GPU telemetry read failed ({_error_text(exc)})")
            return
        if sample:
            self.samples.append(sample)

    def __enter__(self):
        self._stop = threading.Event()
        self._sample()
        stop = self._stop

        def loop():
            while not stop.wait(self.period_s):
                self._sample()

        self._thread = threading.Thread(target=loop, name="trtbench-telemetry", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        assert self._stop is not None and self._thread is not None
        self._stop.set()
        self._thread.join()
        self._sample()
        finish = getattr(self.read, "finish", None)
        if finish is not None:
            finish()

    def summary(self) -> dict:
        """min / median / max of each sampled quantity, the sample count, and any warnings."""
        import statistics

        result: dict[str, Any] = {"samples": len(self.samples)}
        for key in dict.fromkeys(key for sample in self.samples for key in sample):
            values = [sample[key] for sample in self.samples if key in sample]
            result[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


class _NvmlReader:
    """Reads one GPU's SM clock, power and temperature, and this process's GPU memory; a failed read is a
    warning, not an error."""

    QUANTITIES = {
        "sm_clock_mhz": lambda nvml, handle: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
        "power_w": lambda nvml, handle: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        "temperature_c": lambda nvml, handle: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
        "process_memory_bytes": lambda nvml, handle: _process_memory(nvml, handle),
    }

    def __init__(self, pynvml, handle, warn) -> None:
        self.pynvml, self.handle, self.warn = pynvml, handle, warn
        self.unsupported: set[str] = set()
        self.sampled: set[str] = set()
        #: why a quantity was not in a sample, said at the end only if no sample had it
        self.missing: dict[str, str] = {}

    def __call__(self) -> dict:
        sample = {}
        for key, read in self.QUANTITIES.items():
            if key in self.unsupported:
                continue
            try:
                sample[key] = read(self.pynvml, self.handle)
                self.sampled.add(key)
            except self.pynvml.NVMLError_NotSupported as exc:
                # The board cannot report it (power on some, clocks on MIG slices): no retry.
                self.unsupported.add(key)
                self.warn(f"GPU telemetry: {key} not read ({_error_text(exc)})")
            except self.pynvml.NVMLError as exc:  # possibly transient: try again next sample
                self.warn(f"GPU telemetry: {key} not read ({_error_text(exc)})")
            except _NoValue as exc:  # NVML will not give this process's number: no retry
                self.unsupported.add(key)
                self.warn(f"GPU telemetry: {key} not read ({exc})")
            except _NotListed as exc:  # not yet, perhaps: a process is listed once it has a CUDA context
                self.missing.setdefault(key, str(exc))
        return sample

    def finish(self) -> None:
        """Warn of each quantity no sample had, for want of this process in NVML's list."""
        for key, why in self.missing.items():
            if key not in self.sampled:
                self.warn(f"GPU telemetry: {key} not read ({why})")


class _NotListed(Exception):
    """NVML's list of the GPU's compute processes does not hold this one."""


class _NoValue(Exception):
    """NVML lists this process without its memory."""


def _process_memory(pynvml, handle) -> int:
    """This process's GPU memory in bytes, as NVML lists the GPU's compute processes."""
    import os

    pid = os.getpid()
    listed = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    mine = [process for process in listed if process.pid == pid]
    if not mine:
        # NVML lists host pids: inside a container's own pid namespace this process has another
        raise _NotListed(f"NVML lists no compute process of pid {pid} on this GPU: inside a container NVML "
                         "may list host pids only")
    used = [process.usedGpuMemory for process in mine]
    if any(value is None for value in used):
        # pynvml gives None for NVML_VALUE_NOT_AVAILABLE (Windows WDDM, some containers and vGPUs)
        raise _NoValue("NVML gives no per-process memory on this GPU (NVML_VALUE_NOT_AVAILABLE)")
    return int(sum(used))


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
