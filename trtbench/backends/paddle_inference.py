"""Paddle Inference: the runtime PaddleClas's 2020 page was measured with, on one of two routes.

* ``gpu-tensorrt``: Paddle Inference's TensorRT subgraph engine on an NVIDIA GPU (FP32, FP16, INT8),
  the page's own method. It needs a GPU build of paddlepaddle compiled with TensorRT, which comes
  from Paddle's own package index or a source build, not from PyPI in a current version.
* ``cpu``: Paddle Inference with oneDNN (FP32, BF16) everywhere else.

It runs the Paddle inference model the export keeps beside the ONNX graph (``NAME.paddle.json`` and
``NAME.paddle.pdiparams``, see ``trtbench.models.export``), not the ONNX graph itself, so the numbers are
Paddle's own program through Paddle's own passes.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtbench import envinfo
from trtbench.backends.base import Availability, Backend, Concurrent, CpuConfig, Engine, checked_requests
from trtbench.errors import MissingDependency, TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, seeded_input
from trtbench.graphs.precision import Calibration
from trtbench.measure.profile import LayerProfile
from trtbench.store import artifacts

#: the file Paddle writes the optimized program to under its optim cache dir (analysis_predictor.cc)
OPTIMIZED_PROGRAM = "_optimized.json"
#: the GPU route's optim cache dir (serialized TensorRT engines, calibration table) as an artifact
ENGINE_FOLDER_KIND = "paddle-tensorrt engines"
#: written by Paddle at every build and read back by trtbench, never loaded: not part of the record
_NOT_LOADED = frozenset({OPTIMIZED_PROGRAM})
#: the routes: Paddle's TensorRT subgraph on a GPU, or oneDNN on the CPU
GPU_TENSORRT, CPU = "gpu-tensorrt", "cpu"
#: the precisions each route runs natively
ROUTE_PRECISIONS = {GPU_TENSORRT: ("fp32", "fp16", "int8"), CPU: ("fp32", "bf16")}
#: Paddle's TensorRT precision modes (paddle.inference.PrecisionType members)
TRT_PRECISION_MODES = {"fp32": "Float32", "fp16": "Half", "int8": "Int8"}
#: the TensorRT subgraph settings of the GPU route; a subgraph of fewer ops stays on Paddle's kernels
TRT_WORKSPACE_BYTES = 1 << 30
TRT_MIN_SUBGRAPH_SIZE = 3
#: Paddle's flag that runs a predictor's ops one after another in program order
SEQUENTIAL_RUN = "FLAGS_new_executor_sequential_run"
#: the input name the export gives the Paddle program (trtbench.models.export's InputSpec)
INPUT_NAME = "x"
#: ops whose kernel precision decides the speed: convolutions and fully connected / matmul ops
_COMPUTE_OPS = ("conv2d", "fused_conv2d", "depthwise_conv2d", "fc", "matmul", "fused_matmul")
_DTYPES = {"bfloat16": "bf16", "float32": "fp32", "bf16": "bf16", "f32": "fp32", "int8": "int8", "i8": "int8",
           "uint8": "int8", "ui8": "int8", "float16": "fp16", "f16": "fp16"}


@dataclass(frozen=True)
class PaddleInferenceConfig(CpuConfig):
    """Paddle Inference takes the thread count every CPU backend shares, and nothing more."""


def _inference():
    """paddle.inference, with Paddle's import-time noise silenced."""
    from trtbench.lazy import import_paddle

    import_paddle()
    from paddle import inference

    return inference


def _synchronize() -> None:
    """Wait for all work on the GPU (cudaDeviceSynchronize), whichever stream the predictor used."""
    import paddle

    paddle.device.synchronize()


@dataclass(frozen=True)
class Route:
    """Where Paddle Inference runs here: ``gpu-tensorrt`` or ``cpu``, why, and the TensorRT versions
    Paddle was compiled with and loads ("" when none)."""

    name: str
    reason: str
    trt_compiled: str = ""
    trt_runtime: str = ""
    gpu_name: str = ""


def _version(parts) -> str:
    """'8.6.1' from Paddle's (8, 6, 1); "" for (0, 0, 0), which is how Paddle says 'none'."""
    numbers = [int(part) for part in parts or ()]
    return ".".join(map(str, numbers)) if any(numbers) else ""


def compiled_tensorrt() -> str:
    """The TensorRT version paddle was compiled with ('8.6.1'), or "" (no TensorRT, or no paddle)."""
    try:
        return _version(_inference().get_trt_compile_version())
    except (ImportError, MissingDependency):
        return ""


def detect_route() -> Route:
    """The route this machine gives Paddle Inference: its TensorRT subgraph where paddle is compiled
    with CUDA and TensorRT and sees a GPU, else oneDNN on the CPU, with the reason."""
    try:
        inference = _inference()
    except (ImportError, MissingDependency) as exc:
        return Route(CPU, f"paddle.inference does not import ({exc})")
    import paddle

    if not paddle.device.is_compiled_with_cuda():
        return Route(CPU, f"paddlepaddle {paddle.__version__} is a CPU build (not compiled with CUDA)")
    if paddle.device.cuda.device_count() < 1:
        return Route(CPU, f"paddlepaddle {paddle.__version__} is compiled with CUDA but sees no GPU")
    compiled = _version(inference.get_trt_compile_version())
    if not compiled:
        return Route(CPU, f"paddlepaddle {paddle.__version__} is compiled with CUDA but not with TensorRT")
    try:
        runtime = _version(inference.get_trt_runtime_version())
    except Exception as exc:  # Paddle raises its own types when the TensorRT library cannot be loaded
        return Route(CPU, f"paddle is compiled with TensorRT {compiled} but cannot load it ({type(exc).__name__})",
                     compiled)
    if not runtime:
        return Route(CPU, f"paddle is compiled with TensorRT {compiled} but loads no TensorRT library", compiled)
    name = str(paddle.device.cuda.get_device_name(0))
    return Route(GPU_TENSORRT, f"paddle compiled with CUDA and TensorRT {compiled} (TensorRT {runtime} loaded), "
                 f"GPU {name}", compiled, runtime, name)


class PaddleInferenceEngine(Engine):
    """One predictor with the timing input copied in once; the timed loop is predictor.run() alone."""

    spans = ("latency",)

    def __init__(self, predictor, config, batch: int, build_s: float, info: dict, program: dict,
                 graph: Path | None = None):
        super().__init__(batch, info=info, build_s=build_s)
        self.predictor = predictor
        self.config = config
        self.bf16 = bool(info.get("bf16"))
        self.program = program  # what the optimized program says about its kernels' precision
        self.graph = graph  # the ONNX export the Paddle model belongs to: profiles name its nodes

    input_handle: Any = None
    output_handle: Any = None

    def activate_impl(self) -> None:
        """Take the predictor's input and output tensors and copy the timing input in, once."""
        self.input_handle = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output_handle = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        self.input_handle.copy_from_cpu(seeded_input(self.batch))

    def deactivate_impl(self) -> None:
        """Drop the tensor handles (the predictor keeps its own memory until the engine goes)."""
        self.input_handle = self.output_handle = None

    def iterate_impl(self) -> dict[str, float]:
        """One predictor.run() on the bound input, in milliseconds."""
        # run() is synchronous on the CPU: it returns once the executor has run every op (a
        # copy_to_cpu right after it takes some 0.03 ms for ResNet50, so no work is left pending).
        start = time.perf_counter_ns()
        self.predictor.run()
        return {"latency": (time.perf_counter_ns() - start) / 1e6}

    def infer_impl(self, data: np.ndarray) -> np.ndarray:
        """The outputs for ``data``; the timing input is copied back in afterwards."""
        self.input_handle.copy_from_cpu(data)
        self.predictor.run()
        result = np.array(self.output_handle.copy_to_cpu(), dtype=np.float32, copy=True)
        self.input_handle.copy_from_cpu(seeded_input(self.batch))
        return result

    def describe(self) -> dict:
        """How the predictor was configured and timed."""
        return {
            "timer": "time.perf_counter_ns around predictor.run()",
            "data_transfers": False,
            "data_transfers_note": "input copied into the predictor once; outputs left in it",
            "onednn": self.config.mkldnn_enabled(),
            "threads": self.config.cpu_math_library_num_threads(),
            "ir_optim": self.config.ir_optim(),
            "bf16": self.bf16,
            "paddlepaddle": self.info.get("paddlepaddle"),
        }

    @contextlib.contextmanager
    def concurrent(self, requests: int) -> Iterator[Concurrent]:
        """``requests`` predictors sharing their weights: one made like the engine's from the same checked files,
        and clones of it (Paddle reads the model's files again to clone, and the engine's copies are gone), each
        with input and output tensors of its own and the timing input copied in.

        Paddle's Python ``run()`` holds the GIL while it computes, so clones called from Python threads run one at
        a time (2-core Xeon, ResNet50: 30 images/s from one predictor, 24 from 2 or 4 clones at once): each keeps
        the engine's threads, since a clone with fewer only runs slower (12 to 16 images/s on 1 thread)."""
        from trtbench.models.export import captured_native_output, last_error_line

        self._require_active()
        checked_requests(requests)
        inference = _inference()
        threads = self.config.cpu_math_library_num_threads()
        with artifacts.scratch_dir("paddle-clones") as work:
            model = self._model_copy(work, "served concurrently")
            optim = work / "optim"
            with captured_native_output() as log:
                try:
                    first = inference.create_predictor(cpu_config(inference, model, threads, self.bf16, optim))
                    predictors = [first] + [first.clone() for _ in range(requests - 1)]
                except Exception as exc:  # Paddle raises many types; its native log says more
                    detail = last_error_line(log()) or f"{type(exc).__name__}: {exc}"
                    raise TrtbenchError(f"Paddle Inference could not make {requests} predictors: {detail}") from None
            found = program_precision(optim / OPTIMIZED_PROGRAM)
        if found.get("compute_ops") != self.program.get("compute_ops"):
            raise TrtbenchError(f"Paddle's program for concurrent requests runs {found.get('compute_ops')} where the "
                                f"engine runs {self.program.get('compute_ops')}: its numbers would not be this "
                                "precision's")
        for predictor in predictors:
            predictor.get_input_handle(predictor.get_input_names()[0]).copy_from_cpu(seeded_input(self.batch))
        facts = {"requests": requests, "streams": 1, "threads_per_stream": threads,
                 "how": "Paddle Inference predictors sharing their weights (one made like the engine's, the others "
                        f"clones of it), {requests} in all, each with its own input and output tensors and {threads} "
                        "threads, called from a thread per request; Paddle's Python run() holds the GIL, so they run "
                        "one at a time"}
        serving = Concurrent([predictor.run for predictor in predictors], facts)
        del predictors, first
        try:
            yield serving
        finally:
            serving.runners.clear()  # the predictors go with the last reference

    def executed_precision(self) -> tuple[str | None, str]:
        """Read from the optimized program Paddle saved after its passes: the oneDNN data type of
        each convolution and fully connected op. Where it could not be read, only the config speaks,
        and the evidence says so."""
        counts = self.program.get("compute_ops")
        if not counts:
            asked = "bf16" if self.bf16 else "fp32"
            why = self.program.get("error", "no convolution or fc op found")
            return asked, (f"config: oneDNN bf16 {'enabled' if self.bf16 else 'not enabled'} "
                           f"(Paddle's optimized program not read: {why})")
        total = sum(counts.values())
        parts = ", ".join(f"{n} {dtype}" for dtype, n in sorted(counts.items()))
        evidence = (f"Paddle's optimized program (after its oneDNN passes): {total} conv/fc ops, {parts} "
                    "(their oneDNN data type)")
        return (next(iter(counts)) if len(counts) == 1 else "mixed"), evidence

    def profile_layers(self, iterations: int) -> LayerProfile:
        """paddle.profiler on a second predictor made like this one from the same checked files: each op
        of the program Paddle optimized, its median time per inference, and the ONNX nodes it computes."""
        import onnx
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

        from trtbench.backends import paddle_profile

        self._require_active()
        if iterations < 1:
            raise TrtbenchError(f"per-layer profiles need at least one iteration, not {iterations}")
        with artifacts.scratch_dir("paddle-profile") as work:
            model = self._model_copy(work, "profiled")
            trace, optimized = self._profiled_run(model, work, iterations)
            try:
                program = paddle_profile.read_program(json.loads(optimized.read_text(encoding="utf-8")),
                                                      known_precision)
                runs = paddle_profile.operator_runs(json.loads(trace.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise TrtbenchError(f"Paddle's profile could not be read back: {type(exc).__name__}: {exc}") \
                    from None
        if not runs:
            raise TrtbenchError("Paddle's profile holds no operator of a profiled inference")
        graph = None
        if self.graph is not None:
            try:
                graph = onnx.load(str(self.graph), load_external_data=False).graph
            except (OSError, DecodeError) as exc:
                raise TrtbenchError(f"the ONNX graph {self.graph.name} could not be read to name the profile's "
                                    f"nodes: {exc}") from None
        return paddle_profile.profile_from(runs, program, graph)

    def _model_copy(self, work: Path, purpose: str) -> tuple[Path, Path]:
        """Copies in ``work`` of the Paddle model this engine was built from, their bytes checked against the
        sha256 recorded at build."""
        model = (work / "model.json", work / "model.pdiparams")
        for source, key, copy in zip(("program", "params"), ("program_sha256", "params_sha256"), model, strict=True):
            if not artifacts.copy_matching(Path(self.info[source]), str(self.info[key]), copy):
                raise TrtbenchError(f"the Paddle model {Path(self.info[source]).name} changed after it was timed, so "
                                    f"it cannot be {purpose}: run again when nothing else writes to the models folder")
        return model

    def _profiled_run(self, model: tuple[Path, Path], work: Path, iterations: int) -> tuple[Path, Path]:
        """Run a predictor made like this one once, then ``iterations`` times under paddle.profiler; the
        chrome trace and the optimized program it wrote."""
        from trtbench.models.export import captured_native_output, last_error_line

        inference = _inference()  # paddle imported quietly first
        import paddle
        import paddle.profiler

        optim, trace = work / "optim", work / "trace.json"
        config = cpu_config(inference, model, self.config.cpu_math_library_num_threads(), self.bf16, optim)
        # one op after another in program order, so that the n-th event of an inference is the n-th op
        saved = paddle.get_flags([SEQUENTIAL_RUN])[SEQUENTIAL_RUN]
        # the profiler prints its own summary when it stops
        with captured_native_output() as log, contextlib.redirect_stdout(io.StringIO()):
            try:
                paddle.set_flags({SEQUENTIAL_RUN: True})
                predictor = inference.create_predictor(config)
                handle = predictor.get_input_handle(predictor.get_input_names()[0])
                handle.copy_from_cpu(seeded_input(self.batch))
                predictor.run()  # the first run allocates and computes what depends on parameters only
                # exported below into the scratch folder (by default it writes ./profiler_log)
                profiler = paddle.profiler.Profiler(targets=[paddle.profiler.ProfilerTarget.CPU],
                                                    on_trace_ready=lambda _: None)
                profiler.start()
                try:
                    for _ in range(iterations):
                        predictor.run()
                        profiler.step()
                finally:
                    profiler.stop()
                profiler.export(str(trace), "json")
            except Exception as exc:  # Paddle raises many types; its native log says more
                detail = last_error_line(log()) or f"{type(exc).__name__}: {exc}"
                raise TrtbenchError(f"Paddle Inference could not be profiled: {detail}") from None
            finally:
                paddle.set_flags({SEQUENTIAL_RUN: saved})
        return trace, optim / OPTIMIZED_PROGRAM


class PaddleInferenceBackend(Backend):
    """Paddle Inference's AnalysisPredictor: its TensorRT subgraph on a GPU (FP32, FP16, INT8) where
    paddle has CUDA and TensorRT, else oneDNN on the CPU (FP32, oneDNN BF16)."""

    name = "paddle-inference"
    metric = "predictor run time"
    config_class = PaddleInferenceConfig
    precisions = ("fp32", "bf16", "fp16", "int8")  # every route's; runs() answers for this machine's route
    packages = ("paddlepaddle",)
    extra = None  # paddlepaddle comes with trtbench (the export needs it)
    config: PaddleInferenceConfig

    def availability_impl(self) -> Availability:
        """Available where paddle.inference imports."""
        try:
            _inference()
        except (ImportError, MissingDependency) as exc:
            return Availability(False, f"paddle.inference does not import ({exc})", "pip install paddlepaddle")
        import paddle

        onednn = "with oneDNN" if paddle.base.core.is_compiled_with_mkldnn() else "without oneDNN"
        route = self.route()
        return Availability(True, f"paddle.inference {paddle.__version__} ({onednn}); route {route.name}: "
                                  f"{route.reason}")

    @functools.cached_property
    def _route(self) -> Route:
        return detect_route()

    def route(self) -> Route:
        """This machine's route (``gpu-tensorrt`` or ``cpu``) and why; detected once per backend."""
        return self._route

    # The base declares a class-wide flag; this backend's device depends on the machine's route.
    @property
    def gpu(self) -> bool:  # type: ignore[override]
        """Whether the engines run on a GPU: on the gpu-tensorrt route."""
        return self.route().name == GPU_TENSORRT

    def runs(self, precision: str) -> tuple[bool, str]:
        """On the GPU route fp32, fp16 and int8 (TensorRT's modes); on the CPU route fp32, and bf16
        only on a CPU with native BF16 instructions."""
        route = self.route()
        if precision not in ROUTE_PRECISIONS[route.name]:
            return False, (f"{self.name} runs {', '.join(ROUTE_PRECISIONS[route.name])} on the {route.name} route, "
                           f"not {precision} (route {route.name}: {route.reason})")
        ok, why = super().runs(precision)
        if ok and precision == "bf16":
            from trtbench.measure.cpu import native_bf16

            if native_bf16() is None:
                # Paddle then simulates BF16 on plain AVX-512 (or refuses it without AVX-512): not
                # what a BF16 number should measure.
                return False, ("Paddle's oneDNN BF16 runs natively only with avx512_bf16 or AMX, and this CPU "
                               "has neither (Paddle would simulate it)")
            from trtbench.measure import cpu

            executed, evidence = cpu.probed(self.name, envinfo.package_version("paddlepaddle") or "unknown", "bf16",
                                            probe_bf16)
            if executed != "bf16":
                return False, (f"a probe on this CPU asked Paddle Inference for bf16 and it ran "
                               f"{executed or 'an unknown precision'} ({evidence})")
        return ok, why

    def device(self) -> str:
        """The GPU's name on the GPU route, else the CPU's model name."""
        route = self.route()
        return route.gpu_name if route.name == GPU_TENSORRT else envinfo.cpu_name()

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        """The export and the Paddle model kept beside it (what Paddle Inference runs)."""
        from trtbench.models.export import paddle_model_for

        return [Path(onnx_path), *paddle_model_for(Path(onnx_path))]

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """A predictor for the Paddle model of the export at ``onnx_path``. On the CPU route nothing is
        cached in ``cache_dir`` (Paddle's passes run at every build); on the GPU route the serialized
        TensorRT engines (and the INT8 calibration table) are kept under it."""
        ok, why = self.runs(precision)
        if not ok:
            raise TrtbenchError(f"backend {self.name} does not run {precision} here: {why}")
        if self.route().name == GPU_TENSORRT:
            return self._build_tensorrt(Path(onnx_path), precision, batch, Path(cache_dir))
        return self._build_cpu(Path(onnx_path), precision, batch)

    def _build_cpu(self, onnx_path: Path, precision: str, batch: int) -> Engine:
        from trtbench.models.export import captured_native_output, last_error_line

        inference = _inference()
        started = time.perf_counter()
        # Paddle opens the model by name: it gets private copies whose bytes were checked against
        # the recorded sha256 as they were copied, so what it loads is what was checked.
        with artifacts.scratch_dir("paddle-model") as work:
            program, params, checked = _checked_model(Path(onnx_path), work)
            # Paddle saves the program its passes produced; read once, it says which kernels run in BF16.
            optim = work / "optim"
            config = cpu_config(inference, checked, self.config.thread_count(), precision == "bf16", optim)
            with captured_native_output() as log:
                try:
                    loading = time.perf_counter()
                    predictor = inference.create_predictor(config)
                    load_s = time.perf_counter() - loading  # Paddle's passes included: they run at every load
                except Exception as exc:  # Paddle raises many types; its native log says more
                    detail = last_error_line(log()) or f"{type(exc).__name__}: {exc}"
                    raise TrtbenchError(f"Paddle Inference could not load {program.path.name}: {detail}") from None
            found = program_precision(optim / OPTIMIZED_PROGRAM)
        info = {"program": str(program.path), "program_sha256": program.sha256,
                "params": str(params.path), "params_sha256": params.sha256, "bf16": precision == "bf16",
                "paddlepaddle": envinfo.package_version("paddlepaddle"), **found}
        engine = PaddleInferenceEngine(predictor, config, batch, time.perf_counter() - started, info, found,
                                       graph=Path(onnx_path))
        engine.load_s = load_s
        return engine

    def _build_tensorrt(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """A predictor whose TensorRT subgraphs run in ``precision``'s mode, the shape fixed to ``batch``.

        For INT8, Paddle's own calibration: a first predictor runs the calibration inputs and writes
        its table into the optim cache dir when it is destroyed; the second one builds the INT8
        engines from that table.
        """
        from trtbench.models.export import paddle_model_for

        inference = _inference()
        route = self.route()
        started = time.perf_counter()
        program, params = paddle_model_for(onnx_path)
        # One folder per model, precision and batch: a calibration table or optimized program left by
        # another precision must not be picked up. Paddle keys the engines it serializes there by
        # tensor names, batch and precision only (GenerateEngineKey): not the weights, TensorRT or the
        # GPU. So the folder's files are recorded under trtbench's own key and checked before Paddle
        # opens the folder; anything else found there is removed and the engines built again.
        optim = cache_dir / "paddle-tensorrt" / f"{program.name.split('.')[0]}.{precision}.b{batch}"
        optim.mkdir(parents=True, exist_ok=True)
        (optim / OPTIMIZED_PROGRAM).unlink(missing_ok=True)
        key = {"program_sha256": artifacts.current_sha256(program), "params_sha256": artifacts.current_sha256(params),
               "precision": precision, "batch": batch, "paddlepaddle": envinfo.package_version("paddlepaddle") or
               envinfo.package_version("paddlepaddle-gpu"), "tensorrt_compiled": route.trt_compiled,
               "tensorrt_runtime": route.trt_runtime, "gpu": route.gpu_name, "workspace_bytes": TRT_WORKSPACE_BYTES,
               "min_subgraph_size": TRT_MIN_SUBGRAPH_SIZE,
               "calibration": (self.calibration or Calibration()).key() if precision == "int8" else None}
        stale = artifacts.folder_problem(optim, ENGINE_FOLDER_KIND, key, _NOT_LOADED)
        if stale is not None:
            artifacts.empty_folder(optim)
        mode = TRT_PRECISION_MODES[precision]
        if precision == "int8":
            calibrating = self._predictor(inference, program, params, precision, batch, optim)
            handle = calibrating.get_input_handle(calibrating.get_input_names()[0])
            for data in _calibration_batches(self.calibration, batch):
                handle.copy_from_cpu(data)
                calibrating.run()
            del calibrating, handle  # Paddle writes the calibration table when the predictor goes
        config, predictor = self._predictor(inference, program, params, precision, batch, optim, keep_config=True)
        found = program_engines(optim / OPTIMIZED_PROGRAM)
        if stale is not None:
            artifacts.record_folder(optim, ENGINE_FOLDER_KIND, key, _NOT_LOADED)
        info = {"program": str(program), "program_sha256": artifacts.current_sha256(program),
                "params": str(params), "params_sha256": artifacts.current_sha256(params), "bf16": False,
                "paddlepaddle": envinfo.package_version("paddlepaddle") or envinfo.package_version("paddlepaddle-gpu"),
                "route": route.name, "trt_compiled": route.trt_compiled, "trt_runtime": route.trt_runtime,
                "precision_mode": mode, "optim_cache_dir": str(optim), "loaded_from_cache": stale is None,
                **({"cache_reason": stale} if stale is not None else {}), **found}
        return PaddleTensorRTEngine(predictor, config, batch, time.perf_counter() - started, info, found)

    def _predictor(self, inference, program: Path, params: Path, precision: str, batch: int, optim: Path,
                   keep_config: bool = False):
        """A GPU predictor with the TensorRT subgraph in ``precision``'s mode (and its config)."""
        from trtbench.models.export import captured_native_output, last_error_line

        config = inference.Config(str(program), str(params))
        config.enable_use_gpu(256, 0)
        config.switch_ir_optim(True)
        config.enable_tensorrt_engine(
            workspace_size=TRT_WORKSPACE_BYTES, max_batch_size=batch, min_subgraph_size=TRT_MIN_SUBGRAPH_SIZE,
            precision_mode=getattr(inference.PrecisionType, TRT_PRECISION_MODES[precision]),
            use_static=True, use_calib_mode=precision == "int8")
        # min = opt = max: one engine for exactly this batch, as the page timed a fixed shape
        shape = {INPUT_NAME: [batch, *INPUT_SHAPE]}
        config.set_trt_dynamic_shape_info(shape, shape, shape)
        config.set_optim_cache_dir(str(optim))
        config.enable_save_optim_model(True)  # read back: did TensorRT engine ops replace the subgraphs
        config.disable_glog_info()
        with captured_native_output() as log:
            try:
                predictor = inference.create_predictor(config)
            except Exception as exc:  # Paddle raises many types; its native log says more
                detail = last_error_line(log()) or f"{type(exc).__name__}: {exc}"
                raise TrtbenchError(f"Paddle Inference with TensorRT could not load {program.name}: {detail}") \
                    from None
        return (config, predictor) if keep_config else predictor


def cpu_config(inference, model: tuple[Path, Path], threads: int, bf16: bool, optim: Path):
    """The CPU route's predictor config for the Paddle model ``model`` (program, parameters): oneDNN,
    ``threads`` threads, oneDNN BF16 where asked, Paddle's passes on, and the program they produce saved
    under ``optim``."""
    config = inference.Config(str(model[0]), str(model[1]))
    config.disable_gpu()
    config.enable_mkldnn()
    config.set_cpu_math_library_num_threads(threads)
    if bf16:
        config.enable_mkldnn_bfloat16()
    config.switch_ir_optim(True)
    config.disable_glog_info()
    Path(optim).mkdir(parents=True, exist_ok=True)
    config.set_optim_cache_dir(str(optim))
    config.enable_save_optim_model(True)
    return config


def _checked_model(onnx_path: Path, folder: Path) -> tuple[artifacts.Artifact, artifacts.Artifact, tuple[Path, Path]]:
    """The Paddle model of the export at ``onnx_path`` (made or remade where it is not valid for
    it), and copies of its program and parameters in ``folder`` whose bytes match the sha256
    recorded for each; a model that changes while it is copied is checked once more, then refused."""
    from trtbench.models.export import EXPORT_KIND, PADDLE_KIND, paddle_model_for

    for _ in range(2):
        program_path, params_path = paddle_model_for(onnx_path)
        export = artifacts.valid(onnx_path, EXPORT_KIND)
        program = artifacts.valid(program_path, PADDLE_KIND)
        params = artifacts.valid(params_path, PADDLE_KIND)
        if export is None or program is None or params is None or \
                program.key.get("params_sha256") != params.sha256 or program.key.get("onnx_sha256") != export.sha256:
            continue
        copies = (folder / program_path.name, folder / params_path.name)
        if artifacts.copy_matching(program.path, program.sha256, copies[0]) and \
                artifacts.copy_matching(params.path, params.sha256, copies[1]):
            return program, params, copies
    raise TrtbenchError(f"the Paddle model of {Path(onnx_path).name} changed while it was being loaded (its files no "
                        "longer match their recorded sha256): run again when nothing else writes to the models folder")


def probe_bf16() -> tuple[str | None, str]:
    """Run one 3x3 convolution (16 to 16 channels) through Paddle Inference with oneDNN BF16 on this
    CPU and read back the data type its passes gave it: (precision in trtbench's words or None, evidence)."""
    from trtbench.lazy import import_paddle
    from trtbench.models.export import captured_native_output, last_error_line

    inference = _inference()
    paddle = import_paddle()

    class OneConvolution(paddle.nn.Layer):  # type: ignore[name-defined]
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(16, 16, 3, padding=1)

        def forward(self, x):
            return paddle.nn.functional.relu(self.conv(x))

    with artifacts.scratch_dir("paddle-probe") as work, captured_native_output() as log:
        try:
            spec = [paddle.static.InputSpec([1, 16, 32, 32], "float32", "x")]
            static = paddle.jit.to_static(OneConvolution(), input_spec=spec, full_graph=True)
            paddle.jit.save(static, str(work / "probe"))
            config = inference.Config(str(work / "probe.json"), str(work / "probe.pdiparams"))
            config.disable_gpu()
            config.enable_mkldnn()
            config.set_cpu_math_library_num_threads(1)
            config.enable_mkldnn_bfloat16()
            config.switch_ir_optim(True)
            config.disable_glog_info()
            config.set_optim_cache_dir(str(work / "optim"))
            config.enable_save_optim_model(True)
            inference.create_predictor(config)
        except Exception as exc:  # Paddle raises many types; its native log says more
            return None, f"the probe failed: {last_error_line(log()) or type(exc).__name__}"
        found = program_precision(work / "optim" / OPTIMIZED_PROGRAM)
    counts = found.get("compute_ops")
    if not counts:
        return None, f"probe: Paddle's optimized program not read ({found.get('error')})"
    executed = next(iter(counts)) if len(counts) == 1 else "mixed"
    parts = ", ".join(f"{n} {dtype}" for dtype, n in sorted(counts.items()))
    return executed, f"probe: one convolution with oneDNN bf16 enabled; Paddle's optimized program: {parts}"


def _calibration_batches(calibration: Calibration | None, batch: int):
    """The calibration inputs in batches of ``batch`` (the engine's only shape), the last one filled
    up from the first samples; seeded random inputs where no calibration was given."""
    samples = list((calibration or Calibration()).inputs())
    for first in range(0, len(samples), batch):
        chunk = [samples[(first + i) % len(samples)] for i in range(batch)]
        yield np.ascontiguousarray(np.concatenate(chunk), dtype=np.float32)


class PaddleTensorRTEngine(PaddleInferenceEngine):
    """A GPU predictor with TensorRT subgraphs; the timed loop is predictor.run() and a device sync."""

    def iterate_impl(self) -> dict[str, float]:
        """One predictor.run() on the input already on the device, waited for, in milliseconds."""
        # The input handle lives on the GPU, so no copy is timed; the synchronize makes sure the
        # span holds the GPU work whether or not run() waits for its stream itself.
        start = time.perf_counter_ns()
        self.predictor.run()
        _synchronize()
        return {"latency": (time.perf_counter_ns() - start) / 1e6}

    def describe(self) -> dict:
        """The route, the TensorRT subgraph settings and versions, and what is timed."""
        return {
            "timer": "time.perf_counter_ns around predictor.run() and a device synchronize",
            "data_transfers": False,
            "data_transfers_note": "predictor.run(), inputs already on the device; outputs left there",
            "route": self.info.get("route"),
            "paddlepaddle": self.info.get("paddlepaddle"),
            "tensorrt_compiled": self.info.get("trt_compiled"),
            "tensorrt_runtime": self.info.get("trt_runtime"),
            "precision_mode": self.info.get("precision_mode"),
            "min_subgraph_size": TRT_MIN_SUBGRAPH_SIZE,
            "use_static": True,
            "workspace_bytes": TRT_WORKSPACE_BYTES,
            "calibration": "Paddle's calibration mode" if self.info.get("precision_mode") == "Int8" else None,
            "ir_optim": self.config.ir_optim(),
        }

    def concurrent(self, requests: int):
        """Not on this route yet: only the CPU route's clones are wired."""
        raise TrtbenchError("paddle-inference runs requests concurrently on its cpu route only so far: use "
                            "--backend tensorrt (execution contexts on streams of their own) on the GPU")

    def profile_layers(self, iterations: int) -> LayerProfile:
        """Not on this route: each TensorRT subgraph runs as one Paddle op, whose layers Paddle does not time."""
        raise TrtbenchError("paddle-inference cannot report per-layer times on its gpu-tensorrt route (each "
                            "TensorRT subgraph is one op to Paddle's profiler): the tensorrt backend profiles "
                            "TensorRT's layers, and paddle-inference's cpu route Paddle's ops")

    def executed_precision(self) -> tuple[str | None, str]:
        """The precision mode the TensorRT subgraphs were configured with: Paddle does not say which
        precision TensorRT picked per layer. Where the optimized program shows no TensorRT engine op,
        the model ran on Paddle's own GPU kernels and no precision is claimed."""
        mode = self.info.get("precision_mode")
        precision = {value: key for key, value in TRT_PRECISION_MODES.items()}.get(str(mode))
        config = f"config: Paddle TensorRT subgraph precision_mode {mode}"
        engines = self.program.get("tensorrt_engines")
        if engines is None:
            why = self.program.get("error", "not read")
            return precision, f"{config} (Paddle's optimized program not read: {why})"
        if engines == 0:
            return None, f"{config}, but Paddle's optimized program holds no TensorRT engine op"
        return precision, f"{config}; Paddle's optimized program holds {engines} TensorRT engine op(s)"


def program_engines(path: Path) -> dict:
    """{"tensorrt_engines": count} of the TensorRT engine ops in a saved PIR program; {"error": why}
    when it cannot be read."""
    try:
        program = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"{Path(path).name}: {type(exc).__name__}"}
    ops = _ops(program.get("program", {}) if isinstance(program, dict) else {})
    return {"tensorrt_engines": sum(str(op.get("#", "")).endswith("tensorrt_engine") for op in ops)}


def program_precision(path: Path) -> dict:
    """{"compute_ops": {precision: count}} of the convolution and fc ops in a saved PIR program, by
    their oneDNN data type (or their first output's type); {"error": why} when it cannot be read."""
    try:
        program = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"{Path(path).name}: {type(exc).__name__}"}
    counts: collections.Counter[str] = collections.Counter()
    for op in _ops(program.get("program", {}) if isinstance(program, dict) else {}):
        name = str(op.get("#", "")).rsplit(".", 1)[-1]
        if name in _COMPUTE_OPS:
            counts[_op_precision(op)] += 1
    if not counts:
        return {"error": "no convolution or fc op found in it"}
    return {"compute_ops": dict(counts)}


def known_precision(op: dict) -> str | None:
    """An op's precision as _op_precision reads it; None where it cannot say."""
    precision = _op_precision(op)
    return None if precision == "unknown" else precision


def _ops(node: dict):
    """Every op of a PIR program's JSON, nested regions included."""
    for region in node.get("regions", []):
        for block in region.get("blocks", []):
            for op in block.get("ops", []):
                if isinstance(op, dict):
                    yield op
                    yield from _ops(op)


def _op_precision(op: dict) -> str:
    """The precision an op's kernel runs in: its oneDNN data type attribute, else its first output's type."""
    for attribute in op.get("A", []):
        if isinstance(attribute, dict) and attribute.get("N") in ("onednn_data_type", "mkldnn_data_type"):
            value = (attribute.get("AT") or {}).get("D")
            if value in _DTYPES:
                return _DTYPES[value]
    outputs = op.get("O")
    first: Any = outputs[0] if isinstance(outputs, list) and outputs else outputs
    try:
        dtype = first["TT"]["D"][0]["#"].rsplit("_", 1)[-1]  # e.g. "0.t_bf16"
    except (KeyError, IndexError, TypeError):
        return "unknown"
    return _DTYPES.get(dtype, dtype)
