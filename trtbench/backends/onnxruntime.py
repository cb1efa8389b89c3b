"""ONNX Runtime: the CPU provider everywhere, the CUDA provider where ONNX Runtime has it.

Each provider declares only the precisions it computes in: the CPU provider has no FP16 convolution
on x86 (ONNX Runtime casts an FP16 graph back to FP32), and the CUDA provider has no INT8 one (ONNX
Runtime fuses Q/DQ into QLinearConv for the CPU, DML and ACL providers only, so on CUDA a Q/DQ graph
runs FP32 convolutions between QuantizeLinear and DequantizeLinear). What an engine really runs is
read back from the graph ONNX Runtime optimized for it.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import functools
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, Check, Concurrent, CpuConfig, Engine, checked_requests
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input
from trtbench.graphs.precision import graph_for
from trtbench.measure.profile import Layer, LayerProfile
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


# ONNX Runtime's profile: a kernel's event is named after its node, with this suffix
_KERNEL_SUFFIX = "_kernel_time"
#: nodes ONNX Runtime adds to the graph it was given: layout changes and copies between devices
INSERTED_OPS = ("ReorderInput", "ReorderOutput", "Transpose", "MemcpyToHost", "MemcpyFromHost")
# ops that ONNX Runtime folds into the node before them: a quantization of its result, an identity,
# an activation (when the node names it in its "activation" attribute) and a sum (when it takes a
# fourth input, a convolution's "Sum"/"Z")
_FOLDED_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Tanh")
# element types in the profile's input_type_shape, in trtbench's words
_PROFILE_TYPES = {"float": "fp32", "float16": "fp16", "bfloat16": "bf16", "int8": "int8", "uint8": "int8"}


def _kernel_times(events: Any) -> list[dict[str, float]]:
    """Per inference (ONNX Runtime's "model_run" events, in order), each node's kernel milliseconds."""
    if not isinstance(events, list):
        return []
    records = [event for event in events if isinstance(event, dict) and _number(event.get("ts"))
               and _number(event.get("dur")) and isinstance(event.get("name"), str)]
    windows = sorted((event["ts"], event["ts"] + event["dur"]) for event in records
                     if event.get("cat") == "Session" and event["name"] == "model_run")
    starts = [start for start, _ in windows]
    runs: list[dict[str, float]] = [{} for _ in windows]
    for event in records:
        if event.get("cat") != "Node" or not event["name"].endswith(_KERNEL_SUFFIX):
            continue
        index = bisect.bisect_right(starts, event["ts"]) - 1  # the last run started before the kernel
        if index >= 0 and event["ts"] <= windows[index][1]:
            node = event["name"][: -len(_KERNEL_SUFFIX)]
            runs[index][node] = runs[index].get(node, 0.0) + event["dur"] / 1000.0
    return runs


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _kernel_events(events: Any) -> dict[str, dict]:
    """The args of each node's first kernel event (its op name, provider, input types)."""
    found: dict[str, dict] = {}
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event.get("cat") == "Node" and isinstance(event.get("name"), str) \
                and event["name"].endswith(_KERNEL_SUFFIX) and isinstance(event.get("args"), dict):
            found.setdefault(event["name"][: -len(_KERNEL_SUFFIX)], event["args"])
    return found


def _profile_from(runs: list[dict[str, float]], optimized: onnx.GraphProto, original: onnx.GraphProto,
                  kernels: dict[str, dict] | None = None) -> LayerProfile:
    """The layers of ``runs`` (per inference, each node's ms), in the optimized graph's order, each mapped to
    the nodes of ``original`` it computes."""
    kernels = kernels or {}
    mapping = covered_nodes(optimized, original)
    types = _element_types(optimized)
    by_name = {node.name: node for node in optimized.node}
    ran = {name for run in runs for name in run}
    order = [node.name for node in optimized.node if node.name in ran]
    order += sorted(ran - set(order))
    layers, notes = [], []
    for name in order:
        node = by_name.get(name)
        kind = node.op_type if node is not None else str(kernels.get(name, {}).get("op_name") or "unknown")
        nodes, inserted = mapping.get(name, ((), False))
        if not nodes and not inserted:
            notes.append(f"ONNX Runtime kernel {name} ({kind}) maps to no node of the built graph: "
                         + ("it is not in ONNX Runtime's optimized graph" if node is None else
                            "its inputs and outputs could not be traced back to the built graph's tensors"))
        layers.append(Layer(name, kind, statistics.median(run.get(name, 0.0) for run in runs),
                            _layer_precision(node, types, kernels.get(name)), nodes, inserted))
    total = statistics.median(sum(run.values()) for run in runs)
    return LayerProfile("ONNX Runtime profiler", len(runs), layers, total, notes)


def _layer_precision(node: onnx.NodeProto | None, types: dict[str, int], kernel: dict | None) -> str | None:
    """What a kernel computes in: integer kernels int8, a float convolution or product its weight's type,
    others the type of their first input as the profile saw it."""
    if node is not None and (node.op_type in INT8_CONVS + INT8_PRODUCTS or node.op_type.startswith("QLinear")):
        return "int8"
    if node is not None and node.op_type in FLOAT_CONVS + FLOAT_PRODUCTS and len(node.input) > 1 \
            and types.get(node.input[1]) in _FLOAT_TYPES:
        return _FLOAT_TYPES[types[node.input[1]]]
    shapes = kernel.get("input_type_shape") if isinstance(kernel, dict) else None
    if isinstance(shapes, list) and shapes and isinstance(shapes[0], dict) and len(shapes[0]) == 1:
        return _PROFILE_TYPES.get(next(iter(shapes[0])))
    return None


def covered_nodes(optimized: onnx.GraphProto, original: onnx.GraphProto) -> dict[str, tuple[tuple[str, ...], bool]]:
    """For each node of ONNX Runtime's optimized graph, the names of the ``original`` nodes it computes and
    whether ONNX Runtime inserted it.

    Fused nodes keep none of the original names, so the mapping goes by tensors: each optimized tensor
    is first named in the original graph's words (its own name where the original has it; the output
    of the node a renamed node came from, after the layout transformers' "_nchwc" and "_token_N"
    renames; a layout change passes its input's name on), and a node covers the original nodes that
    lie between its inputs and its outputs (a walk backward that stops at those inputs, the graph's
    inputs and its initializers).
    """
    producers = {tensor: node for node in original.node for tensor in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for node in original.node:
        for tensor in node.input:
            consumers[tensor].append(node)
    by_name = {node.name: node for node in original.node}
    leaves = {value.name for value in original.input} | {t.name for t in original.initializer} | {""}
    claimed = {node.name for node in optimized.node} & set(by_name)  # original nodes kept under their name
    translated: dict[str, str] = {}
    covered: dict[str, tuple[tuple[str, ...], bool]] = {}

    def original_tensor(tensor: str) -> str | None:
        if tensor in translated:
            return translated[tensor]
        return tensor if tensor in producers or tensor in leaves else None

    for node in optimized.node:  # ONNX Runtime writes the graph in topological order
        inputs = [original_tensor(tensor) for tensor in node.input]
        source = _source_node(node.name, by_name, producers)
        if all(tensor in producers or tensor in leaves for tensor in node.output):
            outputs: list[str | None] = list(node.output)
        elif source is not None and len(source.output) >= len(node.output):
            outputs = [_folded_forward(tensor, node, inputs, consumers, claimed)
                       for tensor in source.output[: len(node.output)]]
        elif node.op_type in INSERTED_OPS and inputs and inputs[0] is not None:
            outputs = [inputs[0]] * len(node.output)  # a layout change or a copy: the same tensor
        else:
            outputs = [None] * len(node.output)
        for tensor, name in zip(node.output, outputs, strict=False):
            if name is not None:
                translated[tensor] = name
        if any(name is None for name in outputs):
            covered[node.name] = ((), False)
            continue
        stops = {tensor for tensor in inputs if tensor is not None} | leaves
        nodes = _walk_back([name for name in outputs if name is not None], stops, producers)
        inserted = not nodes and node.op_type in INSERTED_OPS and source is None
        covered[node.name] = (tuple(n.name for n in original.node if n.name in nodes), inserted)
    return covered


def _source_node(name: str, by_name: dict[str, onnx.NodeProto],
                 producers: dict[str, onnx.NodeProto]) -> onnx.NodeProto | None:
    """The original node a node of the optimized graph was made from, by ONNX Runtime's renames: its own
    name, "NAME_token_N" (the NHWC transformer), "TENSOR_nchwc" (the NCHWc transformer, after the
    node's first output)."""
    candidates = [name]
    stem = name
    while "_token_" in stem:
        stem = stem.rsplit("_token_", 1)[0]
        candidates.append(stem)
    for candidate in candidates:
        if candidate in by_name:
            return by_name[candidate]
        if candidate.endswith("_nchwc") and candidate[: -len("_nchwc")] in producers:
            return producers[candidate[: -len("_nchwc")]]
    return None


def _folded_forward(tensor: str, node: onnx.NodeProto, inputs: list[str | None],
                    consumers: dict[str, list[onnx.NodeProto]], claimed: set[str]) -> str:
    """The original tensor a renamed node really outputs: ``tensor`` carried through the ops ONNX Runtime
    folded into the node (each the only consumer of the tensor before it, and kept by no other node)."""
    activation = next((a.s.decode() for a in node.attribute if a.name == "activation"), None)
    summed = inputs[3] if node.op_type in FLOAT_CONVS and len(inputs) > 3 else None
    while len(consumers.get(tensor, [])) == 1:
        after = consumers[tensor][0]
        others = [t for t in after.input if t != tensor]
        folds = (after.op_type in ("QuantizeLinear", "Identity")
                 or (after.op_type == activation and after.op_type in _FOLDED_ACTIVATIONS)
                 or (after.op_type == "Add" and summed is not None and others == [summed]))
        if not folds or after.name in claimed or not after.output:
            break
        if after.op_type == "Add":
            summed = None  # a node sums once
        tensor = after.output[0]
    return tensor


def _walk_back(outputs: list[str], stops: set[str], producers: dict[str, onnx.NodeProto]) -> set[str]:
    """Names of the original nodes computing ``outputs`` from ``stops``."""
    found: set[str] = set()
    pending = [tensor for tensor in outputs if tensor not in stops]
    seen: set[str] = set()
    while pending:
        tensor = pending.pop()
        if tensor in seen or tensor in stops or tensor not in producers:
            continue
        seen.add(tensor)
        producer = producers[tensor]
        found.add(producer.name)
        pending.extend(producer.input)
    return found


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

    @contextlib.contextmanager
    def concurrent(self, requests: int) -> Iterator[Concurrent]:
        """``requests`` runs at once of one session, each on an IO binding of its own with the timing input.

        The engine's session shares its intra-op threads among the runs in flight, which on a 2-core Xeon
        served 33-37 ResNet50 FP32 images/s at 2 and 4 requests against 40-42 for a session whose threads are
        split among the requests (each run then computes on its own thread): so for more than one request the
        runs go to a second session made like this one, with ``threads // requests`` intra-op threads."""
        import onnxruntime as ort

        self._require_active()
        checked_requests(requests)
        if self.ort_device != "cpu":
            raise TrtbenchError("onnxruntime-cuda cannot run requests concurrently yet: use --backend tensorrt "
                                "(execution contexts on streams of their own) or onnxruntime-cpu")
        built = self.session.get_session_options()
        threads = max(1, built.intra_op_num_threads // requests)
        session = self.session
        if threads != built.intra_op_num_threads:
            options = ort.SessionOptions()
            for setting in ("graph_optimization_level", "inter_op_num_threads", "execution_mode",
                            "log_severity_level"):
                setattr(options, setting, getattr(built, setting))
            options.intra_op_num_threads = threads
            session = ort.InferenceSession(self.info["graph"], options, providers=self.session.get_providers())
        out_shape = [self.batch, *self.output.shape[1:]]
        bindings = []
        for _ in range(requests):
            binding = session.io_binding()
            binding.bind_ortvalue_input(self.input_name, ort.OrtValue.ortvalue_from_numpy(seeded_input(self.batch)))
            binding.bind_ortvalue_output(self.output.name,
                                         ort.OrtValue.ortvalue_from_shape_and_type(out_shape, np.float32))
            bindings.append(binding)
        facts = {"requests": requests, "streams": requests, "threads_per_stream": threads,
                 "how": "run_with_iobinding of one ONNX Runtime session from a thread per request, each on an IO "
                        f"binding of its own; intra_op_num_threads {threads}"}
        # run_with_iobinding releases the GIL while the session runs
        serving = Concurrent([functools.partial(session.run_with_iobinding, binding) for binding in bindings], facts)
        del bindings, session
        try:
            yield serving
        finally:
            serving.runners.clear()  # the bindings and a throughput session go with the last reference

    def executed_precision(self) -> tuple[str | None, str]:
        """What most convolutions run in, from the optimized graph ONNX Runtime wrote at build."""
        return self.executed

    def profile_layers(self, iterations: int) -> LayerProfile:
        """ONNX Runtime's profiler on a second session made like this one: each kernel of the optimized
        graph, its median time per inference, and the ONNX nodes of the built graph it computes."""
        import onnx
        import onnxruntime as ort
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

        self._require_active()
        if iterations < 1:
            raise TrtbenchError(f"profiling needs at least 1 iteration, not {iterations}")
        built = self.session.get_session_options()
        options = ort.SessionOptions()
        for setting in ("graph_optimization_level", "intra_op_num_threads", "inter_op_num_threads",
                        "execution_mode", "log_severity_level"):
            setattr(options, setting, getattr(built, setting))
        data = seeded_input(self.batch)
        with scratch_dir("ort-profile") as work:
            options.enable_profiling = True
            options.profile_file_prefix = str(work / "profile")
            options.optimized_model_filepath = str(work / "optimized.onnx")
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                             "optimized.weights")
            provider_options = self.session.get_provider_options()
            providers = [(name, provider_options.get(name, {})) for name in self.session.get_providers()]
            session = ort.InferenceSession(self.info["graph"], options, providers=providers)
            # bound like the timed session's (in the provider's memory), so no copy is profiled that it lacks
            binding = session.io_binding()
            binding.bind_ortvalue_input(self.input_name, ort.OrtValue.ortvalue_from_numpy(data, self.ort_device, 0))
            binding.bind_output(self.output.name, self.ort_device)
            # the first run allocates ONNX Runtime's buffers: it is run, traced and left out
            for _ in range(iterations + 1):
                session.run_with_iobinding(binding)
            trace = Path(session.end_profiling())
            try:
                events = json.loads(trace.read_text())
                optimized = onnx.load(str(work / "optimized.onnx"), load_external_data=False)
                original = onnx.load(self.info["graph"], load_external_data=False)
            except (OSError, ValueError, DecodeError) as exc:
                raise TrtbenchError(f"ONNX Runtime's profile could not be read back: {exc}") from exc
        runs = _kernel_times(events)[1:]
        if not runs:
            raise TrtbenchError("ONNX Runtime's profile holds no timed run")
        return _profile_from(runs, optimized.graph, original.graph, _kernel_events(events))


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
            loading = time.perf_counter()
            session = ort.InferenceSession(str(graph), options, providers=[self.provider])
            load_s = time.perf_counter() - loading  # its graph optimizations included, and writing the graph out
            executed = _read_back(optimized)
        engine = OnnxRuntimeEngine(session, batch, self.ort_device, build_s=time.perf_counter() - started, graph=graph,
                                   precision=precision, executed=executed)
        engine.load_s = load_s
        return engine


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

