"""The page's first table (accuracy, FLOPS, parameters) beside the figures trtbench counts itself."""

from __future__ import annotations

from pathlib import Path

from trtbench.models.zoo import Variant
from trtbench.store.artifacts import read_metadata

MISMATCH = 0.01  # relative difference above which trtbench's count and the page's disagree
FLOPS_CONVENTION = "FLOPS = 2 x multiply-accumulates of conv and linear layers at 1x3x224x224"


def counted(variant: Variant, models_dir: Path | None) -> tuple[int, int, str]:
    """(MACs, trainable parameters, source): from the exported ONNX graph when there is one,
    else worked out from the variant's architecture (source "architecture")."""
    # Imported here: reports import this module for its constants, and the export module brings numpy.
    from trtbench.models.counts import architecture_counts
    from trtbench.models.export import EXPORT_KIND, onnx_path

    if models_dir is not None:
        # The recorded figures, not a sha256 check of the file: hashing 14 large ONNX files is not
        # worth it for a display, and the counts do not depend on the weights anyway.
        meta = read_metadata(onnx_path(models_dir, variant.name), EXPORT_KIND)
        info = meta.get("info") if meta is not None else None
        if isinstance(info, dict) and "macs" in info:
            return int(info["macs"]), int(info["params"]), "onnx"
    # Arithmetic, not a Paddle model: building 14 of them made `trtbench models` take seconds.
    counts = architecture_counts(variant)
    return counts.macs, counts.params, "architecture"


def model_row(variant: Variant, models_dir: Path | None) -> dict:
    """One row of the models table as a plain dict (also what ``models --json`` prints)."""
    macs, params, source = counted(variant, models_dir)
    flops_g = 2 * macs / 1e9
    params_m = params / 1e6
    return {
        "name": variant.name,
        "top1": variant.top1,
        "top5": variant.top5,
        "ref_top1": variant.ref_top1,
        "ref_top5": variant.ref_top5,
        "ref_flops_g": variant.ref_flops_g,
        "ref_params_m": variant.ref_params_m,
        "flops_g": round(flops_g, 4),
        "params": params,
        "params_m": round(params_m, 3),
        "counted_from": source,
        "flops_disagree": abs(flops_g - variant.ref_flops_g) > MISMATCH * variant.ref_flops_g,
        "params_disagree": abs(params_m - variant.ref_params_m) > MISMATCH * variant.ref_params_m,
        "note": variant.page_flops_note,
    }
