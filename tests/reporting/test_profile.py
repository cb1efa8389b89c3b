"""Engines that fuse differently are compared on one partition of the ONNX graph."""

import pytest

from trtbench.measure.profile import Layer, LayerProfile
from trtbench.reporting import profile

GRAPH = [("conv1", "Conv"), ("relu1", "Relu"), ("conv2", "Conv"), ("add", "Add"), ("relu2", "Relu"),
         ("pool", "GlobalAveragePool"), ("fc", "Gemm")]


def _profile(*layers):
    return LayerProfile("test", 10, list(layers), total_ms=sum(layer.median_ms for layer in layers))


def test_groups_join_what_any_engine_fused_and_sum_each_engines_layers():
    ov = _profile(Layer("conv1", "Convolution", 1.0, "bf16", ("conv1", "relu1")),
                  Layer("conv2", "Convolution", 2.0, "bf16", ("conv2", "add", "relu2")),
                  Layer("pool", "Reduce", 0.1, "fp32", ("pool",)), Layer("fc", "FullyConnected", 0.2, "fp32", ("fc",)),
                  Layer("reorder_1", "Reorder", 0.05, "fp32", (), inserted=True))
    ort = _profile(Layer("fused_conv1", "FusedConv", 1.5, "fp32", ("conv1", "relu1")),
                   Layer("conv2", "Conv", 2.5, "fp32", ("conv2",)),
                   Layer("add_relu", "Add", 0.4, "fp32", ("add", "relu2")),
                   Layer("gap", "GlobalAveragePool", 0.1, "fp32", ("pool",)), Layer("mystery", "X", 0.3, None, ()))
    rows = profile.groups({"openvino-cpu": ov, "onnxruntime-cpu": ort}, GRAPH)
    assert [row.label for row in rows] == ["conv1 .. relu1", "conv2 .. relu2", "pool", "fc", "Reorder (inserted)",
                                          "unmapped time"]
    block = rows[1]
    assert block.nodes == ["conv2", "add", "relu2"] and block.ops == ["Conv", "Add", "Relu"]
    assert block.ms("openvino-cpu") == 2.0 and block.ms("onnxruntime-cpu") == 2.5 + 0.4
    assert block.shares["onnxruntime-cpu"].layers == ["conv2", "add_relu"]
    assert rows[0].shares["openvino-cpu"].precisions == {"bf16"}
    assert rows[3].ms("onnxruntime-cpu") == 0.0 and "onnxruntime-cpu" not in rows[3].shares  # ORT did not run fc
    assert rows[4].kind == profile.INSERTED and rows[4].ms("openvino-cpu") == 0.05
    assert rows[5].kind == profile.UNMAPPED and rows[5].ms("onnxruntime-cpu") == 0.3
    # every engine's time is in exactly one row
    for engine, measured in (("openvino-cpu", ov), ("onnxruntime-cpu", ort)):
        assert abs(sum(row.ms(engine) for row in rows) - measured.total_ms) < 1e-9


def test_a_chain_of_overlaps_joins_transitively():
    a = _profile(Layer("x", "A", 1.0, None, ("conv1", "relu1")), Layer("y", "A", 1.0, None, ("conv2", "add")))
    b = _profile(Layer("z", "B", 1.0, None, ("relu1", "conv2")))
    rows = profile.groups({"a": a, "b": b}, GRAPH)
    assert rows[0].nodes == ["conv1", "relu1", "conv2", "add"] and rows[0].ms("a") == 2.0 and rows[0].ms("b") == 1.0


def test_nodes_the_graph_lacks_come_after_and_conv_coverage_counts_convs_in_layers():
    p = _profile(Layer("c1", "Convolution", 1.0, None, ("conv1",)), Layer("odd", "Y", 0.5, None, ("not_in_graph",)))
    rows = profile.groups({"e": p}, GRAPH)
    assert [row.label for row in rows] == ["conv1", "not_in_graph"]
    assert profile.conv_coverage(p, GRAPH) == 0.5
    assert profile.conv_coverage(p, [("relu", "Relu")]) == 1.0


def test_a_profile_reads_back_and_hostile_layers_are_dropped():
    p = _profile(Layer("c1", "Convolution", 1.0, "fp32", ("conv1",)), Layer("r", "Reorder", 0.1, None, (), True))
    data = p.to_json()
    assert LayerProfile.from_json(data) == p
    data["layers"] += [{"name": 5}, "junk", {"name": "n", "kind": "k", "median_ms": float("nan"), "nodes": []},
                       {"name": "n", "kind": "k", "median_ms": 1, "nodes": [3]}]
    assert LayerProfile.from_json(data).layers == p.layers
    assert LayerProfile.from_json("junk") is None and LayerProfile.from_json({"layers": 3}) is None
    assert p.mapped_ms == 1.0 and p.unmapped_ms == 0.1


def _record(backend, profile_, median=3.0):
    from trtbench.store.records import LatencyRecord

    return LatencyRecord(model="ResNet18", backend=backend, device="Test CPU", precision="fp32", batch=1,
                         latency_ms={"median": median}, iterations=100, finished_at="2026-01-01T00:00:00Z",
                         profile={**profile_.to_json(), "graph": [list(node) for node in GRAPH]})


def test_every_report_form_carries_the_profiles_a_terminal_only_the_longest_groups():
    from trtbench.reporting import contents, markdown

    layers = [Layer(name, "K", ms, "fp32", (name,)) for name, ms in (("conv1", 1.0), ("relu1", 0.1), ("conv2", 2.0),
                                                                    ("add", 0.2), ("relu2", 0.1))]
    records = [_record("openvino-cpu", _profile(*layers)), _record("onnxruntime-cpu", _profile(*layers[:3]), 4.0)]
    terminal = contents.terminal_report(records, profile_top=2)
    (table,) = [table for table in terminal.tables if table.kind == "profile"]
    assert table.title == "FP32 per-layer profile: ResNet18 batch 1 on Test CPU"
    labels = [row.cells[0].text for row in table.rows]
    assert labels == ["conv1", "conv2", "the other 3 groups", "profiled total", "timed median (unprofiled)"]
    other = table.rows[2].cells
    # the backends in name order, each after the first also as a ratio to the first
    assert [column.header for column in table.columns][2::3] == ["onnxruntime-cpu\n(ms)", "openvino-cpu\n(ms)",
                                                                  "openvino-cpu/onnxruntime-cpu"]
    assert other[2].text == "0.100" and other[5].text == "0.400" and other[8].text == "4.00x"  # each one's rest
    assert table.rows[4].cells[2].text == "4.000" and table.rows[4].cells[5].text == "3.000"
    assert any("100% of the graph's Conv nodes in a mapped group" in note for note in table.notes)
    page = markdown.report(contents.page_report(records, []))
    assert "## FP32 per-layer profile: ResNet18 batch 1 on Test CPU" in page
    assert "| relu2 | Relu |  |  |  | 0.100 | 2.9 | fp32 |  |" in page  # every group in a file format


def test_by_precision_a_cases_precisions_share_the_groups_and_read_as_ratios_to_fp32():
    import dataclasses

    from trtbench.reporting.profile import profile_tables

    fp32 = _record("openvino-cpu", _profile(Layer("c", "Convolution", 2.0, "fp32", ("conv1", "relu1")),
                                            Layer("d", "Convolution", 4.0, "fp32", ("conv2",))))
    # the INT8 graph adds a quantize node that its first layer also covers
    int8 = dataclasses.replace(fp32, precision="int8", latency_ms={"median": 1.5},
                               profile={**_profile(Layer("c", "Convolution", 0.5, "int8", ("conv1", "relu1", "q1")),
                                                   Layer("d", "Convolution", 1.0, "int8", ("conv2",))).to_json(),
                                        "graph": [*map(list, GRAPH), ["q1", "QuantizeLinear"]]})
    (table,) = profile_tables([int8, fp32], across="precision")
    assert table.title == "Per-layer profile by precision: ResNet18 batch 1, openvino-cpu on Test CPU"
    headers = [column.header for column in table.columns]
    assert headers[2:] == ["fp32\n(ms)", "fp32\n(%)", "fp32\nran in", "int8\n(ms)", "int8\n(%)", "int8\nran in",
                           "int8/fp32"]
    rows = {row.cells[0].text: [cell.text for cell in row.cells] for row in table.rows}
    assert rows["conv1 .. relu1"][2:] == ["2.000", "33.3", "fp32", "0.500", "33.3", "int8", "0.25x"]
    assert rows["conv2"][-1] == "0.25x" and rows["timed median (unprofiled)"][-1] == "0.50x"


def test_groups_a_precision_ran_slower_than_fp32_are_named_and_no_such_group_is_said_too():
    import dataclasses

    from trtbench.reporting.profile import profile_tables

    fp32 = _record("openvino-cpu", _profile(Layer("c", "Convolution", 2.0, "fp32", ("conv1",)),
                                            Layer("p", "Reduce", 0.1, "fp32", ("pool",))))
    bf16 = dataclasses.replace(fp32, precision="bf16",
                               profile={**_profile(Layer("c", "Convolution", 0.5, "bf16", ("conv1",)),
                                                   Layer("p", "Reduce", 0.3, "fp32", ("pool",))).to_json(),
                                        "graph": [list(node) for node in GRAPH]})
    (table,) = profile_tables([fp32, bf16], across="precision")
    assert "bf16: 1 of 2 groups took longer than in fp32: pool (3.00x)" in table.notes
    assert all(row.mood == "" for row in table.rows)  # a report marks nothing: only a comparison judges
    (same,) = profile_tables([fp32, dataclasses.replace(fp32, precision="int8")], across="precision")
    assert "int8: no group took longer than in fp32" in same.notes


def _compared(base_layers, new_layers, threshold=5.0):
    from trtbench.reporting.compare import compare

    base = _record("openvino-cpu", _profile(*base_layers))
    new = _record("openvino-cpu", _profile(*new_layers), median=3.3)
    return compare([base], [new], "median", threshold)


def test_a_comparison_puts_base_and_new_on_the_same_groups_and_marks_the_groups_past_the_threshold():
    from trtbench.reporting.profile import comparison_json, comparison_tables

    comparison = _compared([Layer("a", "Convolution", 1.0, "fp32", ("conv1", "relu1")),
                            Layer("b", "Convolution", 2.0, "fp32", ("conv2",)),
                            Layer("c", "Add", 0.5, "fp32", ("add",))],
                           # NEW fused conv2 with add (so they are one group on both sides)
                           [Layer("a", "Convolution", 1.3, "fp32", ("conv1", "relu1")),
                            Layer("bc", "Convolution", 2.0, "fp32", ("conv2", "add")),
                            Layer("r", "Reorder", 0.2, "fp32", (), inserted=True)])
    (table,) = comparison_tables(comparison.rows, 5.0)
    assert table.title == ("Per-layer profile, NEW against BASE: ResNet18 fp32 batch 1, openvino-cpu on Test CPU")
    rows = {row.cells[0].text: row for row in table.rows}
    assert rows["conv1 .. relu1"].mood == "worse" and rows["conv1 .. relu1"].cells[-1].text == "1.30x"
    assert rows["conv2 .. add"].mood == "better" and rows["conv2 .. add"].cells[-1].text == "0.80x"
    assert rows["Reorder (inserted)"].mood == "" and rows["Reorder (inserted)"].cells[2].state == "empty"
    assert "NEW: 1 of 3 groups took longer than in BASE by more than 5%: conv1 .. relu1 (1.30x)" in table.notes
    (case,) = comparison_json(comparison.rows, 5.0)
    assert case["case"] == "ResNet18 fp32 batch 1 on openvino-cpu" and case["base_total_ms"] == 3.5
    by_label = {group["label"]: group for group in case["groups"]}
    assert by_label["conv1 .. relu1"]["slower"] is True and by_label["conv1 .. relu1"]["ratio"] == pytest.approx(1.3)
    assert by_label["conv2 .. add"] == {"label": "conv2 .. add", "kind": "onnx", "nodes": ["conv2", "add"],
                                        "ops": ["Conv", "Add"], "base_ms": 2.5, "new_ms": 2.0, "ratio": 0.8,
                                        "slower": False}
    assert by_label["Reorder (inserted)"]["base_ms"] is None and by_label["Reorder (inserted)"]["ratio"] is None
    # a wider threshold: nothing past it
    assert all(not row.mood for row in comparison_tables(_compared(
        [Layer("a", "Convolution", 1.0, "fp32", ("conv1",))], [Layer("a", "Convolution", 1.3, "fp32", ("conv1",))],
        threshold=50.0).rows, 50.0)[0].rows)


def test_cases_profiled_on_one_side_only_or_failed_have_no_profile_comparison():
    import dataclasses

    from trtbench.reporting.compare import compare
    from trtbench.reporting.profile import comparison_json, comparison_tables

    profiled = _record("openvino-cpu", _profile(Layer("a", "Convolution", 1.0, "fp32", ("conv1",))))
    plain = dataclasses.replace(profiled, profile={})
    failed = dataclasses.replace(profiled, status="failed", error="boom", latency_ms=None)
    hostile = dataclasses.replace(profiled, profile={"layers": "junk"})
    for base, new in ((profiled, plain), (plain, profiled), (profiled, failed), (profiled, hostile)):
        rows = compare([base], [new]).rows
        assert comparison_tables(rows, 5.0) == [] and comparison_json(rows, 5.0) == []


def test_the_html_page_draws_each_profile_as_bars_a_bar_per_engine_and_group():
    import dataclasses

    from trtbench.reporting import contents, html

    layers = [Layer("c1", "K", 1.0, "fp32", ("conv1",)), Layer("c2", "K", 2.0, "fp32", ("conv2",))]
    records = [_record("openvino-cpu", _profile(*layers)),
               _record("<b>evil</b>", _profile(Layer("c1", "K", 0.5, "fp32", ("conv1",))))]
    report = contents.page_report(records, [])
    (table,) = [table for table in report.tables if table.kind == "profile"]
    assert table.chart == [("conv1", {"<b>evil</b>": 0.5, "openvino-cpu": 1.0}),
                           ("conv2", {"openvino-cpu": 2.0})]
    svg = html.bars(table)
    assert svg.count("<rect") == 2 + 3  # the key's two squares, a bar per engine and group it ran
    assert 'data-value="2.0"' in svg and "&lt;b&gt;evil&lt;/b&gt;" in svg and "<b>" not in svg
    assert ">2 ms</text>" in svg  # the scale reaches the longest bar
    page = html.page(report)
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="bars"') == 1
    assert html.bars(dataclasses.replace(table, chart=[("conv1", {"a": 0.0})])) == ""  # nothing to draw
