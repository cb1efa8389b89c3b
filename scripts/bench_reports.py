"""Times `trtbench report` and `trtbench compare` on fleet-scale results: one run file of 50,000 records,
1,000 run files of 50 records each, two 50,000-record files compared, and a 14-model sweep whose records keep
their samples (3 s and 60 s a case); each command as its own process, median of N runs.

    python scripts/bench_reports.py [--runs N] [--records N] [--files N] [--keep DIR]
    PYTHONPATH=/tmp/old python scripts/bench_reports.py   # the same files against another copy of trtbench
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "reports" / "runs" / "fleet.json"
MODELS = ["ResNet18", "ResNet18_vd", "ResNet34", "ResNet34_vd", "ResNet50", "ResNet50_vd", "ResNet101",
          "ResNet101_vd", "ResNet152", "ResNet152_vd", "ResNet200_vd", "ResNet50_vd_ssld"]
BATCHES = [1, 2, 4, 8, 16, 32, 64]
PRECISIONS = [("tensorrt", "fp32"), ("tensorrt", "fp16"), ("tensorrt", "int8"), ("openvino-cpu", "fp32"),
              ("onnxruntime-cpu", "fp32")]


def fleet_records(count: int, slower: float = 1.0) -> list[dict]:
    """``count`` latency records, each a distinct case (model x backend/precision x batch x device)."""
    base = next(r for r in json.loads(SAMPLE.read_text())["records"] if r.get("latency_ms"))
    records = []
    per_device = len(MODELS) * len(PRECISIONS) * len(BATCHES)
    for index in range(count):
        device, rest = divmod(index, per_device)
        model_index, rest = divmod(rest, len(PRECISIONS) * len(BATCHES))
        precision_index, batch_index = divmod(rest, len(BATCHES))
        record = copy.deepcopy(base)
        backend, precision = PRECISIONS[precision_index]
        batch = BATCHES[batch_index]
        ms = (0.4 + 0.3 * model_index) * (1 + 0.6 * batch) * (1 + device % 7 / 10) * slower
        ms *= 1.2 if index % 97 == 0 else 1.0  # a few cases change between base and new
        record.update(model=MODELS[model_index], backend=backend, precision=precision, batch=batch,
                      device=f"NVIDIA A100-SXM4-80GB #{device:03d}", finished_at=f"2026-01-01T00:{index % 60:02d}:00Z",
                      latency_ms={k: ms for k in record["latency_ms"]}, throughput_ips=batch * 1000 / ms,
                      throughput_qps=1000 / ms)
        records.append(record)
    return records


def sweep_records(seconds: float) -> list[dict]:
    """A 14-model sweep (4 precisions x batch 1, 4, 8, 32) whose records keep their samples: each case timed
    ``seconds`` (at least the 64 samples p90 needs), latencies from 2 ms to 900 ms with a 3% spread."""
    import random

    from trtbench.measure.stats import encode_samples

    base = next(r for r in json.loads(SAMPLE.read_text())["records"] if r.get("latency_ms"))
    rng = random.Random(0)
    records = []
    for model_index in range(14):
        for precision in ("fp32", "fp16", "bf16", "int8"):
            for batch in (1, 4, 8, 32):
                ms = 2.0 * (1 + model_index / 4) * batch ** 0.9 * (2 if precision == "fp32" else 1)
                count = max(64, int(seconds * 1000 / ms))
                samples = [ms * rng.lognormvariate(0, 0.03) for _ in range(count)]
                record = copy.deepcopy(base)
                record.update(model=f"{MODELS[model_index % len(MODELS)]}", precision=precision, batch=batch,
                              backend=f"openvino-cpu-{model_index}", iterations=count,
                              samples=encode_samples(samples))
                records.append(record)
    return records


def write_run(path: Path, records: list[dict]) -> None:
    run = json.loads(SAMPLE.read_text())
    run.update(run_id=path.stem, records=records)
    path.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


def timed(command: list[str], runs: int, cwd: Path) -> tuple[float, int]:
    """The median wall time of ``command`` over ``runs`` runs, and the lines it printed (last run)."""
    times, lines = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        lines = done.stdout.count("\n")
    return statistics.median(times), lines


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the median is shown")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="write the files here (reused when present) instead of a temp folder")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = options.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        big, big_new, many = folder / "fleet-50k.json", folder / "fleet-50k-new.json", folder / "results"
        if not big.exists():
            write_run(big, fleet_records(options.records))
            write_run(big_new, fleet_records(options.records, slower=1.01))
            many.mkdir()
            # Nightly runs of a fleet: 50 cases a night, 1,000 distinct cases each measured 50 times over the
            # files, so that the report keeps the newest of each.
            cases = fleet_records(1_000)
            for index in range(options.files):
                night = [dict(record, finished_at=f"2026-01-01T{index // 60 % 24:02d}:{index % 60:02d}:00Z")
                         for record in cases[index % 20 * 50:(index % 20 + 1) * 50]]
                write_run(many / f"2026{index:05d}.json", night)
        sweeps = {seconds: folder / f"sweep-{seconds:g}s.json" for seconds in (3, 60)}
        for seconds, path in sweeps.items():
            if not path.exists():
                write_run(path, sweep_records(seconds))
        trtbench = [sys.executable, "-m", "trtbench"]
        commands = {
            f"report (one {options.records:,}-record file)": [*trtbench, "report", str(big)],
            f"report --markdown (one {options.records:,}-record file)": [*trtbench, "report", "--markdown", str(big)],
            f"report --results-dir ({options.files} run files)": [*trtbench, "report", "--results-dir", str(many)],
            f"compare A B (two {options.records:,}-record files)": [*trtbench, "compare", str(big), str(big_new)],
            "compare --markdown A B": [*trtbench, "compare", "--markdown", str(big), str(big_new)],
            **{f"report (a 14-model sweep, 224 records with samples, {seconds} s a case: "
               f"{path.stat().st_size / 1e6:.1f} MB)": [*trtbench, "report", str(path)]
               for seconds, path in sweeps.items()},
            "compare of the 3 s sweep with itself (224 cases, rank tests on the samples)":
                [*trtbench, "compare", str(sweeps[3]), str(sweeps[3])],
        }
        print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); python {platform.python_version()}; "
              f"trtbench from {os.environ.get('PYTHONPATH') or ROOT}; median of {options.runs}")
        for name, command in commands.items():
            seconds, lines = timed(command, options.runs, cwd=folder)
            print(f"{seconds:7.2f} s  {lines:6d} lines  {name}", flush=True)


if __name__ == "__main__":
    main()
