import numpy as np
import pytest

from trtbench.models import zoo
from trtbench.models.architectures import build_model, count_macs, random_state_dict, trainable_parameters
from trtbench.models.figures import MISMATCH


@pytest.fixture(scope="module", params=zoo.PAGE_ORDER)
def built(request):
    variant = zoo.get_variant(request.param)
    return variant, build_model(variant)


def test_trainable_parameters_equal_paddleclas_classes(built):
    variant, model = built
    assert trainable_parameters(model) == variant.exact_params


def test_flops_match_the_page_except_where_the_page_is_wrong(built):
    variant, model = built
    flops_g = 2 * count_macs(model) / 1e9
    within = abs(flops_g - variant.ref_flops_g) <= MISMATCH * variant.ref_flops_g
    assert within != bool(variant.page_flops_note), (variant.name, flops_g)


def test_state_dict_keys_follow_paddleclas_naming(built):
    variant, model = built
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    fc_in = 2048 if variant.bottleneck else 512
    if variant.weight_naming == "vc":
        assert shapes["conv1_1._conv.weight"] == (32, 3, 3, 3)
        assert shapes["conv1_3._batch_norm._variance"] == (64,)
        assert shapes["bb_3_0.short._conv.weight"] == (2048, 1024, 1, 1)
        assert shapes["out.weight"] == (fc_in, 1000)
        assert not any(k.startswith(("stem.", "blocks.", "fc.")) for k in shapes)
    else:
        first = (64, 3, 7, 7) if variant.stem == "vb" else (32, 3, 3, 3)
        assert shapes["stem.0.conv.weight"] == first
        assert shapes["stem.0.bn._mean"] == (first[0],)
        assert "blocks.0.conv0.conv.weight" in shapes
        # PaddleClas projects the first block of every stage, 64->64 included.
        assert "blocks.0.short.conv.weight" in shapes
        assert "blocks.1.short.conv.weight" not in shapes
        assert shapes["fc.weight"] == (fc_in, 1000)
        assert not any(k.startswith(("conv1_", "bb_", "out.")) for k in shapes)
    blocks = sum(variant.block_depths)
    key = "bb_{}_0.conv0._conv.weight" if variant.weight_naming == "vc" else "blocks.{}.conv0.conv.weight"
    assert sum(1 for k in shapes if k.endswith(("conv0.conv.weight", "conv0._conv.weight"))) == blocks
    assert key.format(0) in shapes


def test_vd_shortcut_pools_before_its_projection():
    model = build_model(zoo.get_variant("ResNet50_vd"))
    first_stage, second_stage = model.blocks[0].short, model.blocks[3].short
    assert not first_stage.pool_first and second_stage.pool_first
    assert second_stage.conv._stride == [1, 1]
    plain = build_model(zoo.get_variant("ResNet50")).blocks[3].short
    assert not plain.pool_first and plain.conv._stride == [2, 2]


def test_random_weights_are_seeded_and_bn_statistics_are_not_identity():
    model = build_model(zoo.get_variant("ResNet18"))
    a, b, c = (random_state_dict(model, s) for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["fc.weight"], c["fc.weight"])
    assert np.abs(a["stem.0.bn._mean"]).max() > 0.05
    assert np.abs(a["stem.0.bn._variance"] - 1).max() > 0.1
