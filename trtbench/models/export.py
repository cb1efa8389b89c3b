"""Paddle -> ONNX: build a variant, load its weights, export with paddle2onnx, check parity.

The program paddle.jit.save writes on the way (the Paddle inference model, which paddle2onnx
converts) is kept beside the ONNX graph for the paddle-inference backend: two artifacts of kind
``paddle-inference``, ``NAME.paddle.json`` and ``NAME.paddle.pdiparams``, keyed by the export's key
and the ONNX graph's sha256, so they are valid only beside the graph they were made with.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench import envinfo, interrupt
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE, PARITY_SEED, seeded_input
from trtbench.lazy import import_paddle
from trtbench.models.counts import architecture_counts
from trtbench.models.zoo import Variant, get_variant
from trtbench.store import artifacts
from trtbench.store.artifacts import sha256_file

#: the opsets offered: paddle2onnx 2.1 aborts the process above 21, and below 9 it writes ONNX IR 3
#: (weights as Constant nodes, which IR 3 allows as initializers only when they are also graph
#: inputs), while TensorRT's ONNX parser supports opset 9 and later
OPSET_RANGE = (9, 21)
DEFAULT_OPSET = 17
DEFAULT_SEED = 0
PARITY_TOLERANCE = 1e-4  # max |onnx - paddle| / max |paddle|
PARITY_BATCH = 2
EXPORT_KIND = "export"
PADDLE_KIND = "paddle-inference"
#: the ONNX metadata property in which an export names the weights it holds (kind, file name and
#: sha256, or seed): the graph says so itself even when its metadata file is lost or damaged
WEIGHTS_PROPERTY = "trtbench.models.weights"
#: the export metadata's record that its graph was counted as the variant it claims (``graph_check``)
GRAPH_CHECK = "graph_check"


@dataclass
class ExportResult:
    """What ``export_variant`` produced or found already up to date."""

    variant: str
    onnx_path: Path
    metadata: dict
    skipped: bool  # True when an up-to-date export was reused
    paddle_model: tuple[Path, Path] | None = None  # the Paddle inference model: program, parameters


def onnx_path(output_dir: Path, name: str) -> Path:
    """Where the ONNX file of variant ``name`` lives."""
    return Path(output_dir) / f"{name}.onnx"


def paddle_model_paths(onnx: Path) -> tuple[Path, Path]:
    """Where the Paddle inference model of the export at ``onnx`` lives: its program (PIR JSON;
    Paddle reads a program as PIR when its name ends in .json) and its parameters."""
    onnx = Path(onnx)
    return onnx.with_suffix(".paddle.json"), onnx.with_suffix(".paddle.pdiparams")


def check_opset(opset: int) -> None:
    """Reject an opset outside ``OPSET_RANGE``, before any work, saying why."""
    low, high = OPSET_RANGE
    if opset > high:
        raise TrtbenchError(f"opset {opset} is not supported by paddle2onnx: choose {low}..{high} "
                            f"(default {DEFAULT_OPSET})")
    if opset < low:
        raise TrtbenchError(f"opset {opset} is not offered: choose {low}..{high} (default {DEFAULT_OPSET}); "
                            f"below {low} paddle2onnx writes the old ONNX IR 3 and TensorRT's ONNX parser "
                            f"supports opset {low} and later")


#: the seeds --seed takes: numpy's 32-bit seed range, what other tools' seeds fit in as well
SEED_RANGE = (0, 2**32 - 1)


def check_seed(seed: int) -> None:
    """Reject a random-weights seed outside ``SEED_RANGE``, before any work, in the user's words."""
    low, high = SEED_RANGE
    if not low <= seed <= high:
        size = "negative" if seed < low else "too large"
        raise TrtbenchError(f"seed {seed} is {size}: give a whole number from {low} to {high}")


def weights_source(weights: Path | None, seed: int) -> dict:
    """How the weights of an export are identified: a file and its sha256, or a random seed."""
    if weights is None:
        return {"kind": "random", "seed": seed, "description": f"random init, seed {seed}"}
    path = Path(weights)
    if not path.exists():
        raise TrtbenchError(f"weights file not found: {path}")
    if not path.is_file():
        raise TrtbenchError(f"--weights {path} is not a regular file: give a PaddleClas .pdparams file")
    return {"kind": "file", "path": str(path.resolve()), "sha256": sha256_file(path),
            "description": path.name}


def ensure_writable_dir(directory: Path, option: str = "--output-dir") -> Path:
    """Create ``directory`` if needed and make sure files can be written there; errors name ``option``."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtbenchError(f"cannot create directory {directory}: {exc.strerror}; choose another with {option}") \
            from None
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise TrtbenchError(f"directory {directory} is not writable; choose another with {option}")
    return directory


def export_metadata(artifact: artifacts.Artifact) -> dict:
    """An export's facts in one flat dict: its key (variant, opset, weights, versions), what export
    recorded (input, counts, parity) and the ONNX file's sha256."""
    return {**artifact.key, **artifact.info, "onnx_sha256": artifact.sha256}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def weights_problem(source) -> str | None:
    """What is wrong with a recorded weights source (``weights_source``'s form), or None."""
    if not isinstance(source, dict) or not isinstance(source.get("description"), str):
        return "weights is not a weights record"
    if source.get("kind") == "random":
        return None if isinstance(source.get("seed"), int) else "weights seed is not a whole number"
    if source.get("kind") == "file":
        fields_ok = isinstance(source.get("path"), str) and isinstance(source.get("sha256"), str)
        return None if fields_ok else "weights file path or sha256 is missing"
    return "weights kind is neither file nor random"


def export_metadata_problem(meta: dict) -> str | None:
    """What makes an export's metadata unusable (a hand edit, a damaged file), or None: the one place
    where the fields every reader of an export relies on are checked for their types."""
    key, info = meta["key"], meta["info"]
    parity, shape = info.get("parity"), info.get("input")
    checks = (
        (isinstance(key.get("variant"), str), "variant is not a name"),
        (_whole(key.get("opset")), "opset is not a whole number"),
        (isinstance(key.get("versions"), dict), "versions is not an object"),
        (_whole(info.get("macs")), "macs is not a whole number"),
        (_whole(info.get("params")), "params is not a whole number"),
        (_number(info.get("flops_g")), "flops_g is not a number"),
        (_number(info.get("export_seconds")), "export_seconds is not a number"),
        (isinstance(shape, dict) and isinstance(shape.get("name"), str) and isinstance(shape.get("shape"), list),
         "input is not a name and a shape"),
        (isinstance(parity, dict) and isinstance(parity.get("checked"), bool)
         and (not parity["checked"] or _number(parity.get("max_rel_error"))), "parity is not a parity record"),
    )
    problem = next((why for ok, why in checks if not ok), None)
    return problem or weights_problem(key.get("weights"))


artifacts.declare(EXPORT_KIND, export_metadata_problem)


def existing_export(model_path: Path) -> dict | None:
    """The metadata of a valid export at ``model_path`` (its file matches its recorded sha256), else None."""
    found = artifacts.valid(model_path, EXPORT_KIND)
    return export_metadata(found) if found is not None else None


def ensure_exported(variant: Variant, output_dir: Path) -> ExportResult:
    """The variant's export in ``output_dir`` whatever its weights; exported with defaults (random
    weights) when there is none.

    An ONNX file that is there but is not a valid export (its metadata is damaged, missing, or does
    not match it) counts as absent only when it is known to hold random weights, or is not a model at
    all. One made from a weights file, or one whose weights cannot be told, is a one-line error
    saying how to export it again: a run never silently swaps pretrained weights for random ones.
    """
    path = onnx_path(output_dir, variant.name)
    found = artifacts.valid(path, EXPORT_KIND)
    if found is not None and found.key.get("variant") == variant.name:
        problem = claimed_variant_problem(found, variant)
        if problem is not None:
            raise TrtbenchError(f"{problem}: it is not timed under that name; export it again with `trtbench "
                                f"export {variant.name} --force` (with --weights FILE for pretrained weights)")
        _remember_graph_check(found, variant)
        # The Paddle model is not asked for here: only the paddle-inference backend needs it
        # (paddle_model_for makes it for an export that predates it), so an ONNX-only run never
        # depends on the weights file being where it was at export time.
        return ExportResult(variant.name, path, export_metadata(found), skipped=True)
    if found is None and path.is_file():
        _refuse_to_replace_unless_random(path, variant)
    return export_variant(variant, output_dir)


def graph_check(variant: Variant) -> dict:
    """What an export's graph must hold to be ``variant``: its convolutions and trainable parameters,
    worked out from the architecture (``counts``). An export records it once its graph was counted."""
    expected = architecture_counts(variant)
    return {"variant": variant.name, "convs": expected.convs, "params": expected.params}


def claimed_variant_problem(found: artifacts.Artifact, variant: Variant) -> str | None:
    """Why the export ``found`` is not ``variant`` as its metadata claims, or None. Its graph is counted
    only when its metadata does not already record this check: once per export file (its sha256)."""
    expected = graph_check(variant)
    if found.info.get(GRAPH_CHECK) == expected:
        return None
    import onnx

    from trtbench.graphs import graph

    try:
        counts = graph.count(onnx.load(str(found.path)))
    except Exception as exc:  # not a readable graph: onnx and shape inference raise several types
        return f"{found.path} claims to be {variant.name} but its graph cannot be read ({type(exc).__name__})"
    if (counts.convs, counts.params) == (expected["convs"], expected["params"]):
        return None
    return (f"{found.path} claims to be {variant.name} but its graph is not: {counts.convs} convolutions and "
            f"{counts.params:,} parameters, where {variant.name} has {expected['convs']} and {expected['params']:,}")


def _remember_graph_check(found: artifacts.Artifact, variant: Variant) -> None:
    """Record in the export's metadata that its graph was counted as ``variant`` (so later runs do not
    count it again), under the export's lock and only while the metadata still describes that file.
    A folder that cannot be written to is left as it is: the graph is counted again next time."""
    expected = graph_check(variant)
    if found.info.get(GRAPH_CHECK) == expected:
        return
    from filelock import FileLock

    meta_file = artifacts.metadata_path(found.path)
    try:
        with FileLock(str(artifacts.lock_path(found.path))):
            meta = artifacts.read_metadata(found.path, EXPORT_KIND)
            if meta is None or meta["sha256"] != found.sha256:
                return  # replaced meanwhile: its own graph is checked when it is used
            meta["info"][GRAPH_CHECK] = expected
            artifacts.atomic_write_json(meta_file, meta)
    except (OSError, TrtbenchError):
        return


def _refuse_to_replace_unless_random(path: Path, variant: Variant) -> None:
    """Raise the one-line error of ``ensure_exported`` unless the file at ``path`` may be replaced."""
    held = _held_weights(path)
    if held is not None and held["kind"] in ("random", "none"):
        return
    why = artifacts.why_not_reusable(path, EXPORT_KIND, {}) or "it is not a valid export"
    if held is not None:
        raise TrtbenchError(f"{path} holds {variant.name} exported from the weights {held['description']}, but {why}; "
                            f"export it again with `trtbench export {variant.name} --weights FILE --force`")
    raise TrtbenchError(f"{path} is not a valid export ({why}) and its weights cannot be told; export it again "
                        f"with `trtbench export {variant.name} --force` (with --weights FILE for pretrained weights)")


def _held_weights(path: Path) -> dict | None:
    """The weights the ONNX file at ``path`` holds, as its export recorded them: in the file itself,
    else in its metadata when that much is readable and the file's sha256 still matches it;
    ``{"kind": "none"}`` when the file is not a model at all; None when nothing tells."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not a protobuf at all: onnx raises several types
        return {"kind": "none"}
    if not model.graph.node:
        return {"kind": "none"}
    recorded = next((prop.value for prop in model.metadata_props if prop.key == WEIGHTS_PROPERTY), None)
    try:
        source = json.loads(recorded) if recorded is not None else None
    except ValueError:
        source = None
    if isinstance(source, dict) and source.get("kind") in ("random", "file") \
            and isinstance(source.get("description"), str):
        return source
    meta = artifacts.read_json(artifacts.metadata_path(path))
    if not isinstance(meta, dict) or meta.get("sha256") != artifacts.current_sha256(path):
        return None
    source = meta.get("key", {}).get("weights") if isinstance(meta.get("key"), dict) else None
    return source if weights_problem(source) is None else None


def export_variant(variant: Variant, output_dir: Path, weights: Path | None = None,
                   opset: int = DEFAULT_OPSET, force: bool = False, verify: bool = True,
                   seed: int = DEFAULT_SEED) -> ExportResult:
    """Export ``variant`` to OUTPUT_DIR/NAME.onnx unless an identical export is already there."""
    check_opset(opset)
    check_seed(seed)
    source = weights_source(weights, seed)
    output_dir = ensure_writable_dir(output_dir)
    key = {"variant": variant.name, "opset": opset, "weights": source,
           "versions": envinfo.versions(envinfo.EXPORT_PACKAGES)}

    def unchecked(found: artifacts.Artifact) -> str | None:
        if verify and not found.info.get("parity", {}).get("checked"):
            return "its parity was not checked"
        return claimed_variant_problem(found, variant)

    remove_stale_paddle_temporaries()
    with artifacts.scratch_dir("export") as work:
        saved = work / "model"
        made = artifacts.ensure(onnx_path(output_dir, variant.name), EXPORT_KIND, key,
                                lambda tmp: _export(variant, weights, source, opset, verify, tmp, saved),
                                usable=unchecked, force=force)
        # The Paddle model is stored only once the graph made from the same paddle.jit.save is in
        # place: a failed export leaves the previous graph and Paddle model as they were.
        paddle_model = _ensure_paddle_model(made, saved if made.made else None)
    if not made.made:
        _remember_graph_check(made, variant)
    return ExportResult(variant.name, made.path, export_metadata(made), skipped=not made.made,
                        paddle_model=paddle_model)


def paddle_model_for(onnx: Path) -> tuple[Path, Path]:
    """The Paddle inference model (program, parameters) of the export at ``onnx``, made now when it
    is missing or was not made with that graph (an export made before it was kept)."""
    found = artifacts.valid(Path(onnx), EXPORT_KIND)
    if found is None:
        raise TrtbenchError(f"{onnx} is not a valid trtbench export (missing, changed, or not made by "
                            "`trtbench export`): export the model again")
    return _ensure_paddle_model(found)


def _ensure_paddle_model(export: artifacts.Artifact, saved: Path | None = None) -> tuple[Path, Path]:
    """The Paddle model beside ``export``: stored from ``saved`` (the prefix paddle.jit.save wrote
    for this very export), else reused when valid for it, else saved again from the export's weights."""
    program, params = paddle_model_paths(export.path)
    key = {"export": export.key, "onnx_sha256": export.sha256}
    if saved is not None:
        return _store_paddle_model(saved, program, params, key, {"saved_with_export": True})
    if _paddle_model_valid(program, params, key):
        return program, params
    variant = get_variant(export.key["variant"])
    model = _paddle_model(variant, *_recorded_weights(export, variant))
    # Made again from the recorded weights, it must compute what the export's graph computes.
    parity = _parity(_paddle_output(model), export.path)
    if not parity["max_rel_error"] <= PARITY_TOLERANCE:
        raise TrtbenchError(f"{variant.name}: the Paddle model made again from the weights recorded for "
                            f"{export.path.name} disagrees with that graph (relative error "
                            f"{parity['max_rel_error']:.2e}); export it again with --force")
    remove_stale_paddle_temporaries()
    with artifacts.scratch_dir("paddle") as work:
        saved = work / "model"
        with captured_native_output() as log:
            try:
                _paddle_save(model, saved)
            except Exception as exc:  # Paddle raises many types; the native log usually says more
                raise native_failure("paddle.jit.save", exc, log()) from None
        return _store_paddle_model(saved, program, params, key, {"saved_with_export": False, "parity": parity})


def _paddle_model_valid(program: Path, params: Path, key: dict) -> bool:
    """Whether both files are valid for ``key`` and the program was stored with these parameters."""
    found = artifacts.valid(params, PADDLE_KIND)
    if found is None or artifacts.why_not_reusable(params, PADDLE_KIND, key) is not None:
        return False
    return artifacts.why_not_reusable(program, PADDLE_KIND, {**key, "params_sha256": found.sha256}) is None


def _store_paddle_model(saved: Path, program: Path, params: Path, key: dict, info: dict) -> tuple[Path, Path]:
    """Copy what paddle.jit.save wrote at prefix ``saved`` into the two artifacts, parameters first.

    The program's key names the parameters' sha256: a program and parameters from two different
    saves (two processes at once, or a crash between the two) are never a valid pair.
    """
    info = {**info, "paddlepaddle": envinfo.package_version("paddlepaddle")}

    def copy(source: Path):
        def make(tmp: Path) -> dict:
            shutil.copyfile(source, tmp)
            return info
        return make

    stored = artifacts.ensure(params, PADDLE_KIND, key, copy(Path(f"{saved}.pdiparams")), force=True)
    artifacts.ensure(program, PADDLE_KIND, {**key, "params_sha256": stored.sha256}, copy(Path(f"{saved}.json")),
                     force=True)
    return program, params


def _recorded_weights(export: artifacts.Artifact, variant: Variant) -> tuple[Path | None, int]:
    """The weights an export was made from, as ``_paddle_model`` takes them: (file, seed)."""
    source = export.key.get("weights") or {}
    if source.get("kind") != "file":
        return None, int(source.get("seed", DEFAULT_SEED))
    path = Path(source["path"])
    if not path.is_file() or sha256_file(path) != source.get("sha256"):
        raise TrtbenchError(f"{variant.name}: the Paddle model beside {export.path} is missing and cannot be made "
                            f"again: the weights file it was exported from ({path}) is gone or changed; export it "
                            f"again with `trtbench export {variant.name} --weights FILE --force`")
    return path, DEFAULT_SEED


def _export(variant: Variant, weights: Path | None, source: dict, opset: int, verify: bool, target: Path,
            saved: Path) -> dict:
    """Paddle -> ONNX at ``target`` (the Paddle program saved at prefix ``saved`` on the way),
    passes, checker and parity; what it found, for the metadata. The graph names the weights it
    holds (``WEIGHTS_PROPERTY``; the file's name, not its path)."""
    started = time.perf_counter()
    model = _paddle_model(variant, weights, source.get("seed", DEFAULT_SEED))
    import onnx

    from trtbench.graphs import graph

    # Paddle's reference output, taken before to_static turns the layer into a static program.
    expected = _paddle_output(model) if verify else None
    _paddle_to_onnx(model, target, opset, saved)
    proto = onnx.load(str(target))
    graph.constants_to_initializers(proto)
    graph.name_batch_dimension(proto)
    held = {name: source[name] for name in ("kind", "description", "seed", "sha256") if name in source}
    onnx.helper.set_model_props(proto, {WEIGHTS_PROPERTY: json.dumps(held)})
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))
    parity = _parity(expected, target) if expected is not None else {"checked": False}
    if verify and not parity["max_rel_error"] <= PARITY_TOLERANCE:
        raise TrtbenchError(
            f"{variant.name}: ONNX Runtime and Paddle disagree (relative error "
            f"{parity['max_rel_error']:.2e} > {PARITY_TOLERANCE:.0e}); the export is not kept")
    counts = graph.count(proto)
    input_name, input_dims = graph.input_shape(proto)
    claimed = graph_check(variant)
    return {
        "input": {"name": input_name, "shape": input_dims},
        "macs": counts.macs,
        "flops_g": round(counts.flops_g, 4),
        "params": counts.params,
        "convs": counts.convs,
        "parity": parity,
        "export_seconds": round(time.perf_counter() - started, 2),
        # counted from the graph just made: recorded only where it is the variant (see claimed_variant_problem)
        **({GRAPH_CHECK: claimed} if (counts.convs, counts.params) == (claimed["convs"], claimed["params"]) else {}),
    }


def _paddle_model(variant: Variant, weights: Path | None, seed: int):
    """The variant's Paddle layer with file weights or deterministic random ones."""
    import_paddle()
    from trtbench.models.architectures import build_model, random_state_dict

    model = build_model(variant)
    state = load_state_dict(weights, model, variant.name) if weights else random_state_dict(model, seed)
    model.set_state_dict(state)  # type: ignore[arg-type]  # Paddle takes numpy arrays as well as Tensors
    return model


def load_state_dict(path: Path, model, name: str) -> dict:
    """A .pdparams file as a state dict, checked key by key and shape by shape against ``model``.

    Read as data (trtbench.models.weights): a file whose pickle would run code is refused, not loaded.
    """
    from trtbench.models.weights import read_pdparams

    state = read_pdparams(Path(path))
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
    arrays = {key: np.asarray(state[key], dtype=np.float32) for key in expected}
    broken = [key for key, value in arrays.items() if not np.isfinite(value).all()]
    if broken:
        raise TrtbenchError(f"{path} holds NaN or infinite values (in {', '.join(broken[:3])}"
                            f"{', ...' if len(broken) > 3 else ''}): these are not usable weights")
    return arrays


@contextlib.contextmanager
def captured_native_output():
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


def _paddle_save(model, prefix: Path) -> None:
    """paddle.jit.save the layer with a dynamic batch: PREFIX.json (the PIR program) and PREFIX.pdiparams."""
    paddle = import_paddle()
    spec = [paddle.static.InputSpec([None, *INPUT_SHAPE], "float32", "x")]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    paddle.jit.save(static, str(prefix))
    for suffix in (".json", ".pdiparams"):
        if not Path(f"{prefix}{suffix}").is_file():
            raise RuntimeError(f"paddle.jit.save wrote no {suffix} file (Paddle 3 writes a PIR program)")


def _paddle_to_onnx(model, target: Path, opset: int, saved: Path) -> None:
    """paddle.jit.save the layer at prefix ``saved``, then paddle2onnx in-process (the CLI costs
    ~30 s a call)."""
    import paddle2onnx

    with captured_native_output() as log:
        prefix = str(saved)
        try:
            _paddle_save(model, saved)
            # paddle2onnx's own optimizer (polygraphy) takes minutes on deep models;
            # trtbench's graph pass does the little that is needed instead. Its constant folding
            # runs unless optimize_tool names neither "polygraphy" nor "onnxoptimizer": it adds 1.5 s
            # to ResNet50_vd's export, leaves the same graph, and sets POLYGRAPHY_AUTOINSTALL_DEPS,
            # so Polygraphy pip-installs what it lacks into the environment while trtbench runs.
            paddle2onnx.export(prefix + ".json", prefix + ".pdiparams", save_file=str(target),
                               opset_version=opset, auto_upgrade_opset=False, enable_optimize=False,
                               enable_onnx_checker=False, optimize_tool="none")
        except Exception as exc:
            raise native_failure("paddle2onnx", exc, log()) from None
    if not target.is_file() or target.stat().st_size == 0:
        raise TrtbenchError("paddle2onnx failed: it wrote no model")


def native_failure(what: str, exc: Exception, log: str) -> BaseException:
    """What to raise when ``what`` (paddle2onnx, paddle.jit.save) failed with ``exc``: the user's stop
    when Ctrl-C or SIGTERM came (native code turns the KeyboardInterrupt raised inside it into an
    error of its own), else one line, the native log's last error where there is one."""
    if interrupt.requested():
        return interrupt.Interrupted()
    full = [line for line in _plain(log).splitlines() if "No space left on device" in line or "[Errno 28]" in line]
    if full or "No space left on device" in str(exc):
        return TrtbenchError(f"{what} failed: no space left on the disk it writes to (the export folder or the "
                             "system's temporary folder); free space or choose another --output-dir")
    detail = last_error_line(log) or f"{type(exc).__name__}: {exc}"
    return TrtbenchError(f"{what} failed: {detail}")


def last_error_line(text: str) -> str:
    """The last line of native output that looks like an error (terminal colour codes left out)."""
    lines = [line.strip() for line in _plain(text).splitlines() if "error" in line.lower()]
    return lines[-1] if lines else ""


def _plain(text: str) -> str:
    """``text`` without terminal colour codes (ESC [ ... m)."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def remove_stale_paddle_temporaries() -> None:
    """Remove Paddle's to_static folders (~/.cache/paddle/to_static_tmp/PID) of processes that no
    longer run: Paddle removes its own at exit, which a killed process never reaches."""
    folder = Path(os.path.expanduser("~/.cache")) / "paddle" / "to_static_tmp"
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.isdigit() and not artifacts.process_alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)


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
    scale = float(np.max(np.abs(expected)))
    # all-zero outputs (all-zero weights) have no scale: then the error is relative to 1
    return {"checked": True, "batch": PARITY_BATCH, "max_abs_error": abs_error,
            "max_rel_error": abs_error / scale if scale > 0 else abs_error,
            "top1_agree": bool(np.array_equal(got.argmax(1), expected.argmax(1)))}
