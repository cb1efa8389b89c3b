"""What a report says, whatever it is written as: tables of typed cells with their notes, the legends
they use, the figures, and the runs they come from. Each format's renderer reads only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The keys a cell's mark or a column points to, written once per report (or once under a table shown
#: on its own).
LEGENDS = {
    "unstable": "'~': unstable: the timing windows' medians did not agree within the threshold (or, in older "
                "files, a coefficient of variation above 2.5%)",
    "unsupported": "'needs N (has M)': the cell's percentile needs N timed iterations to be supported at 99% "
                   "confidence and the record has M: no number is shown",
    "interval": "'± h': half the width of the 95% distribution-free interval of the cell's percentile",
    "unchecked": "'✗': the engine failed its output check against Paddle (trtbench run --verify)",
    "reference": "(page's 2020 V100 value, measured / page): the page timed Paddle Inference's TensorRT subgraph "
                 "on a V100 without copies",
    "page": "V100 (page): the page's 2020 figure, Paddle Inference's TensorRT subgraph on a V100 without copies",
}


@dataclass(frozen=True)
class Cell:
    """One cell: the text every format shows, and the number behind it where there is one."""

    text: str
    value: float | None = None  # the figure itself (unrounded), for machine-readable forms
    state: str = ""  # "", "failed", "empty", or a comparison's verdict
    # the record the cell's number comes from: markdown's footnotes and HTML's tooltips name its run
    record: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, text: str) -> Cell:
        """A cell of text only."""
        return cls(text, state="empty" if text == "" else "")


@dataclass(frozen=True)
class Column:
    """A column: its header (lines joined by a newline) and how it is laid out."""

    header: str
    numeric: bool = True  # aligned right on a terminal and in HTML
    terminal: str | None = None  # the terminal's own header, where it is shorter than the page's
    formats: tuple[str, ...] = ()  # the only formats that show it (empty: every format)
    no_wrap: bool = False
    fold: bool = False  # a long header breaks onto more lines rather than losing its end

    def shown_in(self, form: str) -> bool:
        """Whether the format ``form`` ('terminal', 'markdown', 'html') shows this column."""
        return not self.formats or form in self.formats


@dataclass(frozen=True)
class Row:
    """A table row; ``mood`` says how a comparison judged it ('worse', 'better', 'aside' or '')."""

    cells: tuple[Cell, ...]
    mood: str = ""


@dataclass
class Table:
    """A table with its title, the notes a reader needs beside it, and the legends its cells use."""

    kind: str  # latency, devices, models, accuracy, comparison, verify, figures
    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about this table: what each column measured, missing values
    failures: list[str] = field(default_factory=list)  # each failed cell and why
    legend: list[str] = field(default_factory=list)  # keys of LEGENDS
    heading: str = ""  # the section's heading where it differs from the title
    # bars drawn beside the table where a format can (HTML): (row label, {series: value in ms}) per row
    chart: list[tuple[str, dict[str, float]]] = field(default_factory=list)

    def add(self, *cells: Cell | str, mood: str = "") -> None:
        """Append a row (text becomes a text cell)."""
        self.rows.append(Row(tuple(c if isinstance(c, Cell) else Cell.of(c) for c in cells), mood))

    @property
    def section(self) -> str:
        """The heading of the table's section."""
        return self.heading or self.title


@dataclass
class Figure:
    """A plot of the report's records, drawn by ``plots.figure``."""

    caption: str
    records: list = field(default_factory=list)
    size: tuple[float, float] = (7.0, 4.5)  # inches, per precision
    kind: str = "latency"  # latency: the page's plot; load: throughput against latency (trtbench.reporting.load)


@dataclass
class RunInfo:
    """A run the records come from: its id, command, when, and the machine it measured."""

    run_id: str
    command: list[str] = field(default_factory=list)
    started_at: str = ""
    finished_at: str | None = None
    status: str = ""
    environment: dict = field(default_factory=dict)


@dataclass
class Report:
    """A whole report: its tables in order, figures, the runs, and how the numbers were measured."""

    tables: list[Table]
    runs: list[RunInfo] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    method: list[tuple[str, str]] = field(default_factory=list)  # (what, how) of the timing
    records: list = field(default_factory=list)

    @property
    def legend(self) -> list[str]:
        """Every legend its tables use, once, in the order they first appear."""
        keys = dict.fromkeys(key for table in self.tables for key in table.legend)
        return [LEGENDS[key] for key in keys]
