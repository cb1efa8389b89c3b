"""What every command shares: the consoles and the way to stop with one clear line."""

from __future__ import annotations

import codecs
import os
import sys
import unicodedata

import click
from rich.cells import cell_len
from rich.console import Console

from trtbench.errors import TrtbenchError

# Marks trtbench prints itself, as the closest ASCII of the same width.
_ASCII_MARKS = {"✗": "x", "—": "-", "–": "-", "…": ".", "×": "x", "→": ">", "±": "+", "µ": "u"}


class App:
    """Held in ``ctx.obj``: rich consoles for output and for messages."""

    def __init__(self):
        self.out = _Encodable(sys.stdout)
        self.console = Console(file=self.out, highlight=False)
        self.messages = Console(file=_Encodable(sys.stderr), highlight=False)

    def echo(self, text: str, nl: bool = True) -> None:
        """Plain output (markdown, CSV, JSON) on stdout, whatever characters a run file holds."""
        click.echo(text, file=self.out, nl=nl)

    def note(self, text: str) -> None:
        """A message for the user that is not the command's output (goes to stderr), on one line."""
        self.messages.print(text, markup=False, soft_wrap=True)

    def abort(self, message: str, code: int = 1):
        """Stop the command with one line and a non-zero exit status."""
        raise TrtbenchError(message) if code == 1 else _coded(message, code)


def _coded(message: str, code: int) -> TrtbenchError:
    error = TrtbenchError(message)
    error.exit_code = code
    return error


class _Encodable:
    """A text stream that writes what its encoding cannot (box lines, '✗' or 'Intel®' on an ASCII
    terminal, a lone surrogate read from a damaged file) as the nearest character it can, instead of
    failing in the middle of a table. Rich draws ASCII boxes when the encoding is not UTF-8."""

    def __init__(self, stream):
        self._stream = stream
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            self.encoding = codecs.lookup(encoding).name
        except LookupError:
            self.encoding = "ascii"

    def write(self, text: str) -> int:
        if self._stream is None:  # started with the stream closed (`trtbench models >&-`)
            raise OutputLost("it is closed")
        try:
            return self._stream.write(text.encode(self.encoding, "trtbench-nearest").decode(self.encoding))
        except (OSError, ValueError) as exc:  # a full disk (> /dev/full), a closed pipe, a closed file
            raise OutputLost(getattr(exc, "strerror", None) or str(exc)) from None

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                raise OutputLost(getattr(exc, "strerror", None) or str(exc)) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


class OutputLost(TrtbenchError):
    """The command's output cannot be written (stdout full, closed, or a pipe whose reader left)."""

    def __init__(self, why: str):
        super().__init__(f"cannot write the output: {why}; send it somewhere that can take it")
        # nothing more may go there: at exit Python would flush it again and fail once more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - kept open until the process ends


def _nearest(error: UnicodeError):
    """A codec error handler: each character replaced by an encodable one of the same width."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    encoding = error.encoding
    out = []
    for char in error.object[error.start:error.end]:
        plain = _ASCII_MARKS.get(char) or unicodedata.normalize("NFKD", char)[:1]
        try:
            plain.encode(encoding)
        except UnicodeEncodeError:
            plain = ""
        # The same width on screen, so table columns still line up.
        out.append(plain if plain and cell_len(plain) == cell_len(char) else "?" * cell_len(char))
    return "".join(out), error.end


codecs.register_error("trtbench-nearest", _nearest)

pass_app = click.make_pass_decorator(App, ensure=True)
