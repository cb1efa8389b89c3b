"""Cases and sweeps: build (cached) -> time -> record, one independent case at a time."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from trtbench.backends.base import Backend
from trtbench.errors import TrtbenchError
from trtbench.timing import COV_WARNING, PERCENTILE_DEFINITION, TimingPolicy, measure


@dataclass(frozen=True)
class Case:
    """One unit of a sweep: a model at one precision and batch size."""

    model: str
    precision: str
    batch: int

    def label(self) -> str:
        """How the case is named in progress lines."""
        return f"{self.model} {self.precision} batch {self.batch}"


def parse_batches(text: str) -> list[int]:
    """'1,4,8,32' -> [1, 4, 8, 32]; zero, negatives, junk and empty items are one-line errors."""
    items = [item.strip() for item in text.split(",")]
    batches = []
    for item in items:
        if not item.isdigit() or int(item) < 1:
            raise TrtbenchError(f"bad --batch '{text}': '{item}' is not a positive whole number "
                                "(e.g. --batch 1,4,8,32)")
        batches.append(int(item))
    return list(dict.fromkeys(batches))


def run_case(backend: Backend, case: Case, onnx_path: Path, cache_dir: Path, policy: TimingPolicy,
             progress: Callable[[int, float], None] | None = None) -> dict:
    """Build and time one case; any failure becomes the record's error instead of an exception."""
    record = {"model": case.model, "precision": case.precision, "batch": case.batch,
              "backend": backend.name, "device": backend.device(), "metric": backend.metric}
    started = time.perf_counter()
    try:
        engine = backend.build(onnx_path, case.precision, case.batch, cache_dir)
        with engine:
            measured = measure(engine.iterate, policy, progress)
            record.update(_statistics(engine, measured, case.batch))
            record["build_s"] = round(engine.build_s, 3)
            record["method"] = {**policy.describe(), "percentile": PERCENTILE_DEFINITION, **engine.describe()}
            record["warnings"] = list(engine.warnings) + record.pop("_warnings")
        record["status"] = "ok"
        record["error"] = None
    except KeyboardInterrupt:
        raise
    except TrtbenchError as exc:
        record.update(status="failed", error=str(exc))
    except Exception as exc:  # a failing case (out of memory, backend error) must not end the sweep
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8))
    record["case_s"] = round(time.perf_counter() - started, 3)
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
        f".{time.time_ns() // 1000 % 1_000_000:06d}Z"
    return record


def _statistics(engine, measured, batch: int) -> dict:
    primary = engine.spans[0]
    latency = measured.latency(primary)
    spans = {span: measured.latency(span).as_dict() for span in engine.spans if span in measured.samples}
    warnings = []
    if latency.cov > COV_WARNING:
        warnings.append(f"unstable: coefficient of variation {latency.cov:.1%} > {COV_WARNING:.1%}")
    # Throughput from the wall time of the timed loop, like trtexec: queries (batches) and images.
    qps = measured.iterations / measured.wall_s if measured.wall_s > 0 else 0.0
    return {
        "latency_ms": latency.as_dict(),
        "cov": latency.cov,
        "cov_warning": latency.cov > COV_WARNING,
        "spans_ms": spans,
        "iterations": measured.iterations,
        "timed_s": round(measured.wall_s, 4),
        "throughput_qps": qps,
        "throughput_ips": qps * batch,
        "_warnings": warnings,
    }


def sweep(backend: Backend, cases: Iterable[tuple[Case, Path]], cache_dir: Path, policy: TimingPolicy,
          on_record: Callable[[dict], None],
          on_start: Callable[[Case], None] | None = None,
          on_progress: Callable[[Case, int, float], None] | None = None) -> list[dict]:
    """Run every case in turn; each record is handed to ``on_record`` as soon as its case ends."""
    records = []
    for case, onnx_path in cases:
        if on_start is not None:
            on_start(case)
        progress = (lambda n, median, case=case: on_progress(case, n, median)) if on_progress else None
        record = run_case(backend, case, onnx_path, cache_dir, policy, progress)
        on_record(record)
        records.append(record)
    return records
