"""The TensorRT backend driven end to end through the test doubles of tensorrt and the CUDA module."""

import hashlib
import json
import os
import shutil

import numpy as np
import onnxruntime as ort
import pytest

from tests.blocking import finishes
from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench.backends.tensorrt import (
    ROUTES_BY_MAJOR,
    TENSORRT_API,
    TensorRTBackend,
    TensorRTConfig,
    plan_name,
    resolve_typing,
)
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, run_case
from trtbench.graphs.inputs import seeded_input
from trtbench.measure.timing import TimingPolicy

pytestmark = pytest.mark.slow
QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=8)


@pytest.fixture
def model(exported, tmp_path):
    """A private copy of the ResNet18 export (tests below change it)."""
    models_dir, results = exported
    path = tmp_path / "models" / "ResNet18.onnx"
    path.parent.mkdir()
    shutil.copy(results["ResNet18"].onnx_path, path)
    return path


def backend_for(major, gpu=None, **options):
    gpu = gpu or FakeCuda()
    trt = FakeTensorRT(major, gpu)
    return TensorRTBackend(TensorRTConfig(**options), trt=trt, cuda=gpu), trt, gpu


def test_typing_routes_per_major():
    assert resolve_typing(10, "auto", "fp16") == "weak"
    assert resolve_typing(10, "strong", "fp16") == "strong"
    assert resolve_typing(11, "auto", "fp16") == "strong"
    with pytest.raises(TrtbenchError, match="strongly typed networks only"):
        resolve_typing(11, "weak", "fp16")
    # INT8 as FP16: weak on 10.x unless asked (the Q/DQ graph with BuilderFlag.INT8 + FP16), strong on 11.x
    assert resolve_typing(10, "auto", "int8") == "weak"
    assert resolve_typing(10, "strong", "int8") == "strong"
    assert resolve_typing(11, "auto", "int8") == "strong"
    with pytest.raises(TrtbenchError, match="strongly typed networks only"):
        resolve_typing(11, "weak", "int8")


def test_availability_names_tensorrt_and_gpu():
    backend, _, _ = backend_for(10)
    state = backend.availability()
    assert state.ok and state.reason == "TensorRT 10.13.3.9 on Fake GPU 80GB (compute capability 9.0)"


@pytest.mark.parametrize("major,typing,strong,flags,graph_suffix", [
    (10, "auto", False, ["BuilderFlag.FP16"], ".onnx"),
    (10, "strong", True, [], ".fp16.onnx"),
    (11, "auto", True, [], ".fp16.onnx"),
])
def test_fp16_routes_of_both_majors(model, tmp_path, major, typing, strong, flags, graph_suffix):
    backend, trt, gpu = backend_for(major, typing=typing)
    engine = backend.build(model, "fp16", 2, tmp_path / "engines")
    (build,) = trt._builds
    assert build["strong"] is strong and build["flags"] == flags
    assert build["onnx"].endswith(graph_suffix)
    assert engine.info["typing"] == ("strong" if strong else "weak")
    assert not (trt.used - _declared(major)), "the backend used TensorRT names it does not declare"


def test_fp32_engine_computes_the_model(model, tmp_path):
    backend, trt, gpu = backend_for(11)
    x = seeded_input(2, seed=9)
    expected = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with backend.build(model, "fp32", 2, tmp_path / "engines") as engine:
        np.testing.assert_allclose(engine.infer(x), expected, rtol=1e-6, atol=1e-6)
    assert trt._builds[0]["flags"] == [] and trt._builds[0]["opt_level"] == 3
    assert len(gpu.memory) == 0, "device buffers were not freed"


def test_cache_hit_skips_the_build(model, tmp_path):
    backend, trt, _ = backend_for(10)
    first = backend.build(model, "fp32", 1, tmp_path / "engines")
    second = backend.build(model, "fp32", 1, tmp_path / "engines")
    assert len(trt._builds) == 1
    assert first.info["cached"] is False and second.info["cached"] is True
    (plan,) = (tmp_path / "engines").glob("ResNet18.fp32.b1.weak.*.plan")
    assert second.info["plan"] == str(plan)
    meta = json.loads(plan.with_name(plan.name + ".json").read_text())
    key = meta["key"]
    assert key["tensorrt"] == "10.13.3.9" and key["gpu"] == "Fake GPU 80GB" and key["batch"] == 1
    assert key["multiprocessors"] == 132
    assert {"onnx_sha256", "compute_capability", "builder"} <= set(key) and "build_s" in meta["info"]
    assert meta["sha256"] == second.info["engine_sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert (tmp_path / "engines" / "timing.cache").read_bytes() == b"+"  # created, updated, saved


@pytest.mark.parametrize("change,reason", [
    ("tensorrt", "TensorRT version changed"),
    ("gpu", "GPU changed"),
    ("compute_capability", "compute capability changed"),
    ("multiprocessors", "SM count changed (132 -> 14)"),  # a MIG slice of the same GPU
    ("onnx", "ONNX graph changed"),
    ("builder", "builder options changed"),
    ("corrupt", "does not match its recorded sha256"),
])
def test_cache_is_rebuilt_when_anything_it_depends_on_changes(model, tmp_path, change, reason):
    engines = tmp_path / "engines"
    backend, trt, gpu = backend_for(10)
    backend.build(model, "fp32", 1, engines)
    options = {}
    if change == "tensorrt":
        trt = FakeTensorRT(10, gpu, version="10.14.1.48")
    elif change == "gpu":
        gpu = FakeCuda(gpu_name="Other GPU")
        trt = FakeTensorRT(10, gpu)
    elif change == "compute_capability":
        gpu = FakeCuda(compute_capability="8.9")
        trt = FakeTensorRT(10, gpu)
    elif change == "multiprocessors":
        gpu = FakeCuda(multiprocessor_count=14)
        trt = FakeTensorRT(10, gpu)
    elif change == "onnx":
        import onnx

        proto = onnx.load(str(model))
        proto.producer_name = "changed"
        onnx.save(proto, str(model))
    elif change == "builder":
        # other options have a file of their own: the key still tells a plan moved under their name
        options = {"opt_level": 5}
        target = engines / plan_name("ResNet18", "fp32", 1, "weak",
                                     {**TensorRTConfig(**options).builder(), "profiling_verbosity": "detailed"})
        (plan,) = engines.glob("*.plan")
        plan.with_name(plan.name + ".json").rename(target.with_name(target.name + ".json"))
        plan.rename(target)
    elif change == "corrupt":
        (plan,) = engines.glob("*.plan")
        plan.write_bytes(plan.read_bytes()[:-1] + b" ")
    again = TensorRTBackend(TensorRTConfig(**options), trt=trt, cuda=gpu)
    engine = again.build(model, "fp32", 1, engines)
    assert engine.info["cached"] is False
    assert reason in engine.info["rebuild_reason"]
    assert any(w.startswith("engine rebuilt: ") and reason in w for w in engine.warnings)


def test_alternating_builder_options_keeps_each_engine_cached(model, tmp_path):
    """--opt-level 3 then 5 then 3 then 5: two builds, the second round loads both from engines/."""
    gpu = FakeCuda()
    trt = FakeTensorRT(10, gpu)
    cached = []
    for opt_level in (3, 5, 3, 5):
        backend = TensorRTBackend(TensorRTConfig(opt_level=opt_level), trt=trt, cuda=gpu)
        cached.append(backend.build(model, "fp32", 1, tmp_path / "engines").info["cached"])
    assert cached == [False, False, True, True]
    assert [build["opt_level"] for build in trt._builds] == [3, 5]
    assert len(list((tmp_path / "engines").glob("ResNet18.fp32.b1.weak.*.plan"))) == 2


def _after_check(monkeypatch, function, change, times=1):
    """Wrap ``trtbench.store.artifacts.<function>`` so that ``change(path)`` alters the file right after the
    first ``times`` checks: the window between a check and the read that follows it."""
    from trtbench.store import artifacts

    checked = getattr(artifacts, function)
    left = [times]

    def wrapper(path, *args, **kwargs):
        found = checked(path, *args, **kwargs)
        if left[0] and found is not None:
            left[0] -= 1
            change(found.path)
        return found

    monkeypatch.setattr(artifacts, function, wrapper)


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and time: only the bytes tell


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("change", [_flip, _fifo])
def test_a_plan_changed_after_its_check_is_rebuilt_never_loaded(model, tmp_path, monkeypatch, change):
    engines = tmp_path / "engines"
    backend, trt, _ = backend_for(10)
    backend.build(model, "fp32", 1, engines)
    _after_check(monkeypatch, "ensure", change)
    engine = finishes(lambda: backend.build(model, "fp32", 1, engines))
    assert len(trt._builds) == 2 and engine.info["cached"] is False
    assert "changed after it was checked" in engine.info["rebuild_reason"]
    assert any(w.startswith("engine rebuilt: ") and "changed after it was checked" in w for w in engine.warnings)
    (plan,) = engines.glob("*.plan")
    assert plan.is_file() and engine.plan == plan.read_bytes()
    assert hashlib.sha256(engine.plan).hexdigest() == engine.info["engine_sha256"]
    with engine:  # the rebuilt bytes are the ones TensorRT deserializes
        assert engine.infer(seeded_input(1)).shape == (1, 1000)


def test_a_plan_that_keeps_changing_is_one_line_refusal(model, tmp_path, monkeypatch):
    engines = tmp_path / "engines"
    backend, trt, _ = backend_for(10)
    backend.build(model, "fp32", 1, engines)
    _after_check(monkeypatch, "ensure", _flip, times=2)
    record = finishes(lambda: run_case(backend, Case("ResNet18", "fp32", 1), model, engines, QUICK))
    assert record.status == "failed" and record.traceback is None and "\n" not in record.error
    assert "changed again as soon as it was rebuilt" in record.error and "--engines-dir" in record.error


def test_a_fifo_in_place_of_the_plan_is_rebuilt(model, tmp_path):
    engines = tmp_path / "engines"
    backend, trt, _ = backend_for(11)
    backend.build(model, "fp32", 1, engines)
    (plan,) = engines.glob("*.plan")
    _fifo(plan)
    engine = finishes(lambda: backend.build(model, "fp32", 1, engines))
    assert len(trt._builds) == 2 and engine.info["cached"] is False and plan.is_file()


def test_a_fifo_in_place_of_the_timing_cache_is_never_opened(model, tmp_path):
    from trtbench.backends.tensorrt import TIMING_CACHE_KIND
    from trtbench.store import artifacts

    engines = tmp_path / "engines"
    engines.mkdir()
    os.mkfifo(engines / "timing.cache")
    backend, trt, _ = backend_for(10)
    finishes(lambda: backend.build(model, "fp32", 1, engines))
    assert trt._builds[0]["timing_cache"]._blob == b""
    # replaced by the build's own cache, recorded for this TensorRT and GPU
    found = artifacts.valid(engines / "timing.cache", TIMING_CACHE_KIND)
    assert found is not None and found.key == backend._device_key()


@pytest.mark.parametrize("change", [_flip, _fifo])
def test_a_timing_cache_changed_after_its_check_is_not_offered(model, tmp_path, monkeypatch, change):
    engines = tmp_path / "engines"
    backend, trt, _ = backend_for(10)
    backend.build(model, "fp32", 1, engines)
    assert (engines / "timing.cache").read_bytes() == b"+"
    from trtbench.store import artifacts

    checked = artifacts.valid

    def valid(path, kind):
        found = checked(path, kind)
        if found is not None and path.name == "timing.cache" and not getattr(valid, "done", False):
            valid.done = True
            change(found.path)
        return found

    monkeypatch.setattr(artifacts, "valid", valid)
    engine = finishes(lambda: backend.build(model, "fp16", 1, engines))
    assert trt._builds[1]["timing_cache"]._blob == b"", "bytes other than the checked ones reached TensorRT"
    assert any("timing cache" in w and "changed after it was checked" in w for w in engine.warnings)
    assert (engines / "timing.cache").is_file()


def test_statistics_come_from_the_event_times(model, tmp_path):
    gpu = FakeCuda(compute_ms=[1.0, 2.0, 3.0, 4.0], h2d_ms=0.25, d2h_ms=0.125)
    backend, trt, _ = backend_for(10, gpu=gpu)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "engines", QUICK)
    assert record.status == "ok", record.error
    # two in flight: the first inference (timed on its own) queues 1.0 and 2.0 and reads 1.0, the warm-up call reads
    # 2.0; the 8 timed calls read 3,4,1,2,3,4,1,2
    spans = record.spans_ms
    assert record.latency_ms == spans["compute"]
    assert spans["compute"]["median"] == 2.5 and spans["compute"]["min"] == 1.0 and spans["compute"]["max"] == 4.0
    assert spans["compute"]["mean"] == 2.5
    # 8 samples support no p90 (64 needed): it is not given as a number, and the record says why
    assert spans["compute"]["p90"] is None and record.percentiles["p90"] == {
        "ms": None, "supported": False, "has": 8, "needs": 64, "bound_ms": None, "interval_ms": None}
    from trtbench.measure.stats import decode_samples

    assert decode_samples(record.samples) == [3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0]  # in the order timed
    assert record.cold_start["first_inference_ms"] > 0
    assert spans["h2d"]["median"] == 0.25 and spans["d2h"]["median"] == 0.125
    assert spans["end_to_end"]["median"] == pytest.approx(2.5 + 0.375)
    assert record.iterations == 8 and record.cov == pytest.approx(np.std([1, 2, 3, 4]) / 2.5)
    assert record.method["data_transfers"] is True and record.method["cuda_graph"] is False
    assert record.method["typing"] == "weak" and record.engine["cached"] is False
    # the first inference fills the queue, the warm-up and timed calls each queue one more; one is still in flight
    # at the end; one more checks the outputs
    assert trt._enqueues == 2 + 1 + 8 + 1
    assert not (trt.used - _declared(10))


def test_the_gpu_tensorrt_times_is_sampled_by_its_pci_bus_id(model, tmp_path, monkeypatch):
    from tests.fakes import nvml as fake_nvml

    nvml = fake_nvml.install(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # CUDA's device 0 is NVML's GPU 1, at bus 3B
    backend, _, _ = backend_for(10, gpu=FakeCuda(pci_bus_id="0000:3B:00.0"))
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.status == "ok", record.error
    assert record.gpu_telemetry["samples"] >= 2 and record.gpu_telemetry["sm_clock_mhz"]["median"] == 1410
    assert "nvmlDeviceGetHandleByPciBusId" in nvml.calls and "nvmlDeviceGetHandleByUUID" not in nvml.calls


def test_no_data_transfers_times_compute_only(model, tmp_path):
    backend, _, _ = backend_for(10, gpu=FakeCuda(compute_ms=2.0), data_transfers=False)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.spans_ms["h2d"]["max"] == 0.0 and record.spans_ms["end_to_end"]["median"] == 2.0
    assert record.method["data_transfers"] is False


def test_enqueue_bound_warning(model, tmp_path):
    backend, _, _ = backend_for(10, gpu=FakeCuda(compute_ms=1.0))
    engine = backend.build(model, "fp32", 1, tmp_path / "e")
    ticks = iter(range(0, 10**9, 900_000))  # each host clock read 0.9 ms after the last
    engine.host_clock = lambda: next(ticks)
    with engine:
        timed = engine.timed(QUICK)
    (warning,) = engine.check(timed)
    assert "enqueue-bound" in warning and "0.900 ms" in warning


def test_cuda_graph_is_replayed(model, tmp_path):
    gpu = FakeCuda()
    backend, trt, _ = backend_for(11, gpu=gpu, cuda_graph=True)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.method["cuda_graph"] is True and not record.warnings
    # the first inference (filling the queue) + warm-up + timed iterations + output check, all replays
    assert gpu.launches == 2 + 1 + 8 + 1
    assert trt._enqueues == 2  # one plain enqueue before capture, one captured
    assert not (trt.used - _declared(11))


def test_cuda_graph_capture_failure_falls_back_with_a_warning(model, tmp_path):
    backend, trt, gpu = backend_for(11, gpu=FakeCuda(capture_fails=True), cuda_graph=True)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.status == "ok" and record.method["cuda_graph"] is False
    assert any("CUDA graph capture failed" in w for w in record.warnings)
    assert gpu.launches == 0


def _local_sweep(backend, cases, model, engines):
    """The records of ``cases`` run in turn by the local executor, the loop `trtbench run` uses."""
    import contextlib

    from trtbench.executors import LocalExecutor, Sweep

    records = []
    LocalExecutor().run(Sweep([(backend, case) for case in cases], {"ResNet18": model}, engines, QUICK, None,
                              lambda b: contextlib.nullcontext(), lambda i, case: None, lambda *a: None,
                              lambda b, case, record: records.append(record)))
    return records


def test_out_of_memory_at_one_batch_is_a_failed_case(model, tmp_path):
    # enough for batch 1's buffers (602 KB in, 4 KB out), not batch 32's (19 MB)
    backend, _, _ = backend_for(10, gpu=FakeCuda(memory_limit=2_000_000))
    records = _local_sweep(backend, [Case("ResNet18", "fp32", b) for b in (1, 32, 2)], model, tmp_path / "e")
    assert [r.status for r in records] == ["ok", "failed", "ok"]
    assert "CudaOutOfMemory" in records[1].error and "out of memory" in records[1].error


def test_parser_error_names_the_node(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("NonZero", ["x"], ["y"], name="mystery_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    path = tmp_path / "Bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    backend, _, _ = backend_for(10)
    with pytest.raises(TrtbenchError, match=r"could not parse Bad.onnx: node 'mystery_node' \(NonZero\)"):
        backend.build(path, "fp32", 1, tmp_path / "e")


def _declared(major):
    """Declared names, and the module-level name each dotted one is reached through."""
    names = {name for route in ROUTES_BY_MAJOR[major] for name in TENSORRT_API[route]}
    return names | {name.split(".")[0] for name in names}


def test_a_failed_activation_frees_what_it_had_allocated(model, tmp_path):
    # batch 32's input (19,267,584 bytes) fits, its output (128,000 more) does not
    gpu = FakeCuda(memory_limit=19_300_000)
    backend, _, _ = backend_for(10, gpu=gpu)
    record = run_case(backend, Case("ResNet18", "fp32", 32), model, tmp_path / "e", QUICK)
    assert record.status == "failed" and "out of memory" in record.error
    assert gpu.memory == {}, "the input buffer of the failed case leaked"
    assert len([obj for obj in gpu.freed if isinstance(obj, int)]) == 1
    again = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert again.status == "ok" and gpu.memory == {}


@pytest.mark.parametrize("step,message", [
    ("deserialize", "could not deserialize the engine"),
    ("context", "could not create an execution context"),
    ("shape", "refused input shape (1, 3, 224, 224) for 'x' (set_input_shape)"),
    ("address", "refused the device address of 'x' (set_tensor_address)"),
    ("enqueue", "could not enqueue the inference (execute_async_v3 returned False)"),
    ("build", "TensorRT failed to build ResNet18.onnx at batch 1 (fp32)"),
])
def test_a_false_or_none_from_tensorrt_fails_the_case_in_one_line_and_frees_everything(model, tmp_path, step,
                                                                                       message):
    backend, trt, gpu = backend_for(10)
    trt.failing.add(step)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.status == "failed" and message in record.error and "\n" not in record.error
    assert record.traceback is None, "a TensorRT refusal is a user-facing error, not a crash"
    assert gpu.memory == {}
    trt.failing.clear()
    assert run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK).status == "ok"


def test_a_timing_cache_tensorrt_refuses_is_replaced_not_fatal(model, tmp_path):
    from tests.fakes.tensorrt import FOREIGN_CACHE
    from trtbench.backends.tensorrt import TIMING_CACHE_KIND
    from trtbench.store import artifacts

    engines = tmp_path / "engines"
    backend, trt, gpu = backend_for(10)
    artifacts.store(engines / "timing.cache", TIMING_CACHE_KIND, backend._device_key(), FOREIGN_CACHE)
    engine = backend.build(model, "fp32", 1, engines)
    assert any("refused the timing cache" in w for w in engine.warnings)
    assert trt._builds[0]["timing_cache"]._blob == b""  # the builder got an empty cache, not none
    assert (engines / "timing.cache").read_bytes() == b"+"  # and it replaced the refused one
    second = backend.build(model, "fp16", 1, engines)
    assert not any("timing cache" in w for w in second.warnings)
    assert trt._builds[1]["timing_cache"]._blob == b"+"


def test_no_timing_cache_back_from_tensorrt_is_a_note(model, tmp_path):
    backend, trt, _ = backend_for(11)
    trt.failing.add("get_timing_cache")
    engine = backend.build(model, "fp32", 1, tmp_path / "engines")
    assert any("returned no timing cache" in w for w in engine.warnings)
    assert not (tmp_path / "engines" / "timing.cache").exists()


def test_fp32_means_fp32_unless_tf32_is_asked_for(model, tmp_path):
    backend, trt, gpu = backend_for(11)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert trt._builds[0]["tf32"] is False and record.method["tf32"] is False
    with_tf32 = TensorRTBackend(TensorRTConfig(tf32=True), trt=trt, cuda=gpu)
    record = run_case(with_tf32, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert trt._builds[1]["tf32"] is True and record.method["tf32"] is True
    # a builder option of its own: an engine file of its own, the FP32 one kept
    assert record.engine["cached"] is False and len(list((tmp_path / "e").glob("*.plan"))) == 2


def test_layer_precisions_come_from_the_engine_inspector(model, tmp_path):
    backend, trt, _ = backend_for(11, typing="strong")
    fp32 = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    fp16 = run_case(backend, Case("ResNet18", "fp16", 1), model, tmp_path / "e", QUICK)
    assert set(fp32.engine["layer_precisions"]) == {"fp32"} and fp32.engine["layer_precisions"]["fp32"] > 20
    # every layer FP16 but the casts to and from the FP32 input and output
    assert fp16.engine["layer_precisions"]["fp16"] > 20 and fp16.engine["layer_precisions"].get("fp32", 0) <= 2
    assert (fp32.precision_executed, fp16.precision_executed) == ("fp32", "fp16")
    assert fp16.precision_evidence.startswith("TensorRT engine inspector, layers by output type: ")
    assert trt._builds[0]["verbosity"].label == "ProfilingVerbosity.DETAILED"


@pytest.mark.parametrize("inflight,transfers,compute_ms", [
    (1, True, 1.0 + 0.3 - 0.1),  # the gap, less the H2D copy that ran during it
    (1, False, 1.0 + 0.3),  # no copy: all of the gap
    (2, True, 1.0), (2, False, 1.0), (3, True, 1.0),
])
def test_host_gaps_between_launches_are_not_gpu_compute(model, tmp_path, inflight, transfers, compute_ms):
    """Each enqueue spends 0.3 ms on the host before its 1.0 ms kernel is queued. Waiting for each
    inference before launching the next (inflight 1) leaves the GPU idle after the 'copied in'
    event, and the idle time is counted as compute; with two or more in flight it is not."""
    gpu = FakeCuda(compute_ms=1.0, h2d_ms=0.1, d2h_ms=0.05, launch_gap_ms=0.3)
    backend, trt, _ = backend_for(10, gpu=gpu, inflight=inflight, data_transfers=transfers)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    spans = record.spans_ms
    assert spans["compute"]["median"] == pytest.approx(compute_ms)
    assert spans["compute"]["max"] == pytest.approx(compute_ms)
    copies = 0.15 if transfers else 0.0
    assert spans["end_to_end"]["median"] == pytest.approx(compute_ms + copies)
    assert record.method["inflight"] == inflight and f"{inflight} inferences in flight" in record.method["timer"]


def test_a_graph_whose_captured_enqueue_failed_is_never_timed(model, tmp_path):
    backend, trt, gpu = backend_for(11, cuda_graph=True)
    trt.failing.add("enqueue_in_capture")
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.status == "ok" and record.method["cuda_graph"] is False and gpu.launches == 0
    assert "execute_async_v3 returned False while capturing" in record.method["cuda_graph_error"]
    assert any("CUDA graph capture failed" in w for w in record.warnings)
    assert all(stream.capture is None for stream in gpu.streams.values()), "the capture was left open"
    assert record.spans_ms["compute"]["min"] > 0


def test_a_graph_that_fails_to_instantiate_is_freed_and_plain_enqueues_are_timed(model, tmp_path):
    from tests.fakes.cuda import FakeGraph

    backend, trt, gpu = backend_for(11, gpu=FakeCuda(instantiate_fails=True), cuda_graph=True)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.status == "ok" and record.method["cuda_graph"] is False
    assert any(isinstance(obj, FakeGraph) for obj in gpu.freed)
    assert all(stream.capture is None for stream in gpu.streams.values())


# --- copies on their own streams, as trtexec makes them -------------------------------------------


def test_the_next_copy_in_overlaps_this_compute(model, tmp_path):
    """0.4 ms copies each way and a 1 ms kernel: one stream would finish a batch every 1.8 ms; with
    the input, compute and output streams joined by events, the GPU finishes one every 1 ms, and one
    query's latency is still H2D + compute + D2H."""
    gpu = FakeCuda(compute_ms=1.0, h2d_ms=0.4, d2h_ms=0.4)
    backend, _, _ = backend_for(10, gpu=gpu)
    with backend.build(model, "fp32", 1, tmp_path / "e") as engine:
        spans = [engine.iterate() for _ in range(10)]
        started = gpu.host_ms  # the host waits for each oldest inference: its clock follows the GPU
        spans += [engine.iterate() for _ in range(20)]
        per_batch_ms = (gpu.host_ms - started) / 20
    assert per_batch_ms == pytest.approx(1.0)
    for span in spans[1:]:
        assert span["h2d"] == pytest.approx(0.4) and span["d2h"] == pytest.approx(0.4)
        assert span["compute"] == pytest.approx(1.0) and span["end_to_end"] == pytest.approx(1.8)
    described = engine.describe()
    assert "three non-default streams" in described["timer"] and described["streams"].startswith("input (H2D)")


def test_on_one_stream_the_copies_would_not_overlap(model, tmp_path):
    """The double's streams are what makes the overlap: the same schedule queued on one stream takes
    H2D + compute + D2H per batch (so the test above would fail on a one-stream engine)."""
    gpu = FakeCuda(compute_ms=1.0, h2d_ms=0.4, d2h_ms=0.4)
    stream = gpu.stream()
    events = [gpu.event() for _ in range(2)]
    gpu.record(events[0], stream)
    for _ in range(10):
        gpu.enqueue(stream.handle, None, 0.4)
        gpu.enqueue(stream.handle, None, gpu.next_compute_ms())
        gpu.enqueue(stream.handle, None, 0.4)
    gpu.record(events[1], stream)
    assert gpu.elapsed_ms(*events) == pytest.approx(18.0)


def test_without_transfers_only_the_compute_stream_works(model, tmp_path):
    gpu = FakeCuda(compute_ms=1.0, h2d_ms=0.4, d2h_ms=0.4)
    backend, _, _ = backend_for(11, gpu=gpu, data_transfers=False)
    record = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert record.spans_ms["end_to_end"]["max"] == record.spans_ms["compute"]["max"] == pytest.approx(1.0)
    assert record.spans_ms["h2d"]["max"] == record.spans_ms["d2h"]["max"] == 0.0
    assert record.method["streams"] == "compute only" and "no copies timed" in record.method["timer"]


# --- the engine inspector of each major --------------------------------------------------------


#: the I/O part of NVIDIA's own 11.x example ("Migrating IEngineInspector Usage from TensorRT 10.x to 11.x")
DOCS_11_IO = {"I/O Tensors": [
    {"Name": "input_0", "IOMode": "Input", "DataType": "Float", "Dimensions": [1, 3, 224, 224], "Location": "Device",
     "IsShapeInferenceIO": False, "ProfileInfo": [{"MinShape": [1, 3, 224, 224], "OptShape": [1, 3, 224, 224],
                                                   "MaxShape": [1, 3, 224, 224],
                                                   "Format": "Row major linear FP32 format (kLINEAR)"}]},
    {"Name": "output_0", "IOMode": "Output", "DataType": "Float", "Dimensions": [1, 1000], "Location": "Device",
     "IsShapeInferenceIO": False, "ProfileInfo": []}]}


@pytest.mark.parametrize("fields,expected", [
    ({"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format."}, "int8"),
    ({"Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}, "fp16"),
    ({"Format/Datatype": "Row major linear FP32 format"}, "fp32"),
    ({"Format": "Thirty-two wide channel vectorized row major format (kCHW32)", "Datatype": "Int8"}, "int8"),
    ({"Format": "Row major linear format (kLINEAR)", "Datatype": "Half"}, "fp16"),
    ({"Format": "Row major linear format (kLINEAR)", "DataType": "BFloat16"}, "bf16"),
    ({"Format": "Row major linear format (kLINEAR)", "Datatype": "Float"}, "fp32"),
    ({"Format": "Row major linear FP32 format (kLINEAR)"}, "other"),  # 11.x: the type is never read from Format
])
def test_a_tensor_data_type_is_read_the_way_each_major_writes_it(fields, expected):
    from trtbench.backends.tensorrt_engine import tensor_datatype

    assert tensor_datatype({"Name": "t", "Dimensions": [1], **fields}) == expected


def test_the_docs_11x_schema_reads_and_keeps_each_layers_onnx_nodes():
    from trtbench.backends.tensorrt_engine import read_engine_information

    layer = {"Name": "conv + relu", "LayerType": "CaskConvolution",
             "Inputs": [{"Name": "input_0", "Location": "Device", "Dimensions": [1, 3, 224, 224],
                         "Format": "Row major linear FP32 format (kLINEAR)", "Datatype": "Float"}],
             "Outputs": [{"Name": "r", "Location": "Device", "Dimensions": [1, 64, 112, 112],
                          "Format": "Thirty-two wide channel vectorized row major Int8 format (kCHW32)",
                          "Datatype": "Int8"}],
             "Metadata": "[ONNX Layer: Conv_0]\x1f[ONNX Layer: Relu_1]"}
    inspected = read_engine_information(json.dumps({"Layers": [layer], **DOCS_11_IO}))
    assert inspected.schema == "11.x" and inspected.counts() == {"int8": 1}
    assert inspected.layers == (("conv + relu", "int8", ("Conv_0", "Relu_1")),)
    assert read_engine_information(json.dumps({"Layers": ["conv + relu"], **DOCS_11_IO})) is None  # names only


@pytest.mark.parametrize("major", [10, 11])
def test_the_double_writes_its_majors_inspector_schema(model, tmp_path, major):
    backend, trt, _ = backend_for(major, typing="strong")
    with backend.build(model, "fp16", 1, tmp_path / "e") as engine:
        information = json.loads(engine.engine.create_engine_inspector().get_engine_information(
            trt.LayerInformationFormat.JSON))
        layer = information["Layers"][1]
        tensor = layer["Outputs"][0]
        if major == 10:
            assert information["Bindings"] == ["x", engine.outputs[0][0]] and "I/O Tensors" not in information
            assert "Format/Datatype" in tensor and "Datatype" not in tensor
        else:
            assert "Bindings" not in information
            (inputs, outputs) = information["I/O Tensors"]
            assert set(inputs) == set(DOCS_11_IO["I/O Tensors"][0]) and inputs["IOMode"] == "Input"
            assert inputs["ProfileInfo"][0]["OptShape"] == [1, 3, 224, 224] and outputs["Dimensions"] == [1, 1000]
            assert {"Format", "Datatype"} <= set(tensor) and "Format/Datatype" not in tensor
        assert layer["Metadata"].startswith("[ONNX Layer: ")
        assert engine.info["inspector_schema"] == f"{major}.x"
        assert engine.executed_precision()[0] == "fp16"


@pytest.mark.parametrize("major", [10, 11])
def test_a_parser_of_the_other_majors_schema_reads_no_precision(model, tmp_path, major):
    """What the old parser did on 11.x: every layer 'other'. Each major's double breaks the other's parser."""
    from trtbench.backends.tensorrt_engine import _datatype

    backend, trt, _ = backend_for(major, typing="strong")
    with backend.build(model, "fp16", 1, tmp_path / "e") as engine:
        layers = json.loads(engine.engine.create_engine_inspector().get_engine_information(
            trt.LayerInformationFormat.JSON))["Layers"]
    only_10 = {_datatype(str(layer["Outputs"][0].get("Format/Datatype", ""))) for layer in layers}
    only_11 = {_datatype(str(layer["Outputs"][0].get("Datatype", ""))) for layer in layers}
    assert (only_10 if major == 11 else only_11) == {"other"}
    assert "fp16" in (only_10 if major == 10 else only_11)


# --- how FP16 and INT8 are built, per major -----------------------------------------------------


@pytest.mark.parametrize("major,typing,fp16_build", [
    (10, "auto", "weak: BuilderFlag.FP16 on the FP32 graph"),
    (10, "strong", "strong: FP16 graph"),
    (11, "auto", "strong: FP16 graph"),
])
def test_the_record_says_how_fp16_was_built(model, tmp_path, major, typing, fp16_build):
    backend, _, _ = backend_for(major, typing=typing)
    record = run_case(backend, Case("ResNet18", "fp16", 1), model, tmp_path / "e", QUICK)
    assert record.status == "ok", record.error
    assert record.method["fp16_build"].startswith(fp16_build)
    assert record.precision_executed == "fp16"
    fp32 = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    assert fp32.method["fp16_build"] is None


def test_the_double_refuses_a_weak_qdq_build_without_the_int8_flag(exported, tmp_path):
    """As TensorRT 10 does ("int8 is not configured in the builder"): the backend's weak INT8 sets it."""
    from trtbench.graphs.precision import Calibration, graph_for

    _, results = exported
    graph = graph_for(results["ResNet18"].onnx_path, "int8", Calibration(seed=0))
    trt = FakeTensorRT(10, FakeCuda())
    builder = trt.Builder(trt.Logger())
    network = builder.create_network(0)
    assert trt.OnnxParser(network, trt.Logger()).parse_from_file(str(graph))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 3, 224, 224), (1, 3, 224, 224), (1, 3, 224, 224))
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(network, config) is None
    config.set_flag(trt.BuilderFlag.INT8)
    assert builder.build_serialized_network(network, config) is not None
