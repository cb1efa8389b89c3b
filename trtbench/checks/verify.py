"""Is the fast engine still the same model? Compare it with Paddle's own forward pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input
from trtbench.store.artifacts import sha256_file

# Defaults per precision. FP32 must match closely; reduced precisions are judged on what a user
# of a classifier sees: the direction of the logits (cosine) and the predicted classes. Both pass
# when the logits barely depend on the input (random weights: the batch mean repeated scores cosine
# 0.9998 and top-1 87.5% on ResNet18), so every precision is also judged on the centred cosine: how
# each input's logits depart from the reference's batch mean, against the reference's own departure.
# An output that ignores its input scores 0; two classes swapped 0.16 to 0.4 (the two with the
# nearest logits score higher, and top-1 agreement catches them). Least over 8 seeded inputs,
# seeded random weights, OpenVINO, ONNX Runtime and Paddle Inference on a Xeon with AMX:
# fp32 1.0 everywhere; ResNet18 / 34 / 50: fp16 0.999 / 0.999 / 0.998, bf16 0.98 / 0.96 / 0.95,
# int8 0.89 / 0.82 / 0.69 (ResNet101 0.44, a 4-layer residual graph 0.45); the thresholds sit below.
# Where random weights leave the logits moving by less than a precision's own error, no engine can
# be told from one that ignores its input: the centred cosine is then shown but not judged, and the
# record says so (`centred_judged`). How far the reference's logits move between the inputs, least
# over them, relative to their size (`reference_movement`), on the same seeded inputs: ResNet18
# 1.5e-2, ResNet50 8.5e-3, ResNet50_vd 3.0e-4 (its FP16 engine then scores 0.48, its BF16 0.05).
# `min_movement` is the least movement each precision's own error leaves readable: a correct engine
# whose error is e (relative to the logits' size) scores about 1 / sqrt(1 + (e / movement)^2), so it
# clears a threshold c only while movement >= e / sqrt(1 / c^2 - 1). The errors measured above (ResNet50,
# movement 8.5e-3; ResNet18 with the tests' weights, 9.6e-3, INT8 0.79): FP16 5.4e-4, BF16 2.8e-3, INT8
# 7.5e-3 to 8.9e-3, which give 1.6e-3, 5.8e-3 and 3.9e-3; rounded up below.
THRESHOLDS = {
    "fp32": {"max_rel_error": 1e-4, "top1_agree": 1.0, "min_centred_cosine": 0.99, "min_movement": 0.0},
    "fp16": {"min_cosine": 0.999, "top1_agree": 0.9, "min_centred_cosine": 0.95, "min_movement": 2e-3},
    # BF16 keeps 8 bits of mantissa to FP16's 11: the same direction, less top-1 margin on near-ties
    "bf16": {"min_cosine": 0.999, "top1_agree": 0.8, "min_centred_cosine": 0.9, "min_movement": 6e-3},
    "int8": {"min_cosine": 0.99, "top1_agree": 0.8, "min_centred_cosine": 0.4, "min_movement": 4e-3},
}

#: the fewest inputs a check compares: one input cannot show whether the output follows its input
FEWEST_INPUTS = 2


def inputs_for(batch: int) -> int:
    """How many inputs a check runs an engine of ``batch`` on: whole batches, at least FEWEST_INPUTS."""
    return batch * -(-FEWEST_INPUTS // batch)


def centred_cosines(reference: np.ndarray, got: np.ndarray) -> np.ndarray | None:
    """Per input, the cosine between how ``got`` and ``reference`` depart from the reference's batch mean.

    None when the reference gives every input the same logits (one input, or one image repeated):
    there is then nothing to follow. An output that is the same for every input scores 0.
    """
    reference = reference.astype(np.float64)
    mean = reference.mean(0)
    moved, got_moved = reference - mean, got.astype(np.float64) - mean
    moved_norms, got_norms = np.linalg.norm(moved, axis=1), np.linalg.norm(got_moved, axis=1)
    # departures below float32's resolution of the logits are rounding, not the input's doing
    varied = moved_norms > 1e-6 * max(float(np.abs(reference).max()), 1e-30) * np.sqrt(reference.shape[1])
    if not varied.any():
        return None
    dots = np.sum(moved * got_moved, 1)[varied]
    return dots / moved_norms[varied] / np.where(got_norms[varied] == 0, 1, got_norms[varied])


def reference_movement(reference: np.ndarray) -> float:
    """How far the reference's logits move between the inputs: least over them of the departure from
    the batch mean, relative to the logits' size."""
    reference = reference.astype(np.float64)
    sizes = np.linalg.norm(reference, axis=1)
    moved = np.linalg.norm(reference - reference.mean(0), axis=1)
    return float(np.min(moved / np.where(sizes == 0, 1, sizes)))


def compare(reference: np.ndarray, got: np.ndarray) -> dict:
    """Errors and agreement of ``got`` against ``reference`` logits (batch x classes)."""
    diff = np.abs(got.astype(np.float64) - reference)
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1)
    cosine = np.sum(got.astype(np.float64) * reference, axis=1) / np.where(norms == 0, 1, norms)
    centred = centred_cosines(reference, got)
    ref_top1 = reference.argmax(1)
    top5 = np.argsort(-got, axis=1)[:, :5]
    return {
        "samples": int(reference.shape[0]),
        "max_abs_error": float(diff.max()),
        "max_rel_error": float(diff.max() / max(float(np.abs(reference).max()), 1e-30)),
        "min_cosine": float(cosine.min()),
        "mean_cosine": float(cosine.mean()),
        # None where the inputs do not differ (see centred_cosines)
        "min_centred_cosine": None if centred is None else float(centred.min()),
        "mean_centred_cosine": None if centred is None else float(centred.mean()),
        "reference_movement": None if centred is None else reference_movement(reference),
        "top1_agree": float(np.mean(got.argmax(1) == ref_top1)),
        # the reference's class among the engine's five best
        "top5_agree": float(np.mean([ref_top1[i] in top5[i] for i in range(len(ref_top1))])),
    }


def centred_judged(figures: dict, precision: str, thresholds: dict | None = None) -> bool:
    """Whether the centred cosine can tell this engine from one that ignores its input: it was measured,
    and the reference's logits move between the inputs by more than ``precision``'s own error."""
    limits = (thresholds or THRESHOLDS)[precision]
    movement = figures.get("reference_movement")
    return ("min_centred_cosine" in limits and figures.get("min_centred_cosine") is not None
            and movement is not None and movement >= limits.get("min_movement", 0.0))


def judge(figures: dict, precision: str, thresholds: dict | None = None) -> list[str]:
    """The checks ``figures`` fail at ``precision`` (empty when it passes).

    The centred cosine is judged where it could be measured (inputs that differ).
    """
    limits = (thresholds or THRESHOLDS)[precision]
    failed = []
    if "max_rel_error" in limits and not figures["max_rel_error"] <= limits["max_rel_error"]:
        failed.append(f"relative error {figures['max_rel_error']:.2e} > {limits['max_rel_error']:.0e}")
    if "min_cosine" in limits and not figures["min_cosine"] >= limits["min_cosine"]:
        failed.append(f"cosine {figures['min_cosine']:.5f} < {limits['min_cosine']}")
    centred = figures.get("min_centred_cosine")
    if centred is not None and centred_judged(figures, precision, thresholds) \
            and not centred >= limits["min_centred_cosine"]:
        failed.append(f"centred cosine {centred:.4f} < {limits['min_centred_cosine']}: "
                      "the logits do not move with the input as Paddle's do")
    if not figures["top1_agree"] >= limits["top1_agree"]:
        failed.append(f"top-1 agreement {figures['top1_agree']:.1%} < {limits['top1_agree']:.0%}")
    return failed


@dataclass
class Reference:
    """Paddle's forward pass with the weights a model was exported with."""

    model_path: Path
    _model: object = field(default=None, repr=False)
    _outputs: dict = field(default_factory=dict, repr=False)

    @property
    def model(self):
        if self._model is None:
            self._model = paddle_model_of_export(self.model_path)
        return self._model

    def outputs(self, inputs: np.ndarray, key=None) -> np.ndarray:
        """Logits for ``inputs``; remembered under ``key`` so cases sharing inputs share the work."""
        if key is not None and key in self._outputs:
            return self._outputs[key]
        from trtbench.lazy import import_paddle

        paddle = import_paddle()
        with paddle.no_grad():
            result = np.concatenate([self.model(paddle.to_tensor(inputs[i:i + 8])).numpy()
                                     for i in range(0, len(inputs), 8)])
        if key is not None:
            self._outputs[key] = result
        return result


def paddle_model_of_export(model_path: Path):
    """The Paddle layer with the weights recorded in an export's metadata."""
    from trtbench.models.architectures import build_model, random_state_dict
    from trtbench.models.export import existing_export, load_state_dict
    from trtbench.models.zoo import get_variant

    meta = existing_export(Path(model_path))
    if meta is None:
        raise TrtbenchError(f"{model_path} has no valid export metadata: run `trtbench export` for it again")
    model = build_model(get_variant(meta["variant"]))
    weights = meta["weights"]
    if weights["kind"] == "file":
        path = Path(weights["path"])
        if not path.is_file():
            raise TrtbenchError(f"the weights {path} this model was exported with are gone: "
                                "export again with --weights")
        # Only the very file the export was made from: another one (hostile, or other weights of the
        # same shape) would make the reference, and the engine, look wrong.
        if sha256_file(path) != weights.get("sha256"):
            raise TrtbenchError(f"the weights {path} changed since {Path(model_path).name} was exported from "
                                "them: export again with --weights --force")
        state = load_state_dict(path, model, meta["variant"])
    else:
        state = random_state_dict(model, weights["seed"])
    model.set_state_dict(state)
    return model


def verification_inputs(batch: int, images: Path | None = None, seed: int = VERIFY_SEED) -> np.ndarray:
    """Inputs for an engine of ``batch``: the first ``batch`` readable images of a folder (cycled if too
    few), or ``inputs_for(batch)`` seeded random ones (two at batch 1, so the output can be seen to move)."""
    if images is None:
        return seeded_input(inputs_for(batch), seed)
    return verification_images(batch, images)[0]


def verification_images(batch: int, images: Path) -> tuple[np.ndarray, list[str]]:
    """``batch`` inputs from the first readable images of the --images folder (sorted, cycled if too
    few), and the unreadable ones met on the way, as 'PATH: REASON'.

    Only as many images as the batch takes are read; none readable is an error naming the first.
    """
    from trtbench.checks.dataset import printable
    from trtbench.graphs.preprocess import UnreadableImage, load_image

    files = _image_files(Path(images))
    inputs: list[np.ndarray] = []
    skipped: list[str] = []
    for path in files:
        if len(inputs) == batch:
            break
        try:
            inputs.append(load_image(path))
        except UnreadableImage as exc:
            skipped.append(f"{printable(path)}: {exc}")
    if not inputs:
        raise TrtbenchError(f"none of the {len(files)} images in --images {printable(images)} could be read; "
                            f"first: {skipped[0]}")
    return np.stack([inputs[i % len(inputs)] for i in range(batch)]), skipped


def _image_files(folder: Path) -> list[Path]:
    """The image files under the --images folder, sorted."""
    from trtbench.checks.dataset import printable
    from trtbench.graphs.preprocess import IMAGE_SUFFIXES

    if not folder.exists():
        raise TrtbenchError(f"--images folder not found: {printable(folder)}")
    if not folder.is_dir():
        raise TrtbenchError(f"--images {printable(folder)} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise TrtbenchError(f"--images {printable(folder)} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def check_engine(engine, reference: Reference, precision: str, inputs: np.ndarray, key=None) -> dict:
    """Run ``engine`` on ``inputs`` (whole batches of the engine's) and judge it against the reference;
    figures plus 'passed'."""
    batch = engine.batch
    got = np.concatenate([engine.infer(inputs[i:i + batch]) for i in range(0, len(inputs), batch)])
    figures = compare(reference.outputs(inputs, key), got)
    failed = judge(figures, precision)
    return {**figures, "centred_judged": centred_judged(figures, precision), "passed": not failed, "failed": failed,
            "thresholds": THRESHOLDS[precision]}


class OutputCheck:
    """`run --verify`: each engine against Paddle, sharing a model's reference across its cases."""

    def __init__(self, graphs: dict[str, Path]):
        self.references = {name: Reference(path) for name, path in graphs.items()}

    def __call__(self, case, engine) -> dict:
        inputs = verification_inputs(case.batch)
        return check_engine(engine, self.references[case.model], case.precision, inputs, key=case.batch)
