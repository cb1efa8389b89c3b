"""A case timed under load: the engine's runners driven by the scenario, the record filled from the point it
stands for, every point kept."""

import contextlib
import threading
import time

import pytest

from tests.executors.test_case import CountingEngine, FlakyBackend
from trtbench.backends.base import Concurrent
from trtbench.executors.case import Case, run_case
from trtbench.executors.load import default_concurrency
from trtbench.measure.timing import TimingPolicy

SERVICE_S = 0.004  # each request's service time


class ServingEngine(CountingEngine):
    """Serves ``slots`` requests at once at most (a device with that many parallel streams), each in SERVICE_S."""

    def __init__(self, batch, slots=2):
        super().__init__(batch, fail=False)
        self.slots = threading.Semaphore(slots)
        self.asked: list[int] = []

    @contextlib.contextmanager
    def concurrent(self, requests):
        self.asked.append(requests)

        def runner():
            with self.slots:
                time.sleep(SERVICE_S)

        yield Concurrent([runner for _ in range(requests)],
                         {"requests": requests, "streams": 2, "threads_per_stream": 1, "how": "two test slots"})


class ServingBackend(FlakyBackend):
    name = "serving"

    def build(self, onnx_path, precision, batch, cache_dir):
        self.engine = ServingEngine(batch)
        return self.engine


QUICK = dict(warmup_ms=20, duration_s=0.4, min_iterations=10)


def test_default_concurrency_doubles_up_to_twice_the_cores():
    assert default_concurrency(2) == (1, 2, 4) and default_concurrency(3) == (1, 2, 4) and default_concurrency(1) == (
        1, 2)


def test_offline_tries_each_concurrency_and_keeps_the_best(tmp_path):
    policy = TimingPolicy(**QUICK, scenario="offline", concurrency=(1, 2, 4))
    backend = ServingBackend()
    record = run_case(backend, Case("ResNet18", "fp32", 4), tmp_path / "m.onnx", tmp_path, policy)
    assert record.ok, record.traceback
    assert backend.engine.asked == [1, 2, 4] and record.scenario == "offline"
    sweep = {point["concurrency"]: point["images_per_s"] for point in record.load["sweep"]}
    # one request in flight: one slot busy (4 images / 4 ms); two or more: both slots
    assert sweep[1] == pytest.approx(1000, rel=0.25) and sweep[2] == pytest.approx(2000, rel=0.25)
    assert record.load["concurrency"] in (2, 4) and record.throughput_ips == max(sweep.values())
    assert record.load["how"] == "two test slots" and record.load["streams"] == 2
    assert record.latency_ms["median"] >= SERVICE_S * 1000  # a request's own time
    assert record.method["scenario"] == "offline" and record.value("throughput") == record.throughput_ips


def test_a_server_rate_is_served_with_its_queueing_and_said_whether_it_kept_up(tmp_path):
    policy = TimingPolicy(**QUICK, scenario="server", concurrency=(2,), rate_qps=200.0)
    record = run_case(ServingBackend(), Case("ResNet18", "fp32", 1), tmp_path / "m.onnx", tmp_path, policy)
    assert record.ok, record.traceback
    assert record.scenario == "server 200 qps" and record.load["held"] is True
    assert record.load["achieved_qps"] == pytest.approx(200, rel=0.3)
    assert record.latency_ms["median"] >= SERVICE_S * 1000


@pytest.mark.slow
def test_a_latency_bound_finds_the_highest_rate_that_holds_it(tmp_path):
    # two slots of 4 ms serve 500/s at most; a 20 ms p99 bound holds below that
    policy = TimingPolicy(warmup_ms=20, duration_s=0.5, min_iterations=10, percentiles=(99.0,), max_duration_s=6,
                          scenario="server", concurrency=(2,), latency_bound_ms=20.0)
    record = run_case(ServingBackend(), Case("ResNet18", "fp32", 1), tmp_path / "m.onnx", tmp_path, policy)
    assert record.ok, record.traceback
    load = record.load
    assert record.scenario == "server p99 <= 20 ms" and load["held"] is True
    assert 250 <= load["peak_qps"] <= 500 and load["offline_qps"] == pytest.approx(500, rel=0.2)
    assert all(probe["held"] == (probe["ms"] is not None and probe["ms"] <= 20) for probe in load["sweep"]
               if probe.get("kept_up", True))
    assert record.latency_ms["p99"] <= 20.0 and record.value("peak_rate") == load["peak_qps"]


def test_a_backend_that_cannot_serve_concurrently_fails_the_case_in_one_line(tmp_path):
    policy = TimingPolicy(**QUICK, scenario="offline", concurrency=(2,))
    record = run_case(FlakyBackend(), Case("ResNet18", "fp32", 1), tmp_path / "m.onnx", tmp_path, policy)
    assert not record.ok and record.error == "this backend cannot run requests concurrently yet (asked for 2)"
