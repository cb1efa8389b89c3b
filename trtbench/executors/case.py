"""A case, and one case built (cached), timed and recorded; the executors (trtbench.executors) run a sweep's
cases through ``run_case``."""

from __future__ import annotations

import contextlib
import platform
import re
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench.backends.base import Backend, Engine
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input
from trtbench.measure.devicelock import DeviceBusy, DeviceUse
from trtbench.measure.memory import PeakMemory
from trtbench.measure.timing import (
    COV_WARNING,
    PERCENTILE_DEFINITION,
    STATISTICS,
    Timed,
    TimingPolicy,
    evidence,
    without_unsupported,
)
from trtbench.store.records import SINGLE_STREAM, LatencyRecord
from trtbench.store.results import timestamp


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
#: seconds of an idle device read before each case whose energy can be read: the baseline its energy is net of
IDLE_BASELINE_S = 1.0


def run_case(backend: Backend, case: Case, onnx_path: Path, cache_dir: Path, policy: TimingPolicy,
             progress: Callable[[int, float], None] | None = None,
             verify: Callable[[Case, Engine], dict] | None = None,
             exclusive: Exclusive | None = None, export_sha256: str | None = None) -> LatencyRecord:
    """Build and time one case; any failure becomes the record's error instead of an exception.

    With ``exclusive``, the timing (only it: not the build, not the output check) holds the
    device's lock and measures what else used the device meanwhile (see trtbench.measure.devicelock).
    The first inference after loading is timed on its own, before the warm-up; the process's peak memory is
    read over the build and over the timing (from the engine's activation to the end of its timed run).
    A device that is busy under ``--no-wait`` (DeviceBusy) and Ctrl-C end the sweep instead.
    With ``export_sha256`` (the run's plan), an export that is no longer that one is not built from.
    A case that ran another precision than asked, or whose outputs are not finite, is failed with
    its timings kept.
    """
    record = LatencyRecord(model=case.model, precision=case.precision, batch=case.batch, backend=backend.name,
                           device=backend.device(), metric=backend.metric, node=platform.node())
    started = time.perf_counter()
    # the build's peak memory, then the timing's: from the engine's activation to the end of its timed run
    building, timing = PeakMemory(), PeakMemory()
    here = _runs_here(backend)
    engine_memory: dict | None = None
    try:
        if export_sha256 is not None:
            _same_export(case, onnx_path, export_sha256)
        with building if here else contextlib.nullcontext():
            engine = backend.build(onnx_path, case.precision, case.batch, cache_dir)
        if engine.load_s is not None:
            record.cold_start["load_s"] = round(engine.load_s, 4)
        if export_sha256 is not None:
            # again once the build has read it: an export replaced during the build may be what was built
            _same_export(case, onnx_path, export_sha256)
        with timing if here else contextlib.nullcontext(), engine:
            with exclusive(backend) if exclusive is not None else contextlib.nullcontext() as use:
                energy = backend.energy()
                # the device as the case leaves it idle, before anything runs on it
                energy.idle(IDLE_BASELINE_S if here else 0.0)
                if here:
                    record.cold_start["first_inference_ms"] = _first_inference_ms(engine)
                with backend.telemetry() as sampler, energy:
                    timing_began = timestamp()
                    timed = engine.timed(policy, progress) if policy.scenario == SINGLE_STREAM else \
                        _under_load(engine, case.batch, policy, record, progress)
                    record.timed_between = [timing_began, timestamp()]
            timing.stop()  # the peak is read now: what follows (outputs check, profile) is not the timing's
            record.energy = energy.result(images=timed.iterations * case.batch, timed_s=timed.wall_s)
            engine_memory = _engine_memory(engine, record.warnings)
            if engine.load_s is not None:  # an engine timed in a process of its own says so only once it ran
                record.cold_start["load_s"] = round(engine.load_s, 4)
            if use is not None:
                _fill_device_use(record, use)
            if verify is not None:
                record.verify = verify(case, engine)
            if policy.profile_iterations:
                built = [path for path in backend.graph_files(onnx_path, case.precision) if path.suffix == ".onnx"]
                record.profile = _profile(engine, policy.profile_iterations, (built or [onnx_path])[-1],
                                          record.warnings)
            # described while active: what ran (a CUDA graph, say) is known until the engine is freed
            record.method = {**policy.describe(), "percentile": PERCENTILE_DEFINITION, **STATISTICS,
                             "stopped": timed.stopped, **engine.describe()}
            record.precision_executed, record.precision_evidence = engine.executed_precision()
            not_finite = _not_finite(engine, case.batch) if backend.can_infer else ""
        _fill(record, timed, case.batch, policy)
        # under load, requests' latencies spread by nature (queueing): no warning of a wide spread there
        spread = _cov_warning(timed) if policy.scenario == SINGLE_STREAM else []
        record.warnings = list(engine.warnings) + spread + engine.check(timed) + record.warnings
        record.build_s = round(engine.build_s, 3)
        record.engine = dict(engine.info)
        if sampler is not None:
            record.gpu_telemetry = sampler.summary()
            record.warnings += list(record.gpu_telemetry.get("warnings", []))  # each begins "GPU telemetry"
            gpu_memory = record.gpu_telemetry.get("process_memory_bytes")
            if gpu_memory:
                record.memory["gpu_process_peak_bytes"] = gpu_memory["max"]
                record.memory["gpu_how"] = (f"NVML usedGpuMemory of this process, sampled every "
                                            f"{sampler.period_s:g} s while timed")
        problems = [why for why in (not_finite, record.precision_mismatch()) if why]
        if problems:
            record.failed("; ".join(problems))
    except (KeyboardInterrupt, DeviceBusy):
        raise
    except TrtbenchError as exc:
        record.failed(str(exc))
    except Exception as exc:  # a failing case (out of memory, backend error) must not end the sweep
        record.failed(f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=8))
    # kept for a failed case too: the peak before an out-of-memory says how far it got
    record.memory = {**_memory(backend, building, timing, engine_memory), **record.memory}
    record.case_s = round(time.perf_counter() - started, 3)
    record.finished_at = timestamp()
    return record


def _under_load(engine: Engine, batch: int, policy: TimingPolicy, record: LatencyRecord, progress) -> Timed:
    from trtbench.executors.load import time_under_load

    return time_under_load(engine, batch, policy, record, progress)


def _runs_here(backend: Backend) -> bool:
    """Whether the backend's engines run in this process (a backend that cannot run inferences for trtbench,
    trtexec, builds and times them in a process of its own)."""
    return backend.can_infer


def _first_inference_ms(engine: Engine) -> float:
    """The first inference after loading, timed on its own (host wall time: ``iterate`` returns once the work
    is done): the cold start a deployment sees, never counted as warm-up or among the samples."""
    started = time.perf_counter()
    engine.iterate()
    return round((time.perf_counter() - started) * 1000.0, 4)


def _engine_memory(engine: Engine, warnings: list[str]) -> dict:
    """What the engine says it holds (while active); {} and a warning where asking it fails."""
    try:
        return dict(engine.memory_facts())
    except Exception as exc:  # it describes a case, it never fails one
        warnings.append(f"engine memory not read: {type(exc).__name__}: {exc}")
        return {}


def _memory(backend: Backend, building: PeakMemory, timing: PeakMemory, engine: dict | None) -> dict:
    """The record's memory: the process's peaks while built and while timed, its resident size before the
    build, how they were read, and what the engine says it holds."""
    memory: dict = {}
    if building.before_bytes is not None:
        memory["rss_before_bytes"] = building.before_bytes
    if building.peak_bytes is not None:
        memory["build_peak_rss_bytes"] = building.peak_bytes
    if timing.peak_bytes is not None:
        memory["peak_rss_bytes"] = timing.peak_bytes
    if not _runs_here(backend):
        memory["how"] = f"not read: {backend.name} runs its engines in a process of its own"
    elif building.how and timing.how and building.how != timing.how:
        memory["how"] = f"build: {building.how}; timing: {timing.how}"
    elif building.how or timing.how:
        memory["how"] = building.how or timing.how
    if engine is not None:
        memory["engine"] = engine
    return memory


def _profile(engine: Engine, iterations: int, graph: Path, warnings: list[str]) -> dict:
    """The engine's per-layer profile over ``iterations`` profiled inferences, after (never during) its timing,
    with the nodes of the ONNX graph it was built from (``graph``), which its layers name; {} and a warning
    where the engine cannot say."""
    from trtbench.graphs.graph import graph_nodes

    try:
        profile = engine.profile_layers(iterations)
    except TrtbenchError as exc:
        warnings.append(f"no per-layer profile: {exc}")
        return {}
    return {**profile.to_json(), "graph": [list(node) for node in graph_nodes(graph)]}


class ExportChanged(TrtbenchError):
    """The export a case builds from is not the one its run planned (exported again, or removed)."""


def _same_export(case: Case, path: Path, planned: str) -> None:
    """Raise ExportChanged unless the export at ``path`` is still the one of sha256 ``planned``.

    Cheap per case: the file is read again only when its size, mtime or inode changed since this
    process last hashed it (``artifacts.current_sha256``).
    """
    from trtbench.store.artifacts import current_sha256

    try:
        now: str | None = current_sha256(path)
    except OSError:
        now = None
    if now != planned:
        raise ExportChanged(export_changed(case.model, path, planned, now))


def export_changed(model: str, path: Path, planned: str, now: str | None) -> str:
    """The one line for a case refused because its export is not the one its run planned (``now``:
    the export's sha256 now, None when it is gone)."""
    state = "is gone" if now is None else \
        f"changed (sha256 {planned[:12]} planned, {now[:12]} now: exported again since the run began)"
    return (f"{model}'s export {path} {state} under this run: not timed, so that the run times one export; "
            f"start a new run to time {model} as it is now")


def _not_finite(engine: Engine, batch: int) -> str:
    """Why the engine's outputs on the seeded input are unusable (NaN or Inf in them), or ''."""
    outputs = np.asarray(engine.infer(seeded_input(batch)))
    bad = int(outputs.size - np.count_nonzero(np.isfinite(outputs)))
    if not bad:
        return ""
    return (f"{bad} of {outputs.size} output values are NaN or Inf on the seeded input: the engine computes "
            "no usable result (a damaged engine or cache file, or an overflow in this precision)")


def _fill_device_use(record: LatencyRecord, use: DeviceUse) -> None:
    record.device_wait_s, record.device_shared, record.device_sharing = use.waited_s, use.shared, use.evidence
    if use.shared:
        record.warnings.append(f"device shared while timed: {use.evidence}")


def _windows(timed: Timed) -> str:
    assert timed.windows is not None
    return ", ".join(f"{median:.3g}" for median in timed.windows.medians_ms[-6:]) + " ms"


def _cov_warning(timed: Timed) -> list[str]:
    if timed.windows is not None:  # the windows' verdict says whether it was stable
        return []
    cov = next(iter(timed.spans.values())).cov
    if cov is not None and cov > COV_WARNING:
        return [f"unstable: coefficient of variation {cov:.1%} > {COV_WARNING:.1%}"]
    return []


def _fill(record: LatencyRecord, timed: Timed, batch: int, policy: TimingPolicy) -> None:
    """The record's numbers: the first span's statistics, every span's, throughput, and their evidence (samples,
    percentiles with their support, intervals, stability); a percentile the samples do not support is None."""
    latency = next(iter(timed.spans.values()))
    has = len(timed.samples) if timed.samples else timed.iterations
    record.latency_ms = without_unsupported(latency.as_dict(), has)
    record.cov = latency.cov
    record.cov_warning = latency.cov is not None and latency.cov > COV_WARNING
    record.spans_ms = {span: without_unsupported(stats.as_dict(), has) for span, stats in timed.spans.items()}
    for name, value in evidence(timed, policy).items():
        setattr(record, name, value)
    if timed.windows is not None and not timed.windows.stable:
        record.warnings.append(f"unstable: the last {policy.windows} timing windows' medians did not agree within "
                               f"{timed.windows.threshold:.0%} by the maximum duration ({_windows(timed)})")
    for name, entry in record.percentiles.items():
        if not entry["supported"] and float(name[1:]) in policy.percentiles:
            record.warnings.append(f"{name} not supported: {entry['has']} samples, it needs {entry['needs']} "
                                   "(raise --max-duration)")
    record.iterations = timed.iterations
    record.timed_s = round(timed.wall_s, 4)
    # queries (batches) per second, as trtexec reports, and images per second
    record.throughput_qps = timed.qps
    record.throughput_ips = timed.qps * batch

