import pytest

from trtbench.backends.base import Availability, Backend, Engine
from trtbench.bench import Case, parse_batches, sweep
from trtbench.errors import TrtbenchError
from trtbench.timing import TimingPolicy


@pytest.mark.parametrize("text", ["1,x", "0", "-4", "", "1,,4", "2.5"])
def test_bad_batch_lists(text):
    with pytest.raises(TrtbenchError, match="bad --batch"):
        parse_batches(text)


def test_batch_list_keeps_order_without_repeats():
    assert parse_batches("32, 1,4,1") == [32, 1, 4]


class CountingEngine(Engine):
    def __init__(self, batch, fail):
        super().__init__(batch)
        self.fail = fail
        self.calls = 0

    def iterate_impl(self):
        self.calls += 1
        if self.fail:
            raise MemoryError("out of device memory")
        return {"latency": 2.0 + (self.calls % 2) * 0.01}

    def describe(self):
        return {"timer": "test"}


class FlakyBackend(Backend):
    """Fails at batch 8 (like an out-of-memory at one batch size), works otherwise."""

    name = "flaky"

    def availability_impl(self):
        return Availability(True, "test")

    def device(self):
        return "test device"

    def build(self, onnx_path, precision, batch, cache_dir):
        if batch == 4:
            raise TrtbenchError("parser failed at node Conv_3")
        return CountingEngine(batch, fail=batch == 8)


def test_failing_cases_are_recorded_and_the_sweep_goes_on(tmp_path):
    saved = []
    cases = [(Case("ResNet18", "fp32", b), tmp_path / "m.onnx") for b in (1, 4, 8, 32)]
    records = sweep(FlakyBackend(), cases, tmp_path, TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=5),
                    on_record=saved.append)
    assert saved == records
    assert [r.status for r in records] == ["ok", "failed", "failed", "ok"]
    assert records[1].error == "parser failed at node Conv_3"
    assert records[2].error == "MemoryError: out of device memory" and "MemoryError" in records[2].traceback
    ok = records[0]
    assert ok.iterations == 5 and ok.latency_ms["min"] == 2.0
    assert ok.throughput_ips == pytest.approx(ok.throughput_qps * 1)
    assert ok.method["timer"] == "test" and ok.method["min_iterations"] == 5
    assert records[3].throughput_ips == pytest.approx(records[3].throughput_qps * 32)


def test_engine_refuses_use_outside_its_block():
    engine = CountingEngine(1, fail=False)
    with pytest.raises(RuntimeError):
        engine.iterate()


class InterruptedBackend(FlakyBackend):
    """The user presses Ctrl-C while the second case builds."""

    def build(self, onnx_path, precision, batch, cache_dir):
        if batch == 4:
            raise KeyboardInterrupt
        return CountingEngine(batch, fail=False)


def test_an_interrupted_sweep_keeps_every_finished_case(tmp_path):
    from trtbench.results import RunFile, load_run

    run = RunFile(tmp_path, {}, [])
    cases = [(Case("ResNet18", "fp32", b), tmp_path / "m.onnx") for b in (1, 4, 8)]
    with pytest.raises(KeyboardInterrupt):
        sweep(InterruptedBackend(), cases, tmp_path, TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=2),
              on_record=run.add)
    assert [(r.batch, r.status) for r in load_run(run.path).records] == [(1, "ok")]
