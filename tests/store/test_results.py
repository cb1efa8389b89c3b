import json
import re

import pytest

from trtbench.errors import TrtbenchError
from trtbench.store.records import LatencyRecord
from trtbench.store.results import SCHEMA_VERSION, RunFile, latest, load_records, load_run, run_files


def _record(model="ResNet18", batch=1, when="2026-01-01T00:00:00Z", median=1.0):
    return LatencyRecord(model=model, backend="onnxruntime-cpu", device="cpu", precision="fp32", batch=batch,
                         finished_at=when, latency_ms={"median": median})


def test_each_record_is_on_disk_as_soon_as_it_is_added(tmp_path):
    run = RunFile(tmp_path, {"host": {}}, ["trtbench", "run"])
    run.add(_record(batch=1))
    assert [r.batch for r in load_run(run.path).records] == [1]
    run.add(_record(batch=4))
    on_disk = load_run(run.path)
    assert [r.batch for r in on_disk.records] == [1, 4] and on_disk.finished_at is None
    run.finish()
    run.close()
    assert load_run(run.path).finished_at and load_run(run.path).status == "complete"
    assert [p.name for p in tmp_path.iterdir()] == [run.path.name]  # no temporary files left


def test_latest_record_per_case_wins(tmp_path):
    old = _record(when="2026-01-01T00:00:00Z", median=5.0)
    new = _record(when="2026-01-02T00:00:00Z", median=3.0)
    other = _record(batch=8)
    assert sorted(r.median_ms for r in latest([new, old, other])) == [1.0, 3.0]


def test_records_carry_their_run(tmp_path):
    run = RunFile(tmp_path, {"host": {"cpu": "x"}}, [])
    run.add(_record())
    (record,) = load_records(run_files(tmp_path))
    assert record.run_id == run.run_id and record.environment["host"]["cpu"] == "x"


@pytest.mark.parametrize("content,message", [
    ("{not json", "is not a trtbench results file"),
    (json.dumps({"records": []}), "is not a trtbench results file"),
    (json.dumps({"tool": "trtbench", "schema_version": SCHEMA_VERSION + 1, "records": []}), "newer than"),
])
def test_foreign_or_future_files_are_refused(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(TrtbenchError, match=message):
        load_run(path)


def test_missing_file(tmp_path):
    with pytest.raises(TrtbenchError, match="not found"):
        load_run(tmp_path / "nope.json")


def test_a_schema_1_run_file_still_loads(tmp_path):
    """tests/data/runs/schema1.json was written by trtbench before records were typed (schema 1)."""
    from pathlib import Path

    from trtbench import reporting as report
    from trtbench.store.records import AccuracyRecord

    path = Path(__file__).parents[1] / "data" / "runs" / "schema1.json"
    assert json.loads(path.read_text())["schema_version"] == 1
    run = load_run(path)
    kinds = [(r.kind, r.precision, r.batch, r.status) for r in run.records]
    assert kinds == [("latency", "fp32", 1, "ok"), ("latency", "fp16", 2, "ok"), ("latency", "fp32", 1, "failed"),
                     ("accuracy", "fp32", 4, "ok")]
    ok, _, failed, accuracy = run.records
    assert isinstance(ok, LatencyRecord) and ok.median_ms > 0 and ok.method["providers"] == ["CPUExecutionProvider"]
    assert failed.error.startswith("NoSuchFile") and failed.latency_ms is None
    assert isinstance(accuracy, AccuracyRecord) and (accuracy.top1, accuracy.images) == (0.5, 6)
    assert all(r.run_id == run.run_id for r in run.records)
    # and it reports like a new one
    assert [key for key, _ in report.latency_groups(run.records)][0][0] == "fp16"
    # saved again, it is a schema-2 file that reads back the same
    again = RunFile(tmp_path, run.environment, run.command)
    for record in run.records:
        again.add(record)
    reread = load_run(again.path)
    assert reread.schema_version == SCHEMA_VERSION
    assert [r.to_json() for r in reread.records] == [r.to_json() for r in run.records]


def test_a_record_of_an_unknown_kind_is_one_clear_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"tool": "trtbench", "schema_version": SCHEMA_VERSION,
                                "records": [{"kind": "energy", "model": "ResNet18"}]}))
    with pytest.raises(TrtbenchError, match="record 1: unknown record kind 'energy'"):
        load_run(path)
    path.write_text(json.dumps({"tool": "trtbench", "schema_version": SCHEMA_VERSION,
                                "records": [{"kind": "latency", "model": "ResNet18"}]}))
    with pytest.raises(TrtbenchError, match="record 1: a latency record is incomplete"):
        load_run(path)


@pytest.mark.parametrize("version", ['"1"', "null", "0", "true"])
def test_a_schema_version_that_is_not_a_number_is_not_called_newer(tmp_path, version):
    path = tmp_path / "r.json"
    path.write_text('{"tool": "trtbench", "schema_version": ' + version + ', "records": []}')
    with pytest.raises(TrtbenchError, match="is not a schema number"):
        load_run(path)


@pytest.mark.parametrize("change,problem", [
    ({"batch": "x"}, "batch is not a positive whole number"),
    ({"batch": 0}, "batch is not a positive whole number"),
    ({"model": 5}, "model is not text"),
    ({"latency_ms": {"median": "fast"}}, "latency_ms is not a table of numbers"),
    ({"latency_ms": None}, "an ok record has no median latency"),
    ({"throughput_qps": "many"}, "throughput_qps is not a number"),
    ({"method": 5}, "method is not a table"),
    ({"warnings": "one"}, "warnings is not a list of text"),
    ({"warnings": ["one", 2]}, "warnings is not a list of text"),
    ({"latency_ms": {"median": 1.0, "p99": True}}, "latency_ms is not a table of numbers"),
    ({"latency_ms": {"median": 1.0, "p99": 10 ** 400}}, "latency_ms is not a table of numbers"),
    ({"figures": {"energy_j": "x"}}, "figures is not a table of numbers"),
    ({"cov": True}, "cov is not a number"),
    ({"finished_at": 5}, "finished_at is not text"),
])
def test_a_malformed_record_is_one_clear_error(tmp_path, change, problem):
    good = {"kind": "latency", "model": "ResNet18", "backend": "b", "device": "d", "precision": "fp32", "batch": 1,
            "latency_ms": {"median": 1.0}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"tool": "trtbench", "schema_version": SCHEMA_VERSION, "records": [good]}))
    assert load_run(path).records[0].median_ms == 1.0
    path.write_text(json.dumps({"tool": "trtbench", "schema_version": SCHEMA_VERSION,
                                "records": [{**good, **change}]}))
    with pytest.raises(TrtbenchError, match=re.escape(f"record 1: a latency record is malformed ({problem})")):
        load_run(path)


def test_records_read_as_written_whichever_way_they_are_filled(tmp_path):
    """A record that takes its JSON dict as its own and one that copies it read the same; only the first
    changes the dict; fields a file lacks get their defaults, ints and str subclasses still count."""
    from trtbench.store.records import record_from_json

    data = {"kind": "latency", "model": "ResNet18", "backend": "b", "device": "d", "precision": "fp32", "batch": 1,
            "latency_ms": {"median": 1, "p90": None}, "warnings": [type("Text", (str,), {})("w")], "later": 1}
    before = json.dumps(data)
    copied = record_from_json(data)
    assert json.dumps(data) == before  # read, never changed
    adopted = record_from_json(dict(data), adopt=True)
    exact = {key: value for key, value in data.items() if key != "later"}
    taken = record_from_json(exact, adopt=True)
    assert copied.to_json() == adopted.to_json() == taken.to_json() == \
        LatencyRecord(model="ResNet18", backend="b", device="d", precision="fp32", batch=1,
                      latency_ms={"median": 1, "p90": None}, warnings=["w"]).to_json()
    assert taken.__dict__ is exact and "kind" not in exact and taken.figures == {} and taken.run_id is None
    assert copied.spans_ms is not adopted.spans_ms  # each record its own default containers
