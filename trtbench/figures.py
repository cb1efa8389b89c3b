"""The page's first table (accuracy, FLOPS, parameters) beside the figures trtbench counts itself."""

from __future__ import annotations

from pathlib import Path

from trtbench.artifacts import read_json
from trtbench.export import METADATA_SCHEMA, metadata_path, onnx_path
from trtbench.zoo import Variant

MISMATCH = 0.01  # relative difference above which trtbench's count and the page's disagree
FLOPS_CONVENTION = "FLOPS = 2 x multiply-accumulates of conv and linear layers at 1x3x224x224"


def counted(variant: Variant, models_dir: Path | None) -> tuple[int, int, str]:
    """(MACs, trainable parameters, source): from the exported ONNX graph when there is one."""
    if models_dir is not None:
        meta = read_json(metadata_path(onnx_path(models_dir, variant.name)))
        if isinstance(meta, dict) and meta.get("schema") == METADATA_SCHEMA and "macs" in meta:
            return int(meta["macs"]), int(meta["params"]), "onnx"
    from trtbench.architectures import build_model, count_macs, trainable_parameters

    model = build_model(variant)
    return count_macs(model), trainable_parameters(model), "paddle"


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
