"""The console reporter: a transient progress bar on stderr and a line per finished case."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from trtbench.cli.app import App
from trtbench.events import (
    CaseFinished,
    CaseProgress,
    CaseStarted,
    Event,
    Exported,
    Note,
    RunInterrupted,
    RunSaved,
    StageFinished,
    StageStarted,
)
from trtbench.reporting.escape import shown


class ConsoleReporter:
    """Renders a session's events for a person at a terminal."""

    def __init__(self, app: App):
        self.app = app
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.device_tasks: dict[str, TaskID] = {}  # a bar per kind of device, for a cluster sweep

    def line(self, text: str) -> None:
        """A line on stderr that does not tear the progress bar; what a library or a file said in it is shown
        inert (no terminal codes)."""
        console = self.progress.console if self.progress is not None else self.app.messages
        console.print(shown(text, "plain"), markup=False, highlight=False, soft_wrap=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Note):
            self.line(event.text)
        elif isinstance(event, Exported):
            if event.made:
                self.line(f"exported {event.model} -> {event.path}")
        elif isinstance(event, StageStarted):
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self.progress = Progress(*columns, console=self.app.messages, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(event.stage, total=event.total)
            self.device_tasks = {device: self.progress.add_task(f"  {device}", total=count)
                                 for device, count in event.devices.items()}
        elif isinstance(event, CaseStarted):
            self._describe(f"{event.case.label()}: {event.step}")
        elif isinstance(event, CaseProgress):
            if event.median_ms is not None:
                self._describe(f"{event.case.label()}: median {event.median_ms:.3f} ms after {event.done} iterations")
            else:
                self._describe(f"{event.case.label()}: {event.done}/{event.total} images")
        elif isinstance(event, CaseFinished):
            self.line(event.summary)
            for warning in event.warnings:
                self.line(f"  warning: {warning}")
            if self.progress is not None and self.task is not None:
                self.progress.advance(self.task)
                if event.case.device in self.device_tasks:
                    self.progress.advance(self.device_tasks[event.case.device])
        elif isinstance(event, StageFinished):
            if self.progress is not None:
                self.progress.stop()
            self.progress = self.task = None
            self.device_tasks = {}
        elif isinstance(event, RunSaved):
            self.line(f"results: {event.path}")
        elif isinstance(event, RunInterrupted):
            self.line(f"interrupted after {event.done} of {event.total} cases; every finished case is in "
                      f"{event.path}; run the rest with: {event.resume}")

    def _describe(self, text: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=text)
