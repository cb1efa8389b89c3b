"""The paddle-inference backend: Paddle's own program through Paddle Inference with oneDNN, checked
against ONNX Runtime on the same export, BF16 against FP32, the Paddle model made on demand for an
export that lacks it, and a session sweep through the registered backend."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.blocking import finishes
from trtbench import backends
from trtbench.backends import paddle_inference
from trtbench.backends.paddle_inference import PaddleInferenceBackend, PaddleInferenceConfig, program_precision
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input
from trtbench.measure import cpu
from trtbench.measure.timing import TimingPolicy
from trtbench.models.export import EXPORT_KIND, PADDLE_KIND, paddle_model_for, paddle_model_paths
from trtbench.store import artifacts

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3)
needs_bf16 = pytest.mark.skipif(cpu.native_bf16() is None,
                                reason="no avx512_bf16 or AMX on this CPU: oneDNN would simulate BF16")


def _backend(threads=2):
    return PaddleInferenceBackend(PaddleInferenceConfig(threads=threads))


def _ort(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture
def probe_cache(tmp_path, monkeypatch):
    """A probe cache of this test's own (the suite's is shared by every test: see tests/conftest.py)."""
    monkeypatch.setenv("TRTBENCH_CACHE", str(tmp_path / "probe-cache"))


def _probe_answers(monkeypatch, executed):
    """Make the BF16 probe answer ``executed``; returns the list that counts the probes."""
    probed = []

    def fake():
        probed.append("bf16")
        return executed, f"probe: read back {executed}"

    monkeypatch.setattr(paddle_inference, "probe_bf16", fake)
    return probed


def test_runs_fp32_and_native_bf16_only(monkeypatch, probe_cache):
    backend = _backend()
    probed = _probe_answers(monkeypatch, "bf16")
    assert backend.runs("fp32") == (True, "")
    for precision in ("fp16", "int8"):
        ok, why = backend.runs(precision)
        assert not ok and "runs fp32, bf16" in why
    monkeypatch.setattr(cpu, "native_bf16", lambda found=None: None)
    ok, why = backend.runs("bf16")
    assert not ok and "avx512_bf16 or AMX" in why
    with pytest.raises(TrtbenchError, match="does not run bf16 here"):  # refused before any file is read
        backend.build("no/such/export.onnx", "bf16", 1, "no/such/dir")
    assert probed == []  # no BF16 instructions: no probe either
    monkeypatch.setattr(cpu, "native_bf16", lambda found=None: "avx512_bf16")
    assert backend.runs("bf16") == (True, "")
    assert backend.runs("bf16") == (True, "") and probed == ["bf16"]  # probed once, then cached


def test_bf16_is_refused_where_the_probe_reads_back_fp32(monkeypatch, probe_cache):
    monkeypatch.setattr(cpu, "native_bf16", lambda found=None: "amx_bf16")
    probed = _probe_answers(monkeypatch, "fp32")
    ok, why = _backend().runs("bf16")
    assert not ok
    assert why == "a probe on this CPU asked Paddle Inference for bf16 and it ran fp32 (probe: read back fp32)"
    assert not _backend().runs("bf16")[0] and probed == ["bf16"]
    (cpu.cache_dir() / cpu.PROBES_FILE).write_text("[damaged")
    assert not _backend().runs("bf16")[0] and probed == ["bf16", "bf16"]
    assert "bf16" not in backends.native_precisions("paddle-inference")


@needs_bf16
def test_the_real_bf16_probe_reads_bf16_back_on_this_cpu(probe_cache):
    executed, evidence = paddle_inference.probe_bf16()
    assert executed == "bf16" and evidence.endswith("Paddle's optimized program: 1 bf16")
    assert _backend().runs("bf16") == (True, "")


def test_on_the_gpu_route_its_cases_get_gpu_telemetry_through_the_base(monkeypatch):
    from tests.fakes import nvml as fake_nvml

    fake_nvml.install(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # Paddle's GPU 0 is NVML's GPU 1
    on_gpu = PaddleInferenceBackend()
    on_gpu.__dict__["_route"] = paddle_inference.Route(paddle_inference.GPU_TENSORRT, "a GPU build of Paddle",
                                                       gpu_name="NVIDIA H200")
    with on_gpu.telemetry() as sampler:
        pass
    assert sampler.summary()["sm_clock_mhz"]["median"] == 1410
    on_cpu = PaddleInferenceBackend()
    on_cpu.__dict__["_route"] = paddle_inference.Route(paddle_inference.CPU, "paddlepaddle is the CPU build")
    with on_cpu.telemetry() as sampler:
        assert sampler is None


def test_declares_itself_like_every_cpu_backend():
    backend = PaddleInferenceBackend()
    assert backend.availability().ok and "oneDNN" in backend.availability().reason
    assert backend.config.thread_count() == cpu.physical_cores()  # threads 0: all physical cores
    assert _backend(3).config.thread_count() == 3
    assert backend.packages == ("paddlepaddle",) and backend.extra is None
    assert backend.device()


def test_program_precision_reads_the_onednn_data_type(tmp_path):
    def op(name, data_type=None, out="f32"):
        attributes = [{"N": "mkldnn_data_type", "AT": {"#": "0.a_str", "D": data_type}}] if data_type else []
        return {"#": name, "A": attributes, "O": [{"%": 1, "TT": {"#": "0.t_dtensor", "D": [{"#": f"0.t_{out}"}]}}]}

    ops = [op("onednn_op.fused_conv2d", "bfloat16", "bf16"), op("onednn_op.fc", "bfloat16"),
           op("onednn_op.fused_conv2d", None, "f32"), op("onednn_op.fused_elementwise_add", "float32")]
    path = tmp_path / "_optimized.json"
    path.write_text(json.dumps({"program": {"regions": [{"blocks": [{"ops": ops}]}]}}))
    assert program_precision(path) == {"compute_ops": {"bf16": 2, "fp32": 1}}  # the add is not counted
    path.write_text("{not json")
    assert "error" in program_precision(path)
    assert "error" in program_precision(tmp_path / "missing.json")


@pytest.mark.slow
def test_fp32_matches_onnxruntime_on_the_same_export(exported):
    models_dir, results = exported
    export = results["ResNet18"]
    x = seeded_input(2, seed=5)
    expected = _ort(export.onnx_path, x)
    with _backend().build(export.onnx_path, "fp32", 2, models_dir) as engine:
        got = engine.infer(x)
        executed, evidence = engine.executed_precision()
        method = engine.describe()
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
    assert executed == "fp32" and "optimized program" in evidence and "22 fp32" in evidence  # 21 conv + fc
    assert method["onednn"] and method["ir_optim"] and method["threads"] == 2 and not method["bf16"]
    assert engine.info["program"] == str(export.paddle_model[0]) and engine.info["paddlepaddle"]


@pytest.mark.slow
@needs_bf16
def test_bf16_stays_close_to_fp32(exported):
    models_dir, results = exported
    path = results["ResNet50_vd"].onnx_path
    x = seeded_input(16, seed=VERIFY_SEED)
    outputs = {}
    for precision in ("fp32", "bf16"):
        with _backend().build(path, precision, 16, models_dir) as engine:
            outputs[precision] = engine.infer(x)
            executed, evidence = engine.executed_precision()
        assert executed == precision, evidence
    assert "bf16" in evidence and "fp32" not in evidence  # every conv and the fc ran oneDNN bf16 kernels
    fp32, bf16 = outputs["fp32"], outputs["bf16"]
    assert not np.array_equal(fp32, bf16)  # bf16 really computed something else
    assert _cosines(fp32, bf16).min() >= 0.99
    assert np.mean(fp32.argmax(1) == bf16.argmax(1)) >= 0.8


@pytest.mark.slow
def test_iterate_times_the_bound_input_and_infer_restores_it(exported):
    models_dir, results = exported
    export = results["ResNet18"]
    with _backend().build(export.onnx_path, "fp32", 1, models_dir) as engine:
        timing_output = engine.infer(seeded_input(1))
        engine.infer(seeded_input(1, seed=9))
        spans = engine.iterate()
        assert set(spans) == {"latency"} and spans["latency"] > 0
        # the timed loop ran on the timing input again, not on what infer was last given
        np.testing.assert_array_equal(engine.output_handle.copy_to_cpu(), timing_output)
        timed = engine.timed(QUICK)
    assert timed.iterations >= 3 and timed.spans["latency"].median > 0
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.iterate()


@pytest.mark.slow
def test_an_export_without_the_paddle_model_gets_it_on_demand(exported, tmp_path):
    models_dir, results = exported
    source = results["ResNet18"].onnx_path
    for path in (source, artifacts.metadata_path(source)):  # what an export made before this change left
        shutil.copy(path, tmp_path / path.name)
    onnx = tmp_path / source.name
    program, params = paddle_model_paths(onnx)
    assert not program.exists() and not params.exists()
    with _backend().build(onnx, "fp32", 2, tmp_path) as engine:
        np.testing.assert_allclose(engine.infer(seeded_input(2)), _ort(onnx, seeded_input(2)), rtol=0, atol=1e-3)
    made = artifacts.valid(params, PADDLE_KIND)
    assert made is not None and made.info["saved_with_export"] is False
    assert made.info["parity"]["max_rel_error"] < 1e-4  # made again, it computes what the graph computes
    assert made.key["onnx_sha256"] == artifacts.valid(onnx, EXPORT_KIND).sha256
    stamp = program.stat().st_mtime_ns
    assert paddle_model_for(onnx) == (program, params)
    assert program.stat().st_mtime_ns == stamp  # valid: reused, not made again

    def paired():
        """The program was stored with the parameters that are there now."""
        stored = artifacts.valid(params, PADDLE_KIND)
        return stored is not None and artifacts.valid(program, PADDLE_KIND).key["params_sha256"] == stored.sha256

    with open(params, "ab") as handle:  # changed behind trtbench's back: made again
        handle.write(b"\0")
    assert paddle_model_for(onnx) == (program, params) and paired()
    # parameters valid for the export but not the ones the program was stored with: not a pair
    artifacts.store(params, PADDLE_KIND, made.key, b"parameters of another save")
    assert not paired()
    assert paddle_model_for(onnx) == (program, params) and paired()


@pytest.mark.slow
def test_a_paddle_model_that_cannot_be_made_again_names_the_weights(exported, tmp_path):
    models_dir, results = exported
    source = results["ResNet18"].onnx_path
    shutil.copy(source, tmp_path / source.name)
    meta = json.loads(artifacts.metadata_path(source).read_text())
    meta["key"]["weights"]["path"] = str(tmp_path / "moved.pdparams")
    artifacts.metadata_path(tmp_path / source.name).write_text(json.dumps(meta))
    with pytest.raises(TrtbenchError, match=r"weights file it was exported from \(.*moved\.pdparams\) is gone"):
        paddle_model_for(tmp_path / source.name)
    with pytest.raises(TrtbenchError, match="not a valid trtbench export"):
        paddle_model_for(tmp_path / "ResNet34.onnx")


@pytest.mark.slow
def test_a_registered_session_sweep_records_the_precision_executed(exported, tmp_path):
    from trtbench.session import Session, Workspace

    models_dir, _ = exported
    precisions = ["fp32", "bf16"] if cpu.native_bf16() else ["fp32"]
    assert backends.backend_class("paddle-inference") is PaddleInferenceBackend
    session = Session(Workspace(models_dir, tmp_path / "e", tmp_path / "r"), "paddle-inference",
                      {"threads": 2}, precisions=precisions, command=["test"])
    outcome = session.run(["ResNet18"], [1], QUICK)
    assert [(r.precision, r.status) for r in outcome.records] == [(p, "ok") for p in precisions]
    for record in outcome.records:
        assert record.backend == "paddle-inference" and record.median_ms > 0
        assert record.precision_executed == record.precision, record.precision_evidence
        assert "optimized program" in record.precision_evidence
        assert record.method["threads"] == 2 and record.method["onednn"] is True
    assert outcome.run_path.is_file()


def _models_copy(models_dir, tmp_path, names=("ResNet18", "ResNet50_vd")):
    """A models/ folder of its own holding copies of the exports (and their Paddle models)."""
    copy = tmp_path / "models"
    copy.mkdir()
    for name in names:
        for path in models_dir.glob(f"{name}.*"):
            shutil.copy(path, copy / path.name)
    return copy


@pytest.mark.slow
def test_a_program_of_another_model_under_this_name_is_made_again(exported, tmp_path):
    """ResNet50_vd's Paddle program and parameters copied over ResNet18's (files alone, then with
    their metadata): never run as ResNet18."""
    models = _models_copy(exported[0], tmp_path)
    onnx = models / "ResNet18.onnx"
    x = seeded_input(1, seed=5)
    expected = _ort(onnx, x)
    for with_metadata in (False, True):
        for suffix in ("paddle.json", "paddle.pdiparams"):
            shutil.copy(models / f"ResNet50_vd.{suffix}", models / f"ResNet18.{suffix}")
            if with_metadata:
                shutil.copy(models / f"ResNet50_vd.{suffix}.json", models / f"ResNet18.{suffix}.json")
        with _backend().build(onnx, "fp32", 1, tmp_path) as engine:
            np.testing.assert_allclose(engine.infer(x), expected, rtol=0, atol=1e-3 * np.abs(expected).max())
            assert "22 fp32" in engine.executed_precision()[1]  # ResNet18's 21 convolutions and fc
        assert engine.info["params_sha256"] == artifacts.valid(paddle_model_paths(onnx)[1], PADDLE_KIND).sha256


@pytest.mark.slow
def test_a_fifo_in_place_of_the_program_never_blocks(exported, tmp_path):
    models = _models_copy(exported[0], tmp_path, names=("ResNet18",))
    onnx = models / "ResNet18.onnx"
    program, _ = paddle_model_paths(onnx)
    program.unlink()
    os.mkfifo(program)
    engine = finishes(lambda: _backend().build(onnx, "fp32", 1, tmp_path), 300, fifo=program)
    assert program.is_file() and artifacts.valid(program, PADDLE_KIND) is not None
    with engine:
        x = seeded_input(1)
        np.testing.assert_allclose(engine.infer(x), _ort(onnx, x), rtol=0, atol=1e-3)


@pytest.mark.slow
def test_paddle_loads_the_bytes_that_were_checked(exported, tmp_path, monkeypatch):
    """Paddle opens its model by name: it opens private copies checked as they were made, so a file
    changed after the check is never what it loads (checked once more, then refused in one line)."""
    models = _models_copy(exported[0], tmp_path, names=("ResNet18",))
    onnx = models / "ResNet18.onnx"
    program, params = paddle_model_paths(onnx)
    opened = []
    real_config = paddle_inference._inference().Config

    def config(program_file, params_file):
        opened.append((program_file, params_file))
        return real_config(program_file, params_file)

    monkeypatch.setattr(paddle_inference._inference(), "Config", config)
    with _backend().build(onnx, "fp32", 1, tmp_path) as engine:
        engine.infer(seeded_input(1))
    ((program_opened, params_opened),) = opened
    assert "trtbench-paddle-model-" in program_opened and Path(program_opened).name == program.name
    assert not Path(program_opened).exists() and "trtbench-paddle-model-" in params_opened  # removed after loading

    real_copy = artifacts.copy_matching

    def changed_while_copied(path, sha256, target):
        with open(path, "ab") as handle:
            handle.write(b"\0")
        return real_copy(path, sha256, target)

    monkeypatch.setattr(artifacts, "copy_matching", changed_while_copied)
    with pytest.raises(TrtbenchError, match=r"^the Paddle model of ResNet18.onnx changed while it was being loaded"):
        _backend().build(onnx, "fp32", 1, tmp_path)
    assert len(opened) == 1  # Paddle never opened the changed files


# --- the GPU route: Paddle Inference's TensorRT subgraph, through a fake paddle.inference ----------


class _Handle:
    def __init__(self, log, batch=1):
        self.log, self.batch = log, batch

    def copy_from_cpu(self, data):
        self.log.append(("copy_from_cpu", data.shape, str(data.dtype)))

    def copy_to_cpu(self):
        return np.zeros((self.batch, 1000), dtype=np.float32)


class _Predictor:
    def __init__(self, log):
        self.log = log

    def get_input_names(self):
        return ["x"]

    def get_output_names(self):
        return ["softmax_0.tmp_0"]

    def get_input_handle(self, name):
        return _Handle(self.log)

    def get_output_handle(self, name):
        return _Handle(self.log)

    def run(self):
        self.log.append("run")


class _FakeInference:
    """paddle.inference as a GPU build with TensorRT 8.6.1 shows it; every Config call is recorded,
    and each predictor writes the optimized program Paddle would save, with ``engines`` TensorRT ops."""

    PrecisionType = type("PrecisionType", (), {"Float32": "<Float32>", "Half": "<Half>", "Int8": "<Int8>"})

    def __init__(self, trt=(8, 6, 1), engines=2):
        self.trt, self.engines = trt, engines
        self.log: list = []
        self.configs: list[list] = []
        fake = self

        class Config:
            def __init__(self, *args):
                self.calls = [("Config", args, {})]
                fake.configs.append(self.calls)

            def __getattr__(self, name):
                def record(*args, **kwargs):
                    self.calls.append((name, args, kwargs))
                return record

        self.Config = Config

    def get_trt_compile_version(self):
        return self.trt

    def get_trt_runtime_version(self):
        return self.trt

    def create_predictor(self, config):
        self.log.append("create_predictor")
        (optim,) = [args[0] for name, args, _ in config.calls if name == "set_optim_cache_dir"]
        ops = [{"#": "pd_op.tensorrt_engine"}] * self.engines + [{"#": "pd_op.softmax"}]
        (Path(optim) / "_optimized.json").write_text(json.dumps({"program": {"regions": [{"blocks": [{"ops": ops}]}]}}))
        return _Predictor(self.log)


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    """A machine whose paddle is a GPU build with TensorRT and sees one GPU; the export's Paddle model
    is two small files."""
    import paddle

    from trtbench.backends import paddle_inference
    from trtbench.models import export

    fake = _FakeInference()
    monkeypatch.setattr(paddle_inference, "_inference", lambda: fake)
    monkeypatch.setattr(paddle_inference, "_synchronize", lambda: fake.log.append("synchronize"))
    monkeypatch.setattr(paddle.device, "is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(paddle.device.cuda, "get_device_name", lambda device=None: "NVIDIA A100-SXM4-40GB")
    program, params = tmp_path / "ResNet50.paddle.json", tmp_path / "ResNet50.paddle.pdiparams"
    program.write_text("{}")
    params.write_bytes(b"\0")
    monkeypatch.setattr(export, "paddle_model_for", lambda onnx: (program, params))
    return fake


def test_the_gpu_route_runs_tensorrt_precisions_on_the_gpu(fake_gpu):
    backend = _backend()
    route = backend.route()
    assert route.name == "gpu-tensorrt" and route.trt_compiled == route.trt_runtime == "8.6.1"
    assert "TensorRT 8.6.1" in route.reason and "NVIDIA A100" in route.reason
    assert backend.gpu is True and backend.device() == "NVIDIA A100-SXM4-40GB"
    assert "route gpu-tensorrt" in backend.availability().reason
    for precision in ("fp32", "fp16", "int8"):
        assert backend.runs(precision) == (True, "")
    ok, why = backend.runs("bf16")
    assert not ok and "runs fp32, fp16, int8 on the gpu-tensorrt route, not bf16" in why


def _expected_calls(program, params, precision_mode, batch, optim, calib):
    shape = {"x": [batch, 3, 224, 224]}
    return [
        ("Config", (str(program), str(params)), {}),
        ("enable_use_gpu", (256, 0), {}),
        ("switch_ir_optim", (True,), {}),
        ("enable_tensorrt_engine", (), {"workspace_size": 1 << 30, "max_batch_size": batch, "min_subgraph_size": 3,
                                        "precision_mode": precision_mode, "use_static": True,
                                        "use_calib_mode": calib}),
        ("set_trt_dynamic_shape_info", (shape, shape, shape), {}),
        ("set_optim_cache_dir", (str(optim),), {}),
        ("enable_save_optim_model", (True,), {}),
        ("disable_glog_info", (), {}),
    ]


@pytest.mark.parametrize("precision,mode", [("fp32", "<Float32>"), ("fp16", "<Half>")])
def test_a_gpu_build_configures_the_tensorrt_subgraph(fake_gpu, tmp_path, precision, mode):
    from trtbench.models import export

    program, params = export.paddle_model_for("ResNet50.onnx")
    engine = _backend().build(tmp_path / "ResNet50.onnx", precision, 8, tmp_path / "engines")
    optim = tmp_path / "engines" / "paddle-tensorrt" / f"ResNet50.{precision}.b8"
    assert fake_gpu.configs == [_expected_calls(program, params, mode, 8, optim, False)]
    assert fake_gpu.log == ["create_predictor"]  # no calibration outside int8
    with engine:
        spans = engine.iterate()
        assert spans["latency"] > 0
        executed, evidence = engine.executed_precision()
        method = engine.describe()
    # the input is copied to the device once, outside the timed run; the span waits for the GPU
    assert fake_gpu.log[1:] == [("copy_from_cpu", (8, 3, 224, 224), "float32"), "run", "synchronize"]
    assert executed == precision
    assert evidence == (f"config: Paddle TensorRT subgraph precision_mode {mode.strip('<>')}; "
                        "Paddle's optimized program holds 2 TensorRT engine op(s)")
    assert method["route"] == "gpu-tensorrt" and method["precision_mode"] == mode.strip("<>")
    assert method["tensorrt_compiled"] == method["tensorrt_runtime"] == "8.6.1"
    assert method["min_subgraph_size"] == 3 and method["use_static"] is True
    assert method["data_transfers_note"].startswith("predictor.run(), inputs already on the device")


def test_int8_calibrates_with_a_first_predictor_then_builds_from_its_table(fake_gpu, tmp_path):
    from trtbench.graphs.precision import CALIBRATION_IMAGES, Calibration
    from trtbench.models import export

    program, params = export.paddle_model_for("ResNet50.onnx")
    backend = PaddleInferenceBackend(PaddleInferenceConfig(threads=2), Calibration(seed=3))
    engine = backend.build(tmp_path / "ResNet50.onnx", "int8", 5, tmp_path)
    optim = tmp_path / "paddle-tensorrt" / "ResNet50.int8.b5"
    expected = _expected_calls(program, params, "<Int8>", 5, optim, True)
    assert fake_gpu.configs == [expected, expected]  # the calibrating predictor, then the INT8 one
    batches = -(-CALIBRATION_IMAGES // 5)  # every sample once, the last batch filled up
    assert fake_gpu.log == (["create_predictor"] + [("copy_from_cpu", (5, 3, 224, 224), "float32"), "run"] * batches
                            + ["create_predictor"])
    with engine:
        assert engine.executed_precision()[0] == "int8"
        assert engine.describe()["calibration"] == "Paddle's calibration mode"


def test_no_tensorrt_engine_op_claims_no_precision(fake_gpu, tmp_path):
    fake_gpu.engines = 0  # Paddle kept every op on its own GPU kernels
    with _backend().build(tmp_path / "ResNet50.onnx", "fp16", 1, tmp_path) as engine:
        executed, evidence = engine.executed_precision()
    assert executed is None and "holds no TensorRT engine op" in evidence


def test_the_engines_paddle_serializes_are_checked_before_paddle_opens_their_folder(fake_gpu, tmp_path):
    """Paddle keys the engines it keeps by tensor names, batch and precision only: the folder's files
    are recorded under trtbench's key (the program's and parameters' sha256, TensorRT, the GPU) and
    anything not as recorded is removed before Paddle sees it."""
    from trtbench.models import export

    program, params = export.paddle_model_for("ResNet50.onnx")
    optim = tmp_path / "engines" / "paddle-tensorrt" / "ResNet50.fp16.b8"

    def build():
        return _backend().build(tmp_path / "ResNet50.onnx", "fp16", 8, tmp_path / "engines")

    first = build()
    assert first.info["loaded_from_cache"] is False and first.info["cache_reason"].startswith("no cached")
    (optim / "trt_serialized_123").write_bytes(b"engine")  # what Paddle would serialize
    artifacts.record_folder(optim, paddle_inference.ENGINE_FOLDER_KIND,
                            artifacts.valid(Path(f"{optim}.files"), paddle_inference.ENGINE_FOLDER_KIND).key,
                            frozenset({"_optimized.json"}))
    again = build()
    assert again.info["loaded_from_cache"] is True and (optim / "trt_serialized_123").read_bytes() == b"engine"

    (optim / "trt_serialized_123").write_bytes(b"an engine of other weights")  # planted
    assert "trt_serialized_123 not as recorded" in build().info["cache_reason"]
    assert not (optim / "trt_serialized_123").exists()

    os.mkfifo(optim / "trt_serialized_456")  # never opened: removed before Paddle could block on it
    assert "trt_serialized_456 in ResNet50.fp16.b8 is not a regular file" in build().info["cache_reason"]
    assert not (optim / "trt_serialized_456").exists()

    (optim / "trt_serialized_123").write_bytes(b"engine")
    artifacts.record_folder(optim, paddle_inference.ENGINE_FOLDER_KIND,
                            artifacts.valid(Path(f"{optim}.files"), paddle_inference.ENGINE_FOLDER_KIND).key,
                            frozenset({"_optimized.json"}))
    params.write_bytes(b"other weights, same tensor names")  # re-exported: Paddle's own key would not see it
    assert build().info["cache_reason"].startswith("params_sha256 changed")
    assert not (optim / "trt_serialized_123").exists()


@pytest.mark.parametrize("cuda,gpus,trt,why", [
    (False, 1, (8, 6, 1), "is a CPU build (not compiled with CUDA)"),
    (True, 0, (8, 6, 1), "is compiled with CUDA but sees no GPU"),
    (True, 1, (0, 0, 0), "is compiled with CUDA but not with TensorRT"),
])
def test_the_cpu_route_names_what_the_gpu_route_lacks(fake_gpu, monkeypatch, cuda, gpus, trt, why):
    import paddle

    monkeypatch.setattr(paddle.device, "is_compiled_with_cuda", lambda: cuda)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: gpus)
    fake_gpu.trt = trt
    backend = _backend()
    assert backend.route().name == "cpu" and why in backend.route().reason
    assert backend.gpu is False and backend.runs("fp32") == (True, "")
    ok, reason = backend.runs("int8")
    assert not ok and why in reason


def test_this_machine_takes_the_cpu_route_for_want_of_a_cuda_build():
    import paddle

    from trtbench import doctor
    from trtbench.backends.paddle_inference import compiled_tensorrt, detect_route

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this paddle is a CUDA build: the CPU build's route is not what it detects")
    route = detect_route()
    assert route.name == "cpu" and "not compiled with CUDA" in route.reason
    assert _backend().gpu is False and compiled_tensorrt() == ""
    (check,) = [c for c in doctor.checks() if c.component == "Paddle Inference TensorRT subgraph"]
    assert not check.ok and check.needed_for == "paddle-inference on a GPU (the page's own method)"
    assert "from Paddle's own package index" in check.fix
