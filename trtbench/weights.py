"""Weights files are data, never code: a PaddleClas ``.pdparams`` is read by an unpickler that admits
only what a Paddle state dict holds (numpy arrays, their dtypes, plain containers) and refuses any
other global by name, so a file that would run a command when unpickled is refused instead."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError

#: every global a Paddle state dict's pickle names (numpy 1 and 2 spell the array module differently;
#: ``_codecs.encode`` carries array bytes in protocol-2 pickles; Paddle 2.x stored each tensor as a
#: (name, array) tuple, and some files are OrderedDicts)
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
    ("builtins", "tuple"),
    ("collections", "OrderedDict"),
})


PADDLE_NAME_TABLE = "StructuredToParameterName@@"


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler whose globals are the state-dict ones above and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise TrtbenchError(f"{self.path} is refused: it names {module}.{name}, which a Paddle state dict "
                            "never holds (a weights file holds arrays, not code); use PaddleClas's own .pdparams")

    def __init__(self, handle, path: Path):
        super().__init__(handle)
        self.path = path


def read_pdparams(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.pdparams`` file by parameter name, without running anything it contains."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            state = _StateDictUnpickler(handle, path).load()
    except TrtbenchError:
        raise
    except OSError as exc:
        raise TrtbenchError(f"cannot read weights file {path}: {exc.strerror}") from None
    except Exception as exc:  # a truncated or foreign file fails in many ways inside pickle
        raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): {type(exc).__name__}") from None
    if not isinstance(state, dict) or not state:
        raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): it holds {type(state).__name__}")
    arrays = {}
    for key, value in state.items():
        if key == PADDLE_NAME_TABLE and isinstance(value, dict):
            continue  # Paddle's own table of structured to parameter names, dropped as paddle.load does
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
            value = value[1]  # Paddle 2.x: (tensor name, array)
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): entry {key!r} is "
                                f"{type(value).__name__}, not an array")
        arrays[key] = value
    return arrays
