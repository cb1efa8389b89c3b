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


def workspace(*folders: str) -> Decorator:
    """--models-dir, --engines-dir, --results-dir (those named)."""
    return _apply([click.option(f"--{folder}-dir", f"{folder}_dir", type=Folder(),
                                default=Path(folder), show_default=True, help=f"Where {folder} are kept.")
                   for folder in folders])


def model_selection(command: Callable) -> Callable:
    """NAME... and --all."""
    command = click.option("--all", "all_", is_flag=True, help="All 14 variants (exported first where needed).")(
        command)
    return click.argument("names", nargs=-1)(command)


def precisions(default: str) -> Decorator:
    """--precision fp16,fp32."""
    return click.option("--precision", "precisions", default=default, show_default=True,
                        help="Comma-separated: fp32, fp16, bf16, int8; or native: every precision the backends "
                             "run natively here.")


def backend_options(command: Callable) -> Callable:
    """--backend, every option some backend declares, --calib and --progress."""
    from trtbench import backends

    options: list[Decorator] = [click.option(
        "--backend", default="auto", show_default=True,
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
    from trtbench.precision import calibration_from
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
