import os

import numpy as np
import pytest
from PIL import Image

from tests.graphs.test_preprocess import deadline, forged_png
from trtbench.checks.dataset import batches, check_readable, samples_from
from trtbench.checks.evaluate import evaluate
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


def test_missing_and_empty_data_name_their_option(tmp_path):
    with pytest.raises(TrtbenchError, match="--data folder not found: .*nope"):
        samples_from(tmp_path / "nope")
    with pytest.raises(TrtbenchError, match="--list file not found: .*nope.txt"):
        samples_from(tmp_path, tmp_path / "nope.txt")
    with pytest.raises(TrtbenchError, match="--data .* has no class sub-folders"):
        samples_from(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(TrtbenchError, match="--data .* holds no images"):
        samples_from(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with deadline(), pytest.raises(TrtbenchError, match="--data .*fifo is neither a folder nor a list file"):
        samples_from(tmp_path / "fifo")
    with deadline(), pytest.raises(TrtbenchError, match="--list .*fifo is not a file"):
        samples_from(tmp_path, tmp_path / "fifo")


def test_unreadable_images_are_skipped_and_counted_or_fatal_with_strict(folder):
    (folder / "b_cls" / "broken.jpg").write_bytes(b"not an image")
    samples = samples_from(folder)
    skipped = []
    got = list(batches(samples, 4, skipped=skipped))
    assert skipped == [f"{folder / 'b_cls' / 'broken.jpg'}: not an image file Pillow can identify"]
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


@pytest.fixture
def elsewhere(tmp_path_factory):
    """An image outside the data folder."""
    path = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    Image.new("RGB", (256, 256)).save(path)
    return path


@pytest.mark.parametrize("entry", ["../../etc/passwd", "/etc/shadow", "a_cls/../../x.png", "link_out.png"])
def test_list_paths_leading_out_of_data_are_refused(folder, elsewhere, entry):
    (folder / "link_out.png").symlink_to(elsewhere)
    (folder / "val.txt").write_text(f"a_cls/0.png 0\n{entry} 3\n")
    with pytest.raises(TrtbenchError, match=r"val.txt:2: .* leads outside .*: list paths must stay inside"):
        samples_from(folder, folder / "val.txt")


def test_list_paths_inside_data_are_taken_where_they_lead(folder):
    (folder / "link_in.png").symlink_to(folder / "a_cls" / "0.png")
    (folder / "val.txt").write_text("a_cls/../b_cls/0.png 1\nlink_in.png 0\n")
    samples = samples_from(folder, folder / "val.txt")
    assert [(s.path, s.label) for s in samples] == [(folder / "b_cls" / "0.png", 1), (folder / "a_cls" / "0.png", 0)]


def test_a_folder_image_linked_from_outside_data_is_refused(folder, elsewhere):
    (folder / "b_cls" / "9.png").symlink_to(elsewhere)
    with pytest.raises(TrtbenchError, match=r"9.png leads outside .*: images must stay inside --data"):
        samples_from(folder)


def test_entries_that_are_not_regular_files_or_are_bombs_are_skipped_and_counted(folder):
    os.mkfifo(folder / "b_cls" / "fifo.png")
    (folder / "b_cls" / "dir.png").mkdir()
    forged_png(folder / "c_cls" / "bomb.png", 30000, 30000)
    (folder / "b_cls" / "loop.png").symlink_to(folder / "b_cls" / "loop.png")
    (folder / "list.txt").write_text("b_cls/fifo.png 1\nb_cls/dir.png 1\nc_cls/bomb.png 2\na_cls/0.png 0\n"
                                     "b_cls/loop.png 1\n")
    for samples in (samples_from(folder), samples_from(folder, folder / "list.txt")):
        skipped = []
        with deadline():
            got = list(batches(samples, 8, skipped=skipped))
        assert [labels.tolist().count(-1) for _, labels in got] == [8 - (len(samples) - 4)]
        assert sorted(text.split(": ")[:2] for text in skipped) == [
            [f"{folder / 'b_cls' / 'dir.png'}", "not a regular file"],
            [f"{folder / 'b_cls' / 'fifo.png'}", "not a regular file"],
            [f"{folder / 'b_cls' / 'loop.png'}", "Too many levels of symbolic links"],
            [f"{folder / 'c_cls' / 'bomb.png'}", "a possible decompression bomb"]]
        with deadline(), pytest.raises(TrtbenchError, match="cannot read image .*: not a regular file"):
            list(batches(samples, 8, strict=True))


def test_names_that_are_not_utf8_reach_their_files_and_print(folder):
    raw = os.fsencode(folder)
    Image.new("RGB", (256, 256)).save(os.fsdecode(raw + b"/a_cls/caf\xe9.png"), format="PNG")
    with open(raw + b"/b_cls/bro\xefken.png", "wb") as broken:
        broken.write(b"junk")
    with open(raw + b"/b_cls/new\nline.png", "wb") as broken:
        broken.write(b"junk")
    (folder / "val.txt").write_bytes(b"a_cls/caf\xe9.png 0\nb_cls/bro\xefken.png 1\nb_cls/0.png 1\n")
    for samples in (samples_from(folder, folder / "val.txt"), samples_from(folder)):
        skipped = []
        got = list(batches(samples, 16, skipped=skipped))
        assert sum(labels.tolist().count(0) for _, labels in got) >= 1  # caf\xe9.png was read
        assert f"{folder}/b_cls/bro\\xefken.png: not an image file Pillow can identify" in skipped
        for text in skipped:
            text.encode("utf-8")  # printable: no lone surrogates
            assert text.isprintable()
    (folder / "bad.txt").write_bytes(b"a_cls/caf\xe9.png x\n")
    with pytest.raises(TrtbenchError) as refused:
        samples_from(folder, folder / "bad.txt")
    assert "got 'a_cls/caf\\xe9.png x'" in str(refused.value)
    str(refused.value).encode("utf-8")


class TopClassZero:
    """An engine that always answers class 0, then classes 500..503."""

    def infer(self, inputs):
        logits = np.zeros((len(inputs), 1000), dtype=np.float32)
        logits[:, 0] = 2
        logits[:, 500:504] = 1
        return logits


def test_evaluate_counts_what_it_skips(folder):
    forged_png(folder / "a_cls" / "bomb.png", 10000, 10000)
    figures = evaluate(TopClassZero(), samples_from(folder), 4)
    assert (figures["images"], figures["skipped"]) == (6, 1)
    assert figures["top1"] == pytest.approx(2 / 6) and figures["top5"] == pytest.approx(2 / 6)
    (skipped,) = figures["skipped_files"]
    assert skipped.startswith(f"{folder / 'a_cls' / 'bomb.png'}: a possible decompression bomb: ")


def test_evaluate_with_no_readable_image_is_one_error(tmp_path):
    (tmp_path / "n0").mkdir()
    (tmp_path / "n0" / "a.png").write_bytes(b"junk")
    os.mkfifo(tmp_path / "n0" / "b.png")
    with deadline(), pytest.raises(TrtbenchError) as refused:
        evaluate(TopClassZero(), samples_from(tmp_path), 4)
    assert str(refused.value) == (f"none of the 2 images could be read; first: {tmp_path / 'n0' / 'a.png'}: "
                                  "not an image file Pillow can identify")


def test_check_readable_stops_at_the_first_readable_image(folder):
    (folder / "a_cls" / "0.png").write_bytes(b"junk")
    check_readable(samples_from(folder))
    for path in folder.glob("*/*.png"):
        path.write_bytes(b"junk")
    with pytest.raises(TrtbenchError, match=r"^none of the 6 images could be read; first: .*a_cls/0.png: not an image"):
        check_readable(samples_from(folder))


def test_a_list_path_with_a_nul_byte_names_its_line(tmp_path):
    (tmp_path / "list.txt").write_bytes(b"a/x\x00.png 3\n")
    with pytest.raises(TrtbenchError, match=r"list.txt:1: the path 'a/x\\x00.png' holds a NUL byte"):
        samples_from(tmp_path, tmp_path / "list.txt")
