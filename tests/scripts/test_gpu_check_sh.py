"""scripts/gpu_check.sh ends with one VERDICT line whatever happens: through a stand-in trtbench that
files prepared run files (fast), and once through the real trtbench on this machine, which has no GPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trtbench.store.records import LatencyRecord
from trtbench.store.results import RunFile

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")

# The stand-in: `export` exits $EXPORT_STATUS; `run --backend B ... --results-dir D` copies the run
# files prepared under $RUNS/B into D (none prepared: it writes nothing, as a run refused before any
# case); `verify` prints $RUNS/verify.json; everything else succeeds.
STAND_IN = r"""#!/usr/bin/env bash
command=$1; shift
echo "$command $*" >> "$RUNS/calls"
case $command in
  export) exit "${EXPORT_STATUS:-0}" ;;
  run)
    backend=; precision=; dest=
    while [ $# -gt 0 ]; do
      case $1 in
        --backend) backend=$2; shift ;;
        --precision) precision=$2; shift ;;
        --results-dir) dest=$2; shift ;;
      esac
      shift
    done
    [ "$precision" = int8 ] && backend=int8
    if [ -d "$RUNS/$backend" ]; then mkdir -p "$dest" && cp "$RUNS/$backend"/*.json "$dest/"; exit 0; fi
    echo "error: backend $backend is not available" >&2; exit 1 ;;
  verify) cat "$RUNS/verify.json" 2>/dev/null; exit 0 ;;
esac
exit 0
"""


def _record(backend, precision, batch, median, layers=None):
    return LatencyRecord(model="ResNet50", backend=backend, device="NVIDIA H200", precision=precision, batch=batch,
                         status="ok", latency_ms={"median": median}, engine={"layer_precisions": layers})


def prepare(runs: Path, tensorrt=True, trtexec=True, verify=True) -> None:
    """Run files as trtbench writes them, for the stand-in to file."""
    runs.mkdir()
    cases = {"tensorrt": [_record("tensorrt", "fp16", 1, 0.40), _record("tensorrt", "fp32", 8, 2.0)],
             "trtexec": [_record("trtexec", "fp16", 1, 0.40), _record("trtexec", "fp32", 8, 2.02)],
             "int8": [_record("tensorrt", "int8", 8, 0.3, layers={"int8": 53, "fp16": 3})]}
    for folder, records in cases.items():
        if folder == "tensorrt" and not tensorrt or folder == "trtexec" and not trtexec:
            continue
        (runs / folder).mkdir()
        with RunFile(runs / folder, {}, ["trtbench", "run"]) as run_file:
            for record in records:
                run_file.add(record)
            run_file.finish()
    if verify:
        (runs / "verify.json").write_text(json.dumps(
            [{"model": "ResNet50", "precision": p, "passed": True, "failed": []} for p in ("fp16", "int8")]))


def gpu_check(tmp_path: Path, with_trtexec: bool, **env: str) -> subprocess.CompletedProcess:
    stand_in = tmp_path / "bin" / "trtbench"
    stand_in.parent.mkdir()
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    if with_trtexec:  # on PATH only: the stand-in never calls it
        (tmp_path / "bin" / "trtexec").write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / "bin" / "trtexec").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    environment = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "TRTBENCH": str(stand_in),
                   "PYTHON": sys.executable, "RUNS": str(tmp_path / "runs"), "RESULTS": str(work / "check"), **env}
    return subprocess.run(["bash", str(SCRIPT)], cwd=work, env=environment, capture_output=True, text=True,
                          timeout=120)


def last_line(done: subprocess.CompletedProcess) -> str:
    return done.stdout.strip().splitlines()[-1]


def test_everything_ran_and_agreed_passes(tmp_path):
    prepare(tmp_path / "runs")
    done = gpu_check(tmp_path, with_trtexec=True)
    assert last_line(done) == "VERDICT: PASS" and done.returncode == 0, done.stdout + done.stderr


def test_without_trtexec_the_verdict_is_incomplete_and_says_where_to_get_it(tmp_path):
    prepare(tmp_path / "runs", trtexec=False)
    done = gpu_check(tmp_path, with_trtexec=False)
    line = last_line(done)
    assert line.startswith("VERDICT: INCOMPLETE: TensorRT's checks passed, but trtexec did not run"), line
    assert "TensorRT's tar package (bin/trtexec)" in line and "/usr/src/tensorrt/bin/trtexec" in line
    assert done.returncode == 2


def test_tensorrt_that_wrote_no_run_file_fails_with_the_reason(tmp_path):
    prepare(tmp_path / "runs", tensorrt=False)
    done = gpu_check(tmp_path, with_trtexec=True)
    assert last_line(done).startswith("VERDICT: FAIL: TensorRT did not run: no run file in ")
    assert done.returncode == 1


def test_trtexec_that_ran_no_case_fails(tmp_path):
    prepare(tmp_path / "runs", trtexec=False)
    done = gpu_check(tmp_path, with_trtexec=True)  # trtexec on PATH, but its run filed nothing
    assert last_line(done) == "VERDICT: FAIL: no trtexec case ran"


def test_a_failed_export_fails_before_timing(tmp_path):
    prepare(tmp_path / "runs")
    done = gpu_check(tmp_path, with_trtexec=True, EXPORT_STATUS="4")
    assert last_line(done).startswith("VERDICT: FAIL: trtbench export ResNet50 failed (exit status 4)")
    assert "run " not in (tmp_path / "runs" / "calls").read_text()


def test_a_python_that_cannot_give_a_verdict_still_ends_in_one(tmp_path):
    prepare(tmp_path / "runs")
    done = gpu_check(tmp_path, with_trtexec=True, PYTHON="false")
    assert last_line(done).startswith("VERDICT: FAIL: scripts/gpu_check.py gave no verdict (exit status 1")


@pytest.mark.slow
def test_here_without_a_gpu_the_real_check_fails_with_a_reason(tmp_path):
    trtbench = shutil.which("trtbench", path=os.path.dirname(sys.executable))
    if trtbench is None:
        pytest.skip("trtbench is not installed beside this Python")
    environment = {**os.environ, "TRTBENCH": trtbench, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=600)
    line = last_line(done)
    assert line.startswith("VERDICT: ") and not line.startswith("VERDICT: PASS"), line
    assert done.returncode != 0
