"""SIGKILL at any moment of a real `trtbench export` leaves every artifact complete and valid or absent,
the previous export in place and in use, and nothing behind that the next command does not remove.

Each export runs as its own process, with its own HOME (where Paddle keeps its to_static folders) and
TMPDIR (where trtbench keeps its scratch folders), and is killed at a moment seen from outside: the
test watches the folders and kills the process as soon as that moment comes.
"""

import os
import subprocess
import sys
import time

import pytest

from trtbench.models.export import existing_export, onnx_path, paddle_model_paths
from trtbench.store import artifacts

pytestmark = pytest.mark.slow


@pytest.fixture
def place(tmp_path):
    """models/, the environment of every trtbench process (private HOME and TMPDIR), and those folders."""
    home, scratch, models = tmp_path / "home", tmp_path / "tmp", tmp_path / "models"
    home.mkdir()
    scratch.mkdir()
    return models, {**os.environ, "HOME": str(home), "TMPDIR": str(scratch)}, home, scratch


def _trtbench(*args) -> list[str]:
    return [sys.executable, "-m", "trtbench", *map(str, args)]


def _run(env, *args) -> str:
    """`trtbench ARGS` to its end; what it printed."""
    done = subprocess.run(_trtbench(*args), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _killed_when(moment, env, *args) -> int:
    """Start `trtbench ARGS` and SIGKILL it as soon as ``moment(pid)`` holds; its PID."""
    process = subprocess.Popen(_trtbench(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not moment(process.pid):
        assert process.poll() is None, f"the export ended (status {process.returncode}) before the moment came"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    process.kill()
    process.wait()
    return process.pid


def _own(folder, pattern: str, pid: int) -> list:
    """The entries of ``folder`` matching ``pattern`` (``{tag}`` standing for PID@HOST) that ``pid`` made."""
    host = artifacts.owner_tag().split("@")[1]
    return list(folder.glob(pattern.format(tag=f"{pid}@{host}")))


def _size(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _every_artifact_is_valid(models) -> None:
    """Each file in ``models`` with metadata beside it is a valid artifact; the others are metadata (of an
    artifact that may be absent), locks or temporaries."""
    names = {path.name for path in models.iterdir()}
    for name in names:
        if name.startswith("."):
            assert name.endswith((".lock", ".tmp")), name
        elif f"{name}.json" in names:
            meta = artifacts.read_json(models / f"{name}.json")
            assert meta is not None and artifacts.valid(models / name, meta["kind"]) is not None, name
        else:
            assert name.endswith(".json"), name


def _named_after(path, pid: int) -> bool:
    """Whether ``path`` is a temporary of process ``pid`` (trtbench's tag, or Paddle's folder named PID)."""
    return path.name == str(pid) or f".{pid}@" in path.name or f"-{pid}@" in path.name


def test_sigkill_at_any_moment_of_an_export_keeps_the_previous_one_and_leaves_nothing_behind(place):
    models, env, home, scratch = place
    onnx = onnx_path(models, "ResNet18")
    _run(env, "export", "ResNet18", "--models-dir", models)  # the previous export: random weights, seed 0
    before = artifacts.sha256_file(onnx)
    moments = {
        # its temporary graph is there but empty: Paddle is being imported, the layers built
        "started": lambda pid: bool(_own(models, ".ResNet18.onnx.{tag}-*.tmp", pid)),
        # paddle.jit.save wrote the parameters paddle2onnx is about to convert
        "saved": lambda pid: any(p.joinpath("model.pdiparams").exists()
                                 for p in _own(scratch, "trtbench-export-{tag}-*", pid)),
        # paddle2onnx wrote the graph: the checker and the parity check run on it
        "converted": lambda pid: any(_size(p) > 0 for p in _own(models, ".ResNet18.onnx.{tag}-*.tmp", pid)),
    }
    left_before: list = []
    for name, moment in moments.items():
        pid = _killed_when(moment, env, "export", "ResNet18", "--seed", "1", "--models-dir", models)
        _every_artifact_is_valid(models)
        assert artifacts.sha256_file(onnx) == before, name
        assert existing_export(onnx)["weights"]["seed"] == 0, name
        everything = [*models.iterdir(), *scratch.iterdir(), *home.glob(".cache/paddle/to_static_tmp/*")]
        left = [path for path in everything if _named_after(path, pid)]
        assert left, name  # killed before it could clean up: something to remove
        assert [path for path in left_before if path.exists()] == [], name  # this start removed the last one's
        left_before = left
    said = _run(env, "export", "ResNet18", "--models-dir", models)
    assert "ResNet18" in said and "up to date" in said
    assert artifacts.sha256_file(onnx) == before
    assert [path for path in left_before if path.exists()] == []


def test_sigkill_right_after_the_graph_is_in_place_leaves_valid_artifacts(place):
    models, env, _, scratch = place
    onnx = onnx_path(models, "ResNet18")
    _run(env, "export", "ResNet18", "--models-dir", models)
    replaced = os.stat(onnx).st_ino
    # Killed while the Paddle model beside the new graph is stored (or, at the latest, as it exits).
    process = subprocess.Popen(_trtbench("export", "ResNet18", "--seed", "1", "--models-dir", models), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and os.stat(onnx).st_ino == replaced:
        time.sleep(0.002)
    process.kill()
    process.wait()
    _every_artifact_is_valid(models)
    assert existing_export(onnx)["weights"]["seed"] == 1
    said = _run(env, "export", "ResNet18", "--seed", "1", "--models-dir", models)
    assert "up to date" in said
    params = artifacts.valid(paddle_model_paths(onnx)[1], "paddle-inference")
    assert params.key["onnx_sha256"] == artifacts.sha256_file(onnx)
    assert list(models.glob(".*.tmp")) == [] and list(scratch.glob("trtbench-*")) == []
