"""Ctrl-C and SIGTERM: both stop the work the same way, and whoever cleans up can tell one came.

Python turns Ctrl-C into KeyboardInterrupt but lets SIGTERM kill the process outright, skipping
every ``finally``: the run file would never say it was interrupted and temporary files would stay.
``install`` makes SIGTERM raise KeyboardInterrupt too. Native code (paddle2onnx, an engine build)
sometimes turns the KeyboardInterrupt raised inside it into an error of its own;
``requested()`` tells the caller that the error was really the user stopping the work.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_received: int | None = None


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def install() -> None:
    """Let Ctrl-C and SIGTERM raise ``Interrupted`` in the main thread (no-op elsewhere)."""
    reset()
    reinstall()


def reinstall() -> None:
    """Put the handlers back where a library replaced them (Paddle's import takes SIGTERM to print
    its own report and die, which would skip every ``finally``)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


def exit_quietly() -> None:
    """Once the command's work is done, a late Ctrl-C or SIGTERM (while libraries tidy up at exit)
    ends the process with the shell's status at once instead of a KeyboardInterrupt in their
    clean-up code."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_now)


def _exit_now(signum: int, frame) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(128 + signum)


def _on_signal(signum: int, frame) -> None:
    global _received
    _received = signum
    raise Interrupted(signum)


def requested() -> bool:
    """Whether Ctrl-C or SIGTERM arrived since ``install`` (or ``reset``)."""
    return _received is not None


def exit_code() -> int:
    """130 after Ctrl-C, 143 after SIGTERM (130 when neither was seen: a plain KeyboardInterrupt)."""
    return 128 + (_received or signal.SIGINT)


def reset() -> None:
    global _received
    _received = None
