"""Heavy or optional modules, imported on first use; a missing one names the extra that brings it."""

from __future__ import annotations

import importlib
import os
import warnings

from trtbench import interrupt
from trtbench.errors import MissingDependency


def import_paddle():
    """Paddle, with its import-time warnings and C++ info lines silenced."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import paddle
        except ImportError as exc:
            raise MissingDependency("paddlepaddle", why=str(exc)) from None
    interrupt.reinstall()  # Paddle's import takes SIGTERM for itself
    return paddle


def import_optional(module: str, package: str, extra: str | None = None):
    """``module`` imported, or MissingDependency naming ``package`` and the trtbench extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(package, extra, why=str(exc)) from None
