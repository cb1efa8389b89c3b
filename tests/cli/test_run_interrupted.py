"""Real `trtbench run` processes stopped mid-sweep (SIGTERM, SIGKILL) and resumed, and two run at
once: every case is recorded exactly once, and no two timings overlap."""

import itertools
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from trtbench.store.results import load_run

BATCHES = "1,2,3,4,5,6"
CASES = [("ResNet18", "fp32", b) for b in range(1, 7)]
FAST = ("--warmup-ms", "20", "--duration", "0.3", "--iterations", "3")

pytestmark = pytest.mark.slow


def _trtbench(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "trtbench", *map(str, args)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _sweep(models_dir, results, batches=BATCHES):
    return _trtbench("run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32", "--batch", batches,
                     "--threads", "1", "--models-dir", models_dir, "--results-dir", results, "--progress", "json",
                     *FAST)


def _cases(run):
    return sorted((r.model, r.precision, r.batch) for r in run.records)


def test_sigterm_mid_sweep_keeps_every_finished_case_and_resume_completes_the_run(exported, tmp_path):
    models_dir, _ = exported
    results = tmp_path / "results"
    process = _sweep(models_dir, results)
    finished = 0
    for line in process.stderr:
        if json.loads(line)["event"] == "case_finished":
            finished += 1
            if finished == 2:
                break
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    err = process.stderr.read()
    assert process.wait(30) == 143
    assert time.monotonic() - stopped_at < 5  # within a second or two of the signal
    assert "Traceback" not in err
    interrupted = json.loads([line for line in err.splitlines() if '"run_interrupted"' in line][0])
    assert interrupted["resume"].startswith("trtbench run --resume ")
    (run_path,) = results.glob("*.json")
    run = load_run(run_path)
    assert run.status == "interrupted" and len(run.records) >= 2 and all(r.ok for r in run.records)

    resumed = _trtbench("run", "--resume", "--results-dir", results)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    run = load_run(run_path)
    assert _cases(run) == CASES and run.status == "complete" and run.resumed_at
    assert list(results.iterdir()) == [run_path]


def _records_on_disk(results) -> int:
    """How many records the run file in ``results`` holds now (0 before there is one); it is replaced
    whole (renamed into place) after each record, so any moment reads a complete file."""
    found = list(results.glob("*.json"))
    return len(load_run(found[0]).records) if found else 0


def _kill_when(process, moment, limit_s: float = 240.0) -> None:
    """SIGKILL ``process`` as soon as ``moment()`` is seen to hold; the run must not end first."""
    # its progress events are read as they come, so that a full pipe never holds the run back
    drained = threading.Thread(target=process.stderr.read, daemon=True)
    drained.start()
    deadline = time.monotonic() + limit_s
    while not moment():
        assert process.poll() is None, f"the run ended (status {process.returncode}) before the moment came"
        assert time.monotonic() < deadline, f"the moment did not come in {limit_s:g} s"
        time.sleep(0.005)  # the polling interval: the moment is what is waited for
    process.kill()
    process.wait(30)
    drained.join(30)


@pytest.mark.parametrize("records", [0, 1, 2, 3], ids=["before-the-run-file", "after-1-record", "after-2-records",
                                                        "after-every-record"])
def test_sigkill_at_an_observed_moment_loses_nothing_finished(exported, tmp_path, records):
    models_dir, _ = exported
    results = tmp_path / "results"
    process = _sweep(models_dir, results, "1,2,3")
    # 0: at once, while Python is still starting (it has made no run file); else once that many records
    # are on disk (the 3rd: the run may have completed by then)
    _kill_when(process, (lambda: True) if records == 0 else (lambda: _records_on_disk(results) >= records))
    found = list(results.glob("*.json"))
    if not found:  # killed before the run file was made: nothing to resume, one line saying so
        assert records == 0
        resumed = _trtbench("run", "--resume", "--results-dir", results)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 1 and err.strip().splitlines()[-1].startswith("error: no interrupted run")
        return
    assert records > 0
    (run_path,) = found
    before = load_run(run_path)  # a complete, valid file whatever the moment
    assert len(before.records) >= records and all(r.ok for r in before.records)
    if records < 3:  # the next case had no time to finish: the run is there to resume
        assert before.status == "running" and len(before.records) == records
    resumed = _trtbench("run", "--resume", "--results-dir", results)
    _, err = resumed.communicate(timeout=300)
    if before.status == "complete":
        assert resumed.returncode == 1 and "no interrupted run" in err
    else:
        assert resumed.returncode == 0, err
    run = load_run(run_path)
    assert _cases(run) == CASES[:3] and run.status == "complete"
    assert [r.finished_at for r in run.records[:len(before.records)]] == [r.finished_at for r in before.records]


def test_two_runs_at_once_never_time_together(exported, tmp_path):
    models_dir, _ = exported
    runs = [_sweep(models_dir, tmp_path / name, "1,2,4") for name in ("a", "b")]
    for process in runs:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    records = [r for name in ("a", "b") for path in (tmp_path / name).glob("*.json") for r in load_run(path).records]
    windows = sorted(r.timed_between for r in records)
    assert len(windows) == 6 and all(len(w) == 2 for w in windows)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(windows))
    assert all(r.device_shared is not None and "CPUs on average while timed" in r.device_sharing for r in records)


def test_resume_refuses_an_export_that_changed_or_went_since(exported, tmp_path):
    import shutil

    models_dir, _ = exported
    models = tmp_path / "models"
    models.mkdir()
    for path in models_dir.glob("ResNet18*"):
        shutil.copy(path, models / path.name)
    results = tmp_path / "results"
    process = _sweep(models, results, "1,2,3")
    for line in process.stderr:
        if json.loads(line)["event"] == "case_finished":
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    # resumed from another folder: the plan's folders are absolute, so it is the same export
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for path in models.glob("ResNet18.onnx*"):
        path.rename(tmp_path / path.name)  # the export is gone: a resume must not export random weights
    gone = _trtbench("run", "--resume", "--results-dir", results, cwd=elsewhere)
    _, err = gone.communicate(timeout=120)
    assert gone.returncode == 1
    assert err.strip().splitlines()[-1].endswith("that export is missing: start a new run")
    assert not (elsewhere / "models").exists() and not (models / "ResNet18.onnx").exists()
    for path in tmp_path.glob("ResNet18.onnx*"):
        path.rename(models / path.name)
    resumed = _trtbench("run", "--resume", "--results-dir", results, cwd=elsewhere)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    (run_path,) = results.glob("*.json")
    assert _cases(load_run(run_path)) == CASES[:3]
