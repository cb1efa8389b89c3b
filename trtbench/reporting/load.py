"""Cases timed under load (`run --scenario offline|server`): their tables, and the throughput-versus-latency
curve each (engine, precision) traced over its sweep of requests in flight or of arrival rates.

Offline is the most images/s an engine served with every request available at once, beside its best
single-stream figure; server is the latency of requests arriving as a Poisson process (queueing included),
and with a bound the highest rate that held it. The page's latency tables stay single-stream."""

from __future__ import annotations

from collections.abc import Sequence

import trtbench.reporting.support as support
from trtbench.reporting.latency import latency_records, load_records, sort_records
from trtbench.reporting.model import Cell, Column, Table
from trtbench.store.records import LatencyRecord, Record

OFFLINE = "offline"
SERVER = "server"


def scenario_name(record: LatencyRecord) -> str:
    """'offline' or 'server' (the scenario without its parameters)."""
    return record.scenario.split(" ", 1)[0]


def load_tables(records: Sequence[Record]) -> list[Table]:
    """An offline table and a server table, for the load records there are."""
    loaded = _loaded(records)
    tables = []
    offline = [record for record in loaded if scenario_name(record) == OFFLINE]
    server = [record for record in loaded if scenario_name(record) == SERVER]
    if offline:
        tables.append(offline_table(offline, latency_records(list(records))))
    if server:
        tables.append(server_table(server))
    return tables


def offline_table(records: list[LatencyRecord], single: list[LatencyRecord]) -> Table:
    """A row per offline case: the most images/s, the configuration that reached it, its per-request latency,
    and the best single-stream images/s of the same engine and precision (any batch) with the ratio."""
    table = Table("load", "Offline: the most images/s with every request available at once", [
        Column("Models", numeric=False, no_wrap=True), Column("precision", numeric=False), Column("batch"),
        Column("backend on device", numeric=False), Column("images/s"), Column("requests in flight"),
        Column("streams"), Column("threads per stream"), Column("p50 per request\n(ms)"),
        Column("p99 per request\n(ms)"), Column("best single-stream\n(images/s)"),
        Column("offline /\nsingle-stream")])
    best: dict[tuple, LatencyRecord] = {}
    for record in single:
        key = (record.model, record.backend, record.device, record.precision)
        if record.ok and record.throughput_ips and (key not in best or record.throughput_ips >
                                                    (best[key].throughput_ips or 0)):
            best[key] = record
    for record in records:
        load = record.load if isinstance(record.load, dict) else {}
        alone = best.get((record.model, record.backend, record.device, record.precision))
        alone_ips = alone.throughput_ips if alone is not None else None
        ips = record.throughput_ips if record.ok else None
        table.add(record.model, record.precision, Cell(str(record.batch), record.batch),
                  f"{record.backend} on {record.device}", _number(ips, 1), _number(load.get("concurrency"), 0),
                  _number(load.get("streams"), 0), _number(load.get("threads_per_stream"), 0),
                  _percentile(record, "p50"), _percentile(record, "p99"),
                  _number(alone_ips, 1) if alone_ips else Cell("", state="empty"),
                  Cell(f"{ips / alone_ips:.2f}x", ips / alone_ips) if ips and alone_ips else Cell("", state="empty"))
        if not record.ok:
            table.failures.append(f"{record.label()} on {record.backend}, offline: {record.error}")
    hows = dict.fromkeys(f"{record.backend}: {record.load['how']}" for record in records
                         if isinstance(record.load, dict) and isinstance(record.load.get("how"), str))
    table.notes = ["images/s: images served over the measured time, every request in flight kept busy; the "
                   "best of the sweep of requests in flight (each point in the record's load.sweep)",
                   "best single-stream: the most images/s a single-stream record of the same engine and precision "
                   "reached, at any batch", *hows]
    return table


def server_table(records: list[LatencyRecord]) -> Table:
    """A row per server case: the arrival rate (or the highest that held the bound), the per-request latency
    percentiles with queueing, and whether the bound held."""
    table = Table("load", "Server: requests arriving at random (Poisson) at a rate, latency with queueing", [
        Column("Models", numeric=False, no_wrap=True), Column("precision", numeric=False), Column("batch"),
        Column("backend on device", numeric=False), Column("scenario", numeric=False),
        Column("rate\n(queries/s)"), Column("images/s"), Column("requests in flight"),
        Column("p50\n(ms)"), Column("p90\n(ms)"), Column("p99\n(ms)"), Column("bound held", numeric=False)])
    for record in records:
        load = record.load if isinstance(record.load, dict) else {}
        rate = load.get("peak_qps", load.get("rate_qps"))
        held = load.get("held")
        table.add(record.model, record.precision, Cell(str(record.batch), record.batch),
                  f"{record.backend} on {record.device}", record.scenario, _number(rate, 1),
                  _number(record.throughput_ips if record.ok else None, 1), _number(load.get("concurrency"), 0),
                  _percentile(record, "p50"), _percentile(record, "p90"), _percentile(record, "p99"),
                  "yes" if held is True else "no" if held is False else "")
        if not record.ok:
            table.failures.append(f"{record.label()} on {record.backend}, {record.scenario}: {record.error}")
    table.notes = ["rate: the arrival rate asked for, or with a bound the highest rate whose percentile held it "
                   "(found by bisection, each probe in the record's load.sweep); a percentile is judged only on "
                   "the samples it needs"]
    return table


def curves(records: Sequence[Record]) -> list[dict]:
    """The throughput-versus-latency curve of each load record with a sweep: {"label", "bound_ms", "percentile",
    "points": [(images/s, latency ms, held or None, what the point is: 'n=4' or '40 qps')]}, the points in the
    order of what was varied, the latency the highest percentile every point has the samples for."""
    found = []
    for record in _loaded(records):
        load = record.load if isinstance(record.load, dict) else {}
        sweep = load.get("sweep")
        if not isinstance(sweep, list):
            continue
        asked = load.get("percentile") if isinstance(load.get("percentile"), str) else "p99"
        swept = [point for point in sweep if isinstance(point, dict) and _positive(point.get("images_per_s"))]
        # in the order of what was varied: requests in flight (offline), the arrival rate (server)
        swept.sort(key=lambda point: _order(point.get("rate_qps", point.get("concurrency"))))
        # the highest percentile every point has the samples for (a short offline point may lack a p99's)
        percentile = next((name for name in (asked, "p90", "p50")
                           if swept and all(_positive(point.get(f"{name}_ms")) for point in swept)), asked)
        points = []
        for point in swept:
            ms = point.get(f"{percentile}_ms")
            if not _positive(ms):
                continue
            what = f"n={point['concurrency']}" if "concurrency" in point and "rate_qps" not in point else \
                f"{point.get('rate_qps', 0):.0f} qps"
            held = point.get("held") if isinstance(point.get("held"), bool) else None
            points.append((point["images_per_s"], ms, held, what))
        if points:
            bound = load.get("latency_bound_ms")
            found.append({"label": f"{record.model} {record.precision} batch {record.batch}, {record.backend}, "
                                   f"{scenario_name(record)} ({percentile})", "percentile": percentile,
                          "points": points,
                          "bound_ms": bound if _positive(bound) else None})
    return found


def curve_figure(records: Sequence[Record], size: tuple[float, float] = (7.0, 4.5)):
    """The curves as one matplotlib figure: images/s across, the percentile's latency up, a line per curve, the
    latency bound dashed; None where no record has a sweep."""
    from trtbench.lazy import import_optional

    found = curves(records)
    if not found:
        return None
    import_optional("matplotlib", "matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    bounds = set()
    for curve in found:
        points = curve["points"]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        line, = axes.plot(xs, ys, marker="o", label=curve["label"])
        for x, y, held, what in points:
            axes.annotate(what, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                          color="#b00020" if held is False else line.get_color())
        if curve["bound_ms"]:
            bounds.add(curve["bound_ms"])
    for bound in sorted(bounds):
        axes.axhline(bound, linestyle="--", color="#555", linewidth=1)
        axes.annotate(f"bound {bound:g} ms", (0, bound), xycoords=("axes fraction", "data"), xytext=(4, 3),
                      textcoords="offset points", fontsize=7, color="#555")
    percentiles = sorted({curve["percentile"] for curve in found})
    axes.set_xlabel("images/s served")
    axes.set_ylabel(f"{'/'.join(percentiles)} latency per request (ms)")
    axes.set_ylim(bottom=0)
    axes.set_xlim(left=0)
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=7)
    return figure


def curve_svg(records: Sequence[Record], size: tuple[float, float] = (7.0, 4.5)) -> str | None:
    """The curves as an SVG element for the HTML page (None where there are none)."""
    import io

    figure = curve_figure(records, size)
    if figure is None:
        return None
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def _loaded(records: Sequence[Record]) -> list[LatencyRecord]:
    """The load records in the page's order."""
    return sort_records(load_records(list(records)))


def _order(value) -> float:
    return float(value) if _positive(value) else 0.0


def _percentile(record: LatencyRecord, name: str) -> Cell:
    """A per-request percentile, or what it needs where its samples do not support it."""
    if not record.ok:
        return Cell("", state="empty")
    short = support.unsupported(record, name)
    if short:
        return Cell(short, state="empty")
    value = (record.latency_ms or {}).get("median" if name == "p50" else name)
    return _number(value, 3)


def _number(value, digits: int) -> Cell:
    if not _positive(value) and value != 0:
        return Cell("", state="empty")
    return Cell(f"{value:.{digits}f}", float(value))


def _positive(value) -> bool:
    import math

    return type(value) in (int, float) and math.isfinite(value) and value > 0
