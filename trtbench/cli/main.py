"""The top-level group and its error handling: user errors are one line and a non-zero exit."""

from __future__ import annotations

import contextlib
import importlib
import sys

import click

from trtbench import __version__, interrupt
from trtbench.errors import TrtbenchError, one_line

#: each command's module in trtbench.cli and its function there: a module is imported only when its command runs
#: (or help lists them), so `trtbench compare` does not load the exporter or numpy
COMMANDS = {"models": ("models", "models"), "export": ("export", "export"), "run": ("run", "run"),
            "report": ("report", "report"), "compare": ("compare", "compare"), "doctor": ("doctor", "doctor"),
            "verify": ("verify", "verify"), "eval": ("eval", "evaluate"), "profile": ("profile", "profile")}


class TrtbenchGroup(click.Group):
    """A click group that turns user errors into a single ``error: ...`` line, and finds its commands
    in ``COMMANDS``."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name]
        return getattr(importlib.import_module(f"trtbench.cli.{module}"), name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        interrupt.install()
        try:
            code = self._run(args, prog_name, complete_var, **extra)
        finally:
            if args is None:  # the real program (tests pass their arguments): work done, a late signal exits at once
                interrupt.exit_quietly()
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra) -> int:
        try:
            result = super().main(args=args, prog_name=prog_name or "trtbench", complete_var=complete_var,
                                  standalone_mode=False, **extra)
        except TrtbenchError as exc:
            if getattr(exc, "reader_left", False):  # `trtbench report | head -1`: the reader has what it wanted
                sys.exit(exc.exit_code)
            _fail(str(exc), exc.exit_code)
        except click.exceptions.NoArgsIsHelpError as exc:
            # A bare `trtbench` (or a group without its command) asks for help: give it, not an error.
            click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
            sys.exit(0)
        except click.ClickException as exc:
            _fail(exc.format_message() + _help_hint(exc), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted; finished results and artifacts are kept", interrupt.exit_code())
        except OSError as exc:  # a path the system refuses (too long, a loop of links) where no check named it
            where = str(exc.filename or "")
            where = where if len(where) <= 100 else where[:48] + "..." + where[-48:]
            _fail(f"{exc.strerror or type(exc).__name__}: {where}: check the paths given", 1)
        return result if isinstance(result, int) else 0


def _help_hint(exc: click.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""


def _fail(message: str, code: int):
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be a closed pipe
        click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


@click.group(cls=TrtbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trtbench")
def main():
    """Benchmark PaddleClas's ResNet variants with TensorRT (or ONNX Runtime where there is no GPU)."""
