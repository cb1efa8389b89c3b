"""What a backend is: it declares itself (options, precisions, abilities, packages), says whether it
can run here, builds engines, and an engine runs (and, where it can, times) the model.

Like Polygraphy's runners, the base class does the bookkeeping and a backend writes the
``*_impl`` parts; an engine is a context manager that holds its buffers while active, and frees
them even when activation fails half-way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE
from trtbench.graphs.precision import Calibration
from trtbench.measure.profile import LayerProfile
from trtbench.measure.timing import Timed, TimingPolicy, measure


def option(default: Any, help: str, flag: str | None = None, choices: tuple[str, ...] | None = None,
           minimum: int | None = None, maximum: int | None = None) -> Any:
    """A field of a backend's config that the command line offers as ``--NAME`` (or ``flag``).

    A bool that defaults to True is offered as its negative (``flag``, e.g. ``--no-data-transfers``).
    """
    return dataclasses.field(default=default, metadata={
        "help": help, "flag": flag, "choices": choices, "minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class BackendConfig:
    """A backend's options. Each backend subclasses it with its own fields (see ``option``)."""

    def describe(self) -> dict:
        """The options as they go into records and engine-cache keys."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CpuConfig(BackendConfig):
    """The options every CPU backend shares, so that they are compared on the same threads."""

    threads: int = option(0, "CPU threads (0: all physical cores), the same for every CPU backend.", minimum=0)

    def __post_init__(self) -> None:
        # Tens of thousands of threads swamp the machine and ignore Ctrl-C: refuse them up front.
        limit = 4 * (os.cpu_count() or 1)
        if self.threads > limit:
            raise TrtbenchError(f"--threads {self.threads} is more than {limit} (4 per logical CPU here): "
                                "give fewer, or 0 for all physical cores")

    def thread_count(self) -> int:
        """The threads to use: ``threads``, or all physical cores."""
        from trtbench.measure.cpu import physical_cores

        return self.threads or physical_cores()


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this machine; if not, why and what brings it."""

    ok: bool
    reason: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """One line of `trtbench doctor`: a component, what was found ("" when missing), and the fix."""

    component: str
    found: str
    needed_for: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.found)


@dataclass
class Concurrent:
    """Requests served at once by one engine: a runner per request in flight, and how the engine serves them."""

    #: each runs one inference of the engine's bound input and returns when it is done; each may be called from a
    #: thread of its own at the same time as the others (never one runner from two threads at once)
    runners: list[Callable[[], None]]
    #: for the record: {"requests": in flight, "streams": the engine's parallel streams, "threads_per_stream",
    #: "how": the mechanism in the engine's words}
    facts: dict = field(default_factory=dict)


def checked_requests(requests: int) -> int:
    """``requests`` where it is a count of requests this machine can serve at once; else a one-line error."""
    limit = 4 * (os.cpu_count() or 1)
    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= limit:
        raise TrtbenchError(f"{requests!r} concurrent requests: give 1 to {limit} (4 per logical CPU here)")
    return requests


class Engine:
    """A model built for one precision and batch size, ready to be run and timed."""

    #: the timed spans ``iterate`` returns; the first is the one tables show
    spans: tuple[str, ...] = ("latency",)

    def __init__(self, batch: int, info: dict | None = None, build_s: float = 0.0):
        self.batch = batch
        self.active = False
        self.build_s = build_s
        # seconds from the built (or cached) artifact to an engine ready to run: deserializing, compiling from
        # a cache, making a session; None where the backend cannot tell it from the build
        self.load_s: float | None = None
        self.info: dict = dict(info or {})  # which artifact: cached or built, its path and sha256
        self.warnings: list[str] = []

    def __enter__(self) -> Engine:
        try:
            self.activate_impl()
        except BaseException:
            # What was allocated before the failure is freed now, not leaked into the next case.
            self.deactivate_impl()
            raise
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        self.deactivate_impl()

    def _require_active(self) -> None:
        if not self.active:
            raise RuntimeError("engine used outside its `with` block")

    def timed(self, policy: TimingPolicy, progress=None) -> Timed:
        """Warm up and time this engine as ``policy`` says."""
        self._require_active()
        measured = measure(self.iterate, policy, progress)
        spans = {span: measured.latency(span) for span in self.spans if span in measured.samples}
        first = next(iter(spans), None)
        return Timed(spans=spans, iterations=measured.iterations, wall_s=measured.wall_s,
                     samples=measured.samples[first] if first is not None else None, windows=measured.windows,
                     stopped=measured.stopped)

    def profile_layers(self, iterations: int) -> LayerProfile:
        """Run ``iterations`` profiled inferences (never the timed ones: profiling slows an engine) and say
        where the time went, layer by layer, each layer tied to the ONNX nodes it covers."""
        raise TrtbenchError("this backend cannot report per-layer times (tensorrt, trtexec, onnxruntime-cpu, "
                            "onnxruntime-cuda, openvino-cpu and paddle-inference on the CPU can)")

    def check(self, timed: Timed) -> list[str]:
        """Warnings about a timed result (e.g. the host could not keep the GPU busy)."""
        return []

    def iterate(self) -> dict[str, float]:
        """Run once on the bound input and return the milliseconds of each span, work finished."""
        self._require_active()
        return self.iterate_impl()

    def infer(self, data: np.ndarray) -> np.ndarray:
        """Outputs for ``data`` (batch x 3 x 224 x 224 float32): for output checks, not timed."""
        self._require_active()
        if data.shape != (self.batch, *INPUT_SHAPE):
            raise TrtbenchError(f"input shape {data.shape} does not fit this engine (batch {self.batch})")
        return self.infer_impl(np.ascontiguousarray(data, dtype=np.float32))

    def describe(self) -> dict:
        """How this engine runs and is timed, for the record's ``method``."""
        return {}

    def concurrent(self, requests: int):
        """A context manager giving ``Concurrent``: ``requests`` runners, each running one inference of the bound
        input on resources of its own, through the engine's own mechanism for serving several requests at once
        (TensorRT execution contexts on their own streams, OpenVINO infer requests of a throughput-compiled
        model, parallel runs of one ONNX Runtime session, Paddle predictor clones: whose runs do not overlap, since
        Paddle's Python run() holds the GIL); freed at its end."""
        raise TrtbenchError(f"this backend cannot run requests concurrently yet (asked for {requests})")

    def memory_facts(self) -> dict:
        """What the engine itself says it holds, in bytes (while active): e.g. TensorRT's serialized plan, its
        device memory for activations and its weights; {} where the engine says nothing."""
        return {}

    def executed_precision(self) -> tuple[str | None, str]:
        """The precision the engine really runs in, and how that was read (while active).

        (None, why) where the engine cannot say; a backend that can read it back overrides this.
        """
        return None, "not read back from this engine"

    def activate_impl(self) -> None:
        """Allocate buffers and bind inputs/outputs."""

    def deactivate_impl(self) -> None:
        """Free what ``activate_impl`` allocated; called after a failed activation too, so it must
        cope with a half-made state."""

    def iterate_impl(self) -> dict[str, float]:
        raise NotImplementedError

    def infer_impl(self, data: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Backend:
    """Builds engines from ONNX graphs on one kind of device.

    A backend declares itself with class attributes, so the command line, `trtbench doctor` and
    the run files learn about it without a line elsewhere: its name, its config class (options),
    the precisions it runs, whether it can run inferences and time them, the packages it needs and
    the pip extra that brings them.
    """

    name: ClassVar[str] = "base"
    #: label for the metric the tables show, e.g. "GPU compute time"
    metric: ClassVar[str] = "latency"
    config_class: ClassVar[type[BackendConfig]] = BackendConfig
    #: the precisions it can run natively somewhere (``runs`` says whether on this machine); a
    #: backend names each one it really runs, so a new precision is never run under another's name
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    #: runs on an NVIDIA GPU (a session without one says its numbers are CPU numbers)
    gpu: ClassVar[bool] = False
    #: runs inferences on given inputs (verify, eval, run --verify)
    can_infer: ClassVar[bool] = True
    #: times engines (run)
    can_time: ClassVar[bool] = True
    #: the distributions it uses, for `doctor` and every run file's versions
    packages: ClassVar[tuple[str, ...]] = ()
    #: `pip install 'trtbench[EXTRA]'` brings them (None: they come with trtbench)
    extra: ClassVar[str | None] = None

    def __init__(self, config: BackendConfig | None = None, calibration: Calibration | None = None):
        self.config = config if config is not None else self.config_class()
        self.calibration = calibration

    def availability(self) -> Availability:
        """Whether this backend can run here."""
        return self.availability_impl()

    def runs(self, precision: str) -> tuple[bool, str]:
        """Whether this backend runs ``precision`` natively here (not as another precision under its
        name), and if not, why. A backend whose answer depends on the machine (BF16 on a CPU without
        BF16 instructions) overrides this, and says yes only where a probe compile on this machine
        read that precision back (``trtbench.measure.cpu.probed``): a CPU flag alone is not enough."""
        if precision in self.precisions:
            return True, ""
        return False, f"{self.name} runs {', '.join(self.precisions)}, not {precision}"

    def require(self) -> None:
        """Raise a one-line error naming what is missing when the backend cannot run here."""
        state = self.availability()
        if not state.ok:
            fix = f"; {state.fix}" if state.fix else ""
            raise TrtbenchError(f"backend {self.name} is not available: {state.reason}{fix}")

    @classmethod
    def checks(cls) -> list[Check]:
        """What `trtbench doctor` shows for this backend: by default, one line per declared package."""
        from trtbench.envinfo import package_version

        fix = f"pip install 'trtbench[{cls.extra}]'" if cls.extra else "pip install trtbench"
        return [Check(package, package_version(package) or "", cls.name, "" if package_version(package) else fix)
                for package in cls.packages]

    def device(self) -> str:
        """The device the engines run on, in words (CPU or GPU model)."""
        raise NotImplementedError

    def device_key(self) -> str:
        """What a timing must have to itself: "cpu" (the host's cores), or "gpu-<UUID>" (the GPU CUDA
        calls device 0). A GPU timing does not lock the CPU: GPUs of one host time in parallel."""
        if not self.gpu:
            return "cpu"
        from trtbench.measure.gpu import visible_gpu_uuid

        return f"gpu-{visible_gpu_uuid() or 'unknown'}"

    def gpu_pci_bus_id(self) -> str | None:
        """The PCI bus id of the GPU the engines run on, where the backend can read it; None: the GPU
        CUDA calls device 0 (the first of CUDA_VISIBLE_DEVICES)."""
        return None

    def telemetry(self):
        """A context manager sampling this backend's GPU while a case is timed (SM clock, power,
        temperature: ``trtbench.measure.gpu.Telemetry``), giving the sampler; None for a CPU backend or where
        NVML is not there. Every GPU backend gets it from here, so a new one needs no line for it."""
        if not self.gpu:
            return contextlib.nullcontext(None)
        from trtbench.measure.gpu import Telemetry

        bus_id, why = self._gpu_bus_id()
        if why:
            return Telemetry.unavailable(why)
        return Telemetry.for_device(bus_id) if bus_id else Telemetry.for_visible_gpu()

    def energy(self):
        """A case's energy meter (``trtbench.measure.energy.CaseEnergy``): NVML's energy counter on this backend's
        GPU, RAPL's package counters on a CPU; where neither can be read it says why in the record, never 0."""
        from trtbench.measure.energy import CaseEnergy, Unreadable, meter_for

        if not self.gpu:
            return CaseEnergy(meter_for(False))
        bus_id, why = self._gpu_bus_id()
        return CaseEnergy(Unreadable(why) if why else meter_for(True, bus_id))

    def _gpu_bus_id(self) -> tuple[str | None, str]:
        """The PCI bus id of this backend's GPU (None: the GPU CUDA calls device 0), and '' or why it could not
        be named: telemetry and energy describe a case, they never fail one. A PCI bus id names one GPU for CUDA
        and NVML alike; NVML's index ignores CUDA_VISIBLE_DEVICES."""
        try:
            return self.gpu_pci_bus_id(), ""
        except Exception as exc:
            return None, f"{self.name} could not name its GPU ({type(exc).__name__}: {exc})"

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        """The files ``build`` makes an engine of ``precision`` from, made here where missing: what a
        cluster node receives instead of making them (the FP16 or INT8 graph, Paddle's model)."""
        return [Path(onnx_path)]

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """An engine for (graph, precision, batch); cached in ``cache_dir`` where the backend can."""
        raise NotImplementedError

    def availability_impl(self) -> Availability:
        raise NotImplementedError

