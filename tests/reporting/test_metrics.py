"""Metrics are declared once (``records.METRICS``): a metric registered here, by this test alone, is in the
records' JSON, every report format and `compare --metric`."""

import csv
import io
import json

import pytest

from trtbench.store.records import METRICS, LatencyRecord, Metric, record_from_json, register_metric
from trtbench.store.results import RunFile

ENERGY = "carbon_per_image"  # a figure trtbench does not measure


@pytest.fixture
def energy():
    """A metric no trtbench module knows: carbon per image, read from ``record.figures``."""
    metric = register_metric(Metric(ENERGY, "carbon per image", "mg", kind="carbon"))
    yield metric
    del METRICS[ENERGY]


def _rec(batch=1, energy=3.5, median=2.0, **fields):
    return LatencyRecord(model="ResNet18", backend="onnxruntime-cpu", device="Test CPU", precision="fp32", batch=batch,
                         metric="session run time", latency_ms={"median": median, "min": median, "p90": median},
                         throughput_ips=batch * 1000 / median, figures={ENERGY: energy},
                         finished_at="2026-01-01T00:00:00Z", **fields)


def _run(folder, *records):
    folder.mkdir()
    run = RunFile(folder, {"host": {"cpu": "Test CPU"}}, ["trtbench", "run"])
    for record in records:
        run.add(record)
    run.finish()
    return run.path


def test_the_registry_declares_unit_direction_format_and_comparison():
    assert {"median", "mean", "p90", "p95", "p99", "min", "max", "throughput", "gpu_power"} <= set(METRICS)
    median, throughput = METRICS["median"], METRICS["throughput"]
    assert (median.unit, median.direction, median.text(1.23456)) == ("ms", "lower is better", "1.235")
    assert (throughput.unit, throughput.direction, throughput.text(1234.56)) == ("images/s", "higher is better",
                                                                                 "1234.6")
    assert median.worse_pct(1.0, 1.1) == pytest.approx(10.0) and throughput.worse_pct(100.0, 90.0) == pytest.approx(10)
    telemetry = LatencyRecord(model="m", backend="b", device="d", precision="fp16", batch=1,
                              gpu_telemetry={"power_w": {"min": 1, "median": 250.5, "max": 300}})
    assert telemetry.value("gpu_power") == 250.5 and telemetry.value("median") is None
    with pytest.raises(ValueError, match="already registered"):
        register_metric(Metric("median", "again", "ms"))


def test_a_registered_metric_survives_the_records_json_round_trip(energy):
    record = record_from_json(json.loads(json.dumps(_rec().to_json())))
    assert record.figures == {ENERGY: 3.5} and record.value(ENERGY) == 3.5
    assert energy.value(_rec(energy=None)) is None


def test_a_figure_that_is_not_a_number_is_a_malformed_record(energy):
    from trtbench.errors import TrtbenchError

    data = _rec().to_json()
    data["figures"] = {ENERGY: "lots"}
    with pytest.raises(TrtbenchError, match="figures is not a table of numbers"):
        record_from_json(data)


def test_a_registered_metric_is_in_every_report_format(invoke, tmp_path, energy):
    run = _run(tmp_path / "r", _rec(batch=1, energy=3.5), _rec(batch=4, energy=12.25))
    report = json.loads(invoke("report", "--json", run).stdout)
    assert [r["metrics"][ENERGY] for r in report["records"]] == [3.5, 12.25]
    assert [r["figures"] for r in report["records"]] == [{ENERGY: 3.5}, {ENERGY: 12.25}]
    rows = list(csv.DictReader(io.StringIO(invoke("report", "--csv", run).stdout)))
    assert [float(row[ENERGY]) for row in rows] == [3.5, 12.25]
    markdown = invoke("report", "--markdown", "--metric", ENERGY, run, "--models-dir", tmp_path).stdout.splitlines()
    title = markdown.index("## FP32 carbon per image (mg): onnxruntime-cpu on Test CPU")
    assert markdown[title + 2:title + 5] == ["| Models           | batch_size=1<br>(mg) | batch_size=4<br>(mg) |",
                                             "|:--:|:--:|:--:|", "| ResNet18         | 3.500[^1] | 12.250[^1] |"]
    shown = invoke("report", "--metric", ENERGY, run)
    assert shown.exit_code == 0, shown.output
    assert "FP32 carbon per image (mg): onnxruntime-cpu on Test CPU" in shown.stdout
    assert ["ResNet18", "3.500", "12.250"] in [line.split() for line in shown.stdout.splitlines()]
    page = tmp_path / "page.html"
    assert invoke("report", "--html", page, "--metric", ENERGY, run, "--models-dir", tmp_path).exit_code == 0
    html = page.read_text()
    assert "carbon per image<br>(mg, lower is better)" in html and 'data-value="12.25">12.250<' in html


def test_compare_reads_a_registered_metric(invoke, tmp_path, energy):
    base = _run(tmp_path / "base", _rec(energy=3.5))
    new = _run(tmp_path / "new", _rec(energy=4.0))
    result = invoke("compare", base, new, "--metric", ENERGY, "--json")
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert (verdict["metric"], verdict["unit"], verdict["higher_is_better"]) == (ENERGY, "mg", False)
    (case,) = verdict["cases"]
    assert (case["base"], case["new"], case["result"]) == (3.5, 4.0, "regressed")
    assert case["change_pct"] == pytest.approx(100 * (4.0 / 3.5 - 1))
    table = invoke("compare", base, new, "--metric", ENERGY).stdout
    assert "carbon per image (mg), onnxruntime-cpu on Test CPU" in " ".join(table.split())


def test_an_unknown_metric_is_one_line_naming_the_registered_ones(invoke, tmp_path):
    from tests.cli.test_export import _one_line_error

    run = _run(tmp_path / "r", _rec())
    line = _one_line_error(invoke("compare", run, run, "--metric", "watts"), code=2)
    assert "'watts' is not a metric: choose from median, mean" in line
    line = _one_line_error(invoke("report", "--metric", "watts", run), code=2)
    assert "'watts' is not a metric" in line
