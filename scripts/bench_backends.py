"""Every CPU engine this machine has, through trtbench and beside a bare loop of the same engine.

    python scripts/bench_backends.py [--model ResNet50] [--batches 1,8] [--rounds 3] [--seconds 2]

For each (backend, precision) this machine runs natively: trtbench's engine is built once per
batch, then rounds alternate trtbench's timed loop (``measure(engine.iterate)``) and a bare loop
of the library's own call on the same compiled model (``session.run_with_iobinding``,
``request.infer()``, ``predictor.run()``) timed with perf_counter_ns and nothing else. It prints
the medians of the round medians, trtbench / bare, the speed against ONNX Runtime FP32 at the same
batch, the precision the engine says it executed, and the output check against Paddle (8 seeded
inputs) beside each row, as a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from trtbench import backends
from trtbench.checks.verify import Reference, check_engine, verification_inputs
from trtbench.envinfo import cpu_name
from trtbench.graphs.inputs import VERIFY_SEED
from trtbench.measure.cpu import describe as cpu_features
from trtbench.measure.timing import TimingPolicy, measure
from trtbench.models.export import export_variant
from trtbench.models.zoo import get_variant


def bare_call(engine) -> Callable[[], object]:
    """The library's own inference call on the engine's compiled model, without trtbench around it."""
    if hasattr(engine, "binding"):  # ONNX Runtime
        return lambda: engine.session.run_with_iobinding(engine.binding)
    if hasattr(engine, "request"):  # OpenVINO
        return engine.request.infer
    if hasattr(engine, "predictor"):  # Paddle Inference
        return engine.predictor.run
    raise TypeError(f"no bare loop for {type(engine).__name__}")


def bare_median(call: Callable[[], object], seconds: float, warmup_s: float) -> float:
    """Median ms of ``call`` timed the simplest correct way (it returns when the outputs are ready)."""
    until = time.perf_counter() + warmup_s
    while time.perf_counter() < until:
        call()
    samples = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(samples) < 10:
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def pairs() -> list[tuple[str, str]]:
    """(backend, precision) for every CPU backend available here and every precision it runs natively."""
    found = []
    for name in backends.backend_names()[1:]:
        backend = backends.create(name)
        if backend.gpu or not backend.availability().ok:
            continue
        found += [(name, precision) for precision in backend.precisions if backend.runs(precision)[0]]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--engines-dir", type=Path, default=Path("engines"))
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    graph = export_variant(get_variant(args.model), args.models_dir).onnx_path
    reference = Reference(graph)
    inputs = verification_inputs(8, seed=VERIFY_SEED)
    policy = TimingPolicy(warmup_ms=200, duration_s=args.seconds, min_iterations=10)
    print(f"{args.model} on {cpu_name()} ({cpu_features()}), {args.rounds} alternating rounds of "
          f"{args.seconds:g} s per engine and batch")
    rows = []
    for name, precision in pairs():
        backend = backends.create(name)
        row = {"backend": name, "precision": precision}
        for batch in batches:
            with backend.build(graph, precision, batch, args.engines_dir) as engine:
                ours, bare = [], []
                for _ in range(args.rounds):
                    ours.append(statistics.median(measure(engine.iterate, policy).samples["latency"]))
                    bare.append(bare_median(bare_call(engine), args.seconds, policy.warmup_ms / 1000))
                row[batch] = (statistics.median(ours), statistics.median(bare))
                row["executed"], _ = engine.executed_precision()
        with backend.build(graph, precision, len(inputs), args.engines_dir) as engine:
            row["check"] = check_engine(engine, reference, precision, inputs, key="inputs")
        rows.append(row)
        print(f"  {name} {precision}: " + ", ".join(f"b{b} {row[b][0]:.2f} / {row[b][1]:.2f} ms" for b in batches),
              flush=True)
    baseline = next((r for r in rows if (r["backend"], r["precision"]) == ("onnxruntime-cpu", "fp32")), None)
    header = ["backend", "precision", "executed"]
    for batch in batches:
        header += [f"b{batch} trtbench ms", f"b{batch} bare ms", f"b{batch} trtbench/bare", f"b{batch} vs ORT FP32"]
    header += ["min cosine", "top-1 agree", "check"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        cells = [row["backend"], row["precision"], str(row["executed"])]
        for batch in batches:
            ours, bare = row[batch]
            speed = f"{ours / baseline[batch][0]:.2f}" if baseline else ""
            cells += [f"{ours:.2f}", f"{bare:.2f}", f"{ours / bare:.3f}", speed]
        check = row["check"]
        cells += [f"{check['min_cosine']:.5f}", f"{check['top1_agree']:.0%}", "pass" if check["passed"] else "FAIL"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
