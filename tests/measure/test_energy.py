"""Energy per case: RAPL through a powercap tree laid out as Linux lays it out, NVML's energy counter through
pynvml's double (tests/fakes/nvml.py, held to nvidia-ml-py in tests/measure/test_gpu.py), and the case's
figures worked by hand."""

import errno
import os
import threading
from pathlib import Path

import pytest

from tests.fakes import nvml as fake_nvml
from trtbench.measure import energy, gpu
from trtbench.measure.energy import CaseEnergy, RaplMeter, Unreadable, energy_record, meter_for, nvml_meter, rapl_meter

#: a package counter's range as a 2-socket Xeon's kernel reports it
RANGE_UJ = 262_143_328_850


def zone(devices: Path, path: str, name: str, energy_uj: int, range_uj: int = RANGE_UJ) -> Path:
    """One powercap zone as the kernel writes it: each file a decimal number (or a name) and a newline."""
    folder = devices / path
    folder.mkdir(parents=True)
    (folder / "name").write_text(f"{name}\n")
    (folder / "energy_uj").write_text(f"{energy_uj}\n")
    (folder / "max_energy_range_uj").write_text(f"{range_uj}\n")
    (folder / "enabled").write_text("1\n")
    return folder


@pytest.fixture
def powercap(tmp_path):
    """/sys/class/powercap of a two-socket server with a platform (psys) zone: each zone a link into
    /sys/devices/virtual/powercap, each package's parts (core, dram) beside it in the flat listing, and the
    MMIO interface repeating package-0."""
    devices = tmp_path / "devices" / "virtual" / "powercap"
    (devices / "intel-rapl").mkdir(parents=True)
    (devices / "intel-rapl" / "enabled").write_text("1\n")  # the control type: no counter of its own
    zones = {
        "intel-rapl:0": ("intel-rapl/intel-rapl:0", "package-0", 10_000_000),
        "intel-rapl:0:0": ("intel-rapl/intel-rapl:0/intel-rapl:0:0", "core", 7_000_000),
        "intel-rapl:0:1": ("intel-rapl/intel-rapl:0/intel-rapl:0:1", "dram", 3_000_000),
        "intel-rapl:1": ("intel-rapl/intel-rapl:1", "package-1", 20_000_000),
        "intel-rapl:1:0": ("intel-rapl/intel-rapl:1/intel-rapl:1:0", "core", 9_000_000),
        "intel-rapl:2": ("intel-rapl/intel-rapl:2", "psys", 50_000_000),
        "intel-rapl-mmio:0": ("intel-rapl-mmio/intel-rapl-mmio:0", "package-0", 10_000_000),
    }
    root = tmp_path / "class" / "powercap"
    root.mkdir(parents=True)
    (root / "intel-rapl").symlink_to(devices / "intel-rapl")
    for listed, (path, name, uj) in zones.items():
        zone(devices, path, name, uj)
        (root / listed).symlink_to(devices / path)
    return root


def advance(root: Path, listed: str, energy_uj: int) -> None:
    (root / listed / "energy_uj").write_text(f"{energy_uj}\n")


# --- RAPL ---------------------------------------------------------------------------------------


def test_rapl_sums_the_packages_only(powercap):
    meter = rapl_meter(powercap)
    assert isinstance(meter, RaplMeter)
    assert meter.source == "RAPL package-0, package-1 (energy_uj)"
    assert meter.read_joules() == 0.0
    advance(powercap, "intel-rapl:0", 10_000_000 + 1_500_000)
    advance(powercap, "intel-rapl:1", 20_000_000 + 2_250_000)
    # the parts, the platform and the MMIO copy of package-0 move too: none of it is added
    for listed in ("intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:1:0", "intel-rapl:2", "intel-rapl-mmio:0"):
        advance(powercap, listed, 99_000_000)
    assert meter.read_joules() == pytest.approx(3.75)
    advance(powercap, "intel-rapl:0", 10_000_000 + 2_500_000)
    assert meter.read_joules() == pytest.approx(4.75)


def test_a_counter_that_wraps_counts_on(powercap):
    advance(powercap, "intel-rapl:0", RANGE_UJ - 1_000_000)
    meter = rapl_meter(powercap)
    advance(powercap, "intel-rapl:0", 4_000_000)  # 1 J to the top of its range, then 4 J from zero
    assert meter.read_joules() == pytest.approx(5.0)
    advance(powercap, "intel-rapl:0", RANGE_UJ - 2_000_000)  # on up, then round again
    advance(powercap, "intel-rapl:1", 20_000_000)
    assert meter.read_joules() == pytest.approx(5.0 + (RANGE_UJ - 6_000_000) / 1e6)
    advance(powercap, "intel-rapl:0", 500_000)
    assert meter.read_joules() == pytest.approx(5.0 + (RANGE_UJ - 6_000_000) / 1e6 + 2.5)


def test_a_window_reads_often_enough_to_see_every_wrap(powercap, monkeypatch):
    """Two wraps in one window: read only at its ends, the counter would seem to have moved 0.2 of its range."""
    for listed in ("intel-rapl:1", "intel-rapl:2"):
        (powercap / listed / "name").write_text("dram\n")  # one package only
    # the meter's first read, the window's start, two reads while it is open (each past a wrap), its end
    values = iter([0.9, 0.9, 0.2, 0.95, 0.1])
    served, last = [], [0.1]
    polled = threading.Event()
    real_read = energy._read_uj

    def read(path):
        if path.name != "energy_uj":
            return real_read(path)
        value = next(values, last[0])
        served.append(value)
        if len(served) >= 4:
            polled.set()
        return int(value * RANGE_UJ)

    monkeypatch.setattr(energy, "_read_uj", read)
    meter = rapl_meter(powercap)
    meter.poll_s = 0.001
    case = CaseEnergy(meter, clock=iter([0.0, 100.0]).__next__)
    with case:
        assert polled.wait(10), "the window never read the counter while it was open"
    # 0.9 -> 0.2 (over the top), -> 0.95, -> 0.1 (over the top): 1.2 of the range, where the ends say 0.2
    assert case.joules == pytest.approx(1.2 * RANGE_UJ / 1e6)
    assert case.seconds == 100.0


def test_no_powercap_is_a_reason_not_zero(tmp_path):
    found = rapl_meter(tmp_path / "absent")
    assert found == Unreadable(f"no {tmp_path / 'absent'} on this machine: RAPL is not exposed to it (a container "
                               "or VM)")
    assert found.record() == {"unreadable": found.reason}
    assert CaseEnergy(found).result(images=10) == {"unreadable": found.reason}


def test_powercap_without_rapl_is_a_reason(tmp_path):
    zone(tmp_path, "dtpm", "dtpm", 5)  # another power-capping driver's zone
    found = rapl_meter(tmp_path)
    assert isinstance(found, Unreadable) and "no RAPL package zone" in found.reason


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="this machine has /sys/class/powercap")
def test_this_machine_says_why_it_has_no_cpu_energy():
    assert meter_for(gpu=False) == Unreadable("no /sys/class/powercap on this machine: RAPL is not exposed to it "
                                              "(a container or VM)")


def _denied(path: Path):
    """What opening a file of mode 0400 owned by root raises for anyone else."""
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def test_a_counter_only_root_may_read_is_a_reason(powercap, monkeypatch):
    real_read = energy._read_text
    monkeypatch.setattr(energy, "_read_text", lambda path: _denied(path) if path.name == "energy_uj"
                        else real_read(path))
    found = rapl_meter(powercap)
    assert isinstance(found, Unreadable)
    assert found.reason == (f"{powercap / 'intel-rapl:0' / 'energy_uj'} is readable only by root (Linux's default "
                            "since 2020): run as root to read the CPU's energy")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_a_counter_of_mode_000_is_a_reason(powercap):
    (powercap / "intel-rapl:1" / "energy_uj").chmod(0)
    found = rapl_meter(powercap)
    assert isinstance(found, Unreadable) and "readable only by root" in found.reason


def test_a_counter_that_is_not_a_number_is_a_reason(powercap):
    advance(powercap, "intel-rapl:1", 0)
    (powercap / "intel-rapl:1" / "energy_uj").write_text("\x00garbage\n")
    found = rapl_meter(powercap)
    assert isinstance(found, Unreadable) and found.reason.startswith("could not read ") and "ValueError" in found.reason


def test_a_counter_that_goes_away_during_the_case_makes_it_unreadable(powercap):
    meter = rapl_meter(powercap)
    case = CaseEnergy(meter, clock=iter([0.0, 1.0, 2.0]).__next__, sleep=lambda s: None)
    case.idle(1.0)
    (powercap / "intel-rapl:1" / "energy_uj").unlink()
    with case:
        pass
    result = case.result(images=8)
    assert list(result) == ["unreadable"] and "FileNotFoundError" in result["unreadable"]


# --- NVML ---------------------------------------------------------------------------------------


@pytest.fixture
def nvml(monkeypatch):
    installed = fake_nvml.install(monkeypatch)
    yield installed
    gpu.gpus.cache_clear()


def test_nvml_reads_the_gpu_the_case_runs_on(nvml):
    first, second = nvml.gpus
    meter = nvml_meter("0000:3B:00.0")
    assert meter.source == "NVML total energy consumption (GPU 0000:3B:00.0)"
    first.energy_mj += 10_000_000
    second.energy_mj += 1_234_567  # mJ
    assert meter.read_joules() == 1234.567
    assert "nvmlDeviceGetHandleByPciBusId" in nvml.calls


def test_nvml_without_a_bus_id_reads_the_gpu_cuda_calls_device_0(nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    meter = meter_for(gpu=True)
    nvml.gpus[1].energy_mj += 500
    assert meter.read_joules() == 0.5 and "the GPU CUDA calls device 0" in meter.source


def test_a_gpu_before_volta_does_not_count_its_energy(nvml):
    nvml.gpus[0].counts_energy = False
    assert nvml_meter("0000:17:00.0") == Unreadable(
        "this GPU does not count its energy (NVMLError_NotSupported: Not Supported: NVML counts it from Volta on)")


@pytest.mark.parametrize("library", ["no library", "not loaded"])
def test_without_a_driver_there_is_no_gpu_energy(nvml, library):
    nvml.library = library
    assert nvml_meter("0000:17:00.0") == Unreadable("NVML is not there (no nvidia-ml-py, or no NVIDIA driver)")


def test_a_gpu_nvml_does_not_have_is_a_reason(nvml):
    found = nvml_meter("0000:99:00.0")
    assert isinstance(found, Unreadable)
    assert found.reason == "NVML has no GPU at PCI bus id 0000:99:00.0 (NVMLError_NotFound: Not Found)"


def test_an_nvml_error_during_the_case_makes_it_unreadable(nvml):
    case = CaseEnergy(nvml_meter("0000:17:00.0"), clock=iter([0.0, 1.0]).__next__)
    nvml.failing["nvmlDeviceGetTotalEnergyConsumption"] = nvml.NVMLError_GpuIsLost()
    with case:
        pass
    assert case.result(images=8) == {"unreadable": "NVML could not read the GPU's energy (NVMLError_GpuIsLost: "
                                                    "GPU is lost)"}


def test_a_counter_that_went_back_is_a_reason(nvml):
    meter = nvml_meter("0000:17:00.0")
    nvml.gpus[0].energy_mj = 5
    case = CaseEnergy(meter)
    with case:
        pass
    assert case.result(images=1) == {"unreadable": "NVML's energy counter went back (the NVIDIA driver was "
                                                   "reloaded)"}


# --- a case's figures ---------------------------------------------------------------------------


class VirtualGpuPower:
    """A clock and a sleep that move the double's GPU energy counter at ``watts``."""

    def __init__(self, gpu: fake_nvml.VirtualGpu):
        self.gpu, self.now, self.watts = gpu, 0.0, 70.0

    def clock(self) -> float:
        return self.now

    def spend(self, seconds: float, watts: float | None = None) -> None:
        self.now += seconds
        self.gpu.energy_mj += round((self.watts if watts is None else watts) * seconds * 1000)


def test_the_idle_baseline_comes_off_and_the_images_share_the_rest(nvml):
    power = VirtualGpuPower(nvml.gpus[0])
    case = CaseEnergy(nvml_meter("0000:17:00.0"), clock=power.clock, sleep=power.spend)
    assert case.idle(2.0) == 70.0
    with case:
        power.spend(0.5, watts=370.0)  # the warm-up
        power.spend(1.5, watts=370.0)  # 3000 images
    assert case.result(images=3000, timed_s=1.5) == {
        "joules": 740.0, "seconds": 2.0, "watts": 370.0, "idle_watts": 70.0, "net_joules": 600.0,
        # the images' share: the window's mean net power (300 W) over the 1.5 s they took
        "joules_per_image": 0.15, "images_per_joule": 6.66667,
        "source": "NVML total energy consumption (GPU 0000:17:00.0)", "scope": "the whole GPU (every process on it)"}
    assert case.result(images=3000)["joules_per_image"] == 0.2  # counted over the whole window


def test_a_window_no_busier_than_idle_gives_no_energy_per_image(nvml):
    power = VirtualGpuPower(nvml.gpus[0])
    case = CaseEnergy(nvml_meter("0000:17:00.0"), clock=power.clock, sleep=power.spend)
    case.idle(1.0)
    with case:
        power.spend(1.0, watts=69.0)
    result = case.result(images=100)
    assert result["joules"] == 69.0 and result["idle_watts"] == 70.0
    assert result["net_joules"] is None and result["joules_per_image"] is None and result["images_per_joule"] is None
    assert result["note"] == ("the timed window drew no more than the idle baseline (69 W against 70 W idle): too "
                              "light or too short a load to tell from idle")


def test_a_counter_that_did_not_move_is_no_reading_not_zero(nvml):
    power = VirtualGpuPower(nvml.gpus[0])
    case = CaseEnergy(nvml_meter("0000:17:00.0"), clock=power.clock, sleep=power.spend)
    with case:
        power.now += 0.004  # shorter than the counter's update
    assert case.result(images=4) == {"unreadable": "the counter did not advance over the 0.004 s timed window (it "
                                                   "updates less often): time longer to read energy"}


def test_without_a_baseline_the_energy_is_gross_and_says_so():
    result = energy_record("RAPL package-0 (energy_uj)", "the CPU packages", joules=50.0, seconds=2.0,
                           idle_watts=None, images=200)
    assert result["net_joules"] is None and result["joules_per_image"] == 0.25 and result["images_per_joule"] == 4.0
    assert result["note"] == "no idle baseline: the per-image energy is the gross energy"
    assert result["watts"] == 25.0


def test_no_images_gives_no_energy_per_image():
    result = energy_record("s", "the CPU packages", joules=50.0, seconds=2.0, idle_watts=10.0, images=0)
    assert result["net_joules"] == 30.0 and result["joules_per_image"] is None


def test_a_rapl_case_end_to_end(powercap):
    now = [0.0]

    def sleep(seconds):  # the packages idle at 40 W and 60 W
        now[0] += seconds
        advance(powercap, "intel-rapl:0", 10_000_000 + round(40e6 * now[0]))
        advance(powercap, "intel-rapl:1", 20_000_000 + round(60e6 * now[0]))

    case = CaseEnergy(rapl_meter(powercap), clock=lambda: now[0], sleep=sleep)
    assert case.idle(1.0) == pytest.approx(100.0)
    with case:
        sleep(3.0)  # the same draw: nothing over idle
        advance(powercap, "intel-rapl:0", 10_000_000 + round(40e6 * 4.0) + 150_000_000)  # 150 J of work
    result = case.result(images=1500)
    assert result["joules"] == 450.0 and result["net_joules"] == 150.0 and result["joules_per_image"] == 0.1
    assert result["source"] == "RAPL package-0, package-1 (energy_uj)"


def test_idle_of_zero_seconds_measures_nothing(nvml):
    case = CaseEnergy(nvml_meter("0000:17:00.0"), sleep=lambda s: pytest.fail("slept"))
    assert case.idle(0) is None and case.idle_watts is None
