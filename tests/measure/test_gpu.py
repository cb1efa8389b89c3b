"""GPU telemetry and listing over a stand-in of pynvml (nvidia-ml-py) and a fake nvidia-smi; which TensorRT
extra a driver runs."""

import contextlib
import itertools
import os
import sys

import pytest

from tests.fakes import nvml as fake_nvml
from tests.fakes.nvidia_smi import capture, fake_nvidia_smi
from trtbench.measure import gpu
from trtbench.measure.gpu import Telemetry


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


@pytest.fixture
def nvml(monkeypatch):
    """pynvml's double (tests/fakes/nvml.py) with two GPUs; NVML fresh for each test, exit hooks collected."""
    installed = fake_nvml.install(monkeypatch)
    yield installed
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


def test_this_processs_gpu_memory_is_sampled_at_its_peak(nvml):
    second = nvml.gpus[1]
    second.compute = [(4242, 2**34), (os.getpid(), 2**30)]
    with Telemetry.for_device("0000:3B:00.0") as sampler:
        sampler.period_s = 3600
        second.compute = [(4242, 2**34), (os.getpid(), 3 * 2**30)]  # the engine's buffers, allocated
    summary = sampler.summary()
    assert summary["process_memory_bytes"] == {"min": 2**30, "median": 2 * 2**30, "max": 3 * 2**30}
    assert "warnings" not in summary


def test_per_process_memory_nvml_cannot_give_is_a_warning_not_a_number(nvml):
    # pynvml gives None where NVML says NVML_VALUE_NOT_AVAILABLE (WDDM, some containers and vGPUs)
    nvml.gpus[1].compute = [(os.getpid(), None)]
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert "process_memory_bytes" not in summary and summary["sm_clock_mhz"]["max"] == 1410
    assert summary["warnings"] == ["GPU telemetry: process_memory_bytes not read (NVML gives no per-process "
                                   "memory on this GPU (NVML_VALUE_NOT_AVAILABLE))"]
    assert nvml.calls.count("nvmlDeviceGetComputeRunningProcesses") == 1, "a value NVML never gives was asked again"


def test_processes_nvml_cannot_list_are_a_warning(nvml):
    nvml.failing["nvmlDeviceGetComputeRunningProcesses"] = nvml.NVMLError_NotSupported()
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert "process_memory_bytes" not in summary
    assert summary["warnings"] == ["GPU telemetry: process_memory_bytes not read (NVMLError_NotSupported: Not "
                                   "Supported)"]


def test_a_process_nvml_does_not_list_is_a_warning_only_if_never_listed(nvml):
    second = nvml.gpus[1]
    second.compute = [(4242, 2**30)]  # inside a container, NVML lists the host's pid of this process
    summary = sampled(Telemetry.for_device("0000:3B:00.0"))
    assert "process_memory_bytes" not in summary
    assert summary["warnings"] == [f"GPU telemetry: process_memory_bytes not read (NVML lists no compute process "
                                   f"of pid {os.getpid()} on this GPU: inside a container NVML may list host pids "
                                   "only)"]
    # listed once its CUDA context exists: the samples before it are no reason to warn
    with Telemetry.for_device("0000:3B:00.0") as sampler:
        sampler.period_s = 3600
        second.compute = [(os.getpid(), 2**29)]
    summary = sampler.summary()
    assert summary["process_memory_bytes"]["max"] == 2**29 and "warnings" not in summary


def test_a_bus_id_nvml_does_not_know_is_a_warning(nvml):
    summary = sampled(Telemetry.for_device("0000:99:00.0"))
    assert summary["samples"] == 0
    (warning,) = summary["warnings"]
    assert "NVML has no GPU at PCI bus id 0000:99:00.0" in warning and "NVMLError_NotFound" in warning


@pytest.mark.parametrize("library", ["no library", "not loaded"])
def test_without_a_driver_there_is_no_telemetry(nvml, library):
    nvml.library = library  # nvmlInit raises NVMLError_LibraryNotFound / NVMLError_DriverNotLoaded
    assert isinstance(Telemetry.for_device("0000:3B:00.0"), contextlib.nullcontext)
    assert gpu.gpus() == ()
    assert nvml.exit_hooks == []


def test_without_nvidia_ml_py_there_is_no_telemetry(monkeypatch, nvml):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with Telemetry.for_device("0000:3B:00.0") as sampler:
        assert sampler is None


# --- nvidia-smi's answer, read defensively -------------------------------------------------------

@pytest.fixture
def smi(tmp_path, monkeypatch):
    """Puts a fake nvidia-smi first on PATH, with NVML absent; call it with a capture's text."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(gpu, "_NVML", gpu._Nvml())
    gpu.gpus.cache_clear()

    def install(answer: str, status: int = 0) -> None:
        folder = fake_nvidia_smi(tmp_path / "bin", answer, status)
        monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
        gpu.gpus.cache_clear()

    yield install
    gpu.gpus.cache_clear()


# What each capture holds. The infoROM warning line on stdout and the GB10's "[N/A]" memory are as
# users report them in public issues; the comma in a name and the MIG row are made up to hold the
# parser to nvidia-smi's unquoted CSV.
def test_two_gpus_of_a_535_driver(smi):
    smi(capture("535-two-h100.csv"))
    assert [(g["index"], g["name"], g["driver"], g["memory_mib"]) for g in gpu.gpus()] == [
        (0, "NVIDIA H100 80GB HBM3", "535.183.01", 81559), (1, "NVIDIA H100 80GB HBM3", "535.183.01", 81559)]
    assert gpu.gpus()[1]["uuid"] == "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    assert gpu.notes() == () and gpu.driver_version() == "535.183.01"


def test_a_warning_line_before_the_rows_is_a_note_not_a_gpu(smi):
    smi(capture("570-v100-inforom-warning.csv"))
    (found,) = gpu.gpus()
    assert found["name"] == "Tesla V100-SXM2-16GB" and found["memory_mib"] == 16384
    assert gpu.notes() == ("nvidia-smi: WARNING: infoROM is corrupted at gpu 0000:00:04.0",)
    assert gpu.driver_version() == "570.124.06"


def test_memory_not_reported_is_none_and_a_note(smi):
    smi(capture("580-gb10-memory-na.csv"))
    (found,) = gpu.gpus()
    assert found["name"] == "NVIDIA GB10" and found["memory_mib"] is None and found["driver"] == "580.95.05"
    assert gpu.notes() == ("nvidia-smi: GPU 0's memory.total not reported ([N/A])",)


def test_a_comma_in_the_name_stays_in_the_name(smi):
    smi(capture("560-comma-in-name.csv"))
    (found,) = gpu.gpus()
    assert found["name"] == "NVIDIA RTX A2000 8GB Laptop GPU, Max-Q"
    assert found["uuid"].startswith("GPU-1e2d") and found["driver"] == "560.35.03" and found["memory_mib"] == 8192
    assert gpu.notes() == ()


def test_a_mig_row_is_kept_and_marked(smi):
    smi(capture("550-a100-mig-row.csv"))
    whole, mig = gpu.gpus()
    assert "mig" not in whole and mig["mig"] is True and mig["uuid"].startswith("MIG-")
    assert mig["memory_mib"] == 40192


def test_a_failing_nvidia_smi_is_a_note_and_no_gpu(smi):
    smi(capture("failed-driver-not-loaded.txt"), status=9)
    assert gpu.gpus() == () and gpu.driver_version() is None
    (note,) = gpu.notes()
    assert note.startswith("nvidia-smi failed (exit status 9): NVIDIA-SMI has failed because it couldn't "
                           "communicate with the NVIDIA driver")


@pytest.mark.parametrize("answer", [
    "garbage\n", "0, only, three\n", "x, A, GPU-1, 550.54.15, 10\n", "0, A, not-a-uuid, 5x0, ??\n",
    "\x00\xff, , , ,\n", "0, NVIDIA L4, GPU-1, [N/A], [Not Supported]\n", "",
])
def test_no_answer_of_nvidia_smi_raises(smi, answer):
    smi(answer)
    listed, notes = gpu.gpus(), gpu.notes()
    assert all(isinstance(g["index"], int) for g in listed)
    assert listed or notes or answer == ""


def test_a_parse_failure_reaches_the_environment_and_doctor_without_a_traceback(smi):
    from trtbench import doctor
    from trtbench.executors.environment import environment

    smi(capture("580-gb10-memory-na.csv"))
    found = environment([])
    assert found["gpus"][0]["name"] == "NVIDIA GB10"
    assert found["gpu_notes"] == ["nvidia-smi: GPU 0's memory.total not reported ([N/A])"]
    listed = {check.component: check for check in doctor.checks()}
    assert listed["NVIDIA GPU"].found.startswith("NVIDIA GB10 (driver 580.")
    assert listed["NVIDIA GPU"].found.endswith(", memory not reported)")
    assert "trtbench[tensorrt-cu13]" in listed["TensorRT extra for the driver"].found


def test_the_environment_has_no_notes_when_all_was_read(smi):
    from trtbench.executors.environment import environment

    smi(capture("535-two-h100.csv"))
    assert "gpu_notes" not in environment([])


def test_an_nvml_that_cannot_read_memory_is_a_note(nvml):
    nvml.failing["nvmlDeviceGetMemoryInfo"] = nvml.NVMLError_NotSupported("Not Supported")
    listed = gpu.gpus()
    assert [g["memory_mib"] for g in listed] == [None, None] and listed[0]["name"] == "NVIDIA H200"
    assert gpu.notes()[0] == "NVML could not read GPU 0's memory (NVMLError_NotSupported: Not Supported)"


# --- which TensorRT extra a driver runs ----------------------------------------------------------


@pytest.mark.parametrize(("driver", "extra"), [
    ("525.60.13", "tensorrt-cu12"), ("535.183.01", "tensorrt-cu12"), ("570.124.06", "tensorrt-cu12"),
    ("579.99", "tensorrt-cu12"), ("580.65.06", "tensorrt-cu13"), ("590.44.01", "tensorrt-cu13"),
    ("520.61.05", None), ("470.256.02", None), ("", None), (None, None), ("[N/A]", None), ("570", None),
])
def test_extra_for_driver(driver, extra):
    assert gpu.extra_for_driver(driver) == extra


def test_doctor_names_the_extra_the_makefile_picks():
    from trtbench.doctor import cuda_extra_check

    for driver in ("535.183.01", "570.124.06", "580.65.06"):
        assert f"trtbench[{gpu.extra_for_driver(driver)}]" in cuda_extra_check(driver, lambda name: None).found


# --- the double held to the real pynvml (nvidia-ml-py imports without a driver) -----------------


def _nvml_names_trtbench_uses() -> set[str]:
    """Every pynvml attribute trtbench's code names (``pynvml.X``, ``nvml.X``, ``self.pynvml.X``)."""
    import pathlib
    import re

    import trtbench

    found: set[str] = set()
    for path in pathlib.Path(trtbench.__file__).parent.rglob("*.py"):
        found |= set(re.findall(r"\b(?:pynvml|nvml)\.((?:nvml|NVML)\w*)", path.read_text()))
    return found


def test_every_nvml_name_trtbench_uses_is_in_pynvml_and_in_the_double():
    import pynvml

    used = _nvml_names_trtbench_uses()
    assert {"nvmlInit", "nvmlDeviceGetHandleByPciBusId", "nvmlDeviceGetHandleByUUID",
            "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetTotalEnergyConsumption", "NVMLError_NotSupported",
            "NVML_CLOCK_SM"} <= used
    double = fake_nvml.FakeNvml()
    for name in sorted(used):
        assert hasattr(pynvml, name), f"trtbench calls pynvml.{name}, which nvidia-ml-py does not have"
        assert hasattr(double, name), f"the NVML double lacks {name}, which trtbench uses"
    assert {name for name in used if name.startswith("nvml")} <= set(fake_nvml.FakeNvml.functions())


@pytest.mark.parametrize("name", fake_nvml.FakeNvml.functions())
def test_the_doubles_functions_have_pynvmls_signatures(name):
    import inspect

    import pynvml

    assert inspect.signature(getattr(fake_nvml.FakeNvml(), name)) == inspect.signature(getattr(pynvml, name))


def test_the_double_raises_pynvmls_own_errors_with_their_codes():
    import pynvml

    double = fake_nvml.FakeNvml()
    shared = [name for name in dir(pynvml) if name.startswith(("NVMLError", "NVML_"))]
    assert "NVML_ERROR_NOT_SUPPORTED" in shared and "NVMLError_DriverNotLoaded" in shared
    assert all(getattr(double, name) is getattr(pynvml, name) for name in shared)
    with pytest.raises(pynvml.NVMLError_Uninitialized) as early:  # as NVML answers any call before nvmlInit
        double.nvmlDeviceGetCount()
    assert early.value.value == pynvml.NVML_ERROR_UNINITIALIZED and str(early.value) == "Uninitialized"
    double.library = "not loaded"
    with pytest.raises(pynvml.NVMLError_DriverNotLoaded) as unloaded:
        double.nvmlInit()
    assert unloaded.value.value == pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    double.library = "loaded"
    double.nvmlInit()
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        double.nvmlDeviceGetHandleByIndex(2)
    with pytest.raises(pynvml.NVMLError_NotFound) as missing:
        double.nvmlDeviceGetHandleByPciBusId(b"0000:99:00.0")
    assert missing.value.value == pynvml.NVML_ERROR_NOT_FOUND and str(missing.value) == "Not Found"
    handle = double.nvmlDeviceGetHandleByPciBusId("0000:3b:00.0")
    assert double.nvmlDeviceGetHandleByUUID(double.nvmlDeviceGetUUID(handle).encode()) is handle
    assert isinstance(double.nvmlDeviceGetMemoryInfo(handle), pynvml.c_nvmlMemory_t)
    # a process as pynvml's v3 struct gives it, its fields those of c_nvmlProcessInfo_v3_t
    (process,) = double.nvmlDeviceGetComputeRunningProcesses(handle)
    assert isinstance(process, pynvml.nvmlFriendlyObject)
    assert set(vars(process)) == {name for name, _ in pynvml.c_nvmlProcessInfo_v3_t._fields_}
    assert process.pid == os.getpid() and process.usedGpuMemory == fake_nvml.PROCESS_BYTES
    assert isinstance(double.nvmlDeviceGetTotalEnergyConsumption(handle), int)  # mJ, as c_uint64's value
    handle.counts_energy = False
    with pytest.raises(pynvml.NVMLError_NotSupported) as unsupported:
        double.nvmlDeviceGetTotalEnergyConsumption(handle)
    assert unsupported.value.value == pynvml.NVML_ERROR_NOT_SUPPORTED
    double.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):  # the last shutdown undid the one init
        double.nvmlShutdown()


def _nvml_library_here() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_nvml_library_here(), reason="this machine has an NVIDIA driver")
def test_without_a_driver_the_real_pynvml_fails_as_the_double_does(monkeypatch):
    import pynvml

    with pytest.raises(pynvml.NVMLError_LibraryNotFound) as real:
        pynvml.nvmlInit()
    assert real.value.value == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    assert str(real.value) == "NVML Shared Library Not Found"
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetCount()
    double = fake_nvml.FakeNvml()
    double.library = "no library"
    with pytest.raises(pynvml.NVMLError_LibraryNotFound) as faked:
        double.nvmlInit()
    assert (type(faked.value), faked.value.value, str(faked.value)) == (type(real.value), real.value.value,
                                                                         str(real.value))
    # and trtbench over the real module here: no GPU from NVML, no telemetry, nothing raised
    monkeypatch.setitem(sys.modules, "pynvml", pynvml)
    monkeypatch.setattr(gpu, "_NVML", gpu._Nvml())
    assert gpu._from_nvml([]) == [] and gpu._NVML.installed
    assert isinstance(Telemetry.for_device("0000:3B:00.0"), contextlib.nullcontext)
    assert gpu.other_processes("GPU-1") is None


# --- the other processes on a GPU (what devicelock calls "shared") ------------------------------


def test_other_processes_on_a_gpu_are_listed_without_this_one(nvml):
    first, second = nvml.gpus
    second.compute = [(os.getpid(), 2**30), (4242, 2**28)]
    second.graphics = [(4343, 0), (4242, 2**20)]
    first.compute = [(5555, 1)]
    assert gpu.other_processes(second.uuid) == [4242, 4343]
    assert gpu.other_processes(None) == [5555]  # NVML's GPU 0
    second.compute, second.graphics = [(os.getpid(), 2**30)], []
    assert gpu.other_processes(second.uuid) == []


def test_processes_nvml_cannot_list_are_unknown_not_none(nvml):
    nvml.failing["nvmlDeviceGetComputeRunningProcesses"] = nvml.NVMLError_NoPermission()
    assert gpu.other_processes(nvml.gpus[0].uuid) is None
    del nvml.failing["nvmlDeviceGetComputeRunningProcesses"]
    assert gpu.other_processes("GPU-00000000-0000-0000-0000-000000000000") is None  # NVMLError_NotFound
    assert gpu.other_processes(nvml.gpus[0].uuid) == []


def test_without_nvml_other_processes_are_unknown(nvml):
    nvml.library = "no library"
    assert gpu.other_processes(nvml.gpus[0].uuid) is None


# --- the GPU CUDA calls device 0, by UUID ---------------------------------------------------------


def test_the_visible_gpu_is_sampled_by_its_uuid(nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    summary = sampled(Telemetry.for_visible_gpu())
    assert summary["sm_clock_mhz"]["median"] == 1410 and summary["temperature_c"]["max"] == 71
    assert "nvmlDeviceGetHandleByUUID" in nvml.calls
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", nvml.gpus[0].uuid)
    assert sampled(Telemetry.for_visible_gpu())["sm_clock_mhz"]["median"] == 1980


def test_a_visible_gpu_nvml_does_not_list_is_a_warning(nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    assert sampled(Telemetry.for_visible_gpu()) == {
        "samples": 0, "warnings": ["GPU telemetry unavailable: NVML lists no GPU that CUDA calls device 0 "
                                   "(CUDA_VISIBLE_DEVICES=7)"]}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-gone")
    (warning,) = sampled(Telemetry.for_visible_gpu())["warnings"]
    assert warning == "GPU telemetry unavailable: NVML has no GPU GPU-gone (NVMLError_NotFound: Not Found)"
