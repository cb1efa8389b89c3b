"""ONNX Runtime: the CPU provider everywhere, the CUDA provider where ONNX Runtime has it.

Each provider declares only the precisions it computes in: the CPU provider has no FP16 convolution
on x86 (ONNX Runtime casts an FP16 graph back to FP32), and the CUDA provider has no INT8 one (ONNX
Runtime fuses Q/DQ into QLinearConv for the CPU, DML and ACL providers only, so on CUDA a Q/DQ graph
runs FP32 convolutions between QuantizeLinear and DequantizeLinear). What an engine really runs is
read back from the graph ONNX Runtime optimized for it.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, Check, CpuConfig, Engine
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input
from trtbench.graphs.precision import graph_for
from trtbench.store.artifacts import scratch_dir

if TYPE_CHECKING:
    import onnx

#: the INT8 graph form (trtbench.graphs.precision.INT8_FORMS) the CPU provider fuses into integer kernels
INT8_FORM = "onnxruntime"
#: convolutions in ONNX Runtime's optimized graphs (any domain: com.microsoft, com.microsoft.nchwc)
INT8_CONVS = ("QLinearConv", "ConvInteger")
FLOAT_CONVS = ("Conv", "FusedConv", "NhwcConv", "NhwcFusedConv")
#: matrix products (the classifier head), reported beside the convolutions
INT8_PRODUCTS = ("QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QGemm")
FLOAT_PRODUCTS = ("MatMul", "Gemm", "FusedMatMul", "FusedGemm")
# ONNX TensorProto element types of float weights, in trtbench's words
_FLOAT_TYPES = {1: "fp32", 10: "fp16", 16: "bf16"}


def executed_from_graph(model: onnx.ModelProto) -> tuple[str | None, str]:
    """The precision most convolutions of ONNX Runtime's optimized graph ``model`` compute in, and
    the evidence: QLinearConv and ConvInteger are int8, a float Conv (plain, fused or NCHWc) runs in
    its weight's type."""
    types = _element_types(model.graph)
    convs: collections.Counter = collections.Counter()  # (op, precision) -> nodes
    products: collections.Counter = collections.Counter()
    for node in model.graph.node:
        tally = convs if node.op_type in INT8_CONVS + FLOAT_CONVS else \
            products if node.op_type in INT8_PRODUCTS + FLOAT_PRODUCTS else None
        if tally is None:
            continue
        weight = node.input[1] if len(node.input) > 1 else ""
        kind = "int8" if node.op_type in INT8_CONVS + INT8_PRODUCTS else \
            _FLOAT_TYPES.get(types.get(weight, 0), "unknown type")
        tally[node.op_type, kind] += 1
    if not convs:
        return None, "ONNX Runtime optimized graph: no convolution to read the precision from"
    total = sum(convs.values())
    by_precision: collections.Counter = collections.Counter()
    for (_, precision), count in convs.items():
        by_precision[precision] += count
    precision = by_precision.most_common(1)[0][0]
    (first_op, first_kind), first_count = convs.most_common(1)[0]
    evidence = f"ONNX Runtime optimized graph: {first_count} of {total} convolutions {first_op} ({first_kind})"
    evidence += "".join(f", {count} {op} ({kind})" for (op, kind), count in convs.most_common()[1:])
    if products:
        evidence += "; matrix products: " + ", ".join(
            f"{count} {op} ({kind})" for (op, kind), count in products.most_common())
    return (precision if precision in ("int8", *_FLOAT_TYPES.values()) else None), evidence


def _element_types(graph: onnx.GraphProto) -> dict[str, int]:
    """Each tensor's element type, where the optimized graph records or implies it."""
    types = {t.name: t.data_type for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        if value.type.tensor_type.elem_type:
            types.setdefault(value.name, value.type.tensor_type.elem_type)
    # ONNX Runtime leaves some outputs untyped: a DequantizeLinear gives its scale's type, a Cast its target.
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[1] in types:
            types.setdefault(node.output[0], types[node.input[1]])
        elif node.op_type == "Cast":
            types.setdefault(node.output[0], next(a.i for a in node.attribute if a.name == "to"))
    return types


def _read_back(optimized: Path) -> tuple[str | None, str]:
    """``executed_from_graph`` of the optimized graph ONNX Runtime wrote to ``optimized``."""
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    try:
        # the weights went to a file of their own (see build), which is never read: types suffice
        model = onnx.load(str(optimized), load_external_data=False)
    except (OSError, DecodeError) as exc:
        return None, f"ONNX Runtime's optimized graph could not be read back: {exc}"
    return executed_from_graph(model)


class OnnxRuntimeEngine(Engine):
    """An InferenceSession with its input and output bound once, so the timed loop allocates nothing."""

    spans = ("latency",)

    def __init__(self, session, batch: int, device: str, build_s: float, graph: Path, precision: str = "fp32",
                 executed: tuple[str | None, str] = (None, "not read back")):
        super().__init__(batch, info={"graph": str(graph)}, build_s=build_s)
        self.session = session
        self.ort_device = device  # "cpu" or "cuda"
        self.precision = precision
        self.executed = executed  # read from the optimized graph once, when the session was made
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
        described = {
            "timer": "time.perf_counter_ns around run_with_iobinding",
            "data_transfers": False,
            "data_transfers_note": "input and output bound once in the provider's memory",
            "providers": self.session.get_providers(),
            "threads": options.intra_op_num_threads,
            "inter_op_threads": options.inter_op_num_threads,
            "graph_optimization_level": str(options.graph_optimization_level),
        }
        if self.precision == "int8":
            described["int8_form"] = INT8_FORM
        return described

    def executed_precision(self) -> tuple[str | None, str]:
        """What most convolutions run in, from the optimized graph ONNX Runtime wrote at build."""
        return self.executed


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime on one execution provider."""

    name = "onnxruntime-cpu"
    metric = "session run time"
    config_class = CpuConfig
    packages = ("onnxruntime",)
    provider: ClassVar[str] = "CPUExecutionProvider"
    ort_device: ClassVar[str] = "cpu"
    precisions = ("fp32", "int8")
    #: why a precision this provider has no kernels for is refused (ONNX Runtime would run it as another)
    refusals: ClassVar[dict[str, str]] = {
        "fp16": "ONNX Runtime's CPU provider has no FP16 convolution on x86: an FP16 graph would run FP32 "
                "(it casts back); use fp32, int8, or --backend openvino-cpu for bf16",
        "bf16": "ONNX Runtime's CPU provider has no BF16 mode for an FP32 graph on x86: it would run FP32; "
                "use fp32, int8, or --backend openvino-cpu",
    }
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

    def runs(self, precision: str) -> tuple[bool, str]:
        """The declared precisions; the others refused with the reason this provider cannot run them."""
        ok, reason = super().runs(precision)
        return ok, "" if ok else self.refusals.get(precision, reason)

    def device(self) -> str:
        return envinfo.cpu_name()

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        graph = graph_for(Path(onnx_path), precision, self.calibration, form=INT8_FORM)
        return list(dict.fromkeys([Path(onnx_path), graph]))

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        import onnxruntime as ort

        ok, reason = self.runs(precision)
        if not ok:
            raise TrtbenchError(f"backend {self.name} does not run {precision}: {reason}")
        started = time.perf_counter()
        graph = graph_for(Path(onnx_path), precision, self.calibration, form=INT8_FORM)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.config.thread_count()
        options.log_severity_level = 3
        with scratch_dir("ort") as work:
            # ONNX Runtime writes the graph it will run (after its fusions) once, while the session is
            # made; reading it back says which kernels run, and the timed loop never sees the file.
            # Its weights go to a file of their own, so reading the graph back parses none of them.
            optimized = work / "optimized.onnx"
            options.optimized_model_filepath = str(optimized)
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                             "optimized.weights")
            session = ort.InferenceSession(str(graph), options, providers=[self.provider])
            executed = _read_back(optimized)
        return OnnxRuntimeEngine(session, batch, self.ort_device, build_s=time.perf_counter() - started, graph=graph,
                                 precision=precision, executed=executed)


class OnnxRuntimeCudaBackend(OnnxRuntimeBackend):
    """ONNX Runtime's CUDA provider, inputs resident on the GPU."""

    name = "onnxruntime-cuda"
    provider = "CUDAExecutionProvider"
    ort_device = "cuda"
    metric = "session run time, data on the GPU"
    gpu = True
    packages = ("onnxruntime-gpu",)
    precisions = ("fp32", "fp16")
    refusals = {
        "int8": "ONNX Runtime's CUDA provider has no INT8 convolution (its Q/DQ fusion into QLinearConv is for "
                "the CPU, DML and ACL providers): a Q/DQ graph would run FP32 convolutions between "
                "QuantizeLinear and DequantizeLinear; use --backend tensorrt for int8",
        "bf16": "ONNX Runtime's CUDA provider has no BF16 mode for an FP32 graph: it would run FP32; use fp16 "
                "or --backend tensorrt",
    }

    def device(self) -> str:
        from trtbench.measure.gpu import gpu_name

        return gpu_name() or "NVIDIA GPU"

