"""Backends by name, imported only when asked for (TensorRT and CUDA are never imported for CPU runs).

Adding a backend is one module (a ``Backend`` subclass with its ``BackendConfig``) and one line in
``_REGISTRY``; its options, `doctor` lines and packages come from its declaration.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from typing import Any

from trtbench.backends.base import Availability, Backend, BackendConfig, Check, Engine
from trtbench.errors import TrtbenchError
from trtbench.graphs.precision import Calibration

_REGISTRY: dict[str, str | type[Backend]] = {
    "tensorrt": "trtbench.backends.tensorrt:TensorRTBackend",
    "trtexec": "trtbench.backends.trtexec:TrtexecBackend",
    "onnxruntime-cpu": "trtbench.backends.onnxruntime:OnnxRuntimeBackend",
    "onnxruntime-cuda": "trtbench.backends.onnxruntime:OnnxRuntimeCudaBackend",
    "openvino-cpu": "trtbench.backends.openvino:OpenVinoBackend",
    "paddle-inference": "trtbench.backends.paddle_inference:PaddleInferenceBackend",
}
#: what ``--backend auto`` tries for each precision, best first: the GPU engines, then the CPU engines
#: fastest first (README, CPU engines: OpenVINO is faster than ONNX Runtime at FP32, BF16 and INT8)
AUTO_ORDER = ["tensorrt", "onnxruntime-cuda", "openvino-cpu", "onnxruntime-cpu", "paddle-inference"]

__all__ = ["Availability", "Backend", "BackendConfig", "Check", "Engine", "backend_names", "backend_class",
           "register", "create", "assign", "Assignment", "config_for", "declared_options"]


def backend_names() -> list[str]:
    """Every backend name, ``auto`` first."""
    return ["auto", *_REGISTRY]


def register(name: str, backend: str | type[Backend], auto: bool = False) -> None:
    """Make a backend known by ``name`` ("module:Class" or the class); ``auto`` lets `--backend auto`
    try it last."""
    _REGISTRY[name] = backend
    if auto and name not in AUTO_ORDER:
        AUTO_ORDER.append(name)


def unregister(name: str) -> None:
    """Forget a backend registered with ``register``."""
    _REGISTRY.pop(name, None)
    if name in AUTO_ORDER:
        AUTO_ORDER.remove(name)


def backend_class(name: str) -> type[Backend]:
    """The class of the backend called ``name``; an unknown name is a user error."""
    if name not in _REGISTRY:
        raise TrtbenchError(f"unknown backend '{name}': choose from {', '.join(backend_names())}")
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module_name, class_name = entry.split(":")
        entry = getattr(importlib.import_module(module_name), class_name)
    return entry


def config_for(name: str, values: dict[str, Any]) -> BackendConfig:
    """``name``'s config from option values by field name; fields not in ``values`` keep their defaults."""
    cls = backend_class(name).config_class
    return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})


def declared_options() -> dict[str, tuple[dataclasses.Field, list[str]]]:
    """Every backend option by field name: its field and the backends that read it.

    Backends that share an option (``cuda_graph`` for tensorrt and trtexec) must declare it alike.
    """
    found: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for name in _REGISTRY:
        for field in dataclasses.fields(backend_class(name).config_class):
            if field.name in found:
                first, users = found[field.name]
                if (first.default, first.metadata.get("flag"), first.metadata.get("choices")) != \
                        (field.default, field.metadata.get("flag"), field.metadata.get("choices")):
                    raise TypeError(f"backend {name} declares option {field.name} unlike {users[0]}")
                users.append(name)
            else:
                found[field.name] = (field, [name])
    return found


def create(name: str, values: dict[str, Any] | None = None, calibration: Calibration | None = None) -> Backend:
    """The backend called ``name``, configured from option values (by field name)."""
    return backend_class(name)(config_for(name, values or {}), calibration)


def _able(backend: Backend | type[Backend], needs: Sequence[str]) -> bool:
    return all(backend.can_infer if need == "infer" else backend.can_time for need in needs)


def _require_ability(backend: Backend, needs: Sequence[str]) -> None:
    for need in needs:
        if not _able(backend, [need]):
            able = [n for n in _REGISTRY if _able(backend_class(n), needs)]
            what = "run inferences (it only times engines)" if need == "infer" else "time engines"
            raise TrtbenchError(f"backend {backend.name} cannot {what}: use --backend {' or '.join(able[:2])}")


@dataclasses.dataclass
class Assignment:
    """Which backends run each precision, why, and what was left out."""

    by_precision: dict[str, list[Backend]] = dataclasses.field(default_factory=dict)
    why: list[str] = dataclasses.field(default_factory=list)  # one line per backend chosen
    skipped: list[str] = dataclasses.field(default_factory=list)  # (backend, precision) pairs left out, with the reason

    def backends(self) -> list[Backend]:
        """Every backend that runs something, in the order they were chosen."""
        found: dict[str, Backend] = {}
        for chosen in self.by_precision.values():
            for backend in chosen:
                found.setdefault(backend.name, backend)
        return list(found.values())


def assign(spec: str, precisions: Sequence[str], values: dict[str, Any] | None = None,
           calibration: Calibration | None = None, needs: Sequence[str] = ("time",)) -> Assignment:
    """Backends for each precision from ``--backend``: a name, a comma list, ``all`` or ``auto``.

    A precision is given only to a backend that runs it natively here (``Backend.runs``): never
    silently run as another precision under its name. ``auto`` takes, per precision, the first
    backend of AUTO_ORDER that can; a single name refuses what it cannot run; a list or ``all``
    leaves out, with a reason, the pairs that cannot run.
    """
    plan = Assignment()
    if spec == "auto":
        made: dict[str, Backend] = {}  # one instance per backend, whatever precisions it takes
        for precision in precisions:
            backend, why = _auto_for(precision, values, calibration, needs, made)
            plan.by_precision[precision] = [backend]
            plan.why.append(f"{precision}: {why}")
        return plan
    names = _named(spec)
    chosen: list[Backend] = []
    for name in dict.fromkeys(names):
        backend = create(name, values, calibration)
        if spec == "all" and not (_able(backend, needs) and backend.availability().ok):
            plan.skipped.append(f"{name}: {_unable_reason(backend, needs)}")
            continue
        _require_ability(backend, needs)
        backend.require()
        chosen.append(backend)
        plan.why.append(f"{name}: {backend.availability().reason}")
    for precision in precisions:
        takers = []
        for backend in chosen:
            ok, reason = backend.runs(precision)
            if ok:
                takers.append(backend)
            elif len(chosen) > 1:
                plan.skipped.append(f"{backend.name} {precision}: {reason}")
            else:
                raise TrtbenchError(f"backend {backend.name} does not run {precision} here: {reason}"
                                    f"{_who_runs(precision, values, calibration, needs)}")
        if not takers:
            raise TrtbenchError(f"none of the backends asked for runs {precision} here: "
                                + "; ".join(plan.skipped) + _who_runs(precision, values, calibration, needs))
        plan.by_precision[precision] = takers
    return plan


def assign_on_cluster(spec: str, precisions: Sequence[str], values: dict[str, Any] | None = None,
                      calibration: Calibration | None = None, needs: Sequence[str] = ("time",)) -> Assignment:
    """Backends for each precision where each node of a cluster checks them, not this machine: the
    backends named outright get every precision they declare; whether one is installed on a node
    and runs a precision natively there is each node's to say (a case it cannot run is a failed
    record with the reason). ``auto`` and ``all`` need this machine's answers: see ``assign``."""
    if spec in ("auto", "all"):
        return assign(spec, precisions, values, calibration, needs)
    plan = Assignment()
    chosen = [create(name, values, calibration) for name in dict.fromkeys(_named(spec))]
    for backend in chosen:
        _require_ability(backend, needs)
        plan.why.append(f"{backend.name}: installed and native precisions checked on each node of the cluster")
    for precision in precisions:
        takers = [backend for backend in chosen if precision in backend.precisions]
        plan.skipped += [f"{b.name} {precision}: {b.name} runs {', '.join(b.precisions)}" for b in chosen
                         if b not in takers and len(chosen) > 1]
        if not takers:
            raise TrtbenchError(f"none of --backend {spec} runs {precision} anywhere (they run "
                                f"{', '.join(sorted({p for b in chosen for p in b.precisions}))})")
        plan.by_precision[precision] = takers
    return plan


def declared_precisions(spec: str) -> list[str]:
    """Every precision some backend named in ``spec`` declares (`--precision native` on a cluster)."""
    from trtbench.graphs.precision import PRECISIONS

    declared = {p for name in _named(spec) for p in backend_class(name).precisions}
    return [p for p in PRECISIONS if p in declared]


def _named(spec: str) -> list[str]:
    """The backend names ``--backend`` gives: every one for ``all``, else the comma-separated list."""
    names = list(_REGISTRY) if spec == "all" else [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise TrtbenchError(f"bad --backend '{spec}': name a backend, a comma-separated list, all or auto")
    return names


def _auto_for(precision: str, values, calibration, needs, made: dict[str, Backend]) -> tuple[Backend, str]:
    skipped = []
    for candidate in AUTO_ORDER:
        backend = made.setdefault(candidate, create(candidate, values, calibration))
        if not _able(backend, needs):
            continue
        state = backend.availability()
        if not state.ok:
            skipped.append(f"{candidate} unavailable: {state.reason}")
            continue
        ok, reason = backend.runs(precision)
        if not ok:
            skipped.append(f"{candidate}: {reason}")
            continue
        why = f" ({'; '.join(skipped)})" if skipped else ""
        return backend, f"auto chose {candidate}: {state.reason}{why}"
    raise TrtbenchError(f"no backend here runs {precision} natively: " + "; ".join(skipped))


def _unable_reason(backend: Backend, needs: Sequence[str]) -> str:
    if not _able(backend, needs):
        return "cannot run inferences (it only times engines)" if "infer" in needs else "cannot time engines"
    return f"unavailable: {backend.availability().reason}"


def _who_runs(precision: str, values, calibration, needs) -> str:
    """'; backends that run fp16 here: ...' or '' when there are none."""
    able = []
    for name in _REGISTRY:
        backend = create(name, values, calibration)
        if _able(backend, needs) and backend.runs(precision)[0] and backend.availability().ok:
            able.append(name)
    return f"; --backend {' or '.join(able)} runs it here" if able else ""


def native_precisions(spec: str, values: dict[str, Any] | None = None, needs: Sequence[str] = ("time",)) -> list[str]:
    """The precisions some backend of ``spec`` runs natively here (``--precision native``): each
    backend's ``runs``, so a precision that depends on the CPU counts only where a probe compile on
    this machine showed it running."""
    from trtbench.graphs.precision import PRECISIONS

    names = list(_REGISTRY) if spec == "auto" else _named(spec)
    if spec not in ("all", "auto"):
        for name in names:  # a backend named outright must be able and here: say so, not "nothing runs"
            backend = create(name, values)
            _require_ability(backend, needs)
            backend.require()
    found = []
    for precision in PRECISIONS:
        for name in names:
            backend = create(name, values)
            if _able(backend, needs) and backend.availability().ok and backend.runs(precision)[0]:
                found.append(precision)
                break
    return found
