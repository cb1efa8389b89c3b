"""The 14 ResNet variants of PaddleClas's "ResNet and Vd" page: registry, architecture and page figures.

Light on purpose: nothing here imports Paddle. ``trtbench.models.architectures`` builds the layers.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field

from trtbench.errors import TrtbenchError

PAGE_BATCHES = (1, 4, 8, 32)


@dataclass(frozen=True)
class Variant:
    """One model of the page: how to build it and what the page says about it."""

    name: str
    depth: int
    stem: str  # "vb": one 7x7/2 conv; "vc"/"vd": three 3x3 convs
    shortcut: str  # "conv": 1x1 conv with stride; "avgpool": 2x2 avg-pool then 1x1 conv (vd)
    weight_naming: str  # "legendary" (stem.0.conv.weight) or "vc" (conv1_1._conv.weight)
    top1: float
    top5: float
    ref_top1: float | None
    ref_top5: float | None
    ref_flops_g: float
    ref_params_m: float
    page_fp16_ms: dict[int, float] = field(default_factory=dict)
    page_fp32_ms: dict[int, float] = field(default_factory=dict)
    exact_params: int = 0  # trainable parameters of PaddleClas's own class
    page_flops_note: str = ""

    @property
    def block_depths(self) -> tuple[int, int, int, int]:
        """Blocks per stage."""
        return DEPTHS[self.depth]

    @property
    def bottleneck(self) -> bool:
        """True for 50 layers and deeper (1x1-3x3-1x1 blocks), False for basic blocks."""
        return self.depth >= 50

    def page_latency_ms(self, precision: str, batch: int) -> float | None:
        """The page's 2020 latency for this precision and batch, if it lists one."""
        table = {"fp16": self.page_fp16_ms, "fp32": self.page_fp32_ms}.get(precision, {})
        return table.get(batch)


DEPTHS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 12, 48, 3),
}

_ARCH = {"vb": ("vb", "conv", "legendary"), "vc": ("vc", "conv", "vc"), "vd": ("vd", "avgpool", "legendary")}

# name, depth, arch, top1, top5, ref top1, ref top5, FLOPS (G), params (M), exact params,
# FP16 ms at 1/4/8/32, FP32 ms at 1/4/8/32 -- all as the page lists them.
_PAGE = [
    ("ResNet18", 18, "vb", 0.710, 0.899, 0.696, 0.891, 3.660, 11.690, 11_693_736,
     (0.966, 1.076, 1.263, 2.656), (1.127, 1.428, 2.352, 7.780)),
    ("ResNet18_vd", 18, "vd", 0.723, 0.908, None, None, 4.140, 11.710, 11_712_968,
     (1.002, 1.163, 1.392, 3.045), (1.142, 1.532, 2.584, 8.441)),
    ("ResNet34", 34, "vb", 0.746, 0.921, 0.732, 0.913, 7.360, 21.800, 21_801_896,
     (1.798, 1.959, 2.269, 4.716), (1.936, 2.409, 4.197, 14.442)),
    ("ResNet34_vd", 34, "vd", 0.760, 0.930, None, None, 7.390, 21.820, 21_821_128,
     (1.839, 2.011, 2.482, 4.767), (1.948, 2.526, 4.403, 15.133)),
    ("ResNet50", 50, "vb", 0.765, 0.930, 0.760, 0.930, 8.190, 25.560, 25_557_032,
     (1.892, 2.146, 2.692, 6.411), (2.630, 4.393, 6.491, 20.449)),
    ("ResNet50_vc", 50, "vc", 0.784, 0.940, None, None, 8.670, 25.580, 25_576_264,
     (1.903, 2.094, 2.677, 6.096), (2.728, 4.413, 6.618, 21.183)),
    ("ResNet50_vd", 50, "vd", 0.791, 0.944, 0.792, 0.946, 8.670, 25.580, 25_576_264,
     (1.918, 2.273, 2.833, 6.978), (2.649, 4.522, 6.771, 21.552)),
    ("ResNet50_vd_v2", 50, "vd", 0.798, 0.949, None, None, 8.670, 25.580, 25_576_264,
     (1.918, 2.273, 2.833, 6.978), (2.649, 4.522, 6.771, 21.552)),
    ("ResNet101", 101, "vb", 0.776, 0.936, 0.776, 0.938, 15.520, 44.550, 44_549_160,
     (3.790, 4.128, 4.789, 10.913), (4.747, 8.015, 11.555, 36.739)),
    ("ResNet101_vd", 101, "vd", 0.802, 0.950, None, None, 16.100, 44.570, 44_568_392,
     (3.853, 4.229, 5.001, 11.437), (4.735, 8.111, 11.820, 37.155)),
    ("ResNet152", 152, "vb", 0.783, 0.940, 0.778, 0.938, 23.050, 60.190, 60_192_808,
     (5.523, 5.871, 6.710, 15.258), (6.618, 11.471, 16.580, 51.792)),
    ("ResNet152_vd", 152, "vd", 0.806, 0.953, None, None, 23.530, 60.210, 60_212_040,
     (5.503, 6.003, 7.001, 15.716), (6.626, 11.613, 16.843, 53.645)),
    ("ResNet200_vd", 200, "vd", 0.809, 0.953, None, None, 30.530, 74.740, 74_738_504,
     (7.270, 7.595, 8.802, 19.516), (8.540, 14.770, 21.554, 69.053)),
    ("ResNet50_vd_ssld", 50, "vd", 0.824, 0.961, None, None, 8.670, 25.580, 25_576_264,
     (1.918, 2.273, 2.833, 6.978), (2.649, 4.522, 6.771, 21.552)),
]

# Where the page's own figure looks wrong, said out loud rather than hidden.
_PAGE_NOTES = {
    "ResNet34_vd": "the page lists 7.39 G, below ResNet34's 7.36 G plus the vd stem's 0.48 G "
    "(as ResNet18_vd and ResNet50_vd add it): likely a typo on the page",
}


def _variant(row) -> Variant:
    name, depth, arch, top1, top5, rt1, rt5, flops, params, exact, fp16, fp32 = row
    stem, shortcut, naming = _ARCH[arch]
    return Variant(
        name=name, depth=depth, stem=stem, shortcut=shortcut, weight_naming=naming,
        top1=top1, top5=top5, ref_top1=rt1, ref_top5=rt5, ref_flops_g=flops, ref_params_m=params,
        page_fp16_ms=dict(zip(PAGE_BATCHES, fp16, strict=True)),
        page_fp32_ms=dict(zip(PAGE_BATCHES, fp32, strict=True)),
        exact_params=exact, page_flops_note=_PAGE_NOTES.get(name, ""),
    )


VARIANTS: dict[str, Variant] = {row[0]: _variant(row) for row in _PAGE}
PAGE_ORDER: tuple[str, ...] = tuple(VARIANTS)


def list_variants(pattern: str = "*") -> list[str]:
    """Variant names matching a shell-style pattern, in the page's order."""
    return [name for name in PAGE_ORDER if fnmatch.fnmatchcase(name, pattern)]


def get_variant(name: str) -> Variant:
    """The variant called ``name``; an unknown name suggests the closest ones."""
    if name in VARIANTS:
        return VARIANTS[name]
    folded = {n.lower(): n for n in PAGE_ORDER}
    if name.lower() in folded:
        return VARIANTS[folded[name.lower()]]
    close = difflib.get_close_matches(name, PAGE_ORDER, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "run `trtbench models` for the list"
    raise TrtbenchError(f"unknown model '{name}': {hint}")


def model_order_key(name: str) -> tuple[int, str]:
    """Sort key putting page variants in the page's order and anything else after them."""
    return (PAGE_ORDER.index(name), name) if name in VARIANTS else (len(PAGE_ORDER), name)
