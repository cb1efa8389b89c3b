"""Did a run get slower? Compare the cases of two sets of records, case by case, against a threshold.

A case is (model, backend, device, precision, batch): only the same case is ever compared, so a
run on another GPU or with another backend is never measured against this one. What is compared is
one of the registered metrics (``records.METRICS``): one whose lower values are better regresses
when it grows by more than the threshold, one whose higher values are better when it shrinks by
more; a case that worked in BASE and failed in NEW is a regression too. Accuracy records are not
compared.

A change past the threshold counts only when it is not noise: where both sides kept their samples, a rank
test (Mann-Whitney) must find the two samples differ at 99% confidence, else the case is "within noise".
Where a side kept no samples (older files) the case is judged on its values alone, and a note says so. A
case timed on a shared device or found unstable carries a caveat: its regression fails the gate only with
``strict``. Samples are decoded only for cases past the threshold.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import trtbench.reporting.support as support
from trtbench.errors import TrtbenchError
from trtbench.models.zoo import model_order_key
from trtbench.store.records import METRICS, SINGLE_STREAM, LatencyRecord, Metric, Record

CASE_FIELDS = ("model", "backend", "device", "precision", "batch", "scenario")
DEFAULT_THRESHOLD_PCT = 5.0
MAX_THRESHOLD_PCT = 1000.0
#: a change past the threshold counts when the rank test's p-value is below this (99% confidence)
SIGNIFICANCE = 0.01
#: the metrics whose values the samples (per-iteration times of the timed span) bear on
TESTED_KINDS = ("latency", "throughput")

# Results of one case, in the words the table shows.
REGRESSED = "regressed"
IMPROVED = "improved"
UNCHANGED = "unchanged"
WITHIN_NOISE = "within noise"  # past the threshold, but the samples do not show a difference
FAILED = "failed in NEW"  # ok in BASE: a regression
FIXED = "fixed in NEW"  # failed in BASE, ok in NEW
FAILED_BOTH = "failed in both"
NO_VALUE = "no value"
ONLY_BASE = "only in BASE"
ONLY_NEW = "only in NEW"
#: results that say something about NEW against BASE (the others could not be compared)
DECIDED = (REGRESSED, IMPROVED, UNCHANGED, WITHIN_NOISE, FAILED, FIXED)
#: results a reader looks for first: the case got worse or better, or is on one side only
CHANGED = frozenset((REGRESSED, FAILED, IMPROVED, FIXED, ONLY_BASE, ONLY_NEW))


_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%?", re.ASCII)


def parse_threshold(text: str) -> float:
    """A threshold in percent: "5%" and "5" both mean 5 percent; 0 to 1000."""
    match = _PERCENT.fullmatch(str(text).strip())
    value = float(match.group(1)) if match else math.nan
    if not 0 <= value <= MAX_THRESHOLD_PCT:  # also refuses NaN
        raise TrtbenchError(f"bad --threshold '{text}': give a percentage from 0 to {MAX_THRESHOLD_PCT:g}, "
                            "e.g. 5% or 5")
    return value


@dataclass(slots=True)
class Row:
    """One case: its figure in BASE and in NEW, and what the comparison says."""

    case: tuple  # CASE_FIELDS
    result: str
    base: LatencyRecord | None = None
    new: LatencyRecord | None = None
    base_value: float | None = None
    new_value: float | None = None
    change_pct: float | None = None  # None where nothing was compared, or the change is not finite
    why: str = ""  # why a case was not compared, or a failed side's error
    p_value: float | None = None  # the rank test's, where the change was past the threshold and both kept samples
    p_windows: float | None = None  # Welch's t-test on both runs' window medians, where both kept three or more
    tested: bool | None = None  # past the threshold: True if the samples were tested, False if a side had none
    caveats: list[str] = field(default_factory=list)  # 'shared device', 'unstable' (either side)
    metric: Metric | None = None  # what was compared (the intervals below are the metric's)

    @property
    def base_interval(self) -> tuple[float, float] | None:
        """The metric's interval in BASE, where recorded (looked up when shown: 50,000 rows need none)."""
        return support.interval(self.base, self.metric) if self.base and self.metric else None

    @property
    def new_interval(self) -> tuple[float, float] | None:
        return support.interval(self.new, self.metric) if self.new and self.metric else None

    @property
    def shown_result(self) -> str:
        """The result as a table writes it: 'regressed (caveat: shared device)'."""
        return f"{self.result} (caveat: {', '.join(self.caveats)})" if self.caveats else self.result

    @property
    def label(self) -> str:
        model, backend, device, precision, batch, scenario = self.case
        under = f", {scenario}" if scenario != SINGLE_STREAM else ""
        return f"{model} {precision} batch {batch} on {backend}{under}"

    @property
    def precision_executed(self) -> tuple[str | None, str | None]:
        """The precision each side says it really ran (None where it cannot say)."""
        return (self.base.precision_executed if self.base else None,
                self.new.precision_executed if self.new else None)

    @property
    def precision_changed(self) -> bool:
        """Both sides say which precision ran, and they differ."""
        if self.base is None or self.new is None:
            return False
        base, new = self.base.precision_executed, self.new.precision_executed
        return base is not None and new is not None and base != new

    def to_json(self) -> dict:
        base_executed, new_executed = self.precision_executed
        return {**dict(zip(CASE_FIELDS, self.case, strict=True)), "result": self.result,
                "base": _finite(self.base_value), "new": _finite(self.new_value), "change_pct": self.change_pct,
                "base_status": self.base.status if self.base else None,
                "new_status": self.new.status if self.new else None,
                "base_precision_executed": base_executed, "new_precision_executed": new_executed,
                "why": self.why, "p_value": self.p_value, "p_windows": self.p_windows, "tested": self.tested,
                "caveats": self.caveats,
                "base_interval_ms": list(self.base_interval) if self.base_interval else None,
                "new_interval_ms": list(self.new_interval) if self.new_interval else None}


@dataclass
class Comparison:
    """Every case of BASE and NEW, and the verdict."""

    metric: Metric
    threshold_pct: float
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    nothing_compared: str = ""  # why no case could be compared, or ''
    strict: bool = False  # a regression with a caveat (shared device, unstable) fails the gate too

    def count(self, *results: str) -> int:
        return sum(1 for row in self.rows if row.result in results)

    @property
    def regressions(self) -> list[Row]:
        """Cases that fail the gate: slower (or less throughput) past the threshold and significantly so
        (with a caveat only when ``strict``), and cases that failed only in NEW."""
        return [row for row in self.rows
                if row.result == FAILED or row.result == REGRESSED and (self.strict or not row.caveats)]

    @property
    def excused(self) -> list[Row]:
        """Regressions that do not fail the gate, because of their caveat (without ``strict``)."""
        return [] if self.strict else [row for row in self.rows if row.result == REGRESSED and row.caveats]

    @property
    def exit_status(self) -> int:
        """0: no regression; 1: some case regressed; 2: nothing could be compared."""
        return 1 if self.regressions else 2 if self.nothing_compared else 0

    def summary(self) -> str:
        """'1 regressed, 2 improved, 5 unchanged (threshold 5%); 3 cases only in BASE, 2 only in NEW'."""
        parts = [f"{self.count(result)} {result}" for result in (REGRESSED, IMPROVED, UNCHANGED, WITHIN_NOISE, FAILED,
                                                                  FIXED, FAILED_BOTH, NO_VALUE) if self.count(result)]
        excused = self.excused
        if excused:
            reasons = sorted({caveat for row in excused for caveat in row.caveats})
            parts[0] += (f" ({len(excused)} with a caveat: {', '.join(reasons)}; "
                         "they fail the gate only with --strict)")
        line = ", ".join(parts or ["no case in both"]) + f" (threshold {self.threshold_pct:g}%)"
        only_base, only_new = self.count(ONLY_BASE), self.count(ONLY_NEW)
        if only_base or only_new:
            line += f"; {_cases(only_base)} only in BASE, {only_new} only in NEW"
        return line

    def to_json(self) -> dict:
        return {"metric": self.metric.name, "unit": self.metric.unit,
                "higher_is_better": self.metric.higher_is_better, "threshold_pct": self.threshold_pct,
                "significance": SIGNIFICANCE, "strict": self.strict,
                "exit_status": self.exit_status, "regressed": len(self.regressions),
                "regressed_with_caveat": len(self.excused), "within_noise": self.count(WITHIN_NOISE),
                "compared": self.count(*DECIDED), "only_in_base": self.count(ONLY_BASE),
                "only_in_new": self.count(ONLY_NEW), "summary": self.summary(), "notes": self.notes,
                "cases": [row.to_json() for row in self.rows]}


def compare(base: list[Record], new: list[Record], metric: str = "median",
            threshold_pct: float = DEFAULT_THRESHOLD_PCT, strict: bool = False) -> Comparison:
    """Each case of ``base`` and ``new`` (latency records, one per case) compared on ``metric``; with
    ``strict`` a regression with a caveat fails the gate too."""
    chosen = METRICS[metric]
    base_cases, new_cases = _by_case(base), _by_case(new)
    rows = []
    for case in _in_order(base_cases.keys() | new_cases.keys()):
        if case not in new_cases:
            rows.append(Row(case, ONLY_BASE, base=base_cases[case]))
        elif case not in base_cases:
            rows.append(Row(case, ONLY_NEW, new=new_cases[case]))
        else:
            rows.append(_compare_case(case, base_cases[case], new_cases[case], chosen, threshold_pct))
    # Cases in one side only come last: the table leads with what was compared.
    rows.sort(key=lambda row: row.result in (ONLY_BASE, ONLY_NEW))
    comparison = Comparison(chosen, threshold_pct, rows, notes=_notes(base_cases, new_cases, rows, chosen),
                            strict=strict)
    if not any(row.result in DECIDED for row in rows):
        comparison.nothing_compared = _why_nothing_compared(base_cases, new_cases, rows, chosen)
    return comparison


def _compare_case(case: tuple, base: LatencyRecord, new: LatencyRecord, metric: Metric, threshold_pct: float) -> Row:
    row = Row(case, NO_VALUE, base=base, new=new)
    if not base.ok or not new.ok:
        row.result = FAILED_BOTH if not base.ok and not new.ok else FIXED if new.ok else FAILED
        row.why = "; ".join(f"failed in {side}: {_one_line(record.error)}"
                            for side, record in (("BASE", base), ("NEW", new)) if not record.ok)
        return row
    if metric.name in support.JUDGED:
        for side, record in (("BASE", base), ("NEW", new)):
            short = support.unsupported(record, metric)
            if short:
                row.why = f"{side}'s {metric.label} is not supported: {short}"
                return row
    row.base_value, row.new_value = metric.value(base), metric.value(new)
    for side, value in (("BASE", row.base_value), ("NEW", row.new_value)):
        if value is None:
            row.why = f"{side} has no {metric.label}"
            return row
        if not (math.isfinite(value) and value > 0):
            row.why = f"{side}'s {metric.label} is not a positive number"
            return row
    assert row.base_value is not None and row.new_value is not None
    row.metric = metric
    change = metric.change_pct(row.base_value, row.new_value)
    row.change_pct = change if math.isfinite(change) else None
    worse = metric.worse_pct(row.base_value, row.new_value)
    # Rounding noise must not decide: 1.05 ms against 1.00 ms is 5%, not past a 5% threshold.
    past = threshold_pct + 1e-9
    row.result = REGRESSED if worse > past else IMPROVED if -worse > past else UNCHANGED
    # What else than the engine may move its figures (looked for only where a side could say: 50,000 older
    # records without windows or a shared device cost nothing)
    if base.device_shared is True or new.device_shared is True or base.stability or new.stability:
        row.caveats = list(dict.fromkeys(support.caveats(base) + support.caveats(new)))
    if row.result != UNCHANGED and metric.kind in TESTED_KINDS:
        # Only here are samples decoded: a fleet's unchanged cases cost nothing.
        base_samples, new_samples = support.samples(base), support.samples(new)
        row.tested = base_samples is not None and new_samples is not None
        if base_samples is not None and new_samples is not None:
            from trtbench.measure.stats import rank_test

            row.p_value = rank_test(base_samples, new_samples)
            # Samples taken one after another understate how a run drifts (a machine's state, a neighbour on the
            # host): where both runs kept window medians, the change must stand out from their spread too.
            base_windows, new_windows = support.window_medians(base), support.window_medians(new)
            if base_windows and new_windows:
                from trtbench.measure.stats import welch_test

                row.p_windows = welch_test(base_windows, new_windows)
            if not row.p_value < SIGNIFICANCE or row.p_windows is not None and not row.p_windows < SIGNIFICANCE:
                row.result = WITHIN_NOISE
    return row


def _by_case(records: list[Record]) -> dict[tuple, LatencyRecord]:
    """Latency records by case; for a case given twice, the newest."""
    cases: dict[tuple, LatencyRecord] = {}
    case_of = operator.attrgetter(*CASE_FIELDS)
    for record in records:
        if isinstance(record, LatencyRecord):
            case = case_of(record)
            held = cases.get(case)
            if held is None or record.finished_at >= held.finished_at:
                cases[case] = record
    return cases


def _in_order(cases: Iterable[tuple]) -> list[tuple]:
    """Cases by precision, backend, device, the page's order of models, batch: each field's values ranked
    once, so that 50,000 cases are sorted on small numbers rather than on long names."""
    cases = list(cases)
    fields = ((3, None), (1, None), (2, None), (0, model_order_key))  # (index in the case, sort key)
    ranks = [{value: rank for rank, value in enumerate(sorted({case[index] for case in cases}, key=key))}
             for index, key in fields]
    precision, backend, device, model = ranks
    return sorted(cases, key=lambda case: (precision[case[3]], backend[case[1]], device[case[2]], model[case[0]],
                                           case[4]))


def _notes(base_cases: dict, new_cases: dict, rows: list[Row], metric: Metric) -> list[str]:
    """What a reader must know beside the table: how a change past the threshold was judged, runs from other
    devices or backends, changed precisions."""
    notes = []
    if any(row.tested for row in rows):
        notes.append(f"a change past the threshold counts only where a rank test (Mann-Whitney) on the samples "
                     f"finds it at 99% confidence (p < {SIGNIFICANCE:g}) and, where both sides were timed in "
                     "windows, a Welch t-test on the windows' medians (a run's slow drift) does too; else it is "
                     f"'{WITHIN_NOISE}'")
    untested = [row for row in rows if row.tested is False]
    if untested:
        sides = [side for side, at in (("BASE", "base"), ("NEW", "new"))
                 if any(support.samples(getattr(row, at)) is None for row in untested)]
        values = "medians" if metric.name == "median" else f"{metric.name} values"
        notes.append(f"{_cases(len(untested))} compared on {values} only (no samples kept in {'/'.join(sides)})")
    for index, plural in ((2, "devices"), (1, "backends")):
        base_values, new_values = _values(base_cases, index), _values(new_cases, index)
        if base_values and new_values and base_values != new_values:
            notes.append(f"{_sides(base_cases, new_cases, index)}: nothing was compared across {plural}")
    changed = [row for row in rows if row.precision_changed]
    if changed:
        first = changed[0]
        notes.append(f"{_cases(len(changed))} ran in another precision in NEW than in BASE "
                     f"(first: {first.label}: {first.precision_executed[0]} -> {first.precision_executed[1]})")
    return notes


def _why_nothing_compared(base_cases: dict, new_cases: dict, rows: list[Row], metric: Metric) -> str:
    """One line: why no case of NEW could be compared with BASE."""
    if not base_cases or not new_cases:
        empty = [side for side, cases in (("BASE", base_cases), ("NEW", new_cases)) if not cases]
        return f"{' and '.join(empty)} {'holds' if len(empty) == 1 else 'hold'} no latency records"
    matched = [row for row in rows if row.result not in (ONLY_BASE, ONLY_NEW)]
    if not matched:
        # In the order a reader should hear about them: another device explains everything else.
        for index, same in ((2, "device"), (1, "backend"), (0, "models"), (3, "precisions"), (4, "batch sizes")):
            if not set(_values(base_cases, index)) & set(_values(new_cases, index)):
                return f"no case is in both: {_sides(base_cases, new_cases, index)}: compare runs of the same {same}"
        return "no case (model, backend, device, precision, batch) is in both BASE and NEW"
    if all(row.result == FAILED_BOTH for row in matched):
        return f"{_cases(len(matched))} in both, failed in both"
    unvalued = [row for row in matched if row.result == NO_VALUE]
    return f"{_cases(len(matched))} in both, none with a {metric.label} in both ({unvalued[0].why})"


def _sides(base_cases: dict, new_cases: dict, index: int) -> str:
    """'BASE ran on X, NEW on Y' for the case field at ``index``."""
    base_says, new_says = {2: ("ran on", "on "), 1: ("used", ""), 0: ("timed", ""), 3: ("timed", ""),
                           4: ("timed batch", "")}[index]
    return (f"BASE {base_says} {', '.join(_values(base_cases, index))}, "
            f"NEW {new_says}{', '.join(_values(new_cases, index))}")


def _values(cases: dict, index: int) -> list[str]:
    return [str(value) for value in sorted({case[index] for case in cases})]


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _one_line(text) -> str:
    return " ".join(str(text or "failed").split())


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
