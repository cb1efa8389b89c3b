"""What this machine has for each backend, what is missing, and what brings it.

The lines for a backend come from its own declaration (``Backend.checks``): adding a backend adds
its lines here without an edit.
"""

from __future__ import annotations

from trtbench import backends, envinfo
from trtbench.backends.base import Check
from trtbench.errors import TrtbenchError
from trtbench.measure.gpu import CUDA_EXTRAS  # the one table of extras per driver; `make setup` reads it too

__all__ = ["Check", "checks", "backend_states", "cpu_facts", "cuda_extra_check", "CUDA_EXTRAS"]

DRIVER_NEEDS = "tensorrt backend; " + "; ".join(f"{extra}: driver >= {oldest} ({runs})"
                                                 for extra, _, oldest, runs in reversed(CUDA_EXTRAS))


def cpu_facts(found: frozenset[str] | None = None) -> dict:
    """This CPU as it decides the CPU backends' precisions: model, cores, and the instructions
    behind BF16, FP16 and INT8 speed (None where it has none), AMX's among them (``found``: the
    flags to read instead of this CPU's)."""
    import os

    from trtbench.measure import cpu

    flags = cpu.flags() if found is None else found
    return {"model": envinfo.cpu_name(), "physical_cores": cpu.physical_cores(), "logical_cpus": os.cpu_count(),
            "bf16": cpu.native_bf16(flags), "fp16": cpu.native_fp16(flags), "int8": cpu.native_int8(flags),
            "amx": sorted(flag for flag in flags if flag.startswith("amx"))}


def cpu_lines(facts: dict) -> list[str]:
    """``cpu_facts`` in two lines that fit 80 columns: 'CPU: <model>, 2 cores' and
    '     BF16 amx_bf16, FP16 none, INT8 amx_int8, AMX bf16 int8 tile'."""
    precisions = ", ".join(f"{name.upper()} {facts[name] or 'none'}" for name in ("bf16", "fp16", "int8"))
    cores = f"{facts['physical_cores']} core{'s' if facts['physical_cores'] != 1 else ''}"
    amx = " ".join(flag.removeprefix("amx_") for flag in facts["amx"]) or "none"
    return [f"CPU: {facts['model']}, {cores}", f"     {precisions}, AMX {amx}"]


def _version_check(package: str, needed_for: str, fix: str) -> Check:
    version = envinfo.package_version(package)
    return Check(package, version or "", needed_for, "" if version else fix)


def checks() -> list[Check]:
    """Every component trtbench can use, with its state on this machine."""
    from trtbench.backends.paddle_inference import compiled_tensorrt
    from trtbench.measure.gpu import driver_version, gpus

    found = [
        Check("python", envinfo.host()["python"], "everything"),
        _version_check("paddlepaddle", "export", "pip install paddlepaddle==3.3.1"),
        _version_check("paddle2onnx", "export", "pip install paddle2onnx==2.1.0"),
        _version_check("onnx", "export, graphs", "pip install onnx==1.17.0"),
        _version_check("onnxconverter-common", "fp16 graphs", "pip install onnxconverter-common"),
    ]
    listed = gpus()
    gpu_text = "; ".join(f"{g['name']} (driver {g['driver']}, "
                         f"{'memory not reported' if g.get('memory_mib') is None else str(g['memory_mib']) + ' MiB'})"
                         for g in listed)
    found.append(Check("NVIDIA GPU", gpu_text, "tensorrt, onnxruntime-cuda",
                       "" if listed else "a machine with an NVIDIA GPU and its driver"))
    found.append(cuda_extra_check(driver_version()))
    paddle_trt = compiled_tensorrt()
    found.append(Check("Paddle Inference TensorRT subgraph", paddle_trt,
                       "paddle-inference on a GPU (the page's own method)",
                       "" if paddle_trt else "a GPU build of paddlepaddle with TensorRT from Paddle's own package "
                       "index (not on PyPI in a current version) on a machine with an NVIDIA GPU"))
    seen = {check.component for check in found}
    for name in backends.backend_names()[1:]:
        for check in backends.backend_class(name).checks():
            if check.component not in seen:
                seen.add(check.component)
                found.append(check)
    found.append(_version_check("matplotlib", "report --plot", "pip install 'trtbench[plot]'"))
    return found


def _built_for(major: int, package_version) -> tuple[list[str], list[str]]:
    """The installed packages built for CUDA ``major`` ('name version'), and those to uninstall to switch.

    Only TensorRT needs uninstalling: tensorrt-cu12 and tensorrt-cu13 both provide the module
    `tensorrt`, while installing the other extra moves cuda-python (and cuda-bindings) itself.
    """
    found, remove = [], []
    bindings = next((name for name in ("cuda-bindings", "cuda-python") if package_version(name)), None)
    if bindings and _major(package_version(bindings)) == major:
        found.append(f"{bindings} {package_version(bindings)}")
    trt = package_version(f"tensorrt-cu{major}")
    if trt:
        found.append(f"tensorrt-cu{major} {trt}")
        # `tensorrt` itself: the meta package pulls tensorrt-cu13 back in
        remove = [f"tensorrt-cu{major}", f"tensorrt-cu{major}-bindings", f"tensorrt-cu{major}-libs", "tensorrt"]
    return found, remove


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return -1


def cuda_extra_check(driver: str | None, package_version=envinfo.package_version) -> Check:
    """Which TensorRT extra (per CUDA major) runs on the NVIDIA driver ``driver`` ('550.54.15').

    CUDA 13 wheels on an older driver import fine and then fail every CUDA call, so the CUDA
    packages installed are checked against the driver too.
    """
    component = "TensorRT extra for the driver"
    if driver is None:
        return Check(component, "", DRIVER_NEEDS, "no NVIDIA driver found: a machine with an NVIDIA GPU and driver")
    branch = _major(driver)
    if branch < 0:
        return Check(component, "", DRIVER_NEEDS, f"driver version '{driver}' not understood")
    fitting = [extra for extra, _, oldest, _ in CUDA_EXTRAS if branch >= oldest]
    if not fitting:
        oldest = min(oldest for _, _, oldest, _ in CUDA_EXTRAS)
        return Check(component, "", DRIVER_NEEDS,
                     f"driver {driver} is older than R{oldest}: no TensorRT extra runs on it; upgrade the driver")
    others = " or ".join(f"trtbench[{extra}]" for extra in fitting[1:])
    found = f"driver {driver}: trtbench[{fitting[0]}]" + (f" ({others} fits too)" if others else "")
    wrong, remove = [], []
    for _, major, oldest, _ in CUDA_EXTRAS:
        if branch < oldest:
            packages, uninstall = _built_for(major, package_version)
            wrong += [f"{package} (needs driver >= {oldest})" for package in packages]
            remove += uninstall
    fix = ""
    if wrong:
        steps = ([f"pip uninstall -y {' '.join(remove)}"] if remove else []) + [f"pip install 'trtbench[{fitting[0]}]'"]
        fix = f"installed for a newer driver: {', '.join(wrong)}; " + " && ".join(steps)
    return Check(component, found, DRIVER_NEEDS, fix)


def backend_states() -> tuple[dict[str, dict], dict[str, str]]:
    """Each backend's availability (reason, fix, the precisions it runs natively here), and which
    backend `--backend auto` gives each precision (or why none)."""
    from trtbench.graphs.precision import PRECISIONS

    states = {}
    for name in backends.backend_names()[1:]:
        backend = backends.create(name)
        state = backend.availability()
        states[name] = {"available": state.ok, "reason": state.reason, "fix": state.fix,
                        "can_time": backend.can_time, "can_infer": backend.can_infer,
                        "precisions": list(backend.precisions),
                        "runs_here": [p for p in backend.precisions if state.ok and backend.runs(p)[0]]}
    auto = {}
    for precision in PRECISIONS:
        try:
            (chosen,) = backends.assign("auto", [precision]).by_precision[precision]
            auto[precision] = chosen.name
        except TrtbenchError as exc:
            auto[precision] = f"none: {exc}"
    return states, auto
