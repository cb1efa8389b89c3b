"""Errors a user can cause and fix, printed as one line by the CLI."""


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
