"""trtbench.models.counts: the arithmetic agrees with the Paddle model, the page's exact figures and the ONNX graph."""

import pytest

from trtbench.models import counts, zoo
from trtbench.models.counts import architecture_counts


def test_parameters_match_paddleclas_exact_figures_for_all_14():
    got = {name: architecture_counts(zoo.get_variant(name)).params for name in zoo.PAGE_ORDER}
    assert got == {name: zoo.get_variant(name).exact_params for name in zoo.PAGE_ORDER}


def test_resnet18_macs_by_hand():
    # stem 7x7/2 3->64 at 112x112:                                     118,013,952
    # stage 1 at 56: four 3x3 64->64 + 1x1 64->64 projection:          475,267,072
    # stages 2-4 at 28/14/7: same MACs each (side halves, channels double):
    #   3x3 C->2C + three 3x3 2C->2C + 1x1 C->2C projection = 3 x    411,041,792
    # fc 512->1000:                                                        512,000
    assert architecture_counts(zoo.get_variant("ResNet18")).macs == 1_826_918_400


def test_vd_stem_adds_three_3x3_convs_in_place_of_the_7x7():
    vb, vd = (architecture_counts(zoo.get_variant(n)) for n in ("ResNet18", "ResNet18_vd"))
    side = 112 * 112
    stem_vd = side * 9 * (3 * 32 + 32 * 32 + 32 * 64)
    stem_vb = side * 49 * 3 * 64
    # The avg-pool shortcut's stride-1 1x1 costs what the vb stride-2 1x1 does: only the stem differs.
    assert vd.macs - vb.macs == stem_vd - stem_vb
    assert vd.params - vb.params == (9 * (3 * 32 + 32 * 32 + 32 * 64) + 2 * (32 + 32 + 64)) - (49 * 3 * 64 + 2 * 64)


def test_ceil_mode_pool_keeps_the_last_partial_window():
    assert counts.ceil_pool_output(56, 2, 2) == 28
    assert counts.ceil_pool_output(7, 2, 2) == 4  # floor mode would give 3
    assert counts.conv_output(7, kernel=1, stride=2, padding=0) == 4
    assert counts.conv_output(224, kernel=7, stride=2, padding=3) == 112


def test_input_size_and_classes_change_the_counts():
    variant = zoo.get_variant("ResNet50")
    base = architecture_counts(variant)
    assert architecture_counts(variant, class_num=10).params == base.params - 2048 * 990 - 990
    fc = 2048 * 1000
    # Every side doubles (7x7 -> 14x14 at the end), so each conv costs 4x; the fc after the pool does not.
    assert architecture_counts(variant, size=448).macs == 4 * (base.macs - fc) + fc


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.PAGE_ORDER)
def test_matches_the_paddle_model(name):
    from paddle import nn

    from trtbench.models.architectures import build_model, count_macs, trainable_parameters

    variant = zoo.get_variant(name)
    model = build_model(variant)
    assert architecture_counts(variant) == counts.ArchitectureCounts(
        macs=count_macs(model), params=trainable_parameters(model),
        convs=sum(isinstance(layer, nn.Conv2D) for layer in model.sublayers()))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_matches_the_exported_onnx_graph(exported, name):
    import onnx

    from trtbench.graphs import graph

    _, results = exported
    onnx_counts = graph.count(onnx.load(str(results[name].onnx_path)))
    ours = architecture_counts(zoo.get_variant(name))
    assert (ours.macs, ours.params, ours.convs) == (onnx_counts.macs, onnx_counts.params, onnx_counts.convs)


def test_convolutions_of_the_page_variants():
    """What a forged export is held to (a ResNet18 graph named ResNet50 has 21, not 53)."""
    convs = {name: architecture_counts(zoo.get_variant(name)).convs for name in ("ResNet18", "ResNet34", "ResNet50",
                                                                                 "ResNet50_vd", "ResNet101")}
    assert convs == {"ResNet18": 21, "ResNet34": 37, "ResNet50": 53, "ResNet50_vd": 55, "ResNet101": 104}
