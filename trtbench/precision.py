"""Graphs for each precision: FP32 is the export itself; FP16 and INT8 are made once, cached beside it.

TensorRT 11 builds strongly typed networks only, so FP16 there means an FP16 graph and INT8 means
explicit quantization (Q/DQ nodes); ONNX Runtime runs the same graphs, which keeps both backends on
the same model.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

from trtbench import envinfo
from trtbench.artifacts import sha256_file
from trtbench.errors import TrtbenchError
from trtbench.inputs import CALIBRATION_SEED, seeded_input

PRECISIONS = ("fp32", "fp16", "int8")
CALIBRATION_IMAGES = 32  # images (or random inputs) the INT8 ranges are taken from
GRAPH_KIND = "graph"


def parse_precisions(text: str) -> list[str]:
    """'fp16,fp32' -> ['fp16', 'fp32']; anything else is a one-line error."""
    items = [item.strip().lower() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise TrtbenchError(f"bad --precision '{text}': give a comma-separated list of {', '.join(PRECISIONS)}")
    unknown = [item for item in items if item not in PRECISIONS]
    if unknown:
        raise TrtbenchError(f"unknown precision '{unknown[0]}': choose from {', '.join(PRECISIONS)}")
    return list(dict.fromkeys(items))


def graph_path(fp32_path: Path, precision: str) -> Path:
    """Where the graph of ``precision`` for the export ``fp32_path`` lives."""
    if precision == "fp32":
        return fp32_path
    return fp32_path.with_name(f"{fp32_path.stem}.{precision}.onnx")


@dataclass(frozen=True)
class Calibration:
    """Where INT8 activation ranges come from: preprocessed images, or seeded random inputs."""

    images: tuple[Path, ...] = ()
    seed: int = CALIBRATION_SEED

    @property
    def random(self) -> bool:
        return not self.images

    def key(self) -> str:
        """Identifies the calibration data, for the cache."""
        if self.random:
            return f"random inputs, seed {self.seed}, {CALIBRATION_IMAGES} samples"
        digest = hashlib.sha256()
        for path in self.images:
            digest.update(str(path).encode())
            digest.update(sha256_file(path).encode())
        return f"{len(self.images)} images, sha256 {digest.hexdigest()}"

    def inputs(self):
        """One (1, 3, 224, 224) input at a time."""
        if self.random:
            yield from (sample[None] for sample in seeded_input(CALIBRATION_IMAGES, self.seed))
            return
        from trtbench.preprocess import load_image

        for path in self.images:
            yield load_image(path)[None]


def calibration_from(folder: Path | None, seed: int = CALIBRATION_SEED) -> Calibration:
    """The first CALIBRATION_IMAGES images under ``folder`` (sorted), or random inputs when None."""
    if folder is None:
        return Calibration(seed=seed)
    from trtbench.preprocess import IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise TrtbenchError(f"calibration folder not found: {folder}")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:CALIBRATION_IMAGES]
    if not images:
        raise TrtbenchError(f"{folder} holds no images to calibrate INT8 with")
    return Calibration(images=tuple(images), seed=seed)


def source_sha256(path: Path) -> str:
    """sha256 of the graph a derived graph or an engine is made from (checked against its file)."""
    from trtbench import artifacts

    return artifacts.current_sha256(Path(path))


def graph_for(fp32_path: Path, precision: str, calibration: Calibration | None = None) -> Path:
    """The graph to run at ``precision``, made and cached on first use, remade when its inputs changed."""
    from trtbench import artifacts

    if precision not in PRECISIONS:
        raise TrtbenchError(f"unknown precision '{precision}': choose from {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return fp32_path
    key = {"precision": precision, "source_sha256": source_sha256(fp32_path)}
    if precision == "fp16":
        key["converter"] = f"onnxconverter-common {envinfo.package_version('onnxconverter-common')}"
        made = artifacts.ensure(graph_path(fp32_path, precision), GRAPH_KIND, key,
                                lambda tmp: _write_fp16(fp32_path, tmp))
    else:
        calibration = calibration or Calibration()
        key["quantizer"] = f"onnxruntime {envinfo.package_version('onnxruntime')}"
        key["calibration"] = calibration.key()
        made = artifacts.ensure(graph_path(fp32_path, precision), GRAPH_KIND, key,
                                lambda tmp: _write_int8(fp32_path, tmp, calibration))
    return made.path


def _write_fp16(source: Path, target: Path) -> None:
    """An FP16 copy of ``source`` whose inputs and outputs stay FP32 (callers feed FP32)."""
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(source))
    with warnings.catch_warnings():
        # The converter warns once per weight it clamps to FP16's range; that is what FP16 means.
        warnings.simplefilter("ignore", UserWarning)
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(converted, str(target))


def _write_int8(source: Path, target: Path, calibration: Calibration) -> None:
    """A Q/DQ graph: symmetric INT8, per-channel weights, activation ranges from ``calibration``.

    Symmetric ranges are what TensorRT's explicit quantization expects.
    """
    import logging

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feed = ({"x": data} for data in calibration.inputs())

        def get_next(self):
            return next(self.feed, None)

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantizer logs advice on every call
    try:
        quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "MatMul", "Add"], calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    finally:
        quiet.setLevel(level)
