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
