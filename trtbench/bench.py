"""Cases and sweeps: build (cached) -> time -> record, one independent case at a time."""

from __future__ import annotations

import contextlib
import functools
import platform
import re
import time
import traceback
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from trtbench.backends.base import Backend, Engine
from trtbench.devicelock import DeviceBusy, DeviceUse
from trtbench.errors import TrtbenchError
from trtbench.records import LatencyRecord
from trtbench.results import timestamp
from trtbench.timing import COV_WARNING, PERCENTILE_DEFINITION, Timed, TimingPolicy


@dataclass(frozen=True)
class Case:
    """One unit of a sweep: a model at one precision and batch size."""

    model: str
    precision: str
    batch: int
    backend: str = ""  # named where a session runs several backends side by side
    device: str = ""  # the kind of device it must run on (a cluster sweep); "" where it runs here

    def label(self) -> str:
        """How the case is named in progress lines."""
        where = " on ".join(["", *[name for name in (self.backend, self.device) if name]])
        return f"{self.model} {self.precision} batch {self.batch}{where}"


def parse_batches(text: str) -> list[int]:
    """'1,4,8,32' -> [1, 4, 8, 32]; zero, negatives, junk and empty items are one-line errors."""
    items = [item.strip() for item in text.split(",")]
    batches = []
    for item in items:
        # ASCII digits only: str.isdigit() also takes '²', which int() then refuses
        if not re.fullmatch(r"[0-9]+", item) or int(item) < 1:
            raise TrtbenchError(f"bad --batch '{text}': '{item}' is not a positive whole number "
                                "(e.g. --batch 1,4,8,32)")
        batches.append(int(item))
    return list(dict.fromkeys(batches))


Exclusive = Callable[[Backend], AbstractContextManager[DeviceUse]]


def run_case(backend: Backend, case: Case, onnx_path: Path, cache_dir: Path, policy: TimingPolicy,
             progress: Callable[[int, float], None] | None = None,
             verify: Callable[[Case, Engine], dict] | None = None,
             exclusive: Exclusive | None = None) -> LatencyRecord:
    """Build and time one case; any failure becomes the record's error instead of an exception.

    With ``exclusive``, the timing (only it: not the build, not the output check) holds the
    device's lock and measures what else used the device meanwhile (see trtbench.devicelock).
    A device that is busy under ``--no-wait`` (DeviceBusy) and Ctrl-C end the sweep instead.
    """
    record = LatencyRecord(model=case.model, precision=case.precision, batch=case.batch, backend=backend.name,
                           device=backend.device(), metric=backend.metric, node=platform.node())
    started = time.perf_counter()
    try:
        engine = backend.build(onnx_path, case.precision, case.batch, cache_dir)
        with engine:
            with exclusive(backend) if exclusive is not None else contextlib.nullcontext() as use:
                with backend.telemetry() as sampler:
                    timing_began = timestamp()
                    timed = engine.timed(policy, progress)
                    record.timed_between = [timing_began, timestamp()]
            if use is not None:
                _fill_device_use(record, use)
            if verify is not None:
                record.verify = verify(case, engine)
            # described while active: what ran (a CUDA graph, say) is known until the engine is freed
            record.method = {**policy.describe(), "percentile": PERCENTILE_DEFINITION, **engine.describe()}
            record.precision_executed, record.precision_evidence = engine.executed_precision()
        _fill(record, timed, case.batch)
        record.warnings = list(engine.warnings) + _cov_warning(timed) + engine.check(timed) + record.warnings
        record.build_s = round(engine.build_s, 3)
        record.engine = dict(engine.info)
        if sampler is not None:
            record.gpu_telemetry = sampler.summary()
            record.warnings += [f"GPU telemetry: {w}" for w in record.gpu_telemetry.get("warnings", [])]
    except (KeyboardInterrupt, DeviceBusy):
        raise
    except TrtbenchError as exc:
        record.failed(str(exc))
    except Exception as exc:  # a failing case (out of memory, backend error) must not end the sweep
        record.failed(f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=8))
    record.case_s = round(time.perf_counter() - started, 3)
    record.finished_at = timestamp()
    return record


def _fill_device_use(record: LatencyRecord, use: DeviceUse) -> None:
    record.device_wait_s, record.device_shared, record.device_sharing = use.waited_s, use.shared, use.evidence
    if use.shared:
        record.warnings.append(f"device shared while timed: {use.evidence}")


def _cov_warning(timed: Timed) -> list[str]:
    cov = next(iter(timed.spans.values())).cov
    if cov is not None and cov > COV_WARNING:
        return [f"unstable: coefficient of variation {cov:.1%} > {COV_WARNING:.1%}"]
    return []


def _fill(record: LatencyRecord, timed: Timed, batch: int) -> None:
    """The record's numbers: the first span's statistics, every span's, and throughput."""
    latency = next(iter(timed.spans.values()))
    record.latency_ms = latency.as_dict()
    record.cov = latency.cov
    record.cov_warning = latency.cov is not None and latency.cov > COV_WARNING
    record.spans_ms = {span: stats.as_dict() for span, stats in timed.spans.items()}
    record.iterations = timed.iterations
    record.timed_s = round(timed.wall_s, 4)
    # queries (batches) per second, as trtexec reports, and images per second
    record.throughput_qps = timed.qps
    record.throughput_ips = timed.qps * batch


def sweep(backend: Backend, cases: Iterable[tuple[Case, Path]], cache_dir: Path, policy: TimingPolicy,
          on_record: Callable[[LatencyRecord], None],
          on_start: Callable[[Case], None] | None = None,
          on_progress: Callable[[Case, int, float], None] | None = None,
          verify: Callable[[Case, Engine], dict] | None = None) -> list[LatencyRecord]:
    """Run every case in turn; each record is handed to ``on_record`` as soon as its case ends."""
    records = []
    for case, onnx_path in cases:
        if on_start is not None:
            on_start(case)
        progress = functools.partial(on_progress, case) if on_progress is not None else None
        record = run_case(backend, case, onnx_path, cache_dir, policy, progress, verify)
        on_record(record)
        records.append(record)
    return records
