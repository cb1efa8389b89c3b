import numpy as np
import pytest
from PIL import Image

from trtbench.dataset import batches, samples_from
from trtbench.errors import TrtbenchError


@pytest.fixture
def folder(tmp_path):
    for label, name in enumerate(["a_cls", "b_cls", "c_cls"]):
        (tmp_path / name).mkdir()
        for index in range(2):
            Image.new("RGB", (256, 256), (label * 50, index, 0)).save(tmp_path / name / f"{index}.png")
    return tmp_path


def test_folder_labels_are_sorted_class_indices(folder):
    samples = samples_from(folder)
    assert [(s.path.parent.name, s.label) for s in samples] == [
        ("a_cls", 0), ("a_cls", 0), ("b_cls", 1), ("b_cls", 1), ("c_cls", 2), ("c_cls", 2)]


def test_list_file_form(folder):
    listing = folder / "val.txt"
    listing.write_text("b_cls/0.png 7\nc_cls/1.png 999\n\n")
    samples = samples_from(folder, listing)
    assert [(s.path, s.label) for s in samples] == [(folder / "b_cls/0.png", 7), (folder / "c_cls/1.png", 999)]


@pytest.mark.parametrize("content,message", [
    ("a_cls/0.png\n", r"val.txt:1: expected 'relative/path label'"),
    ("a_cls/0.png 1\na_cls/1.png x\n", r"val.txt:2: expected"),
    ("a_cls/0.png 1000\n", r"val.txt:1: label 1000 is outside 0..999"),
    ("\n", "lists no images"),
])
def test_bad_list_files(folder, content, message):
    (folder / "val.txt").write_text(content)
    with pytest.raises(TrtbenchError, match=message):
        samples_from(folder, folder / "val.txt")


def test_missing_and_empty_data(tmp_path):
    with pytest.raises(TrtbenchError, match="data folder not found"):
        samples_from(tmp_path / "nope")
    with pytest.raises(TrtbenchError, match="no class sub-folders"):
        samples_from(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(TrtbenchError, match="holds no images"):
        samples_from(tmp_path)


def test_unreadable_images_are_skipped_and_counted_or_fatal_with_strict(folder):
    (folder / "b_cls" / "broken.jpg").write_bytes(b"not an image")
    samples = samples_from(folder)
    skipped = []
    got = list(batches(samples, 4, skipped=skipped))
    assert skipped == [str(folder / "b_cls" / "broken.jpg")]
    assert [labels.tolist() for _, labels in got] == [[0, 0, 1, 1], [2, 2, -1, -1]]  # last batch padded
    assert got[0][0].shape == (4, 3, 224, 224) and not np.any(got[1][0][2:])
    with pytest.raises(TrtbenchError, match="cannot read image .*broken.jpg"):
        list(batches(samples, 4, strict=True))


@pytest.mark.parametrize("label", ["²", "--5", "1.5", "٣"])
def test_a_label_that_is_not_ascii_digits_names_its_line(tmp_path, label):
    listing = tmp_path / "val.txt"
    listing.write_text(f"a.png 1\nb.png {label}\n", encoding="utf-8")
    with pytest.raises(TrtbenchError, match=r"val.txt:2: expected 'relative/path label'"):
        samples_from(tmp_path, listing)
