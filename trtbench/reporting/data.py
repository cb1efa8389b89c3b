"""The machine-readable forms of a report: JSON (the runs and every field of every record) and CSV (a
row per record, a column per scalar field, per registered metric and per timing setting)."""

from __future__ import annotations

import dataclasses

from trtbench.reporting.escape import shown
from trtbench.reporting.latency import sort_records
from trtbench.reporting.model import RunInfo
from trtbench.store.records import METRICS, AccuracyRecord, LatencyRecord, Record

#: the columns every CSV starts with, in this order (what earlier versions wrote); the others follow
CSV_FIRST = ("kind", "model", "backend", "device", "precision", "batch", "status", "error", "metric",
             "latency_ms_mean", "latency_ms_median", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
             "latency_ms_min", "latency_ms_max", "latency_ms_stdev", "cov", "throughput_qps", "throughput_ips",
             "iterations", "build_s", "top1", "top5", "images", "run_id", "finished_at")
_SCALARS = (str, int, float, bool, type(None))


def metric_values(record: Record) -> dict[str, float]:
    """The record's figure for every registered metric it has one for, by metric name."""
    if not isinstance(record, LatencyRecord):
        return {}
    values = {name: metric.value(record) for name, metric in METRICS.items()}
    return {name: value for name, value in values.items() if value is not None}


def run_json(run: RunInfo) -> dict:
    """A run as ``report --json`` lists it: id, command, times, status and the machine it measured."""
    return {"run_id": run.run_id, "command": run.command, "started_at": run.started_at,
            "finished_at": run.finished_at, "status": run.status, "environment": run.environment}


def record_json(record: Record, runs: dict[str, RunInfo]) -> dict:
    """Every field the record has, its run id, its registered metrics, and its own environment where it
    is not its run's (a record measured on another node of a cluster)."""
    data = {**record.to_json(), "run_id": record.run_id, "metrics": metric_values(record)}
    run = runs.get(record.run_id or "")
    if record.environment and (run is None or record.environment != run.environment):
        data["environment"] = record.environment
    return data


def json_report(records: list[Record], runs: list[RunInfo] | None = None) -> dict:
    """``{"runs": [...], "records": [...]}``: the runs the records come from and the records, in the page's
    model order."""
    runs = runs if runs is not None else _runs_of(records)
    by_id = {run.run_id: run for run in runs}
    return {"runs": [run_json(run) for run in runs],
            "records": [record_json(record, by_id) for record in sort_records(records)]}


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


def _csv_row(record: Record) -> dict:
    row: dict = {"kind": record.kind, "run_id": record.run_id}
    for name in _scalar_fields():
        value = getattr(record, name, None)
        row[name] = value if isinstance(value, _SCALARS) else None
    row["warnings"] = "; ".join(record.warnings) if isinstance(record.warnings, list) else None
    if isinstance(record, LatencyRecord):
        stdev = (record.latency_ms or {}).get("stdev") if isinstance(record.latency_ms, dict) else None
        row["latency_ms_stdev"] = stdev if isinstance(stdev, _SCALARS) else None
        for name, metric in METRICS.items():
            row[metric.column or name] = metric.value(record)
        for key, value in (record.method.items() if isinstance(record.method, dict) else ()):
            if isinstance(value, _SCALARS):
                row[f"method.{key}"] = value
    return row


def csv_text(records: list[Record]) -> str:
    """One CSV row per record: every scalar field, each registered metric, each scalar timing setting."""
    import csv
    import io

    rows = [_csv_row(record) for record in sort_records(records)]
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
