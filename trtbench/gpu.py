"""NVIDIA GPUs on this machine, through NVML (nvidia-ml-py) or, failing that, nvidia-smi."""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any


@functools.lru_cache(maxsize=1)
def gpus() -> tuple[dict, ...]:
    """One dict per visible GPU (name, uuid, driver, memory_mib); empty when there is none."""
    found = _from_nvml()
    return tuple(found if found is not None else _from_nvidia_smi())


def gpu_name(index: int = 0) -> str | None:
    """The name of GPU ``index``, or None."""
    listed = gpus()
    return listed[index]["name"] if len(listed) > index else None


def _from_nvml() -> list[dict] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver: NVMLError_LibraryNotFound / DriverNotLoaded
        return []
    try:
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
    finally:
        pynvml.nvmlShutdown()


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
    throttled case shows in its record.
    """

    def __init__(self, read, period_s: float = 0.1):
        self.read = read  # () -> {"sm_clock_mhz": .., "power_w": .., "temperature_c": ..}
        self.period_s = period_s
        self.samples: list[dict] = []
        self._stop = None
        self._thread = None

    @classmethod
    def for_gpu(cls, index: int):
        """A sampler over NVML for GPU ``index``, or a null context when NVML is not there."""
        import contextlib

        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no nvidia-ml-py, no driver: the record just has no telemetry
            return contextlib.nullcontext(None)

        def read():
            return {
                "sm_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
                "power_w": pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                "temperature_c": pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
            }

        return cls(read)

    def __enter__(self):
        import threading

        self._stop = threading.Event()
        self.samples.append(self.read())

        def loop():
            while not self._stop.wait(self.period_s):
                self.samples.append(self.read())

        self._thread = threading.Thread(target=loop, name="trtbench-telemetry", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(self.read())

    def summary(self) -> dict:
        """min / median / max of each sampled quantity, and the sample count."""
        import statistics

        result: dict[str, Any] = {"samples": len(self.samples)}
        for key in self.samples[0] if self.samples else ():
            values = [s[key] for s in self.samples]
            result[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
        return result
