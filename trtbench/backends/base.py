"""What a backend is: it says whether it can run here, builds engines, and an engine times itself.

Like Polygraphy's runners, the base class does the bookkeeping and a backend writes the
``*_impl`` parts; an engine is a context manager that holds its buffers while active.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError
from trtbench.precision import Calibration
from trtbench.timing import Timed, TimingPolicy, measure
from trtbench.zoo import INPUT_SHAPE


@dataclass(frozen=True)
class BackendOptions:
    """Knobs a user can set; each backend reads the ones that apply to it and records them."""

    threads: int = 0  # CPU threads for ONNX Runtime (0: its default)
    typing: str = "auto"  # TensorRT: auto, strong or weak (10.x only)
    workspace_mib: int | None = None  # TensorRT workspace pool limit (None: TensorRT's default)
    opt_level: int = 3  # TensorRT builder optimization level (0..5)
    timing_cache: bool = True  # TensorRT: share a timing cache file across builds
    cuda_graph: bool = False  # capture the enqueue once and replay it
    data_transfers: bool = True  # time host<->device copies around each inference
    cuda: str = "auto"  # CUDA bindings: auto, cuda-python or pycuda
    calibration: Calibration | None = None  # INT8 activation ranges (None: seeded random inputs)


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this machine; if not, why and what brings it."""

    ok: bool
    reason: str
    fix: str = ""


class Engine:
    """A model built for one precision and batch size, ready to be run and timed."""

    #: the timed spans ``iterate`` returns; the first is the one tables show
    spans: tuple[str, ...] = ("latency",)

    def __init__(self, batch: int):
        self.batch = batch
        self.active = False
        self.build_s = 0.0
        self.warnings: list[str] = []

    def __enter__(self) -> Engine:
        self.activate_impl()
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        self.deactivate_impl()

    def timed(self, policy: TimingPolicy, progress=None) -> Timed:
        """Warm up and time this engine as ``policy`` says."""
        if not self.active:
            raise RuntimeError("engine used outside its `with` block")
        measured = measure(self.iterate, policy, progress)
        spans = {span: measured.latency(span) for span in self.spans if span in measured.samples}
        return Timed(spans=spans, iterations=measured.iterations, wall_s=measured.wall_s)

    def check(self, timed: Timed) -> list[str]:
        """Warnings about a timed result (e.g. the host could not keep the GPU busy)."""
        return []

    def iterate(self) -> dict[str, float]:
        """Run once on the bound input and return the milliseconds of each span, work finished."""
        if not self.active:
            raise RuntimeError("engine used outside its `with` block")
        return self.iterate_impl()

    def infer(self, data: np.ndarray) -> np.ndarray:
        """Outputs for ``data`` (batch x 3 x 224 x 224 float32): for output checks, not timed."""
        if not self.active:
            raise RuntimeError("engine used outside its `with` block")
        if data.shape != (self.batch, *INPUT_SHAPE):
            raise TrtbenchError(f"input shape {data.shape} does not fit this engine (batch {self.batch})")
        return self.infer_impl(np.ascontiguousarray(data, dtype=np.float32))

    def describe(self) -> dict:
        """How this engine runs and is timed, for the record's ``method``."""
        return {}

    def activate_impl(self) -> None:
        """Allocate buffers and bind inputs/outputs."""

    def deactivate_impl(self) -> None:
        """Free what ``activate_impl`` allocated."""

    def iterate_impl(self) -> dict[str, float]:
        raise NotImplementedError

    def infer_impl(self, data: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Backend:
    """Builds engines from ONNX graphs on one kind of device."""

    name = "base"
    #: label for the metric the tables show, e.g. "GPU compute time"
    metric = "latency"

    def __init__(self, options: BackendOptions | None = None):
        self.options = options or BackendOptions()

    def availability(self) -> Availability:
        """Whether this backend can run here."""
        return self.availability_impl()

    def require(self) -> None:
        """Raise a one-line error naming what is missing when the backend cannot run here."""
        state = self.availability()
        if not state.ok:
            fix = f"; {state.fix}" if state.fix else ""
            raise TrtbenchError(f"backend {self.name} is not available: {state.reason}{fix}")

    def device(self) -> str:
        """The device the engines run on, in words (CPU or GPU model)."""
        raise NotImplementedError

    def telemetry(self):
        """A context manager sampling the device while a case is timed (GPU clocks, power)."""
        return contextlib.nullcontext(None)

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """An engine for (graph, precision, batch); cached in ``cache_dir`` where the backend can."""
        raise NotImplementedError

    def availability_impl(self) -> Availability:
        raise NotImplementedError


def input_batch(batch: int, seed: int = 0) -> np.ndarray:
    """The seeded input every engine is timed on."""
    return np.random.default_rng(seed).standard_normal((batch, *INPUT_SHAPE)).astype(np.float32)
