"""A test double of pynvml (nvidia-ml-py) over virtual GPUs, held to the real module.

Its error classes, error codes and constants are the real module's own objects (pynvml imports
without a driver), its functions have the real names and signatures (tests/measure/test_gpu.py compares them
with ``inspect.signature``), and it fails where NVML fails, with the real error class and code:

- ``nvmlInit`` on a machine without libnvidia-ml raises NVMLError_LibraryNotFound (what the real
  pynvml raises on this machine; a test pins it), with the library but no kernel driver
  NVMLError_DriverNotLoaded; every other call before a successful ``nvmlInit`` (or after the last
  ``nvmlShutdown``) raises NVMLError_Uninitialized;
- an index NVML does not have, a malformed bus id, a handle that is not a device, or a clock or
  sensor that is not one: NVMLError_InvalidArgument; a bus id or UUID of no GPU: NVMLError_NotFound;
- strings go in as str or bytes and come back as str, as pynvml's ``convertStrBytes`` does; memory
  comes back as the real ``c_nvmlMemory_t`` and processes as the real ``nvmlFriendlyObject``, a
  process's memory None where NVML says NVML_VALUE_NOT_AVAILABLE (pynvml turns that value into None);
- the total energy counter (mJ since the driver loaded) raises NVMLError_NotSupported on a board that
  does not count it (before Volta).

By default this process is on both GPUs with a CUDA context (``PROCESS_BYTES`` of memory on each), as a
process timing a case there is.

A test makes any call fail with ``failing[NAME] = <an NVMLError subclass instance>``.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field

import pynvml as real

#: what this process holds on each default GPU
PROCESS_BYTES = 600 * 2**20


@dataclass
class VirtualGpu:
    """One GPU as NVML lists it (NVML's order is the PCI bus order, whatever CUDA_VISIBLE_DEVICES says)."""

    bus: str  # "00000000:17:00.0", NVML's own form
    name: str = "NVIDIA H200"
    sm_clock_mhz: int = 1980
    power_mw: int = 650_000
    temperature_c: int = 40
    memory_bytes: int = 141 * 2**30
    #: (pid, used bytes) of the compute and graphics processes on it; None bytes: NVML_VALUE_NOT_AVAILABLE
    compute: list[tuple[int, int | None]] = field(default_factory=list)
    graphics: list[tuple[int, int | None]] = field(default_factory=list)
    #: the total energy counter, mJ since the driver loaded; counts_energy False: a board before Volta
    energy_mj: int = 86_400_000_000
    counts_energy: bool = True

    @property
    def uuid(self) -> str:
        return f"GPU-{self.bus.replace(':', '').replace('.', '')}-0000-0000-0000-000000000000"


def bus_numbers(text: str) -> tuple[int, ...] | None:
    """A PCI bus id as numbers (NVML reads 'domain:bus:device.function' in hex, any width or case);
    None when it is not one."""
    try:
        domain, bus, rest = text.split(":")
        device, function = rest.split(".")
        return tuple(int(part, 16) for part in (domain, bus, device, function))
    except ValueError:
        return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _api(method):
    """An NVML entry point: counted, failing as the test set, refused before nvmlInit; the real
    signature kept (functools.wraps), so ``inspect.signature`` compares it with pynvml's."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        self.calls.append(method.__name__)
        if method.__name__ in self.failing:
            raise self.failing[method.__name__]
        if method.__name__ != "nvmlInit" and self.inits == 0:
            raise real.NVMLError_Uninitialized()
        return method(self, *args, **kwargs)

    call.nvml = True  # type: ignore[attr-defined]
    return call


class FakeNvml:
    """What ``import pynvml`` gives a test: see the module's docstring."""

    def __init__(self, gpus: list[VirtualGpu] | None = None, driver: str = "570.124.06") -> None:
        for name in dir(real):
            if name.startswith(("NVMLError", "NVML_")):
                setattr(self, name, getattr(real, name))
        self.gpus = list(gpus if gpus is not None else [
            VirtualGpu("00000000:17:00.0", sm_clock_mhz=1980, power_mw=650_000, temperature_c=40,
                       compute=[(os.getpid(), PROCESS_BYTES)]),
            VirtualGpu("00000000:3B:00.0", sm_clock_mhz=1410, power_mw=700_000, temperature_c=71,
                       compute=[(os.getpid(), PROCESS_BYTES)]),
        ])
        self.driver = driver
        #: "loaded"; "no library" (no libnvidia-ml: no driver installed); "not loaded" (no kernel module)
        self.library = "loaded"
        self.failing: dict[str, Exception] = {}
        self.calls: list[str] = []
        self.inits = 0  # NVML counts its initializations: each nvmlShutdown undoes one
        self.shutdowns = 0
        self.exit_hooks: list = []  # what trtbench registers to run at exit (see install)

    @classmethod
    def functions(cls) -> list[str]:
        """The NVML entry points this double has."""
        return sorted(name for name, value in vars(cls).items() if getattr(value, "nvml", False))

    def _device(self, handle) -> VirtualGpu:
        if not any(handle is gpu for gpu in self.gpus):
            raise real.NVMLError_InvalidArgument()
        return handle

    @_api
    def nvmlInit(self):
        if self.library == "no library":
            raise real.NVMLError_LibraryNotFound()
        if self.library == "not loaded":
            raise real.NVMLError_DriverNotLoaded()
        self.inits += 1

    @_api
    def nvmlShutdown(self):
        self.inits -= 1
        self.shutdowns += 1

    @_api
    def nvmlSystemGetDriverVersion(self):
        return self.driver

    @_api
    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    @_api
    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < len(self.gpus):
            raise real.NVMLError_InvalidArgument()
        return self.gpus[index]

    @_api
    def nvmlDeviceGetHandleByPciBusId(self, pciBusId):
        wanted = bus_numbers(_text(pciBusId))
        if wanted is None:
            raise real.NVMLError_InvalidArgument()
        for gpu in self.gpus:
            if bus_numbers(gpu.bus) == wanted:
                return gpu
        raise real.NVMLError_NotFound()

    @_api
    def nvmlDeviceGetHandleByUUID(self, uuid):
        for gpu in self.gpus:
            if gpu.uuid == _text(uuid):
                return gpu
        raise real.NVMLError_NotFound()

    @_api
    def nvmlDeviceGetName(self, handle):
        return self._device(handle).name

    @_api
    def nvmlDeviceGetUUID(self, handle):
        return self._device(handle).uuid

    @_api
    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        total = self._device(handle).memory_bytes
        used = sum(used or 0 for _, used in handle.compute + handle.graphics)
        return real.c_nvmlMemory_t(total=total, free=total - used, used=used)

    @_api
    def nvmlDeviceGetClockInfo(self, handle, type):
        gpu = self._device(handle)
        if type != real.NVML_CLOCK_SM:  # the only clock this double keeps
            raise real.NVMLError_InvalidArgument()
        return gpu.sm_clock_mhz

    @_api
    def nvmlDeviceGetPowerUsage(self, handle):
        return self._device(handle).power_mw

    @_api
    def nvmlDeviceGetTemperature(self, handle, sensor):
        gpu = self._device(handle)
        if sensor != real.NVML_TEMPERATURE_GPU:
            raise real.NVMLError_InvalidArgument()
        return gpu.temperature_c

    @_api
    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        gpu = self._device(handle)
        if not gpu.counts_energy:
            raise real.NVMLError_NotSupported()
        return gpu.energy_mj

    @_api
    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [_process(pid, used) for pid, used in self._device(handle).compute]

    @_api
    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        return [_process(pid, used) for pid, used in self._device(handle).graphics]


def _process(pid: int, used: int | None):
    return real.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used, "gpuInstanceId": 0xFFFFFFFF,
                                    "computeInstanceId": 0xFFFFFFFF})


def install(monkeypatch, nvml: FakeNvml | None = None) -> FakeNvml:
    """Make ``import pynvml`` give ``nvml`` (a two-GPU one by default) with trtbench's NVML state fresh;
    exit hooks are collected in ``nvml.exit_hooks``, not registered with the interpreter."""
    from trtbench.measure import gpu

    nvml = nvml if nvml is not None else FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(gpu, "_NVML", gpu._Nvml())
    monkeypatch.setattr(gpu.atexit, "register", nvml.exit_hooks.append)
    monkeypatch.setattr(gpu.atexit, "unregister", nvml.exit_hooks.remove)
    gpu.gpus.cache_clear()  # type: ignore[attr-defined]
    # the fake GPUs are read into a cache of their own, gone with the test: later tests see this machine's
    monkeypatch.setattr(gpu, "_inventory", functools.lru_cache(maxsize=1)(gpu._inventory.__wrapped__))
    return nvml
