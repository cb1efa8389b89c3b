"""Fleet-scale results: a terminal shows at most --limit rows and says how many more; the file formats
give every row; loading a run file keeps records exactly as their dataclass makes them."""

import gc
import json

import pytest

from trtbench.store.records import LatencyRecord
from trtbench.store.results import Run, gc_paused, load_run

DEVICES = 30
MODELS = ("ResNet18", "ResNet34", "ResNet50")
BATCHES = (1, 8)


def _cases(slower_at=(), factor=1.0):
    """A record per model x batch x device (180 cases); the cases at ``slower_at`` 30% slower."""
    records = []
    for device in range(DEVICES):
        for model in MODELS:
            for batch in BATCHES:
                median = (1.0 + batch) * factor * (1.3 if len(records) in slower_at else 1.0)
                records.append(LatencyRecord(model=model, backend="tensorrt", device=f"GPU {device:02d}",
                                             precision="fp16", batch=batch, latency_ms={"median": median},
                                             throughput_ips=batch * 1000 / median,
                                             finished_at="2026-01-01T00:00:00Z"))
    return records


def _write(path, records):
    run = Run(run_id=path.stem, started_at="2026-01-01T00:00:00Z", command=["trtbench", "run"],
              environment={"host": {}}, records=records, finished_at="2026-01-01T00:10:00Z", status="complete")
    path.write_text(json.dumps(run.to_json()), encoding="utf-8")
    return path


def _table_rows(text):
    """The rows of terminal tables: lines that start with a model's name."""
    return [line for line in text.splitlines() if line.split()[:1] and line.split()[0] in MODELS]


def test_report_on_a_terminal_shows_limit_rows_and_says_how_many_more(invoke, tmp_path):
    path = _write(tmp_path / "fleet.json", _cases())  # 30 tables (a device each) of 3 rows
    result = invoke("report", path, "--limit", "10")
    assert result.exit_code == 0, result.output
    assert len(_table_rows(result.stdout)) == 10
    assert "10 of 90 rows shown and 26 more tables: --limit N shows more (0: all)" in result.stdout
    everything = invoke("report", path, "--limit", "0")
    assert len(_table_rows(everything.stdout)) == 90 and "rows shown" not in everything.stdout
    default = invoke("report", path)  # 90 rows: under the default limit, nothing is left out
    assert len(_table_rows(default.stdout)) == 90 and "rows shown" not in default.stdout
    # The file formats give every row whatever --limit says.
    markdown = invoke("report", path, "--markdown", "--limit", "10")
    assert markdown.stdout == invoke("report", path, "--markdown", "--limit", "0").stdout
    assert all(f"GPU {device:02d}" in markdown.stdout for device in range(DEVICES))
    assert "rows shown" not in markdown.stdout


def test_compare_on_a_terminal_shows_the_cases_that_changed_first(invoke, tmp_path):
    base = _write(tmp_path / "base.json", _cases())
    new = _write(tmp_path / "new.json", _cases(slower_at=(5, 170, 179)))
    result = invoke("compare", base, new, "--limit", "4")
    assert result.exit_code == 1, result.output
    rows = _table_rows(result.stdout)
    assert len(rows) == 4
    assert sum("regressed" in row for row in rows) == 3  # all three, though two are near the end of 180
    assert "176 more cases not shown, none of them changed: --limit N shows more (0: all)" in result.stdout
    assert "3 of 180 compared cases regressed" in result.output
    fewer = invoke("compare", base, new, "--limit", "2")
    assert "178 more cases not shown, 1 of them changed" in fewer.stdout
    assert sum("regressed" in row for row in _table_rows(fewer.stdout)) == 2
    markdown = invoke("compare", base, new, "--markdown", "--limit", "2")
    assert sum(line.startswith("| ResNet") for line in markdown.stdout.splitlines()) == 180
    assert "not shown" not in markdown.stdout


@pytest.mark.parametrize("command", ["report", "compare"])
def test_limit_is_a_count(invoke, tmp_path, command):
    path = _write(tmp_path / "fleet.json", _cases()[:2])
    result = invoke(command, *([path] if command == "report" else [path, path]), "--limit", "-1")
    assert result.exit_code == 2
    assert "--limit" in result.output and "Traceback" not in result.output


def test_loaded_records_are_what_their_dataclass_makes(tmp_path):
    from pathlib import Path

    runs = sorted((Path(__file__).parents[1] / "data").rglob("*.json"))
    checked = 0
    for path in runs:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not (isinstance(data, dict) and data.get("tool") == "trtbench" and data.get("schema_version") == 2):
            continue
        for item, record in zip(data["records"], load_run(path).records, strict=True):
            made = type(record)(**{k: v for k, v in item.items() if k != "kind" and k != "environment"},
                                run_id=record.run_id, environment=record.environment)
            if made.ok and made.precision_mismatch():
                made.failed(made.precision_mismatch())
            assert vars(record) == vars(made), path
            checked += 1
    assert checked >= 30
    # Defaults made by a factory are each record's own, as the dataclass makes them.
    first, second = load_run(_write(tmp_path / "two.json", _cases()[:2])).records
    first.warnings.append("x")
    assert second.warnings == []


def test_the_cycle_collector_is_held_off_while_loading_and_restored(tmp_path):
    path = _write(tmp_path / "fleet.json", _cases()[:3])
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        load_run(path)
        assert not gc.isenabled()  # an inner pause does not switch it back on
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_the_benchmark_script_times_every_command_on_a_small_fleet(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, str(root / "scripts" / "bench_reports.py"), "--runs", "1", "--records",
                           "300", "--files", "3", "--keep", str(tmp_path / "fleet")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU: ") and "median of 1" in lines[0]
    names = [line.split("lines  ", 1)[1] for line in lines[1:]]
    assert names[:5] == [
        "report (one 300-record file)", "report --markdown (one 300-record file)",
        "report --results-dir (3 run files)", "compare A B (two 300-record files)", "compare --markdown A B"]
    assert any(name.startswith("report (a 14-model sweep") for name in names[5:])
    assert len(load_run(tmp_path / "fleet" / "fleet-50k.json").records) == 300
