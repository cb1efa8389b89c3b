"""TensorRT 10.x and 11.x: engines built from the ONNX export, timed with CUDA events.

TensorRT 11 removed weak typing (BuilderFlag.FP16/INT8, calibrators): every network is strongly
typed, so FP16 there is built from the FP16 graph (FP32 inputs/outputs) and INT8 from the Q/DQ graph
whose rest is FP16, as NVIDIA recommends for explicit quantization. TensorRT 10.x builds weakly typed
by default, as trtexec does: FP16 with BuilderFlag.FP16 on the FP32 graph, INT8 with BuilderFlag.INT8
and BuilderFlag.FP16 on the FP32 Q/DQ graph (TensorRT picks FP16 or FP32 per layer outside the Q/DQ
pairs); ``--typing strong`` builds both majors' way.

Every GPU TensorRT 10 and 11 run on (compute capability 7.0 and later for 10.x, 7.5 and later for
11.x) computes in FP16, so the FP16 rest of the INT8 graph is never a precision the GPU lacks.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtbench import lazy
from trtbench.backends.base import Availability, Backend, BackendConfig, Check, Engine, option
from trtbench.errors import MissingDependency, TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, seeded_input
from trtbench.graphs.precision import Calibration, graph_for, source_sha256
from trtbench.measure.timing import Timed, TimingPolicy
from trtbench.store import artifacts

ENGINE_KIND = "engine"
TIMING_CACHE_KIND = "timing-cache"
ENQUEUE_BOUND = 0.8  # median enqueue / median compute above which the host limits the GPU (trtexec's rule)
TIMING_CACHE = "timing.cache"
INSTALL_FIX = ("pip install 'trtbench[tensorrt-cu12]' (NVIDIA driver R525 or newer) or 'trtbench[tensorrt-cu13]' "
               "(R580 or newer) on a machine with a GPU; `trtbench doctor` says which fits its driver")
#: how a changed engine-cache key is named in the rebuild reason
ENGINE_KEY_LABELS = {"tensorrt": "TensorRT version", "gpu": "GPU", "compute_capability": "compute capability",
                     "multiprocessors": "SM count",
                     "onnx_sha256": "ONNX graph", "precision": "precision", "batch": "batch", "typing": "typing",
                     "builder": "builder options"}

#: Every TensorRT name this module touches, by the route that needs it; the conformance test checks
#: them against the real bindings of each major, and the test double checks nothing else is used.
TENSORRT_API = {
    "common": [
        "__version__", "Logger", "Logger.WARNING", "Builder", "Builder.create_network",
        "Builder.create_builder_config", "Builder.create_optimization_profile",
        "Builder.build_serialized_network", "INetworkDefinition.get_input", "ITensor.name", "OnnxParser",
        "OnnxParser.parse_from_file",
        "OnnxParser.num_errors", "OnnxParser.get_error", "ParserError.desc", "ParserError.node_name",
        "ParserError.node_operator", "IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE",
        "IBuilderConfig.builder_optimization_level", "IBuilderConfig.add_optimization_profile",
        "IOptimizationProfile.set_shape", "IBuilderConfig.create_timing_cache",
        "IBuilderConfig.set_timing_cache", "IBuilderConfig.get_timing_cache", "ITimingCache.serialize",
        "Runtime", "Runtime.deserialize_cuda_engine", "ICudaEngine.num_io_tensors",
        "ICudaEngine.get_tensor_name", "ICudaEngine.get_tensor_mode", "ICudaEngine.get_tensor_dtype",
        "ICudaEngine.create_execution_context", "TensorIOMode.INPUT", "nptype",
        "IExecutionContext.set_input_shape", "IExecutionContext.get_tensor_shape",
        "IExecutionContext.set_tensor_address", "IExecutionContext.execute_async_v3",
        "IBuilderConfig.clear_flag", "BuilderFlag.TF32", "IBuilderConfig.profiling_verbosity",
        "ProfilingVerbosity.DETAILED", "ICudaEngine.create_engine_inspector", "EngineInspector.get_engine_information",
        "LayerInformationFormat.JSON",
    ],
    "strong": ["NetworkDefinitionCreationFlag.STRONGLY_TYPED"],
    "weak_fp16": ["IBuilderConfig.set_flag", "BuilderFlag.FP16"],
    "weak_int8": ["IBuilderConfig.set_flag", "BuilderFlag.INT8"],
}
#: which routes each major may take
ROUTES_BY_MAJOR = {10: ("common", "strong", "weak_fp16", "weak_int8"), 11: ("common", "strong")}
#: the INT8 graph each typing builds from (precision.INT8_FORMS): the weak build picks FP16 or FP32 per
#: layer itself, so it reads the FP32 rest; a strongly typed one runs the rest in the graph's FP16
INT8_FORM_BY_TYPING = {"weak": "tensorrt", "strong": "tensorrt-fp16"}


@dataclass(frozen=True)
class EngineBuildConfig(BackendConfig):
    """How a TensorRT engine is built and timed: shared by the tensorrt and trtexec backends."""

    typing: str = option("auto", "TensorRT: strongly typed (FP16 graph; INT8: Q/DQ graph, rest FP16) or weak "
                                 "(BuilderFlag.FP16, +INT8 on the Q/DQ graph; 10.x only).",
                         choices=("auto", "strong", "weak"))
    workspace_mib: int | None = option(None, "TensorRT workspace limit in MiB (default: TensorRT's).", minimum=1)
    opt_level: int = option(3, "TensorRT builder optimization level.", minimum=0, maximum=5)
    timing_cache: bool = option(True, "TensorRT: do not use engines/timing.cache.", flag="--no-timing-cache")
    cuda_graph: bool = option(False, "Capture the enqueue as a CUDA graph and replay it.")
    data_transfers: bool = option(True, "Do not time host<->device copies.", flag="--no-data-transfers")
    tf32: bool = option(False, "Let FP32 engines use TF32 on Ampere and later (off: FP32 means FP32).")
    inflight: int = option(2, "Inferences kept in flight while timing, so host gaps are not GPU time "
                              "(trtexec keeps 2; 1 is its --exposeDMA).", minimum=1, maximum=8)

    def builder(self) -> dict:
        """The options that change the engine itself (part of its cache key)."""
        return {"workspace_mib": self.workspace_mib, "opt_level": self.opt_level, "tf32": self.tf32}


@dataclass(frozen=True)
class TensorRTConfig(EngineBuildConfig):
    """The TensorRT backend's options: the engine's, and which CUDA bindings drive it."""

    cuda: str = option("auto", "CUDA bindings for the TensorRT backend.", choices=("auto", "cuda-python", "pycuda"))


def plan_name(stem: str, precision: str, batch: int, typing: str, builder: dict) -> str:
    """The engine file's name: the case, its typing and a short hash of the builder options, so engines
    built with other options (``--opt-level 3`` and ``5``) are kept side by side, each cached."""
    options = hashlib.sha256(json.dumps(builder, sort_keys=True).encode()).hexdigest()[:8]
    return f"{stem}.{precision}.b{batch}.{typing}.{options}.plan"


def tensorrt_major(trt) -> int:
    """The major version of an imported tensorrt module."""
    return int(str(trt.__version__).split(".")[0])


def resolve_typing(major: int, requested: str, precision: str) -> str:
    """'strong' or 'weak': what this TensorRT can do for ``precision`` given the user's choice."""
    if requested not in ("auto", "strong", "weak"):
        raise TrtbenchError(f"unknown typing '{requested}': choose auto, strong or weak")
    if major >= 11:
        if requested == "weak":
            raise TrtbenchError(f"TensorRT {major} builds strongly typed networks only: drop --typing weak")
        return "strong"
    return "weak" if requested == "auto" else requested


def fp16_build(typing: str, precision: str) -> str | None:
    """How the engine's reduced precision was asked of TensorRT, for the record (None for FP32):
    'weak: ...' (builder flags, TensorRT picks per layer) or 'strong: ...' (the graph's own types)."""
    if precision == "fp16":
        return ("weak: BuilderFlag.FP16 on the FP32 graph, TensorRT picks FP16 or FP32 per layer" if typing == "weak"
                else "strong: FP16 graph (FP32 inputs and outputs), each layer in the type the graph gives it")
    if precision == "int8":
        return ("weak: BuilderFlag.INT8 + BuilderFlag.FP16 on the FP32 Q/DQ graph, TensorRT picks FP16 or FP32 per "
                "layer outside the Q/DQ pairs" if typing == "weak"
                else "strong: Q/DQ graph with the rest in FP16 (FP32 inputs and outputs), each layer in the type "
                     "the graph gives it")
    return None


def network_graph(onnx_path: Path, precision: str, typing: str, calibration: Calibration | None) -> Path:
    """The graph TensorRT parses for ``precision`` under ``typing`` (made and cached on first use)."""
    if precision == "int8":
        return graph_for(Path(onnx_path), precision, calibration, form=INT8_FORM_BY_TYPING[typing])
    if precision == "fp16" and typing == "strong":
        return graph_for(Path(onnx_path), precision, calibration)
    return Path(onnx_path)  # FP32, and weak FP16 (the builder flag picks FP16 kernels)


@dataclass(frozen=True)
class Inspected:
    """What the engine inspector says: the data type each layer writes, in engine order.

    ``layers``: (layer name, data type, ONNX nodes it runs) per layer; ``schema``: '10.x' (``Bindings``,
    each tensor's ``Format/Datatype`` one string) or '11.x' (``I/O Tensors``, ``Format`` and the data type
    separate fields), per NVIDIA's "Migrating IEngineInspector Usage from TensorRT 10.x to 11.x".
    """

    layers: tuple[tuple[str, str, tuple[str, ...]], ...]
    schema: str

    def counts(self) -> dict[str, int]:
        """How many layers write each data type."""
        return dict(collections.Counter(kind for _, kind, _ in self.layers))


def inspect_engine(trt, engine) -> Inspected | None:
    """The engine inspector's layers and their output types (None when the plan has no detailed layer
    information, or the inspector gives none)."""
    inspector = engine.create_engine_inspector()
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON) if inspector is not None else None
    return read_engine_information(text)


def read_engine_information(text: str | None) -> Inspected | None:
    """The inspector's JSON (either major's schema) as an Inspected; None when it holds no layer details."""
    try:
        information = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(information, dict):
        return None
    layers = information.get("Layers")
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        return None  # names only: built without detailed profiling verbosity
    schema = "11.x" if "I/O Tensors" in information else "10.x"
    read = []
    for layer in layers:
        outputs = layer.get("Outputs")
        first = outputs[0] if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) else {}
        nodes = tuple(_onnx_nodes(layer.get("Metadata")))
        read.append((str(layer.get("Name", "")), tensor_datatype(first), nodes))
    return Inspected(tuple(read), schema)


def tensor_datatype(tensor: dict) -> str:
    """The data type of one tensor of an inspector layer entry, read the way its major writes it:
    10.x {"Format/Datatype": "Row major linear Int8 format"}, 11.x {"Format": ..., "Datatype": "Int8"}."""
    if "Format/Datatype" in tensor:
        return _datatype(str(tensor["Format/Datatype"]))
    # 11.x names the field "Datatype" in layer tensors and "DataType" in I/O Tensors: accept either
    for key in ("Datatype", "DataType"):
        if key in tensor:
            return _datatype(str(tensor[key]))
    return "other"


def _onnx_nodes(metadata) -> list[str]:
    """The ONNX nodes a layer runs, from its Metadata: '[ONNX Layer: NAME]' per node, joined by U+001F."""
    if not isinstance(metadata, str):
        return []
    prefix = "[ONNX Layer: "
    return [part[len(prefix):-1] for part in metadata.split("\x1f") if part.startswith(prefix) and part.endswith("]")]


def _datatype(text: str) -> str:
    """'Row major linear Int8 format' or 'Int8' -> 'int8' (the words TensorRT's inspector uses)."""
    lowered = text.lower()
    for word, kind in (("uint8", "uint8"), ("int8", "int8"), ("fp8", "fp8"), ("bfloat16", "bf16"), ("bf16", "bf16"),
                       ("fp16", "fp16"), ("half", "fp16"), ("int32", "int32"), ("int64", "int64"), ("fp32", "fp32"),
                       ("float", "fp32"), ("bool", "bool")):
        if word in lowered:
            return kind
    return "other"


@dataclass
class _InFlight:
    """One inference queued on the streams: its events and the host time its enqueue took."""

    events: list
    enqueue_ms: float = 0.0


#: the events of one inference in flight, in the order they are recorded
SLOT_EVENTS = ("input_start", "input_end", "compute_start", "compute_end", "output_start", "output_end")


class TensorRTEngine(Engine):
    """A deserialized engine with its context, buffers, streams and events.

    Timed as trtexec times (samples/common/sampleInference.cpp, IterationBase::query): host-to-device
    copies on an input stream, the enqueue on a compute stream, device-to-host copies on an output
    stream, joined by events (the compute stream waits for the input's last event, the output stream
    for the compute's), with ``inflight`` inferences queued before the host waits for the oldest. So
    the next inference's input copy runs while this one computes, the GPU never waits for the host
    between launches, and the time from one launch to the next (Python, TensorRT's enqueue prologue)
    is not counted as GPU compute. Every TensorRT call that reports failure by its return value is
    checked, and activation is all or nothing: what a failed step leaves allocated is freed by
    ``deactivate_impl``.
    """

    spans = ("compute", "h2d", "d2h", "end_to_end", "enqueue")
    # TensorRT and CUDA objects, untyped: they come from whichever bindings (or test double) are loaded
    runtime: Any
    engine: Any
    context: Any
    stream: Any
    handle: Any
    graph: Any

    def __init__(self, trt, cuda, plan: bytes, batch: int, options: EngineBuildConfig, info: dict, build_s: float):
        super().__init__(batch, info=info, build_s=build_s)
        self.trt, self.cuda, self.options = trt, cuda, options
        self.plan = plan
        self.host_clock = time.perf_counter_ns
        self.capture_error: str | None = None
        self._clear()

    def _clear(self) -> None:
        """No CUDA or TensorRT object held (before activation and after deactivation)."""
        self.graph = self.stream = self.context = self.engine = self.runtime = self.handle = None
        self.input_stream = self.output_stream = None
        self.inspected: Inspected | None = None
        self.slots: list[list] = []  # a set of SLOT_EVENTS per inference in flight
        self.pending: collections.deque[_InFlight] = collections.deque()
        self.issued = 0
        self.device_buffers: list = []
        self.host_buffers: list = []
        self.inputs: list = []
        self.outputs: list = []

    def activate_impl(self) -> None:
        trt, cuda = self.trt, self.cuda
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(self.plan)
        if self.engine is None:
            raise TrtbenchError("TensorRT could not deserialize the engine (out of memory, or a plan from another "
                                "TensorRT or GPU): delete it from engines/ to rebuild it")
        self.inspected = inspect_engine(trt, self.engine)
        self.info["layer_precisions"] = self.inspected.counts() if self.inspected is not None else None
        self.info["inspector_schema"] = self.inspected.schema if self.inspected is not None else None
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise TrtbenchError("TensorRT could not create an execution context (likely out of device memory)")
        # the compute stream; copies have streams of their own, as trtexec's
        self.stream = cuda.stream()
        self.handle = cuda.stream_handle(self.stream)
        self.input_stream = cuda.stream()
        self.output_stream = cuda.stream()
        self.slots = [[cuda.event() for _ in SLOT_EVENTS] for _ in range(self.options.inflight)]
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        for name in names:
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                shape = (self.batch, *INPUT_SHAPE)
                if not self.context.set_input_shape(name, shape):
                    raise TrtbenchError(f"TensorRT refused input shape {shape} for '{name}' (set_input_shape)")
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            host = cuda.host_array(shape, dtype)
            self.host_buffers.append(host)
            device = cuda.device_alloc(max(host.nbytes, 1))
            self.device_buffers.append(device)
            if not self.context.set_tensor_address(name, cuda.device_ptr(device)):
                raise TrtbenchError(f"TensorRT refused the device address of '{name}' (set_tensor_address)")
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append((name, host, device))
        for _, host, device in self.inputs:
            host[...] = seeded_input(self.batch)
            cuda.copy_to_device(device, host, self.stream)
        cuda.synchronize(self.stream)
        if self.options.cuda_graph:
            self._capture()

    def _execute(self) -> None:
        """One plain enqueue; TensorRT's False (enqueueV3 failed) is an error, never timed as no work."""
        if not self.context.execute_async_v3(self.handle):
            raise TrtbenchError("TensorRT could not enqueue the inference (execute_async_v3 returned False); "
                                "its log above says why")

    def _capture(self) -> None:
        """Record one enqueue as a CUDA graph; on any failure end the capture, free what it made, and
        time plain enqueues, saying so in the record."""
        cuda = self.cuda
        # One plain enqueue first: TensorRT finishes its lazy setup outside the capture.
        self._execute()
        cuda.synchronize(self.stream)
        try:
            cuda.begin_capture(self.stream)
            try:
                captured = self.context.execute_async_v3(self.handle)
            except BaseException:
                cuda.abort_capture(self.stream)
                raise
            if not captured:
                # A graph of a failed enqueue would replay nothing and time as 0 ms.
                cuda.abort_capture(self.stream)
                raise TrtbenchError("execute_async_v3 returned False while capturing")
            self.graph = cuda.end_capture(self.stream)  # frees what it captured if instantiation fails
        except Exception as exc:  # capture is an optimization: fall back, loudly
            self.graph = None
            self.capture_error = f"{type(exc).__name__}: {exc}"
            self.warnings.append(f"CUDA graph capture failed ({exc}); timed plain enqueues instead")

    def _streams(self) -> list:
        return [stream for stream in (self.input_stream, self.stream, self.output_stream) if stream is not None]

    def deactivate_impl(self) -> None:
        for stream in self._streams():
            # Work may still be queued (inferences in flight, or a step that failed half-way): let it
            # finish before its buffers go. Freeing must go on even if a stream is broken.
            with contextlib.suppress(Exception):
                self.cuda.synchronize(stream)
        events = [event for slot in self.slots for event in slot]
        self.cuda.free(self.graph, *events, *self.device_buffers, *self.host_buffers, *self._streams())
        self._clear()

    def _enqueue(self) -> None:
        if self.graph is not None:
            self.cuda.launch(self.graph, self.stream)
        else:
            self._execute()

    def _issue(self) -> None:
        """Queue one inference without waiting, as trtexec's IterationBase::query does: H2D on the input
        stream, the enqueue on the compute stream once the input's copy is done, D2H on the output
        stream once the compute is done, each between two events. Without transfers only the compute
        stream is used.

        As in trtexec, the inferences in flight share one set of device buffers, so a copy may write
        what a kernel still reads: the input is the same every time, and only the timing is kept.
        """
        cuda, compute = self.cuda, self.stream
        events = self.slots[self.issued % len(self.slots)]
        input_start, input_end, compute_start, compute_end, output_start, output_end = events
        self.issued += 1
        if self.options.data_transfers:
            cuda.record(input_start, self.input_stream)
            for _, host, device in self.inputs:
                cuda.copy_to_device(device, host, self.input_stream)
            cuda.record(input_end, self.input_stream)
            cuda.stream_wait_event(compute, input_end)
        cuda.record(compute_start, compute)
        host_start = self.host_clock()
        self._enqueue()
        enqueue_ms = (self.host_clock() - host_start) / 1e6
        cuda.record(compute_end, compute)
        if self.options.data_transfers:
            cuda.stream_wait_event(self.output_stream, compute_end)
            cuda.record(output_start, self.output_stream)
            for _, host, device in self.outputs:
                cuda.copy_to_host(host, device, self.output_stream)
            cuda.record(output_end, self.output_stream)
        self.pending.append(_InFlight(events, enqueue_ms))

    def _collect(self) -> dict[str, float]:
        """Wait for the oldest inference in flight and read its spans (reading its last event is the wait).

        end_to_end is trtexec's latency of one query: H2D + compute + D2H, each span on its own
        stream, so what the query waited for between them (the previous query's compute) is not in it.
        """
        cuda = self.cuda
        done = self.pending.popleft()
        input_start, input_end, compute_start, compute_end, output_start, output_end = done.events
        if self.options.data_transfers:
            d2h = cuda.elapsed_ms(output_start, output_end)
            h2d = cuda.elapsed_ms(input_start, input_end)
        else:
            d2h = h2d = 0.0
        compute = cuda.elapsed_ms(compute_start, compute_end)
        return {"compute": compute, "h2d": h2d, "d2h": d2h, "end_to_end": h2d + compute + d2h,
                "enqueue": done.enqueue_ms}

    def iterate_impl(self) -> dict[str, float]:
        # Keep ``inflight`` inferences queued: issue the newest, then wait for the oldest. The first
        # call fills the queue; its extra inferences are warm-up like any other.
        while len(self.pending) < len(self.slots) - 1:
            self._issue()
        self._issue()
        return self._collect()

    def timed(self, policy: TimingPolicy, progress=None) -> Timed:
        """Time as ``policy`` says with ``inflight`` inferences queued; what is still queued at the end
        is finished and not counted."""
        try:
            return super().timed(policy, progress)
        finally:
            self._drain()

    def _drain(self) -> None:
        if self.pending:
            for stream in self._streams():
                self.cuda.synchronize(stream)
            self.pending.clear()

    def infer_impl(self, data):
        cuda = self.cuda
        self._drain()
        (_, host_in, device_in), = self.inputs
        saved = host_in.copy()
        host_in[...] = data
        cuda.copy_to_device(device_in, host_in, self.stream)
        self._enqueue()
        name, host_out, device_out = self.outputs[0]
        cuda.copy_to_host(host_out, device_out, self.stream)
        cuda.synchronize(self.stream)
        result = host_out.copy()
        host_in[...] = saved
        cuda.copy_to_device(device_in, host_in, self.stream)
        cuda.synchronize(self.stream)
        return result

    def executed_precision(self) -> tuple[str | None, str]:
        """The data type most of the engine's layers output, from TensorRT's engine inspector."""
        counts = self.info.get("layer_precisions")
        if not counts:
            return None, "TensorRT's engine inspector gave no layer information"
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        return ranked[0][0], "TensorRT engine inspector, layers by output type: " + ", ".join(
            f"{count} {kind}" for kind, count in ranked)

    def check(self, timed: Timed) -> list[str]:
        compute = timed.spans["compute"].median
        enqueue = timed.spans["enqueue"].median
        if compute > 0 and enqueue > ENQUEUE_BOUND * compute:
            return [f"enqueue-bound: median enqueue {enqueue:.3f} ms > {ENQUEUE_BOUND:.0%} of median GPU compute "
                    f"{compute:.3f} ms; the host may not keep the GPU busy (try --cuda-graph)"]
        return []

    def describe(self) -> dict:
        return {
            "timer": (f"CUDA events around H2D, enqueue (execute_async_v3) and D2H on three non-default streams "
                      f"(input, compute, output) joined by events as trtexec's, {self.options.inflight} inferences "
                      "in flight (the host waits for the oldest): the next H2D overlaps this compute"
                      if self.options.data_transfers else
                      f"CUDA events around the enqueue (execute_async_v3) on one non-default stream, no copies "
                      f"timed, {self.options.inflight} inferences in flight (the host waits for the oldest)"),
            "streams": ("input (H2D), compute, output (D2H); compute waits for its input's event, output for "
                        "compute's" if self.options.data_transfers else "compute only"),
            "metric": "GPU compute time: between the compute stream's events around the enqueue, with the GPU "
                      "kept busy so host launch gaps are not counted",
            "spans": "compute; h2d; d2h (each between its stream's two events); end_to_end = h2d + compute + d2h "
                     "of one query (trtexec's latency); enqueue = host time of one execute_async_v3 (or graph "
                     "launch)",
            "throughput": "queries completed / wall time of the pipelined timed loop",
            "inflight": self.options.inflight,
            "data_transfers": self.options.data_transfers,
            "cuda_graph": self.graph is not None,
            "cuda_graph_requested": self.options.cuda_graph,
            "cuda_graph_error": self.capture_error,
            "tf32": self.options.tf32,
            "sync": "cudaEventSynchronize on the oldest inference's last event (default scheduling: spin)",
            "pinned_host_memory": True,
            "cuda_bindings": self.cuda.name,
            "tensorrt": str(self.trt.__version__),
            **{k: v for k, v in self.info.items() if k in ("typing", "fp16_build", "workspace_mib", "opt_level")},
        }


class TensorRTBackend(Backend):
    """Builds one engine per (model, precision, batch) with a static profile, cached in engines/."""

    name = "tensorrt"
    metric = "GPU compute time"
    gpu = True
    precisions = ("fp32", "fp16", "int8")
    config_class = TensorRTConfig
    packages = ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "cuda-python", "nvidia-ml-py")
    extra = "tensorrt"
    config: TensorRTConfig

    def __init__(self, config: TensorRTConfig | None = None, calibration: Calibration | None = None,
                 trt=None, cuda=None):
        super().__init__(config, calibration)
        self._trt, self._cuda = trt, cuda

    @property
    def trt(self):
        if self._trt is None:
            self._trt = lazy.import_optional("tensorrt", "tensorrt", "tensorrt")
        return self._trt

    @property
    def cuda(self):
        if self._cuda is None:
            from trtbench.measure.cuda import load_cuda

            self._cuda = load_cuda(self.config.cuda)
        return self._cuda

    @classmethod
    def checks(cls) -> list[Check]:
        """TensorRT and the CUDA bindings: installed, and loadable (the libraries are separate wheels)."""
        from trtbench.envinfo import package_version

        result = []
        bindings = package_version("tensorrt") or package_version("tensorrt-cu12-bindings") \
            or package_version("tensorrt-cu13-bindings")
        loaded = ""
        if bindings:
            try:
                import tensorrt

                loaded = tensorrt.__version__
            except Exception as exc:  # the bindings import fails without libnvinfer
                result.append(Check("tensorrt libraries", "", "tensorrt backend",
                                    f"the bindings {bindings} are installed but do not load ({type(exc).__name__}): "
                                    + INSTALL_FIX))
        result.insert(0, Check("tensorrt", loaded, "tensorrt backend",
                               "" if loaded else INSTALL_FIX))
        cuda = package_version("cuda-python") or package_version("cuda-bindings")
        pycuda = package_version("pycuda")
        found = ", ".join(f"{n} {v}" for n, v in (("cuda-python", cuda), ("pycuda", pycuda)) if v)
        result.append(Check("CUDA bindings", found, "tensorrt backend (buffers, events)",
                            "" if found else f"{INSTALL_FIX} (or 'trtbench[pycuda]')"))
        version = package_version("nvidia-ml-py")
        result.append(Check("nvidia-ml-py", version or "", "GPU clocks/power in records",
                            "" if version else "pip install nvidia-ml-py (in both TensorRT extras)"))
        return result

    def availability_impl(self) -> Availability:
        fix = INSTALL_FIX
        try:
            trt = self.trt
        except MissingDependency:
            return Availability(False, "the tensorrt Python package is not installed", fix)
        except Exception as exc:  # the bindings import but cannot load libnvinfer
            return Availability(False, f"TensorRT does not load ({type(exc).__name__}: {exc})", fix)
        try:
            props = self.cuda.device_properties()
        except MissingDependency as exc:
            return Availability(False, str(exc), fix)
        except Exception as exc:  # no driver, no device
            return Availability(False, f"no usable NVIDIA GPU ({type(exc).__name__}: {exc})",
                                "run on a machine with an NVIDIA GPU and driver")
        return Availability(True, f"TensorRT {trt.__version__} on {props['name']} "
                                  f"(compute capability {props['compute_capability']})")

    def device(self) -> str:
        return self.cuda.device_properties()["name"]

    def gpu_pci_bus_id(self) -> str | None:
        return self.cuda.device_properties()["pci_bus_id"]

    # --- build and cache ----------------------------------------------------------------------

    def _device_key(self) -> dict:
        """What makes an engine or a timing cache specific to this TensorRT and GPU: the SM count too, as
        TensorRT tunes for the SMs it sees and a MIG slice carries its full GPU's name."""
        props = self.cuda.device_properties()
        return {"tensorrt": str(self.trt.__version__), "gpu": props["name"],
                "compute_capability": props["compute_capability"], "multiprocessors": props["multiprocessor_count"]}

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        """The export, and the graph the network is parsed from (this TensorRT's typing; where TensorRT
        does not load here, the graph of each typing)."""
        try:
            major = tensorrt_major(self.trt)
        except Exception:  # no TensorRT on this machine: a cluster's nodes may have either major
            typings = ["weak", "strong"] if self.config.typing == "auto" else [self.config.typing]
        else:
            typings = [resolve_typing(major, self.config.typing, precision)]
        graphs = [network_graph(Path(onnx_path), precision, typing, self.calibration) for typing in typings]
        return list(dict.fromkeys([Path(onnx_path), *graphs]))

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        trt, options = self.trt, self.config
        typing = resolve_typing(tensorrt_major(trt), options.typing, precision)
        # Strongly typed networks take their precision from the graph; weak ones from builder flags.
        graph = network_graph(Path(onnx_path), precision, typing, self.calibration)
        builder = {**options.builder(), "profiling_verbosity": "detailed"}
        key = {**self._device_key(), "onnx_sha256": source_sha256(graph), "precision": precision,
               "batch": batch, "typing": typing, "builder": builder}
        cache_dir = Path(cache_dir)
        plan_path = cache_dir / plan_name(Path(onnx_path).stem, precision, batch, typing, builder)
        started = time.perf_counter()

        def make(tmp: Path) -> dict:
            notes: list[str] = []
            tmp.write_bytes(self._build_plan(graph, precision, batch, typing, cache_dir, notes))
            return {"build_s": round(time.perf_counter() - started, 3), "notes": notes}

        made = artifacts.ensure(plan_path, ENGINE_KIND, key, make, labels=ENGINE_KEY_LABELS)
        reason = made.reason
        # TensorRT gets the very bytes whose sha256 was checked: the file is read once, never reopened
        plan = artifacts.read_matching(made.path, made.sha256)
        if plan is None:
            made = artifacts.ensure(plan_path, ENGINE_KIND, key, make, force=True, labels=ENGINE_KEY_LABELS)
            reason = f"{plan_path.name} changed after it was checked (rewritten, replaced or not a regular file)"
            plan = artifacts.read_matching(made.path, made.sha256)
            if plan is None:
                raise TrtbenchError(f"{plan_path} changed again as soon as it was rebuilt: stop whatever else "
                                    f"writes in {cache_dir}, or choose another --engines-dir")
        info = {"typing": typing, "fp16_build": fp16_build(typing, precision),
                "workspace_mib": options.workspace_mib, "opt_level": options.opt_level,
                "plan": str(plan_path), "graph": str(graph), "cached": not made.made,
                "rebuild_reason": reason or None, "engine_build_s": made.info.get("build_s"),
                "engine_sha256": made.sha256}
        engine = TensorRTEngine(trt, self.cuda, plan, batch, options, info, build_s=time.perf_counter() - started)
        if made.made and not reason.startswith("no cached"):
            engine.warnings.append(f"engine rebuilt: {reason}")
        if made.made:
            engine.warnings.extend(made.info.get("notes", []))
        return engine

    def _build_plan(self, graph: Path, precision: str, batch: int, typing: str, cache_dir: Path,
                    notes: list[str]) -> bytes:
        """A serialized engine; ``notes`` gets what the user should know about the build."""
        trt, options = self.trt, self.config
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = 0
        if typing == "strong":
            flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(graph)):
            errors = [parser.get_error(i) for i in range(parser.num_errors)]
            where = "; ".join(f"node '{e.node_name()}' ({e.node_operator()}): {e.desc()}" for e in errors[:3])
            raise TrtbenchError(f"TensorRT could not parse {graph.name}: {where or 'no detail from the parser'}")
        config = builder.create_builder_config()
        if options.workspace_mib is not None:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib * 2**20)
        config.builder_optimization_level = options.opt_level
        if typing == "weak" and precision in ("fp16", "int8"):
            # FP16 beside INT8 too: the layers outside the Q/DQ pairs may then run in FP16
            config.set_flag(trt.BuilderFlag.FP16)
        if typing == "weak" and precision == "int8":
            # a weakly typed network runs its Q/DQ pairs in INT8 only with the flag set
            config.set_flag(trt.BuilderFlag.INT8)
        if not options.tf32:
            # TensorRT allows TF32 by default on Ampere and later: an "fp32" engine would not be FP32.
            config.clear_flag(trt.BuilderFlag.TF32)
        # Detailed layer information lets the engine inspector say which precision each layer runs in.
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        profile = builder.create_optimization_profile()
        shape = (batch, *INPUT_SHAPE)
        profile.set_shape(network.get_input(0).name, shape, shape, shape)
        config.add_optimization_profile(profile)
        cache_file = Path(cache_dir) / TIMING_CACHE
        device_key = self._device_key()
        if options.timing_cache:
            self._use_timing_cache(config, cache_file, device_key, notes)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise TrtbenchError(f"TensorRT failed to build {graph.name} at batch {batch} ({precision}); "
                                "its log above says why")
        if options.timing_cache:
            cache = config.get_timing_cache()
            if cache is None:
                notes.append(f"TensorRT returned no timing cache after the build: {cache_file} was not updated")
            else:
                artifacts.store(cache_file, TIMING_CACHE_KIND, device_key, bytes(cache.serialize()))
        return bytes(plan)

    def _use_timing_cache(self, config, cache_file: Path, device_key: dict, notes: list[str]) -> None:
        """Give the builder the shared timing cache; one it refuses is replaced by an empty one."""
        # A cache made by another TensorRT or GPU is not offered: it would be refused.
        found = artifacts.valid(cache_file, TIMING_CACHE_KIND)
        blob = b""
        if found is not None and found.key == device_key:
            matching = artifacts.read_matching(cache_file, found.sha256)
            if matching is None:
                notes.append(f"the timing cache {cache_file} changed after it was checked: started an empty one, "
                             "which replaces it after this build")
            blob = matching or b""
        cache = config.create_timing_cache(blob)
        if cache is not None and config.set_timing_cache(cache, False):
            return
        notes.append(f"TensorRT refused the timing cache {cache_file} (made elsewhere or damaged): "
                     "started an empty one, which replaces it after this build")
        empty = config.create_timing_cache(b"")
        if empty is None or not config.set_timing_cache(empty, False):
            raise TrtbenchError("TensorRT refused an empty timing cache; run with --no-timing-cache")
