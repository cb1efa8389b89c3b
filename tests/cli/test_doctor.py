import json
import tomllib
from pathlib import Path

import pytest


def test_doctor_reports_backends_and_what_brings_them(invoke):
    result = invoke("doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    backends = report["backends"]
    assert backends["onnxruntime-cpu"]["available"] is True
    assert backends["tensorrt"]["available"] is False
    assert "trtbench[tensorrt-cu12]" in backends["tensorrt"]["fix"]
    assert report["auto"]["fp32"] == "openvino-cpu" and report["auto"]["int8"] == "openvino-cpu"
    assert report["auto"]["fp16"].startswith("none: no backend here runs fp16 natively") or \
        report["backends"]["openvino-cpu"]["runs_here"].count("fp16")
    assert report["backends"]["onnxruntime-cpu"]["runs_here"] == ["fp32", "int8"]
    components = {c["component"]: c for c in report["checks"]}
    assert components["tensorrt"]["ok"] is False and "trtbench[tensorrt-cu13]" in components["tensorrt"]["fix"]
    assert components["onnxruntime"]["ok"] and components["paddlepaddle"]["ok"]


def test_doctor_table(invoke):
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "tensorrt: unavailable" in result.stdout and "pip install 'trtbench[tensorrt-cu12]'" in result.stdout


# --- which TensorRT extra fits the NVIDIA driver --------------------------------------------------

CU13_INSTALLED = {"cuda-python": "13.0.1", "cuda-bindings": "13.0.1", "tensorrt-cu13": "11.4.0.106"}
CU12_INSTALLED = {"cuda-python": "12.9.4", "cuda-bindings": "12.9.4", "tensorrt-cu12": "10.13.3.9"}


def extra_check(driver, installed=None):
    from trtbench.doctor import cuda_extra_check

    return cuda_extra_check(driver, package_version=(installed or {}).get)


@pytest.mark.parametrize("driver,extra", [
    ("525.60.13", "trtbench[tensorrt-cu12]"),
    ("535.104.05", "trtbench[tensorrt-cu12]"),
    ("570.124.06", "trtbench[tensorrt-cu12]"),
    ("580.65.06", "trtbench[tensorrt-cu13] (trtbench[tensorrt-cu12] fits too)"),
])
def test_the_extra_that_runs_on_the_driver(driver, extra):
    check = extra_check(driver)
    assert check.ok and check.found == f"driver {driver}: {extra}" and check.fix == ""
    assert "tensorrt-cu12: driver >= 525 (CUDA 12.x runtime, R525+ through minor-version compatibility)" \
        in check.needed_for
    assert "tensorrt-cu13: driver >= 580 (CUDA 13 runtime)" in check.needed_for


def test_cuda_13_packages_on_an_older_driver_are_named_with_the_way_out():
    check = extra_check("550.54.15", CU13_INSTALLED)
    assert check.found == "driver 550.54.15: trtbench[tensorrt-cu12]"
    assert "cuda-bindings 13.0.1 (needs driver >= 580)" in check.fix
    assert "tensorrt-cu13 11.4.0.106 (needs driver >= 580)" in check.fix
    assert check.fix.endswith("pip uninstall -y tensorrt-cu13 tensorrt-cu13-bindings tensorrt-cu13-libs tensorrt "
                              "&& pip install 'trtbench[tensorrt-cu12]'")


def test_cuda_12_packages_fit_both_drivers():
    assert extra_check("550.54.15", CU12_INSTALLED).fix == ""
    assert extra_check("580.65.06", CU12_INSTALLED).fix == ""
    assert extra_check("580.65.06", CU13_INSTALLED).fix == ""


@pytest.mark.parametrize("driver,fix", [
    (None, "no NVIDIA driver found"),
    ("470.256.02", "driver 470.256.02 is older than R525: no TensorRT extra runs on it"),
    ("unknown", "driver version 'unknown' not understood"),
])
def test_no_extra_fits(driver, fix):
    check = extra_check(driver, CU13_INSTALLED)
    assert not check.ok and check.fix.startswith(fix)


def test_doctor_reads_the_driver_version(invoke, monkeypatch):
    import trtbench.gpu

    monkeypatch.setattr(trtbench.gpu, "driver_version", lambda: "535.104.05")
    report = json.loads(invoke("doctor", "--json").stdout)
    components = {c["component"]: c for c in report["checks"]}
    assert components["TensorRT extra for the driver"]["found"] == "driver 535.104.05: trtbench[tensorrt-cu12]"
    monkeypatch.setattr(trtbench.gpu, "driver_version", lambda: None)
    report = json.loads(invoke("doctor", "--json").stdout)
    components = {c["component"]: c for c in report["checks"]}
    assert components["TensorRT extra for the driver"]["fix"].startswith("no NVIDIA driver found")


def test_each_extra_doctor_names_brings_its_cuda_major():
    from trtbench.doctor import CUDA_EXTRAS

    extras = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for extra, major, _, _ in CUDA_EXTRAS:
        assert f"cuda-python>={major},<{major + 1}" in extras[extra]
        assert any(requirement.startswith(f"tensorrt-cu{major}>=") for requirement in extras[extra])
    # the plain extra is one of them: the `tensorrt` package on PyPI depends on tensorrt-cu13
    assert "cuda-python>=13,<14" in extras["tensorrt"]
