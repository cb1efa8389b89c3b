"""Rendering: rich tables for the terminal and markdown in the page's layout."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from trtbench.compare import (
    FAILED,
    FAILED_BOTH,
    FIXED,
    IMPROVED,
    NO_VALUE,
    ONLY_BASE,
    ONLY_NEW,
    REGRESSED,
    Comparison,
    Metric,
    Row,
)
from trtbench.errors import TrtbenchError
from trtbench.figures import FLOPS_CONVENTION, MISMATCH
from trtbench.lazy import import_optional
from trtbench.records import AccuracyRecord, LatencyRecord, Record
from trtbench.zoo import VARIANTS, model_order_key


def _fmt(value, digits=3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def models_table(rows: list[dict]) -> Table:
    """The page's accuracy/FLOPS/parameters table with trtbench's own counts beside the page's."""
    caption = (f"{FLOPS_CONVENTION}. 'ours': counted by trtbench, the rest is the page's; "
               f"'!' marks a count more than {MISMATCH:.0%} from the page's.")
    table = Table(title="ResNet and Vd: accuracy, FLOPS and parameters", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("Models", no_wrap=True)
    for header in ("Top1", "Top5", "Ref\ntop1", "Ref\ntop5", "FLOPS\n(G)", "FLOPS\n(G) ours",
                   "Params\n(M)", "Params\n(M) ours"):
        table.add_column(header, justify="right", no_wrap=True)
    notes = []
    for row in rows:
        flops = _fmt(row["flops_g"]) + (" !" if row["flops_disagree"] else "")
        params = _fmt(row["params_m"]) + (" !" if row["params_disagree"] else "")
        table.add_row(row["name"], _fmt(row["top1"]), _fmt(row["top5"]), _fmt(row["ref_top1"]),
                      _fmt(row["ref_top5"]), _fmt(row["ref_flops_g"]), flops, _fmt(row["ref_params_m"]),
                      params)
        if row["note"]:
            notes.append(f"{row['name']}: {row['note']}")
    table.caption = "\n".join([caption, *notes])
    return table


def models_markdown(rows: list[dict]) -> str:
    """The page's first table in its own markdown layout, with trtbench's counts in extra columns."""
    lines = [
        "| Models | Top1 | Top5 | Reference<br>top1 | Reference<br>top5 | FLOPS<br>(G) | Parameters<br>(M) "
        "| FLOPS<br>(G, trtbench) | Parameters<br>(M, trtbench) |",
        "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {_fmt(row['top1'])} | {_fmt(row['top5'])} | {_fmt(row['ref_top1'])} "
            f"| {_fmt(row['ref_top5'])} | {_fmt(row['ref_flops_g'])} | {_fmt(row['ref_params_m'])} "
            f"| {_fmt(row['flops_g'])}{' !' if row['flops_disagree'] else ''} "
            f"| {_fmt(row['params_m'])}{' !' if row['params_disagree'] else ''} |")
    return "\n".join(lines)


# --- latency tables -------------------------------------------------------------------------

SECTION_TITLES = {"fp16": "FP16", "fp32": "FP32", "bf16": "BF16", "int8": "INT8"}
PRECISION_ORDER = {"fp16": 0, "fp32": 1, "bf16": 2, "int8": 3}  # the page's order, then what it lacks


GroupKey = tuple[str, str, str]  # (precision, backend, device)


def latency_groups(records: list[Record]) -> list[tuple[GroupKey, list[LatencyRecord]]]:
    """Records grouped by (precision, backend, device), a table each: FP16 first as on the page, then FP32,
    and within a precision by device, then backend."""
    groups: dict[GroupKey, list[LatencyRecord]] = {}
    for record in latency_records(records):
        groups.setdefault((record.precision, record.backend, record.device), []).append(record)
    return sorted(groups.items(), key=lambda item: _report_order(*item[0]))


def _report_order(precision: str, backend: str, device: str) -> tuple:
    return (PRECISION_ORDER.get(precision, 9), precision, device, backend)


def _precisions(records: list[LatencyRecord]) -> list[str]:
    """The precisions the records ran, in the page's order (FP16, FP32) and then the others."""
    return sorted({r.precision for r in records}, key=lambda p: (PRECISION_ORDER.get(p, 9), p))


def latency_records(records: list[Record]) -> list[LatencyRecord]:
    """The timing records (not accuracy ones)."""
    return [r for r in records if isinstance(r, LatencyRecord)]


def at_batches(records: list[Record], batches: list[int]) -> list[Record]:
    """The latency records at those batch sizes, and every accuracy record (its batch does not change it)."""
    return [r for r in records if not isinstance(r, LatencyRecord) or r.batch in batches]


def accuracy_records(records: list[Record]) -> list[AccuracyRecord]:
    """The records of `trtbench eval`."""
    return [r for r in records if isinstance(r, AccuracyRecord)]


def _batches(records: list[LatencyRecord]) -> list[int]:
    return sorted({r.batch for r in records})


def _by_model(records: list[LatencyRecord]) -> dict[str, dict[int, LatencyRecord]]:
    rows: dict[str, dict[int, LatencyRecord]] = {}
    for record in records:
        rows.setdefault(record.model, {})[record.batch] = record
    return {name: rows[name] for name in sorted(rows, key=model_order_key)}


def _cell(record: LatencyRecord | None, reference: float | None = None) -> str:
    if record is None:
        return ""
    if not record.ok or record.median_ms is None:
        return "failed"
    value = record.median_ms
    text = f"{value:.3f}"
    if record.cov_warning:
        text += "~"
    if record.verify and not record.verify.get("passed"):
        text += "✗"
    if reference is not None:
        text += f" ({reference:.3f}, {value / reference:.2f}x)"
    return text


def _cell_rows(records: list[LatencyRecord], precision: str, batches: list[int], reference: bool):
    """(model, [cell text per batch]) in the page's order, with the page's value when asked."""
    for name, cells in _by_model(records).items():
        variant = VARIANTS.get(name)
        row = []
        for batch in batches:
            ref = variant.page_latency_ms(precision, batch) if (reference and variant) else None
            row.append(_cell(cells.get(batch), ref))
        yield name, row


def group_title(key: GroupKey, records: list[LatencyRecord]) -> str:
    """'FP16 latency (ms): <backend> on <device>, median <metric>'."""
    precision, backend, device = key
    metric = records[0].metric
    return f"{precision_said(precision, records)} latency (ms): {backend} on {device}, median {metric}"


def precision_said(precision: str, records: list[LatencyRecord]) -> str:
    """'FP16', or 'FP16 (ran as FP32 in 2 of 4 cells)', 'FP32 with TF32': what the records really ran."""
    section = SECTION_TITLES.get(precision, precision.upper())
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


def latency_table(key: GroupKey, records: list[LatencyRecord], reference: bool = False) -> Table:
    """One precision/backend/device as the page lays it out: a row per model, a column per batch."""
    precision = key[0]
    # Names and errors come from run files: shown as written, never read as rich markup.
    table = Table(title=escape(group_title(key, records)), box=box.SIMPLE_HEAD)
    table.add_column("Models", no_wrap=True)
    batches = _batches(records)
    for batch in batches:
        table.add_column(f"batch_size={batch} (ms)", justify="right")
    for name, row in _cell_rows(records, precision, batches, reference):
        table.add_row(escape(name), *map(escape, row))
    notes = ["'~': coefficient of variation above 2.5%, the number is unstable"]
    if any(r.verify for r in records):
        notes.append("'✗': the engine failed its output check against Paddle (trtbench run --verify)")
    if reference:
        notes.append("(page's 2020 V100 value, measured / page): the page timed Paddle Inference's "
                     "TensorRT subgraph on a V100 without copies")
    notes += [f"{r.model} batch {r.batch} failed: {r.error}" for r in records if not r.ok]
    table.caption = escape("\n".join(notes))
    return table


def latency_markdown(key: GroupKey, records: list[LatencyRecord], reference: bool = False) -> str:
    """One latency section in the page's exact markdown layout."""
    precision = key[0]
    batches = _batches(records)
    header = "| Models           | " + " | ".join(f"batch_size={b}<br>(ms)" for b in batches) + " |"
    lines = [f"## {group_title(key, records)}", "", header, "|:--:|" + ":--:|" * len(batches)]
    for name, values in _cell_rows(records, precision, batches, reference):
        lines.append(f"| {name:<16} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def latency_tables(records: list[Record], reference: bool = False, by_device: bool = False) -> list[Table]:
    """The latency tables: one per precision/backend/device, or with ``by_device`` the devices side by
    side, one per precision and batch size."""
    if by_device:
        return [device_table(section, reference) for section in device_sections(records)]
    return [latency_table(key, group, reference) for key, group in latency_groups(records)]


def markdown_report(records: list[Record], model_rows: list[dict], reference: bool = False,
                    by_device: bool = False) -> str:
    """The whole page again: the models table, then a latency section per precision/backend/device (with
    ``by_device``: per precision and batch size, the devices side by side)."""
    parts = ["## Accuracy, FLOPS and parameters", "", models_markdown(model_rows), ""]
    if by_device:
        sections = [device_markdown(section, reference) for section in device_sections(records)]
    else:
        sections = [latency_markdown(key, group, reference) for key, group in latency_groups(records)]
    for section in sections:
        parts += [section, ""]
    accuracy = accuracy_records(records)
    if accuracy:
        parts += [accuracy_markdown(accuracy), ""]
    parts.append("Latency cells are medians; '~' marks a coefficient of variation above 2.5%; "
                 "'✗' an engine that failed its output check.")
    return "\n".join(parts)


# --- the devices side by side (report --by device) ------------------------------------------

PAGE_PRECISIONS = ("fp16", "fp32")  # the precisions the page has latency sections for
PAGE_HEADER = "V100 (page)"
PAGE_NOTE = ("V100 (page): the page's 2020 figure, Paddle Inference's TensorRT subgraph on a V100 "
             "without copies")


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
        return f"{SECTION_TITLES.get(self.precision, self.precision.upper())} latency (ms), batch_size={self.batch}"

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
    for precision in _precisions(latency):
        ran = [r for r in latency if r.precision == precision]
        columns = tuple(device_columns(ran))
        sections += [DeviceSection(precision, batch, columns) for batch in _batches(ran)]
    return sections


def _device_headers(section: DeviceSection, between: str = " ") -> list[str]:
    page = [PAGE_HEADER] if section.precision in PAGE_PRECISIONS else []
    return [column.header(between) for column in section.columns] + page


def _device_rows(section: DeviceSection, reference: bool):
    """(model, [cell per column, then the page's V100 value]) for each model timed at the section's batch
    size, in the page's order; a device with no record for the model has an empty cell."""
    cells = [{r.model: r for r in section.records(column)} for column in section.columns]
    for name in sorted({name for column in cells for name in column}, key=model_order_key):
        variant = VARIANTS.get(name)
        page = variant.page_latency_ms(section.precision, section.batch) if variant else None
        row = [_cell(column.get(name), page if reference else None) for column in cells]
        if section.precision in PAGE_PRECISIONS:
            row.append(_fmt(page))
        yield name, row


def _column_notes(section: DeviceSection) -> list[str]:
    """What each column measured: its backend and metric, and the precision that really ran when it differs."""
    notes = []
    for column in section.columns:
        backend = "" if column.names_backend else f"{column.backend}, "
        note = f"{column.header()}: {backend}median {column.records[0].metric}"
        said = precision_said(section.precision, section.records(column))
        if section.records(column) and said != SECTION_TITLES.get(section.precision, section.precision.upper()):
            note += f"; {said}"
        notes.append(note)
    return notes


def _failure_notes(section: DeviceSection) -> list[str]:
    return [f"{r.model} batch {r.batch} on {column.header()} failed: {r.error}"
            for column in section.columns for r in section.records(column) if not r.ok]


def device_table(section: DeviceSection, reference: bool = False) -> Table:
    """The devices side by side at one precision and batch size: a row per model, a column per device and
    the page's V100 value."""
    table = Table(title=escape(section.title), box=box.SIMPLE_HEAD)
    table.add_column("Models", no_wrap=True)
    for header in _device_headers(section, between="\n"):
        # A long device name folds onto more lines rather than losing its end.
        table.add_column(escape(header), justify="right", overflow="fold")
    for name, row in _device_rows(section, reference):
        table.add_row(escape(name), *map(escape, row))
    records = [r for column in section.columns for r in section.records(column)]
    notes = [*_column_notes(section), "'~': coefficient of variation above 2.5%, the number is unstable"]
    if any(r.verify for r in records):
        notes.append("'✗': the engine failed its output check against Paddle (trtbench run --verify)")
    if section.precision in PAGE_PRECISIONS:
        notes.append(PAGE_NOTE)
    table.caption = escape("\n".join(notes + _failure_notes(section)))
    return table


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def device_markdown(section: DeviceSection, reference: bool = False) -> str:
    """The devices side by side at one precision and batch size, as a markdown section with what each
    column measured below it."""
    headers = ["Models", *_device_headers(section)]
    lines = [f"## {section.title}", "", "| " + " | ".join(map(_markdown_cell, headers)) + " |",
             "|" + ":--:|" * len(headers)]
    for name, row in _device_rows(section, reference):
        lines.append("| " + " | ".join(map(_markdown_cell, [name, *row])) + " |")
    notes = _column_notes(section) + ([PAGE_NOTE] if section.precision in PAGE_PRECISIONS else [])
    return "\n".join(lines + [""] + [f"- {note}" for note in notes + _failure_notes(section)])


# --- machine-readable forms -----------------------------------------------------------------

JSON_FIELDS = ("kind", "model", "backend", "device", "precision", "batch", "status", "error", "metric", "latency_ms",
               "cov", "cov_warning", "throughput_qps", "throughput_ips", "iterations", "spans_ms", "build_s",
               "warnings", "method", "verify", "top1", "top5", "images", "skipped", "weights", "run_id",
               "finished_at")
CSV_FIELDS = ("kind", "model", "backend", "device", "precision", "batch", "status", "error", "metric",
              "latency_ms_mean", "latency_ms_median", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
              "latency_ms_min", "latency_ms_max", "latency_ms_stdev", "cov", "throughput_qps", "throughput_ips",
              "iterations", "build_s", "top1", "top5", "images", "run_id", "finished_at")


def _field(record: Record, name: str):
    """A record's field by its JSON name (None where its kind has no such field)."""
    if name == "kind":
        return record.kind
    return getattr(record, name, None)


def json_records(records: list[Record]) -> list[dict]:
    """Records with the fields a script can rely on, in the page's model order."""
    return [{name: _field(record, name) for name in JSON_FIELDS} for record in sort_records(records)]


def csv_text(records: list[Record]) -> str:
    """One CSV row per record."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in sort_records(records):
        row = {name: _field(record, name) for name in CSV_FIELDS}
        for stat, value in (getattr(record, "latency_ms", None) or {}).items():
            if f"latency_ms_{stat}" in CSV_FIELDS:  # a statistic this trtbench does not know has no column
                row[f"latency_ms_{stat}"] = value
        writer.writerow(row)
    return out.getvalue()


def sort_records(records: list[Record]) -> list[Record]:
    """Records in report order: precision, device, backend, page model order, batch."""
    return sorted(records, key=lambda r: (*_report_order(r.precision, r.backend, r.device),
                                          model_order_key(r.model), r.batch))


PLOT_NAME = "latency.png"  # what `--plot FOLDER` writes inside the folder


def plot_formats() -> list[str]:
    """The file extensions matplotlib writes (png, svg, pdf, ...)."""
    import_optional("matplotlib", "matplotlib", "plot")
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def plot_target(name: str) -> Path:
    """The file `--plot NAME` writes: NAME itself, latency.png inside NAME when it is a folder, NAME.png
    when it has no extension. A missing folder, or an extension matplotlib cannot write (one line names
    those it can), is refused before any work."""
    if not name.strip() or "\x00" in name:
        raise TrtbenchError(f"--plot {name!r}: give a file name (e.g. --plot latency.png) or a folder")
    path = Path(name)
    if name.endswith(("/", os.sep)) or path.is_dir():
        path = path / PLOT_NAME
    elif not path.suffix:
        path = path.with_name(path.name + ".png")
    if not path.parent.is_dir():
        raise TrtbenchError(f"--plot {name}: there is no folder {path.parent}")
    formats = plot_formats()
    if path.suffix[1:].lower() not in formats:
        raise TrtbenchError(f"--plot {name}: matplotlib cannot write '{path.suffix}' files; "
                            f"name a file ending in one of: {', '.join('.' + f for f in formats)}")
    return path


PAGE_LABEL = "V100 (page, 2020)"
DEVICE_MARKERS = ("o", "s", "^", "D", "v", "P", "<", ">", "h")  # "x" marks the page's figures


def plot(records: list[Record], path) -> None:
    """Write the plot (``plot_figure``) to ``path``, in the format its extension names."""
    figure = plot_figure(records)
    figure.savefig(path, dpi=100, format=Path(path).suffix[1:].lower() or None)


def plot_figure(records: list[Record]):
    """Median latency and throughput against batch size, a panel each per precision, with the page's V100
    figures dashed; FP16 speed-up over FP32 where both ran. A colour per model, a marker per device."""
    import_optional("matplotlib", "matplotlib", "plot")
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    ok = [r for r in latency_records(records) if r.ok]
    precisions = _precisions(ok)
    columns = device_columns(ok)
    models = _models(ok)
    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    colours = {name: palette(index % palette.N) for index, name in enumerate(models)}
    markers = {column.header(): DEVICE_MARKERS[index % len(DEVICE_MARKERS)] for index, column in enumerate(columns)}
    speedups = _speedups(columns)
    # A panel per name; the legend's name fills the last column's free cells.
    top: list = [f"latency {p}" for p in precisions] + ["speed-up" if speedups else "legend"]
    bottom: list = [f"throughput {p}" for p in precisions] + ["legend"]
    figure = Figure(figsize=(4.5 * len(top), 8), layout="constrained")
    axes = figure.subplot_mosaic([top, bottom])
    page = False
    for precision in precisions:
        latency, throughput = axes[f"latency {precision}"], axes[f"throughput {precision}"]
        _plot_devices(latency, throughput, precision, columns, colours, markers)
        page |= _plot_page(latency, throughput, precision, ok, colours)
        section = SECTION_TITLES.get(precision, precision.upper())
        _batch_axis(latency, f"{section} median latency", "ms")
        _batch_axis(throughput, f"{section} throughput", "images/s")
    if speedups:
        _plot_speedups(axes["speed-up"], speedups, colours, markers)
    _plot_legend(axes["legend"], columns, colours, markers, page)
    return figure


def _models(records: list[LatencyRecord]) -> list[str]:
    return sorted({r.model for r in records}, key=model_order_key)


def _plot_text(text: str) -> str:
    """Text from a run file as matplotlib shows it: '$' is not read as maths, a lone surrogate becomes '?'."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("$", r"\$")


def _plottable(value) -> bool:
    """A positive, finite number: what a log axis can show."""
    try:
        return value is not None and 0 < float(value) < math.inf
    except OverflowError:
        return False


def _line(axis, points: Sequence[tuple[int, float | None]], label: str, colour, marker: str,
          dashed: bool = False) -> bool:
    """Draw the points a log axis can show (True if there were any)."""
    shown = [(x, y) for x, y in points if _plottable(x) and _plottable(y)]
    if shown:
        axis.plot([x for x, _ in shown], [y for _, y in shown], label=_plot_text(label), color=colour, marker=marker,
                  linestyle="--" if dashed else "-")
    return bool(shown)


def _batch_axis(axis, title: str, unit: str, log: bool = True) -> None:
    """Batch sizes on a log scale, a tick at each one drawn; the values on a log scale too unless not ``log``."""
    batches = sorted({float(x) for line in axis.get_lines() for x in line.get_xdata()})
    axis.set(title=_plot_text(title), xlabel="batch size", ylabel=unit)
    axis.set_xscale("log", base=2)
    axis.set_xticks(batches, labels=[f"{b:g}" for b in batches])
    axis.set_xticks([], minor=True)
    if log:
        from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

        axis.set_yscale("log")
        # Ticks at 1, 2 and 5 of each power of ten, written 0.5 and 2000 rather than 5 x 10^-1.
        axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        axis.yaxis.set_minor_formatter(NullFormatter())


def _plot_devices(latency, throughput, precision: str, columns: list[DeviceColumn], colours: dict,
                  markers: dict) -> None:
    """One precision's records: a line per device and model, of median latency and of throughput."""
    for column in columns:
        for name, cells in _by_model([r for r in column.records if r.precision == precision]).items():
            batches = sorted(cells)
            label, colour, marker = f"{column.header()}: {name}", colours[name], markers[column.header()]
            _line(latency, [(b, cells[b].median_ms) for b in batches], label, colour, marker)
            _line(throughput, [(b, cells[b].throughput_ips) for b in batches], label, colour, marker)


def _plot_page(latency, throughput, precision: str, records: list[LatencyRecord], colours: dict) -> bool:
    """The page's V100 figures, dashed, at the batch sizes the records ran (throughput = batch / latency).
    True if the page had any."""
    drawn = False
    for name, cells in _by_model([r for r in records if r.precision == precision]).items():
        variant = VARIANTS.get(name)
        if variant is None:
            continue
        page = [(b, variant.page_latency_ms(precision, b)) for b in sorted(cells)]
        label, colour = f"{PAGE_LABEL}: {name}", colours[name]
        drawn |= _line(latency, page, label, colour, "x", dashed=True)
        _line(throughput, [(b, b * 1000 / ms) for b, ms in page if ms], label, colour, "x", dashed=True)
    return drawn


Speedup = tuple[DeviceColumn, str, list[tuple[int, float | None]]]


def _speedups(columns: list[DeviceColumn]) -> list[Speedup]:
    """(column, model, [(batch, FP32 / FP16 median latency)]) where a device ran both on one backend."""
    speedups = []
    for column in columns:
        fp16 = _by_model([r for r in column.records if r.precision == "fp16"])
        fp32 = _by_model([r for r in column.records if r.precision == "fp32"])
        for name, cells in fp16.items():
            both = sorted(set(cells) & set(fp32.get(name, {})))
            if both:
                speedups.append((column, name, [(b, _speedup(fp32[name][b], cells[b])) for b in both]))
    return speedups


def _speedup(fp32: LatencyRecord, fp16: LatencyRecord) -> float | None:
    """FP32's median latency over FP16's, where both are positive numbers."""
    slow, fast = fp32.median_ms, fp16.median_ms
    return slow / fast if slow and fast and _plottable(slow) and _plottable(fast) else None


def _plot_speedups(axis, speedups: list[Speedup], colours: dict, markers: dict) -> None:
    """FP16 speed-up over FP32, a line per device and model."""
    for column, name, points in speedups:
        _line(axis, points, f"{column.header()}: {name}", colours[name], markers[column.header()])
    _batch_axis(axis, "FP16 speed-up over FP32", "FP32 / FP16 latency", log=False)
    axis.axhline(1.0, color="grey", linewidth=0.8)


def _plot_legend(axis, columns: list[DeviceColumn], colours: dict, markers: dict, page: bool) -> None:
    """The key, in a panel of its own: a marker per device, a colour per model, the page's dashed line."""
    from matplotlib.lines import Line2D

    axis.axis("off")
    handles = [Line2D([], [], color="black", marker=markers[c.header()], label=_plot_text(c.header())) for c in columns]
    handles += [Line2D([], [], color=colour, label=_plot_text(name)) for name, colour in colours.items()]
    if page:
        handles.append(Line2D([], [], color="grey", marker="x", linestyle="--", label=PAGE_LABEL))
    if handles:
        axis.legend(handles=handles, loc="center", fontsize="small", frameon=False)


# --- accuracy (trtbench eval) ---------------------------------------------------------------


def _accuracy_rows(records: list[AccuracyRecord]):
    for record in sorted(records, key=lambda r: (model_order_key(r.model), r.backend,
                                                 PRECISION_ORDER.get(r.precision, 9))):
        variant = VARIANTS.get(record.model)
        yield record, variant


def accuracy_table(records: list[AccuracyRecord]) -> Table:
    """Measured Top-1/Top-5 beside the page's, per model, backend and precision."""
    table = Table(title="Accuracy: the page's Top1/Top5 beside trtbench eval", box=box.SIMPLE_HEAD)
    for header in ("Models", "Top1", "Top5", "backend", "precision", "images", "Top1 ours", "Top5 ours"):
        table.add_column(header, justify="left" if header in ("Models", "backend", "precision") else "right")
    for record, variant in _accuracy_rows(records):
        table.add_row(*map(escape, (record.model, _fmt(variant.top1 if variant else None),
                                    _fmt(variant.top5 if variant else None), f"{record.backend} on {record.device}",
                                    record.precision, str(record.images), _fmt(record.top1), _fmt(record.top5))))
    table.caption = escape("Weights: " + "; ".join(sorted({f"{r.model}: {r.weights or '?'}" for r in records})))
    return table


def accuracy_markdown(records: list[AccuracyRecord]) -> str:
    """The accuracy table in markdown."""
    lines = ["## Accuracy (trtbench eval)", "",
             "| Models | Top1 | Top5 | Backend | Precision | Images | Top1<br>(trtbench) | Top5<br>(trtbench) |",
             "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|"]
    for record, variant in _accuracy_rows(records):
        lines.append(f"| {record.model} | {_fmt(variant.top1 if variant else None)} "
                     f"| {_fmt(variant.top5 if variant else None)} | {record.backend} | {record.precision} "
                     f"| {record.images} | {_fmt(record.top1)} | {_fmt(record.top5)} |")
    return "\n".join(lines)


# --- output checks (trtbench verify) --------------------------------------------------------


def verify_table(rows: list[dict], batch: int) -> Table:
    """Each engine's figures against Paddle's output, and whether it passed."""
    table = Table(title=f"Output check against Paddle ({batch} inputs)", box=box.SIMPLE_HEAD)
    for header in ("Models", "backend", "precision", "max abs err", "max rel err", "min cosine", "top-1 agree",
                   "top-5 agree", "result"):
        table.add_column(header, justify="left" if header in ("Models", "backend", "precision", "result")
                         else "right")
    for row in rows:
        executed = row.get("precision_executed")
        precision = row["precision"] if executed in (None, row["precision"]) else f"{row['precision']} (ran {executed})"
        table.add_row(row["model"], row["backend"], precision, f"{row['max_abs_error']:.2e}",
                      f"{row['max_rel_error']:.2e}",
                      f"{row['min_cosine']:.6f}", f"{row['top1_agree']:.1%}", f"{row['top5_agree']:.1%}",
                      "pass" if row["passed"] else "FAIL: " + "; ".join(row["failed"]))
    return table


# --- regression gate (trtbench compare) -----------------------------------------------------

_RESULT_STYLES = {REGRESSED: "red", FAILED: "red", IMPROVED: "green", FIXED: "green", ONLY_BASE: "dim",
                  ONLY_NEW: "dim"}


def _compare_cells(row: Row, metric: Metric, where: str) -> list[str]:
    """Model, precision (with what really ran where the sides differ), batch, [where], values, change, result."""
    model, backend, device, precision, batch = row.case
    if row.precision_changed:
        precision += f" (ran {row.precision_executed[0]} -> {row.precision_executed[1]})"
    digits = 1 if metric.higher_is_better else 3
    change = "" if row.change_pct is None else f"{row.change_pct:+.1f}%"
    if row.change_pct is None and row.result in (REGRESSED, IMPROVED):
        change = "too large"
    place = {"": [], "backend": [backend], "device": [device], "backend on device": [f"{backend} on {device}"]}
    return [model, precision, str(batch), *place[where], _fmt(row.base_value, digits),
            _fmt(row.new_value, digits), change, row.result]


def _comparison_title(comparison: Comparison, base_name: str, new_name: str) -> tuple[str, str]:
    """The title, naming the backend and the device when every row shares them, and the column that names
    them where the rows differ ('' when none is needed)."""
    metric = comparison.metric
    backends = {row.case[1] for row in comparison.rows}
    devices = {row.case[2] for row in comparison.rows}
    one_backend, one_device = len(backends) == 1, len(devices) == 1
    where = {(True, True): "", (False, True): "backend", (True, False): "device",
             (False, False): "backend on device"}[(one_backend, one_device)]
    shared = " ".join(filter(None, (next(iter(backends)) if one_backend else "",
                                    f"on {next(iter(devices))}" if one_device else "")))
    title = f"{metric.label} ({metric.unit})" + (f", {shared}" if shared else "")
    return f"{title}: NEW {new_name} against BASE {base_name}, threshold {comparison.threshold_pct:g}%", where


def comparison_notes(comparison: Comparison) -> list[str]:
    """Why cases were not compared as numbers: each failure with its error; missing values, counted."""
    failures = [f"{row.label}: {row.why}" for row in comparison.rows if row.result in (FAILED, FIXED, FAILED_BOTH)]
    missing: dict[str, int] = {}
    for row in comparison.rows:
        if row.result == NO_VALUE:
            missing[row.why] = missing.get(row.why, 0) + 1
    return failures + [f"{why} ({count} {'case' if count == 1 else 'cases'})" for why, count in missing.items()]


def comparison_table(comparison: Comparison, base_name: str, new_name: str) -> Table:
    """NEW against BASE, a row per case: regressions in red, improvements in green."""
    metric = comparison.metric
    title, where = _comparison_title(comparison, base_name, new_name)
    table = Table(title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("Models", "precision", "batch", *filter(None, [where]), f"BASE ({metric.unit})",
                   f"NEW ({metric.unit})", "change", "result"):
        table.add_column(header, justify="right" if header in ("batch", "change") or "(" in header else "left",
                         no_wrap=header in ("Models", "precision", "batch", "change", "result"))
    for row in comparison.rows:
        table.add_row(*(escape(cell) for cell in _compare_cells(row, metric, where)),
                      style=_RESULT_STYLES.get(row.result))
    table.caption = escape("\n".join(comparison_notes(comparison)))
    return table


def comparison_markdown(comparison: Comparison, base_name: str, new_name: str) -> str:
    """The comparison as a markdown table, for a pull request or a CI summary."""
    metric = comparison.metric
    title, where = _comparison_title(comparison, base_name, new_name)
    headers = ["Models", "Precision", "Batch", *filter(None, [where.capitalize()]), f"BASE ({metric.unit})",
               f"NEW ({metric.unit})", "Change", "Result"]
    aligns = [":--" if header in ("Models", "Precision", "Result", where.capitalize()) else "--:" for header in headers]
    lines = [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    for row in comparison.rows:
        cells = [cell.replace("|", "\\|") for cell in _compare_cells(row, metric, where)]
        if row.result in (REGRESSED, FAILED):
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    notes = comparison_notes(comparison)
    return "\n".join(lines + ([""] + [f"- {note}" for note in notes] if notes else []))
