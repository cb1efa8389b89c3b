"""What each report holds, built once: the page's tables for the terminal and markdown, and the full
page (every table, the page's reference values, plots, environment and method) for HTML."""

from __future__ import annotations

from trtbench.reporting.latency import accuracy_records, latency_records, latency_tables
from trtbench.reporting.model import Figure, Report, RunInfo
from trtbench.reporting.pick import Picked
from trtbench.reporting.tables import accuracy_table, figures_table, models_table
from trtbench.store.records import Metric, Record

#: the groups of ONNX nodes a terminal's profile table shows, the others summed (the file formats show all)
PROFILE_TOP = 15


def terminal_report(records: list[Record], reference: bool = False, by_device: bool = False,
                    metric: Metric | None = None, intervals: bool = False, picked: Picked | None = None,
                    profile_top: int = PROFILE_TOP, profile_across: str = "backend") -> Report:
    """The latency tables (and accuracy, where `eval` ran; memory, cold start and energy, where the run measured
    them; per-layer profiles, where `run --profile` did) of `trtbench report`."""
    accuracy = accuracy_records(records)
    tables = latency_tables(records, reference, by_device, metric, intervals, picked)
    tables += [accuracy_table(accuracy)] if accuracy else []
    return Report(tables + _load(records) + _costs(records) + _profiles(records, profile_top, profile_across),
                  records=records)


def _load(records: list[Record]) -> list:
    """The offline and server tables, where cases were timed under load."""
    from trtbench.reporting.latency import load_records

    if not load_records(records):
        return []
    from trtbench.reporting.load import load_tables

    return load_tables(records)


def _costs(records: list[Record]) -> list:
    """The memory, cold start and energy table, where a record measured them."""
    from trtbench.reporting.costs import costs_table

    table = costs_table(records)
    return [table] if table is not None else []


def _profiles(records: list[Record], top: int, across: str = "backend") -> list:
    profiled = [record for record in records if getattr(record, "profile", None)]
    if not profiled:
        return []
    from trtbench.reporting.profile import precision_stage_tables, profile_tables

    # a sweep of precisions also reads as each one's ratio to FP32 per stage (with --by precision it is already)
    return profile_tables(profiled, top, across) + (precision_stage_tables(profiled) if across == "backend" else [])


def page_report(records: list[Record], model_rows: list[dict], reference: bool = False, by_device: bool = False,
                metric: Metric | None = None, intervals: bool = False, picked: Picked | None = None,
                profile_across: str = "backend") -> Report:
    """The page again: its models table, a latency section per precision/backend/device (with ``by_device``:
    per precision and batch size, the devices side by side), and accuracy where `eval` ran."""
    report = terminal_report(records, reference, by_device, metric, intervals, picked, profile_top=0,
                             profile_across=profile_across)
    report.tables.insert(0, models_table(model_rows))
    return report


def full_report(records: list[Record], model_rows: list[dict], runs: list[RunInfo], metric: Metric | None = None,
                plot_size: tuple[float, float] | None = None, intervals: bool = False,
                picked: Picked | None = None) -> Report:
    """Everything a report can say: the models table, each latency table with the page's values, the devices
    side by side, accuracy, every registered figure, the plot, the runs' environments and the method."""
    latency = latency_records(records)
    accuracy = accuracy_records(records)
    tables = [models_table(model_rows), *latency_tables(records, True, False, metric, intervals, picked),
              *latency_tables(records, False, True, metric, intervals, picked)]
    tables += [accuracy_table(accuracy)] if accuracy else []
    tables += [figures_table(latency)] if any(r.ok for r in latency) else []
    load = _load(records)
    tables += load + _costs(records) + _profiles(records, 0)
    figures = []
    if plot_size is not None and any(r.ok for r in latency):
        from trtbench.reporting.plots import caption

        figures.append(Figure(caption(records), records, plot_size))
    if plot_size is not None and load:
        from trtbench.reporting.load import curves

        if curves(records):
            figures.append(Figure("Throughput against latency per request under load: each point a number of "
                                  "requests in flight (offline) or an arrival rate (server); the latency bound "
                                  "dashed", records, plot_size, kind="load"))
    return Report(tables, runs=runs, figures=figures, method=method(records), records=records)


def method(records: list[Record]) -> list[tuple[str, str]]:
    """(backend on device, how it was timed): the timed span and every timing setting the records share or
    differ in ('threads: 2', 'warmup_ms: 200.0 / 10')."""
    groups: dict[str, list] = {}
    for record in latency_records(records):
        groups.setdefault(f"{record.backend} on {record.device}", []).append(record)
    rows = []
    for where, group in sorted(groups.items()):
        said: dict[str, dict[str, None]] = {"span timed": dict.fromkeys(str(r.metric) for r in group)}
        for record in group:
            for key, value in (record.method.items() if isinstance(record.method, dict) else ()):
                said.setdefault(str(key), {})[str(value)] = None
        rows.append((where, "; ".join(f"{key}: {' / '.join(values)}" for key, values in said.items())))
    return rows
