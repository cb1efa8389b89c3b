"""Weights files are data, never code: a PaddleClas ``.pdparams`` is read by an unpickler that admits
only what a Paddle state dict holds (numpy arrays, their dtypes, plain containers) and refuses any
other global by name, so a file that would run a command when unpickled is refused instead."""

from __future__ import annotations

import pickle
import pickletools
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


#: opcodes that add items to the container below them on the stack instead of making a new one
_FILLS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})


def _check_nesting(handle, path: Path) -> None:
    """Refuse a pickle whose objects nest deeper than MAX_NESTING, read from its opcodes alone
    (nothing is built): each item on the pickle's stack carries the depth of what it holds."""
    stack: list[int | None] = []  # None: a mark
    memo: dict[int, int] = {}
    for opcode, arg, _ in pickletools.genops(handle):
        before, after = opcode.stack_before, opcode.stack_after
        popped: list[int] = []
        if pickletools.markobject in before:  # pops the items above the last mark, then the mark
            while stack and stack[-1] is not None:
                popped.append(stack.pop() or 0)
            if stack:
                stack.pop()
        for _ in [item for item in before if item not in (pickletools.markobject, pickletools.stackslice)]:
            if stack and stack[-1] is not None:
                popped.append(stack.pop() or 0)
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if arg is None else int(arg)] = (stack[-1] or 0) if stack else 0
        if opcode.name in ("GET", "BINGET", "LONG_BINGET"):
            depth = memo.get(arg if isinstance(arg, int) else -1, 0)
        elif opcode.name in _FILLS and popped:
            # items added to a container already built: it holds them one level down, however many
            # batches they come in (popped runs top first, so the container is last)
            *items, container = popped
            depth = max(container, max(items, default=-1) + 1)
        else:
            depth = max(popped, default=-1) + 1
        if depth > MAX_NESTING:
            raise TrtbenchError(f"{path} is refused: its data nests more than {MAX_NESTING} levels deep, which a "
                                "Paddle state dict never does; use PaddleClas's own .pdparams")
        for item in after:
            stack.append(None if item is pickletools.markobject else depth)


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


#: how deep a state dict's pickle may nest (a dict of (name, array) tuples nests under 10); a file
#: that nests 200,000 tuples would crash Python itself when the dict hashes its key
MAX_NESTING = 100


def _why_unreadable(path: Path, exc: Exception) -> str:
    """Why pickle could not read the file, in a user's words (pickle's own say 'opcode' and 'STOP')."""
    try:
        if path.stat().st_size == 0:
            return "the file is empty"
    except OSError:
        pass
    if isinstance(exc, EOFError) or any(word in str(exc) for word in ("exhausted", "truncated", "remain")):
        return "the file ends early (cut short while copied or downloaded?)"
    return "it is not in the format paddle.save writes (a text file, an archive, another format?)"


def read_pdparams(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.pdparams`` file by parameter name, without running anything it contains."""
    from trtbench.store.artifacts import NotAFile, open_regular

    path = Path(path)
    try:
        with open_regular(path) as handle:
            _check_nesting(handle, path)
            handle.seek(0)
            state = _StateDictUnpickler(handle, path).load()
    except TrtbenchError:
        raise
    except NotAFile:
        raise TrtbenchError(f"weights file {path} is not a regular file") from None
    except OSError as exc:
        raise TrtbenchError(f"cannot read weights file {path}: {exc.strerror}") from None
    except Exception as exc:  # a truncated or foreign file fails in many ways inside pickle
        raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): {_why_unreadable(path, exc)}; "
                            "give the .pdparams file PaddleClas publishes") from None
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
        if value.dtype.hasobject:
            raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): entry {key!r} is an array of "
                                "Python objects, not of numbers")
        arrays[key] = value
    return arrays
