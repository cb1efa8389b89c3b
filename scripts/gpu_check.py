"""The verdict of scripts/gpu_check.sh: trtbench's TensorRT medians beside trtexec's, the output
checks, and how many layers of the INT8 engine TensorRT runs in INT8.

    python scripts/gpu_check.py results/gpu_check/STAMP [--trtexec-missing "where to get it"]

The last line printed is the verdict: PASS (exit status 0), FAIL and every reason (1), or
INCOMPLETE (2) when TensorRT's checks held but trtexec was not there to compare with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

AGREEMENT = 0.05  # trtbench's and trtexec's median GPU compute time may differ by this much


def compare(ours: list, theirs: list) -> list[dict]:
    """(precision, batch) rows: trtbench's and trtexec's median GPU compute time (ms) and their ratio."""
    by_case = {(r.precision, r.batch): r for r in theirs if r.ok}
    rows = []
    for record in sorted((r for r in ours if r.ok), key=lambda r: (r.precision, r.batch)):
        other = by_case.get((record.precision, record.batch))
        ratio = record.median_ms / other.median_ms if other is not None and other.median_ms else None
        rows.append({"precision": record.precision, "batch": record.batch, "trtbench_ms": record.median_ms,
                     "trtexec_ms": other.median_ms if other is not None else None, "ratio": ratio})
    return rows


def verdict(ours: list, theirs: list, int8: list, checks: list[dict], trtexec: bool = True) -> tuple[bool, list[str]]:
    """Whether the GPU check passed, and a reason per failed expectation; ``trtexec`` False when there was
    no trtexec to compare with (then its absence is not a failure here: the verdict is INCOMPLETE)."""
    problems = [f"{r.label()} failed: {r.error}" for r in ours + theirs + int8 if not r.ok]
    if not any(r.ok for r in ours):
        problems.append("no TensorRT case ran")
    if trtexec and not any(r.ok for r in theirs):
        problems.append("no trtexec case ran")
    for row in compare(ours, theirs):
        if trtexec and row["ratio"] is None and any(r.ok for r in theirs):
            problems.append(f"{row['precision']} batch {row['batch']}: no trtexec timing to compare with")
        if row["ratio"] is not None and abs(row["ratio"] - 1) > AGREEMENT:
            problems.append(f"{row['precision']} batch {row['batch']}: trtbench/trtexec {row['ratio']:.3f}, "
                            f"more than {AGREEMENT:.0%} apart")
    problems += [f"verify {c['model']} {c['precision']}: {'; '.join(c['failed'])}" for c in checks if not c["passed"]]
    if not checks:
        problems.append("no output check ran")
    for record in int8:
        layers = (record.engine or {}).get("layer_precisions") or {}
        if record.ok and not layers.get("int8"):
            problems.append(f"{record.label()}: no layer runs in INT8 ({layers or 'no layer information'})")
    return not problems, problems


def _run_files(folder: Path) -> list[Path]:
    from trtbench.store.results import run_files

    return run_files(folder) if folder.is_dir() else []


def _records(folder: Path) -> list:
    from trtbench.store.results import load_records

    return load_records(_run_files(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The verdict of scripts/gpu_check.sh.")
    parser.add_argument("results", type=Path, nargs="?", default=Path("results/gpu_check"))
    parser.add_argument("--trtexec-missing", metavar="WHERE", default=None,
                        help="trtexec was not there: the verdict is INCOMPLETE at best; WHERE says how to get it")
    args = parser.parse_args(argv)
    results = args.results
    if not _run_files(results / "tensorrt"):
        print(f"VERDICT: FAIL: TensorRT did not run: no run file in {results / 'tensorrt'} (the run's own message is "
              "above; `trtbench doctor` names what is missing)")
        return 1
    ours, theirs, int8 = _records(results / "tensorrt"), _records(results / "trtexec"), _records(results / "int8")
    verify_file = results / "verify.json"
    checks = json.loads(verify_file.read_text()) if verify_file.is_file() and verify_file.stat().st_size else []
    print("precision batch  trtbench ms  trtexec ms  ratio")
    for row in compare(ours, theirs):
        theirs_ms = f"{row['trtexec_ms']:.3f}" if row["trtexec_ms"] is not None else "-"
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
        print(f"{row['precision']:<9} {row['batch']:>5}  {row['trtbench_ms']:>11.3f}  {theirs_ms:>10}  {ratio}")
    for record in int8:
        print(f"{record.label()}: layers by output type {(record.engine or {}).get('layer_precisions')}")
    passed, problems = verdict(ours, theirs, int8, checks, trtexec=args.trtexec_missing is None)
    if not passed:
        missing = [f"trtexec did not run ({args.trtexec_missing})"] if args.trtexec_missing else []
        print("VERDICT: FAIL: " + "; ".join(problems + missing))
        return 1
    if args.trtexec_missing:
        print(f"VERDICT: INCOMPLETE: TensorRT's checks passed, but trtexec did not run, so nothing was compared "
              f"with it: {args.trtexec_missing}")
        return 2
    print("VERDICT: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
