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

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from trtbench import lazy
from trtbench.backends.base import Availability, Backend, BackendConfig, Check, Engine, option
from trtbench.backends.tensorrt_engine import TensorRTEngine
from trtbench.errors import MissingDependency, TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE
from trtbench.graphs.precision import Calibration, graph_for, source_sha256
from trtbench.store import artifacts

ENGINE_KIND = "engine"
TIMING_CACHE_KIND = "timing-cache"
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
        "LayerInformationFormat.JSON", "IProfiler", "IProfiler.__init__", "IProfiler.report_layer_time",
        "IExecutionContext.profiler", "IExecutionContext.enqueue_emits_profile",
        "IExecutionContext.report_to_profiler", "ICudaEngine.device_memory_size_v2",
        "ICudaEngine.get_device_memory_size_for_profile_v2",
    ],
    # guarded by hasattr(trt, "EngineStat"): TensorRT 10.14 and later
    "engine_stat": ["EngineStat.TOTAL_WEIGHTS_SIZE", "ICudaEngine.get_engine_stat"],
    "strong": ["NetworkDefinitionCreationFlag.STRONGLY_TYPED"],
    "weak_fp16": ["IBuilderConfig.set_flag", "BuilderFlag.FP16"],
    "weak_int8": ["IBuilderConfig.set_flag", "BuilderFlag.INT8"],
}
#: which routes each major may take (10.x as of 10.13, the 10.x checked against: EngineStat came in 10.14)
ROUTES_BY_MAJOR = {10: ("common", "strong", "weak_fp16", "weak_int8"), 11: ("common", "strong", "engine_stat")}
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
