"""What this machine has for each backend, what is missing, and what brings it."""

from __future__ import annotations

from dataclasses import dataclass

from trtbench import envinfo


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    component: str
    found: str  # version or fact; "" when missing
    needed_for: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.found)


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
    try:
        import onnxruntime as ort

        providers = ", ".join(p.replace("ExecutionProvider", "") for p in ort.get_available_providers())
        found.append(Check("onnxruntime", f"{ort.__version__} ({providers})", "onnxruntime-* backends"))
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            found.append(Check("onnxruntime CUDA provider", "", "onnxruntime-cuda backend",
                               "pip install onnxruntime-gpu"))
    except ImportError:
        found.append(Check("onnxruntime", "", "onnxruntime-* backends", "pip install onnxruntime"))
    listed = gpus()
    gpu_text = "; ".join(f"{g['name']} (driver {g['driver']}, {g['memory_mib']} MiB)" for g in listed)
    found.append(Check("NVIDIA GPU", gpu_text, "tensorrt, onnxruntime-cuda",
                       "" if listed else "a machine with an NVIDIA GPU and its driver"))
    found += _tensorrt_checks()
    found.append(_version_check("nvidia-ml-py", "GPU clocks/power in records", "pip install 'trtbench[tensorrt]'"))
    found.append(_version_check("matplotlib", "report --plot", "pip install 'trtbench[plot]'"))
    return found


def _tensorrt_checks() -> list[Check]:
    """TensorRT and the CUDA bindings: installed, and loadable (the libraries are separate wheels)."""
    result = []
    bindings = envinfo.package_version("tensorrt") or envinfo.package_version("tensorrt-cu12-bindings") \
        or envinfo.package_version("tensorrt-cu13-bindings")
    loaded = ""
    if bindings:
        try:
            import tensorrt

            loaded = tensorrt.__version__
        except Exception as exc:  # the bindings import fails without libnvinfer
            loaded = ""
            result.append(Check("tensorrt libraries", "", "tensorrt backend",
                                f"the bindings {bindings} are installed but do not load ({type(exc).__name__}): "
                                "pip install 'trtbench[tensorrt]' on a machine that reaches NVIDIA's index"))
    result.insert(0, Check("tensorrt", loaded, "tensorrt backend",
                           "" if loaded else "pip install 'trtbench[tensorrt]' (TensorRT 10.x or 11.x)"))
    cuda = envinfo.package_version("cuda-python") or envinfo.package_version("cuda-bindings")
    pycuda = envinfo.package_version("pycuda")
    found = ", ".join(f"{n} {v}" for n, v in (("cuda-python", cuda), ("pycuda", pycuda)) if v)
    result.append(Check("CUDA bindings", found, "tensorrt backend (buffers, events)",
                        "" if found else "pip install 'trtbench[tensorrt]' (or 'trtbench[pycuda]')"))
    return result
