"""The page's latency sections as report tables: one per precision, backend and device (a row per
model, a column per batch size), or the devices side by side per precision and batch size."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import trtbench.reporting.support as support
from trtbench.models.zoo import VARIANTS, model_order_key
from trtbench.reporting.model import Cell, Column, Table
from trtbench.reporting.pick import Picked
from trtbench.store.records import METRICS, SINGLE_STREAM, AccuracyRecord, LatencyRecord, Metric, Record

RecordT = TypeVar("RecordT", bound=Record)

SECTION_TITLES = {"fp16": "FP16", "fp32": "FP32", "bf16": "BF16", "int8": "INT8"}
PRECISION_ORDER = {"fp16": 0, "fp32": 1, "bf16": 2, "int8": 3}  # the page's order, then what it lacks
PAGE_PRECISIONS = ("fp16", "fp32")  # the precisions the page has latency sections for
PAGE_HEADER = "V100 (page)"
MEDIAN = "median"  # the page's figure: the only one with a reference value

GroupKey = tuple[str, str, str]  # (precision, backend, device)


def latency_records(records: list[Record]) -> list[LatencyRecord]:
    """The timing records of one inference at a time (not accuracy ones, nor those timed under a load scenario,
    which have tables of their own: trtbench.reporting.load)."""
    return [r for r in records if isinstance(r, LatencyRecord) and r.scenario == SINGLE_STREAM]


def load_records(records: list[Record]) -> list[LatencyRecord]:
    """The records timed under a load scenario (`run --scenario offline|server`)."""
    return [r for r in records if isinstance(r, LatencyRecord) and r.scenario != SINGLE_STREAM]


def accuracy_records(records: list[Record]) -> list[AccuracyRecord]:
    """The records of `trtbench eval`."""
    return [r for r in records if isinstance(r, AccuracyRecord)]


def at_batches(records: list[Record], batches: list[int]) -> list[Record]:
    """The latency records at those batch sizes, and every accuracy record (its batch does not change it)."""
    return [r for r in records if not isinstance(r, LatencyRecord) or r.batch in batches]


def report_order(precision: str, backend: str, device: str) -> tuple:
    """How tables and records are ordered: the page's precisions first, then by device and backend."""
    return (PRECISION_ORDER.get(precision, 9), precision, device, backend)


def sort_records(records: Sequence[RecordT]) -> list[RecordT]:
    """Records in report order: precision, device, backend, page model order, batch."""
    return sorted(records, key=lambda r: (*report_order(r.precision, r.backend, r.device),
                                          model_order_key(r.model), r.batch))


def precisions(records: list[LatencyRecord]) -> list[str]:
    """The precisions the records ran, in the page's order (FP16, FP32) and then the others."""
    return sorted({r.precision for r in records}, key=lambda p: (PRECISION_ORDER.get(p, 9), p))


def batches(records: list[LatencyRecord]) -> list[int]:
    """The batch sizes the records ran, smallest first."""
    return sorted({r.batch for r in records})


def by_model(records: list[LatencyRecord]) -> dict[str, dict[int, LatencyRecord]]:
    """{model: {batch: record}}, models in the page's order."""
    rows: dict[str, dict[int, LatencyRecord]] = {}
    for record in records:
        rows.setdefault(record.model, {})[record.batch] = record
    return {name: rows[name] for name in sorted(rows, key=model_order_key)}


def latency_groups(records: list[Record]) -> list[tuple[GroupKey, list[LatencyRecord]]]:
    """Records grouped by (precision, backend, device), a table each: FP16 first as on the page, then FP32,
    and within a precision by device, then backend."""
    groups: dict[GroupKey, list[LatencyRecord]] = {}
    for record in latency_records(records):
        groups.setdefault((record.precision, record.backend, record.device), []).append(record)
    return sorted(groups.items(), key=lambda item: report_order(*item[0]))


def section_name(precision: str) -> str:
    """'FP16' for fp16; an unknown precision in capitals."""
    return SECTION_TITLES.get(precision, precision.upper())


def _fmt(value, digits=3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def cell(record: LatencyRecord | None, metric: Metric, reference: float | None = None,
         intervals: bool = False) -> Cell:
    """A record's figure as the page writes it: '1.234', '1.234~' (unstable), '1.234✗' (failed its output
    check), '1.234 (1.127, 1.09x)' with the page's value, '1.234 ± 0.012' with ``intervals``, 'needs 662
    (has 40)' for a percentile its samples do not support, 'failed', or '' where nothing ran."""
    if record is None:
        return Cell("", state="empty")
    value = metric.value(record)
    short = support.unsupported(record, metric) if record.ok else ""
    if not record.ok or (value is None and metric.name == MEDIAN and not short):
        return Cell("failed", state="failed", record=record)
    if short:
        return Cell(short, state="empty", record=record)
    if value is None:
        return Cell("n/a", state="empty", record=record)
    text = metric.text(value)
    if intervals:
        pair = support.interval(record, metric)
        if pair is not None:
            text += f" ± {metric.text(support.half_width(pair))}"
    if support.unstable(record):
        text += "~"
    if record.verify and not record.verify.get("passed"):
        text += "✗"
    if reference is not None:
        text += f" ({reference:.3f}, {value / reference:.2f}x)"
    return Cell(text, value, record=record)


def _metric_phrase(metric: Metric, records: list[LatencyRecord]) -> str:
    """'median GPU compute time' for a latency statistic, the metric's label otherwise."""
    return f"{metric.name} {records[0].metric}" if metric.kind == "latency" and records else metric.label


def _quantity(metric: Metric) -> str:
    """'latency (ms)' for the median (the page's words), 'p99 latency (ms)', 'throughput (images/s)'."""
    return f"latency ({metric.unit})" if metric.name == MEDIAN else f"{metric.label} ({metric.unit})"


def group_title(key: GroupKey, records: list[LatencyRecord], metric: Metric | None = None) -> str:
    """'FP16 latency (ms): <backend> on <device>, median <metric>'."""
    precision, backend, device = key
    metric = metric or METRICS[MEDIAN]
    quantity = f"latency ({metric.unit})" if metric.kind == "latency" else _quantity(metric)
    title = f"{precision_said(precision, records)} {quantity}: {backend} on {device}"
    return title + (f", {_metric_phrase(metric, records)}" if metric.kind == "latency" else "")


def precision_said(precision: str, records: list[LatencyRecord]) -> str:
    """'FP16', or 'FP16 (ran as FP32 in 2 of 4 cells)', 'FP32 with TF32': what the records really ran."""
    section = section_name(precision)
    executed = sorted({r.precision_executed for r in records
                       if r.precision_executed is not None and r.precision_executed != precision})
    if executed:
        # A cell that ran in another precision than its column says is shown under both names.
        ran = sum(1 for r in records if r.precision_executed in executed)
        section += f" (ran as {'/'.join(e.upper() for e in executed)} in {ran} of {len(records)} cells)"
    tf32 = sum(1 for r in records if r.method.get("tf32"))
    if tf32:
        # TF32 is not FP32: the title says so whenever any cell was allowed it.
        section += " with TF32" if tf32 == len(records) else f" (TF32 in {tf32} of {len(records)} cells)"
    return section + fp16_build_said(precision, records)


#: how TensorRT was asked for a reduced precision, by precision and the first word of a record's
#: ``method["fp16_build"]`` (10.x: weak, builder flags; 11.x: strong, the graph's own types)
FP16_BUILDS = {
    "fp16": {"weak": "weakly typed: TensorRT picks per layer", "strong": "strongly typed: FP16 graph"},
    "int8": {"weak": "weakly typed: TensorRT picks FP16/FP32 per layer outside Q/DQ",
             "strong": "strongly typed: Q/DQ graph, the rest FP16"},
}


def fp16_build_said(precision: str, records: list[LatencyRecord]) -> str:
    """' (weakly typed: TensorRT picks per layer)' or ' (strongly typed: FP16 graph)' for cells whose
    records say how TensorRT built them, counted where the cells differ; '' for records that do not
    say (CPU engines) and for FP32."""
    phrases = FP16_BUILDS.get(precision)
    if phrases is None:
        return ""
    builds: Counter = Counter()
    for record in records:
        said = record.method.get("fp16_build") if isinstance(record.method, dict) else None
        kind = next((k for k in phrases if isinstance(said, str) and said.startswith(k)), None)
        if kind is not None:
            builds[kind] += 1
    if not builds:
        return ""
    if len(builds) == 1 and sum(builds.values()) == len(records):
        return f" ({phrases[next(iter(builds))]})"
    return " (" + "; ".join(f"{phrases[kind]} in {count} of {len(records)} cells"
                            for kind, count in sorted(builds.items())) + ")"


def _legend(records: list[LatencyRecord], *more: str, cells: Sequence[Cell] = (), intervals: bool = False) -> list[str]:
    short = any(c.state == "empty" and c.text.startswith("needs ") for c in cells)
    return ["unstable", *(["unchecked"] if any(r.verify for r in records) else []), *more,
            *(["unsupported"] if short else []), *(["interval"] if intervals else [])]


def _pick_notes(picked: Picked | None, records: list[LatencyRecord]) -> list[str]:
    """What the pick did, where it chose (or was asked for): 'each cell: the best record (best of 3 ...)'."""
    if picked is None or (picked.how == "latest" and not any(id(r) in picked.among for r in records)):
        return []
    return [picked.said(records)]


def _run_of(record: LatencyRecord) -> str:
    return record.run_id if isinstance(record.run_id, str) else "?"


def rows_of(records: list[LatencyRecord], every: bool) -> list[tuple[str, str, dict[int, LatencyRecord]]]:
    """(model, run, {batch: record}) in the page's model order; with ``every`` a row per model and run (and
    per repeat within a run), else a row per model (run '')."""
    if not every:
        return [(name, "", cells) for name, cells in by_model(records).items()]
    rows: dict[tuple[str, str, int], dict[int, LatencyRecord]] = {}
    for record in sorted(records, key=lambda r: r.finished_at if isinstance(r.finished_at, str) else ""):
        repeat = 0
        while record.batch in rows.get((record.model, _run_of(record), repeat), {}):
            repeat += 1
        rows.setdefault((record.model, _run_of(record), repeat), {})[record.batch] = record
    ordered = sorted(rows.items(), key=lambda item: (model_order_key(item[0][0]), item[0][1], item[0][2]))
    # a run that timed the cell twice (a repeat within one run file) shows the repeat as 'RUN #2'
    return [(model, f"{run} #{repeat + 1}" if repeat else run, cells) for (model, run, repeat), cells in ordered]


def latency_table(key: GroupKey, records: list[LatencyRecord], reference: bool = False,
                  metric: Metric | None = None, intervals: bool = False, picked: Picked | None = None) -> Table:
    """One precision/backend/device as the page lays it out: a row per model, a column per batch size (with
    ``picked`` 'all': a row per model and run)."""
    metric = metric or METRICS[MEDIAN]
    precision = key[0]
    reference = reference and metric.name == MEDIAN
    every = picked is not None and picked.how == "all"
    sizes = batches(records)
    table = Table("latency", group_title(key, records, metric),
                  [Column("Models", numeric=False, no_wrap=True),
                   *([Column("Run", numeric=False, terminal="run")] if every else []),
                   *(Column(f"batch_size={b}\n({metric.unit})", terminal=f"batch_size={b} ({metric.unit})")
                     for b in sizes)],
                  notes=_pick_notes(picked, records),
                  failures=[f"{r.model} batch {r.batch} failed: {r.error}" for r in records if not r.ok])
    cells = []
    for name, run, row in rows_of(records, every):
        variant = VARIANTS.get(name)
        shown = [cell(row.get(b), metric, variant.page_latency_ms(precision, b) if reference and variant else None,
                      intervals) for b in sizes]
        cells += shown
        table.add(name, *([run] if every else []), *shown)
    table.legend = _legend(records, *(["reference"] if reference else []), cells=cells, intervals=intervals)
    return table


# --- the devices side by side (report --by device) ------------------------------------------


@dataclass(frozen=True)
class DeviceColumn:
    """One device and the backend that ran on it: a column of the by-device tables."""

    device: str
    backend: str
    names_backend: bool  # the device ran several backends: its header names this one
    records: tuple[LatencyRecord, ...]

    def header(self, between: str = " ") -> str:
        """The device name, followed by the backend where needed: 'AMD EPYC 7B13 (openvino-cpu)'."""
        return f"{self.device}{between}({self.backend})" if self.names_backend else self.device


@dataclass(frozen=True)
class DeviceSection:
    """The devices side by side at one precision and batch size."""

    precision: str
    batch: int
    columns: tuple[DeviceColumn, ...]

    @property
    def title(self) -> str:
        """'FP16 latency (ms), batch_size=1'."""
        return f"{section_name(self.precision)} latency (ms), batch_size={self.batch}"

    def records(self, column: DeviceColumn) -> list[LatencyRecord]:
        """The column's records at this batch size."""
        return [r for r in column.records if r.batch == self.batch]


def device_columns(records: list[LatencyRecord]) -> list[DeviceColumn]:
    """A column per (device, backend), in device order: headed by the device name, followed by the backend
    in brackets where that device ran several backends."""
    cells: dict[tuple[str, str], list[LatencyRecord]] = {}
    for record in records:
        cells.setdefault((record.device, record.backend), []).append(record)
    backends = Counter(device for device, _ in cells)
    return [DeviceColumn(device, backend, backends[device] > 1, tuple(group))
            for (device, backend), group in sorted(cells.items())]


def device_sections(records: list[Record]) -> list[DeviceSection]:
    """A section per precision (FP16 first, as on the page) and batch size. A precision's sections share
    their columns: every device that ran the precision, at whichever batch sizes."""
    latency = latency_records(records)
    sections = []
    for precision in precisions(latency):
        ran = [r for r in latency if r.precision == precision]
        columns = tuple(device_columns(ran))
        sections += [DeviceSection(precision, batch, columns) for batch in batches(ran)]
    return sections


def device_table(section: DeviceSection, reference: bool = False, metric: Metric | None = None,
                 intervals: bool = False, picked: Picked | None = None) -> Table:
    """The devices side by side at one precision and batch size: a row per model (with ``picked`` 'all': per
    model and run), a column per device and the page's V100 value."""
    metric = metric or METRICS[MEDIAN]
    page = section.precision in PAGE_PRECISIONS and metric.name == MEDIAN
    reference = reference and metric.name == MEDIAN
    every = picked is not None and picked.how == "all"
    title = section.title if metric.name == MEDIAN else \
        f"{section_name(section.precision)} {_quantity(metric)}, batch_size={section.batch}"
    records = [r for column in section.columns for r in section.records(column)]
    table = Table("devices", title,
                  [Column("Models", numeric=False, no_wrap=True),
                   *([Column("Run", numeric=False, terminal="run")] if every else []),
                   *(Column(c.header(), terminal=c.header("\n"), fold=True) for c in section.columns),
                   *([Column(PAGE_HEADER, fold=True)] if page else [])],
                  notes=_column_notes(section, metric) + _pick_notes(picked, records),
                  failures=[f"{r.model} batch {r.batch} on {column.header()} failed: {r.error}"
                            for column in section.columns for r in section.records(column) if not r.ok])
    columns = []
    for column in section.columns:
        # keyed like a latency table's rows: (model, run, repeat), the batch always this section's
        keyed = {(name, run): row[section.batch] for name, run, row in rows_of(section.records(column), every)}
        columns.append(keyed)
    shown = []
    for name, run in sorted({key for column in columns for key in column},
                            key=lambda key: (model_order_key(key[0]), key[1])):
        variant = VARIANTS.get(name)
        value = variant.page_latency_ms(section.precision, section.batch) if variant else None
        row = [cell(column.get((name, run)), metric, value if reference else None, intervals) for column in columns]
        shown += row
        if page:
            row.append(Cell(_fmt(value), value, "" if value is not None else "empty"))
        table.add(name, *([run] if every else []), *row)
    table.legend = _legend(records, *(["page"] if page else []), cells=shown, intervals=intervals)
    return table


def _column_notes(section: DeviceSection, metric: Metric) -> list[str]:
    """What each column measured: its backend and metric, and the precision that really ran when it differs."""
    notes = []
    for column in section.columns:
        backend = "" if column.names_backend else f"{column.backend}, "
        note = f"{column.header()}: {backend}{_metric_phrase(metric, list(column.records))}"
        said = precision_said(section.precision, section.records(column))
        if section.records(column) and said != section_name(section.precision):
            note += f"; {said}"
        notes.append(note)
    return notes


def latency_tables(records: list[Record], reference: bool = False, by_device: bool = False,
                   metric: Metric | None = None, intervals: bool = False, picked: Picked | None = None) -> list[Table]:
    """The latency tables: one per precision/backend/device, or with ``by_device`` the devices side by
    side, one per precision and batch size."""
    if by_device:
        return [device_table(section, reference, metric, intervals, picked) for section in device_sections(records)]
    return [latency_table(key, group, reference, metric, intervals, picked) for key, group in latency_groups(records)]
