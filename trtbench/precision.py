"""Graphs for each precision: FP32 is the export itself; FP16 is converted once and cached beside it.

TensorRT 11 builds strongly typed networks only, so FP16 there means an FP16 graph; ONNX Runtime
runs the same graph, which keeps both backends on the same model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from trtbench import envinfo
from trtbench.artifacts import atomic_write_json, read_json, sha256_file, temporary_path
from trtbench.errors import TrtbenchError

PRECISIONS = ("fp32", "fp16")
GRAPH_SCHEMA = "trtbench.graph/1"


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


def graph_for(fp32_path: Path, precision: str, source_sha256: str | None = None) -> Path:
    """The graph to run at ``precision``, made and cached on first use, redone when its source changed."""
    if precision not in PRECISIONS:
        raise TrtbenchError(f"unknown precision '{precision}': choose from {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return fp32_path
    target = graph_path(fp32_path, precision)
    source_sha256 = source_sha256 or sha256_file(fp32_path)
    request = {"schema": GRAPH_SCHEMA, "precision": precision, "source_sha256": source_sha256,
               "converter": envinfo.package_version("onnxconverter-common")}
    meta_file = target.with_name(target.name + ".json")
    meta = read_json(meta_file)
    if isinstance(meta, dict) and all(meta.get(k) == v for k, v in request.items()) and target.is_file():
        if target.stat().st_size == meta.get("bytes"):
            return target
    meta_file.unlink(missing_ok=True)
    _write_fp16(fp32_path, target)
    atomic_write_json(meta_file, {**request, "bytes": target.stat().st_size, "sha256": sha256_file(target)})
    return target


def _write_fp16(source: Path, target: Path) -> None:
    """An FP16 copy of ``source`` whose inputs and outputs stay FP32 (callers feed FP32)."""
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(source))
    with warnings.catch_warnings():
        # The converter warns once per weight it clamps to FP16's range; that is what FP16 means.
        warnings.simplefilter("ignore", UserWarning)
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    tmp = temporary_path(target)
    try:
        onnx.save(converted, str(tmp))
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
