"""The OpenVINO CPU backend: its declaration and refusals (CPU flags, then a probe compile), what it
reads back from OpenVINO's runtime model, its compiled models as artifacts (keyed by precision,
refused when planted, damaged or not a regular file), and its outputs against ONNX Runtime FP32."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.blocking import finishes
from tests.centred import centred_cosines
from trtbench import backends
from trtbench.backends import openvino as openvino_backend
from trtbench.backends.base import CpuConfig
from trtbench.backends.openvino import (
    CACHE_SUBDIR,
    COMPILED_KIND,
    OpenVinoBackend,
    OpenVinoConfig,
    compile_settings,
    compiled_model_key,
    compiled_model_path,
    executed_from,
    runtime_precisions,
)
from trtbench.checks.verify import compare, judge
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input
from trtbench.measure import cpu
from trtbench.measure.timing import TimingPolicy
from trtbench.store import artifacts

ov = pytest.importorskip("openvino")

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3)


def _fp32_reference(path, data: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: data})[0]


def _centred_cosine(reference: np.ndarray, got: np.ndarray) -> float:
    """Mean over the inputs of tests/centred.py's cosines."""
    return float(centred_cosines(reference, got).mean())


def _tiny_onnx(path, seed: int = 3, channels: int = 8):
    """A one-convolution ONNX graph of the zoo's input shape (batch dynamic): compiles in a blink."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).standard_normal((channels, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["conv"], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], ["relu"]),
         helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
         helper.make_node("Flatten", ["pool"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", channels])],
        [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_graph(tmp_path):
    """A one-convolution graph (8 output channels)."""
    return _tiny_onnx(tmp_path / "tiny.onnx")


@pytest.fixture
def other_graph(tmp_path):
    """Another one-convolution graph (16 output channels, other weights): what a planted blob holds."""
    return _tiny_onnx(tmp_path / "other.onnx", seed=11, channels=16)


@pytest.fixture
def registered():
    """openvino-cpu is in the registry (its line in trtbench/backends/__init__.py)."""
    assert backends.backend_class("openvino-cpu") is OpenVinoBackend


# --- declaration and refusals ---------------------------------------------------------------------


def test_declaration_adds_no_option_of_its_own(registered):
    assert OpenVinoBackend.name == "openvino-cpu" and OpenVinoBackend.metric == "infer request time"
    assert OpenVinoBackend.precisions == ("fp32", "fp16", "bf16", "int8")
    assert OpenVinoBackend.packages == ("openvino",) and OpenVinoBackend.extra is None
    assert issubclass(OpenVinoConfig, CpuConfig)
    assert [f.name for f in dataclasses.fields(OpenVinoConfig)] == ["threads"]
    # declared like every other CPU backend's threads (declared_options raises on a clash)
    assert "openvino-cpu" in backends.declared_options()["threads"][1]
    assert backends.config_for("openvino-cpu", {"threads": 3}).thread_count() == 3


def test_available_here():
    state = OpenVinoBackend().availability()
    assert state.ok and "openvino" in state.reason and "CPU" in state.reason


def test_fp16_is_refused_on_a_cpu_without_fp16_arithmetic(monkeypatch):
    # this CPU's own flags less any FP16 arithmetic (a Xeon with AVX512-FP16 made to lack it)
    without_fp16 = cpu.flags() - {"avx512_fp16", "amx_fp16"}
    monkeypatch.setattr(cpu, "flags", lambda: without_fp16)
    assert cpu.native_fp16() is None
    ok, reason = OpenVinoBackend().runs("fp16")
    assert not ok
    assert "no FP16 arithmetic" in reason and "OpenVINO would run fp16 as f32 or bf16" in reason


@pytest.fixture
def probe_cache(tmp_path, monkeypatch):
    """A probe cache of this test's own (the suite's is shared by every test: see tests/conftest.py)."""
    monkeypatch.setenv("TRTBENCH_CACHE", str(tmp_path / "probe-cache"))
    return tmp_path / "probe-cache" / cpu.PROBES_FILE


def _probe_answers(monkeypatch, answers: dict[str, str | None]) -> list[str]:
    """Make the probe compile answer ``answers[precision]`` and return the list of precisions probed."""
    assert "probe-cache" in os.environ["TRTBENCH_CACHE"], "use the probe_cache fixture"
    probed: list[str] = []

    def fake(precision):
        probed.append(precision)
        return answers[precision], f"probe: {precision} read back as {answers[precision]}"

    monkeypatch.setattr(openvino_backend, "probe", fake)
    return probed


def test_bf16_and_fp16_follow_the_cpu_features(monkeypatch, probe_cache):
    backend = OpenVinoBackend()
    probed = _probe_answers(monkeypatch, {"fp16": "fp16", "bf16": "bf16"})
    monkeypatch.setattr(cpu, "native_bf16", lambda: None)
    monkeypatch.setattr(cpu, "native_fp16", lambda: "avx512_fp16")
    ok, reason = backend.runs("bf16")
    assert not ok and "no BF16 instructions" in reason and "as f32" in reason
    assert probed == []  # no flag: refused without a probe
    assert backend.runs("fp16") == (True, "")
    monkeypatch.setattr(cpu, "native_bf16", lambda: "avx512_bf16")
    monkeypatch.setattr(cpu, "native_fp16", lambda: None)
    assert backend.runs("bf16") == (True, "")
    assert not backend.runs("fp16")[0]
    assert backend.runs("fp32") == (True, "") and backend.runs("int8") == (True, "")
    assert probed == ["fp16", "bf16"]  # fp32 and int8 need no probe


def test_a_flag_without_a_probe_that_reads_it_back_is_refused(monkeypatch, probe_cache):
    monkeypatch.setattr(cpu, "native_fp16", lambda: "avx512_fp16")
    monkeypatch.setattr(cpu, "native_bf16", lambda: "amx_bf16")
    probed = _probe_answers(monkeypatch, {"fp16": "fp32", "bf16": None})
    ok, reason = OpenVinoBackend().runs("fp16")
    assert not ok and "\n" not in reason
    assert reason.startswith("a probe compile on this CPU asked for fp16 and ran fp32 (probe: fp16 read back as fp32)")
    assert reason.endswith("OpenVINO would run fp16 as fp32")
    ok, reason = OpenVinoBackend().runs("bf16")
    assert not ok and "ran an unknown precision" in reason
    assert probed == ["fp16", "bf16"]
    # --precision native leaves both out; auto gives them to no backend that cannot show it runs them
    assert "fp16" not in backends.native_precisions("openvino-cpu")
    with pytest.raises(TrtbenchError, match="backend openvino-cpu does not run fp16 here: a probe compile"):
        backends.assign("openvino-cpu", ["fp16"])


def test_the_probe_runs_once_per_machine_and_a_damaged_cache_is_probed_again(monkeypatch, probe_cache):
    monkeypatch.setattr(cpu, "native_fp16", lambda: "avx512_fp16")
    probed = _probe_answers(monkeypatch, {"fp16": "fp32"})
    cache = probe_cache
    for _ in range(3):
        assert not OpenVinoBackend().runs("fp16")[0]
    assert probed == ["fp16"] and cache.is_file() and cpu.cache_dir() / cpu.PROBES_FILE == cache
    for damage in (b"{not json", b'{"schema": "trtbench.probes/1", "probes": []}', json.dumps(
            {"schema": "trtbench.probes/1", "probes": {k: {**v, "executed": 7} for k, v in
                                                        json.loads(cache.read_bytes())["probes"].items()}}).encode()):
        cache.write_bytes(damage)
        assert not OpenVinoBackend().runs("fp16")[0]
        assert OpenVinoBackend().runs("fp16")[0] is False
    assert probed == ["fp16"] * 4  # each damage costs exactly one probe
    cache.unlink()
    os.mkfifo(cache)  # a FIFO where the cache was: never read (it would block), probed instead
    try:
        assert not OpenVinoBackend().runs("fp16")[0]
    finally:
        cache.unlink(missing_ok=True)
    assert probed == ["fp16"] * 5


def test_the_real_probe_reads_back_what_this_cpu_runs():
    for precision, flag in (("fp16", cpu.native_fp16()), ("bf16", cpu.native_bf16())):
        executed, evidence = openvino_backend.probe(precision)
        assert "Convolution ops in" in evidence
        if flag is not None:  # measured on a Xeon with AVX512-FP16 and AMX: both read back as asked
            assert executed == precision, evidence
            assert OpenVinoBackend().runs(precision) == (True, "")


def test_a_session_refuses_fp16_before_any_work(registered, tmp_path, monkeypatch):
    from trtbench.session import Session, Workspace

    monkeypatch.setattr(cpu, "native_fp16", lambda: None)
    with pytest.raises(TrtbenchError, match="backend openvino-cpu does not run fp16 here: this CPU has no FP16"):
        Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "openvino-cpu", precisions=["fp16"])
    assert not (tmp_path / "e").exists()


# --- reading the runtime model --------------------------------------------------------------------


def test_executed_precision_is_what_most_convolutions_run_in():
    counts = {"Convolution": collections.Counter({"u8": 52, "bf16": 1}), "Pooling": collections.Counter({"bf16": 1})}
    assert executed_from(counts) == ("int8", "OpenVINO runtime model: 52 of 53 Convolution ops in u8 "
                                             "(other ops: 1 bf16)")
    assert executed_from({"Convolution": collections.Counter({"i8": 3})})[0] == "int8"
    assert executed_from({"Convolution": collections.Counter({"f32": 3})})[0] == "fp32"
    # no convolution: the most common precision of all ops
    assert executed_from({"MatMul": collections.Counter({"bf16": 2}), "Add": collections.Counter({"f32": 1})}) \
        == ("bf16", "OpenVINO runtime model: 2 of 3 ops in bf16")
    assert executed_from({})[0] is None


def test_runtime_model_of_a_compiled_graph(tiny_graph):
    compiled = ov.Core().compile_model(str(tiny_graph), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    counts = runtime_precisions(compiled.get_runtime_model())
    assert counts["Convolution"] == collections.Counter({"f32": 1})
    assert not {"Input", "Output", "Const", "Parameter", "Result", "Constant"} & set(counts)


# --- engines on a one-convolution graph (fast) ----------------------------------------------------


def test_engine_runs_times_and_describes_itself(tiny_graph, tmp_path):
    x = seeded_input(2, seed=5)
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    with backend.build(tiny_graph, "fp32", 2, tmp_path / "engines") as engine:
        got = engine.infer(x)
        np.testing.assert_allclose(got, _fp32_reference(tiny_graph, x), rtol=1e-4, atol=1e-6)
        # infer puts the timing input back: timing after a check times the seeded input
        np.testing.assert_array_equal(engine.input_tensor.data, seeded_input(2))
        spans = engine.iterate()
        assert set(spans) == {"latency"} and spans["latency"] > 0
        timed = engine.timed(QUICK)
        assert timed.iterations >= 3 and timed.spans["latency"].median > 0
        method = engine.describe()
        assert method["threads"] == 1 and method["performance_hint"] == "LATENCY" and method["streams"] == 1
        assert method["inference_precision_hint"] == "f32" and method["openvino"].startswith(ov.__version__[:6])
        executed, evidence = engine.executed_precision()
        assert executed == "fp32" and evidence.startswith("OpenVINO runtime model: 1 of 1 Convolution ops in f32")
        with pytest.raises(TrtbenchError, match="does not fit this engine"):
            engine.infer(seeded_input(3))
    assert engine.request is None and engine.input_tensor is None
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.iterate()


def test_second_build_loads_the_compiled_model_from_the_cache(tiny_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    first = backend.build(tiny_graph, "fp32", 1, tmp_path)
    blob = tmp_path / CACHE_SUBDIR / "tiny.fp32.b1.t1.blob"
    assert first.info["loaded_from_cache"] is False and first.info["compiled_model"] == str(blob)
    assert first.info["cache_reason"] == "no cached openvino compiled model"
    found = artifacts.valid(blob, COMPILED_KIND)
    assert found is not None and found.sha256 == first.info["compiled_model_sha256"]
    assert found.key["precision"] == "fp32" and found.key["settings"]["INFERENCE_PRECISION_HINT"] == "f32"
    second = backend.build(tiny_graph, "fp32", 1, tmp_path)
    assert second.info["loaded_from_cache"] is True and "cache_reason" not in second.info
    with second as engine:
        assert engine.describe()["threads"] == 1 and engine.executed_precision()[0] == "fp32"
    # another batch is another compiled model
    assert backend.build(tiny_graph, "fp32", 4, tmp_path).info["loaded_from_cache"] is False
    # OpenVINO's own CACHE_DIR is never used: it would hand an f32 blob to an f16 compile
    assert sorted(p.name for p in (tmp_path / CACHE_SUBDIR).glob("*.blob")) == ["tiny.fp32.b1.t1.blob",
                                                                                "tiny.fp32.b4.t1.blob"]


def test_the_key_names_everything_that_changes_a_compiled_model():
    base = compiled_model_key("a" * 64, "fp32", 1, compile_settings("fp32", 2))
    variants = [compiled_model_key("b" * 64, "fp32", 1, compile_settings("fp32", 2)),
                compiled_model_key("a" * 64, "fp16", 1, compile_settings("fp16", 2)),
                compiled_model_key("a" * 64, "bf16", 1, compile_settings("bf16", 2)),
                compiled_model_key("a" * 64, "int8", 1, compile_settings("int8", 2)),
                compiled_model_key("a" * 64, "fp32", 4, compile_settings("fp32", 2)),
                compiled_model_key("a" * 64, "fp32", 1, compile_settings("fp32", 1))]
    assert all(v != base for v in variants) and len({json.dumps(v, sort_keys=True) for v in variants}) == 6
    assert base["settings"] == {"INFERENCE_NUM_THREADS": 2, "INFERENCE_PRECISION_HINT": "f32",
                                "PERFORMANCE_HINT": "LATENCY"}
    assert base["openvino"] and base["cpu"] == cpu.identity()
    assert "INFERENCE_PRECISION_HINT" not in compile_settings("int8", 2)  # OpenVINO's default for what stays float
    assert compiled_model_path(Path("e"), Path("m/ResNet18.onnx"), "fp16", 8, 2) == \
        Path("e") / CACHE_SUBDIR / "ResNet18.fp16.b8.t2.blob"


def _precisions_here():
    """fp32 and the float precisions OpenVINO runs on this CPU (probe compile read back)."""
    return ["fp32", *(p for p in ("fp16", "bf16") if OpenVinoBackend().runs(p)[0])]


def test_fp32_fp16_bf16_into_one_engines_folder_each_run_as_asked(tiny_graph, tmp_path):
    """The issue's reproduction: one engines/ folder, fp32 then fp16 then bf16, twice (the second
    time from the cache); on a CPU without FP16 or BF16 the same cache through its key function."""
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    here = _precisions_here()
    for round_ in (1, 2):
        for precision in here:
            with backend.build(tiny_graph, precision, 1, tmp_path / "engines") as engine:
                executed, evidence = engine.executed_precision()
                assert executed == precision, f"round {round_}: asked {precision}, ran {executed}: {evidence}"
                assert engine.info["loaded_from_cache"] is (round_ == 2)
    blobs = {p.name for p in (tmp_path / "engines" / CACHE_SUBDIR).glob("*.blob")}
    assert blobs == {f"tiny.{p}.b1.t1.blob" for p in here}
    keys = [compiled_model_key("s", p, 1, compile_settings(p, 1)) for p in ("fp32", "fp16", "bf16")]
    assert len({json.dumps(k, sort_keys=True) for k in keys}) == 3


# --- compiled models are artifacts: planted, damaged or odd files are never loaded ----------------


def _blob_of(backend, graph, root):
    engine = backend.build(graph, "fp32", 1, root)
    return Path(engine.info["compiled_model"])


def _runs_like(engine, graph):
    x = seeded_input(1, seed=2)
    with engine:
        np.testing.assert_allclose(engine.infer(x), _fp32_reference(graph, x), rtol=1e-4, atol=1e-6)


def test_a_blob_of_another_model_copied_over_the_cache_file_is_compiled_again(tiny_graph, other_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    mine = _blob_of(backend, tiny_graph, tmp_path / "a")
    theirs = _blob_of(backend, other_graph, tmp_path / "b")
    shutil.copyfile(theirs, mine)  # the blob alone: it does not match the recorded sha256
    engine = backend.build(tiny_graph, "fp32", 1, tmp_path / "a")
    assert engine.info["loaded_from_cache"] is False
    assert engine.info["cache_reason"] == "openvino compiled model file does not match its recorded sha256 " \
                                          "(corrupt or replaced)"
    _runs_like(engine, tiny_graph)
    # the blob with its metadata: made for another graph, so the key says no
    shutil.copyfile(theirs, mine)
    shutil.copyfile(artifacts.metadata_path(theirs), artifacts.metadata_path(mine))
    engine = backend.build(tiny_graph, "fp32", 1, tmp_path / "a")
    assert engine.info["loaded_from_cache"] is False and engine.info["cache_reason"].startswith("graph changed")
    _runs_like(engine, tiny_graph)


def test_a_blob_with_flipped_bytes_is_compiled_again(tiny_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    blob = _blob_of(backend, tiny_graph, tmp_path)
    data = bytearray(blob.read_bytes())
    stat = blob.stat()
    for offset in (len(data) // 3, len(data) // 2, len(data) - 100):
        data[offset] ^= 0xFF
    blob.write_bytes(bytes(data))
    os.utime(blob, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and time: only the bytes tell
    engine = backend.build(tiny_graph, "fp32", 1, tmp_path)
    assert engine.info["loaded_from_cache"] is False
    _runs_like(engine, tiny_graph)
    with engine:
        assert np.isfinite(engine.infer(seeded_input(1))).all()


def test_bytes_that_change_between_the_check_and_the_load_are_not_imported(tiny_graph, tmp_path, monkeypatch):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    blob = _blob_of(backend, tiny_graph, tmp_path)
    imported = []
    real = artifacts.read_matching

    def swapped_after_the_check(path, sha256):
        if not imported:  # the lock-free first read misses (another process was replacing it) ...
            imported.append("missed")
            return None
        data = bytearray(Path(path).read_bytes())
        data[len(data) // 2] ^= 0xFF
        Path(path).write_bytes(bytes(data))  # ... and after ensure found it valid, it changes again
        found = real(path, sha256)
        imported.append(found)
        return found

    monkeypatch.setattr(artifacts, "read_matching", swapped_after_the_check)
    engine = backend.build(tiny_graph, "fp32", 1, tmp_path)
    assert imported == ["missed", None] and engine.info["loaded_from_cache"] is False
    assert engine.info["cache_reason"] == "remade on request"
    assert artifacts.valid(blob, COMPILED_KIND) is not None
    _runs_like(engine, tiny_graph)


def test_a_fifo_in_place_of_the_cache_file_never_blocks(tiny_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    blob = _blob_of(backend, tiny_graph, tmp_path)
    for fifo in (blob, artifacts.metadata_path(blob)):
        fifo.unlink()
        os.mkfifo(fifo)
        engine = finishes(lambda: backend.build(tiny_graph, "fp32", 1, tmp_path), 120, fifo=fifo)
        assert engine.info["loaded_from_cache"] is False
        assert blob.is_file() and not blob.is_symlink() and artifacts.valid(blob, COMPILED_KIND) is not None
        _runs_like(engine, tiny_graph)


def test_a_folder_in_place_of_the_cache_file_is_one_line(tiny_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    blob = _blob_of(backend, tiny_graph, tmp_path)
    blob.unlink()
    blob.mkdir()
    with pytest.raises(TrtbenchError, match=r"tiny.fp32.b1.t1.blob is a folder where trtbench keeps a compiled "
                                            r"model: remove it$"):
        backend.build(tiny_graph, "fp32", 1, tmp_path)


# --- real models (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
def test_fp32_outputs_are_onnx_runtimes(exported, tmp_path):
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(2, seed=5)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "fp32", 2, tmp_path) as engine:
        got = engine.infer(x)
        assert engine.executed_precision()[0] == "fp32"
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert judge(compare(expected, got), "fp32") == []


@pytest.mark.slow
def test_bf16_runs_in_bf16_within_fp16_thresholds(exported, tmp_path):
    if cpu.native_bf16() is None:
        pytest.skip("this CPU has no BF16 instructions (avx512_bf16 or amx_bf16)")
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(16, seed=1)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "bf16", 16, tmp_path) as engine:
        got = engine.infer(x)
        executed, evidence = engine.executed_precision()
        assert engine.describe()["inference_precision_hint"] == "bf16"
    assert executed == "bf16" and "Convolution ops in bf16" in evidence
    # measured on ResNet18 (random weights, seeded inputs): cosine 0.999997, top-1 100%; centred 0.985
    assert judge(compare(expected, got), "fp16") == []
    assert _centred_cosine(expected, got) >= 0.95


@pytest.mark.slow
def test_int8_runs_in_int8_within_int8_thresholds(exported, tmp_path):
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(16, seed=1)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "int8", 16, tmp_path) as engine:
        got = engine.infer(x)
        executed, evidence = engine.executed_precision()
    assert engine.info["graph"].endswith("ResNet18.int8-ort.onnx")
    assert executed == "int8" and ("Convolution ops in u8" in evidence or "Convolution ops in i8" in evidence)
    assert judge(compare(expected, got), "int8") == []
    # measured: 0.80 (ONNX Runtime on the same Q/DQ graph: 0.82); the batch mean repeated scores 0
    assert _centred_cosine(expected, got) >= 0.7


@pytest.mark.slow
def test_a_session_sweep_records_the_precision_executed(registered, exported, tmp_path, monkeypatch):
    from trtbench.session import Session, Workspace

    models_dir, results = exported
    events: list = []
    session = Session(Workspace(models_dir, tmp_path / "engines", tmp_path / "results"), "openvino-cpu",
                      {"threads": 2}, reporter=events.append, command=["test"], precisions=["fp32", "int8"])
    monkeypatch.setattr(session, "exports", lambda models: {m: results[m] for m in models})
    outcome = session.run(["ResNet18"], [1, 2], QUICK)
    found = [(r.precision, r.batch, r.status, r.precision_executed) for r in outcome.records]
    assert found == [("fp32", 1, "ok", "fp32"), ("fp32", 2, "ok", "fp32"),
                     ("int8", 1, "ok", "int8"), ("int8", 2, "ok", "int8")]
    for record in outcome.records:
        assert record.backend == "openvino-cpu" and record.metric == "infer request time"
        assert record.precision_evidence.startswith("OpenVINO runtime model:")
        assert record.method["threads"] == 2 and record.median_ms > 0
        assert record.engine["runtime_precisions"]["Convolution"]
    assert (tmp_path / "engines" / CACHE_SUBDIR).is_dir() and outcome.run_path.is_file()
    assert {record.engine["compiled_model"] for record in outcome.records} == {
        str(tmp_path / "engines" / CACHE_SUBDIR / f"ResNet18{form}.{p}.b{b}.t2.blob")
        for p, form in (("fp32", ""), ("int8", ".int8-ort")) for b in (1, 2)}


@pytest.mark.slow
def test_run_fp32_fp16_bf16_twice_with_one_engines_folder(invoke, exported, tmp_path):
    """`trtbench run ResNet18 --backend openvino-cpu --precision fp32,fp16,bf16` twice into one
    engines/: every record executes what it asked for, the second run from the compiled models the
    first one kept."""
    here = _precisions_here()
    if here != ["fp32", "fp16", "bf16"]:
        pytest.skip(f"OpenVINO runs only {', '.join(here)} on this CPU: the cache keys are checked by "
                    "test_fp32_fp16_bf16_into_one_engines_folder_each_run_as_asked and test_the_key_names_...")
    models_dir, _ = exported
    for round_ in (1, 2):
        results = tmp_path / f"results{round_}"
        result = invoke("run", "ResNet18", "--backend", "openvino-cpu", "--precision", ",".join(here), "--batch", "1",
                        "--threads", "2", "--models-dir", models_dir, "--engines-dir", tmp_path / "engines",
                        "--results-dir", results, "--warmup-ms", "0", "--duration", "0", "--iterations", "3")
        assert result.exit_code == 0, result.output
        (run_path,) = results.glob("*.json")
        records = json.loads(run_path.read_text())["records"]
        assert [(r["precision"], r["status"], r["precision_executed"]) for r in records] == \
            [(p, "ok", p) for p in here], [r["precision_evidence"] for r in records]
        assert [r["engine"]["loaded_from_cache"] for r in records] == [round_ == 2] * 3
        assert {r["engine"]["compiled_model"] for r in records} == {
            str(tmp_path / "engines" / CACHE_SUBDIR / f"ResNet18.{p}.b1.t2.blob") for p in here}
