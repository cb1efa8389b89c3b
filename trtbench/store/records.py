"""Typed records: one timed case (latency) or one accuracy evaluation, each with one JSON form.

A run file holds a list of ``Record.to_json()`` dicts; ``record_from_json`` reads them back, for
this schema and, through ``migrate``, for every older one.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from trtbench.errors import TrtbenchError

SCHEMA_VERSION = 2
#: what makes two records the same case: the newer one replaces the older in reports
RECORD_KEY = ("kind", "model", "backend", "device", "precision", "batch", "scenario")
#: the scenario of today's timing, and of every record written before there were others: one inference at a time
SINGLE_STREAM = "single-stream"

_ATTACHED = {"saved": False}  # fields filled in when a run file is loaded, never written into one


@dataclass(kw_only=True)
class Record:
    """What every record says: the case, where it ran, and whether it worked."""

    kind: ClassVar[str] = ""

    model: str
    backend: str
    device: str
    precision: str  # as requested
    batch: int
    precision_executed: str | None = None  # as the engine says it ran (None where it cannot say)
    precision_evidence: str = ""  # how that was read, e.g. "TensorRT engine inspector: 53 int8 layers"
    status: str = "ok"
    error: str | None = None
    traceback: str | None = None
    warnings: list[str] = field(default_factory=list)
    finished_at: str = ""
    node: str = ""  # the host it ran on (a cluster sweep's records come from many)
    run_id: str | None = field(default=None, metadata=_ATTACHED)
    environment: dict = field(default_factory=dict, metadata=_ATTACHED)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def key(self) -> tuple:
        """The case this record measures (see RECORD_KEY)."""
        return tuple(getattr(self, name, None) for name in RECORD_KEY)  # an accuracy record has no scenario

    def label(self) -> str:
        """How a person names the case: 'ResNet50 fp16 batch 8'."""
        return f"{self.model} {self.precision} batch {self.batch}"

    def to_json(self) -> dict[str, Any]:
        """The record as it is saved in a run file."""
        saved = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("saved", True)}
        return {"kind": self.kind, **{name: _plain(value) for name, value in saved.items()}}

    def failed(self, error: str, traceback: str | None = None) -> None:
        """Mark the case failed with a one-line reason."""
        self.status, self.error, self.traceback = "failed", error, traceback

    def precision_mismatch(self) -> str:
        """Why the case did not run the precision it asked for, with the engine's evidence ('asked fp16, the
        engine ran fp32: OpenVINO runtime model: 21 of 21 Convolution ops in f32'); '' when it ran that
        precision or the engine could not say."""
        executed = self.precision_executed
        if executed is None or executed == self.precision:
            return ""
        evidence = self.precision_evidence or "no evidence recorded"
        return (f"asked {self.precision}, the engine ran {executed}: {evidence}; not counted as {self.precision} "
                "(its timings stay in the run file)")


@dataclass(kw_only=True)
class LatencyRecord(Record):
    """A timed case: statistics of the metric's span, every span, throughput and how it was measured."""

    kind: ClassVar[str] = "latency"

    metric: str = "latency"
    latency_ms: dict[str, float] | None = None  # mean, median, p90, p95, p99, min, max, stdev
    cov: float | None = None
    cov_warning: bool = False
    spans_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    iterations: int = 0
    timed_s: float = 0.0
    throughput_qps: float | None = None  # queries (batches) per second, as trtexec reports
    throughput_ips: float | None = None  # images per second
    build_s: float | None = None
    case_s: float | None = None
    engine: dict = field(default_factory=dict)  # which engine: cached or built, its file and sha256
    method: dict = field(default_factory=dict)  # timing policy, timer, toggles
    gpu_telemetry: dict | None = None
    verify: dict | None = None  # `run --verify` figures
    timed_between: list[str] = field(default_factory=list)  # [start, end] of the timing, UTC
    device_wait_s: float | None = None  # waited for another trtbench run to finish timing on the device
    device_shared: bool | None = None  # whether other processes used the device while timed (None: unknown)
    device_sharing: str = ""  # how that was read, e.g. "other processes used 0.03 of 2 CPUs ..."
    figures: dict[str, float] = field(default_factory=dict)  # registered metrics no other field holds, by name
    # The statistics' evidence (trtbench.measure.stats): the first span's per-iteration times, in order, as
    # encode_samples stores them ({} in files written before they were kept)
    samples: dict = field(default_factory=dict)
    # Each percentile asked for or shown, "p50", "p90", ...: {"ms": value or None where the samples do not
    # support it, "supported", "has": samples, "needs": samples it needs, "bound_ms": the early-stopping upper
    # bound at method.support_confidence, "interval_ms": [low, high] at method.confidence or None}
    percentiles: dict = field(default_factory=dict)
    median_interval_ms: list[float] | None = None  # distribution-free, at method.confidence
    # {"stable": bool, "threshold": 0.05, "windows_ms": [each window's median], "window_s": seconds a window}
    stability: dict = field(default_factory=dict)
    # `run --profile`: where the time went, layer by layer (trtbench.measure.profile.LayerProfile's JSON, with
    # "graph": the ONNX nodes as [name, op type] in order); {} when not profiled
    profile: dict = field(default_factory=dict)
    # What the case cost besides time ({} where not measured, as in older files):
    # memory: {"peak_rss_bytes": the process's peak resident memory while timed, "build_peak_rss_bytes": while
    # built or loaded, "rss_before_bytes": before the build, "how": how the peaks were read, "engine": what the
    # engine says it holds (Engine.memory_facts), "gpu_process_peak_bytes": this process's GPU memory at its
    # peak (NVML), "gpu_how"}
    memory: dict = field(default_factory=dict)
    # energy: {"joules", "seconds": of the timed window, "idle_watts": the baseline read before it, "net_joules",
    # "joules_per_image", "images_per_joule", "source"}, or {"unreadable": why} where the machine does not say
    energy: dict = field(default_factory=dict)
    # cold_start: {"load_s": artifact to ready engine, "first_inference_ms": the first call after loading, timed
    # on its own before the warm-up}
    cold_start: dict = field(default_factory=dict)
    # The load the case was measured under (`run --scenario`): "single-stream" (one inference at a time: the page's
    # and every older record's), "offline" (every request available at once), "server 40 qps" (Poisson arrivals at
    # a rate) or "server p99 <= 50 ms" (the highest rate that held the bound); part of the case, so only like is
    # compared with like
    scenario: str = SINGLE_STREAM
    # its parameters and evidence: {"concurrency": requests in flight, "streams", "threads_per_stream", "how",
    # "rate_qps", "achieved_qps", "latency_bound_ms", "percentile", "held", "peak_qps", "sweep": [each point
    # measured: concurrency or rate, images/s, the percentile's ms, held]}; {} for single-stream
    load: dict = field(default_factory=dict)

    @property
    def single_stream(self) -> bool:
        return self.scenario == SINGLE_STREAM

    @property
    def median_ms(self) -> float | None:
        return None if self.latency_ms is None else self.latency_ms["median"]

    def value(self, metric: str) -> float | None:
        """The record's figure for a registered metric (``METRICS``), or None when it has none."""
        return METRICS[metric].value(self)


@dataclass(kw_only=True)
class AccuracyRecord(Record):
    """Top-1/Top-5 of an engine on labelled images (`trtbench eval`)."""

    kind: ClassVar[str] = "accuracy"

    weights: str = ""
    data: str = ""
    images: int = 0
    skipped: int = 0
    skipped_files: list[str] = field(default_factory=list)
    top1: float | None = None
    top5: float | None = None


# --- the per-case figures, declared once ---------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A per-case figure of a latency record: where the record holds it, its unit, which way is better,
    how it is written, and how two of them compare (the relative change, in percent of the first)."""

    name: str  # what `compare --metric` and `report --metric` call it
    label: str  # in a sentence: "median latency"
    unit: str  # "ms", "images/s", "W"
    read: Callable[[LatencyRecord], Any] | None = None  # None: ``record.figures[name]``
    higher_is_better: bool = False
    digits: int = 3  # decimals a table shows
    kind: str = "latency"  # latency (a statistic of the timed span), throughput, telemetry, or another word
    column: str = ""  # its CSV column; "" is the name

    @property
    def direction(self) -> str:
        """'higher is better' or 'lower is better'."""
        return "higher is better" if self.higher_is_better else "lower is better"

    def value(self, record: LatencyRecord) -> float | None:
        """The record's figure (a float, maybe not finite), or None when it has none or holds no number."""
        try:
            value = self.read(record) if self.read is not None else (record.figures or {}).get(self.name)
        except (AttributeError, KeyError, TypeError, OverflowError):  # a hostile file: no figure
            return None
        if type(value) is float:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _is_number(value):
            return None
        return float(value)

    def text(self, value: float | None) -> str:
        """The value as a table writes it ('' for none)."""
        return "" if value is None else f"{value:.{self.digits}f}" if math.isfinite(value) else str(value)

    def change_pct(self, base: float, new: float) -> float:
        """How much NEW differs from BASE, in percent of BASE (positive: larger)."""
        return (new / base - 1) * 100

    def worse_pct(self, base: float, new: float) -> float:
        """How much worse NEW is than BASE, in percent (negative: better)."""
        change = self.change_pct(base, new)
        return -change if self.higher_is_better else change


def _statistic(name: str) -> Callable[[LatencyRecord], Any]:
    return lambda record: (record.latency_ms or {}).get(name)


def _telemetry(name: str) -> Callable[[LatencyRecord], Any]:
    return lambda record: ((record.gpu_telemetry or {}).get(name) or {}).get("median")


#: every per-case figure trtbench knows, by name: compare, report, JSON and CSV read them from here
METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Declare a per-case figure; its name must be new. Returns it."""
    if metric.name in METRICS:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    METRICS[metric.name] = metric
    return metric


for _name in ("median", "mean", "p90", "p95", "p99", "min", "max"):
    register_metric(Metric(_name, f"{_name} latency", "ms", _statistic(_name), column=f"latency_ms_{_name}"))
register_metric(Metric("throughput", "throughput", "images/s", lambda r: r.throughput_ips, higher_is_better=True,
                       digits=1, kind="throughput", column="throughput_ips"))
register_metric(Metric("throughput_qps", "throughput", "queries/s", lambda r: r.throughput_qps,
                       higher_is_better=True, digits=1, kind="throughput", column="throughput_qps"))
register_metric(Metric("profiled_total", "profiled total", "ms",
                       lambda record: (record.profile or {}).get("total_ms") or None, kind="profile",
                       column="profiled_total_ms"))
def _mib(table: str, key: str, inner: str = "") -> Callable[[LatencyRecord], Any]:
    """A byte count of a record's table (``inner``: a table within it) in MiB; None where it has none."""
    def read(record: LatencyRecord) -> Any:
        found = getattr(record, table) or {}
        value = (found.get(inner) or {}).get(key) if inner else found.get(key)
        return value / 2**20 if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return read


def _of(table: str, key: str) -> Callable[[LatencyRecord], Any]:
    return lambda record: (getattr(record, table) or {}).get(key)


register_metric(Metric("peak_rss", "peak resident memory while timed", "MiB", _mib("memory", "peak_rss_bytes"),
                       digits=0, kind="memory", column="peak_rss_mib"))
register_metric(Metric("build_peak_rss", "peak resident memory while built", "MiB",
                       _mib("memory", "build_peak_rss_bytes"), digits=0, kind="memory", column="build_peak_rss_mib"))
register_metric(Metric("device_memory", "peak GPU memory of the process", "MiB",
                       _mib("memory", "gpu_process_peak_bytes"), digits=0, kind="memory", column="device_memory_mib"))
register_metric(Metric("engine_device_memory", "the engine's device memory", "MiB",
                       _mib("memory", "device_memory_bytes", "engine"), digits=1, kind="memory",
                       column="engine_device_memory_mib"))
register_metric(Metric("engine_size", "the engine's serialized size", "MiB", _mib("memory", "plan_bytes", "engine"),
                       digits=1, kind="memory", column="engine_size_mib"))
register_metric(Metric("energy_per_image", "energy per image (less the idle baseline)", "J/image",
                       _of("energy", "joules_per_image"), digits=4, kind="energy", column="joules_per_image"))
register_metric(Metric("images_per_joule", "images per joule", "images/J", _of("energy", "images_per_joule"),
                       higher_is_better=True, digits=2, kind="energy", column="images_per_joule"))
register_metric(Metric("first_inference", "first inference after loading", "ms",
                       _of("cold_start", "first_inference_ms"), kind="cold start", column="first_inference_ms"))
register_metric(Metric("load_time", "load time (artifact to a ready engine)", "s", _of("cold_start", "load_s"),
                       kind="cold start", column="load_s"))
register_metric(Metric("peak_rate", "highest rate within the latency bound", "queries/s", _of("load", "peak_qps"),
                       higher_is_better=True, digits=1, kind="load", column="peak_rate_qps"))
register_metric(Metric("gpu_power", "median GPU power", "W", _telemetry("power_w"), digits=1, kind="telemetry",
                       column="gpu_power_w"))
register_metric(Metric("gpu_sm_clock", "median GPU SM clock", "MHz", _telemetry("sm_clock_mhz"),
                       higher_is_better=True, digits=0, kind="telemetry", column="gpu_sm_clock_mhz"))
register_metric(Metric("gpu_temperature", "median GPU temperature", "°C", _telemetry("temperature_c"), digits=0,
                       kind="telemetry", column="gpu_temperature_c"))


RECORD_TYPES: dict[str, type[Record]] = {cls.kind: cls for cls in (LatencyRecord, AccuracyRecord)}


def _plain(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


def migrate(record: dict, version: int) -> dict:
    """A record of run-file schema ``version`` in the current schema's form.

    Schema 1 records had no ``kind`` when they were latency records.
    """
    if version < 2:
        record = {"kind": "latency", **record}
    return record


def record_from_json(data: dict, version: int = SCHEMA_VERSION, where: str = "run file", adopt: bool = False) -> Record:
    """A typed record from its JSON form (of any schema up to this one). With ``adopt`` the record may take
    ``data`` as its own attributes (the caller gives the dict up: a run file of 50,000 records is not copied
    record by record); otherwise ``data`` is read, never changed."""
    if not isinstance(data, dict):
        raise TrtbenchError(f"{where}: a record is not a JSON object")
    if version < SCHEMA_VERSION:
        data = migrate(data, version)
    kind = data.get("kind")
    cls = RECORD_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TrtbenchError(f"{where}: unknown record kind '{kind}'")
    known, required, fields, defaults, factories = _layout(cls.kind)
    # Fields a newer patch release added are dropped rather than refused: the schema version
    # is what guards against a change of meaning.
    values = data if data.keys() <= known else {name: value for name, value in data.items() if name in known}
    if not required <= values.keys():
        missing = required - values.keys()
        raise TrtbenchError(f"{where}: a {cls.kind} record is incomplete (it has no {', '.join(sorted(missing))})")
    # Filled in as the dataclass's __init__ would (it has no __post_init__), at a third of the cost.
    record = object.__new__(cls)
    state = values if adopt or values is not data else dict(values)
    missing = fields - state.keys()
    if missing:
        fixed, made = _fills(cls.kind, frozenset(missing))
        state.update(fixed)
        for name in made:
            state[name] = factories[name]()
    state.pop("kind", None)  # the class says it
    record.__dict__ = state
    problem = _malformed(record)
    if problem:
        raise TrtbenchError(f"{where}: a {cls.kind} record is malformed ({problem})")
    mismatch = record.precision_mismatch() if isinstance(record, LatencyRecord) and record.ok else ""
    if mismatch:
        # Written before such a case was failed: it is read as what it is, never as the asked precision's data.
        record.failed(mismatch)
    return record


@functools.cache
def _layout(kind: str) -> tuple[frozenset[str], frozenset[str], frozenset[str], dict[str, Any],
                                dict[str, Callable[[], Any]]]:
    """The fields a record of ``kind`` keeps in a run file (and ``kind``), those without a default, every
    field, the defaults, and the factories of the others (worked out once per kind)."""
    cls = RECORD_TYPES[kind]
    # record_from_json fills records without calling __init__: a __post_init__ would be skipped.
    assert not hasattr(cls, "__post_init__"), f"{cls.__name__}.__post_init__ would not run on loading"
    fields = dataclasses.fields(cls)
    saved = frozenset(f.name for f in fields if f.metadata.get("saved", True)) | {"kind"}
    required = frozenset(f.name for f in fields
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    factories = {f.name: f.default_factory for f in fields if f.default_factory is not dataclasses.MISSING}
    return saved, required, frozenset(f.name for f in fields), defaults, factories


@functools.lru_cache(maxsize=64)
def _fills(kind: str, missing: frozenset[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """For the fields ``missing`` from a record of ``kind``: their plain defaults, and those made by a factory
    (files of one version lack the same fields: worked out once per set)."""
    _, _, _, defaults, factories = _layout(kind)
    return ({name: defaults[name] for name in missing if name in defaults},
            tuple(name for name in missing if name in factories))


def _is_number(value) -> bool:
    # A whole number too large for a float (JSON allows 10**400) cannot be shown or compared.
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= sys.float_info.max
    return isinstance(value, float)


_FLOAT_OR_NONE = frozenset((float, type(None)))


def _numbers_or_none(values) -> bool:
    """Every value a number or None (only floats and None, as nearly always, are told apart by their types
    alone, without a Python call per value: a run file may hold 50,000 records)."""
    values = list(values)
    return set(map(type, values)) <= _FLOAT_OR_NONE or all(value is None or _is_number(value) for value in values)


def _texts(values) -> bool:
    """A list of text (str subclasses too)."""
    return isinstance(values, list) and (set(map(type, values)) <= {str} or all(isinstance(v, str) for v in values))


_TEXT_FIELDS = ("model", "backend", "device", "precision", "status", "finished_at")
_TABLE_FIELDS = ("method", "engine", "spans_ms", "figures", "samples", "percentiles", "stability", "profile", "memory",
                 "energy", "cold_start", "load")
_NUMBER_FIELDS = ("throughput_qps", "throughput_ips", "cov")
# Each reads its fields in one C call: the types of 50,000 records are checked without a Python loop per field
_texts_of, _tables_of, _numbers_of = (operator.itemgetter(*names) for names in (_TEXT_FIELDS, _TABLE_FIELDS,
                                                                                 _NUMBER_FIELDS))


def _malformed(record: Record) -> str:
    """What is wrong with the types of the fields reports read, or ''."""
    state = record.__dict__
    if not set(map(type, _texts_of(state))) <= {str}:  # else a str subclass, or a field that is not text
        for name in _TEXT_FIELDS:
            if not isinstance(state[name], str):
                return f"{name} is not text"
    batch = record.batch
    if type(batch) is not int and (not isinstance(batch, int) or isinstance(batch, bool)) or batch < 1:
        return "batch is not a positive whole number"
    if not _texts(record.warnings):
        return "warnings is not a list of text"
    if isinstance(record, LatencyRecord):
        if type(state["scenario"]) is not str:
            return "scenario is not text"
        if record.latency_ms is not None and (not isinstance(record.latency_ms, dict) or
                                              not _numbers_or_none(record.latency_ms.values())):
            return "latency_ms is not a table of numbers"
        if record.ok and (record.latency_ms is None or not _is_number(record.latency_ms.get("median"))):
            return "an ok record has no median latency"
        if not _numbers_or_none(_numbers_of(state)):
            for name in _NUMBER_FIELDS:
                if state[name] is not None and not _is_number(state[name]):
                    return f"{name} is not a number"
        if not set(map(type, _tables_of(state))) <= {dict}:
            for name in _TABLE_FIELDS:
                if not isinstance(state[name], dict):
                    return f"{name} is not a table"
        interval = state["median_interval_ms"]
        if interval is not None and not (isinstance(interval, list) and len(interval) == 2 and
                                         _numbers_or_none(interval) and None not in interval):
            return "median_interval_ms is not two numbers"
        if not _numbers_or_none(record.figures.values()):
            return "figures is not a table of numbers"
    if isinstance(record, AccuracyRecord):
        for name in ("top1", "top5"):
            if getattr(record, name) is not None and not _is_number(getattr(record, name)):
                return f"{name} is not a number"
    return ""
