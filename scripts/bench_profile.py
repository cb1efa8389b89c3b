"""Does `--profile` change the timed numbers? The same sweep run with and without it, alternating, each run
its own `trtbench run` process; per case the timed medians of each mode (median of the rounds), their
difference, and the noise: the spread of each mode's medians across rounds.

    python scripts/bench_profile.py [--model ResNet50] [--backend openvino-cpu,onnxruntime-cpu]
                                    [--precision fp32,bf16] [--batch 1] [--rounds 3] [--duration 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(args: argparse.Namespace, results: Path, profiled: bool) -> dict[tuple, float]:
    """One `trtbench run` of the sweep: each case's timed median (ms)."""
    command = [sys.executable, "-m", "trtbench", "run", args.model, "--backend", args.backend,
               "--precision", args.precision, "--batch", args.batch, "--duration", str(args.duration),
               "--results-dir", str(results), "--models-dir", str(args.models_dir),
               "--engines-dir", str(args.engines_dir), *(["--profile"] if profiled else [])]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    (run_file,) = results.glob("*.json")
    return {(r["backend"], r["precision"], r["batch"]): r["latency_ms"]["median"]
            for r in json.loads(run_file.read_text())["records"] if r.get("status") == "ok"}


def spread(values: list[float]) -> float:
    """The range of ``values`` as a percentage of their median."""
    return 100 * (max(values) - min(values)) / statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--backend", default="openvino-cpu,onnxruntime-cpu")
    parser.add_argument("--precision", default="fp32,bf16")
    parser.add_argument("--batch", default="1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--engines-dir", type=Path, default=ROOT / "engines")
    args = parser.parse_args()
    from trtbench.envinfo import cpu_name

    medians: dict[bool, dict[tuple, list[float]]] = {False: {}, True: {}}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            # alternate which mode goes first, so a drift of the machine falls on both alike
            for profiled in (False, True) if round_ % 2 == 0 else (True, False):
                folder = Path(scratch) / f"{round_}-{profiled}"
                for case, median in sweep(args, folder, profiled).items():
                    medians[profiled].setdefault(case, []).append(median)
                print(f"round {round_ + 1}/{args.rounds} {'with' if profiled else 'without'} --profile done",
                      file=sys.stderr)
    print(f"{args.model}, {args.rounds} alternating rounds of each sweep, --duration {args.duration:g}, "
          f"on {cpu_name()}")
    print("| case | timed median without --profile (ms) | with --profile (ms) | difference | noise (range of "
          "the rounds: without / with) | within noise |")
    print("|---|---|---|---|---|---|")
    for case in sorted(medians[False].keys() & medians[True].keys()):
        plain, profiled = medians[False][case], medians[True][case]
        difference = 100 * (statistics.median(profiled) / statistics.median(plain) - 1)
        noise = max(spread(plain), spread(profiled))
        print(f"| {case[0]} {case[1]} batch {case[2]} | {statistics.median(plain):.2f} | "
              f"{statistics.median(profiled):.2f} | {difference:+.1f}% | {spread(plain):.1f}% / "
              f"{spread(profiled):.1f}% | {'yes' if abs(difference) <= noise else 'no'} |")


if __name__ == "__main__":
    main()
