"""A TensorRT engine deserialized and run: its context, buffers, streams and events, timed with CUDA
events as trtexec times; and what TensorRT's engine inspector says each layer runs in (10.x and 11.x
schemas). ``trtbench.backends.tensorrt`` builds the plans this runs (as Polygraphy splits its loaders
from its runners)."""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trtbench.backends.base import Concurrent, Engine
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, seeded_input
from trtbench.measure.timing import Timed, TimingPolicy

if TYPE_CHECKING:
    from trtbench.backends.tensorrt import EngineBuildConfig
    from trtbench.measure.profile import LayerProfile

ENQUEUE_BOUND = 0.8  # median enqueue / median compute above which the host limits the GPU (trtexec's rule)
#: the most execution contexts one engine serves requests with at once
MAX_REQUESTS = 64


@dataclass(frozen=True)
class Inspected:
    """What the engine inspector says: the data type each layer writes, in engine order.

    ``layers``: (layer name, data type, ONNX nodes it runs) per layer; ``schema``: '10.x' (``Bindings``,
    each tensor's ``Format/Datatype`` one string) or '11.x' (``I/O Tensors``, ``Format`` and the data type
    separate fields), per NVIDIA's "Migrating IEngineInspector Usage from TensorRT 10.x to 11.x";
    ``layer_types``: each layer's LayerType (CaskConvolution, Reformat, Myelin...), "" where not given.
    """

    layers: tuple[tuple[str, str, tuple[str, ...]], ...]
    schema: str
    layer_types: tuple[str, ...] = ()

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
    read, types = [], []
    for layer in layers:
        outputs = layer.get("Outputs")
        first = outputs[0] if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) else {}
        nodes = tuple(_onnx_nodes(layer.get("Metadata")))
        read.append((str(layer.get("Name", "")), tensor_datatype(first), nodes))
        kind = layer.get("LayerType")
        types.append(kind if isinstance(kind, str) else "")
    return Inspected(tuple(read), schema, tuple(types))


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


def layer_timer(trt):
    """A TensorRT profiler (an IProfiler) that keeps the layer times reported since it was last emptied."""

    class LayerTimes(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)  # pybind11 refuses a subclass whose base was not initialized
            self.reported: dict[str, float] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            # never raise here: TensorRT calls this from C++ and cannot pass an exception on
            self.reported[layer_name] = self.reported.get(layer_name, 0.0) + float(ms)

        def take(self) -> dict[str, float]:
            """The times reported since the last call, by layer, in the order reported."""
            reported, self.reported = self.reported, {}
            return reported

    return LayerTimes()


@dataclass
class _InFlight:
    """One inference queued on the streams: its events and the host time its enqueue took."""

    events: list
    enqueue_ms: float = 0.0


@dataclass
class _Request:
    """One request served alongside others: an execution context of the engine with its own stream and buffers."""

    context: Any = None
    stream: Any = None
    handle: Any = None
    device_buffers: list = field(default_factory=list)
    host_buffers: list = field(default_factory=list)
    #: (name, host, device) of each input and each output
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


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
        self.memory: dict = {}  # read once the plan is deserialized: facts of the plan, kept after deactivation
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
        # load_s: the runtime, the deserialization and the context, as trtexec's "Engine deserialized in" times
        # the first two; the inspector read between them is not counted
        started = self.host_clock()
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(self.plan)
        deserialized = self.host_clock()
        if self.engine is None:
            raise TrtbenchError("TensorRT could not deserialize the engine (out of memory, or a plan from another "
                                "TensorRT or GPU): delete it from engines/ to rebuild it")
        self.memory = self._read_memory()
        self.inspected = inspect_engine(trt, self.engine)
        self.info["layer_precisions"] = self.inspected.counts() if self.inspected is not None else None
        self.info["inspector_schema"] = self.inspected.schema if self.inspected is not None else None
        making = self.host_clock()
        self.context = self.engine.create_execution_context()
        made = self.host_clock()
        if self.context is None:
            raise TrtbenchError("TensorRT could not create an execution context (likely out of device memory)")
        self.load_s = (deserialized - started + made - making) / 1e9
        # the compute stream; copies have streams of their own, as trtexec's
        self.stream = cuda.stream()
        self.handle = cuda.stream_handle(self.stream)
        self.input_stream = cuda.stream()
        self.output_stream = cuda.stream()
        self.slots = [[cuda.event() for _ in SLOT_EVENTS] for _ in range(self.options.inflight)]
        self.inputs, self.outputs = self._bind(self.context, self.stream, self.host_buffers, self.device_buffers)
        if self.options.cuda_graph:
            self._capture()

    def _read_memory(self) -> dict:
        """What the deserialized engine says it holds, in bytes: see memory_facts."""
        trt, engine = self.trt, self.engine
        facts = {"plan_bytes": len(self.plan),
                 "device_memory_bytes": int(engine.device_memory_size_v2),
                 "profile_device_memory_bytes": int(engine.get_device_memory_size_for_profile_v2(0))}
        if hasattr(trt, "EngineStat"):  # 10.14 and later
            facts["weights_bytes"] = int(engine.get_engine_stat(trt.EngineStat.TOTAL_WEIGHTS_SIZE))
        return facts

    def memory_facts(self) -> dict:
        """What TensorRT says the engine holds, in bytes: ``plan_bytes`` (the serialized plan),
        ``device_memory_bytes`` (``device_memory_size_v2``: what a context needs for activations and scratch,
        over every profile), ``profile_device_memory_bytes`` (the same for the one profile trtbench builds) and,
        where TensorRT has ``EngineStat`` (10.14 and later), ``weights_bytes`` (``TOTAL_WEIGHTS_SIZE``); a fact
        the TensorRT in use does not give is left out. Known once the engine was activated."""
        return dict(self.memory)

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

    @contextlib.contextmanager
    def concurrent(self, requests: int) -> Iterator[Concurrent]:
        """``requests`` execution contexts of this engine (its weights shared), each with a stream and device
        buffers of its own and the timing input copied in; a runner enqueues on its stream (its copies too where
        data transfers are timed) and waits for that stream. Plain enqueues: no CUDA graph is captured."""
        self._require_active()
        if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= MAX_REQUESTS:
            raise TrtbenchError(f"{requests!r} concurrent requests: give 1 to {MAX_REQUESTS} execution contexts")
        self._drain()
        made: list[_Request] = []
        serving = Concurrent([])
        try:
            for _ in range(requests):
                made.append(_Request())
                self._prepare(made[-1])
            copies = " between its H2D and D2H copies" if self.options.data_transfers else ""
            serving.facts = {"requests": requests, "streams": requests, "threads_per_stream": 1,
                             "how": f"{requests} TensorRT execution contexts of one engine (weights shared), each "
                                    f"enqueuing (execute_async_v3) on a CUDA stream of its own{copies} and waiting "
                                    "for that stream, one host thread each; plain enqueues, no CUDA graph"}
            serving.runners += [functools.partial(self._run_request, request) for request in made]
            yield serving
        finally:
            serving.runners.clear()  # what the caller holds no longer reaches the contexts
            for request in made:
                if request.stream is not None:
                    with contextlib.suppress(Exception):  # freeing goes on even if a stream is broken
                        self.cuda.synchronize(request.stream)
            self.cuda.free(*(buffer for request in made for buffer in request.device_buffers),
                           *(buffer for request in made for buffer in request.host_buffers),
                           *(request.stream for request in made if request.stream is not None))
            for request in made:
                request.context = None

    def _prepare(self, request: _Request) -> None:
        """Give ``request`` an execution context, a stream and buffers, the timing input copied in; what a failed
        step leaves made is in ``request``, for the caller to free."""
        cuda = self.cuda
        request.context = self.engine.create_execution_context()
        if request.context is None:
            raise TrtbenchError("TensorRT could not create another execution context (likely out of device memory): "
                                "ask for fewer concurrent requests")
        request.stream = cuda.stream()
        request.handle = cuda.stream_handle(request.stream)
        request.inputs, request.outputs = self._bind(request.context, request.stream, request.host_buffers,
                                                     request.device_buffers)

    def _bind(self, context, stream, host_buffers: list, device_buffers: list) -> tuple[list, list]:
        """Set ``context``'s input shapes and give each of its tensors a pinned host buffer and a device buffer
        (appended to ``host_buffers`` and ``device_buffers`` as they are made, so that the caller frees them after
        a failed step too), the timing input copied in on ``stream``: the (name, host, device) of its inputs and
        of its outputs."""
        trt, cuda = self.trt, self.cuda
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        for name in names:
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                shape = (self.batch, *INPUT_SHAPE)
                if not context.set_input_shape(name, shape):
                    raise TrtbenchError(f"TensorRT refused input shape {shape} for '{name}' (set_input_shape)")
        inputs: list = []
        outputs: list = []
        for name in names:
            shape = tuple(context.get_tensor_shape(name))
            host = cuda.host_array(shape, trt.nptype(self.engine.get_tensor_dtype(name)))
            host_buffers.append(host)
            device = cuda.device_alloc(max(host.nbytes, 1))
            device_buffers.append(device)
            if not context.set_tensor_address(name, cuda.device_ptr(device)):
                raise TrtbenchError(f"TensorRT refused the device address of '{name}' (set_tensor_address)")
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (inputs if is_input else outputs).append((name, host, device))
        for _, host, device in inputs:
            host[...] = seeded_input(self.batch)
            cuda.copy_to_device(device, host, stream)
        cuda.synchronize(stream)
        return inputs, outputs

    def _run_request(self, request: _Request) -> None:
        """One inference on ``request``'s context and stream, finished when it returns."""
        cuda = self.cuda
        if self.options.data_transfers:
            for _, host, device in request.inputs:
                cuda.copy_to_device(device, host, request.stream)
        if not request.context.execute_async_v3(request.handle):
            raise TrtbenchError("TensorRT could not enqueue the inference (execute_async_v3 returned False); "
                                "its log above says why")
        if self.options.data_transfers:
            for _, host, device in request.outputs:
                cuda.copy_to_host(host, device, request.stream)
        cuda.synchronize(request.stream)

    def profile_layers(self, iterations: int) -> LayerProfile:
        """TensorRT's profiler on this engine's context, as trtexec's profile run: ``iterations`` plain enqueues
        (never the CUDA graph timed), each one's layer times reported once it has finished, after one left
        out as warm-up. The context is given back as the timing had it."""
        from trtbench.backends.tensorrt_profile import graph_order, profile_of_runs

        self._require_active()
        if iterations < 1:
            raise TrtbenchError(f"profiling needs at least 1 iteration, not {iterations}")
        self._drain()
        context = self.context
        times = layer_timer(self.trt)
        before = context.profiler, context.enqueue_emits_profile
        context.profiler = times
        # as trtexec: the enqueue only records the layers' events; report_to_profiler reads them
        context.enqueue_emits_profile = False
        runs = []
        try:
            for index in range(iterations + 1):
                self._execute()
                self.cuda.synchronize(self.stream)
                if not context.report_to_profiler():
                    raise TrtbenchError("TensorRT reported no layer times (report_to_profiler returned False); "
                                        "its log above says why")
                run = times.take()
                if index:
                    runs.append(run)
        finally:
            context.enqueue_emits_profile = before[1]
            context.profiler = before[0]
        return profile_of_runs(runs, self.inspected, graph_order(self.info.get("graph")))

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
            "load": "the host clock around the runtime and deserialize_cuda_engine, and around "
                    "create_execution_context",
            "cuda_bindings": self.cuda.name,
            "tensorrt": str(self.trt.__version__),
            **{k: v for k, v in self.info.items() if k in ("typing", "fp16_build", "workspace_mib", "opt_level")},
        }
