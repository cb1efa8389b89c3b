"""The machine-readable forms of a report: JSON (the runs and every field of every record) and CSV (a
row per record, a column per scalar field, per registered metric and per timing setting)."""

from __future__ import annotations

import dataclasses

import trtbench.reporting.support as support
from trtbench.reporting.escape import shown
from trtbench.reporting.latency import sort_records
from trtbench.reporting.model import RunInfo
from trtbench.reporting.pick import Picked
from trtbench.store.records import METRICS, AccuracyRecord, LatencyRecord, Record

#: the columns every CSV starts with, in this order (what earlier versions wrote); the others follow
CSV_FIRST = ("kind", "model", "backend", "device", "precision", "batch", "status", "error", "metric",
             "latency_ms_mean", "latency_ms_median", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
             "latency_ms_min", "latency_ms_max", "latency_ms_stdev", "cov", "throughput_qps", "throughput_ips",
             "iterations", "build_s", "top1", "top5", "images", "run_id", "finished_at")
_SCALARS = (str, int, float, bool, type(None))


def metric_values(record: Record) -> dict[str, float]:
    """The record's figure for every registered metric it has one for, by metric name (a percentile its
    samples do not support has none)."""
    if not isinstance(record, LatencyRecord):
        return {}
    values = {name: metric.value(record) for name, metric in METRICS.items()}
    return {name: value for name, value in values.items()
            if value is not None and not (name in support.PERCENTILES and support.unsupported(record, name))}


def unsupported(record: LatencyRecord) -> dict[str, str]:
    """Each percentile the record's samples do not support, and what it needs: {"p99": "needs 662 (has 40)"}."""
    said = {name: support.unsupported(record, name) for name in support.PERCENTILES}
    return {name: text for name, text in said.items() if text}


def intervals(record: LatencyRecord) -> dict[str, list[float] | None]:
    """Each percentile's interval, [low, high] in ms, or None where the record has none."""
    pairs = {name: support.interval(record, name) for name in support.PERCENTILES}
    return {name: list(pair) if pair is not None else None for name, pair in pairs.items()}


def run_json(run: RunInfo) -> dict:
    """A run as ``report --json`` lists it: id, command, times, status and the machine it measured."""
    return {"run_id": run.run_id, "command": run.command, "started_at": run.started_at,
            "finished_at": run.finished_at, "status": run.status, "environment": run.environment}


def record_json(record: Record, runs: dict[str, RunInfo], picked_from: int = 1) -> dict:
    """Every field the record has, its run id, its registered metrics, and its own environment where it
    is not its run's (a record measured on another node of a cluster); for a latency record, the percentiles
    its samples do not support (their latency_ms entries null), each percentile's interval, and how many
    records its cell was picked from."""
    data = {**record.to_json(), "run_id": record.run_id, "metrics": metric_values(record)}
    if isinstance(record, LatencyRecord):
        short = unsupported(record)
        stats = record.latency_ms
        if short and isinstance(stats, dict):
            data["latency_ms"] = {key: None if key in short else value for key, value in stats.items()}
        data.update(unsupported=short, intervals_ms=intervals(record), picked_from=picked_from)
    run = runs.get(record.run_id or "")
    if record.environment and (run is None or record.environment != run.environment):
        data["environment"] = record.environment
    return data


def json_report(records: list[Record], runs: list[RunInfo] | None = None, picked: Picked | None = None) -> dict:
    """``{"runs": [...], "records": [...]}``: the runs the records come from and the records, in the page's
    model order (with ``picked``: "pick", how each cell's record was chosen)."""
    runs = runs if runs is not None else _runs_of(records)
    by_id = {run.run_id: run for run in runs}
    chosen = picked.picked_from if picked is not None else lambda record: 1
    return {"runs": [run_json(run) for run in runs], **({"pick": picked.how} if picked is not None else {}),
            "records": [record_json(record, by_id, chosen(record)) for record in sort_records(records)]}


def _runs_of(records: list[Record]) -> list[RunInfo]:
    runs: dict[str, RunInfo] = {}
    for record in records:
        if record.run_id is not None and record.run_id not in runs:
            runs[record.run_id] = RunInfo(record.run_id, environment=record.environment)
    return list(runs.values())


def _scalar_fields() -> list[str]:
    """Every scalar field a latency or accuracy record saves, in declaration order."""
    names: dict[str, None] = {}
    for cls in (LatencyRecord, AccuracyRecord):
        for f in dataclasses.fields(cls):
            if f.metadata.get("saved", True) and f.type in ("str", "int", "float", "bool", "str | None",
                                                            "int | None", "float | None", "bool | None"):
                names[f.name] = None
    return list(names)


def _csv_row(record: Record, picked_from: int) -> dict:
    row: dict = {"kind": record.kind, "run_id": record.run_id, "picked_from": picked_from}
    for name in _scalar_fields():
        value = getattr(record, name, None)
        row[name] = value if isinstance(value, _SCALARS) else None
    row["warnings"] = "; ".join(record.warnings) if isinstance(record.warnings, list) else None
    if isinstance(record, LatencyRecord):
        stdev = (record.latency_ms or {}).get("stdev") if isinstance(record.latency_ms, dict) else None
        row["latency_ms_stdev"] = stdev if isinstance(stdev, _SCALARS) else None
        short = unsupported(record)
        for name, metric in METRICS.items():
            row[metric.column or name] = None if name in short else metric.value(record)
        for name in support.PERCENTILES:
            pair = support.interval(record, name)
            row[f"{name}_interval_low_ms"], row[f"{name}_interval_high_ms"] = pair or (None, None)
            row[f"{name}_support"] = short.get(name, "")
        row["unstable"] = support.unstable(record)
        for key, value in (record.method.items() if isinstance(record.method, dict) else ()):
            if isinstance(value, _SCALARS):
                row[f"method.{key}"] = value
    return row


def csv_text(records: list[Record], picked: Picked | None = None) -> str:
    """One CSV row per record: every scalar field, each registered metric (empty where its samples do not
    support a percentile, with a column saying what it needs), each percentile's interval, how many records
    its cell was picked from, each scalar timing setting."""
    import csv
    import io

    chosen = picked.picked_from if picked is not None else lambda record: 1
    rows = [_csv_row(record, chosen(record)) for record in sort_records(records)]
    columns = dict.fromkeys(CSV_FIRST)
    for row in rows:
        columns.update(dict.fromkeys(name for name in row if not name.startswith("method.")))
    columns.update(dict.fromkeys(sorted({name for row in rows for name in row if name.startswith("method.")})))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # a CSV is read on terminals too: text from a run file carries no terminal codes into it
        writer.writerow({key: shown(value, "csv") if isinstance(value, str) else value for key, value in row.items()})
    return out.getvalue()
