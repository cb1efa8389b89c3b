"""Shell completion: model names, backend names and precisions complete, through click's own machinery."""

import pytest


def _complete(runner, line: str) -> list[str]:
    """What bash would offer after ``line`` (the last word is being typed)."""
    from trtbench.cli import main

    words = line.split(" ")
    result = runner.invoke(main, [], prog_name="trtbench", env={
        "_TRTBENCH_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert result.exit_code == 0, result.output
    return [item.split(",", 1)[1] for item in result.stdout.splitlines()]


@pytest.mark.parametrize("command", ["run", "verify", "export", "eval"])
def test_model_names_complete(runner, command):
    assert _complete(runner, f"trtbench {command} ResNet50_v") == [
        "ResNet50_vc", "ResNet50_vd", "ResNet50_vd_v2", "ResNet50_vd_ssld"]
    assert _complete(runner, f"trtbench {command} resnet15") == ["ResNet152", "ResNet152_vd"]


def test_backend_names_complete_each_item_of_a_list(runner):
    assert _complete(runner, "trtbench run --backend onnx") == ["onnxruntime-cpu", "onnxruntime-cuda"]
    assert _complete(runner, "trtbench verify --backend openvino-cpu,pa") == ["openvino-cpu,paddle-inference"]
    assert set(_complete(runner, "trtbench run --backend ")) >= {"auto", "all", "tensorrt", "openvino-cpu"}


def test_precisions_complete(runner):
    assert _complete(runner, "trtbench run --precision fp32,") == ["fp32,fp16", "fp32,bf16", "fp32,int8"]
    assert _complete(runner, "trtbench run --precision n") == ["native"]


def test_a_registered_backend_completes_too(runner):
    from trtbench import backends
    from trtbench.backends.onnxruntime import OnnxRuntimeBackend

    backends.register("zz-test-backend", OnnxRuntimeBackend)
    try:
        assert _complete(runner, "trtbench run --backend zz") == ["zz-test-backend"]
    finally:
        backends.unregister("zz-test-backend")


def test_the_script_a_shell_sources_names_trtbench(runner):
    from trtbench.cli import main

    result = runner.invoke(main, [], prog_name="trtbench", env={"_TRTBENCH_COMPLETE": "bash_source"})
    assert result.exit_code == 0 and "_trtbench_completion" in result.stdout
