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
    import trtbench.measure.gpu

    monkeypatch.setattr(trtbench.measure.gpu, "driver_version", lambda: "535.104.05")
    report = json.loads(invoke("doctor", "--json").stdout)
    components = {c["component"]: c for c in report["checks"]}
    assert components["TensorRT extra for the driver"]["found"] == "driver 535.104.05: trtbench[tensorrt-cu12]"
    monkeypatch.setattr(trtbench.measure.gpu, "driver_version", lambda: None)
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


# --- the terminal view: what each backend runs here, and the CPU that decides it ----------------------


def test_doctor_piped_at_80_columns_shows_each_backend_and_its_precisions_on_one_line(invoke):
    import os
    import subprocess
    import sys

    states = json.loads(invoke("doctor", "--json").stdout)["backends"]
    root = Path(__file__).parents[2]
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "PYTHONPATH": str(root)}
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m trtbench doctor | cat"], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in done.stdout
    for name, state in states.items():
        (row,) = [line.split() for line in lines if line.split()[:1] == [name]]
        runs = ", ".join(state["runs_here"]) or "-"
        assert row[1] == ("ok" if state["available"] else "no") and " ".join(row[2:]).startswith(runs), row
    assert lines[0].startswith("CPU: ")
    # the long hints come whole, below the compact view
    assert "pip install 'trtbench[tensorrt-cu12]'" in done.stdout.replace("\n", " ")


def test_doctor_names_the_cpu_and_the_flags_that_decide_its_precisions(invoke):
    from trtbench.measure import cpu

    report = json.loads(invoke("doctor", "--json").stdout)
    facts = report["cpu"]
    assert facts["physical_cores"] == cpu.physical_cores() and facts["bf16"] == cpu.native_bf16()
    assert facts["fp16"] == cpu.native_fp16() and facts["int8"] == cpu.native_int8()
    assert invoke("doctor").stdout.startswith(f"CPU: {facts['model']}, ")


@pytest.mark.parametrize("flags,line", [
    ({"avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "amx_tile", "avx512_vnni"},
     "BF16 amx_bf16, FP16 avx512_fp16, INT8 amx_int8, AMX bf16 int8 tile"),
    ({"avx512f", "avx512_bf16", "avx512_vnni"}, "BF16 avx512_bf16, FP16 none, INT8 avx512_vnni, AMX none"),
    ({"avx2"}, "BF16 none, FP16 none, INT8 none, AMX none"),
])
def test_the_cpu_row_on_each_kind_of_cpu(monkeypatch, flags, line):
    """A Sapphire Rapids Xeon, an AMD EPYC (Zen 4), an older CPU: the row says what each has."""
    from trtbench import doctor, envinfo
    from trtbench.measure import cpu

    monkeypatch.setattr(envinfo, "cpu_name", lambda: "Some CPU")
    monkeypatch.setattr(cpu, "physical_cores", lambda: 2)
    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags))
    assert doctor.cpu_lines(doctor.cpu_facts()) == ["CPU: Some CPU, 2 cores", f"     {line}"]
