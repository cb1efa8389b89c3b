"""Harness overhead: trtbench's ONNX Runtime median against a bare `session.run` loop, same process.

    python scripts/bench_overhead.py [--model ResNet50] [--batch 1] [--rounds 5] [--seconds 3]

Both time the same .onnx, same thread settings, same input; the rounds alternate so drift on a
shared machine hits both. Prints each round's medians and the ratio of the medians of medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from trtbench.backends import create
from trtbench.export import export_variant
from trtbench.inputs import seeded_input
from trtbench.timing import TimingPolicy, measure
from trtbench.zoo import get_variant


def bare_loop(session, feed, seconds: float, warmup_s: float) -> float:
    """Median ms of plain session.run calls, timed the simplest correct way."""
    until = time.perf_counter() + warmup_s
    while time.perf_counter() < until:
        session.run(None, feed)
    samples = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(samples) < 10:
        start = time.perf_counter_ns()
        session.run(None, feed)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()

    import onnxruntime as ort

    path = export_variant(get_variant(args.model), args.models_dir).onnx_path
    policy = TimingPolicy(warmup_ms=200, duration_s=args.seconds, min_iterations=10)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    bare = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {bare.get_inputs()[0].name: seeded_input(args.batch)}
    ours, plain = [], []
    with create("onnxruntime-cpu").build(path, "fp32", args.batch, Path("engines")) as engine:
        for round_index in range(args.rounds):
            ours.append(statistics.median(measure(engine.iterate, policy).samples["latency"]))
            plain.append(bare_loop(bare, feed, args.seconds, policy.warmup_ms / 1000))
            print(f"round {round_index + 1}: trtbench {ours[-1]:.3f} ms, bare session.run {plain[-1]:.3f} ms")
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"{args.model} batch {args.batch} fp32 onnxruntime-cpu: trtbench median {statistics.median(ours):.3f} ms, "
          f"bare median {statistics.median(plain):.3f} ms, ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
