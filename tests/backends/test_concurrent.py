"""Requests served at once by one engine (``Engine.concurrent``): OpenVINO infer requests of a throughput-compiled
model, parallel runs of one ONNX Runtime session, Paddle Inference predictor clones, for real on this CPU; TensorRT
execution contexts on their own streams through the test doubles. Runners called from threads of their own at
the same moment each give the engine's output from buffers of their own, and what they hold is freed at the end."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench.backends.base import CpuConfig
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input

BATCH = 2
#: more requests than any CPU backend takes on this machine (4 per logical CPU)
TOO_MANY = 4 * (os.cpu_count() or 1) + 1


def _tiny_onnx(path, seed: int = 5):
    """A convolution, a pooling and a 1000-way classifier on the zoo's input shape: builds in a blink."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    conv = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((8, 1000)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["conv"], strides=[4, 4], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], ["relu"]),
         helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
         helper.make_node("Flatten", ["pool"], ["flat"]),
         helper.make_node("Gemm", ["flat", "fc"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1000])],
        [numpy_helper.from_array(conv, "w"), numpy_helper.from_array(fc, "fc")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_graph(tmp_path):
    return _tiny_onnx(tmp_path / "tiny.onnx")


def run_at_once(runners, times: int = 3) -> None:
    """Call each runner ``times`` times from a thread of its own, every thread starting at the same moment."""
    start = threading.Barrier(len(runners))
    failures: list[BaseException] = []

    def serve(runner):
        try:
            start.wait(timeout=60)
            for _ in range(times):
                runner()
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=serve, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a runner never returned"
    assert not failures, failures


def assert_own_outputs(outputs: list[np.ndarray], expected: np.ndarray) -> None:
    """Each output is the engine's and sits in memory of its own."""
    for output in outputs:
        np.testing.assert_allclose(np.asarray(output).reshape(expected.shape), expected, rtol=1e-4, atol=1e-4)
    for index, output in enumerate(outputs):
        assert not any(np.shares_memory(output, other) for other in outputs[index + 1:]), "runners share an output"


def assert_refused_in_one_line(engine, requests) -> None:
    with pytest.raises(TrtbenchError) as refused:
        with engine.concurrent(requests):
            pass
    assert "\n" not in str(refused.value) and repr(requests) in str(refused.value)


# --- OpenVINO ------------------------------------------------------------------------------------


def _openvino_engine(graph, tmp_path, precision="fp32"):
    pytest.importorskip("openvino")
    from trtbench.backends.openvino import OpenVinoBackend, OpenVinoConfig

    return OpenVinoBackend(OpenVinoConfig(threads=2)).build(graph, precision, BATCH, tmp_path / "engines")


def test_openvino_serves_infer_requests_of_a_throughput_compiled_model_at_once(tiny_graph, tmp_path):
    with _openvino_engine(tiny_graph, tmp_path) as engine:
        expected = engine.infer(seeded_input(BATCH))
        with engine.concurrent(3) as serving:
            run_at_once(serving.runners)
            requests = [runner.func.__self__ for runner in serving.runners]
            assert_own_outputs([request.get_output_tensor().data for request in requests], expected)
            compiled = requests[0].get_compiled_model()
            assert str(compiled.get_property("PERFORMANCE_HINT")) == "THROUGHPUT"
            assert int(compiled.get_property("PERFORMANCE_HINT_NUM_REQUESTS")) == 3
            streams = int(compiled.get_property("NUM_STREAMS"))
            gone = weakref.ref(compiled)
            del requests, compiled
        assert serving.facts["requests"] == 3 and serving.facts["streams"] == streams
        assert 1 <= streams <= 2  # never more streams than the engine's 2 threads
        assert serving.facts["threads_per_stream"] == 2 // streams
        assert "PERFORMANCE_HINT THROUGHPUT" in serving.facts["how"]
        # the engine's own request is untouched: it still times the latency-compiled model
        assert str(engine.compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
        np.testing.assert_allclose(engine.infer(seeded_input(BATCH)), expected, rtol=1e-5, atol=1e-5)
    assert serving.runners == []
    gc.collect()
    assert gone() is None, "the throughput-compiled model outlived its requests"


def test_openvino_refuses_a_throughput_model_running_another_precision(tiny_graph, tmp_path):
    from trtbench.measure import cpu

    if cpu.native_bf16() is None:
        pytest.skip("this CPU has no BF16 instructions: OpenVINO would run a bf16 hint as f32 too")
    with _openvino_engine(tiny_graph, tmp_path) as engine:
        # as if the throughput compile had been given another precision hint than the engine's
        engine.settings["INFERENCE_PRECISION_HINT"] = "bf16"
        with pytest.raises(TrtbenchError, match="runs bf16 where the engine runs fp32") as refused:
            with engine.concurrent(2):
                pass
    assert "\n" not in str(refused.value)


def test_openvino_refuses_no_requests_and_too_many(tiny_graph, tmp_path):
    with _openvino_engine(tiny_graph, tmp_path) as engine:
        for requests in (0, -1, TOO_MANY, True):
            assert_refused_in_one_line(engine, requests)
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        with engine.concurrent(1):
            pass


# --- ONNX Runtime --------------------------------------------------------------------------------


def _onnxruntime_engine(graph, threads=2):
    from trtbench.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(CpuConfig(threads=threads)).build(graph, "fp32", BATCH, graph.parent)


@pytest.mark.parametrize("requests,threads", [(2, 1), (1, 2), (4, 1)])
def test_onnxruntime_serves_parallel_runs_of_one_session(tiny_graph, requests, threads):
    with _onnxruntime_engine(tiny_graph) as engine:
        expected = engine.infer(seeded_input(BATCH))
        with engine.concurrent(requests) as serving:
            run_at_once(serving.runners)
            sessions = {id(runner.func.__self__) for runner in serving.runners}
            session = serving.runners[0].func.__self__
            assert len(sessions) == 1, "the runs are not of one session"
            assert session.get_session_options().intra_op_num_threads == threads
            # a session of its own where the engine's threads are split among the requests
            assert (session is engine.session) == (threads == 2)
            assert_own_outputs([runner.args[0].get_outputs()[0].numpy() for runner in serving.runners], expected)
            gone = weakref.ref(session)
            del session
        assert serving.facts == {"requests": requests, "streams": requests, "threads_per_stream": threads,
                                 "how": serving.facts["how"]}
        assert f"intra_op_num_threads {threads}" in serving.facts["how"]
        assert serving.runners == []
        gc.collect()
        assert (gone() is None) == (threads != 2), "the throughput session outlived its runs"


def test_onnxruntime_refuses_no_requests_and_too_many(tiny_graph):
    with _onnxruntime_engine(tiny_graph) as engine:
        for requests in (0, TOO_MANY, 2.0):
            assert_refused_in_one_line(engine, requests)


# --- Paddle Inference ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paddle_model(tmp_path_factory):
    """A convolution, a pooling and a 1000-way classifier saved as a Paddle inference model."""
    from trtbench.lazy import import_paddle
    from trtbench.models.export import captured_native_output

    paddle = import_paddle()
    folder = tmp_path_factory.mktemp("paddle-tiny")

    class Tiny(paddle.nn.Layer):  # type: ignore[name-defined]
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 8, 3, stride=4, padding=1)
            self.fc = paddle.nn.Linear(8, 1000)

        def forward(self, x):
            pooled = paddle.nn.functional.adaptive_avg_pool2d(paddle.nn.functional.relu(self.conv(x)), 1)
            return self.fc(paddle.flatten(pooled, 1))

    paddle.seed(3)
    with captured_native_output():
        spec = [paddle.static.InputSpec([None, 3, 224, 224], "float32", "x")]
        paddle.jit.save(paddle.jit.to_static(Tiny(), input_spec=spec, full_graph=True), str(folder / "tiny"))
    return folder / "tiny.json", folder / "tiny.pdiparams"


def _paddle_engine(model, tmp_path):
    """An engine made as the backend makes one: from copies of the model that are gone once it is loaded."""
    import shutil

    from trtbench.backends.paddle_inference import (
        OPTIMIZED_PROGRAM,
        PaddleInferenceEngine,
        _inference,
        cpu_config,
        program_precision,
    )
    from trtbench.store import artifacts

    inference = _inference()
    loaded = tmp_path / "loaded"
    loaded.mkdir()
    copies = tuple(Path(shutil.copy(path, loaded / path.name)) for path in model)
    config = cpu_config(inference, copies, 2, False, loaded / "optim")
    predictor = inference.create_predictor(config)
    program = program_precision(loaded / "optim" / OPTIMIZED_PROGRAM)
    shutil.rmtree(loaded)
    info = {"program": str(model[0]), "program_sha256": artifacts.current_sha256(model[0]),
            "params": str(model[1]), "params_sha256": artifacts.current_sha256(model[1])}
    return PaddleInferenceEngine(predictor, config, BATCH, 0.0, info, program)


def test_paddle_serves_a_predictor_and_clones_of_it(paddle_model, tmp_path):
    with _paddle_engine(paddle_model, tmp_path) as engine:
        expected = engine.infer(seeded_input(BATCH))
        with engine.concurrent(3) as serving:
            run_at_once(serving.runners)
            predictors = [runner.__self__ for runner in serving.runners]
            assert all(predictor is not engine.predictor for predictor in predictors)
            assert_own_outputs([predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
                                for predictor in predictors], expected)
            del predictors
        assert serving.facts["requests"] == 3 and serving.facts["threads_per_stream"] == 2
        # Paddle's Python run() holds the GIL: the clones run one at a time, and the record says so
        assert serving.facts["streams"] == 1 and "holds the GIL" in serving.facts["how"]
        assert serving.runners == []
        # the engine's own predictor still runs the timing input
        engine.iterate()
        np.testing.assert_allclose(engine.output_handle.copy_to_cpu(), expected, rtol=1e-5, atol=1e-5)


def test_paddle_refuses_clones_of_another_precision_or_a_changed_model(paddle_model, tmp_path):
    with _paddle_engine(paddle_model, tmp_path) as engine:
        for requests in (0, TOO_MANY):
            assert_refused_in_one_line(engine, requests)
        timed = engine.program
        engine.program = {"compute_ops": {"bf16": 2}}  # as if the engine ran bf16 kernels
        with pytest.raises(TrtbenchError, match="would not be this precision's"):
            with engine.concurrent(2):
                pass
        engine.program = timed
        engine.info["params_sha256"] = "0" * 64
        with pytest.raises(TrtbenchError, match="changed after it was timed, so it cannot be served concurrently"):
            with engine.concurrent(2):
                pass


# --- TensorRT, through the doubles ---------------------------------------------------------------


def _tensorrt(major=10, **options):
    from trtbench.backends.tensorrt import TensorRTBackend, TensorRTConfig

    gpu = FakeCuda(compute_ms=2.0)
    trt = FakeTensorRT(major, gpu)
    return TensorRTBackend(TensorRTConfig(**options), trt=trt, cuda=gpu), trt, gpu


@pytest.mark.parametrize("major,transfers", [(10, True), (11, False)])
def test_tensorrt_serves_execution_contexts_on_streams_of_their_own(tiny_graph, tmp_path, major, transfers):
    backend, trt, gpu = _tensorrt(major, data_transfers=transfers)
    with backend.build(tiny_graph, "fp32", BATCH, tmp_path / "engines") as engine:
        expected = engine.infer(seeded_input(BATCH))
        before = set(gpu.memory)
        with engine.concurrent(3) as serving:
            assert trt.contexts_alive == 4  # the engine's own and three more of the same engine
            run_at_once(serving.runners)
            requests = [runner.args[0] for runner in serving.runners]
            assert len({request.handle for request in requests} | {engine.handle}) == 4
            assert len({request.context for request in requests} | {engine.context}) == 4
            outputs = [request.outputs[0][1] if transfers else gpu.read(request.outputs[0][2], expected.shape,
                                                                        np.float32) for request in requests]
            assert_own_outputs(outputs, expected)
            assert len({buffer for request in requests for buffer in request.device_buffers}) == 6
            del requests
        assert serving.facts["requests"] == 3 and serving.facts["streams"] == 3
        assert ("H2D and D2H" in serving.facts["how"]) == transfers
        assert serving.runners == []
        assert trt.contexts_alive == 1 and set(gpu.memory) == before, "the contexts' buffers were not freed"
        assert not trt.used - _declared(major), "the backend used TensorRT names it does not declare"
    assert trt.contexts_alive == 0


def test_tensorrt_frees_what_it_made_when_a_context_cannot_be_made(tiny_graph, tmp_path):
    backend, trt, gpu = _tensorrt()
    with backend.build(tiny_graph, "fp32", BATCH, tmp_path / "engines") as engine:
        before, streams = set(gpu.memory), len(gpu.freed)
        trt.failing.add("context")
        with pytest.raises(TrtbenchError, match="could not create another execution context") as refused:
            with engine.concurrent(2):
                pass
        assert "\n" not in str(refused.value)
        assert set(gpu.memory) == before and trt.contexts_alive == 1 and len(gpu.freed) == streams
        trt.failing.clear()
        with engine.concurrent(2) as serving:
            trt.failing.add("enqueue")
            with pytest.raises(TrtbenchError, match="execute_async_v3 returned False"):
                serving.runners[0]()
        assert set(gpu.memory) == before and trt.contexts_alive == 1


def test_tensorrt_refuses_no_requests_and_too_many(tiny_graph, tmp_path):
    from trtbench.backends.tensorrt_engine import MAX_REQUESTS

    backend, _, _ = _tensorrt()
    with backend.build(tiny_graph, "fp32", BATCH, tmp_path / "engines") as engine:
        for requests in (0, MAX_REQUESTS + 1, None):
            assert_refused_in_one_line(engine, requests)


def test_the_double_refuses_one_context_enqueued_on_two_streams_at_once(tiny_graph, tmp_path):
    backend, trt, gpu = _tensorrt()
    with backend.build(tiny_graph, "fp32", BATCH, tmp_path / "engines") as engine:
        other = gpu.stream()
        assert engine.context.execute_async_v3(engine.handle)
        # the first inference has not run yet: a second stream would share its buffers while it computes
        assert not engine.context.execute_async_v3(gpu.stream_handle(other))
        gpu.synchronize(engine.stream)
        assert engine.context.execute_async_v3(gpu.stream_handle(other))
        gpu.synchronize(other)
        gpu.free(other)


def _declared(major: int) -> set[str]:
    from trtbench.backends.tensorrt import ROUTES_BY_MAJOR, TENSORRT_API

    return {name for route in ROUTES_BY_MAJOR[major] for name in TENSORRT_API[route]} | {
        name.split(".")[0] for route in ROUTES_BY_MAJOR[major] for name in TENSORRT_API[route]}


def test_trtexec_names_its_own_streams_flag_as_not_wired():
    from trtbench.backends.trtexec import TrtexecEngine, TrtexecMode

    engine = TrtexecEngine([], 1, {}, TrtexecMode(10, "fp32", {}, (), ()))
    with pytest.raises(TrtbenchError, match="--infStreams") as refused:
        engine.concurrent(2)
    assert "\n" not in str(refused.value)
