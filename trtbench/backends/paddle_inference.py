"""Paddle Inference on the CPU with oneDNN: the runtime PaddleClas's 2020 page was measured with.

It runs the Paddle inference model the export keeps beside the ONNX graph (``NAME.paddle.json`` and
``NAME.paddle.pdiparams``, see ``trtbench.export``), not the ONNX graph itself, so the numbers are
Paddle's own program through Paddle's own passes.
"""

from __future__ import annotations

import collections
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtbench import artifacts, envinfo
from trtbench.backends.base import Availability, Backend, CpuConfig, Engine
from trtbench.errors import MissingDependency, TrtbenchError
from trtbench.inputs import seeded_input

#: the file Paddle writes the optimized program to under its optim cache dir (analysis_predictor.cc)
OPTIMIZED_PROGRAM = "_optimized.json"
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


class PaddleInferenceEngine(Engine):
    """One predictor with the timing input copied in once; the timed loop is predictor.run() alone."""

    spans = ("latency",)

    def __init__(self, predictor, config, batch: int, build_s: float, info: dict, program: dict):
        super().__init__(batch, info=info, build_s=build_s)
        self.predictor = predictor
        self.config = config
        self.bf16 = bool(info.get("bf16"))
        self.program = program  # what the optimized program says about its kernels' precision

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


class PaddleInferenceBackend(Backend):
    """Paddle Inference's AnalysisPredictor on the CPU: oneDNN, IR optimization, FP32 or oneDNN BF16."""

    name = "paddle-inference"
    metric = "predictor run time"
    config_class = PaddleInferenceConfig
    precisions = ("fp32", "bf16")
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
        return Availability(True, f"paddle.inference {paddle.__version__} ({onednn})")

    def runs(self, precision: str) -> tuple[bool, str]:
        """fp32 everywhere; bf16 only on a CPU with native BF16 instructions."""
        ok, why = super().runs(precision)
        if ok and precision == "bf16":
            from trtbench.cpu import native_bf16

            if native_bf16() is None:
                # Paddle then simulates BF16 on plain AVX-512 (or refuses it without AVX-512): not
                # what a BF16 number should measure.
                return False, ("Paddle's oneDNN BF16 runs natively only with avx512_bf16 or AMX, and this CPU "
                               "has neither (Paddle would simulate it)")
        return ok, why

    def device(self) -> str:
        """The CPU's model name."""
        return envinfo.cpu_name()

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """A predictor for the Paddle model of the export at ``onnx_path``. Nothing is cached in
        ``cache_dir``: Paddle Inference has no serialized engine, its passes run at every build."""
        from trtbench.export import captured_native_output, last_error_line, paddle_model_for

        ok, why = self.runs(precision)
        if not ok:
            raise TrtbenchError(f"backend {self.name} does not run {precision} here: {why}")
        inference = _inference()
        started = time.perf_counter()
        program, params = paddle_model_for(Path(onnx_path))
        config = inference.Config(str(program), str(params))
        config.disable_gpu()
        config.enable_mkldnn()
        config.set_cpu_math_library_num_threads(self.config.thread_count())
        if precision == "bf16":
            config.enable_mkldnn_bfloat16()
        config.switch_ir_optim(True)
        config.disable_glog_info()
        # Paddle saves the program its passes produced; read once, it says which kernels run in BF16.
        with tempfile.TemporaryDirectory(prefix="trtbench-paddle-optim-") as optim:
            config.set_optim_cache_dir(optim)
            config.enable_save_optim_model(True)
            with captured_native_output() as log:
                try:
                    predictor = inference.create_predictor(config)
                except Exception as exc:  # Paddle raises many types; its native log says more
                    detail = last_error_line(log()) or f"{type(exc).__name__}: {exc}"
                    raise TrtbenchError(f"Paddle Inference could not load {program.name}: {detail}") from None
            found = program_precision(Path(optim) / OPTIMIZED_PROGRAM)
        info = {"program": str(program), "program_sha256": artifacts.current_sha256(program),
                "params": str(params), "params_sha256": artifacts.current_sha256(params), "bf16": precision == "bf16",
                "paddlepaddle": envinfo.package_version("paddlepaddle"), **found}
        return PaddleInferenceEngine(predictor, config, batch, time.perf_counter() - started, info, found)


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
