import contextlib
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest

from trtbench.backends.base import Availability, Backend, Engine
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, parse_batches, run_case
from trtbench.measure.timing import TimingPolicy

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3)


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

    def infer_impl(self, data):
        return data.reshape(len(data), -1)[:, :1000]

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


def _local(backend, batches, model_path, policy, finished):
    """``batches`` of ResNet18 fp32 through the local executor (the loop `trtbench run` uses); each
    record is handed to ``finished(backend, case, record)`` as its case ends."""
    from trtbench.executors import LocalExecutor, Sweep

    work = [(backend, Case("ResNet18", "fp32", b)) for b in batches]
    started: list[Case] = []
    sweep = Sweep(work, {"ResNet18": model_path}, model_path.parent, policy, None, lambda b: contextlib.nullcontext(),
                  lambda i, case: started.append(case), lambda *a: None, finished)
    LocalExecutor().run(sweep)
    return work, started


def test_failing_cases_are_recorded_and_the_sweep_goes_on(tmp_path):
    saved = []
    backend = FlakyBackend()
    work, started = _local(backend, (1, 4, 8, 32), tmp_path / "m.onnx",
                           TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=5),
                           lambda b, case, record: saved.append((b, case, record)))
    records = [record for _, _, record in saved]
    assert [(b, case) for b, case, _ in saved] == work and started == [case for _, case in work]
    assert [(r.model, r.precision, r.batch, r.backend) for r in records] == [
        ("ResNet18", "fp32", b, "flaky") for b in (1, 4, 8, 32)]
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
    from trtbench.store.results import RunFile, load_run

    run = RunFile(tmp_path, {}, [])
    with pytest.raises(KeyboardInterrupt):
        _local(InterruptedBackend(), (1, 4, 8), tmp_path / "m.onnx",
               TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=2), lambda b, case, record: run.add(record))
    assert [(r.batch, r.status) for r in load_run(run.path).records] == [(1, "ok")]


# --- a case is ok only when it ran what was asked, and computed numbers ---------------------------


class ReportingEngine(CountingEngine):
    """Reads back a precision as OpenVINO's runtime model does, and computes ``outputs``."""

    def __init__(self, batch, executed, outputs=None):
        super().__init__(batch, fail=False)
        self.executed, self.outputs, self.inferred = executed, outputs, 0

    def executed_precision(self):
        if self.executed is None:
            return None, "not read back from this engine"
        return self.executed, f"OpenVINO runtime model: 21 of 21 Convolution ops in {self.executed}"

    def infer_impl(self, data):
        self.inferred += 1
        return np.zeros((len(data), 1000), np.float32) if self.outputs is None else self.outputs(len(data))


class ReportingBackend(FlakyBackend):
    name = "reporting"
    precisions = ("fp32", "fp16")

    def __init__(self, executed=None, outputs=None, can_infer=True):
        super().__init__()
        self.executed, self.outputs, self.can_infer = executed, outputs, can_infer
        self.engines = []

    def build(self, onnx_path, precision, batch, cache_dir):
        self.engines.append(ReportingEngine(batch, self.executed, self.outputs))
        return self.engines[-1]


def _one(backend, tmp_path, precision="fp16", **kwargs):
    return run_case(backend, Case("ResNet18", precision, 1), tmp_path / "m.onnx", tmp_path, QUICK, **kwargs)


def test_a_case_that_ran_another_precision_is_failed_with_its_evidence_and_timings():
    record = run_case(ReportingBackend(executed="f32"), Case("ResNet18", "fp16", 4), Path("m.onnx"), Path("."),
                      QUICK)
    assert record.status == "failed" and not record.ok
    assert record.error == ("asked fp16, the engine ran f32: OpenVINO runtime model: 21 of 21 Convolution ops in "
                            "f32; not counted as fp16 (its timings stay in the run file)")
    assert record.median_ms == 2.01 and record.iterations == 3 and record.throughput_ips > 0  # kept to look at
    assert (record.precision_executed, record.traceback) == ("f32", None)


@pytest.mark.parametrize("executed", [None, "fp16"])
def test_a_case_that_ran_what_was_asked_or_cannot_say_is_ok(executed, tmp_path):
    record = _one(ReportingBackend(executed=executed), tmp_path)
    assert record.ok, record.error
    assert record.precision_executed == executed


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_outputs_that_are_not_finite_fail_the_case(poison, tmp_path):
    def outputs(batch):
        values = np.ones((batch, 1000), np.float32)
        values[0, :7] = poison
        return values

    backend = ReportingBackend(executed="fp16", outputs=outputs)
    record = _one(backend, tmp_path)
    assert record.status == "failed" and record.median_ms == 2.01
    assert record.error.startswith("7 of 1000 output values are NaN or Inf on the seeded input: ")
    assert backend.engines[0].inferred == 1


def test_both_reasons_are_given_and_a_backend_that_only_times_is_not_asked_for_outputs(tmp_path):
    nan = ReportingBackend(executed="fp32", outputs=lambda batch: np.full((batch, 10), np.nan, np.float32))
    error = _one(nan, tmp_path).error
    assert error.startswith("10 of 10 output values are NaN or Inf") and "; asked fp16, the engine ran fp32" in error
    timing_only = ReportingBackend(executed="fp16", outputs=lambda batch: 1 / 0, can_infer=False)
    assert _one(timing_only, tmp_path).ok and timing_only.engines[0].inferred == 0


def test_a_mismatch_written_as_ok_by_an_older_trtbench_is_read_as_failed():
    from trtbench.store.records import LatencyRecord, record_from_json

    old = LatencyRecord(model="ResNet18", backend="openvino-cpu", device="cpu", precision="fp16", batch=1,
                        precision_executed="fp32", precision_evidence="21 of 21 Convolution ops in f32",
                        latency_ms={"median": 30.0})
    read = record_from_json(old.to_json())
    assert read.status == "failed" and read.latency_ms == {"median": 30.0}
    assert read.error.startswith("asked fp16, the engine ran fp32: 21 of 21 Convolution ops in f32")
    same = dataclasses.replace(old, precision_executed="fp16")
    assert record_from_json(same.to_json()).ok


# --- the export a case builds from is the one its run planned -----------------------------------------


def _sweep_with_an_export_replaced_before(tmp_path, index, backend=None):
    """Four cases of one export through the local executor; before case ``index`` starts the export is
    replaced (renamed over, as `trtbench export --force` does)."""
    from trtbench.executors import LocalExecutor, Sweep
    from trtbench.store.artifacts import sha256_file

    export = tmp_path / "ResNet18.onnx"
    export.write_bytes(b"the graph the run planned")
    backend = backend or ReportingBackend(executed="fp32")
    records = []

    def started(i, case):
        if i == index:  # the hook between two cases
            (tmp_path / "new.onnx").write_bytes(b"another graph, exported since")
            os.replace(tmp_path / "new.onnx", export)

    work = [(backend, Case("ResNet18", "fp32", b)) for b in (1, 2, 4, 8)]
    sweep = Sweep(work, {"ResNet18": export}, tmp_path, QUICK, None, lambda b: contextlib.nullcontext(),
                  started, lambda *a: None, lambda b, c, record: records.append(record),
                  exports={"ResNet18": sha256_file(export)})
    LocalExecutor().run(sweep)
    return backend, records


def test_a_case_whose_export_was_replaced_under_the_run_is_refused_and_the_run_goes_on(tmp_path):
    backend, records = _sweep_with_an_export_replaced_before(tmp_path, 2)
    assert [r.status for r in records] == ["ok", "ok", "failed", "failed"]
    assert len(backend.engines) == 2  # nothing was built from the new file
    assert records[2].error.startswith(f"ResNet18's export {tmp_path / 'ResNet18.onnx'} changed (sha256 ")
    assert records[2].error.endswith(" now: exported again since the run began) under this run: not timed, so that "
                                     "the run times one export; start a new run to time ResNet18 as it is now")
    assert records[2].traceback is None and records[2].latency_ms is None


def test_an_unchanged_export_is_hashed_once_per_run_not_once_per_case(tmp_path, monkeypatch):
    from trtbench.store import artifacts

    hashed = []
    real = artifacts.sha256_file
    monkeypatch.setattr(artifacts, "sha256_file", lambda path: hashed.append(path) or real(path))
    _, records = _sweep_with_an_export_replaced_before(tmp_path, 99)
    assert all(r.ok for r in records)
    assert len(hashed) == 2  # the plan's hash (the test's), then the first case's: the rest only stat it


def test_an_export_replaced_while_a_case_builds_is_refused(tmp_path):
    class ReplacingBackend(ReportingBackend):
        def build(self, onnx_path, precision, batch, cache_dir):
            if batch == 2:
                (tmp_path / "new.onnx").write_bytes(b"replaced during the build")
                os.replace(tmp_path / "new.onnx", onnx_path)
            return super().build(onnx_path, precision, batch, cache_dir)

    _, records = _sweep_with_an_export_replaced_before(tmp_path, 99, ReplacingBackend(executed="fp32"))
    assert [r.status for r in records] == ["ok", "failed", "failed", "failed"]
    assert "changed (sha256" in records[1].error


def test_an_export_removed_under_the_run_is_said_so(tmp_path):
    record = _one(ReportingBackend(), tmp_path, "fp32", export_sha256="0" * 64)  # no m.onnx any more
    assert record.error.startswith(f"ResNet18's export {tmp_path / 'm.onnx'} is gone under this run: not timed")


# --- GPU telemetry comes through the Backend base, for every GPU backend ----------------------------


class GpuBackend(ReportingBackend):
    """A GPU runtime that names no GPU of its own: it runs on the GPU CUDA calls device 0."""

    name = "a-gpu-runtime"
    gpu = True


@pytest.fixture
def nvml(monkeypatch):
    from tests.fakes import nvml as fake_nvml

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # CUDA's device 0 is NVML's GPU 1
    return fake_nvml.install(monkeypatch)


def test_a_gpu_backend_gets_telemetry_of_the_gpu_it_runs_on(nvml, tmp_path):
    record = _one(GpuBackend(executed="fp16"), tmp_path)
    assert record.ok, record.error
    telemetry = record.gpu_telemetry
    assert telemetry["samples"] >= 2 and "warnings" not in telemetry
    assert telemetry["sm_clock_mhz"]["median"] == 1410 and telemetry["power_w"]["max"] == 700.0
    assert telemetry["temperature_c"]["min"] == 71


def test_a_backend_that_names_its_gpus_pci_bus_id_is_sampled_there(nvml, tmp_path):
    class ByBusId(GpuBackend):
        def gpu_pci_bus_id(self):
            return "0000:17:00.0"  # NVML's GPU 0, whatever CUDA_VISIBLE_DEVICES says

    record = _one(ByBusId(executed="fp16"), tmp_path)
    assert record.gpu_telemetry["sm_clock_mhz"]["median"] == 1980 and record.gpu_telemetry["temperature_c"]["max"] == 40
    assert "nvmlDeviceGetHandleByPciBusId" in nvml.calls and "nvmlDeviceGetHandleByUUID" not in nvml.calls


def test_telemetry_that_cannot_be_had_is_a_warning_never_a_failed_case(nvml, tmp_path):
    class Unnamed(GpuBackend):
        def gpu_pci_bus_id(self):
            raise RuntimeError("no CUDA context")

    record = _one(Unnamed(executed="fp16"), tmp_path)
    assert record.ok and record.gpu_telemetry == {
        "samples": 0, "warnings": ["GPU telemetry unavailable: a-gpu-runtime could not name its GPU "
                                   "(RuntimeError: no CUDA context)"]}
    assert "GPU telemetry unavailable: a-gpu-runtime could not name its GPU (RuntimeError: no CUDA context)" \
        in record.warnings
    nvml.failing["nvmlDeviceGetPowerUsage"] = nvml.NVMLError_NotSupported()
    record = _one(GpuBackend(executed="fp16"), tmp_path)
    assert record.ok and "power_w" not in record.gpu_telemetry and record.gpu_telemetry["samples"] >= 2
    assert [w for w in record.warnings if "telemetry" in w] == [
        "GPU telemetry: power_w not read (NVMLError_NotSupported: Not Supported)"]


def test_a_cpu_backend_samples_no_gpu(nvml, tmp_path):
    record = _one(ReportingBackend(executed="fp16"), tmp_path)
    assert record.ok and record.gpu_telemetry is None and nvml.calls == []


class ProfilingEngine(CountingEngine):
    """Reports two layers per profiled inference, and counts the profiled and timed inferences apart."""

    def __init__(self, batch):
        super().__init__(batch, fail=False)
        self.profiled = 0

    def profile_layers(self, iterations):
        from trtbench.measure.profile import Layer, LayerProfile

        assert self.active  # after the timing, on the same engine
        timed = self.calls
        self.profiled += iterations
        assert self.calls == timed  # the timed loop's count is not touched
        return LayerProfile("test counters", iterations, [Layer("first", "Convolution", 1.5, "fp32", ("n0",)),
                                                          Layer("copy", "Reorder", 0.5, "fp32", (), inserted=True)],
                            total_ms=2.0)


class ProfilingBackend(FlakyBackend):
    name = "profiling"

    def build(self, onnx_path, precision, batch, cache_dir):
        return ProfilingEngine(batch) if batch == 1 else CountingEngine(batch, fail=False)


def test_a_profile_follows_the_timing_and_is_kept_with_the_graph_it_maps_to(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="n0")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(model))
    policy = dataclasses.replace(QUICK, profile_iterations=7)
    record = run_case(ProfilingBackend(), Case("ResNet18", "fp32", 1), model, tmp_path, policy)
    assert record.ok and record.iterations == 3  # the timing as asked; the profiled run apart
    assert record.profile["iterations"] == 7 and record.profile["total_ms"] == 2.0
    assert record.profile["graph"] == [["n0", "Relu"]] and record.profile["layers"][0]["nodes"] == ["n0"]
    assert record.value("profiled_total") == 2.0
    unprofiled = run_case(ProfilingBackend(), Case("ResNet18", "fp32", 2), model, tmp_path, policy)
    assert unprofiled.ok and unprofiled.profile == {}
    assert unprofiled.warnings[-1] == ("no per-layer profile: this backend cannot report per-layer times "
                                       "(tensorrt, trtexec, onnxruntime-cpu, onnxruntime-cuda, openvino-cpu and "
                                       "paddle-inference on the CPU can)")


# --- memory and cold start per case -------------------------------------------------------------------

MIB = 2**20
SIZE = 200 * MIB
linux = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")


def _resident(size):
    return np.ones(size // 8, np.float64)  # every page written: all of it resident


class AllocatingEngine(CountingEngine):
    """Takes ``size`` bytes at its first inference and holds them until it is deactivated, each inference
    lasting 10 ms (long enough for a sampler to see); an output check (``infer``) takes twice ``SIZE`` for a
    moment, after the timing."""

    def __init__(self, batch, size=SIZE, fail=False):
        super().__init__(batch, fail=False)
        self.size, self.failing, self.held = size, fail, None

    def iterate_impl(self):
        if self.held is None and self.size:
            self.held = _resident(self.size)
        time.sleep(0.01)
        if self.failing:
            raise MemoryError("out of memory")
        return super().iterate_impl()

    def infer_impl(self, data):
        _resident(2 * SIZE)
        return super().infer_impl(data)

    def deactivate_impl(self):
        self.held = None

    def memory_facts(self):
        return {"weights_bytes": 1234}


class AllocatingBackend(FlakyBackend):
    name = "allocating"

    def __init__(self, build_bytes=0, **engine):
        super().__init__()
        self.build_bytes, self.engine = build_bytes, engine

    def build(self, onnx_path, precision, batch, cache_dir):
        if self.build_bytes:
            scratch = _resident(self.build_bytes)  # what a compile uses and frees before it returns
            time.sleep(0.05)
            del scratch
        return AllocatingEngine(batch, **self.engine)


@linux
def test_the_timing_peak_is_the_engines_allocation_and_not_the_output_check_after_it(tmp_path):
    _resident(400 * MIB)  # the process's lifetime peak is higher than any of the case's
    record = _one(AllocatingBackend(), tmp_path, "fp32", verify=lambda case, engine: {"checked": engine.infer(
        np.zeros((1, 3, 224, 224), np.float32)).shape[0]})
    assert record.ok, record.error
    memory = record.memory
    assert memory["peak_rss_bytes"] - memory["rss_before_bytes"] == pytest.approx(SIZE, rel=0.1)
    assert memory["build_peak_rss_bytes"] - memory["rss_before_bytes"] < 0.1 * SIZE
    assert memory["engine"] == {"weights_bytes": 1234} and record.verify == {"checked": 1}
    assert memory["how"].startswith(("VmHWM reset at the phase's start", "VmRSS sampled every 5 ms"))


@linux
def test_memory_a_build_takes_and_frees_is_the_builds_peak_not_the_timings(tmp_path):
    _resident(400 * MIB)
    record = _one(AllocatingBackend(build_bytes=SIZE, size=0), tmp_path, "fp32")
    assert record.ok, record.error
    memory = record.memory
    assert memory["build_peak_rss_bytes"] - memory["rss_before_bytes"] == pytest.approx(SIZE, rel=0.1)
    assert memory["peak_rss_bytes"] - memory["rss_before_bytes"] < 0.1 * SIZE  # given back before the timing


@linux
def test_where_the_peak_reset_is_refused_the_case_samples_and_says_so(tmp_path, monkeypatch):
    import errno

    from trtbench.measure import memory as tracker

    def refused(path):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))  # a PermissionError, as os.open raises

    monkeypatch.setattr(tracker, "reset_peak", refused)
    _resident(400 * MIB)  # above the case's peaks: only the samples can see them
    record = _one(AllocatingBackend(), tmp_path, "fp32")  # held over 50 ms: ten samples' worth
    assert record.ok, record.error
    memory = record.memory
    assert memory["how"] == ("VmRSS sampled every 5 ms, or VmHWM where the phase raised it (the peak reset was "
                             "refused: /proc/self/clear_refs: Permission denied (EACCES))")
    assert memory["peak_rss_bytes"] - memory["rss_before_bytes"] == pytest.approx(SIZE, rel=0.1)


@linux
def test_a_case_that_runs_out_of_memory_keeps_its_peaks(tmp_path):
    _resident(400 * MIB)
    record = _one(AllocatingBackend(fail=True), tmp_path, "fp32")
    assert record.status == "failed" and record.error == "MemoryError: out of memory"
    memory = record.memory
    assert memory["peak_rss_bytes"] - memory["rss_before_bytes"] == pytest.approx(SIZE, rel=0.1)
    assert "engine" not in memory and record.cold_start == {}


class ColdEngine(CountingEngine):
    """Its first inference takes 50 ms (buffers allocated, kernels chosen), every later one 1 ms."""

    def __init__(self, batch):
        super().__init__(batch, fail=False)
        self.load_s = 0.25

    def iterate_impl(self):
        self.calls += 1
        if self.calls == 1:
            time.sleep(0.05)
            return {"latency": 50.0}
        return {"latency": 1.0}


class ColdBackend(FlakyBackend):
    name = "cold"

    def build(self, onnx_path, precision, batch, cache_dir):
        self.engine = ColdEngine(batch)
        return self.engine


def test_the_first_inference_is_timed_on_its_own_before_the_warm_up_and_not_among_the_samples(tmp_path):
    from trtbench.measure.stats import decode_samples

    backend = ColdBackend()
    record = _one(backend, tmp_path, "fp32")
    assert record.ok, record.error
    assert 50 <= record.cold_start["first_inference_ms"] < 1000 and record.cold_start["load_s"] == 0.25
    assert backend.engine.calls == 1 + 1 + 3  # the first inference, one warm-up (warmup_ms=0), three timed
    assert decode_samples(record.samples) == [1.0, 1.0, 1.0] and record.latency_ms["max"] == 1.0


def test_a_backend_whose_engines_run_in_a_process_of_their_own_is_not_measured_here(tmp_path):
    backend = ReportingBackend(executed="fp16", can_infer=False)  # as trtexec: it times its engines itself
    record = _one(backend, tmp_path)
    assert record.ok and record.iterations == 3 and backend.engines[0].calls == 1 + 3  # no first inference
    assert record.cold_start == {}
    assert record.memory == {"how": "not read: reporting runs its engines in a process of its own", "engine": {}}


def test_an_engine_that_cannot_tell_its_memory_leaves_a_warning_not_a_failed_case(tmp_path):
    class Unsure(CountingEngine):
        def memory_facts(self):
            raise RuntimeError("no such property")

    class UnsureBackend(FlakyBackend):
        def build(self, onnx_path, precision, batch, cache_dir):
            return Unsure(batch, fail=False)

    record = _one(UnsureBackend(), tmp_path, "fp32")
    assert record.ok and record.memory["engine"] == {}
    assert "engine memory not read: RuntimeError: no such property" in record.warnings


from trtbench.measure.energy import Meter  # noqa: E402


class WattMeter(Meter):
    """A device that draws 2 W idle and 0.5 J more per inference."""

    source, scope = "a test meter", "the test device"

    def __init__(self, clock):
        self.clock, self.inferences = clock, 0

    def read_joules(self):
        return 2.0 * self.clock() + 0.5 * self.inferences


def test_a_cases_energy_is_its_timed_window_less_the_idle_baseline_read_before_it(tmp_path, monkeypatch):
    import time

    from trtbench.measure.energy import CaseEnergy

    meter = WattMeter(time.perf_counter)
    backend = ReportingBackend(executed="fp16")
    built = backend.build

    def counting(*args):
        engine = built(*args)
        iterate = engine.iterate_impl

        def counted():
            time.sleep(0.005)  # an inference takes time: the device works at one pace through the window
            meter.inferences += 1
            return iterate()

        engine.iterate_impl = counted
        return engine

    monkeypatch.setattr(backend, "build", counting)
    monkeypatch.setattr(backend, "energy", lambda: CaseEnergy(meter))
    monkeypatch.setattr("trtbench.executors.case.IDLE_BASELINE_S", 0.05)
    policy = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=20)
    record = run_case(backend, Case("ResNet18", "fp16", 4), tmp_path / "m.onnx", tmp_path, policy)
    assert record.ok, record.traceback
    energy = record.energy
    assert energy["source"] == "a test meter" and energy["idle_watts"] == pytest.approx(2.0, rel=0.01)
    # 0.5 J an inference of 4 images (the window's power above idle, over the timed part of it)
    assert energy["joules_per_image"] == pytest.approx(0.125, rel=0.2)
    assert energy["images_per_joule"] == pytest.approx(1 / energy["joules_per_image"], rel=1e-3)
    assert record.value("energy_per_image") == energy["joules_per_image"]


def test_energy_this_machine_cannot_read_is_said_never_zero(tmp_path, monkeypatch):
    from trtbench.measure import energy

    monkeypatch.setattr(energy, "meter_for", lambda gpu, bus=None: energy.rapl_meter(tmp_path / "no-powercap"))
    record = _one(ReportingBackend(executed="fp16"), tmp_path)
    assert record.ok and set(record.energy) == {"unreadable"} and "powercap" in record.energy["unreadable"]
    assert record.value("energy_per_image") is None


def test_a_gpu_backends_process_memory_is_read_from_nvml_at_its_peak(nvml, tmp_path, monkeypatch):
    monkeypatch.setattr("trtbench.executors.case.IDLE_BASELINE_S", 0.0)
    record = _one(GpuBackend(executed="fp16"), tmp_path)
    assert record.ok, record.error
    assert record.memory["gpu_process_peak_bytes"] == 600 * 2**20 and record.value("device_memory") == 600.0
    assert record.memory["gpu_how"].startswith("NVML usedGpuMemory of this process, sampled every")
    assert "peak_rss_bytes" in record.memory  # the host side too
    # the fake board's counter does not move: said so, not a zero
    assert "unreadable" in record.energy and "did not advance" in record.energy["unreadable"]
