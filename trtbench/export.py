"""Paddle -> ONNX: build a variant, load its weights, export with paddle2onnx, check parity."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench import artifacts, envinfo
from trtbench.artifacts import sha256_file
from trtbench.errors import TrtbenchError
from trtbench.inputs import PARITY_SEED, seeded_input
from trtbench.lazy import import_paddle
from trtbench.zoo import INPUT_SHAPE, Variant

OPSET_RANGE = (7, 21)  # what paddle2onnx 2.1 exports; it aborts the process above 21
DEFAULT_OPSET = 17
DEFAULT_SEED = 0
PARITY_TOLERANCE = 1e-4  # max |onnx - paddle| / max |paddle|
PARITY_BATCH = 2
EXPORT_KIND = "export"


@dataclass
class ExportResult:
    """What ``export_variant`` produced or found already up to date."""

    variant: str
    onnx_path: Path
    metadata: dict
    skipped: bool  # True when an up-to-date export was reused


def onnx_path(output_dir: Path, name: str) -> Path:
    """Where the ONNX file of variant ``name`` lives."""
    return Path(output_dir) / f"{name}.onnx"


def check_opset(opset: int) -> None:
    """Reject an opset paddle2onnx cannot export (it would abort the process)."""
    low, high = OPSET_RANGE
    if not low <= opset <= high:
        raise TrtbenchError(f"opset {opset} is not supported by paddle2onnx: choose {low}..{high} "
                            f"(default {DEFAULT_OPSET})")


def weights_source(weights: Path | None, seed: int) -> dict:
    """How the weights of an export are identified: a file and its sha256, or a random seed."""
    if weights is None:
        return {"kind": "random", "seed": seed, "description": f"random init, seed {seed}"}
    path = Path(weights)
    if not path.is_file():
        raise TrtbenchError(f"weights file not found: {path}")
    return {"kind": "file", "path": str(path.resolve()), "sha256": sha256_file(path),
            "description": path.name}


def ensure_writable_dir(directory: Path) -> Path:
    """Create ``directory`` if needed and make sure files can be written there."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtbenchError(f"cannot create output directory {directory}: {exc.strerror}; "
                            "choose another with --output-dir") from None
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise TrtbenchError(f"output directory {directory} is not writable; choose another with --output-dir")
    return directory


def export_metadata(artifact: artifacts.Artifact) -> dict:
    """An export's facts in one flat dict: its key (variant, opset, weights, versions), what export
    recorded (input, counts, parity) and the ONNX file's sha256."""
    return {**artifact.key, **artifact.info, "onnx_sha256": artifact.sha256}


def existing_export(model_path: Path) -> dict | None:
    """The metadata of a valid export at ``model_path`` (its file matches its recorded sha256), else None."""
    found = artifacts.valid(model_path, EXPORT_KIND)
    return export_metadata(found) if found is not None else None


def ensure_exported(variant: Variant, output_dir: Path) -> ExportResult:
    """The variant's export in ``output_dir`` whatever its weights; exported with defaults if missing."""
    path = onnx_path(output_dir, variant.name)
    found = artifacts.valid(path, EXPORT_KIND)
    if found is not None and found.key.get("variant") == variant.name:
        return ExportResult(variant.name, path, export_metadata(found), skipped=True)
    return export_variant(variant, output_dir)


def export_variant(variant: Variant, output_dir: Path, weights: Path | None = None,
                   opset: int = DEFAULT_OPSET, force: bool = False, verify: bool = True,
                   seed: int = DEFAULT_SEED) -> ExportResult:
    """Export ``variant`` to OUTPUT_DIR/NAME.onnx unless an identical export is already there."""
    check_opset(opset)
    source = weights_source(weights, seed)
    output_dir = ensure_writable_dir(output_dir)
    key = {"variant": variant.name, "opset": opset, "weights": source,
           "versions": envinfo.versions(envinfo.EXPORT_PACKAGES)}

    def unchecked(found: artifacts.Artifact) -> str | None:
        return "its parity was not checked" if verify and not found.info.get("parity", {}).get("checked") else None

    made = artifacts.ensure(onnx_path(output_dir, variant.name), EXPORT_KIND, key,
                            lambda tmp: _export(variant, weights, seed, opset, verify, tmp),
                            usable=unchecked, force=force)
    return ExportResult(variant.name, made.path, export_metadata(made), skipped=not made.made)


def _export(variant: Variant, weights: Path | None, seed: int, opset: int, verify: bool, target: Path) -> dict:
    """Paddle -> ONNX at ``target``, passes, checker and parity; what it found, for the metadata."""
    started = time.perf_counter()
    model = _paddle_model(variant, weights, seed)
    import onnx

    from trtbench import graph

    # Paddle's reference output, taken before to_static turns the layer into a static program.
    expected = _paddle_output(model) if verify else None
    _paddle_to_onnx(model, target, opset)
    proto = onnx.load(str(target))
    graph.constants_to_initializers(proto)
    graph.name_batch_dimension(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))
    parity = _parity(expected, target) if expected is not None else {"checked": False}
    if verify and not parity["max_rel_error"] <= PARITY_TOLERANCE:
        raise TrtbenchError(
            f"{variant.name}: ONNX Runtime and Paddle disagree (relative error "
            f"{parity['max_rel_error']:.2e} > {PARITY_TOLERANCE:.0e}); the export is not kept")
    counts = graph.count(proto)
    input_name, input_dims = graph.input_shape(proto)
    return {
        "input": {"name": input_name, "shape": input_dims},
        "macs": counts.macs,
        "flops_g": round(counts.flops_g, 4),
        "params": counts.params,
        "parity": parity,
        "export_seconds": round(time.perf_counter() - started, 2),
    }


def _paddle_model(variant: Variant, weights: Path | None, seed: int):
    """The variant's Paddle layer with file weights or deterministic random ones."""
    import_paddle()
    from trtbench.architectures import build_model, random_state_dict

    model = build_model(variant)
    state = load_state_dict(weights, model, variant.name) if weights else random_state_dict(model, seed)
    model.set_state_dict(state)  # type: ignore[arg-type]  # Paddle takes numpy arrays as well as Tensors
    return model


def load_state_dict(path: Path, model, name: str) -> dict:
    """A .pdparams file as a state dict, checked key by key and shape by shape against ``model``."""
    paddle = import_paddle()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = paddle.load(str(path))
    except Exception as exc:  # paddle raises many types for a file that is not its own
        raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): {type(exc).__name__}") from None
    if not isinstance(state, dict) or not state:
        raise TrtbenchError(f"{path} is not a Paddle state dict (.pdparams): it holds {type(state).__name__}")
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [f"{key} {tuple(np.shape(state[key]))} != {expected[key]}"
             for key in expected if key in state and tuple(np.shape(state[key])) != expected[key]]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}")
        if wrong:
            parts.append(f"shape {'; '.join(wrong[:3])}")
        raise TrtbenchError(f"{path} does not fit {name}: {' | '.join(parts)}")
    return {key: np.asarray(state[key], dtype=np.float32) for key in expected}


@contextlib.contextmanager
def _captured_native_output():
    """Send what C++ code prints on stdout/stderr to a buffer; yields a function reading it."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)

        def read() -> str:
            log.seek(0)
            return log.read().decode("utf-8", "replace")

        try:
            yield read
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _paddle_to_onnx(model, target: Path, opset: int) -> None:
    """paddle.jit.save the layer, then paddle2onnx in-process (the CLI costs ~30 s a call)."""
    paddle = import_paddle()
    import paddle2onnx

    spec = [paddle.static.InputSpec([None, *INPUT_SHAPE], "float32", "x")]
    with tempfile.TemporaryDirectory() as work, _captured_native_output() as log:
        prefix = os.path.join(work, "model")
        try:
            static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
            paddle.jit.save(static, prefix)
            # paddle2onnx's own optimizer (polygraphy) takes minutes on deep models;
            # trtbench's graph pass does the little that is needed instead.
            paddle2onnx.export(prefix + ".json", prefix + ".pdiparams", save_file=str(target),
                               opset_version=opset, auto_upgrade_opset=False, enable_optimize=False,
                               enable_onnx_checker=False)
        except Exception as exc:
            detail = _last_error_line(log()) or f"{type(exc).__name__}: {exc}"
            raise TrtbenchError(f"paddle2onnx failed: {detail}") from None
    if not target.is_file() or target.stat().st_size == 0:
        raise TrtbenchError("paddle2onnx failed: it wrote no model")


def _last_error_line(text: str) -> str:
    """The last line of native output that looks like an error."""
    lines = [line.strip() for line in text.splitlines() if "error" in line.lower()]
    return lines[-1] if lines else ""


def parity_input() -> np.ndarray:
    """The seeded input on which ONNX and Paddle outputs are compared."""
    return seeded_input(PARITY_BATCH, PARITY_SEED)


def _paddle_output(model) -> np.ndarray:
    """Paddle's own forward pass on the parity input."""
    paddle = import_paddle()
    with paddle.no_grad():
        return model(paddle.to_tensor(parity_input())).numpy()


def _parity(expected: np.ndarray, path: Path) -> dict:
    """Compare ONNX Runtime on ``path`` with Paddle's output on the same input."""
    import onnxruntime as ort

    data = parity_input()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: data})[0]
    abs_error = float(np.max(np.abs(got - expected)))
    return {"checked": True, "batch": PARITY_BATCH, "max_abs_error": abs_error,
            "max_rel_error": abs_error / float(np.max(np.abs(expected))),
            "top1_agree": bool(np.array_equal(got.argmax(1), expected.argmax(1)))}
