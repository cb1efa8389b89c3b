import json

import pytest

from trtbench.errors import TrtbenchError
from trtbench.results import SCHEMA_VERSION, RunFile, latest, load_records, load_run, run_files


def _record(model="ResNet18", batch=1, when="2026-01-01T00:00:00Z", median=1.0):
    return {"model": model, "backend": "onnxruntime-cpu", "device": "cpu", "precision": "fp32", "batch": batch,
            "status": "ok", "finished_at": when, "latency_ms": {"median": median}}


def test_each_record_is_on_disk_as_soon_as_it_is_added(tmp_path):
    run = RunFile(tmp_path, {"host": {}}, ["trtbench", "run"])
    run.add(_record(batch=1))
    assert [r["batch"] for r in load_run(run.path)["records"]] == [1]
    run.add(_record(batch=4))
    on_disk = load_run(run.path)
    assert [r["batch"] for r in on_disk["records"]] == [1, 4] and on_disk["finished_at"] is None
    run.finish()
    assert load_run(run.path)["finished_at"]
    assert [p.name for p in tmp_path.iterdir()] == [run.path.name]  # no temporary files left


def test_latest_record_per_case_wins(tmp_path):
    old = _record(when="2026-01-01T00:00:00Z", median=5.0)
    new = _record(when="2026-01-02T00:00:00Z", median=3.0)
    other = _record(batch=8)
    assert sorted(r["latency_ms"]["median"] for r in latest([new, old, other])) == [1.0, 3.0]


def test_records_carry_their_run(tmp_path):
    run = RunFile(tmp_path, {"host": {"cpu": "x"}}, [])
    run.add(_record())
    (record,) = load_records(run_files(tmp_path))
    assert record["run_id"] == run.run_id and record["environment"]["host"]["cpu"] == "x"


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
