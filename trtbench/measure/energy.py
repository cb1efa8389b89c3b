"""Energy per case, where the machine lets it be read: an NVIDIA GPU's total energy counter (NVML) for the
GPU backends, the CPU packages' RAPL counters (Linux powercap) for the CPU ones.

A meter counts joules; a case reads it over an idle baseline before its timing and over its timed window,
and its record holds the window's energy less what the device would have used idling
(``CaseEnergy.result``). Where the machine does not say (no powercap in a container or VM, counters
readable only by root, a GPU before Volta, no NVML), the record says why instead of a number: a meter
that cannot be read never reads zero.

Both counters cover the whole device: every process on the GPU, every process on the CPU packages. The
idle baseline takes out what the device draws without the case; what other work adds meanwhile stays in.

Only the standard library is imported here; NVML comes through ``trtbench.measure.gpu``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: where Linux lists its power-capping zones, RAPL's among them
POWERCAP = Path("/sys/class/powercap")
#: a top-level RAPL zone: one per CPU package ("intel-rapl:0"); "intel-rapl:0:0" and the like are its parts
# (cores, uncore) or DRAM beside it, and "intel-rapl-mmio:0" is the same package read another way
_PACKAGE_ZONE = re.compile(r"intel-rapl:\d+")
#: how often a window reads RAPL's counters: each wraps at max_energy_range_uj (about 262 kJ, some
# 20 minutes of a 200 W package), and a wrap is seen only between two reads
RAPL_POLL_S = 10.0


class EnergyNotRead(Exception):
    """A meter that was readable could not be read this time; the message says why."""


@dataclass(frozen=True)
class Unreadable:
    """A device whose energy this machine does not let trtbench read, and why (one line)."""

    reason: str

    def record(self) -> dict:
        """What a case's record holds in place of its energy."""
        return {"unreadable": self.reason}


class Meter:
    """A counter of the joules a device has used since the meter was made."""

    #: what was read, for the record ("RAPL package-0, package-1 (energy_uj)")
    source: str = ""
    #: what the counter covers, for the record
    scope: str = ""
    #: seconds between reads a long window needs, so no wrap of the counter goes unseen (None: never wraps)
    poll_s: float | None = None

    def read_joules(self) -> float:
        """Joules used since the meter was made; raises EnergyNotRead."""
        raise NotImplementedError


# --- RAPL --------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    return path.read_text()


def _read_uj(path: Path) -> int:
    """One of a zone's counters: decimal microjoules and a newline, as the kernel writes them."""
    return int(_read_text(path).strip())


@dataclass
class _Zone:
    name: str
    energy: Path
    range_uj: int
    last_uj: int
    total_uj: int = 0


class RaplMeter(Meter):
    """The CPU packages' RAPL energy counters (``energy_uj``), summed over the packages.

    Only the packages (``package-N``) are read: their parts (core, uncore) would count the same joules
    twice; ``dram`` (outside the package on servers) and ``psys`` (the whole platform, laptops and desktops,
    the packages included) are left out, so the source names what was summed.
    """

    scope = "the CPU packages (every process on them; DRAM not included)"
    poll_s = RAPL_POLL_S

    def __init__(self, zones: list[_Zone]):
        self.zones = zones
        self.source = "RAPL " + ", ".join(zone.name for zone in zones) + " (energy_uj)"
        self._lock = threading.Lock()  # a window's polling thread reads too

    def read_joules(self) -> float:
        with self._lock:
            for zone in self.zones:
                try:
                    now = _read_uj(zone.energy)
                except (OSError, ValueError) as exc:
                    raise EnergyNotRead(f"could not read {zone.energy} ({type(exc).__name__}: {exc})") from None
                step = now - zone.last_uj
                if step < 0:  # the counter wrapped at max_energy_range_uj
                    step += zone.range_uj
                zone.total_uj += step
                zone.last_uj = now
            return sum(zone.total_uj for zone in self.zones) / 1e6


def rapl_meter(root: Path = POWERCAP) -> RaplMeter | Unreadable:
    """A meter over the CPU packages' RAPL counters under ``root``, or why there is none."""
    root = Path(root)
    if not root.is_dir():
        return Unreadable(f"no {root} on this machine: RAPL is not exposed to it (a container or VM)")
    zones = []
    for folder in sorted(root.iterdir(), key=lambda path: _zone_order(path.name)):
        if not _PACKAGE_ZONE.fullmatch(folder.name):
            continue
        try:
            name = _read_text(folder / "name").strip()
        except OSError:
            continue
        if not name.startswith("package-"):
            continue  # psys, the platform's counter, holds the packages: adding it would count them twice
        energy = folder / "energy_uj"
        try:
            range_uj = _read_uj(folder / "max_energy_range_uj")
            first = _read_uj(energy)
        except PermissionError:
            return Unreadable(f"{energy} is readable only by root (Linux's default since 2020): run as root "
                              "to read the CPU's energy")
        except (OSError, ValueError) as exc:
            return Unreadable(f"could not read {energy} ({type(exc).__name__}: {exc})")
        zones.append(_Zone(name, energy, range_uj, first))
    if not zones:
        return Unreadable(f"no RAPL package zone (intel-rapl:N named package-N) in {root}: this CPU or kernel "
                          "does not expose RAPL")
    return RaplMeter(zones)


def _zone_order(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


# --- NVML --------------------------------------------------------------------------------------


class NvmlMeter(Meter):
    """A GPU's total energy counter (``nvmlDeviceGetTotalEnergyConsumption``: mJ since the driver loaded)."""

    source = "NVML total energy consumption"
    scope = "the whole GPU (every process on it)"

    def __init__(self, pynvml, handle, first_mj: int, where: str):
        self.pynvml, self.handle = pynvml, handle
        self.first_mj = first_mj  # joules count from here, in whole mJ, so no precision is lost to floats
        self.source = f"NVML total energy consumption ({where})"

    def read_joules(self) -> float:
        try:
            now = self.pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except self.pynvml.NVMLError as exc:
            raise EnergyNotRead(f"NVML could not read the GPU's energy ({_error_text(exc)})") from None
        if now < self.first_mj:
            raise EnergyNotRead("NVML's energy counter went back (the NVIDIA driver was reloaded)")
        return (now - self.first_mj) / 1000.0


def nvml_meter(pci_bus_id: str | None = None) -> NvmlMeter | Unreadable:
    """A meter over the energy counter of the GPU at ``pci_bus_id`` (None: the GPU CUDA calls device 0), found
    as GPU telemetry finds it; or why there is none."""
    from trtbench.measure.gpu import NoGpu, nvml_device

    try:
        found = nvml_device(pci_bus_id)
    except NoGpu as exc:
        return Unreadable(str(exc))
    if found is None:
        return Unreadable("NVML is not there (no nvidia-ml-py, or no NVIDIA driver)")
    pynvml, handle = found
    try:
        first = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except pynvml.NVMLError_NotSupported as exc:
        return Unreadable(f"this GPU does not count its energy ({_error_text(exc)}: NVML counts it from Volta "
                          "on)")
    except pynvml.NVMLError as exc:
        return Unreadable(f"NVML could not read the GPU's energy ({_error_text(exc)})")
    return NvmlMeter(pynvml, handle, first, f"GPU {pci_bus_id}" if pci_bus_id else "the GPU CUDA calls device 0")


def meter_for(gpu: bool, pci_bus_id: str | None = None, root: Path = POWERCAP) -> Meter | Unreadable:
    """The meter a case on this kind of device reads: its GPU's counter (at ``pci_bus_id``; None: the GPU
    CUDA calls device 0) for a GPU backend, the CPU packages' for a CPU one. Never raises."""
    return nvml_meter(pci_bus_id) if gpu else rapl_meter(root)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --- a case --------------------------------------------------------------------------------------


def _figure(value: float) -> float:
    """A number kept to 6 significant digits: more than any of these counters resolves."""
    return float(f"{value:.6g}")


def energy_record(source: str, scope: str, joules: float, seconds: float, idle_watts: float | None,
                  images: int, timed_s: float | None = None) -> dict:
    """A case's record.energy from what its meter read: ``joules`` over a window of ``seconds``, the
    ``idle_watts`` measured before it (None: no baseline), and ``images`` inferred in ``timed_s`` of it
    (default: the whole window).

    The window may hold more than the timed images (a warm-up at the same load): the images' energy is
    the window's mean net power times the time they took. A window that drew no more than the idle baseline
    (a light load, a short window, a noisy counter) gives no net or per-image energy, and says so.
    """
    if seconds <= 0 or joules <= 0:
        return Unreadable(f"the counter did not advance over the {seconds:.3g} s timed window (it updates "
                          "less often): time longer to read energy").record()
    result: dict = {"joules": _figure(joules), "seconds": _figure(seconds), "watts": _figure(joules / seconds),
                    "idle_watts": None if idle_watts is None else _figure(idle_watts), "net_joules": None,
                    "joules_per_image": None, "images_per_joule": None, "source": source, "scope": scope}
    net = joules if idle_watts is None else joules - idle_watts * seconds
    if idle_watts is not None:
        if net <= 0:
            result["note"] = (f"the timed window drew no more than the idle baseline ({joules / seconds:.4g} W "
                              f"against {idle_watts:.4g} W idle): too light or too short a load to tell from idle")
            return result
        result["net_joules"] = _figure(net)
    else:
        result["note"] = "no idle baseline: the per-image energy is the gross energy"
    spent = (net / seconds) * (seconds if timed_s is None else timed_s)
    if images > 0 and spent > 0:
        result["joules_per_image"] = _figure(spent / images)
        result["images_per_joule"] = _figure(images / spent)
    return result


class CaseEnergy:
    """One case's energy: an idle baseline, then a window around its timing.

        energy = CaseEnergy(meter_for(backend.gpu, bus_id))
        energy.idle(1.0)                        # before the timing: the device as the case leaves it idle
        with energy:
            timed = engine.timed(policy)
        record.energy = energy.result(images=timed.iterations * batch, timed_s=timed.wall_s)

    Nothing here raises: an unreadable meter, or one that fails during the case, makes the result
    {"unreadable": why}.
    """

    def __init__(self, meter: Meter | Unreadable, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        self.meter, self.clock, self.sleep = meter, clock, sleep
        self.failed: str | None = meter.reason if isinstance(meter, Unreadable) else None
        self.idle_watts: float | None = None
        self.joules: float | None = None
        self.seconds: float | None = None
        self._start: tuple[float, float] | None = None
        self._stop: threading.Event | None = None
        self._poller: threading.Thread | None = None

    def _read(self) -> float | None:
        if self.failed is not None:
            return None
        assert isinstance(self.meter, Meter)
        try:
            return self.meter.read_joules()
        except EnergyNotRead as exc:
            self.failed = str(exc)
            return None

    def idle(self, seconds: float) -> float | None:
        """Watts the device draws over ``seconds`` of doing nothing (None: not read, or ``seconds`` is 0)."""
        if seconds <= 0 or self.failed is not None:
            return None
        before, began = self._read(), self.clock()
        self.sleep(seconds)
        after, ended = self._read(), self.clock()
        if before is None or after is None or ended <= began:
            return None
        self.idle_watts = (after - before) / (ended - began)
        return self.idle_watts

    def __enter__(self) -> CaseEnergy:
        joules = self._read()
        self._start = None if joules is None else (joules, self.clock())
        poll_s = getattr(self.meter, "poll_s", None)
        if self._start is not None and poll_s:
            stop = self._stop = threading.Event()

            def poll() -> None:
                while not stop.wait(poll_s) and self.failed is None:
                    self._read()

            self._poller = threading.Thread(target=poll, name="trtbench-energy", daemon=True)
            self._poller.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._stop is not None and self._poller is not None:
            self._stop.set()
            self._poller.join()
        joules = self._read()
        if self._start is not None and joules is not None:
            self.joules, self.seconds = joules - self._start[0], self.clock() - self._start[1]

    def result(self, images: int, timed_s: float | None = None) -> dict:
        """The case's record.energy: see energy_record; {"unreadable": why} where it could not be read."""
        if self.failed is not None:
            return Unreadable(self.failed).record()
        if self.joules is None or self.seconds is None:
            return Unreadable("no timed window was read").record()
        assert isinstance(self.meter, Meter)
        return energy_record(self.meter.source, self.meter.scope, self.joules, self.seconds, self.idle_watts,
                             images, timed_s)
