"""`report --json` and `--csv` carry every field a record has, and (JSON) the runs' environments."""

import csv
import dataclasses
import io
import json

from trtbench.store.records import AccuracyRecord, LatencyRecord
from trtbench.store.results import RunFile

ENVIRONMENT = {"host": {"cpu": "Test CPU", "cpu_count": 2}, "versions": {"trtbench": "0.1.0"}}


def _record(**fields):
    return LatencyRecord(model="ResNet18", backend="openvino-cpu", device="Test CPU", precision="bf16", batch=1,
                         precision_executed="bf16", precision_evidence="OpenVINO runtime model: 21 of 21 in bf16",
                         metric="infer request time", latency_ms={"median": 2.0, "min": 1.9, "p90": 2.2},
                         throughput_ips=500.0, device_shared=False, device_sharing="no other process used the CPUs",
                         method={"threads": 2, "warmup_ms": 200.0, "timer": "perf_counter_ns"}, node="vm",
                         finished_at="2026-01-01T00:00:00Z", **fields)


def _run(folder, *records):
    folder.mkdir(exist_ok=True)
    run = RunFile(folder, ENVIRONMENT, ["trtbench", "run", "ResNet18"])
    for record in records:
        run.add(record)
    run.finish()
    return run


def test_json_is_the_runs_and_every_field_of_every_record(invoke, tmp_path):
    run = _run(tmp_path / "r", _record(), AccuracyRecord(model="ResNet18", backend="b", device="d", precision="fp32",
                                                          batch=8, top1=0.7, precision_executed="fp32"))
    shown = invoke("report", "--json", "--results-dir", tmp_path / "r")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert set(report) == {"runs", "pick", "records"} and report["pick"] == "latest"
    (saved,) = report["runs"]
    assert saved["run_id"] == run.run_id and saved["environment"] == ENVIRONMENT
    assert saved["command"] == ["trtbench", "run", "ResNet18"] and saved["status"] == "complete"
    latency, accuracy = sorted(report["records"], key=lambda r: r["kind"], reverse=True)
    expected = {**_record().to_json(), "run_id": run.run_id}
    assert {name: latency[name] for name in expected} == expected  # every saved field, as saved
    assert latency["precision_executed"] == "bf16" and latency["device_shared"] is False
    assert latency["method"]["threads"] == 2 and latency["metrics"]["median"] == 2.0
    assert "environment" not in latency  # its run's, listed once under runs
    assert accuracy["precision_executed"] == "fp32" and accuracy["top1"] == 0.7 and accuracy["metrics"] == {}


def test_json_keeps_a_records_own_environment_when_it_is_not_its_runs(tmp_path):
    from trtbench.reporting import data
    from trtbench.reporting.model import RunInfo

    record, same = _record(), dataclasses.replace(_record(), batch=4)
    record.run_id, record.environment = "r1", {"host": {"cpu": "Other node"}}
    same.run_id, same.environment = "r1", ENVIRONMENT
    report = data.json_report([record, same], [RunInfo("r1", environment=ENVIRONMENT)])
    assert report["records"][0]["environment"] == {"host": {"cpu": "Other node"}}
    assert "environment" not in report["records"][1] and report["runs"][0]["environment"] == ENVIRONMENT


def test_every_record_in_the_json_holds_precision_executed(invoke, tmp_path):
    _run(tmp_path / "r", _record(), dataclasses.replace(_record(), batch=4, precision_executed=None))
    records = json.loads(invoke("report", "--json", "--results-dir", tmp_path / "r").stdout)["records"]
    assert [r["precision_executed"] for r in records] == ["bf16", None]


def test_csv_has_a_column_for_every_scalar_field_metric_and_setting(invoke, tmp_path):
    _run(tmp_path / "r", _record())
    shown = invoke("report", "--csv", "--results-dir", tmp_path / "r")
    assert shown.exit_code == 0, shown.output
    (row,) = csv.DictReader(io.StringIO(shown.stdout))
    assert shown.stdout.startswith("kind,model,backend,device,precision,batch,status,error,metric,latency_ms_mean,")
    assert (row["precision_executed"], row["precision_evidence"]) == ("bf16",
                                                                      "OpenVINO runtime model: 21 of 21 in bf16")
    assert (row["device_shared"], row["device_sharing"]) == ("False", "no other process used the CPUs")
    assert (row["method.threads"], row["method.timer"], row["node"]) == ("2", "perf_counter_ns", "vm")
    assert float(row["latency_ms_p90"]) == 2.2 and float(row["throughput_ips"]) == 500.0
    for name in ("cov_warning", "timed_s", "case_s", "device_wait_s", "traceback", "warnings", "gpu_power_w"):
        assert name in row
