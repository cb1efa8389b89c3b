"""What running a sweep as Ray tasks costs, beside the same sweep run here.

    python scripts/bench_ray.py [--model ResNet18] [--batches 1,2,4,8] [--duration 1] [--rounds 3]

Starts a local Ray cluster of this machine's CPUs (timed on its own: cluster start-up), then
alternates rounds of the same small sweep (one model, FP32 on onnxruntime-cpu, each batch a case)
run by the local executor and by the Ray executor. For each it prints the median over rounds of the
sweep's wall time and the overhead per case, which is the wall time less the time spent timing
(the records' ``timed_s``) divided by the cases, and the median latency of each case both ways,
as a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from trtbench.envinfo import cpu_name
from trtbench.executors.ray import RayExecutor, local_worker_env
from trtbench.measure.timing import TimingPolicy
from trtbench.models.export import export_variant
from trtbench.models.zoo import get_variant
from trtbench.session import Session, Workspace


def sweep(models: Path, work: Path, model: str, batches: list[int], policy: TimingPolicy, executor=None):
    """One sweep; returns its wall time and its records."""
    session = Session(Workspace(models, work / "engines", work / "results"), "onnxruntime-cpu", {"threads": 0},
                      precisions=["fp32"], executor=executor)
    started = time.perf_counter()
    outcome = session.run([model], batches, policy)
    return time.perf_counter() - started, outcome.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ResNet18")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    policy = TimingPolicy(warmup_ms=200, duration_s=args.duration, min_iterations=10)
    export_variant(get_variant(args.model), args.models_dir)

    import ray

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    os.environ.setdefault("TRTBENCH_NODE_CACHE", str(work / "node"))
    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {**local_worker_env(), "TRTBENCH_NODE_CACHE": os.environ["TRTBENCH_NODE_CACHE"]}})
    startup = time.perf_counter() - started

    walls: dict[str, list[float]] = {"local": [], "ray": []}
    overheads: dict[str, list[float]] = {"local": [], "ray": []}
    medians: dict[tuple[str, int], list[float]] = {}
    for round_ in range(args.rounds):
        for how in ("local", "ray"):
            wall, records = sweep(args.models_dir, work / f"{how}{round_}", args.model, batches, policy,
                                  RayExecutor() if how == "ray" else None)
            assert all(r.ok for r in records), [r.error for r in records if not r.ok]
            walls[how].append(wall)
            overheads[how].append((wall - sum(r.timed_s for r in records)) / len(records))
            for record in records:
                medians.setdefault((how, record.batch), []).append(record.median_ms or 0.0)
    ray.shutdown()

    print(f"{args.model} FP32 on onnxruntime-cpu, batches {args.batches}, {args.duration:g} s a case, "
          f"{args.rounds} rounds; {cpu_name()}, {os.cpu_count()} CPUs")
    print(f"\nlocal Ray cluster start-up: {startup:.2f} s\n")
    print("| executor | sweep wall time (s) | overhead per case (s) |")
    print("|---|---|---|")
    for how in ("local", "ray"):
        print(f"| {how} | {statistics.median(walls[how]):.2f} | {statistics.median(overheads[how]):.3f} |")
    print("\n| batch | local median (ms) | Ray median (ms) | Ray / local |")
    print("|---|---|---|---|")
    for batch in batches:
        local, on_ray = (statistics.median(medians[(how, batch)]) for how in ("local", "ray"))
        print(f"| {batch} | {local:.3f} | {on_ray:.3f} | {on_ray / local:.3f} |")


if __name__ == "__main__":
    main()
