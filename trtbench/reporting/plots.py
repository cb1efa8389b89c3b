"""The plot: median latency (with the recorded spread) and throughput against batch size, a row per
precision sized for a paper column, the page's V100 figures dashed, a caption naming what was measured.
matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import trtbench.reporting.support as support
from trtbench.errors import TrtbenchError
from trtbench.lazy import import_optional
from trtbench.models.zoo import VARIANTS, model_order_key
from trtbench.reporting.latency import (
    DeviceColumn,
    by_model,
    device_columns,
    latency_records,
    precisions,
    section_name,
)
from trtbench.store.records import LatencyRecord, Record

PLOT_NAME = "latency.png"  # what `--plot FOLDER` writes inside the folder
PAGE_LABEL = "V100 (page, 2020)"
DEVICE_MARKERS = ("o", "s", "^", "D", "v", "P", "<", ">", "h")  # "x" marks the page's figures
DEFAULT_SIZE = (7.0, 4.5)  # inches per precision: a paper's full column width
SPREAD = "error bars: min to p90 of the timed iterations"
INTERVALS = "error bars: the median's 95% interval where recorded, else min to p90 of the timed iterations"


def plot_formats() -> list[str]:
    """The file extensions matplotlib writes (png, svg, pdf, ...)."""
    import_optional("matplotlib", "matplotlib", "plot")
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def plot_target(name: str) -> Path:
    """The file `--plot NAME` writes: NAME itself, latency.png inside NAME when it is a folder, NAME.png
    when it has no extension. An extension matplotlib cannot write (one line names those it can) is
    refused before any work; missing folders are made now, so a folder that cannot be made is one line
    before any work too."""
    if not name.strip() or "\x00" in name:
        raise TrtbenchError(f"--plot {name!r}: give a file name (e.g. --plot latency.png) or a folder")
    path = Path(name)
    if name.endswith(("/", os.sep)) or path.is_dir():
        path = path / PLOT_NAME
    elif not path.suffix:
        path = path.with_name(path.name + ".png")
    formats = plot_formats()
    if path.suffix[1:].lower() not in formats:
        raise TrtbenchError(f"--plot {name}: matplotlib cannot write '{path.suffix}' files; "
                            f"name a file ending in one of: {', '.join('.' + f for f in formats)}")
    make_folder(path, "--plot")
    return path


def make_folder(path: Path, option: str) -> None:
    """Make the folder ``path`` goes in (and its parents); one line when it cannot be made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtbenchError(f"{option} {path}: cannot make the folder {path.parent} "
                            f"({exc.strerror or type(exc).__name__})") from None


def parse_size(text: str) -> tuple[float, float]:
    """'7,4.5' or '7x4.5' as (width, height) in inches, each from 1 to 50."""
    parts = text.replace("x", ",").split(",")
    try:
        width, height = (float(part) for part in parts)
    except ValueError:
        width = height = math.nan
    if not (1 <= width <= 50 and 1 <= height <= 50):  # also refuses NaN
        raise TrtbenchError(f"bad --plot-size '{text}': give width and height in inches, e.g. 7,4.5")
    return width, height


def plot(records: list[Record], path, size: tuple[float, float] = DEFAULT_SIZE) -> None:
    """Write the plot (``plot_figure``) to ``path``, in the format its extension names, making its folder;
    SVG text stays text (editable)."""
    save(plot_figure(records, size), path)


def save(figure, path) -> None:
    """Write a matplotlib figure to ``path``, in the format its extension names, making its folder."""
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(path, dpi=150, format=path.suffix[1:].lower() or None)


def svg_text(records: list[Record], size: tuple[float, float] = DEFAULT_SIZE) -> str:
    """The plot as an SVG element (no XML prolog), its text kept as text: for an HTML page."""
    import io

    figure = plot_figure(records, size)  # first: it says which extra a missing matplotlib comes with
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def caption(records: list[Record]) -> str:
    """What the plot shows and how it was measured: devices, threads, dates, the error bars."""
    latency = [r for r in latency_records(records) if r.ok]
    devices = sorted({r.device for r in latency})
    threads = sorted({str(r.method.get("threads")) for r in latency
                      if isinstance(r.method, dict) and r.method.get("threads") is not None})
    dates = sorted({r.finished_at[:10] for r in latency if isinstance(r.finished_at, str) and r.finished_at})
    parts = [f"{'Device' if len(devices) == 1 else 'Devices'}: {', '.join(devices) or 'none'}"]
    if threads:
        parts.append(f"{'/'.join(threads)} CPU threads")
    if dates:
        parts.append(f"measured {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else ""))
    parts.append(INTERVALS if any(support.interval(r, "median") is not None for r in latency) else SPREAD)
    return "; ".join(parts)


def plot_figure(records: list[Record], size: tuple[float, float] = DEFAULT_SIZE):
    """Median latency (error bars: the recorded spread) and throughput against batch size, a row per
    precision, the page's V100 figures dashed; FP16 speed-up over FP32 where both ran. A colour per model,
    a marker per device; one legend and a caption below."""
    import_optional("matplotlib", "matplotlib", "plot")
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    ok = [r for r in latency_records(records) if r.ok]
    ran = precisions(ok)
    columns = device_columns(ok)
    models = sorted({r.model for r in ok}, key=model_order_key)
    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    colours = {name: palette(index % palette.N) for index, name in enumerate(models)}
    markers = {column.header(): DEVICE_MARKERS[index % len(DEVICE_MARKERS)] for index, column in enumerate(columns)}
    speedups = _speedups(columns)
    width, height = size
    rows: list = [[f"latency {p}", f"throughput {p}"] for p in ran]
    rows.append(["speed-up", "legend"] if speedups else ["legend", "legend"])
    last = height if speedups else height * 0.6
    figure = Figure(figsize=(width, height * len(ran) + last), layout="constrained")
    axes = figure.subplot_mosaic(rows, height_ratios=[height] * len(ran) + [last])
    page = False
    for precision in ran:
        latency, throughput = axes[f"latency {precision}"], axes[f"throughput {precision}"]
        _plot_devices(latency, throughput, precision, columns, colours, markers)
        page |= _plot_page(latency, throughput, precision, ok, colours)
        section = section_name(precision)
        _batch_axis(latency, f"{section} median latency", "ms")
        _batch_axis(throughput, f"{section} throughput", "images/s")
    if speedups:
        _plot_speedups(axes["speed-up"], speedups, colours, markers)
    _plot_legend(axes["legend"], columns, colours, markers, page)
    figure.supxlabel(_plot_text("\n".join(textwrap.wrap(caption(records), int(width * 14)))), fontsize="small")
    return figure


def _plot_text(text: str) -> str:
    """Text from a run file as matplotlib shows it: '$' is not read as maths, a lone surrogate becomes '?',
    a control character is shown as Python writes it (an SVG may be shown inline on a page or a terminal)."""
    from trtbench.reporting.escape import shown

    return shown(text.encode("utf-8", "replace").decode("utf-8"), "plain").replace("$", r"\$")


def _plottable(value) -> bool:
    """A positive, finite number: what a log axis can show."""
    try:
        return value is not None and 0 < float(value) < math.inf
    except (OverflowError, TypeError, ValueError):
        return False


def _line(axis, points: Sequence[tuple[int, float | None]], label: str, colour, marker: str,
          dashed: bool = False) -> bool:
    """Draw the points a log axis can show (True if there were any)."""
    shown = [(x, y) for x, y in points if _plottable(x) and _plottable(y)]
    if shown:
        axis.plot([x for x, _ in shown], [y for _, y in shown], label=_plot_text(label), color=colour, marker=marker,
                  linestyle="--" if dashed else "-", markersize=4)
    return bool(shown)


def _spread(axis, cells: dict[int, LatencyRecord], colour) -> None:
    """Error bars: the median's 95% interval where the record has one, else the record's own spread (down to
    its fastest iteration, up to its p90)."""
    bars = []
    for batch in sorted(cells):
        if support.unsupported(cells[batch], "median"):
            continue
        stats = cells[batch].latency_ms or {}
        median, low, high = stats.get("median"), stats.get("min"), stats.get("p90")
        pair = support.interval(cells[batch], "median")
        if pair is not None:
            low, high = pair
        if all(_plottable(v) for v in (batch, median, low, high)):
            median, low, high = float(median), float(low), float(high)  # type: ignore[arg-type]
            if low <= median <= high:
                bars.append((batch, median, median - low, high - median))
    if bars:
        axis.errorbar([b[0] for b in bars], [b[1] for b in bars], yerr=[[b[2] for b in bars], [b[3] for b in bars]],
                      fmt="none", ecolor=colour, elinewidth=0.8, capsize=0)


def _batch_axis(axis, title: str, unit: str, log: bool = True) -> None:
    """Batch sizes on a log scale, a tick labelled at each one; the values on a log scale too unless not ``log``."""
    batches = sorted({float(x) for line in axis.get_lines() for x in line.get_xdata()})
    axis.set(title=_plot_text(title), xlabel="batch size", ylabel=unit)
    axis.set_xscale("log", base=2)
    axis.set_xticks(batches, labels=[f"{b:g}" for b in batches])
    axis.set_xticks([], minor=True)
    axis.grid(True, which="major", linewidth=0.3)
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
        for name, cells in by_model([r for r in column.records if r.precision == precision]).items():
            batches = sorted(cells)
            label, colour, marker = f"{column.header()}: {name}", colours[name], markers[column.header()]
            _line(latency, [(b, _median(cells[b])) for b in batches], label, colour, marker)
            _spread(latency, cells, colour)
            _line(throughput, [(b, cells[b].throughput_ips) for b in batches], label, colour, marker)


def _median(record: LatencyRecord) -> float | None:
    """The median where its samples support it (a plot never shows a number a table would not)."""
    return None if support.unsupported(record, "median") else record.median_ms


def _plot_page(latency, throughput, precision: str, records: list[LatencyRecord], colours: dict) -> bool:
    """The page's V100 figures, dashed, at the batch sizes the records ran (throughput = batch / latency).
    True if the page had any."""
    drawn = False
    for name, cells in by_model([r for r in records if r.precision == precision]).items():
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
        fp16 = by_model([r for r in column.records if r.precision == "fp16"])
        fp32 = by_model([r for r in column.records if r.precision == "fp32"])
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
        axis.legend(handles=handles, loc="center", fontsize="small", frameon=False,
                    ncols=2 if len(handles) > 6 else 1)
