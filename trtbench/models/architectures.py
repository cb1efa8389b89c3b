"""Paddle layers for the zoo's variants, matching PaddleClas's classes parameter for parameter.

The state-dict keys follow PaddleClas: legendary models (``stem.0.conv.weight``,
``blocks.3.short.bn._mean``, ``fc.weight``) and the older ResNet50_vc naming
(``conv1_1._conv.weight``, ``bb_0_0.short._batch_norm._variance``, ``out.weight``), so a
PaddleClas pretrained .pdparams loads by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trtbench.graphs.inputs import INPUT_SHAPE
from trtbench.lazy import import_paddle
from trtbench.models.zoo import Variant

if TYPE_CHECKING:
    import paddle
    from paddle import nn
else:
    # At run time through import_paddle, which silences Paddle's import-time noise.
    paddle = import_paddle()
    nn = paddle.nn

_NAMES = {"legendary": ("conv", "bn"), "vc": ("_conv", "_batch_norm")}


class ConvBN(nn.Layer):
    """Conv (no bias) + batch norm [+ ReLU], optionally after a 2x2 average pool (vd shortcut)."""

    def __init__(self, naming, in_ch, out_ch, kernel, stride=1, relu=False, pool_first=False):
        super().__init__()
        self._conv_name, self._bn_name = _NAMES[naming]
        self.pool_first = pool_first
        if pool_first:
            # vd: downsample by average pooling, then a stride-1 projection.
            self.avg_pool = nn.AvgPool2D(kernel_size=2, stride=stride, ceil_mode=True, exclusive=True)
            stride = 1
        conv = nn.Conv2D(in_ch, out_ch, kernel, stride=stride, padding=(kernel - 1) // 2, bias_attr=False)
        setattr(self, self._conv_name, conv)
        setattr(self, self._bn_name, nn.BatchNorm2D(out_ch))
        self.relu = relu

    @paddle.jit.not_to_static  # plain Python control flow: no AST conversion needed (saves seconds)
    def forward(self, x):
        if self.pool_first:
            x = self.avg_pool(x)
        x = getattr(self, self._conv_name)(x)
        x = getattr(self, self._bn_name)(x)
        if self.relu:
            x = nn.functional.relu(x)
        return x


class Block(nn.Layer):
    """A basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1) residual block with its shortcut."""

    def __init__(self, naming, bottleneck, in_ch, width, stride, project, pooled_shortcut):
        super().__init__()
        out_ch = width * 4 if bottleneck else width
        if bottleneck:
            self.conv0 = ConvBN(naming, in_ch, width, 1, relu=True)
            self.conv1 = ConvBN(naming, width, width, 3, stride=stride, relu=True)
            self.conv2 = ConvBN(naming, width, out_ch, 1)
        else:
            self.conv0 = ConvBN(naming, in_ch, width, 3, stride=stride, relu=True)
            self.conv1 = ConvBN(naming, width, width, 3)
        self.bottleneck = bottleneck
        self.project = project
        if project:
            self.short = ConvBN(naming, in_ch, out_ch, 1, stride=stride, pool_first=pooled_shortcut)

    @paddle.jit.not_to_static
    def forward(self, x):
        y = self.conv1(self.conv0(x))
        if self.bottleneck:
            y = self.conv2(y)
        short = self.short(x) if self.project else x
        return nn.functional.relu(y + short)


class ResNet(nn.Layer):
    """A PaddleClas ResNet variant as described by a ``Variant``."""

    def __init__(self, variant: Variant, class_num: int = 1000):
        super().__init__()
        naming = variant.weight_naming
        if variant.stem == "vb":
            stem_convs = [(3, 64, 7, 2)]
        else:
            stem_convs = [(3, 32, 3, 2), (32, 32, 3, 1), (32, 64, 3, 1)]
        stem = [ConvBN(naming, i, o, k, stride=s, relu=True) for i, o, k, s in stem_convs]
        expansion = 4 if variant.bottleneck else 1
        blocks = []
        in_ch = 64
        for stage, count in enumerate(variant.block_depths):
            width = 64 * 2**stage
            for i in range(count):
                stride = 2 if i == 0 and stage > 0 else 1
                # PaddleClas projects the first block of every stage, even 64->64 in ResNet18/34.
                blocks.append(Block(naming, variant.bottleneck, in_ch, width, stride, project=i == 0,
                                    pooled_shortcut=variant.shortcut == "avgpool" and stage > 0))
                in_ch = width * expansion
        fc = nn.Linear(in_ch, class_num)
        self.max_pool = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        if naming == "vc":
            for index, layer in enumerate(stem):
                self.add_sublayer(f"conv1_{index + 1}", layer)
            counts = variant.block_depths
            names = [f"bb_{s}_{i}" for s in range(4) for i in range(counts[s])]
            for name, block in zip(names, blocks, strict=True):
                self.add_sublayer(name, block)
            self.out = fc
            self._fc_name = "out"
        else:
            self.stem = nn.Sequential(*stem)
            self.blocks = nn.Sequential(*blocks)
            self.fc = fc
            self._fc_name = "fc"
        # Plain lists (not registered again) so forward walks either naming the same way.
        self._stem, self._blocks = stem, blocks

    def forward(self, x):
        for layer in self._stem:
            x = layer(x)
        x = self.max_pool(x)
        for block in self._blocks:
            x = block(x)
        x = paddle.flatten(self.avg_pool(x), 1)
        return getattr(self, self._fc_name)(x)


def build_model(variant: Variant) -> ResNet:
    """The Paddle layer for ``variant`` in eval mode, with Paddle's default initialization."""
    model = ResNet(variant)
    model.eval()
    return model


def trainable_parameters(model: nn.Layer) -> int:
    """Number of trainable parameters (BN running statistics excluded), as PaddleClas counts them."""
    return sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)


def random_state_dict(model: nn.Layer, seed: int) -> dict[str, np.ndarray]:
    """Deterministic weights for ``model``: He-scaled convs and BN statistics far from identity.

    Non-trivial BN statistics make a wrong key mapping or a dropped BN change the output, so an
    export check cannot pass by accident.
    """
    rng = np.random.default_rng(seed)
    state = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if key.endswith("_mean"):
            value = rng.normal(0.0, 0.1, shape)
        elif key.endswith("_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif len(shape) == 2:
            value = rng.uniform(-1.0, 1.0, shape) / np.sqrt(shape[0])
        elif key.endswith("weight"):
            value = rng.uniform(0.3, 0.6, shape)
        else:
            value = rng.normal(0.0, 0.05, shape)
        state[key] = value.astype(np.float32)
    return state


def count_macs(model: nn.Layer) -> int:
    """Multiply-accumulates of every Conv2D and Linear in one forward pass at 1x3x224x224."""
    total = 0

    def conv_hook(layer, inputs, output):
        nonlocal total
        kernel = layer.weight.shape  # (out, in/groups, kh, kw)
        total += int(np.prod(output.shape[1:])) * int(np.prod(kernel[1:]))

    def linear_hook(layer, inputs, output):
        nonlocal total
        total += int(np.prod(layer.weight.shape))

    hooks = []
    for layer in model.sublayers():
        if isinstance(layer, nn.Conv2D):
            hooks.append(layer.register_forward_post_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_post_hook(linear_hook))
    try:
        with paddle.no_grad():
            model(paddle.zeros([1, *INPUT_SHAPE], dtype="float32"))
    finally:
        for hook in hooks:
            hook.remove()
    return total
