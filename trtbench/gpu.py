"""NVIDIA GPUs on this machine, through NVML (nvidia-ml-py) or, failing that, nvidia-smi.

NVML is initialized once per process and shut down at exit (nvmlInit counts references: an
init per timed case without a shutdown keeps adding to it).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import threading
from typing import Any


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
def gpus() -> tuple[dict, ...]:
    """One dict per visible GPU (name, uuid, driver, memory_mib); empty when there is none."""
    found = _from_nvml()
    return tuple(found if found is not None else _from_nvidia_smi())


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


def _from_nvml() -> list[dict] | None:
    """The GPUs NVML lists; None without nvidia-ml-py, [] without a driver."""
    pynvml = _NVML.get()
    if pynvml is None:
        return [] if _NVML.installed else None
    driver = _text(pynvml.nvmlSystemGetDriverVersion())
    listed = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        listed.append({
            "index": index,
            "name": _text(pynvml.nvmlDeviceGetName(handle)),
            "uuid": _text(pynvml.nvmlDeviceGetUUID(handle)),
            "driver": driver,
            "memory_mib": pynvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20,
        })
    return listed


def _from_nvidia_smi() -> list[dict]:
    if shutil.which("nvidia-smi") is None:
        return []
    query = "--query-gpu=index,name,uuid,driver_version,memory.total"
    try:
        out = subprocess.run(["nvidia-smi", query, "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    listed = []
    for line in out.strip().splitlines():
        index, name, uuid, driver, memory = [part.strip() for part in line.split(",")]
        listed.append({"index": int(index), "name": name, "uuid": uuid, "driver": driver,
                       "memory_mib": int(float(memory))})
    return listed


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Telemetry:
    """Samples a GPU's actual SM clock, power and temperature in a thread while a case is timed.

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
        import contextlib

        pynvml = _NVML.get()
        if pynvml is None:
            return contextlib.nullcontext(None)
        try:
            # bytes: older nvidia-ml-py passes the argument to ctypes as it is
            handle = pynvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id.encode())
        except Exception as exc:  # NVMLError_NotFound and the like: sample nothing, say why
            return cls.unavailable(f"NVML has no GPU at PCI bus id {pci_bus_id} ({_error_text(exc)})")
        return cls._over_nvml(pynvml, handle)

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
    """Reads one GPU's SM clock, power and temperature; a failed read is a warning, not an error."""

    QUANTITIES = {
        "sm_clock_mhz": lambda nvml, handle: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
        "power_w": lambda nvml, handle: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        "temperature_c": lambda nvml, handle: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
    }

    def __init__(self, pynvml, handle, warn) -> None:
        self.pynvml, self.handle, self.warn = pynvml, handle, warn
        self.unsupported: set[str] = set()

    def __call__(self) -> dict:
        sample = {}
        for key, read in self.QUANTITIES.items():
            if key in self.unsupported:
                continue
            try:
                sample[key] = read(self.pynvml, self.handle)
            except self.pynvml.NVMLError_NotSupported as exc:
                # The board cannot report it (power on some, clocks on MIG slices): no retry.
                self.unsupported.add(key)
                self.warn(f"GPU telemetry: {key} not read ({_error_text(exc)})")
            except self.pynvml.NVMLError as exc:  # possibly transient: try again next sample
                self.warn(f"GPU telemetry: {key} not read ({_error_text(exc)})")
        return sample


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
