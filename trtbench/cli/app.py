"""What every command shares: the consoles and the way to stop with one clear line."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from trtbench.errors import TrtbenchError


class App:
    """Held in ``ctx.obj``: rich consoles for output and for messages."""

    def __init__(self):
        self.console = Console(file=sys.stdout, highlight=False)
        self.messages = Console(file=sys.stderr, highlight=False)

    def note(self, text: str) -> None:
        """A message for the user that is not the command's output (goes to stderr)."""
        self.messages.print(text, markup=False)

    def abort(self, message: str, code: int = 1):
        """Stop the command with one line and a non-zero exit status."""
        raise TrtbenchError(message) if code == 1 else _coded(message, code)


def _coded(message: str, code: int) -> TrtbenchError:
    error = TrtbenchError(message)
    error.exit_code = code
    return error


pass_app = click.make_pass_decorator(App, ensure=True)


def selected_models(app: App, names, all_: bool, models_dir) -> list[str]:
    """Variant names from NAME... / --all / what is exported in ``models_dir``, in the page's order."""
    from trtbench import zoo
    from trtbench.export import onnx_path

    if all_ and names:
        app.abort("give model names or --all, not both")
    if all_:
        return list(zoo.PAGE_ORDER)
    if names:
        return [zoo.get_variant(n).name for n in dict.fromkeys(names)]
    exported = [n for n in zoo.PAGE_ORDER if onnx_path(models_dir, n).is_file()]
    if not exported:
        app.abort(f"no exported models in {models_dir}: run `trtbench export ResNet50_vd` (or --all) first, "
                  "or name models to run")
    return exported


def calibration_option(app: App, calib, precisions, fallback=None):
    """The INT8 calibration for --calib (or ``fallback``); warns loudly when it is random data."""
    from trtbench.precision import calibration_from

    calibration = calibration_from(calib or fallback)
    if "int8" in precisions and calibration.random:
        app.note("WARNING: INT8 calibrated on random inputs (no --calib): its latency is real, its accuracy is "
                 "meaningless; give --calib DIR with real images")
    return calibration
