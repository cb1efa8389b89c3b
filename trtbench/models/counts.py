"""MACs and trainable parameters of a variant worked out from its description, without building it.

``trtbench models`` and ``trtbench report`` show these figures for every variant; building 14 Paddle
models to count them took over ten seconds, this takes microseconds. The walk below follows
``trtbench.models.architectures`` layer by layer, and tests/models/test_counts.py holds the two to the same numbers,
so a change to one that the other does not follow fails there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trtbench.graphs.inputs import INPUT_SHAPE
from trtbench.models.zoo import Variant

CLASS_NUM = 1000  # architectures.ResNet's default head


@dataclass(frozen=True)
class ArchitectureCounts:
    """What one forward pass of a variant costs at batch 1, and what it trains."""

    macs: int  # multiply-accumulates of every Conv2D and Linear
    params: int  # conv weights, BN scale and shift, fc weight and bias (BN running statistics excluded)
    convs: int  # Conv2D layers


def conv_output(size: int, kernel: int, stride: int, padding: int) -> int:
    """Side of a conv's (or floor-mode pool's) output for a square input of side ``size``."""
    return (size + 2 * padding - kernel) // stride + 1


def ceil_pool_output(size: int, kernel: int, stride: int) -> int:
    """Side of an unpadded ceil-mode pool's output (the vd shortcut's 2x2 average pool).

    Without padding the last window always starts inside the input, so Paddle's rule that drops a
    window starting in the padding never applies and plain ceil division is exact.
    """
    return math.ceil((size - kernel) / stride) + 1


class _Tally:
    """Running totals of a walk through the network, layer by layer, in forward order."""

    def __init__(self):
        self.macs = 0
        self.params = 0
        self.convs = 0

    def conv_bn(self, size: int, in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> int:
        """Add a bias-free conv and its batch norm; returns the output side."""
        # Same padding rule as architectures.ConvBN, so odd kernels keep the side at stride 1.
        out = conv_output(size, kernel, stride, (kernel - 1) // 2)
        self.macs += out * out * out_ch * in_ch * kernel * kernel
        self.params += out_ch * in_ch * kernel * kernel + 2 * out_ch
        self.convs += 1
        return out

    def linear(self, in_features: int, out_features: int) -> None:
        """Add a fully connected layer with bias, applied to one pooled vector."""
        self.macs += in_features * out_features
        self.params += in_features * out_features + out_features

    def block(self, size: int, in_ch: int, width: int, stride: int, bottleneck: bool,
              project: bool, pooled_shortcut: bool) -> tuple[int, int]:
        """Add one residual block and its shortcut; returns (output side, output channels)."""
        if bottleneck:
            out_ch = width * 4
            # PaddleClas strides the 3x3 of a bottleneck, not its first 1x1.
            main = self.conv_bn(size, in_ch, width, 1)
            main = self.conv_bn(main, width, width, 3, stride)
            main = self.conv_bn(main, width, out_ch, 1)
        else:
            out_ch = width
            main = self.conv_bn(size, in_ch, width, 3, stride)
            main = self.conv_bn(main, width, width, 3)
        if project:
            if pooled_shortcut:
                # vd: the pool does the downsampling and the 1x1 after it runs at stride 1.
                short = self.conv_bn(ceil_pool_output(size, 2, stride), in_ch, out_ch, 1)
            else:
                short = self.conv_bn(size, in_ch, out_ch, 1, stride)
            if short != main:
                raise ValueError(f"shortcut side {short} != main path side {main}: the residual add cannot work")
        return main, out_ch


def architecture_counts(variant: Variant, size: int = INPUT_SHAPE[1], class_num: int = CLASS_NUM) -> ArchitectureCounts:
    """MACs at 1x3x``size``x``size`` and trainable parameters of ``variant``, as
    ``architectures.count_macs`` and ``architectures.trainable_parameters`` count its Paddle model.
    """
    tally = _Tally()
    channels = INPUT_SHAPE[0]
    if variant.stem == "vb":
        stem = [(64, 7, 2)]
    else:
        stem = [(32, 3, 2), (32, 3, 1), (64, 3, 1)]
    for out_ch, kernel, stride in stem:
        size = tally.conv_bn(size, channels, out_ch, kernel, stride)
        channels = out_ch
    size = conv_output(size, kernel=3, stride=2, padding=1)  # the max pool after the stem
    for stage, count in enumerate(variant.block_depths):
        for index in range(count):
            first = index == 0
            # Every stage but the first halves the side in its first block; every stage's first
            # block projects its shortcut, even ResNet18/34's 64->64 one (as PaddleClas does).
            size, channels = tally.block(
                size, channels, 64 * 2**stage, stride=2 if first and stage > 0 else 1,
                bottleneck=variant.bottleneck, project=first,
                pooled_shortcut=variant.shortcut == "avgpool" and stage > 0)
    # The global average pool leaves one value a channel, whatever the side.
    tally.linear(channels, class_num)
    return ArchitectureCounts(macs=tally.macs, params=tally.params, convs=tally.convs)
