"""Weights files are read as data: what a Paddle state dict holds loads, anything else is refused
before it can run."""

import pickle

import numpy as np
import pytest

from tests.cli.test_export import _one_line_error
from trtbench.errors import TrtbenchError
from trtbench.models.weights import read_pdparams


class _Hostile:
    """Unpickling this runs a shell command (what a malicious .pdparams would carry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_paddle_saved_state_dict_reads_as_paddle_reads_it(weights_file):
    from trtbench.lazy import import_paddle

    paddle = import_paddle()
    ours = read_pdparams(weights_file)
    theirs = paddle.load(str(weights_file))
    assert set(ours) == set(theirs) and len(ours) > 100
    for key, value in ours.items():
        np.testing.assert_array_equal(value, np.asarray(theirs[key]))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"fc.weight": _Hostile(marker)}))
    with pytest.raises(TrtbenchError, match=r"evil.pdparams is refused: it names posix.system"):
        read_pdparams(evil)
    assert not marker.exists()


def test_the_command_line_refuses_it_in_one_line(invoke, tmp_path):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"fc.weight": _Hostile(marker)}))
    line = _one_line_error(invoke("export", "ResNet18", "--weights", evil, "--output-dir", tmp_path / "m"))
    assert "a weights file holds arrays, not code" in line and not marker.exists()


def test_paddle_2_tuples_plain_dicts_and_broken_files(tmp_path):
    old = tmp_path / "old.pdparams"
    old.write_bytes(pickle.dumps({"fc.weight": ("linear_0.w_0", np.ones((2, 3), np.float32))}, protocol=2))
    assert read_pdparams(old)["fc.weight"].shape == (2, 3)
    truncated = tmp_path / "cut.pdparams"
    truncated.write_bytes(old.read_bytes()[:20])
    with pytest.raises(TrtbenchError, match="is not a Paddle state dict"):
        read_pdparams(truncated)
    scalar = tmp_path / "scalar.pdparams"
    scalar.write_bytes(pickle.dumps({"fc.weight": 5}))
    with pytest.raises(TrtbenchError, match="entry 'fc.weight' is int, not an array"):
        read_pdparams(scalar)
    with pytest.raises(TrtbenchError, match="cannot read weights file"):
        read_pdparams(tmp_path / "missing.pdparams")


@pytest.mark.slow
def test_verify_reloads_only_the_weights_the_export_was_made_from(weights_file, tmp_path):
    import shutil

    from trtbench.checks.verify import paddle_model_of_export
    from trtbench.models.export import export_variant
    from trtbench.models.zoo import get_variant

    copy = tmp_path / "ResNet18.pdparams"
    shutil.copy(weights_file, copy)
    result = export_variant(get_variant("ResNet18"), tmp_path / "models", weights=copy, verify=False)
    assert paddle_model_of_export(result.onnx_path) is not None
    with open(copy, "ab") as handle:  # swapped behind trtbench's back
        handle.write(b"\0")
    with pytest.raises(TrtbenchError, match="changed since ResNet18.onnx was exported from them"):
        paddle_model_of_export(result.onnx_path)


@pytest.mark.parametrize("body", [
    b")" + b"\x85" * 200_000,  # a key of 200,000 nested tuples: hashing it would crash Python itself
    b"(" * 300_000 + b"]" + b"l" * 300_000,  # a value of 300,000 nested lists
])
def test_a_pickle_nested_deeper_than_a_state_dict_is_refused_before_it_is_built(tmp_path, body):
    import pickle

    import numpy as np

    path = tmp_path / "deep.pdparams"
    array = pickle.dumps(np.zeros(1, np.float32), protocol=4)[2:-1]
    path.write_bytes(b"\x80\x04}" + (body + array if body.startswith(b")") else b"X\x01\x00\x00\x00a" + body)
                     + b"s.")
    with pytest.raises(TrtbenchError, match="its data nests more than 100 levels deep"):
        read_pdparams(path)


def test_a_weights_path_that_is_a_fifo_is_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "w.pdparams")
    with pytest.raises(TrtbenchError, match="is not a regular file"):
        read_pdparams(tmp_path / "w.pdparams")


def test_many_entries_are_not_mistaken_for_depth_and_object_arrays_are_refused(tmp_path):
    import pickle

    import numpy as np

    wide = tmp_path / "wide.pdparams"
    wide.write_bytes(pickle.dumps({f"p{i}": np.zeros(1, np.float32) for i in range(5000)}, protocol=4))
    assert len(read_pdparams(wide)) == 5000  # written in batches of 1000 items: still one level deep
    objects = tmp_path / "objects.pdparams"
    objects.write_bytes(pickle.dumps({"fc.weight": np.array([1.0, None], dtype=object)}, protocol=4))
    with pytest.raises(TrtbenchError, match="entry 'fc.weight' is an array of Python objects, not of numbers"):
        read_pdparams(objects)
