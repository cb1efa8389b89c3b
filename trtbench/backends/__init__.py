"""Backends by name, imported only when chosen (TensorRT and CUDA are never imported for CPU runs)."""

from __future__ import annotations

import importlib

from trtbench.backends.base import Availability, Backend, BackendOptions, Engine
from trtbench.errors import TrtbenchError

_REGISTRY = {
    "tensorrt": "trtbench.backends.tensorrt:TensorRTBackend",
    "trtexec": "trtbench.backends.trtexec:TrtexecBackend",
    "onnxruntime-cpu": "trtbench.backends.onnxruntime:OnnxRuntimeBackend",
    "onnxruntime-cuda": "trtbench.backends.onnxruntime:OnnxRuntimeCudaBackend",
}
#: what ``--backend auto`` tries, best first
AUTO_ORDER = ("tensorrt", "onnxruntime-cuda", "onnxruntime-cpu")
BACKEND_NAMES = ("auto", *_REGISTRY)

__all__ = ["Availability", "Backend", "BackendOptions", "Engine", "BACKEND_NAMES", "create", "choose"]


def create(name: str, options: BackendOptions | None = None) -> Backend:
    """The backend called ``name``; an unknown name is a user error."""
    if name not in _REGISTRY:
        raise TrtbenchError(f"unknown backend '{name}': choose from {', '.join(BACKEND_NAMES)}")
    module_name, class_name = _REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(options)


def choose(name: str, options: BackendOptions | None = None) -> tuple[Backend, str]:
    """The backend to use and why: ``auto`` takes the first available in AUTO_ORDER."""
    if name != "auto":
        backend = create(name, options)
        backend.require()
        return backend, f"{name}: {backend.availability().reason}"
    skipped = []
    for candidate in AUTO_ORDER:
        backend = create(candidate, options)
        state = backend.availability()
        if state.ok:
            why = f" ({'; '.join(skipped)})" if skipped else ""
            return backend, f"auto chose {candidate}: {state.reason}{why}"
        skipped.append(f"{candidate} unavailable: {state.reason}")
    raise TrtbenchError("no backend can run here: " + "; ".join(skipped))
