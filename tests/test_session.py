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
from trtbench.events import CaseFinished, JsonLinesReporter, Note, StageStarted
from trtbench.measure.timing import TimingPolicy
from trtbench.session import Session, Workspace, select_models
from trtbench.store.records import LatencyRecord

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

    from trtbench import doctor
    from trtbench.cli.options import backend_options
    from trtbench.executors import environment

    field, users = backends.declared_options()["repeats"]
    assert users == ["echo"] and field.default == 1
    command = backend_options(click.command()(lambda **kw: None))
    assert "--repeats" in {flag for param in command.params for flag in param.opts}
    assert backends.config_for("echo", {"repeats": 3, "threads": 9}) == EchoConfig(repeats=3)
    states, _ = doctor.backend_states()
    assert states["echo"]["available"] and states["echo"]["precisions"] == ["fp32"]
    assert "numpy" in environment.all_packages()


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


def test_case_events_name_their_backend_and_device(echo, tmp_path, monkeypatch):
    import io

    stream = io.StringIO()
    session = Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "echo",
                      reporter=JsonLinesReporter(stream), command=["test"], precisions=["fp32"])
    monkeypatch.setattr(session, "exports", lambda models: {m: _FakeExport(tmp_path / f"{m}.onnx") for m in models})
    import trtbench.executors

    real_run_case = trtbench.executors.run_case

    def run_case(backend, case, graph, engines, policy, progress, *args, **kwargs):
        progress(3, 1.0)  # as the timed loop reports, whatever the machine's speed
        return real_run_case(backend, case, graph, engines, policy, progress, *args, **kwargs)

    monkeypatch.setattr(trtbench.executors, "run_case", run_case)
    session.run(["ResNet18"], [1], QUICK)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    cases = [e for e in events if e["event"].startswith("case_")]
    assert {e["event"] for e in cases} == {"case_started", "case_progress", "case_finished"}
    for event in cases:
        assert event["case"] == {"model": "ResNet18", "precision": "fp32", "batch": 1, "backend": "echo",
                                 "device": "the test's imagination"}, event
        assert "backend" not in event and "device" not in event  # said once, in the case
    # a verify stage's events name them too, and the console still labels the case as before
    from trtbench.events import CaseStarted

    started = []
    session.report = started.append
    monkeypatch.setattr("trtbench.checks.verify.Reference", lambda path: None)
    monkeypatch.setattr("trtbench.checks.verify.check_engine", lambda *a, **k: {"passed": True, "failed": []})
    monkeypatch.setattr(EchoEngine, "executed_precision", lambda self: ("fp32", "echo"), raising=False)
    session.verify(["ResNet18"], 1)
    (first,) = [e for e in started if isinstance(e, CaseStarted)]
    assert (first.backend, first.device) == ("echo", "the test's imagination")
    assert first.case.label() == "ResNet18 fp32 batch 1"


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

    from trtbench.executors.case import Case

    stream = io.StringIO()
    reporter = JsonLinesReporter(stream)
    record = LatencyRecord(model="ResNet18", backend="echo", device="d", precision="fp32", batch=1)
    reporter(StageStarted("run", 1))
    reporter(CaseFinished(Case("ResNet18", "fp32", 1), True, "ResNet18 fp32 batch 1: fine", record, ("w",)))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {"event": "stage_started", "stage": "run", "total": 1, "devices": {}}
    assert second["event"] == "case_finished" and second["case"] == {"model": "ResNet18", "precision": "fp32",
                                                                     "batch": 1, "backend": "", "device": ""}
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
    from trtbench.events import RunInterrupted, StageFinished
    from trtbench.store.results import load_run

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
    assert builds == [1, 4] and events[-2] == StageFinished("run", complete=False)
    (run_path,) = (tmp_path / "r").glob("*.json")
    run = load_run(run_path)
    assert [(r.batch, r.status) for r in run.records] == [(1, "ok")]
    assert run.status == "interrupted" and run.interruptions[0]["records"] == 1
    assert events[-1] == RunInterrupted(run_path, run.run_id, 1, 3,
                                        f"trtbench run --resume {run.run_id} --results-dir {tmp_path / 'r'}")


# --- interruption and resume ---------------------------------------------------------------------


@pytest.fixture
def echo_exports(echo, tmp_path, monkeypatch):
    """Sessions of the echo backend whose exports are stand-ins (every session, resumed ones too)."""
    monkeypatch.setattr(Session, "exports", lambda self, models: {m: _FakeExport(tmp_path / f"{m}.onnx")
                                                                  for m in models})
    return Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r")


def _stop_at(monkeypatch, batch):
    """The echo backend raises KeyboardInterrupt when it builds ``batch`` (as Ctrl-C would)."""
    built = []

    def build(self, onnx_path, precision, b, cache_dir):
        built.append(b)
        if b == batch:
            raise KeyboardInterrupt
        return EchoEngine(b, 1)

    monkeypatch.setattr(EchoBackend, "build", build)
    return built


def test_resume_runs_only_the_missing_cases_into_the_same_run_file(echo_exports, monkeypatch):
    from trtbench.store.results import load_run

    workspace = echo_exports
    built = _stop_at(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        Session(workspace, "echo", precisions=["fp32"]).run(["ResNet18", "ResNet34"], [1, 4, 8], QUICK)
    (run_path,) = workspace.results.glob("*.json")
    assert load_run(run_path).status == "interrupted" and built == [1, 4]

    built = _stop_at(monkeypatch, None)
    events = []
    session, run_file = Session.resuming(workspace.results, None, reporter=events.append)
    plan = run_file.run.plan
    session.run(plan["models"], plan["batches"], TimingPolicy(**plan["policy"]), plan["verify"], resume=run_file)
    run = load_run(run_path)
    cases = [(r.model, r.batch) for r in run.records]
    assert cases == [("ResNet18", 1), ("ResNet18", 4), ("ResNet18", 8), ("ResNet34", 1), ("ResNet34", 4),
                     ("ResNet34", 8)]
    assert built == [4, 8, 1, 4, 8] and run.status == "complete" and run.finished_at and len(run.resumed_at) == 1
    assert Note("resuming run " + run.run_id + ": 1 of 6 cases recorded, 5 to run") in events
    assert [p.name for p in workspace.results.iterdir()] == [run_path.name]  # no lock left behind


def test_a_failed_case_has_its_record_and_is_not_run_again(echo_exports, monkeypatch):
    from trtbench.store.results import load_run

    workspace = echo_exports

    def build(self, onnx_path, precision, batch, cache_dir):
        if batch == 1:
            raise TrtbenchError("out of memory")
        if batch == 8:
            raise KeyboardInterrupt
        return EchoEngine(batch, 1)

    monkeypatch.setattr(EchoBackend, "build", build)
    with pytest.raises(KeyboardInterrupt):
        Session(workspace, "echo", precisions=["fp32"]).run(["ResNet18"], [1, 4, 8], QUICK)
    _stop_at(monkeypatch, None)
    session, run_file = Session.resuming(workspace.results, None)
    session.run(["ResNet18"], [1, 4, 8], QUICK, resume=run_file)
    (run_path,) = workspace.results.glob("*.json")
    assert [(r.batch, r.status) for r in load_run(run_path).records] == [(1, "failed"), (4, "ok"), (8, "ok")]


def test_what_cannot_be_resumed_is_one_line(echo_exports, monkeypatch):
    workspace = echo_exports
    workspace.results.mkdir()
    with pytest.raises(TrtbenchError, match="no interrupted run in .* to resume"):
        Session.resuming(workspace.results, None)
    with pytest.raises(TrtbenchError, match="no run nope in"):
        Session.resuming(workspace.results, "nope")
    done = Session(workspace, "echo", precisions=["fp32"]).run(["ResNet18"], [1], QUICK)
    with pytest.raises(TrtbenchError, match="is complete: nothing to resume"):
        Session.resuming(workspace.results, done.run_path.stem)

    _stop_at(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        Session(workspace, "echo", precisions=["fp32"]).run(["ResNet18"], [1, 4], QUICK)
    _stop_at(monkeypatch, None)
    session, run_file = Session.resuming(workspace.results, None)
    try:  # while one process completes it, no other may
        with pytest.raises(TrtbenchError, match="is still running in another trtbench process"):
            Session.resuming(workspace.results, run_file.run_id)
    finally:
        run_file.close()


def test_a_run_measured_with_other_versions_is_not_resumed(echo_exports, monkeypatch):
    import json

    workspace = echo_exports
    _stop_at(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        Session(workspace, "echo", precisions=["fp32"]).run(["ResNet18"], [1, 4], QUICK)
    (run_path,) = workspace.results.glob("*.json")
    data = json.loads(run_path.read_text())
    data["environment"]["versions"]["numpy"] = "0.1"
    run_path.write_text(json.dumps(data))
    with pytest.raises(TrtbenchError, match=r"other package versions .*numpy: 0.1 then"):
        Session.resuming(workspace.results, None)
    from trtbench.envinfo import package_version

    data["environment"]["versions"]["numpy"] = package_version("numpy")  # as it was: only the plan is damaged now
    for damage in ({"kind": "run"}, {**data["plan"], "cases": [["echo", "ResNet18", "fp32", "x"], 5]}):
        data["plan"] = damage
        run_path.write_text(json.dumps(data))
        with pytest.raises(TrtbenchError, match="plan is damaged"):
            Session.resuming(workspace.results, None)


def test_resume_takes_its_options_from_the_run(invoke, tmp_path):
    line = _one_line_error(invoke("run", "--resume", "--batch", "8", "--duration", "1", "--results-dir", tmp_path),
                           code=2)
    assert line == "error: --resume continues a run with the options it started with: drop --batch, --duration"
    assert "no interrupted run in" in _one_line_error(invoke("run", "--resume", "--results-dir", tmp_path))


# --- the export a run planned is the one its cases build from ------------------------------------


def test_an_export_replaced_between_two_cases_is_refused_for_the_rest_of_the_run(echo_exports, tmp_path):
    """`trtbench export ResNet18 --force --weights other.pdparams` while a run is under way: the cases
    after it are failed records naming the change, never timed as ResNet18 of the plan."""
    import os

    from trtbench.events import CaseStarted
    from trtbench.store.results import load_run

    export = tmp_path / "ResNet18.onnx"
    export.write_bytes(b"ResNet18 as the run planned it")
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, CaseStarted) and event.index == 2:  # between the second and the third case
            (tmp_path / "other.onnx").write_bytes(b"ResNet18 exported again from other weights")
            os.replace(tmp_path / "other.onnx", export)

    outcome = Session(echo_exports, "echo", precisions=["fp32"], reporter=reporter).run(["ResNet18"], [1, 2, 4, 8],
                                                                                          QUICK)
    run = load_run(outcome.run_path)
    assert [(r.batch, r.status) for r in run.records] == [(1, "ok"), (2, "ok"), (4, "failed"), (8, "failed")]
    assert run.status == "complete"  # the run goes on: other models' cases are not touched by it
    planned = run.plan["exports"]["ResNet18"]
    assert run.records[2].error.startswith(f"ResNet18's export {export} changed (sha256 {planned[:12]} planned, ")
    assert run.records[2].error.endswith("start a new run to time ResNet18 as it is now")
    finished = [e for e in events if isinstance(e, CaseFinished)]
    assert [e.ok for e in finished] == [True, True, False, False]


# --- numbers you can defend: a real clock, samples kept, and a compare that knows noise -------------


@dataclass(frozen=True)
class SleepConfig(BackendConfig):
    slower: float = option(1.0, "Sleep: how much slower than 3 ms each iteration is.", minimum=0.1)


class SleepEngine(Engine):
    """An engine whose work is a sleep of 3 ms x ``slower``, timed by the real clock."""

    def __init__(self, batch, slower):
        super().__init__(batch, info={"slower": slower})
        self.slower = slower

    def iterate_impl(self):
        import time

        start = time.perf_counter()
        time.sleep(0.003 * self.slower)
        return {"latency": (time.perf_counter() - start) * 1000}

    def infer_impl(self, data):
        return np.zeros((len(data), 1000), dtype=np.float32)


class SleepBackend(EchoBackend):
    name = "sleep"
    metric = "sleep time"
    config_class = SleepConfig
    config: SleepConfig  # type: ignore[assignment]

    def build(self, onnx_path, precision, batch, cache_dir):
        return SleepEngine(batch, self.config.slower)


def _sleep_run(tmp_path, name, slower, monkeypatch):
    session = Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / name), "sleep", {"slower": slower},
                      reporter=lambda event: None, command=["test"], precisions=["fp32"])
    monkeypatch.setattr(session, "exports", lambda models: {m: _FakeExport(tmp_path / f"{m}.onnx") for m in models})
    policy = TimingPolicy(warmup_ms=20, duration_s=0.6, min_iterations=10, percentiles=(50, 90), stability=0.05,
                          max_duration_s=3)
    return session.run(["ResNet18"], [1], policy).run_path


def test_the_same_engine_twice_is_within_noise_and_a_20_percent_slower_one_regressed(invoke, tmp_path, monkeypatch):
    from trtbench.measure.stats import decode_samples

    backends.register("sleep", SleepBackend)
    try:
        first = _sleep_run(tmp_path, "first", 1.0, monkeypatch)
        again = _sleep_run(tmp_path, "again", 1.0, monkeypatch)
        slower = _sleep_run(tmp_path, "slower", 1.2, monkeypatch)
    finally:
        backends.unregister("sleep")
    record = json.loads(first.read_text())["records"][0]
    assert len(decode_samples(record["samples"])) == record["iterations"] >= 64
    assert record["percentiles"]["p90"]["supported"] and record["median_interval_ms"]
    same = invoke("compare", first, again)
    assert same.exit_code == 0, same.output
    assert "regressed" not in same.stdout and ("unchanged" in same.stdout or "within noise" in same.stdout)
    # --strict: this machine's other processes make every case here one timed on a shared device
    worse = invoke("compare", "--strict", first, slower)
    assert worse.exit_code == 1, worse.output
    assert "1 of 1 compared case regressed" in worse.stderr
