"""What this machine has for each backend, what is missing, and what brings it.

The lines for a backend come from its own declaration (``Backend.checks``): adding a backend adds
its lines here without an edit.
"""

from __future__ import annotations

from trtbench import backends, envinfo
from trtbench.backends.base import Check
from trtbench.errors import TrtbenchError

__all__ = ["Check", "checks", "backend_states"]


def _version_check(package: str, needed_for: str, fix: str) -> Check:
    version = envinfo.package_version(package)
    return Check(package, version or "", needed_for, "" if version else fix)


def checks() -> list[Check]:
    """Every component trtbench can use, with its state on this machine."""
    from trtbench.gpu import gpus

    found = [
        Check("python", envinfo.host()["python"], "everything"),
        _version_check("paddlepaddle", "export", "pip install paddlepaddle==3.3.1"),
        _version_check("paddle2onnx", "export", "pip install paddle2onnx==2.1.0"),
        _version_check("onnx", "export, graphs", "pip install onnx==1.17.0"),
        _version_check("onnxconverter-common", "fp16 graphs", "pip install onnxconverter-common"),
    ]
    listed = gpus()
    gpu_text = "; ".join(f"{g['name']} (driver {g['driver']}, {g['memory_mib']} MiB)" for g in listed)
    found.append(Check("NVIDIA GPU", gpu_text, "tensorrt, onnxruntime-cuda",
                       "" if listed else "a machine with an NVIDIA GPU and its driver"))
    seen = {check.component for check in found}
    for name in backends.backend_names()[1:]:
        for check in backends.backend_class(name).checks():
            if check.component not in seen:
                seen.add(check.component)
                found.append(check)
    found.append(_version_check("matplotlib", "report --plot", "pip install 'trtbench[plot]'"))
    return found


def backend_states() -> tuple[dict[str, dict], str]:
    """Each backend's availability (reason and fix), and what `--backend auto` chooses."""
    states = {}
    for name in backends.backend_names()[1:]:
        state = backends.create(name).availability()
        states[name] = {"available": state.ok, "reason": state.reason, "fix": state.fix,
                        "can_time": backends.backend_class(name).can_time,
                        "can_infer": backends.backend_class(name).can_infer,
                        "precisions": list(backends.backend_class(name).precisions)}
    try:
        _, choice = backends.choose("auto")
    except TrtbenchError as exc:
        choice = str(exc)
    return states, choice
