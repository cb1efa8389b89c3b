"""OpenVINO on the CPU: FP32, BF16 and FP16 by its inference-precision hint on the FP32 export, INT8
from the same explicit Q/DQ graph TensorRT runs (OpenVINO turns Q/DQ pairs into FakeQuantize and
runs the quantized convolutions on int8 kernels).

Compiled models are trtbench artifacts (``engines/openvino/NAME.PRECISION.bBATCH.tTHREADS.blob``,
``CompiledModel.export_model``), not OpenVINO's own CACHE_DIR: OpenVINO's cache key leaves out the
precision hint (an f16 compile loads the f32 blob made before it), and OpenVINO opens whatever its
folder holds. The key here names everything that changes the blob (graph sha256, batch, precision
hint, threads, performance hint, OpenVINO version, CPU), and the bytes handed to
``Core.import_model`` are the ones whose sha256 was checked.

FP16 and BF16 are offered only where a probe compile of one convolution on this CPU read back the
precision asked for (``cpu.probed``: once per machine, cached).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, Concurrent, CpuConfig, Engine, checked_requests
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, seeded_input
from trtbench.graphs.precision import graph_for
from trtbench.measure import cpu
from trtbench.measure.profile import Layer, LayerProfile
from trtbench.store import artifacts

CACHE_SUBDIR = "openvino"  # under the session's engines/ folder
COMPILED_KIND = "openvino compiled model"
#: the settings every engine is compiled with besides threads and the precision hint
PERFORMANCE_HINT = "LATENCY"
#: the hint a second compile of the same model serves concurrent requests with (OpenVINO picks its streams)
THROUGHPUT_HINT = "THROUGHPUT"
#: OpenVINO's INFERENCE_PRECISION_HINT per trtbench precision; INT8 keeps OpenVINO's default, so the
#: layers left unquantized run in the best precision the CPU has (bf16 where it has BF16 instructions)
PRECISION_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
#: OpenVINO's runtime precisions in trtbench's words
RUNTIME_PRECISIONS = {"f32": "fp32", "f16": "fp16", "bf16": "bf16", "i8": "int8", "u8": "int8"}
# Nodes of the runtime model that compute nothing: inputs, outputs and weights
_NOT_COMPUTE_TYPES = {"Parameter", "Result", "Constant"}
_NOT_COMPUTE_LAYERS = {"Input", "Output", "Const"}


@dataclass(frozen=True)
class OpenVinoConfig(CpuConfig):
    """OpenVINO's options: only the thread count every CPU backend shares."""


def runtime_precisions(runtime_model: Any) -> dict[str, collections.Counter]:
    """Per layer type of a compiled model's runtime model, how many ops run in each precision
    (OpenVINO's names: f32, bf16, f16, i8, u8), leaving out inputs, outputs and constants."""
    found: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for op in runtime_model.get_ordered_ops():
        if op.get_type_name() in _NOT_COMPUTE_TYPES:
            continue
        rt_info = op.get_rt_info()
        if "runtimePrecision" not in rt_info:
            continue
        layer = rt_info["layerType"].astype(str) if "layerType" in rt_info else op.get_type_name()
        if layer in _NOT_COMPUTE_LAYERS:
            continue
        found[layer][rt_info["runtimePrecision"].astype(str)] += 1
    return dict(found)


def executed_from(counts: dict[str, collections.Counter]) -> tuple[str | None, str]:
    """The precision most convolutions run in (most ops of any kind where there is no convolution),
    in trtbench's words, and the evidence."""
    layer = "Convolution" if counts.get("Convolution") else "all"
    tally: collections.Counter = counts["Convolution"] if layer == "Convolution" else sum(
        counts.values(), collections.Counter())
    if not tally:
        return None, "OpenVINO runtime model: no op reports a runtime precision"
    precision, count = tally.most_common(1)[0]
    what = "Convolution ops" if layer == "Convolution" else "ops"
    evidence = f"OpenVINO runtime model: {count} of {sum(tally.values())} {what} in {precision}"
    others = sum(counts.values(), collections.Counter()) - tally
    if others:
        evidence += " (other ops: " + ", ".join(f"{n} {p}" for p, n in others.most_common()) + ")"
    return RUNTIME_PRECISIONS.get(precision), evidence


class OpenVinoEngine(Engine):
    """A compiled model and one infer request whose input tensor is filled once, so the timed loop
    only runs the request."""

    spans = ("latency",)
    request: Any = None
    input_tensor: Any = None

    def __init__(self, compiled: Any, batch: int, build_s: float, info: dict, graph: Path,
                 settings: dict[str, Any]):
        super().__init__(batch, info=info, build_s=build_s)
        self.compiled = compiled
        # what it was compiled from and with: a profiled copy is compiled the same way (plus PERF_COUNT)
        self.graph = graph
        self.settings = dict(settings)

    def activate_impl(self) -> None:
        self.request = self.compiled.create_infer_request()
        # The request's own tensor, written in place: no copy or rebinding per inference
        self.input_tensor = self.request.get_input_tensor()
        self.input_tensor.data[...] = seeded_input(self.batch)

    def deactivate_impl(self) -> None:
        self.request = self.input_tensor = None

    def iterate_impl(self) -> dict[str, float]:
        # infer() is synchronous: it returns once the outputs are written. share_outputs returns views
        # of the request's output tensor instead of copying them on every timed iteration.
        start = time.perf_counter_ns()
        self.request.infer(share_outputs=True)
        return {"latency": (time.perf_counter_ns() - start) / 1e6}

    def infer_impl(self, data: np.ndarray) -> np.ndarray:
        self.input_tensor.data[...] = data
        self.request.infer(share_outputs=True)
        result = np.array(self.request.get_output_tensor().data, dtype=np.float32, copy=True)
        self.input_tensor.data[...] = seeded_input(self.batch)
        return result

    def describe(self) -> dict:
        compiled = self.compiled
        return {
            "timer": "time.perf_counter_ns around InferRequest.infer (synchronous)",
            "data_transfers": False,
            "data_transfers_note": "input written once into the request's tensor",
            "threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
            "performance_hint": str(compiled.get_property("PERFORMANCE_HINT")),
            "inference_precision_hint": _type_name(compiled.get_property("INFERENCE_PRECISION_HINT")),
            "streams": int(compiled.get_property("NUM_STREAMS")),
            "openvino": _openvino_version(),
        }

    @contextlib.contextmanager
    def concurrent(self, requests: int) -> Iterator[Concurrent]:
        """``requests`` infer requests of the model compiled again with the THROUGHPUT hint for that many
        requests (OpenVINO splits the same threads into streams), each with the timing input written in."""
        import openvino as ov

        self._require_active()
        checked_requests(requests)
        settings = {**self.settings, "PERFORMANCE_HINT": THROUGHPUT_HINT, "PERFORMANCE_HINT_NUM_REQUESTS": requests}
        core = ov.Core()
        try:
            # compiled from the graph, never through a cache: OpenVINO's cache key leaves out the hints
            model = core.read_model(str(self.graph))
            model.reshape({model.input(0): ov.PartialShape([self.batch, *INPUT_SHAPE])})
            compiled = core.compile_model(model, "CPU", settings)
        except RuntimeError as exc:  # the graph changed on disk since the engine was built from it
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrtbenchError(f"OpenVINO cannot compile {self.graph} for throughput: {first}") from exc
        executed, _ = executed_from(runtime_precisions(compiled.get_runtime_model()))
        timed, _ = executed_from(runtime_precisions(self.compiled.get_runtime_model()))
        if executed != timed:
            raise TrtbenchError(f"OpenVINO compiled for throughput runs {executed or 'an unknown precision'} where "
                                f"the engine runs {timed or 'an unknown precision'}: its numbers would not be "
                                "this precision's")
        infer_requests = []
        for _ in range(requests):
            request = compiled.create_infer_request()
            request.get_input_tensor().data[...] = seeded_input(self.batch)
            infer_requests.append(request)
        streams = int(compiled.get_property("NUM_STREAMS"))
        threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        optimal = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        facts = {"requests": requests, "streams": streams, "threads_per_stream": max(1, threads // max(1, streams)),
                 "how": f"OpenVINO infer requests of the model compiled with PERFORMANCE_HINT THROUGHPUT and "
                        f"PERFORMANCE_HINT_NUM_REQUESTS {requests}, each called from a thread of its own; "
                        f"NUM_STREAMS {streams}, INFERENCE_NUM_THREADS {threads}, OPTIMAL_NUMBER_OF_INFER_REQUESTS "
                        f"{optimal}"}
        # infer() releases the GIL while the request runs, so requests called from threads run at once
        serving = Concurrent([functools.partial(request.infer, share_outputs=True) for request in infer_requests],
                             facts)
        infer_requests.clear()
        try:
            yield serving
        finally:
            serving.runners.clear()  # the requests and their compiled model go with the last reference

    def executed_precision(self) -> tuple[str | None, str]:
        """What most convolutions of the compiled model run in, as OpenVINO's runtime model says."""
        counts = runtime_precisions(self.compiled.get_runtime_model())
        self.info["runtime_precisions"] = {layer: dict(tally) for layer, tally in sorted(counts.items())}
        return executed_from(counts)

    def profile_layers(self, iterations: int) -> LayerProfile:
        """OpenVINO's performance counters over ``iterations`` inferences of a copy compiled with the
        engine's settings plus PERF_COUNT (the engine's own compiled model and request stay as they are)."""
        import openvino as ov

        self._require_active()
        if iterations < 1:
            raise TrtbenchError(f"per-layer profiles need at least one iteration, not {iterations}")
        graph = onnx_nodes(self.graph)
        core = ov.Core()
        try:
            model = core.read_model(str(self.graph))
            model.reshape({model.input(0): ov.PartialShape([self.batch, *INPUT_SHAPE])})
            read = {op.get_friendly_name() for op in model.get_ordered_ops()}
            compiled = core.compile_model(model, "CPU", {**self.settings, "PERF_COUNT": True})
        except RuntimeError as exc:  # the graph changed on disk since the engine was built from it
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrtbenchError(f"OpenVINO cannot compile {self.graph} again to profile it: {first}") from exc
        request = compiled.create_infer_request()
        request.get_input_tensor().data[...] = seeded_input(self.batch)
        # The first inference also does one-time work (constant reorders), which the timed loop never
        # sees after its warm-up: it is left out here too.
        request.infer(share_outputs=True)
        runs = []
        for _ in range(iterations):
            request.infer(share_outputs=True)
            runs.append([ExecutedNode(info.node_name, info.node_type, info.exec_type,
                                      info.real_time.total_seconds() * 1e3)
                         for info in request.get_profiling_info() if info.status == info.Status.EXECUTED])
        return profile_from(runs, runtime_layers(compiled.get_runtime_model()), graph, read)


@dataclass(frozen=True)
class ExecutedNode:
    """One executed node of one profiled inference, as OpenVINO's ProfilingInfo says."""

    name: str
    kind: str  # node_type: Convolution, Reorder, Pooling...
    exec_type: str  # the kernel: brgconv_avx512_amx_bf16, jit_avx512_f32...
    ms: float


@dataclass(frozen=True)
class OnnxNode:
    """What the profile needs of an ONNX node: its name, and the tensors it reads and writes."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def runtime_layers(runtime_model: Any) -> dict[str, dict[str, str]]:
    """Each op of a compiled model's runtime model by name: its rt_info as strings (originalLayersNames,
    layerType, runtimePrecision, ...)."""
    found: dict[str, dict[str, str]] = {}
    for op in runtime_model.get_ordered_ops():
        rt_info = op.get_rt_info()
        found[op.get_friendly_name()] = {key: rt_info[key].astype(str) for key in rt_info}
    return found


def onnx_nodes(graph: Path) -> list[OnnxNode]:
    """The nodes of the ONNX graph at ``graph`` (weights not loaded)."""
    import onnx

    try:
        model = onnx.load(str(graph), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends for damaged files
        raise TrtbenchError(f"cannot read the ONNX graph {graph} to map OpenVINO's layers: {exc}") from exc
    return [OnnxNode(node.name, tuple(node.input), tuple(node.output)) for node in model.graph.node]


def profile_from(runs: list[list[ExecutedNode]], runtime: dict[str, dict[str, str]], graph: list[OnnxNode],
                 read: set[str]) -> LayerProfile:
    """The per-layer profile of profiled inferences (``runs``: each one's executed nodes), each layer
    tied to the ONNX nodes it covers through the runtime model's originalLayersNames.

    The ONNX frontend names each OpenVINO node after its ONNX node (some after their output tensor). Some
    fusions drop a name: a convolution with the batch norm's multiply folded into its weights is called
    Multiply_N and names the batch norm but not the convolution; an Identity or a flatten before a
    MatMul leaves no name behind. So an ONNX node no layer names, whose outputs are read only by one
    layer's nodes, is given to that layer: OpenVINO folded it in.

    Work OpenVINO added is a layer that names nothing (a Reorder), or only nodes it made while compiling
    (not in ``read``, the model as read from the graph: a Convert to f16 and back) and covers no ONNX node.
    """
    by_name = {node.name: node.name for node in graph if node.name}
    by_output = {output: node.name for node in graph if node.name for output in node.outputs}
    order: dict[str, ExecutedNode] = {}
    for run in runs:
        for executed in run:
            order.setdefault(executed.name, executed)
    covered: dict[str, list[str]] = {}
    originals: dict[str, list[str]] = {}
    for name in order:
        names = [part for part in runtime.get(name, {}).get("originalLayersNames", "").split(",") if part]
        originals[name] = names
        resolved = [by_name.get(part) or by_output.get(part) for part in names]
        covered[name] = list(dict.fromkeys(node for node in resolved if node))
    _give_folded_nodes(covered, graph)
    per_run: list[dict[str, float]] = [collections.defaultdict(float) for _ in runs]
    for spent, run in zip(per_run, runs, strict=True):
        for executed in run:
            spent[executed.name] += executed.ms
    notes = []
    layers = []
    for name, first in order.items():
        # 0 ms in an inference where the node did not run
        times = [spent.get(name, 0.0) for spent in per_run]
        nodes = tuple(covered[name])
        inserted = not nodes and not read.intersection(originals[name])
        if not nodes and not inserted:
            notes.append(f"{name} ({first.kind}): OpenVINO names {', '.join(originals[name])}, no node of the "
                         "ONNX graph and none folded into it")
        rt_info = runtime.get(name, {})
        layers.append(Layer(name, rt_info.get("layerType") or first.kind, _median(times),
                            layer_precision(rt_info.get("runtimePrecision"), first.exec_type), nodes, inserted))
    claimed = {node for layer in layers for node in layer.nodes}
    missing = [node.name for node in graph if node.name and node.name not in claimed]
    if missing:
        notes.append(f"{len(missing)} ONNX nodes are in no executed layer (folded into constants, run as no-ops "
                     f"or read by several layers): {', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}")
    total = _median([sum(node.ms for node in run) for run in runs])
    return LayerProfile("OpenVINO performance counters", len(runs), layers, total, notes)


def _give_folded_nodes(covered: dict[str, list[str]], graph: list[OnnxNode]) -> None:
    """Give each ONNX node no layer names, whose outputs are all read by one layer's nodes, to that layer
    (repeated, so a chain folded into one layer is given whole)."""
    owner = {node: layer for layer, nodes in covered.items() for node in nodes}
    readers: dict[str, list[str]] = collections.defaultdict(list)
    for node in graph:
        for tensor in node.inputs:
            readers[tensor].append(node.name)
    changed = True
    while changed:
        changed = False
        for node in graph:
            if not node.name or node.name in owner:
                continue
            # a tensor nothing reads (a graph output) is read by no layer ("")
            layers = {owner.get(reader) for output in node.outputs for reader in readers.get(output, [""])}
            if len(layers) == 1 and None not in layers:
                (layer,) = layers
                assert layer is not None
                covered[layer].append(node.name)
                owner[node.name] = layer
                changed = True


def layer_precision(runtime_precision: str | None, exec_type: str) -> str | None:
    """What a layer ran in, in trtbench's words: its runtimePrecision, else the kernel's name's last part
    (jit_avx512_amx_bf16 -> bf16, ..._I8 -> int8); None for anything else (i32 shape arithmetic)."""
    for said in (runtime_precision, exec_type.rsplit("_", 1)[-1]):
        if said and said.lower() in RUNTIME_PRECISIONS:
            return RUNTIME_PRECISIONS[said.lower()]
    return None


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class OpenVinoBackend(Backend):
    """OpenVINO's CPU plugin, compiled for latency (one stream) on the configured threads."""

    name = "openvino-cpu"
    metric = "infer request time"
    config_class = OpenVinoConfig
    precisions = ("fp32", "fp16", "bf16", "int8")
    packages = ("openvino",)
    extra = None
    config: OpenVinoConfig

    def availability_impl(self) -> Availability:
        try:
            import openvino as ov
        except ImportError as exc:
            return Availability(False, f"openvino does not import ({exc})", "pip install openvino")
        version = envinfo.package_version("openvino") or ov.__version__
        try:
            devices = ov.Core().available_devices
        except RuntimeError as exc:  # a plugin that fails to load says so here, not in the first build
            return Availability(False, f"openvino {version} cannot list its devices ({exc})",
                                "pip install --force-reinstall openvino")
        if "CPU" not in devices:
            return Availability(False, f"openvino {version} sees no CPU device (devices: {', '.join(devices)})",
                                "pip install --force-reinstall openvino")
        return Availability(True, f"openvino {version} on CPU")

    def runs(self, precision: str) -> tuple[bool, str]:
        """FP32 and INT8 everywhere; BF16 and FP16 only where the CPU has the instructions and a probe
        compile here read the precision back, since OpenVINO quietly runs an unsupported precision
        hint in another precision."""
        ok, reason = super().runs(precision)
        if not ok:
            return ok, reason
        if precision == "bf16" and cpu.native_bf16() is None:
            return False, ("this CPU has no BF16 instructions (avx512_bf16 or amx_bf16): OpenVINO would run "
                           "bf16 as f32")
        if precision == "fp16" and cpu.native_fp16() is None:
            return False, ("this CPU has no FP16 arithmetic (avx512_fp16 or amx_fp16): OpenVINO would run "
                           "fp16 as f32 or bf16")
        if precision in ("fp16", "bf16"):
            version = envinfo.package_version("openvino") or _openvino_version()
            executed, evidence = cpu.probed(self.name, version, precision, lambda: probe(precision))
            if executed != precision:
                return False, (f"a probe compile on this CPU asked for {precision} and ran "
                               f"{executed or 'an unknown precision'} ({evidence}): OpenVINO would run {precision} "
                               f"as {executed or 'another precision'}")
        return True, ""

    def device(self) -> str:
        return envinfo.cpu_name()

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        if precision != "int8":
            return [Path(onnx_path)]
        return [Path(onnx_path), graph_for(Path(onnx_path), "int8", self.calibration, form="onnxruntime")]

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        import openvino as ov

        started = time.perf_counter()
        # FP16 and BF16 are OpenVINO's choice on the FP32 graph (its precision hint); INT8 needs the
        # Q/DQ graph, whose ranges OpenVINO takes as they are.
        # INT8 reads the uint8-activation Q/DQ graph: on the CPU OpenVINO runs it faster than the
        # TensorRT form (5.1 against 5.8 ms, ResNet50 batch 1, AMD EPYC) and closer to FP32.
        graph = graph_for(Path(onnx_path), "int8", self.calibration, form="onnxruntime") if precision == "int8" \
            else Path(onnx_path)
        settings = compile_settings(precision, self.config.thread_count())
        key = compiled_model_key(artifacts.current_sha256(graph), precision, batch, settings)
        path = compiled_model_path(Path(cache_dir), graph, precision, batch, settings["INFERENCE_NUM_THREADS"])
        if path.is_dir():
            raise TrtbenchError(f"{path} is a folder where trtbench keeps a compiled model: remove it")
        core = ov.Core()
        compiled_here: dict[str, Any] = {}
        imported: dict[str, float] = {}  # seconds import_model took, where the compiled model came from the cache

        def make(tmp: Path) -> dict:
            model = core.read_model(str(graph))
            model.reshape({model.input(0): ov.PartialShape([batch, *INPUT_SHAPE])})
            compile_started = time.perf_counter()
            compiled = core.compile_model(model, "CPU", settings)
            compiled_here["model"], compiled_here["compile_s"] = compiled, time.perf_counter() - compile_started
            with open(tmp, "wb") as handle:
                handle.write(compiled.export_model().getbuffer())
            return {"graph": str(graph), "compile_s": round(compiled_here["compile_s"], 3)}

        # The usual case reads and hashes the blob once: its recorded key matches and the bytes read
        # match the recorded sha256. Anything else goes through the cache's lock (made, or found made
        # by another process meanwhile).
        meta = artifacts.read_metadata(path, COMPILED_KIND)
        artifact: artifacts.Artifact | None = None
        compiled = None
        if meta is not None and meta["key"] == key:
            artifact = artifacts.Artifact(path, meta)
            compiled = _imported(core, artifact, settings, imported)
        if compiled is None:
            artifact = artifacts.ensure(path, COMPILED_KIND, key, make, labels=_KEY_LABELS)
            compiled = compiled_here["model"] if artifact.made else _imported(core, artifact, settings, imported)
        if compiled is None:
            # Changed between the check and the read, or refused by OpenVINO: compiled again, never
            # loaded from bytes that were not checked.
            artifact = artifacts.ensure(path, COMPILED_KIND, key, make, force=True)
            compiled = compiled_here["model"]
        assert artifact is not None
        info = {
            "graph": str(graph),
            "compiled_model": str(path),
            "compiled_model_sha256": artifact.sha256,
            "loaded_from_cache": not artifact.made,
            "compile_s": round(compiled_here["compile_s"], 3) if artifact.made else artifact.info.get("compile_s"),
            "inference_precision_hint": _type_name(compiled.get_property("INFERENCE_PRECISION_HINT")),
        }
        if artifact.made:
            info["cache_reason"] = artifact.reason
        engine = OpenVinoEngine(compiled, batch, build_s=time.perf_counter() - started, info=info, graph=graph,
                                settings=settings)
        # to a compiled model ready to run: imported from the cache (info's loaded_from_cache), or compiled here
        engine.load_s = compiled_here["compile_s"] if artifact.made else imported["import_s"]
        return engine


#: the compiled-model key's fields in the user's words, for the line that says why one was compiled again
_KEY_LABELS = {"graph_sha256": "graph", "precision": "precision", "batch": "batch", "settings": "OpenVINO settings",
               "openvino": "OpenVINO version", "cpu": "CPU"}


def compile_settings(precision: str, threads: int) -> dict[str, Any]:
    """The properties an engine of ``precision`` is compiled (and imported) with."""
    settings: dict[str, Any] = {"PERFORMANCE_HINT": PERFORMANCE_HINT, "INFERENCE_NUM_THREADS": threads}
    if precision in PRECISION_HINTS:
        settings["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[precision]
    return settings


def compiled_model_key(graph_sha256: str, precision: str, batch: int, settings: dict[str, Any]) -> dict:
    """Everything that changes what a compiled model holds: the graph, the precision and the hint
    that carries it, the batch, every compile setting, OpenVINO's version and the CPU it was
    compiled for (its kernels are chosen for the CPU's instructions)."""
    return {
        "graph_sha256": graph_sha256,
        "precision": precision,
        "batch": batch,
        "settings": {name: settings[name] for name in sorted(settings)},
        "openvino": envinfo.package_version("openvino") or _openvino_version(),
        "cpu": cpu.identity(),
    }


def compiled_model_path(cache_dir: Path, graph: Path, precision: str, batch: int, threads: int) -> Path:
    """Where the compiled model of (graph, precision, batch, threads) is kept under engines/."""
    return Path(cache_dir) / CACHE_SUBDIR / f"{Path(graph).stem}.{precision}.b{batch}.t{threads}.blob"


def _imported(core: Any, artifact: artifacts.Artifact, settings: dict[str, Any], took: dict[str, float]) -> Any:
    """The compiled model in ``artifact``, imported from bytes that match its recorded sha256 (the seconds
    import_model took go in ``took["import_s"]``); None when they no longer match or OpenVINO refuses them."""
    data = artifacts.read_matching(artifact.path, artifact.sha256)
    if data is None:
        return None
    started = time.perf_counter()
    try:
        compiled = core.import_model(data, "CPU", settings)
    except RuntimeError:
        return None
    took["import_s"] = time.perf_counter() - started
    return compiled


def probe(precision: str) -> tuple[str | None, str]:
    """Compile one 3x3 convolution (16 to 16 channels) with ``precision``'s hint on this CPU and read
    back what it runs in: (precision in trtbench's words or None, evidence)."""
    import openvino as ov
    import openvino.opset13 as ops

    weights = np.random.default_rng(0).standard_normal((16, 16, 3, 3)).astype(np.float32)
    data = ops.parameter([1, 16, 32, 32], ov.Type.f32, name="x")
    conv = ops.convolution(data, ops.constant(weights), [1, 1], [1, 1], [1, 1], [1, 1])
    model = ov.Model([ops.relu(conv)], [data], "probe")
    try:
        compiled = ov.Core().compile_model(model, "CPU", compile_settings(precision, 1))
    except RuntimeError as exc:
        return None, f"the probe compile failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
    executed, evidence = executed_from(runtime_precisions(compiled.get_runtime_model()))
    hint = PRECISION_HINTS[precision]
    return executed, f"probe: one convolution with INFERENCE_PRECISION_HINT {hint}; " + evidence


def _type_name(value: Any) -> str:
    """'bf16' for OpenVINO's element type bfloat16 (a plain string passes through)."""
    return value.get_type_name() if hasattr(value, "get_type_name") else str(value)


def _openvino_version() -> str:
    import openvino as ov

    return str(ov.get_version())
