import csv
import io

from trtbench.reporting import contents, data, latency, markdown, plots, tables, terminal
from trtbench.store.records import LatencyRecord


class report:  # noqa: N801 - the one place that says how each content is built and rendered
    """Each report content built into the model, then rendered, under the names the assertions use."""

    latency_groups = staticmethod(latency.latency_groups)
    group_title = staticmethod(latency.group_title)
    device_sections = staticmethod(latency.device_sections)
    at_batches = staticmethod(latency.at_batches)
    csv_text = staticmethod(data.csv_text)
    plot = staticmethod(plots.plot)
    plot_figure = staticmethod(plots.plot_figure)

    @staticmethod
    def latency_markdown(key, group, reference=False):
        return markdown.section(latency.latency_table(key, group, reference))

    @staticmethod
    def latency_table(key, group, reference=False):
        return terminal.table(latency.latency_table(key, group, reference))

    @staticmethod
    def device_markdown(section, reference=False):
        return markdown.section(latency.device_table(section, reference))

    @staticmethod
    def latency_tables(records, reference=False, by_device=False):
        return [terminal.table(t) for t in latency.latency_tables(records, reference, by_device)]

    @staticmethod
    def json_records(records):
        return data.json_report(records)["records"]

    @staticmethod
    def accuracy_table(records):
        return terminal.table(tables.accuracy_table(records))

    @staticmethod
    def comparison_table(comparison, base, new):
        return terminal.table(tables.comparison_table(comparison, base, new))

    @staticmethod
    def markdown_report(records, rows, reference=False, by_device=False):
        return markdown.report(contents.page_report(records, rows, reference, by_device))


def _rec(model, precision, batch, median, status="ok", cov_warning=False, backend="onnxruntime-cpu",
         device="Test CPU", metric="session run time"):
    return LatencyRecord(
        model=model, backend=backend, device=device, precision=precision, batch=batch, status=status,
        error=None if status == "ok" else "boom", metric=metric, cov=0.01, cov_warning=cov_warning,
        latency_ms={"mean": median, "median": median, "p90": median, "p95": median, "p99": median,
                    "min": median, "max": median, "stdev": 0.0} if status == "ok" else None,
        throughput_qps=1000 / median, throughput_ips=batch * 1000 / median, iterations=1000,
        finished_at="2026-01-01T00:00:00Z")


RECORDS = [
    _rec("ResNet50_vd", "fp32", 1, 2.0), _rec("ResNet18", "fp32", 1, 1.0), _rec("ResNet18", "fp32", 4, 3.5),
    _rec("ResNet50_vd", "fp32", 4, 6.25, cov_warning=True), _rec("ResNet18", "fp16", 1, 0.5),
    _rec("ResNet18", "fp16", 4, 1.0, status="failed"),
]


def test_markdown_section_in_the_pages_layout():
    groups = report.latency_groups(RECORDS)
    assert [key[0] for key, _ in groups] == ["fp16", "fp32"]  # FP16 first, as on the page
    lines = report.latency_markdown(*groups[1]).splitlines()
    assert lines[0].startswith("## FP32 latency (ms): onnxruntime-cpu on Test CPU")
    assert lines[2] == "| Models           | batch_size=1<br>(ms) | batch_size=4<br>(ms) |"
    assert lines[3] == "|:--:|:--:|:--:|"
    assert lines[4] == "| ResNet18         | 1.000 | 3.500 |"  # page order: ResNet18 before ResNet50_vd
    assert lines[5] == "| ResNet50_vd      | 2.000 | 6.250~ |"
    fp16 = report.latency_markdown(*groups[0]).splitlines()
    assert fp16[4] == "| ResNet18         | 0.500 | failed |"


def test_reference_shows_the_pages_value_and_ratio():
    (key, group) = report.latency_groups(RECORDS)[1]
    lines = report.latency_markdown(key, group, reference=True).splitlines()
    # page: ResNet18 FP32 batch 1 = 1.127 ms
    assert lines[4].startswith("| ResNet18         | 1.000 (1.127, 0.89x) | 3.500 (1.428, 2.45x) |")


def test_terminal_table_marks_failures_in_its_caption():
    from rich.console import Console

    key, group = report.latency_groups(RECORDS)[0]
    console = Console(width=120, record=True)
    console.print(report.latency_table(key, group))
    text = console.export_text()
    assert "batch_size=4 (ms)" in text and "failed" in text and "ResNet18 batch 4 failed: boom" in text


def test_json_and_csv_round_trip():
    rows = report.json_records(RECORDS)
    assert [(r["precision"], r["model"], r["batch"]) for r in rows][:3] == [
        ("fp16", "ResNet18", 1), ("fp16", "ResNet18", 4), ("fp32", "ResNet18", 1)]
    assert {"latency_ms", "cov", "throughput_qps", "throughput_ips", "iterations", "method", "status",
            "error"} <= set(rows[0])
    parsed = list(csv.DictReader(io.StringIO(report.csv_text(RECORDS))))
    assert len(parsed) == len(RECORDS)
    by_key = {(r["model"], r["precision"], r["batch"]): r for r in parsed}
    assert float(by_key[("ResNet50_vd", "fp32", "4")]["latency_ms_median"]) == 6.25
    assert by_key[("ResNet18", "fp16", "4")]["status"] == "failed"


def test_csv_leaves_out_a_statistic_it_has_no_column_for():
    import dataclasses

    odd = dataclasses.replace(RECORDS[0], latency_ms={**RECORDS[0].latency_ms, "x": 9.0})
    (row,) = csv.DictReader(io.StringIO(report.csv_text([odd])))
    assert "latency_ms_x" not in row and float(row["latency_ms_median"]) == RECORDS[0].latency_ms["median"]


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "plot.png"
    report.plot(RECORDS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_title_says_when_fp32_was_allowed_tf32():
    import dataclasses

    key, group = report.latency_groups(RECORDS)[1]
    assert report.group_title(key, group).startswith("FP32 latency (ms)")
    all_tf32 = [dataclasses.replace(r, method={"tf32": True}) for r in group]
    assert report.group_title(key, all_tf32).startswith("FP32 with TF32 latency (ms): onnxruntime-cpu")
    some = [dataclasses.replace(group[0], method={"tf32": True}), *group[1:]]
    assert report.group_title(key, some).startswith(f"FP32 (TF32 in 1 of {len(group)} cells) latency (ms)")


def test_the_title_names_the_precision_that_really_ran():
    import dataclasses

    key, group = report.latency_groups(RECORDS)[0]  # fp16
    same = [dataclasses.replace(r, precision_executed="fp16") for r in group]
    assert report.group_title(key, same).startswith("FP16 latency (ms)")
    cast = [dataclasses.replace(r, precision_executed="fp32") for r in group]
    assert report.group_title(key, cast).startswith(f"FP16 (ran as FP32 in {len(group)} of {len(group)} cells) "
                                                    "latency (ms)")


def test_names_and_errors_from_a_run_file_are_never_read_as_markup():
    import dataclasses

    from rich.console import Console

    from trtbench.store.records import AccuracyRecord

    odd = [dataclasses.replace(RECORDS[0], model="[/x]", device="[bold]GPU"),
           dataclasses.replace(RECORDS[5], error="[/oops] boom")]
    console = Console(width=200, record=True)
    for key, group in report.latency_groups(odd):
        console.print(report.latency_table(key, group))
    console.print(report.accuracy_table([AccuracyRecord(model="[/a]", backend="b", device="d", precision="fp32",
                                                        batch=1, weights="[/w]", top1=0.5)]))
    text = " ".join(console.export_text().split())  # titles and captions wrap
    assert "[/x]" in text and "on [bold]GPU" in text and "failed: [/oops] boom" in text
    assert "Weights: [/a]: [/w]" in text


def _comparison():
    from trtbench.reporting import compare

    base = [_rec("ResNet18", "fp32", 1, 1.0), _rec("ResNet18", "fp32", 4, 4.0), _rec("ResNet50_vd", "fp32", 1, 2.0)]
    new = [_rec("ResNet18", "fp32", 1, 1.5), _rec("ResNet18", "fp32", 4, 3.0), _rec("ResNet50_vd", "fp32", 1, 2.0,
                                                                                   status="failed")]
    return compare.compare(base, new)


def test_the_comparison_colours_regressions_red_and_improvements_green():
    from rich.console import Console

    plain = Console(width=120, record=True)
    plain.print(report.comparison_table(_comparison(), "base.json", "new.json"))
    text = plain.export_text()
    assert ("median latency (ms), onnxruntime-cpu on Test CPU: NEW new.json against BASE base.json, threshold 5%"
            in " ".join(text.split()))
    assert "ResNet50_vd fp32 batch 1 on onnxruntime-cpu: failed in NEW: boom" in text
    rows = [line.split() for line in text.splitlines() if line.lstrip().startswith("ResNet")]
    assert rows[:3] == [["ResNet18", "fp32", "1", "1.000", "1.500", "+50.0%", "regressed"],
                    ["ResNet18", "fp32", "4", "4.000", "3.000", "-25.0%", "improved"],
                    ["ResNet50_vd", "fp32", "1", "failed", "in", "NEW"]]
    console = Console(width=120, record=True, force_terminal=True, color_system="standard")
    console.print(report.comparison_table(_comparison(), "base.json", "new.json"))
    styled = [line.split() for line in console.export_text(styles=True).splitlines() if "ResNet" in line][:3]
    # 31: red, 32: green
    assert [row[0][:len("\x1b[31mResNet")] for row in styled] == ["\x1b[31mResNet", "\x1b[32mResNet",
                                                                 "\x1b[31mResNet"]


# --- a fleet: two GPUs and a CPU server, FP16 and FP32 ---------------------------------------

A100, T4, EPYC = "NVIDIA A100-SXM4-80GB", "Tesla T4", "AMD EPYC 7B13"


def _gpu(model, precision, batch, median, device, **fields):
    return _rec(model, precision, batch, median, backend="tensorrt", device=device, metric="GPU compute time",
                **fields)


FLEET = [
    _gpu("ResNet50_vd", "fp16", 1, 0.9, A100), _rec("ResNet18", "fp32", 1, 9.0, device=EPYC),
    _gpu("ResNet18", "fp16", 1, 0.4, A100), _gpu("ResNet18", "fp16", 8, 0.8, A100),
    _gpu("ResNet18", "fp16", 1, 0.7, T4), _gpu("ResNet18", "fp16", 8, 2.5, T4, status="failed"),
    _gpu("ResNet50_vd", "fp16", 8, 1.6, A100, cov_warning=True), _gpu("ResNet18", "fp32", 1, 1.3, T4),
    _gpu("ResNet18", "fp32", 1, 0.6, A100), _gpu("ResNet18", "fp32", 8, 1.5, A100),
    _rec("ResNet18", "fp32", 8, 60.0, device=EPYC), _rec("ResNet50_vd", "fp32", 1, 20.0, device=EPYC),
    _rec("ResNet18", "fp32", 1, 8.0, backend="openvino-cpu", device=EPYC),
    _rec("ResNet18", "fp32", 1, 2.0, backend="onnxruntime-cuda", device=T4),
]
FP32_HEADERS = [f"{EPYC} (onnxruntime-cpu)", f"{EPYC} (openvino-cpu)", A100, f"{T4} (onnxruntime-cuda)",
                f"{T4} (tensorrt)"]


def test_a_fleet_gets_a_table_per_precision_backend_and_device_in_device_order():
    groups = report.latency_groups(FLEET)
    assert [key for key, _ in groups] == [
        ("fp16", "tensorrt", A100), ("fp16", "tensorrt", T4), ("fp32", "onnxruntime-cpu", EPYC),
        ("fp32", "openvino-cpu", EPYC), ("fp32", "tensorrt", A100), ("fp32", "onnxruntime-cuda", T4),
        ("fp32", "tensorrt", T4)]
    assert all(report.group_title(key, group).split(": ")[1].startswith(f"{key[1]} on {key[2]}, median ")
               for key, group in groups)
    listed = dict.fromkeys((r["precision"], r["device"]) for r in report.json_records(FLEET))
    assert list(listed) == [("fp16", A100), ("fp16", T4), ("fp32", EPYC), ("fp32", A100), ("fp32", T4)]


def test_by_device_a_section_per_precision_and_batch_with_a_column_per_device():
    sections = report.device_sections(FLEET)
    assert [(s.precision, s.batch, s.title) for s in sections] == [
        ("fp16", 1, "FP16 latency (ms), batch_size=1"), ("fp16", 8, "FP16 latency (ms), batch_size=8"),
        ("fp32", 1, "FP32 latency (ms), batch_size=1"), ("fp32", 8, "FP32 latency (ms), batch_size=8")]
    # A device's backend is named only where the device ran two at that precision.
    assert [c.header() for c in sections[0].columns] == [A100, T4]
    assert [c.header() for c in sections[3].columns] == FP32_HEADERS


def test_by_device_markdown_has_each_devices_cell_the_pages_value_and_empty_cells():
    sections = report.device_sections(FLEET)
    lines = report.device_markdown(sections[2]).splitlines()
    assert lines[:6] == [
        "## FP32 latency (ms), batch_size=1", "",
        "| Models | " + " | ".join(FP32_HEADERS) + " | V100 (page) |",
        "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|",
        "| ResNet18 | 9.000 | 8.000 | 0.600 | 2.000 | 1.300 | 1.127 |",  # page: ResNet18 FP32 batch 1 = 1.127 ms
        "| ResNet50_vd | 20.000 |  |  |  |  | 2.649 |"]
    assert f"- {EPYC} (onnxruntime-cpu): median session run time" in lines
    assert f"- {A100}: tensorrt, median GPU compute time" in lines
    fp16 = report.device_markdown(sections[1]).splitlines()
    assert fp16[4:6] == ["| ResNet18 | 0.800 | failed | 1.263 |", "| ResNet50_vd | 1.600~ |  | 2.833 |"]
    assert fp16[-1] == f"- ResNet18 batch 8 on {T4} failed: boom"
    batch8 = report.device_markdown(sections[3]).splitlines()
    assert batch8[4:6] == ["| ResNet18 | 60.000 |  | 1.500 |  |  | 2.352 |", ""]


def test_by_device_with_reference_gives_each_cell_its_ratio_to_the_page():
    section = report.device_sections(FLEET)[2]
    row = report.device_markdown(section, reference=True).splitlines()[4]
    assert row.startswith("| ResNet18 | 9.000 (1.127, 7.99x) | 8.000 (1.127, 7.10x) | 0.600 (1.127, 0.53x) |")


def test_by_device_has_the_pages_column_only_where_the_page_times_the_precision():
    records = [_rec("ResNet18", "int8", 1, 3.0), _rec("ResNet18", "fp32", 2, 5.0), _rec("MyNet", "fp32", 2, 4.0)]
    fp32, int8 = report.device_sections(records)
    assert report.device_markdown(int8).splitlines()[2:5] == ["| Models | Test CPU |", "|:--:|:--:|",
                                                              "| ResNet18 | 3.000 |"]
    # the page has no batch 2, and no MyNet
    assert report.device_markdown(fp32).splitlines()[4:6] == ["| ResNet18 | 5.000 |  |", "| MyNet | 4.000 |  |"]


def test_by_device_notes_say_what_a_column_really_ran():
    import dataclasses

    tf32 = [dataclasses.replace(r, method={"tf32": True}) if r.device == A100 else r for r in FLEET]
    lines = report.device_markdown(report.device_sections(tf32)[2]).splitlines()
    assert f"- {A100}: tensorrt, median GPU compute time; FP32 with TF32" in lines
    assert f"- {T4} (tensorrt): median GPU compute time" in lines


def test_by_device_on_the_terminal():
    from rich.console import Console

    console = Console(width=200, record=True)
    tables = report.latency_tables(FLEET, by_device=True)
    assert len(tables) == 4
    console.print(tables[2])
    text = console.export_text()
    rows = [line.split() for line in text.splitlines() if line.lstrip().startswith("ResNet")]
    assert rows == [["ResNet18", "9.000", "8.000", "0.600", "2.000", "1.300", "1.127"],
                    ["ResNet50_vd", "20.000", "2.649"]]
    assert "V100 (page)" in text and "V100 (page): the page's 2020 figure" in text


def test_markdown_report_by_device_puts_the_sections_after_the_models_table():
    headings = [line for line in report.markdown_report(FLEET, [], by_device=True).splitlines()
                if line.startswith("## ")]
    assert headings == ["## Accuracy, FLOPS and parameters", "## FP16 latency (ms), batch_size=1",
                        "## FP16 latency (ms), batch_size=8", "## FP32 latency (ms), batch_size=1",
                        "## FP32 latency (ms), batch_size=8"]


def test_at_batches_keeps_those_latency_records_and_every_accuracy_record():
    from trtbench.store.records import AccuracyRecord

    accuracy = AccuracyRecord(model="ResNet18", backend="b", device="d", precision="fp32", batch=4, top1=0.7)
    kept = report.at_batches([*FLEET, accuracy], [8])
    assert kept[-1] is accuracy
    assert sorted(r.label() for r in kept[:-1]) == sorted(r.label() for r in FLEET if r.batch == 8)


def _lines(axis):
    return {line.get_label(): line for line in axis.get_lines()}


def test_the_plot_draws_a_line_per_device_and_model_and_the_page_dashed():
    figure = report.plot_figure(FLEET)
    axes = {axis.get_title(): axis for axis in figure.axes}
    assert set(axes) == {"FP16 median latency", "FP32 median latency", "FP16 throughput", "FP32 throughput",
                         "FP16 speed-up over FP32", ""}
    page = "V100 (page, 2020)"
    fp32 = _lines(axes["FP32 median latency"])
    assert set(fp32) == {f"{header}: ResNet18" for header in FP32_HEADERS} | {
        f"{EPYC} (onnxruntime-cpu): ResNet50_vd", f"{page}: ResNet18", f"{page}: ResNet50_vd"}
    a100 = fp32[f"{A100}: ResNet18"]
    assert (list(a100.get_xdata()), list(a100.get_ydata())) == ([1, 8], [0.6, 1.5])
    assert list(fp32[f"{page}: ResNet18"].get_ydata()) == [1.127, 2.352]
    assert fp32[f"{page}: ResNet18"].get_linestyle() == "--" and a100.get_linestyle() == "-"
    # A colour per model (the page's line too), a marker per device.
    assert a100.get_color() == fp32[f"{page}: ResNet18"].get_color() != fp32[f"{page}: ResNet50_vd"].get_color()
    fp16 = _lines(axes["FP16 median latency"])
    t4 = f"{T4} (tensorrt)"  # the T4 ran two backends in all
    assert set(fp16) == {f"{A100}: ResNet18", f"{A100}: ResNet50_vd", f"{t4}: ResNet18", f"{page}: ResNet18",
                         f"{page}: ResNet50_vd"}
    assert fp16[f"{A100}: ResNet18"].get_marker() == fp16[f"{A100}: ResNet50_vd"].get_marker()
    assert fp16[f"{A100}: ResNet18"].get_marker() != fp16[f"{t4}: ResNet18"].get_marker()
    assert list(fp16[f"{t4}: ResNet18"].get_xdata()) == [1]  # batch 8 failed
    throughput = _lines(axes["FP32 throughput"])
    assert list(throughput[f"{A100}: ResNet18"].get_ydata()) == [1000 / 0.6, 8000 / 1.5]
    assert list(throughput[f"{page}: ResNet18"].get_ydata()) == [1000 / 1.127, 8000 / 2.352]
    speedup = _lines(axes["FP16 speed-up over FP32"])
    assert {label: list(line.get_ydata()) for label, line in speedup.items() if ": " in label} == {
        f"{A100}: ResNet18": [0.6 / 0.4, 1.5 / 0.8], f"{t4}: ResNet18": [1.3 / 0.7]}
    legend = [text.get_text() for text in axes[""].get_legend().get_texts()]
    assert legend == [*FP32_HEADERS, "ResNet18", "ResNet50_vd", page]


def test_the_plot_of_one_device_and_precision_has_no_speed_up_panel():
    axes = {axis.get_title(): axis for axis in
            report.plot_figure([r for r in FLEET if r.device == A100 and r.precision == "fp32"]).axes}
    assert sorted(axes) == ["", "FP32 median latency", "FP32 throughput"]
    legend = [text.get_text() for text in axes[""].get_legend().get_texts()]
    assert legend == [A100, "ResNet18", "V100 (page, 2020)"]


def test_the_plot_leaves_out_what_a_log_axis_cannot_show_and_reads_no_name_as_maths(tmp_path):
    records = [_rec("ResNet18", "fp32", 1, 1.0, device="$\\bad{$"), _rec("ResNet18", "fp32", 4, 2.0, device="$\\bad{$"),
               _rec("ResNet18", "fp32", 8, 1.0, device="$\\bad{$")]
    records[1].latency_ms["median"] = 0.0
    records[2].latency_ms["median"] = float("inf")
    axis = {a.get_title(): a for a in report.plot_figure(records).axes}["FP32 median latency"]
    line = _lines(axis)["\\$\\bad{\\$: ResNet18"]
    assert (list(line.get_xdata()), list(line.get_ydata())) == ([1], [1.0])
    report.plot(records, tmp_path / "odd.png")  # unescaped, '$\bad{$' fails to draw as maths
    assert (tmp_path / "odd.png").read_bytes()[:4] == b"\x89PNG"


# --- how TensorRT built FP16, and what ran another precision than asked -----------------------------


def _built(records, *builds):
    import dataclasses

    return [dataclasses.replace(r, method={"fp16_build": build} if build else {})
            for r, build in zip(records, builds, strict=True)]


def test_the_title_says_how_tensorrt_built_fp16():
    key, group = report.latency_groups(FLEET)[0]  # FP16 on the A100
    group = group[:3]
    assert key[:2] == ("fp16", "tensorrt")
    weak = _built(group, "weak (BuilderFlag.FP16)", "weak", "weak")
    assert report.group_title(key, weak).startswith(
        "FP16 (weakly typed: TensorRT picks per layer) latency (ms): tensorrt on NVIDIA A100")
    strong = _built(group, "strong (FP16 graph)", "strong", "strong")
    assert report.group_title(key, strong).startswith("FP16 (strongly typed: FP16 graph) latency (ms)")
    both = _built(group, "weak", "strong", "strong")
    assert report.group_title(key, both).startswith("FP16 (strongly typed: FP16 graph in 2 of 3 cells; weakly "
                                                    "typed: TensorRT picks per layer in 1 of 3 cells) latency")
    assert report.latency_markdown(key, strong).startswith("## FP16 (strongly typed: FP16 graph) latency (ms)")
    # CPU engines do not say: their titles are as they were, and so are other precisions'
    cpu_key, cpu = report.latency_groups(RECORDS)[0]
    assert report.group_title(cpu_key, cpu).startswith("FP16 latency (ms): onnxruntime-cpu")
    fp32_key, fp32 = next((k, g) for k, g in report.latency_groups(FLEET) if k[0] == "fp32")
    assert report.group_title(fp32_key, _built(fp32, *["weak"] * len(fp32))).startswith("FP32 latency (ms)")


def test_the_int8_title_says_what_tensorrt_ran_outside_the_qdq_pairs():
    import dataclasses

    int8 = [dataclasses.replace(r, precision="int8") for r in report.latency_groups(FLEET)[0][1][:2]]
    key = ("int8", "tensorrt", A100)
    assert report.group_title(key, _built(int8, "strong: Q/DQ graph with the rest in FP16", "strong")).startswith(
        "INT8 (strongly typed: Q/DQ graph, the rest FP16) latency (ms)")
    assert report.group_title(key, _built(int8, "weak: BuilderFlag.INT8 + BuilderFlag.FP16", "weak")).startswith(
        "INT8 (weakly typed: TensorRT picks FP16/FP32 per layer outside Q/DQ) latency (ms)")


def test_by_device_notes_say_how_tensorrt_built_fp16():
    import dataclasses

    built = [dataclasses.replace(r, method={"fp16_build": "strong"}) if r.device == A100 else r for r in FLEET]
    lines = report.device_markdown(report.device_sections(built)[0]).splitlines()
    assert f"- {A100}: tensorrt, median GPU compute time; FP16 (strongly typed: FP16 graph)" in lines
    assert f"- {T4}: tensorrt, median GPU compute time" in lines


def test_fp32_timings_filed_as_fp16_stay_out_of_the_fp16_table_the_reference_and_the_plot():
    """A run file of an older trtbench, whose FP16 case ran FP32 and was filed ok: read as failed."""
    import dataclasses

    from trtbench.store.records import record_from_json

    stuck = dataclasses.replace(FLEET[2], precision_executed="fp32", precision_evidence="12 fp32 layers")
    records = [record_from_json(r.to_json()) for r in FLEET if r is not FLEET[2]] + [record_from_json(
        stuck.to_json())]
    read = records[-1]
    assert read.status == "failed" and read.median_ms == 0.4  # kept for inspection
    key, group = report.latency_groups(records)[0]
    markdown = report.latency_markdown(key, group, reference=True)
    row = next(line for line in markdown.splitlines() if line.startswith("| ResNet18 "))
    assert row.split("|")[2].strip() == "failed" and "0.400" not in markdown
    caption = report.latency_table(key, group, reference=True).caption
    assert "ResNet18 batch 1 failed: asked fp16, the engine ran fp32: 12 fp32 layers" in caption
    axes = {axis.get_title(): axis for axis in report.plot_figure(records).axes}
    a100 = _lines(axes["FP16 median latency"])[f"{A100}: ResNet18"]
    assert list(a100.get_xdata()) == [8]  # batch 1 ran FP32: not drawn as FP16
    speedup = _lines(axes["FP16 speed-up over FP32"])
    assert list(speedup[f"{A100}: ResNet18"].get_xdata()) == [8]
    rows = {(r["model"], r["precision"], r["batch"], r["device"]): r for r in report.json_records(records)}
    assert rows["ResNet18", "fp16", 1, A100]["status"] == "failed"
    assert rows["ResNet18", "fp16", 1, A100]["latency_ms"]["median"] == 0.4
