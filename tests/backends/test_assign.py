"""Which backend runs which precision: natively or not at all, per precision under auto, side by side
for a list or all."""

import pytest

from trtbench import backends
from trtbench.backends.base import Availability, Backend
from trtbench.errors import TrtbenchError


class Bf16Backend(Backend):
    name = "bf16-test"
    precisions = ("fp32", "bf16")
    packages = ("numpy",)

    def availability_impl(self):
        return Availability(True, "test engine with bf16")

    def device(self):
        return "test CPU"


class MissingBackend(Bf16Backend):
    name = "missing-test"

    def availability_impl(self):
        return Availability(False, "not installed", "pip install it")


@pytest.fixture
def test_backends(monkeypatch):
    backends.register("bf16-test", Bf16Backend)
    backends.register("missing-test", MissingBackend)
    monkeypatch.setattr(backends, "AUTO_ORDER", ["missing-test", "onnxruntime-cpu", "bf16-test"])
    yield
    backends.unregister("bf16-test")
    backends.unregister("missing-test")


def _names(plan):
    return {precision: [b.name for b in chosen] for precision, chosen in plan.by_precision.items()}


def test_auto_gives_each_precision_to_the_first_backend_that_runs_it_natively(test_backends):
    plan = backends.assign("auto", ["fp32", "bf16"])
    assert _names(plan) == {"fp32": ["onnxruntime-cpu"], "bf16": ["bf16-test"]}
    assert plan.why[0].startswith("fp32: auto chose onnxruntime-cpu") and "missing-test unavailable" in plan.why[0]
    assert plan.why[1].startswith("bf16: auto chose bf16-test") and "onnxruntime-cpu: ONNX Runtime" in plan.why[1]
    assert [b.name for b in plan.backends()] == ["onnxruntime-cpu", "bf16-test"]


def test_nothing_runs_it_natively_is_one_line(test_backends):
    with pytest.raises(TrtbenchError, match=r"no backend here runs fp16 natively: .*onnxruntime-cpu"):
        backends.assign("auto", ["fp16"])


def test_a_named_backend_refuses_what_it_would_run_as_another_precision(test_backends):
    with pytest.raises(TrtbenchError, match=r"backend onnxruntime-cpu does not run bf16 here: .*"
                                            r"--backend .*bf16-test.* runs it here"):
        backends.assign("onnxruntime-cpu", ["fp32", "bf16"])


def test_a_list_runs_side_by_side_and_leaves_out_what_one_cannot_run(test_backends):
    plan = backends.assign("onnxruntime-cpu,bf16-test", ["fp32", "bf16"])
    assert _names(plan) == {"fp32": ["onnxruntime-cpu", "bf16-test"], "bf16": ["bf16-test"]}
    assert any(line.startswith("onnxruntime-cpu bf16:") for line in plan.skipped)
    with pytest.raises(TrtbenchError, match="backend missing-test is not available: not installed; pip install it"):
        backends.assign("onnxruntime-cpu,missing-test", ["fp32"])


def test_all_skips_what_is_not_here_and_says_so(test_backends):
    plan = backends.assign("all", ["fp32"])
    assert "bf16-test" in _names(plan)["fp32"] and "onnxruntime-cpu" in _names(plan)["fp32"]
    assert any(line.startswith("missing-test: unavailable: not installed") for line in plan.skipped)
    assert any(line.startswith("tensorrt: unavailable") for line in plan.skipped)


def test_native_precisions_are_those_some_backend_runs_here(test_backends):
    assert "bf16" in backends.native_precisions("auto")
    assert "bf16" not in backends.native_precisions("onnxruntime-cpu")
    assert "fp16" not in backends.native_precisions("onnxruntime-cpu")


@pytest.mark.parametrize("spec", [",", " , ", ""])
def test_an_empty_backend_list_is_one_line(spec):
    with pytest.raises(TrtbenchError, match="bad --backend"):
        backends.assign(spec, ["fp32"])
    with pytest.raises(TrtbenchError, match="bad --backend"):
        backends.native_precisions(spec)


@pytest.mark.parametrize("flags", [("avx512_fp16", "amx_bf16"), (None, None)])
def test_native_and_auto_take_only_what_a_probe_showed_running_here(monkeypatch, tmp_path, flags):
    """On a CPU with the FP16/BF16 instructions a probe compile decides; without them nothing is probed.
    A probe that reads back FP32 leaves the precision out of `native` and out of OpenVINO under `auto`."""
    from trtbench.backends import openvino, paddle_inference
    from trtbench.measure import cpu

    monkeypatch.setenv("TRTBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(cpu, "native_fp16", lambda found=None: flags[0])
    monkeypatch.setattr(cpu, "native_bf16", lambda found=None: flags[1])
    probed = []

    def probe(precision):
        probed.append(precision)
        return "fp32", "probe: one convolution ran f32"

    monkeypatch.setattr(openvino, "probe", probe)
    monkeypatch.setattr(paddle_inference, "probe_bf16", lambda: probe("bf16-paddle"))
    native = backends.native_precisions("auto")
    assert "fp16" not in native and "bf16" not in native and "fp32" in native
    with pytest.raises(TrtbenchError, match="no backend here runs fp16 natively") as refused:
        backends.assign("auto", ["fp16"])
    if flags[0] is None:
        assert probed == [] and "no FP16 arithmetic" in str(refused.value)
    else:
        assert "openvino-cpu: a probe compile on this CPU asked for fp16 and ran fp32" in str(refused.value)
        assert sorted(set(probed)) == ["bf16", "bf16-paddle", "fp16"]
        count = len(probed)
        backends.native_precisions("auto")
        assert len(probed) == count  # answered from the machine's probe cache
