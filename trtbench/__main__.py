"""`python -m trtbench`: the same as the `trtbench` command."""

from trtbench.cli import main

main()
