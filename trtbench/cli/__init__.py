"""The ``trtbench`` command line: one module per command, each thin."""

from trtbench.cli.main import main

__all__ = ["main"]
