"""A ResNet's stages found in its ONNX graph, and profiles summed per stage."""

import dataclasses

from tests.reporting.test_profile import _profile, _record
from trtbench.measure.profile import Layer
from trtbench.reporting import stages
from trtbench.reporting.profile import precision_stage_tables, profile_tables


def resnet18_graph(int8=False):
    """The node order paddle2onnx writes for ResNet18 (2 basic blocks a stage, a 1x1 projection in each
    stage's first block); ``int8``: the weights' dequantize nodes first and a quantize pair after each Add, as
    ONNX Runtime's quantizer writes them."""
    graph, count = [], {}

    def node(op):
        count[op] = count.get(op, 0) + 1
        graph.append((f"{op}.{count[op] - 1}", op))

    def quantize():
        if int8:
            node("QuantizeLinear")
            node("DequantizeLinear")

    if int8:
        graph += [(f"w{index}_DequantizeLinear", "DequantizeLinear") for index in range(21)]
    for op in ("Conv", "BatchNormalization", "Relu", "MaxPool"):
        node(op)
    for _stage in range(4):
        for block in range(2):
            for op in ("Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization"):
                node(op)
            if block == 0:
                node("Conv")  # the projection shortcut
            node("Add")
            quantize()
            node("Relu")
    for op in ("GlobalAveragePool", "Reshape", "MatMul", "Add"):
        node(op)
    return graph


DEPTHS = (2, 2, 2, 2)


def test_each_node_is_placed_in_its_stage_and_a_graph_of_other_blocks_has_none():
    placed = stages.node_stages(resnet18_graph(), DEPTHS)
    convs = {}
    for name, op in resnet18_graph():
        if op == "Conv":
            convs[placed[name]] = convs.get(placed[name], 0) + 1
    assert convs == {"stem": 1, "stage 1 (2 blocks)": 5, "stage 2 (2 blocks)": 5, "stage 3 (2 blocks)": 5,
                     "stage 4 (2 blocks)": 5}
    assert placed["MaxPool.0"] == "stem" and placed["Relu.2"] == "stage 1 (2 blocks)"  # a block's last Relu
    assert placed["GlobalAveragePool.0"] == placed["MatMul.0"] == placed["Add.8"] == "head"  # the FC's bias Add
    assert stages.node_stages(resnet18_graph(), (3, 4, 6, 3)) is None  # ResNet50's depths: not this graph
    assert stages.node_stages([("Conv.0", "Conv")], DEPTHS) is None
    assert stages.node_stages([], DEPTHS) is None


def test_an_int8_graph_places_groups_by_the_nodes_that_compute():
    graph = resnet18_graph(int8=True)
    placed = stages.node_stages(graph, DEPTHS)
    ops = dict(graph)
    assert placed["w0_DequantizeLinear"] == "stem"  # by position: at the top of the graph
    # a layer that runs a stage-3 convolution with its weights' dequantize node is in stage 3
    assert stages.group_stage(["w14_DequantizeLinear", "Conv.14", "Relu.9"], ops, placed) == "stage 3 (2 blocks)"
    assert stages.group_stage(["QuantizeLinear.0", "DequantizeLinear.0"], ops, placed) == "stage 1 (2 blocks)"
    assert stages.group_stage(["not in the graph"], ops, placed) is None


def _resnet_record(precision, times, median):
    """A ResNet18 record profiled on ``times`` (ms per stage): a layer per stage covering its first Conv, the
    head's pool and an inserted reorder."""
    graph = resnet18_graph()
    placed = stages.node_stages(graph, DEPTHS)
    first = {}
    for name, op in graph:
        if op in ("Conv", "GlobalAveragePool"):
            first.setdefault(placed[name], name)
    layers = [Layer(f"layer in {stage}", "Convolution", ms, precision, (first[stage],))
              for stage, ms in times.items()] + [Layer("reorder", "Reorder", 0.1, "fp32", (), inserted=True)]
    record = _record("openvino-cpu", _profile(*layers), median)
    return dataclasses.replace(record, precision=precision,
                               profile={**record.profile, "graph": [list(node) for node in graph]})


TIMES = {"stem": 1.0, "stage 1 (2 blocks)": 2.0, "stage 2 (2 blocks)": 2.0, "stage 3 (2 blocks)": 2.0,
         "stage 4 (2 blocks)": 2.0, "head": 0.2}


def test_a_profile_is_summed_per_stage_and_precisions_read_as_ratios_to_fp32_per_stage():
    fp32 = _resnet_record("fp32", TIMES, 9.5)
    int8 = _resnet_record("int8", {stage: ms / 4 for stage, ms in TIMES.items()}, 2.6)
    group_table, stage_table = profile_tables([fp32])
    assert stage_table.title == group_table.title + ", per stage"
    rows = [[cell.text for cell in row.cells] for row in stage_table.rows]
    assert [row[0] for row in rows] == [*TIMES, "Reorder (inserted)"]
    assert rows[1] == ["stage 1 (2 blocks)", "2.000", "21.5"]  # of the 9.3 ms profiled total
    assert sum(row.cells[1].value for row in stage_table.rows) == fp32.profile["total_ms"]
    assert [label for label, _ in stage_table.chart] == [row[0] for row in rows]
    (by_precision,) = precision_stage_tables([int8, fp32])
    assert by_precision.title == ("Per-layer profile by precision: ResNet18 batch 1, openvino-cpu on Test CPU, "
                                  "per stage")
    ratios = {row.cells[0].text: row.cells[-1].text for row in by_precision.rows}
    assert ratios["stage 3 (2 blocks)"] == "0.25x" and ratios["Reorder (inserted)"] == "1.00x"
    assert precision_stage_tables([fp32]) == []  # one precision: nothing to set side by side


def test_no_stage_table_for_a_model_outside_the_zoo_or_a_graph_of_other_blocks():
    foreign = dataclasses.replace(_resnet_record("fp32", TIMES, 9.5), model="MobileNet\x1b[31m")
    assert [table.title for table in profile_tables([foreign])] == [
        "FP32 per-layer profile: MobileNet\x1b[31m batch 1 on Test CPU"]
    deeper = dataclasses.replace(_resnet_record("fp32", TIMES, 9.5), model="ResNet50")
    assert len(profile_tables([deeper])) == 1
