"""Errors a user can cause and fix, printed as one line by the CLI."""


def one_line(message: str) -> str:
    """``message`` on one printable line: a control character or an undecodable byte of a file name
    that the user gave (a newline, a lone surrogate) is shown escaped, as Python writes it."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in message)


class TrtbenchError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with ``exit_code``."""

    exit_code = 1


class MissingDependency(TrtbenchError):
    """An optional package is not installed; the message names the extra that brings it."""

    exit_code = 3

    def __init__(self, package: str, extra: str | None = None, why: str = ""):
        hint = f"pip install 'trtbench[{extra}]'" if extra else f"pip install {package}"
        detail = f" ({why})" if why else ""
        super().__init__(f"{package} is not available{detail}; install it with: {hint}")
        self.package = package
        self.extra = extra
