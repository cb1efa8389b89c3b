"""Shared fixtures: a CLI runner with a fixed terminal width, and exports made once per session."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from trtbench.models.zoo import get_variant


def pytest_configure(config):
    """What the tests learn about this machine (probe compiles) goes to a folder of the session's
    own, set before collection (some modules ask backends what they run while being collected):
    never the user's ~/.cache/trtbench."""
    import os
    import tempfile

    os.environ["TRTBENCH_CACHE"] = tempfile.mkdtemp(prefix="trtbench-tests-cache-")


def pytest_unconfigure(config):
    import os
    import shutil
    import tempfile

    if os.environ.get("TRTBENCH_CACHE", "").startswith(tempfile.gettempdir()):
        shutil.rmtree(os.environ["TRTBENCH_CACHE"], ignore_errors=True)


@pytest.fixture
def runner():
    """A click runner whose rich tables have a fixed width."""
    return CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})


@pytest.fixture
def invoke(runner):
    """Run ``trtbench ARGS``; returns click's Result."""
    from trtbench.cli import main

    def run(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """A .pdparams for ResNet18 written the way paddle.save writes PaddleClas's files."""
    from trtbench.lazy import import_paddle
    from trtbench.models.architectures import build_model, random_state_dict

    paddle = import_paddle()
    model = build_model(get_variant("ResNet18"))
    path = tmp_path_factory.mktemp("weights") / "ResNet18_pretrained.pdparams"
    paddle.save({k: paddle.to_tensor(v) for k, v in random_state_dict(model, seed=7).items()}, str(path))
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory, weights_file):
    """models/ holding ResNet18 (from a .pdparams) and ResNet50_vd (random init): exported once."""
    from trtbench.models.export import export_variant

    models_dir = tmp_path_factory.mktemp("models")
    results = {
        "ResNet18": export_variant(get_variant("ResNet18"), models_dir, weights=weights_file),
        "ResNet50_vd": export_variant(get_variant("ResNet50_vd"), models_dir),
    }
    return models_dir, results


@pytest.fixture(scope="session", autouse=True)
def private_device_locks(tmp_path_factory):
    """Device locks of the tests' own (subprocesses inherit it): a real run on this machine and the
    suite do not wait for each other."""
    import os

    os.environ["TRTBENCH_LOCK_DIR"] = str(tmp_path_factory.mktemp("device-locks"))


@pytest.fixture(autouse=True)
def signal_handlers():
    """Commands install their own SIGINT/SIGTERM handlers and note a signal that came: put pytest's
    handlers back and forget the signal after every test, or a later test's failure would read as
    the user stopping the work."""
    import signal

    from trtbench import interrupt

    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    interrupt.reset()
