"""The report's other tables: the page's models table, accuracy (eval), output checks (verify), the
comparison of two runs (compare), and every registered per-case figure."""

from __future__ import annotations

from collections.abc import Sequence

import trtbench.reporting.support as support
from trtbench.models.figures import FLOPS_CONVENTION, MISMATCH
from trtbench.models.zoo import VARIANTS, model_order_key
from trtbench.reporting.compare import (
    FAILED,
    FAILED_BOTH,
    FIXED,
    IMPROVED,
    NO_VALUE,
    ONLY_BASE,
    ONLY_NEW,
    REGRESSED,
    WITHIN_NOISE,
    Comparison,
    Row,
)
from trtbench.reporting.latency import PRECISION_ORDER, sort_records
from trtbench.reporting.model import Cell, Column, Table
from trtbench.store.records import METRICS, SINGLE_STREAM, AccuracyRecord, LatencyRecord, Metric, Record


def _fmt(value, digits=3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _number(value, digits=3, mark: str = "") -> Cell:
    return Cell(_fmt(value, digits) + mark, value, "empty" if value is None else "")


def models_table(rows: list[dict]) -> Table:
    """The page's accuracy/FLOPS/parameters table with trtbench's own counts beside the page's."""
    caption = (f"{FLOPS_CONVENTION}. 'ours': counted by trtbench, the rest is the page's; "
               f"'!' marks a count more than {MISMATCH:.0%} from the page's.")
    columns = [Column("Models", numeric=False, no_wrap=True)] + [
        Column(header, terminal=terminal, no_wrap=True) for header, terminal in (
            ("Top1", None), ("Top5", None), ("Reference\ntop1", "Ref\ntop1"), ("Reference\ntop5", "Ref\ntop5"),
            ("FLOPS\n(G)", "FLOPS\n(G)"), ("Parameters\n(M)", "Params\n(M)"),
            ("FLOPS\n(G, trtbench)", "FLOPS\n(G) ours"), ("Parameters\n(M, trtbench)", "Params\n(M) ours"))]
    table = Table("models", "ResNet and Vd: accuracy, FLOPS and parameters", columns,
                  heading="Accuracy, FLOPS and parameters")
    table.notes = [caption, *(f"{row['name']}: {row['note']}" for row in rows if row["note"])]
    for row in rows:
        table.add(row["name"], _number(row["top1"]), _number(row["top5"]), _number(row["ref_top1"]),
                  _number(row["ref_top5"]), _number(row["ref_flops_g"]), _number(row["ref_params_m"]),
                  _number(row["flops_g"], mark=" !" if row["flops_disagree"] else ""),
                  _number(row["params_m"], mark=" !" if row["params_disagree"] else ""))
    return table


def accuracy_table(records: list[AccuracyRecord]) -> Table:
    """Measured Top-1/Top-5 beside the page's, per model, backend and precision."""
    table = Table("accuracy", "Accuracy: the page's Top1/Top5 beside trtbench eval", [
        Column("Models", numeric=False), Column("Top1"), Column("Top5"),
        Column("Backend", numeric=False, terminal="backend"),
        Column("Device", numeric=False, terminal="device", formats=("terminal", "html")),
        Column("Precision", numeric=False, terminal="precision"), Column("Images", terminal="images"),
        Column("Top1\n(trtbench)", terminal="Top1 ours"), Column("Top5\n(trtbench)", terminal="Top5 ours")],
        heading="Accuracy (trtbench eval)")
    for record in sorted(records, key=lambda r: (model_order_key(r.model), r.backend,
                                                 PRECISION_ORDER.get(r.precision, 9))):
        variant = VARIANTS.get(record.model)
        table.add(record.model, _number(variant.top1 if variant else None),
                  _number(variant.top5 if variant else None), record.backend, record.device, record.precision,
                  Cell(str(record.images), record.images), _number(record.top1), _number(record.top5))
    table.notes = ["Weights: " + "; ".join(sorted({f"{r.model}: {r.weights or '?'}" for r in records}))]
    return table


def verify_table(rows: list[dict], batch: int) -> Table:
    """Each engine's figures against Paddle's output, and whether it passed."""
    table = Table("verify", f"Output check against Paddle ({batch} inputs)", [
        Column("Models", numeric=False), Column("backend", numeric=False), Column("precision", numeric=False),
        Column("max abs err"), Column("max rel err"), Column("min cosine"), Column("min centred cosine"),
        Column("top-1 agree"), Column("top-5 agree"), Column("result", numeric=False)])
    for row in rows:
        executed = row.get("precision_executed")
        precision = row["precision"] if executed in (None, row["precision"]) else f"{row['precision']} (ran {executed})"
        table.add(row["model"], row["backend"], precision,
                  Cell(f"{row['max_abs_error']:.2e}", row["max_abs_error"]),
                  Cell(f"{row['max_rel_error']:.2e}", row["max_rel_error"]),
                  Cell(f"{row['min_cosine']:.6f}", row["min_cosine"]),
                  # None where the inputs do not differ: nothing to follow (trtbench.checks.verify.centred_cosines)
                  Cell("n/a (one input)" if row.get("min_centred_cosine") is None
                       else f"{row['min_centred_cosine']:.4f}" + ("" if row.get("centred_judged", True)
                                                                  else " (not judged)"),
                       row.get("min_centred_cosine")),
                  Cell(f"{row['top1_agree']:.1%}", row["top1_agree"]),
                  Cell(f"{row['top5_agree']:.1%}", row["top5_agree"]),
                  Cell("pass" if row["passed"] else "FAIL: " + "; ".join(row["failed"]),
                       state="" if row["passed"] else "failed"),
                  mood="" if row["passed"] else "worse")
    return table


def figures_table(records: Sequence[Record]) -> Table:
    """Every registered per-case figure a record holds: a row per case, a column per metric."""
    ok = [r for r in sort_records(list(records)) if isinstance(r, LatencyRecord) and r.ok]
    metrics = [m for m in METRICS.values() if any(m.value(r) is not None for r in ok)]
    table = Table("figures", "Every per-case figure", [
        Column("Models", numeric=False, no_wrap=True), Column("precision", numeric=False),
        Column("batch"), Column("backend on device", numeric=False),
        *(Column(f"{m.label}\n({m.unit}, {m.direction})", terminal=f"{m.name} ({m.unit})") for m in metrics)])
    table.notes = [f"{m.name}: {m.label} ({m.unit}), {m.direction}" for m in metrics]
    for record in ok:
        table.add(record.model, record.precision, Cell(str(record.batch), record.batch), where(record),
                  *(_metric_cell(m, record) for m in metrics))
    return table


def where(record: LatencyRecord) -> str:
    """'backend on device', and the load scenario where it is not one inference at a time."""
    under = f", {record.scenario}" if record.scenario != SINGLE_STREAM else ""
    return f"{record.backend} on {record.device}{under}"


def _metric_cell(metric: Metric, record: LatencyRecord) -> Cell:
    value = metric.value(record)
    return Cell(metric.text(value), value, "empty" if value is None else "")


# --- regression gate (trtbench compare) -----------------------------------------------------

_MOODS = {REGRESSED: "worse", FAILED: "worse", IMPROVED: "better", FIXED: "better", ONLY_BASE: "aside",
          ONLY_NEW: "aside"}


def _where(comparison: Comparison) -> tuple[str, str]:
    """The column that names backend and device where the rows differ ('' when none is needed), and
    what every row shares ('tensorrt on GPU A')."""
    backends = {row.case[1] for row in comparison.rows}
    devices = {row.case[2] for row in comparison.rows}
    one_backend, one_device = len(backends) == 1, len(devices) == 1
    where = {(True, True): "", (False, True): "backend", (True, False): "device",
             (False, False): "backend on device"}[(one_backend, one_device)]
    shared = " ".join(filter(None, (next(iter(backends)) if one_backend else "",
                                    f"on {next(iter(devices))}" if one_device else "")))
    return where, shared


def comparison_notes(comparison: Comparison) -> list[str]:
    """Why cases were not compared as numbers: each failure with its error; missing values, counted."""
    failures = [f"{row.label}: {row.why}" for row in comparison.rows if row.result in (FAILED, FIXED, FAILED_BOTH)]
    missing: dict[str, int] = {}
    for row in comparison.rows:
        if row.result == NO_VALUE:
            missing[row.why] = missing.get(row.why, 0) + 1
    return failures + [f"{why} ({count} {'case' if count == 1 else 'cases'})" for why, count in missing.items()]


def _compare_cells(row: Row, metric: Metric, where: str) -> list[Cell | str]:
    """Model, precision (with what really ran where the sides differ), batch, [where], values, change, result."""
    model, backend, device, precision, batch, scenario = row.case
    if scenario != SINGLE_STREAM:
        model += f" ({scenario})"
    if row.precision_changed:
        precision += f" (ran {row.precision_executed[0]} -> {row.precision_executed[1]})"
    change = "" if row.change_pct is None else f"{row.change_pct:+.1f}%"
    if row.change_pct is None and row.result in (REGRESSED, IMPROVED):
        change = "too large"
    place = {"": [], "backend": [backend], "device": [device], "backend on device": [f"{backend} on {device}"]}
    noise = row.result == WITHIN_NOISE
    return [model, precision, Cell(str(batch), batch), *place[where],
            _value_cell(row.base_value, row.base_interval if noise else None, metric),
            _value_cell(row.new_value, row.new_interval if noise else None, metric), Cell(change, row.change_pct),
            Cell(row.shown_result, state=row.result)]


def _value_cell(value: float | None, interval: tuple[float, float] | None, metric: Metric) -> Cell:
    """A side's value, with '± h' (half its 95% interval) where one is given."""
    cell = _number(value, metric.digits)
    if interval is None or value is None:
        return cell
    return Cell(f"{cell.text} ± {support.half_width(interval):.{metric.digits}f}", value)


def comparison_table(comparison: Comparison, base_name: str, new_name: str, rows: list[Row] | None = None) -> Table:
    """NEW against BASE, a row per case (or per case of ``rows``, a terminal's share of them; the title and
    notes still speak of every case); each row's mood says whether it got worse or better."""
    metric = comparison.metric
    where, shared = _where(comparison)
    title = f"{metric.label} ({metric.unit})" + (f", {shared}" if shared else "")
    title += f": NEW {new_name} against BASE {base_name}, threshold {comparison.threshold_pct:g}%"
    columns = [Column("Models", numeric=False, no_wrap=True),
               Column("Precision", numeric=False, terminal="precision", no_wrap=True),
               Column("Batch", terminal="batch", no_wrap=True),
               *([Column(where.capitalize(), numeric=False, terminal=where)] if where else []),
               Column(f"BASE ({metric.unit})", terminal=f"BASE\n({metric.unit})"),
               Column(f"NEW ({metric.unit})", terminal=f"NEW\n({metric.unit})"),
               Column("Change", terminal="change", no_wrap=True),
               Column("Result", numeric=False, terminal="result", no_wrap=True)]
    table = Table("comparison", title, columns, notes=comparison_notes(comparison))
    for row in comparison.rows if rows is None else rows:
        table.add(*_compare_cells(row, metric, where), mood=_MOODS.get(row.result, ""))
    return table
