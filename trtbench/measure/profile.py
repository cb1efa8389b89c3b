"""Where the time goes inside one engine: its layers (as the engine names them), each one's median time per
inference over a profiled run, the precision it ran in, and the ONNX nodes it covers.

A profiled run is never the timed run: profiling slows engines (trtexec runs it separately too). Engines
report in their own words (OpenVINO's executed nodes, ONNX Runtime's kernels, TensorRT's fused layers);
``nodes`` ties each layer back to the exported ONNX graph, so that trtbench.reporting.profile can put
every engine on the same groups of ONNX nodes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Layer:
    """One layer, kernel or node an engine ran."""

    name: str  # the engine's own name for it
    kind: str  # its operation as the engine names it: Convolution, Conv, Reorder, Memcpy...
    median_ms: float  # median time per inference over the profiled iterations
    precision: str | None = None  # what it ran in, in trtbench's words (fp32, bf16, fp16, int8), where said
    nodes: tuple[str, ...] = ()  # the ONNX nodes it covers, by name; () for work the engine added
    inserted: bool = False  # work the engine added (a reorder, a type conversion, a copy), not an ONNX node

    def to_json(self) -> dict:
        data = asdict(self)
        data["nodes"] = list(self.nodes)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Layer | None:
        """The layer a run file holds; None when it is not one (files are hostile: never a crash)."""
        if not isinstance(data, dict):
            return None
        name, kind, median = data.get("name"), data.get("kind"), data.get("median_ms")
        nodes = data.get("nodes")
        precision = data.get("precision")
        if not (isinstance(name, str) and isinstance(kind, str) and _number(median) and _as_float(median) >= 0
                and isinstance(nodes, list)
                and all(isinstance(node, str) for node in nodes) and (precision is None or isinstance(precision, str))):
            return None
        return cls(name, kind, _as_float(median), precision, tuple(nodes), data.get("inserted") is True)


@dataclass
class LayerProfile:
    """An engine's layers over a profiled run, and the run's own end-to-end median for comparison."""

    engine: str  # how the engine reported: "OpenVINO performance counters", "ONNX Runtime profiler", ...
    iterations: int  # profiled inferences
    layers: list[Layer] = field(default_factory=list)
    total_ms: float = 0.0  # median of the per-inference sums of the layers' times
    notes: list[str] = field(default_factory=list)  # what could not be mapped back, and why

    @property
    def mapped_ms(self) -> float:
        """The layers' times that map to ONNX nodes (medians summed)."""
        return sum(layer.median_ms for layer in self.layers if layer.nodes)

    @property
    def unmapped_ms(self) -> float:
        """The layers' times that map to no ONNX node: inserted work and layers the engine could not name."""
        return sum(layer.median_ms for layer in self.layers if not layer.nodes)

    def to_json(self) -> dict:
        return {"engine": self.engine, "iterations": self.iterations, "total_ms": self.total_ms,
                "layers": [layer.to_json() for layer in self.layers], "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Any) -> LayerProfile | None:
        """The profile a run file holds; None when it is not one. Layers that are not layers are dropped."""
        if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
            return None
        total, iterations, notes = data.get("total_ms"), data.get("iterations"), data.get("notes")
        notes = notes if isinstance(notes, list) else []
        layers = [layer for layer in map(Layer.from_json, data["layers"]) if layer is not None]
        return cls(str(data.get("engine") or ""), iterations if type(iterations) is int else 0, layers,
                   _as_float(total) if _number(total) else 0.0,
                   [note for note in notes if isinstance(note, str)])


def _as_float(value: Any) -> float:
    return float(value)


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)
