"""Memory, cold start and energy: registered metrics, their own table in every report, gated by compare."""

import json

from trtbench.reporting import contents, markdown
from trtbench.reporting.costs import costs_table
from trtbench.store.records import LatencyRecord

MIB = 2**20


def _record(backend="openvino-cpu", peak=400 * MIB, energy=None, **fields):
    return LatencyRecord(model="ResNet50", backend=backend, device="Test CPU", precision="fp32", batch=8,
                         latency_ms={"median": 100.0}, iterations=30, finished_at="2026-01-01T00:00:00Z",
                         memory={"peak_rss_bytes": peak, "build_peak_rss_bytes": 2 * peak, "rss_before_bytes": MIB,
                                 "how": "VmHWM reset per case (/proc/self/clear_refs)"},
                         energy=energy if energy is not None else {"unreadable": "no /sys/class/powercap here"},
                         cold_start={"load_s": 0.25, "first_inference_ms": 180.0}, **fields)


def test_each_cost_is_a_metric_with_its_unit_and_direction():
    record = _record(energy={"joules_per_image": 0.125, "images_per_joule": 8.0, "source": "RAPL package-0"},
                     gpu_telemetry=None)
    record.memory["engine"] = {"plan_bytes": 50 * MIB, "device_memory_bytes": 12 * MIB}
    record.memory["gpu_process_peak_bytes"] = 900 * MIB
    assert record.value("peak_rss") == 400.0 and record.value("build_peak_rss") == 800.0
    assert record.value("engine_size") == 50.0 and record.value("engine_device_memory") == 12.0
    assert record.value("device_memory") == 900.0
    assert record.value("energy_per_image") == 0.125 and record.value("images_per_joule") == 8.0
    assert record.value("first_inference") == 180.0 and record.value("load_time") == 0.25
    # nothing measured is no figure, never zero; a hostile file is no figure either
    bare = LatencyRecord(model="ResNet50", backend="b", device="d", precision="fp32", batch=1)
    hostile = _record(peak="lots")
    hostile.memory["engine"] = ["junk"]
    for name in ("peak_rss", "engine_size", "energy_per_image", "first_inference", "device_memory"):
        assert bare.value(name) is None and (name == "first_inference" or hostile.value(name) is None), name
    assert _record(peak=True).value("peak_rss") is None  # a bool is not a byte count
    assert _record(peak=10**400).value("peak_rss") is None  # nor a count too large for a float


def test_the_costs_table_has_a_row_per_case_and_says_how_each_figure_was_read():
    records = [_record(), _record("onnxruntime-cpu", peak=300 * MIB)]
    table = costs_table(records)
    headers = [column.header for column in table.columns]
    assert headers[4:] == ["peak resident memory while timed\n(MiB)", "peak resident memory while built\n(MiB)",
                           "first inference after loading\n(ms)", "load time (artifact to a ready engine)\n(s)"]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows == [["ResNet50", "fp32", "8", "onnxruntime-cpu on Test CPU", "300", "600", "180.000", "0.250"],
                    ["ResNet50", "fp32", "8", "openvino-cpu on Test CPU", "400", "800", "180.000", "0.250"]]
    assert "memory: VmHWM reset per case (/proc/self/clear_refs)" in table.notes
    assert "energy: not readable here (no /sys/class/powercap here)" in table.notes
    measured = _record("tensorrt", energy={"joules_per_image": 0.5, "source": "NVML total energy consumption"})
    notes = costs_table([records[0], measured]).notes
    assert "energy: not readable here (no /sys/class/powercap here) (openvino-cpu on Test CPU)" in notes
    assert "energy: NVML total energy consumption (tensorrt on Test CPU)" in notes
    assert costs_table([LatencyRecord(model="ResNet50", backend="b", device="d", precision="fp32", batch=1)]) is None


def test_every_report_form_carries_the_costs(tmp_path):
    from trtbench.reporting import data, html

    records = [_record()]
    terminal = contents.terminal_report(records)
    assert [table.kind for table in terminal.tables] == ["latency", "costs"]
    assert "| ResNet50 | fp32 | 8 | openvino-cpu on Test CPU | 400 | 800 | 180.000 | 0.250 |" in markdown.report(
        contents.page_report(records, []))
    page = html.page(contents.full_report(records, [], []))
    assert 'data-kind="costs"' in page and "not readable here" in page
    (row,) = json.loads(json.dumps(data.json_report(records)))["records"]
    assert row["metrics"]["peak_rss"] == 400.0 and row["energy"] == {"unreadable": "no /sys/class/powercap here"}
    assert "peak_rss_mib,build_peak_rss_mib" in data.csv_text(records)
