"""A fake nvidia-smi on PATH: it answers trtbench's exact query with a saved capture and refuses
anything else, as the real one refuses arguments it does not know."""

from __future__ import annotations

from pathlib import Path

from trtbench.measure.gpu import NVIDIA_SMI_QUERY

CAPTURES = Path(__file__).parent.parent / "data" / "nvidia-smi"


def fake_nvidia_smi(folder: Path, answer: str, status: int = 0) -> Path:
    """A folder holding an nvidia-smi that prints ``answer`` to trtbench's query and exits ``status``;
    other arguments get nvidia-smi's own refusal (exit status 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "answer").write_text(answer)
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n"
                      f'[ "$1" = "--query-gpu={NVIDIA_SMI_QUERY}" ] && [ "$2" = "--format=csv,noheader,nounits" ]'
                      ' || { echo "Invalid combination of input arguments. Please run \'nvidia-smi -h\' for help.";'
                      " exit 2; }\n"
                      f"cat '{folder / 'answer'}'\nexit {status}\n")
    script.chmod(0o755)
    return folder


def capture(name: str) -> str:
    """The text of a saved nvidia-smi answer (tests/data/nvidia-smi)."""
    return (CAPTURES / name).read_text()
