"""GPU telemetry and listing over a stand-in of pynvml (nvidia-ml-py)."""

import contextlib
import itertools
import sys
import types

import pytest

from trtbench import gpu
from trtbench.gpu import Telemetry


def test_telemetry_summarizes_what_it_sampled():
    clocks = itertools.cycle([1980, 1410, 1755])
    sampler = Telemetry(lambda: {"sm_clock_mhz": next(clocks), "power_w": 300.0, "temperature_c": 60},
                        period_s=3600)
    with sampler:
        pass
    summary = sampler.summary()
    assert summary["samples"] == 2  # one at entry, one at exit: the period never elapsed
    assert summary["sm_clock_mhz"] == {"min": 1410, "median": 1695.0, "max": 1980}
    assert summary["power_w"]["median"] == 300.0
    assert "warnings" not in summary


def test_a_reader_that_raises_is_a_warning_not_a_failed_case():
    sampler = Telemetry(lambda: 1 / 0, period_s=3600)
    with sampler:
        pass
    assert sampler.summary() == {"samples": 0, "warnings": ["GPU telemetry read failed (ZeroDivisionError: "
                                                            "division by zero)"]}


def _bus(text: str) -> tuple[int, ...]:
    """A PCI bus id as numbers: NVML reads 'domain:bus:device.function' in hex, any width or case."""
    domain, bus, rest = text.split(":")
    device, function = rest.split(".")
    return tuple(int(part, 16) for part in (domain, bus, device, function))


@pytest.fixture
def nvml(monkeypatch):
    """A pynvml with two GPUs; NVML is fresh for each test and exit hooks are collected, not registered."""
    nvml = types.ModuleType("pynvml")
    nvml.NVMLError = type("NVMLError", (Exception,), {})
    for name in ("NotSupported", "NotFound", "GpuIsLost"):
        setattr(nvml, f"NVMLError_{name}", type(f"NVMLError_{name}", (nvml.NVMLError,), {}))
    nvml.NVML_CLOCK_SM, nvml.NVML_TEMPERATURE_GPU = 1, 0
    # NVML's order, which CUDA_VISIBLE_DEVICES does not change
    nvml.gpus = [
        {"bus": "00000000:17:00.0", "name": "NVIDIA H200", "clock": 1980, "power_mw": 650_000, "temp": 40},
        {"bus": "00000000:3B:00.0", "name": "NVIDIA H200", "clock": 1410, "power_mw": 700_000, "temp": 71},
    ]
    nvml.failing: dict[str, Exception] = {}  # nvml function name -> the error it raises
    nvml.calls, nvml.inits, nvml.shutdowns = [], 0, 0

    def api(function):
        def call(*args):
            nvml.calls.append(function.__name__)
            if function.__name__ in nvml.failing:
                raise nvml.failing[function.__name__]
            return function(*args)

        setattr(nvml, function.__name__, call)

    @api
    def nvmlInit():
        nvml.inits += 1

    @api
    def nvmlShutdown():
        nvml.shutdowns += 1

    @api
    def nvmlSystemGetDriverVersion():
        return "570.124.06"

    @api
    def nvmlDeviceGetCount():
        return len(nvml.gpus)

    @api
    def nvmlDeviceGetHandleByIndex(index):
        return nvml.gpus[index]

    @api
    def nvmlDeviceGetHandleByPciBusId(bus_id):
        text = bus_id.decode() if isinstance(bus_id, bytes) else bus_id
        for handle in nvml.gpus:
            if _bus(handle["bus"]) == _bus(text):
                return handle
        raise nvml.NVMLError_NotFound("Not Found")

    @api
    def nvmlDeviceGetName(handle):
        return handle["name"]

    @api
    def nvmlDeviceGetUUID(handle):
        return f"GPU-{handle['bus']}"

    @api
    def nvmlDeviceGetMemoryInfo(handle):
        return types.SimpleNamespace(total=141 * 2**30)

    @api
    def nvmlDeviceGetClockInfo(handle, clock):
        assert clock == nvml.NVML_CLOCK_SM
        return handle["clock"]

    @api
    def nvmlDeviceGetPowerUsage(handle):
        return handle["power_mw"]

    @api
    def nvmlDeviceGetTemperature(handle, sensor):
        assert sensor == nvml.NVML_TEMPERATURE_GPU
        return handle["temp"]

    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(gpu, "_NVML", gpu._Nvml())
    nvml.exit_hooks = []
    monkeypatch.setattr(gpu.atexit, "register", nvml.exit_hooks.append)
    monkeypatch.setattr(gpu.atexit, "unregister", lambda hook: nvml.exit_hooks.remove(hook))
    gpu.gpus.cache_clear()
    yield nvml
    gpu.gpus.cache_clear()


def sampled(sampler: Telemetry) -> dict:
    """The summary of sampling once on entry and once on exit."""
    sampler.period_s = 3600
    with sampler:
        pass
    return sampler.summary()


def test_telemetry_reads_the_gpu_cuda_times_not_nvmls_first(nvml):
    # CUDA_VISIBLE_DEVICES=1: CUDA's device 0 is NVML's GPU 1; CUDA names its bus id with a 4-digit domain
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert summary["samples"] == 2
    assert summary["sm_clock_mhz"]["median"] == 1410 and summary["temperature_c"]["max"] == 71
    assert summary["power_w"]["median"] == 700.0


def test_nvml_is_initialized_once_per_process_and_shut_down_at_exit(nvml):
    for _ in range(3):  # three timed cases
        sampled(Telemetry.for_device("0000:17:00.0"))
    assert [g["name"] for g in gpu.gpus()] == ["NVIDIA H200", "NVIDIA H200"]
    assert gpu.driver_version() == "570.124.06"
    sampled(Telemetry.for_gpu(1))
    assert nvml.inits == 1 and nvml.shutdowns == 0
    (hook,) = nvml.exit_hooks
    hook()
    assert nvml.shutdowns == 1 and nvml.exit_hooks == []
    hook()  # a second shutdown would unbalance NVML's reference count
    assert nvml.shutdowns == 1


def test_a_reading_the_gpu_does_not_support_is_a_warning(nvml):
    nvml.failing["nvmlDeviceGetPowerUsage"] = nvml.NVMLError_NotSupported("Not Supported")
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert summary["samples"] == 2 and summary["sm_clock_mhz"]["max"] == 1410
    assert "power_w" not in summary
    assert summary["warnings"] == ["GPU telemetry: power_w not read (NVMLError_NotSupported: Not Supported)"]
    assert nvml.calls.count("nvmlDeviceGetPowerUsage") == 1, "an unsupported reading was retried"


def test_any_other_nvml_error_is_a_warning_and_retried(nvml):
    nvml.failing["nvmlDeviceGetTemperature"] = nvml.NVMLError_GpuIsLost("GPU is lost")
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert summary["warnings"] == ["GPU telemetry: temperature_c not read (NVMLError_GpuIsLost: GPU is lost)"]
    assert "temperature_c" not in summary and summary["power_w"]["median"] == 700.0
    assert nvml.calls.count("nvmlDeviceGetTemperature") == 2


def test_a_bus_id_nvml_does_not_know_is_a_warning(nvml):
    summary = sampled(Telemetry.for_device("0000:99:00.0"))
    assert summary["samples"] == 0
    (warning,) = summary["warnings"]
    assert "NVML has no GPU at PCI bus id 0000:99:00.0" in warning and "NVMLError_NotFound" in warning


def test_without_a_driver_there_is_no_telemetry(nvml):
    nvml.failing["nvmlInit"] = nvml.NVMLError("Driver Not Loaded")
    assert isinstance(Telemetry.for_device("0000:3B:00.0"), contextlib.nullcontext)
    assert gpu.gpus() == ()
    assert nvml.exit_hooks == []


def test_without_nvidia_ml_py_there_is_no_telemetry(monkeypatch, nvml):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with Telemetry.for_device("0000:3B:00.0") as sampler:
        assert sampler is None
