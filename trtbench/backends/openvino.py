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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, CpuConfig, Engine
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, seeded_input
from trtbench.graphs.precision import graph_for
from trtbench.measure import cpu
from trtbench.store import artifacts

CACHE_SUBDIR = "openvino"  # under the session's engines/ folder
COMPILED_KIND = "openvino compiled model"
#: the settings every engine is compiled with besides threads and the precision hint
PERFORMANCE_HINT = "LATENCY"
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

    def __init__(self, compiled: Any, batch: int, build_s: float, info: dict):
        super().__init__(batch, info=info, build_s=build_s)
        self.compiled = compiled

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

    def executed_precision(self) -> tuple[str | None, str]:
        """What most convolutions of the compiled model run in, as OpenVINO's runtime model says."""
        counts = runtime_precisions(self.compiled.get_runtime_model())
        self.info["runtime_precisions"] = {layer: dict(tally) for layer, tally in sorted(counts.items())}
        return executed_from(counts)


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
            compiled = _imported(core, artifact, settings)
        if compiled is None:
            artifact = artifacts.ensure(path, COMPILED_KIND, key, make, labels=_KEY_LABELS)
            compiled = compiled_here["model"] if artifact.made else _imported(core, artifact, settings)
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
        return OpenVinoEngine(compiled, batch, build_s=time.perf_counter() - started, info=info)


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


def _imported(core: Any, artifact: artifacts.Artifact, settings: dict[str, Any]) -> Any:
    """The compiled model in ``artifact``, imported from bytes that match its recorded sha256; None
    when they no longer match or OpenVINO refuses them."""
    data = artifacts.read_matching(artifact.path, artifact.sha256)
    if data is None:
        return None
    try:
        return core.import_model(data, "CPU", settings)
    except RuntimeError:
        return None


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
