"""Labelled images: an ImageNet-style folder (a sub-folder per class, sorted) or a PaddleClas list file."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError
from trtbench.graphs.preprocess import IMAGE_SUFFIXES, UnreadableImage, load_image

NUM_CLASSES = 1000


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def printable(name: str | os.PathLike) -> str:
    """A file name or a line as one line any terminal shows: bytes that are not UTF-8 and control
    characters written as escapes (``caf\\xe9.png``)."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def samples_from(data: Path, list_file: Path | None = None, num_classes: int = NUM_CLASSES) -> list[Sample]:
    """The labelled images of a folder (sorted class folders) or of a list file relative to ``data``.

    Every image must lie inside the data folder (``data``, or the folder of ``data`` when it is itself
    the list file) once '..' and symlinks are followed: an entry leading out of it is an error naming
    it. Each sample's path is where its entry leads.
    """
    data = Path(data)
    if not data.exists():
        raise TrtbenchError(f"--data folder not found: {printable(data)}")
    if list_file is not None:
        return _from_list(_list_file(Path(list_file), "--list"), data, num_classes)
    if data.is_file():
        if data.suffix.lower() in IMAGE_SUFFIXES:
            raise TrtbenchError(f"--data {printable(data)} is an image, not a folder or a list file: give the folder "
                                "that holds a sub-folder per class (or a PaddleClas list file)")
        return _from_list(data, data.parent, num_classes)
    if not data.is_dir():
        raise TrtbenchError(f"--data {printable(data)} is neither a folder nor a list file")
    return _from_folder(data, num_classes)


def _list_file(path: Path, option: str) -> Path:
    """``path`` if it is a file a list can be read from."""
    if not path.exists():
        raise TrtbenchError(f"{option} file not found: {printable(path)}")
    if not path.is_file():
        raise TrtbenchError(f"{option} {printable(path)} is not a file")
    return path


def _from_folder(data: Path, num_classes: int) -> list[Sample]:
    root = data.resolve()
    classes = sorted(p for p in _listing(data) if p.is_dir())
    if not classes:
        raise TrtbenchError(f"--data {printable(data)} has no class sub-folders: give an ImageNet-style folder "
                            "or a list file (--list)")
    if len(classes) > num_classes:
        raise TrtbenchError(f"--data {printable(data)} has {len(classes)} class folders, more than the model's "
                            f"{num_classes} classes")
    found = []
    for label, folder in enumerate(classes):
        for path in sorted(_listing(folder)):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            inside = _inside(root, path)
            if inside is None:
                raise TrtbenchError(f"{printable(path)} leads outside {printable(root)}: images must stay inside "
                                    "--data (copy them in, or give the folder they are in)")
            found.append(Sample(inside, label))
    if not found:
        raise TrtbenchError(f"--data {printable(data)} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return found


def _listing(folder: Path) -> list[Path]:
    """The entries of ``folder``."""
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise TrtbenchError(f"--data: cannot list {printable(folder)}: {exc.strerror or exc}") from None


def _binary(head: bytes) -> bool:
    """Whether the start of a file is binary data (an image, an archive), not a list with an odd line: it
    holds a NUL byte and is not UTF-8 text."""
    if b"\0" not in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # not a character cut at the end of the head
    return False


def _from_list(list_file: Path, data: Path, num_classes: int) -> list[Sample]:
    """The samples of a PaddleClas list file, read as bytes: a name that is not UTF-8 still finds its file."""
    root = data.resolve()
    try:
        content = list_file.read_bytes()
    except OSError as exc:
        raise TrtbenchError(f"cannot read list file {printable(list_file)}: {exc.strerror or exc}") from None
    if _binary(content[:65536]):
        # an image or an archive given as a list file: its bytes are no use in a message
        raise TrtbenchError(f"{printable(list_file)} is not a list file (it holds binary data): give a text file of "
                            "'relative/path label' lines, or the folder of class sub-folders")
    found = []
    for number, raw in enumerate(content.splitlines(), start=1):
        line = os.fsdecode(raw)
        if not line.strip():
            continue
        where = f"{printable(list_file)}:{number}"
        parts = line.split()
        # ASCII digits only: str.isdigit() also takes '²', which int() then refuses
        if len(parts) != 2 or not re.fullmatch(r"-?[0-9]+", parts[1]):
            raise TrtbenchError(f"{where}: expected 'relative/path label', got '{printable(line.strip())}'")
        label = int(parts[1])
        if not 0 <= label < num_classes:
            raise TrtbenchError(f"{where}: label {label} is outside 0..{num_classes - 1}")
        if "\x00" in parts[0]:
            raise TrtbenchError(f"{where}: the path '{printable(parts[0])}' holds a NUL byte, which no file name can")
        inside = _inside(root, root / parts[0])
        if inside is None:
            raise TrtbenchError(f"{where}: '{printable(parts[0])}' leads outside {printable(root)}: list paths must "
                                "stay inside the data folder (no absolute path, '..' or symlink leading out)")
        found.append(Sample(inside, label))
    if not found:
        raise TrtbenchError(f"{printable(list_file)} lists no images")
    return found


def _inside(root: Path, path: Path) -> Path | None:
    """Where ``path`` leads, if that is inside ``root`` (a resolved folder)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: it cannot be opened, so it is judged by its name
        resolved = Path(os.path.normpath(path.absolute()))
    return resolved if resolved.is_relative_to(root) else None


def check_readable(samples: list[Sample]) -> None:
    """Refuse ``samples`` of which no image can be read; stops at the first image that can."""
    first = None
    for sample in samples:
        try:
            load_image(sample.path)
            return
        except UnreadableImage as exc:
            first = first or f"{printable(sample.path)}: {exc}"
    raise nothing_readable(len(samples), first)


def nothing_readable(count: int, first: str | None) -> TrtbenchError:
    """The error for ``count`` images none of which could be read, ``first`` the first one's 'PATH: REASON'."""
    return TrtbenchError(f"none of the {count} images could be read" + (f"; first: {first}" if first else ""))


def batches(samples: list[Sample], batch: int, strict: bool = False, skipped: list[str] | None = None):
    """(inputs, labels) batches of exactly ``batch`` images (the last one padded, with label -1).

    An unreadable image is skipped and appended to ``skipped`` as 'PATH: REASON', or with ``strict``
    ends the run.
    """
    images, labels = [], []
    for sample in samples:
        try:
            images.append(load_image(sample.path))
        except UnreadableImage as exc:
            if strict:
                raise TrtbenchError(f"cannot read image {printable(sample.path)}: {exc}") from None
            if skipped is not None:
                skipped.append(f"{printable(sample.path)}: {exc}")
            continue
        labels.append(sample.label)
        if len(images) == batch:
            yield np.stack(images), np.array(labels)
            images, labels = [], []
    if images:
        pad = batch - len(images)
        images += [np.zeros_like(images[0])] * pad
        yield np.stack(images), np.array(labels + [-1] * pad)
