"""Option groups the commands share, and the session they open from them.

The backend options are not written here: each backend's config declares them (see
``trtbench.backends.base.option``), and ``backend_options`` turns the declarations into flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from trtbench.cli.app import App
from trtbench.errors import TrtbenchError

Decorator = Callable[[Callable], Callable]


def _apply(options: Sequence[Decorator]) -> Decorator:
    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


class FiniteFloat(click.ParamType):
    """A float that is finite and at least ``minimum`` (NaN passes a plain range check and then
    never ends a timing loop)."""

    name = "number"

    def __init__(self, minimum: float = 0.0, maximum: float | None = None):
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{value}' is not a number", param, ctx)
        if not math.isfinite(number) or number < self.minimum:
            self.fail(f"{value} is not a finite number >= {self.minimum:g}", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{value} is more than {self.maximum:g}, the most trtbench takes", param, ctx)
        return number


class Folder(click.Path):
    """A folder name: an empty one is refused rather than taken as the current folder."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("give a folder name (an empty one would mean the current folder)", param, ctx)
        return super().convert(value, param, ctx)


class _Listed(click.ParamType):
    """A comma-separated value checked by ``parse``: a bad one is a usage error (exit status 2, as
    click's own), its message kept as ``parse`` words it."""

    choices: tuple[str, ...] = ()
    #: choices that stand alone, never in a list
    alone: tuple[str, ...] = ()

    def parse(self, text: str):
        raise NotImplementedError

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except TrtbenchError as exc:
            raise click.UsageError(str(exc), ctx) from None

    def shell_complete(self, ctx, param, incomplete):
        """The choices that start the last item of a comma-separated list."""
        from click.shell_completion import CompletionItem

        done, _, last = incomplete.rpartition(",")
        head = done + "," if done else ""
        taken = set(done.split(","))
        offered = [choice for choice in self.choices if not (done and choice in self.alone)]
        return [CompletionItem(head + choice) for choice in offered
                if choice.lower().startswith(last.lower()) and choice not in taken]


class PrecisionList(_Listed):
    """--precision: 'fp16,fp32' or 'native'."""

    name = "precisions"
    alone = ("native",)

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from trtbench.graphs.precision import PRECISIONS

        return (*PRECISIONS, "native")

    def parse(self, text: str) -> str:
        from trtbench.graphs.precision import parse_precisions

        parse_precisions(text)
        return text


class BatchList(_Listed):
    """--batch: '1,4,8,32' (the option may be repeated)."""

    name = "batches"

    def parse(self, text: str) -> str:
        from trtbench.executors.case import parse_batches

        parse_batches(text)
        return text


class BackendList(_Listed):
    """--backend: auto, all, or backend names (comma-separated)."""

    name = "backends"
    alone = ("auto", "all")

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from trtbench import backends

        return (*backends.backend_names(), "all")

    def parse(self, text: str) -> str:
        from trtbench import backends

        if text.strip() in ("auto", "all"):
            return text.strip()
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise TrtbenchError(f"bad --backend '{text}': name a backend, a comma-separated list, all or auto")
        known = backends.backend_names()[1:]
        for name in names:
            if name not in known:
                raise TrtbenchError(f"unknown backend '{name}': choose from {', '.join(backends.backend_names())}")
        return text


class ModelName(click.ParamType):
    """A variant's name as the page writes it (any case); completes from the 14 variants."""

    name = "name"

    def convert(self, value, param, ctx):
        from trtbench.models import zoo

        try:
            return zoo.get_variant(value).name
        except TrtbenchError as exc:
            raise click.UsageError(str(exc), ctx) from None

    def shell_complete(self, ctx, param, incomplete):
        """The variants whose name starts with what is typed (any case)."""
        from click.shell_completion import CompletionItem

        from trtbench.models import zoo

        return [CompletionItem(name) for name in zoo.PAGE_ORDER if name.lower().startswith(incomplete.lower())]


def workspace(*folders: str) -> Decorator:
    """--models-dir, --engines-dir, --results-dir (those named)."""
    return _apply([click.option(f"--{folder}-dir", f"{folder}_dir", type=Folder(),
                                default=Path(folder), show_default=True, help=f"Where {folder} are kept.")
                   for folder in folders])


def model_selection(command: Callable) -> Callable:
    """NAME... and --all."""
    command = click.option("--all", "all_", is_flag=True, help="All 14 variants (exported first where needed).")(
        command)
    return click.argument("names", nargs=-1, type=ModelName())(command)


def check_selection(names: Sequence[str], all_: bool) -> None:
    """NAME... and --all exclude each other: a usage error (exit status 2)."""
    if all_ and names:
        raise click.UsageError("give model names or --all, not both")


def precisions(default: str) -> Decorator:
    """--precision fp16,fp32."""
    return click.option("--precision", "precisions", type=PrecisionList(), default=default, show_default=True,
                        help="Comma-separated: fp32, fp16, bf16, int8; or native: every precision the backends "
                             "run natively here.")


def backend_options(command: Callable) -> Callable:
    """--backend, every option some backend declares, --calib and --progress."""
    from trtbench import backends

    options: list[Decorator] = [click.option(
        "--backend", type=BackendList(), default="auto", show_default=True,
        help=f"auto (per precision, the first that runs it natively here), all, or one or more of "
             f"{', '.join(backends.backend_names()[1:])} (comma-separated: side by side).")]
    for name, (field, users) in backends.declared_options().items():
        options.append(_declared_option(name, field, users))
    options.append(click.option("--calib", type=click.Path(path_type=Path),
                                help="Images to calibrate INT8 with."))
    options.append(click.option("--progress", type=click.Choice(["rich", "json"]), default="rich",
                                show_default=True,
                                help="How progress is shown on stderr: a bar and a line per case, or one JSON "
                                     "object per event (for scripts)."))
    return _apply(options)(command)


def _declared_option(name: str, field, users: list[str]) -> Decorator:
    meta = field.metadata
    flag = meta.get("flag") or "--" + name.replace("_", "-")
    help_text = f"{meta['help']} [{', '.join(users)}]"
    if isinstance(field.default, bool):
        # A True default is offered as its negative flag (--no-...), a False one as a plain switch.
        return click.option(flag, name, is_flag=True, flag_value=not field.default, default=field.default,
                            help=help_text)
    if meta.get("choices"):
        return click.option(flag, name, type=click.Choice(list(meta["choices"])), default=field.default,
                            show_default=True, help=help_text)
    if meta.get("minimum") is not None or meta.get("maximum") is not None:
        return click.option(flag, name, type=click.IntRange(meta.get("minimum"), meta.get("maximum")),
                            default=field.default, show_default=field.default is not None, help=help_text)
    raise TypeError(f"backend option {name}: give it choices, a bool default or an integer range")


def open_session(app: App, options: dict[str, Any], needs: Sequence[str] = ("time",), precisions: Sequence[str] = (),
                 calib_fallback: Path | None = None, executor=None):
    """A Session from the shared options (popped from ``options``), reporting to the console or as JSON."""
    from trtbench import backends
    from trtbench.graphs.precision import calibration_from
    from trtbench.session import Session, Workspace

    folders = {key: options.pop(f"{key}_dir") for key in ("models", "engines", "results") if f"{key}_dir" in options}
    backend = options.pop("backend")
    calib = options.pop("calib")
    values = {name: options.pop(name) for name in list(backends.declared_options()) if name in options}
    int8 = "int8" in precisions or "native" in precisions
    calibration = calibration_from(calib or calib_fallback) if int8 or calib else None
    return Session(Workspace(**folders), backend, values, calibration, needs=needs,
                   reporter=reporter_for(app, options.pop("progress")), precisions=precisions,
                   wait_for_device=not options.pop("no_wait", False), executor=executor)


def reporter_for(app: App, progress: str):
    """--progress rich: a bar and a line per case on stderr; json: one JSON object per event."""
    import sys

    from trtbench.cli.progress import ConsoleReporter
    from trtbench.events import JsonLinesReporter

    return ConsoleReporter(app) if progress == "rich" else JsonLinesReporter(sys.stderr)
