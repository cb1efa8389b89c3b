"""NVIDIA GPUs on this machine, through NVML (nvidia-ml-py) or, failing that, nvidia-smi."""

from __future__ import annotations

import functools
import shutil
import subprocess


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
