"""Reports: one model of what a report says (``model``), built once per content (``latency``, ``tables``,
``contents``), and a renderer per format (``terminal``, ``markdown``, ``data`` for JSON and CSV, ``html``,
``plots``); ``compare`` judges two runs case by case.

The names below are what the other commands print.
"""

from __future__ import annotations

from trtbench.reporting import markdown, terminal
from trtbench.reporting import tables as _tables
from trtbench.reporting.latency import accuracy_records, at_batches, latency_groups, latency_records

__all__ = ["accuracy_records", "accuracy_table", "at_batches", "latency_groups", "latency_records", "latency_table",
           "models_markdown", "models_table", "verify_table"]


def latency_table(key, records, reference: bool = False):
    """One precision/backend/device's latency table for a terminal, with its legends."""
    from trtbench.reporting import latency

    return terminal.table(latency.latency_table(key, records, reference))


def accuracy_table(records):
    """Top-1/Top-5 beside the page's, for a terminal."""
    return terminal.table(_tables.accuracy_table(records))


def models_table(rows: list[dict]):
    """The page's models table with trtbench's counts, for a terminal."""
    return terminal.table(_tables.models_table(rows))


def models_markdown(rows: list[dict]) -> str:
    """The page's models table in its markdown layout."""
    return markdown.table(_tables.models_table(rows))


def verify_table(rows: list[dict], batch: int):
    """Each engine's output check against Paddle, for a terminal."""
    return terminal.table(_tables.verify_table(rows, batch))
