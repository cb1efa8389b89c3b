"""Labelled images: an ImageNet-style folder (a sub-folder per class, sorted) or a PaddleClas list file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError
from trtbench.preprocess import IMAGE_SUFFIXES, load_image

NUM_CLASSES = 1000


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def samples_from(data: Path, list_file: Path | None = None, num_classes: int = NUM_CLASSES) -> list[Sample]:
    """The labelled images of a folder (sorted class folders) or of a list file relative to ``data``."""
    data = Path(data)
    if not data.exists():
        raise TrtbenchError(f"data folder not found: {data}")
    if list_file is not None or data.is_file():
        return _from_list(Path(list_file) if list_file else data, data if list_file else data.parent, num_classes)
    classes = sorted(p for p in data.iterdir() if p.is_dir())
    if not classes:
        raise TrtbenchError(f"{data} has no class sub-folders: give an ImageNet-style folder or a list file")
    if len(classes) > num_classes:
        raise TrtbenchError(f"{data} has {len(classes)} class folders, more than the model's {num_classes} classes")
    found = [Sample(path, label) for label, folder in enumerate(classes)
             for path in sorted(folder.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise TrtbenchError(f"{data} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return found


def _from_list(list_file: Path, root: Path, num_classes: int) -> list[Sample]:
    if not list_file.is_file():
        raise TrtbenchError(f"list file not found: {list_file}")
    found = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        # ASCII digits only: str.isdigit() also takes '²', which int() then refuses
        if len(parts) != 2 or not re.fullmatch(r"-?[0-9]+", parts[1]):
            raise TrtbenchError(f"{list_file}:{number}: expected 'relative/path label', got '{line.strip()}'")
        label = int(parts[1])
        if not 0 <= label < num_classes:
            raise TrtbenchError(f"{list_file}:{number}: label {label} is outside 0..{num_classes - 1}")
        found.append(Sample(root / parts[0], label))
    if not found:
        raise TrtbenchError(f"{list_file} lists no images")
    return found


def batches(samples: list[Sample], batch: int, strict: bool = False, skipped: list | None = None):
    """(inputs, labels) batches of exactly ``batch`` images (the last one padded, with label -1).

    An unreadable image is skipped and appended to ``skipped``, or with ``strict`` ends the run.
    """
    images, labels = [], []
    for sample in samples:
        try:
            images.append(load_image(sample.path))
        except (OSError, ValueError) as exc:
            if strict:
                raise TrtbenchError(f"cannot read image {sample.path}: {exc}") from None
            if skipped is not None:
                skipped.append(str(sample.path))
            continue
        labels.append(sample.label)
        if len(images) == batch:
            yield np.stack(images), np.array(labels)
            images, labels = [], []
    if images:
        pad = batch - len(images)
        images += [np.zeros_like(images[0])] * pad
        yield np.stack(images), np.array(labels + [-1] * pad)
