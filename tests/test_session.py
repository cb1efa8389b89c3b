"""The session layer: a backend registered from the tests alone, the same engine for run and verify,
refusals before any work, and the JSON-lines reporter."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from tests.cli.test_export import _one_line_error
from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench import backends
from trtbench.backends.base import Availability, Backend, BackendConfig, Engine, option
from trtbench.backends.tensorrt import TensorRTBackend
from trtbench.errors import TrtbenchError
from trtbench.events import CaseFinished, JsonLinesReporter, StageStarted
from trtbench.records import LatencyRecord
from trtbench.session import Session, Workspace, select_models
from trtbench.timing import TimingPolicy

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3)
FAST = ("--warmup-ms", "0", "--duration", "0", "--iterations", "3")


# --- a backend written in the tests: one module's worth of code and one register() call ---------


@dataclass(frozen=True)
class EchoConfig(BackendConfig):
    repeats: int = option(1, "Echo: how many times each iteration adds its input up.", minimum=1)


class EchoEngine(Engine):
    def __init__(self, batch, repeats):
        super().__init__(batch, info={"repeats": repeats})
        self.repeats = repeats

    def iterate_impl(self):
        return {"latency": 0.5 * self.repeats}

    def infer_impl(self, data):
        return np.repeat(data.reshape(len(data), -1)[:, :1000], 1, axis=1) * self.repeats

    def describe(self):
        return {"timer": "echo's fixed clock", "repeats": self.repeats}


class EchoBackend(Backend):
    name = "echo"
    metric = "echo time"
    config_class = EchoConfig
    precisions = ("fp32",)
    packages = ("numpy",)
    config: EchoConfig

    def availability_impl(self):
        return Availability(True, "always")

    def device(self):
        return "the test's imagination"

    def build(self, onnx_path, precision, batch, cache_dir):
        return EchoEngine(batch, self.config.repeats)


@pytest.fixture
def echo():
    backends.register("echo", EchoBackend)
    yield
    backends.unregister("echo")


def test_a_registered_backend_brings_its_options_checks_and_versions(echo):
    import click

    from trtbench import doctor, envinfo
    from trtbench.cli.options import backend_options

    field, users = backends.declared_options()["repeats"]
    assert users == ["echo"] and field.default == 1
    command = backend_options(click.command()(lambda **kw: None))
    assert "--repeats" in {flag for param in command.params for flag in param.opts}
    assert backends.config_for("echo", {"repeats": 3, "threads": 9}) == EchoConfig(repeats=3)
    states, _ = doctor.backend_states()
    assert states["echo"]["available"] and states["echo"]["precisions"] == ["fp32"]
    assert "numpy" in envinfo.all_packages()


def test_a_registered_backend_runs_a_sweep(echo, tmp_path, monkeypatch):
    events = []
    session = Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "echo", {"repeats": 2},
                      reporter=events.append, command=["test"], precisions=["fp32"])
    monkeypatch.setattr(session, "exports", lambda models: {m: _FakeExport(tmp_path / f"{m}.onnx") for m in models})
    outcome = session.run(["ResNet18"], [1, 4], QUICK)
    assert [(r.batch, r.status, r.median_ms) for r in outcome.records] == [(1, "ok", 1.0), (4, "ok", 1.0)]
    assert outcome.records[0].method["repeats"] == 2 and outcome.records[0].engine == {"repeats": 2}
    assert isinstance(outcome.records[0], LatencyRecord) and outcome.run_path.is_file()
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["Note", "Note", "StageStarted"] and kinds[-2:] == ["StageFinished", "RunSaved"]
    assert [e.text for e in events[:2]] == [
        "backend echo: always", "no GPU/TensorRT here: these are CPU numbers (echo), not TensorRT numbers"]
    assert kinds.count("CaseFinished") == 2
    with pytest.raises(TrtbenchError, match="backend echo does not run fp16 here: echo runs fp32, not fp16"):
        Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "echo", precisions=["fp16"])


class _FakeExport:
    def __init__(self, path):
        self.onnx_path, self.skipped = path, True
        self.metadata = {"weights": {"kind": "random", "description": "random init, seed 0"}}


def test_verify_with_a_backend_that_only_times_is_one_line(invoke, tmp_path):
    line = _one_line_error(invoke("verify", "ResNet18", "--backend", "trtexec", "--models-dir", tmp_path))
    assert "backend trtexec cannot run inferences (it only times engines): use --backend" in line
    line = _one_line_error(invoke("run", "ResNet18", "--verify", "--backend", "trtexec", "--models-dir", tmp_path))
    assert "cannot run inferences" in line
    images = tmp_path / "images" / "n0000"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(b"not read before the refusal")
    line = _one_line_error(invoke("eval", "ResNet18", "--data", tmp_path / "images", "--backend", "trtexec",
                                  "--models-dir", tmp_path))
    assert "backend trtexec cannot run inferences" in line


def test_models_are_chosen_before_any_backend_work(tmp_path):
    with pytest.raises(TrtbenchError, match="not both"):
        select_models(tmp_path, ["ResNet18"], all_=True)
    assert select_models(tmp_path, ["resnet18", "ResNet18"]) == ["ResNet18"]


def test_json_lines_reporter_writes_one_object_per_event(tmp_path):
    import io

    from trtbench.bench import Case

    stream = io.StringIO()
    reporter = JsonLinesReporter(stream)
    record = LatencyRecord(model="ResNet18", backend="echo", device="d", precision="fp32", batch=1)
    reporter(StageStarted("run", 1))
    reporter(CaseFinished(Case("ResNet18", "fp32", 1), True, "ResNet18 fp32 batch 1: fine", record, ("w",)))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {"event": "stage_started", "stage": "run", "total": 1}
    assert second["event"] == "case_finished" and second["case"] == {"model": "ResNet18", "precision": "fp32",
                                                                     "batch": 1, "backend": ""}
    assert second["record"]["kind"] == "latency" and second["warnings"] == ["w"]


# --- the TensorRT double through the whole command line ------------------------------------------


class FakeTensorRTBackend(TensorRTBackend):
    """TensorRT 10 on the double, shared by every command of a test (like one machine's GPU)."""

    name = "tensorrt-double"
    gpu = None
    trt = None

    def __init__(self, config=None, calibration=None):
        super().__init__(config, calibration, trt=type(self).trt, cuda=type(self).gpu)


@pytest.fixture
def fake_tensorrt():
    FakeTensorRTBackend.gpu = FakeCuda()
    FakeTensorRTBackend.trt = FakeTensorRT(10, FakeTensorRTBackend.gpu)
    backends.register("tensorrt-double", FakeTensorRTBackend)
    yield FakeTensorRTBackend.trt
    backends.unregister("tensorrt-double")


@pytest.mark.slow
def test_verify_and_eval_check_the_engine_run_timed(invoke, exported, fake_tensorrt, tmp_path):
    models_dir, _ = exported
    engines, results = tmp_path / "engines", tmp_path / "results"
    common = ("--backend", "tensorrt-double", "--opt-level", "5", "--typing", "strong", "--models-dir", models_dir,
              "--engines-dir", engines)
    timed = invoke("run", "ResNet18", "--precision", "fp16", "--batch", "8", "--results-dir", results,
                   "--progress", "json", *common, *FAST)
    assert timed.exit_code == 0, timed.output
    events = [json.loads(line) for line in timed.stderr.splitlines()]
    assert [e["event"] for e in events if e["event"] != "case_progress"][-5:] == [
        "stage_started", "case_started", "case_finished", "stage_finished", "run_saved"]
    (run_path,) = results.glob("*.json")
    (record,) = json.loads(run_path.read_text())["records"]
    assert record["engine"]["cached"] is False and record["method"]["opt_level"] == 5
    checked = invoke("verify", "ResNet18", "--precision", "fp16", "--batch", "8", "--json", *common)
    assert checked.exit_code == 0, checked.output
    (row,) = json.loads(checked.stdout)
    assert row["engine"]["cached"] is True and row["engine"]["engine_sha256"] == record["engine"]["engine_sha256"]
    assert len(fake_tensorrt._builds) == 1 and fake_tensorrt._builds[0]["opt_level"] == 5
    # the same command with another builder option is another engine
    other = invoke("verify", "ResNet18", "--precision", "fp16", "--batch", "8", "--json", "--backend",
                   "tensorrt-double", "--typing", "strong", "--models-dir", models_dir, "--engines-dir", engines)
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)[0]["engine"]["cached"] is False and len(fake_tensorrt._builds) == 2


def test_an_interrupted_stage_still_ends_and_keeps_its_records(echo, tmp_path, monkeypatch):
    from trtbench.events import StageFinished
    from trtbench.results import load_run

    builds = []

    def build(self, onnx_path, precision, batch, cache_dir):
        builds.append(batch)
        if batch == 4:
            raise KeyboardInterrupt
        return EchoEngine(batch, 1)

    monkeypatch.setattr(EchoBackend, "build", build)
    events = []
    session = Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "echo", reporter=events.append,
                      precisions=["fp32"])
    monkeypatch.setattr(session, "exports", lambda models: {m: _FakeExport(tmp_path / f"{m}.onnx") for m in models})
    with pytest.raises(KeyboardInterrupt):
        session.run(["ResNet18"], [1, 4, 8], QUICK)
    assert builds == [1, 4] and events[-1] == StageFinished("run", complete=False)
    (run_path,) = (tmp_path / "r").glob("*.json")
    assert [(r.batch, r.status) for r in load_run(run_path).records] == [(1, "ok")]
