"""ONNX Runtime: the CPU provider everywhere, the CUDA provider where ONNX Runtime has it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, Check, CpuConfig, Engine
from trtbench.inputs import seeded_input
from trtbench.precision import graph_for


class OnnxRuntimeEngine(Engine):
    """An InferenceSession with its input and output bound once, so the timed loop allocates nothing."""

    spans = ("latency",)

    def __init__(self, session, batch: int, device: str, build_s: float, graph: Path):
        super().__init__(batch, info={"graph": str(graph)}, build_s=build_s)
        self.session = session
        self.ort_device = device  # "cpu" or "cuda"
        self.input_name = session.get_inputs()[0].name
        self.output = session.get_outputs()[0]

    binding: Any = None
    input_value: Any = None
    output_value: Any = None

    def activate_impl(self) -> None:
        import onnxruntime as ort

        self.binding = self.session.io_binding()
        self._bind(seeded_input(self.batch))
        out_shape = [self.batch, *self.output.shape[1:]]
        self.output_value = ort.OrtValue.ortvalue_from_shape_and_type(out_shape, np.float32, self.ort_device, 0)
        self.binding.bind_ortvalue_output(self.output.name, self.output_value)

    def _bind(self, data: np.ndarray) -> None:
        import onnxruntime as ort

        self.input_value = ort.OrtValue.ortvalue_from_numpy(data, self.ort_device, 0)
        self.binding.bind_ortvalue_input(self.input_name, self.input_value)

    def deactivate_impl(self) -> None:
        self.binding = self.input_value = self.output_value = None

    def iterate_impl(self) -> dict[str, float]:
        # run_with_iobinding returns once the outputs are written (ORT synchronizes its CUDA stream).
        start = time.perf_counter_ns()
        self.session.run_with_iobinding(self.binding)
        return {"latency": (time.perf_counter_ns() - start) / 1e6}

    def infer_impl(self, data: np.ndarray) -> np.ndarray:
        self._bind(data)
        self.session.run_with_iobinding(self.binding)
        result = self.output_value.numpy().copy()
        self._bind(seeded_input(self.batch))
        return result

    def describe(self) -> dict:
        options = self.session.get_session_options()
        return {
            "timer": "time.perf_counter_ns around run_with_iobinding",
            "data_transfers": False,
            "data_transfers_note": "input and output bound once in the provider's memory",
            "providers": self.session.get_providers(),
            "threads": options.intra_op_num_threads,
            "inter_op_threads": options.inter_op_num_threads,
            "graph_optimization_level": str(options.graph_optimization_level),
        }


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime on one execution provider."""

    name = "onnxruntime-cpu"
    metric = "session run time"
    config_class = CpuConfig
    packages = ("onnxruntime",)
    provider: ClassVar[str] = "CPUExecutionProvider"
    ort_device: ClassVar[str] = "cpu"
    config: CpuConfig

    @classmethod
    def checks(cls) -> list[Check]:
        try:
            import onnxruntime as ort
        except ImportError:
            return [Check("onnxruntime", "", "onnxruntime-* backends", "pip install onnxruntime")]
        available = ort.get_available_providers()
        providers = ", ".join(p.replace("ExecutionProvider", "") for p in available)
        found = [Check("onnxruntime", f"{ort.__version__} ({providers})", "onnxruntime-* backends")]
        if cls.provider not in available:
            found.append(Check(f"onnxruntime {cls.provider.replace('ExecutionProvider', '')} provider", "",
                               f"{cls.name} backend", "pip install onnxruntime-gpu"))
        return found

    def availability_impl(self) -> Availability:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            return Availability(False, f"onnxruntime does not import ({exc})", "pip install onnxruntime")
        if self.provider not in ort.get_available_providers():
            return Availability(False, f"onnxruntime {ort.__version__} has no {self.provider}",
                                "pip install onnxruntime-gpu (and an NVIDIA driver)")
        return Availability(True, f"onnxruntime {ort.__version__} with {self.provider}")

    def device(self) -> str:
        return envinfo.cpu_name()

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        import onnxruntime as ort

        started = time.perf_counter()
        graph = graph_for(Path(onnx_path), precision, self.calibration)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.config.thread_count()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(graph), options, providers=[self.provider])
        return OnnxRuntimeEngine(session, batch, self.ort_device, build_s=time.perf_counter() - started, graph=graph)


class OnnxRuntimeCudaBackend(OnnxRuntimeBackend):
    """ONNX Runtime's CUDA provider, inputs resident on the GPU."""

    name = "onnxruntime-cuda"
    provider = "CUDAExecutionProvider"
    ort_device = "cuda"
    metric = "session run time, data on the GPU"
    packages = ("onnxruntime-gpu",)

    def device(self) -> str:
        from trtbench.gpu import gpu_name

        return gpu_name() or "NVIDIA GPU"

