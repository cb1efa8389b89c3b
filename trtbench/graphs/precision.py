"""Graphs for each precision: FP32 is the export itself; FP16 and INT8 are made once, cached beside it.

TensorRT 11 builds strongly typed networks only, so FP16 there means an FP16 graph and INT8 means
explicit quantization (Q/DQ nodes). INT8 comes in forms of one recipe (BatchNorm folded into
the Convs, per-channel symmetric int8 weights, ranges from the same calibration data), each laid
out the way its runtime turns Q/DQ into integer kernels: "tensorrt" (symmetric int8 activations,
nothing quantized between a Conv and what TensorRT fuses into it, the rest FP32, for TensorRT 10's
weakly typed build, which may still pick FP16 for the rest), "tensorrt-fp16" (the same Q/DQ, the
rest an FP16 graph: NVIDIA's recommendation for a strongly typed build) and "onnxruntime"
(asymmetric uint8 activations with Q/DQ around every Conv, which ONNX Runtime's CPU provider fuses
into QLinearConv; onnxruntime 1.32 runs every Conv of the TensorRT form in FP32 between Q/DQ nodes).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trtbench import envinfo
from trtbench.errors import TrtbenchError
from trtbench.graphs import int8
from trtbench.graphs.inputs import CALIBRATION_SEED, seeded_input
from trtbench.store import artifacts
from trtbench.store.artifacts import sha256_file

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
CALIBRATION_IMAGES = 32  # images (or random inputs) the INT8 ranges are taken from
GRAPH_KIND = "graph"
#: the layouts of an INT8 graph: for TensorRT's explicit quantization (the rest in FP32 or in FP16), for
#: ONNX Runtime's CPU fusions
INT8_FORMS = ("tensorrt", "tensorrt-fp16", "onnxruntime")

if TYPE_CHECKING:
    pass


def parse_precisions(text: str) -> list[str]:
    """'fp16,fp32' -> ['fp16', 'fp32']; 'native' stays as it is (the session expands it); anything
    else is a one-line error."""
    if text.strip().lower() == "native":
        return ["native"]
    items = [item.strip().lower() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise TrtbenchError(f"bad --precision '{text}': give a comma-separated list of {', '.join(PRECISIONS)}")
    unknown = [item for item in items if item not in PRECISIONS]
    if unknown:
        raise TrtbenchError(f"unknown precision '{unknown[0]}': choose from {', '.join(PRECISIONS)} "
                            "(or native alone)")
    return list(dict.fromkeys(items))


def graph_path(fp32_path: Path, precision: str, form: str = "tensorrt") -> Path:
    """Where the graph of ``precision`` (INT8: in ``form``) for the export ``fp32_path`` lives."""
    if precision == "fp32":
        return fp32_path
    suffix = {"onnxruntime": "int8-ort", "tensorrt-fp16": "int8-fp16"}.get(form, precision) \
        if precision == "int8" else precision
    return fp32_path.with_name(f"{fp32_path.stem}.{suffix}.onnx")


@dataclass(frozen=True)
class Calibration:
    """Where INT8 activation ranges come from: preprocessed images, or seeded random inputs."""

    images: tuple[Path, ...] = ()
    seed: int = CALIBRATION_SEED
    #: the key, where it was worked out elsewhere (a cluster node, whose disk lacks the images)
    known_key: str = ""

    @property
    def random(self) -> bool:
        return not self.images

    def key(self) -> str:
        """Identifies the calibration data, for the cache."""
        if self.known_key:
            return self.known_key
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
        from trtbench.graphs.preprocess import UnreadableImage, load_image

        read = 0
        for path in self.images:
            try:
                image = load_image(path)
            except UnreadableImage:  # a damaged file among the calibration images is left out
                continue
            read += 1
            yield image[None]
        if not read:
            raise TrtbenchError(f"none of the {len(self.images)} calibration images can be read (first: "
                                f"{self.images[0]}): give --calib a folder of images that open")


def calibration_from(folder: Path | None, seed: int = CALIBRATION_SEED) -> Calibration:
    """The first CALIBRATION_IMAGES images under ``folder`` (sorted), or random inputs when None."""
    if folder is None:
        return Calibration(seed=seed)
    from trtbench.graphs.preprocess import IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.exists():
        raise TrtbenchError(f"calibration folder not found: {folder}")
    if not folder.is_dir():
        raise TrtbenchError(f"--calib {folder} is not a folder: give a folder of images to calibrate INT8 with")
    # regular files only: hashing or decoding a FIFO named x.jpg would wait forever
    images = sorted(p for p in folder.rglob("*")
                    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:CALIBRATION_IMAGES]
    if not images:
        raise TrtbenchError(f"{folder} holds no images to calibrate INT8 with")
    return Calibration(images=tuple(images), seed=seed)


def source_sha256(path: Path) -> str:
    """sha256 of the graph a derived graph or an engine is made from (checked against its file)."""
    return artifacts.current_sha256(Path(path))


def graph_for(fp32_path: Path, precision: str, calibration: Calibration | None = None,
              form: str = "tensorrt") -> Path:
    """The graph to run at ``precision``, made and cached on first use, remade when its inputs changed.

    ``form`` picks the INT8 layout (``INT8_FORMS``): "tensorrt" (the rest FP32) for TensorRT 10's
    weakly typed build, "tensorrt-fp16" (the rest FP16) for a strongly typed one, "onnxruntime" for
    ONNX Runtime's CPU provider; other precisions have one form.
    """
    if precision not in PRECISIONS:
        raise TrtbenchError(f"unknown precision '{precision}': choose from {', '.join(PRECISIONS)}")
    if form not in INT8_FORMS:
        raise TrtbenchError(f"unknown INT8 form '{form}': choose from {', '.join(INT8_FORMS)}")
    if precision in ("fp32", "bf16"):
        return fp32_path  # BF16 is the engine's choice (OpenVINO, oneDNN): it reads the FP32 graph
    key = {"precision": precision, "source_sha256": source_sha256(fp32_path)}
    if precision == "fp16":
        key["converter"] = f"onnxconverter-common {envinfo.package_version('onnxconverter-common')}"
        made = artifacts.ensure(graph_path(fp32_path, precision), GRAPH_KIND, key,
                                lambda tmp: _write_fp16(fp32_path, tmp))
    elif form == "onnxruntime":
        ranges_from = calibration or Calibration()
        # this form lives in a file of its own, and its key names it
        key.update({"form": form, "method": int8.INT8_ORT_METHOD,
                    "quantizer": f"onnxruntime {envinfo.package_version('onnxruntime')}",
                    "calibration": ranges_from.key()})
        made = artifacts.ensure(graph_path(fp32_path, precision, form), GRAPH_KIND, key,
                                lambda tmp: int8.write_onnxruntime_form(fp32_path, tmp, ranges_from))
    else:
        calibration = calibration or Calibration()
        key["method"] = int8.INT8_METHOD
        # ONNX Runtime runs the FP32 graph the activation ranges are read from
        key["calibrator"] = f"onnxruntime {envinfo.package_version('onnxruntime')}"
        key["calibration"] = calibration.key()
        if form == "tensorrt-fp16":
            key.update({"form": form, "rest": "fp16",
                        "converter": f"onnxconverter-common {envinfo.package_version('onnxconverter-common')}"})
        half_rest = form == "tensorrt-fp16"
        made = artifacts.ensure(graph_path(fp32_path, precision, form), GRAPH_KIND, key,
                                lambda tmp: int8.write_tensorrt_form(fp32_path, tmp, calibration, half_rest))
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
