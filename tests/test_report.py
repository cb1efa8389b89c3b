import csv
import io

from trtbench import report
from trtbench.records import LatencyRecord


def _rec(model, precision, batch, median, status="ok", cov_warning=False):
    return LatencyRecord(
        model=model, backend="onnxruntime-cpu", device="Test CPU", precision=precision, batch=batch, status=status,
        error=None if status == "ok" else "boom", metric="session run time", cov=0.01, cov_warning=cov_warning,
        latency_ms={"mean": median, "median": median, "p90": median, "p95": median, "p99": median,
                    "min": median, "max": median, "stdev": 0.0} if status == "ok" else None,
        throughput_qps=1000 / median, throughput_ips=batch * 1000 / median, iterations=10,
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

    from trtbench.records import AccuracyRecord

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
    from trtbench import compare

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
