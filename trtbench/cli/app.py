"""What every command shares: the consoles and the way to stop with one clear line."""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
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
        keep_stderr_open()
        self.out = _Encodable(sys.stdout)
        width = output_width()
        self.console = Console(file=self.out, highlight=False, width=width)
        # messages are lost, not fatal, where stderr cannot take them: the measurement and its output matter more
        self.messages = Console(file=_Encodable(sys.stderr, lossy=True), highlight=False, width=width)

    def echo(self, text: str, nl: bool = True) -> None:
        """Plain output (markdown, CSV, JSON) on stdout, whatever characters a run file holds: a control
        character in it is shown as Python writes it, never sent to the terminal."""
        from trtbench.reporting.escape import shown

        click.echo(shown(text, "plain"), file=self.out, nl=nl)

    def note(self, text: str) -> None:
        """A message for the user that is not the command's output (goes to stderr), on one line."""
        from trtbench.reporting.escape import shown

        self.messages.print(shown(text, "plain"), markup=False, soft_wrap=True)

    def abort(self, message: str, code: int = 1):
        """Stop the command with one line and a non-zero exit status."""
        raise TrtbenchError(message) if code == 1 else _coded(message, code)


#: the width of output that reaches no terminal and no COLUMNS (a pipe in a script or CI): wide
#: enough that no table is cut, where rich would assume 80 columns
UNCUT_WIDTH = 1000


def output_width(environ=None) -> int | None:
    """The width tables are laid out for: COLUMNS where it is set, else the terminal's (stdin,
    stdout or stderr, whichever is one: `trtbench verify | less` keeps the screen's width), else
    ``UNCUT_WIDTH``. None means the terminal's, left to rich."""
    environ = os.environ if environ is None else environ
    columns = environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for descriptor in (0, 1, 2):
        try:
            if os.get_terminal_size(descriptor).columns > 0:
                return None
        except (OSError, ValueError):
            continue
    return UNCUT_WIDTH


def keep_stderr_open() -> None:
    """Give a process started with standard error closed (`exec 2>&-`) /dev/null there instead.

    Left closed, the next file opened would take descriptor 2, and what a native library (ONNX Runtime,
    OpenVINO, Paddle) writes to standard error would land in a run file or an engine."""
    try:
        os.fstat(2)
    except OSError:
        descriptor = os.open(os.devnull, os.O_WRONLY)
        if descriptor != 2:
            os.dup2(descriptor, 2)
            os.close(descriptor)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - standard error for the rest of the process


def _coded(message: str, code: int) -> TrtbenchError:
    error = TrtbenchError(message)
    error.exit_code = code
    return error


class _Encodable:
    """A text stream that writes what its encoding cannot (box lines, '✗' or 'Intel®' on an ASCII
    terminal, a lone surrogate read from a damaged file) as the nearest character it can, instead of
    failing in the middle of a table. Rich draws ASCII boxes when the encoding is not UTF-8."""

    def __init__(self, stream, lossy: bool = False):
        self._stream = stream
        self.lossy = lossy  # a write that fails is dropped (messages), not an error (the command's output)
        self.lost = False
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            self.encoding = codecs.lookup(encoding).name
        except LookupError:
            self.encoding = "ascii"

    def write(self, text: str) -> int:
        try:
            if self._stream is None:  # started with the stream closed (`trtbench models >&-`)
                raise ValueError("it is closed")
            return self._stream.write(text.encode(self.encoding, "trtbench-nearest").decode(self.encoding))
        except (OSError, ValueError) as exc:  # a full disk (> /dev/full), a closed pipe, a closed file
            if self.lossy:
                self.lost = True
                return len(text)
            raise OutputLost.from_error(exc) from None

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                if self.lossy:
                    self.lost = True
                    return
                raise OutputLost.from_error(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


class OutputLost(TrtbenchError):
    """The command's output cannot be written (stdout full, closed, or a pipe whose reader left).

    A reader that left (`trtbench report | head -1`) is no error: the command ends quietly with the
    status a shell gives a program its closed pipe stopped, 128 + SIGPIPE (141), as `seq` and
    `yes` do, and the pipeline's own status is the reader's."""

    #: the exit status when the reader left
    READER_LEFT = 128 + signal.SIGPIPE

    def __init__(self, why: str, reader_left: bool = False):
        super().__init__(f"cannot write the output: {why}; send it somewhere that can take it")
        self.reader_left = reader_left
        if reader_left:
            self.exit_code = self.READER_LEFT
        # nothing more may go there: at exit Python would flush it again and fail once more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - kept open until the process ends
        if reader_left:  # what is still buffered for the pipe is dropped too, not written at exit
            with contextlib.suppress(OSError, ValueError):
                os.dup2(sys.stdout.fileno(), 1)

    @classmethod
    def from_error(cls, exc: Exception) -> OutputLost:
        """The loss ``exc`` (an OSError or a write to a closed file) stands for."""
        return cls(getattr(exc, "strerror", None) or str(exc), reader_left=isinstance(exc, BrokenPipeError))


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
