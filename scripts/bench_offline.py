"""trtbench's offline images/s on openvino-cpu against OpenVINO's own benchmark_app with `-hint throughput`, on
the same model, precision, threads and requests in flight (benchmark_app's choice: trtbench's best of a sweep
would be the maximum of noisy figures), side by side: each tool its own process, alternating, medians of the
rounds.

    python scripts/bench_offline.py [--model ResNet50] [--precision bf16] [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: OpenVINO's name for each precision trtbench runs through its hint
INFER_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


def trtbench(args: argparse.Namespace, threads: int, requests: int, results: Path) -> tuple[float, dict]:
    """trtbench's offline images/s with ``requests`` in flight, and its configuration."""
    subprocess.run([sys.executable, "-m", "trtbench", "run", args.model, "--backend", "openvino-cpu",
                    "--precision", args.precision, "--batch", "1", "--scenario", "offline", "--threads", str(threads),
                    "--concurrency", str(requests),
                    "--duration", str(args.seconds), "--stability", "off", "--results-dir", str(results),
                    "--models-dir", str(args.models_dir), "--engines-dir", str(args.engines_dir)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (run_file,) = results.glob("*.json")
    (record,) = json.loads(run_file.read_text())["records"]
    return record["throughput_ips"], {key: record["load"].get(key) for key in ("concurrency", "streams",
                                                                               "threads_per_stream")}


def benchmark_app(args: argparse.Namespace) -> tuple[float, int, str]:
    """benchmark_app's throughput (FPS at batch 1: images/s) and the streams and requests it chose. Its hint takes
    every physical core (it refuses -nthreads beside a hint), as trtbench's --threads default does."""
    tool = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    done = subprocess.run([tool, "-m", str(args.models_dir / f"{args.model}.onnx"), "-d", "CPU", "-hint", "throughput",
                           "-infer_precision", INFER_PRECISION[args.precision], "-t", str(int(args.seconds)), "-b",
                           "1"], check=True, capture_output=True, text=True)
    found = re.search(r"Throughput:\s+([0-9.]+) FPS", done.stdout)
    if not found:
        raise SystemExit(f"benchmark_app printed no throughput:\n{done.stdout[-2000:]}")
    chosen = re.findall(r"(NUM_STREAMS: \d+|OPTIMAL_NUMBER_OF_INFER_REQUESTS: \d+|"
                        r"Measuring performance \(.*?\))", done.stdout)
    requests = re.search(r"(\d+) inference requests", done.stdout)
    return float(found.group(1)), int(requests.group(1)) if requests else 1, "; ".join(dict.fromkeys(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--precision", default="bf16", choices=sorted(INFER_PRECISION))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--engines-dir", type=Path, default=ROOT / "engines")
    args = parser.parse_args()
    from trtbench.envinfo import cpu_name
    from trtbench.measure.cpu import physical_cores

    threads = physical_cores()
    ours, theirs, configs, chosen, requests = [], [], [], "", 0
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            # benchmark_app first in the first round: trtbench runs with the requests in flight it chose
            for tool in ("benchmark_app", "trtbench") if round_ % 2 == 0 else ("trtbench", "benchmark_app"):
                if tool == "trtbench":
                    ips, config = trtbench(args, threads, requests, Path(scratch) / str(round_))
                    ours.append(ips)
                    configs.append(config)
                else:
                    fps, requests, chosen = benchmark_app(args)
                    theirs.append(fps)
            print(f"round {round_ + 1}/{args.rounds}: trtbench {ours[-1]:.1f}, benchmark_app {theirs[-1]:.1f} "
                  "images/s", file=sys.stderr)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"{args.model} {args.precision} batch 1 on {cpu_name()}, {threads} threads, {args.rounds} alternating "
          f"rounds of {args.seconds:g} s")
    print(f"trtbench offline: {statistics.median(ours):.1f} images/s (rounds {', '.join(f'{v:.1f}' for v in ours)}; "
          f"configurations {configs})")
    print(f"benchmark_app -hint throughput: {statistics.median(theirs):.1f} images/s (rounds "
          f"{', '.join(f'{v:.1f}' for v in theirs)}; {chosen})")
    print(f"trtbench / benchmark_app: {ratio:.3f}")


if __name__ == "__main__":
    main()
