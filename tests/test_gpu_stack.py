"""What `make setup` installs for a machine's NVIDIA driver (scripts/gpu_stack.py through the
Makefile, read with `make -n`), and the reading of pip's resolution report (scripts/check_gpu_stack.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.nvidia_smi import capture, fake_nvidia_smi

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_n_setup(tmp_path: Path, answer: str | None, status: int = 0, **env: str) -> tuple[str, str]:
    """(the pip install line, the line saying why) of `make -n setup` into a venv that does not exist yet,
    with a fake nvidia-smi answering ``answer`` (None: no nvidia-smi on PATH)."""
    paths = [str(fake_nvidia_smi(tmp_path / "bin", answer, status))] if answer is not None else []
    # no nvidia-smi of this machine's own: PATH keeps only the folders of make, sh and the Python
    paths += [os.path.dirname(shutil.which(tool) or "") for tool in ("make", "sh")]
    environment = {"PATH": os.pathsep.join(paths), "HOME": str(tmp_path), **env}
    done = subprocess.run(["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", f"PYTHON={sys.executable}"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    (install,) = [line for line in lines if re.search(r"pip install --quiet .*-e ", line)]
    (why,) = [line for line in lines if line.startswith("echo 'make setup: ")]
    return install, why


def cuda_python_major(install: str) -> int:
    """The cuda-python major the install line's constraints allow."""
    constraints = re.findall(r"-c (\S+)", install)
    pins = [line for name in constraints for line in (ROOT / name).read_text().splitlines()
            if line.startswith("cuda-python==")]
    (pin,) = pins
    return int(pin.split("==")[1].split(".")[0])


def test_driver_570_installs_the_cuda_12_stack(tmp_path):
    install, why = make_n_setup(tmp_path, capture("570-v100-inforom-warning.csv"))
    assert "-e '.[dev,tensorrt-cu12]'" in install and "constraints-cu12.txt" in install
    assert "constraints-cu13.txt" not in install
    assert cuda_python_major(install) == 12
    assert "NVIDIA driver 570.124.06 (R570): trtbench[tensorrt-cu12]" in why
    # where NVIDIA's index cannot be reached the install fails: its last line names the ways out
    assert install.endswith("TRTBENCH_CUDA=none make setup installs the CPU set' >&2; exit 1; }")


def test_driver_535_installs_the_cuda_12_stack(tmp_path):
    install, _ = make_n_setup(tmp_path, capture("535-two-h100.csv"))
    assert "-e '.[dev,tensorrt-cu12]'" in install and cuda_python_major(install) == 12


def test_driver_580_installs_the_cuda_13_stack(tmp_path):
    install, why = make_n_setup(tmp_path, capture("580-gb10-memory-na.csv"))
    assert "-e '.[dev,tensorrt-cu13]'" in install and cuda_python_major(install) == 13
    assert "580.95.05" in why


def test_no_nvidia_smi_installs_the_cpu_set(tmp_path):
    install, why = make_n_setup(tmp_path, None)
    assert "-e '.[dev]'" in install and "tensorrt" not in install
    assert why == "echo 'make setup: no NVIDIA driver (nvidia-smi not found): the CPU set'"


def test_a_failing_nvidia_smi_installs_the_cpu_set_and_says_why(tmp_path):
    install, why = make_n_setup(tmp_path, capture("failed-driver-not-loaded.txt"), status=9)
    assert "-e '.[dev]'" in install and "tensorrt" not in install
    assert why.startswith("echo 'make setup: no NVIDIA driver answered (nvidia-smi failed (exit status 9): "
                          "NVIDIA-SMI has failed because it couldn’t communicate with the NVIDIA driver")
    assert why.endswith(": the CPU set'")


def test_a_driver_older_than_r525_installs_the_cpu_set(tmp_path):
    old = capture("535-two-h100.csv").replace("535.183.01", "470.256.02")
    install, why = make_n_setup(tmp_path, old)
    assert "tensorrt" not in install and "older than R525" in why


@pytest.mark.parametrize(("override", "extra"), [("12", "tensorrt-cu12"), ("13", "tensorrt-cu13"), ("none", None)])
def test_trtbench_cuda_overrides_the_driver(tmp_path, override, extra):
    install, why = make_n_setup(tmp_path, capture("570-v100-inforom-warning.csv"), TRTBENCH_CUDA=override)
    assert (f"-e '.[dev,{extra}]'" if extra else "-e '.[dev]'") in install
    assert f"TRTBENCH_CUDA={override}" in why


def test_switching_majors_removes_the_other_tensorrt_first(tmp_path):
    done = subprocess.run(["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", "TRTBENCH_CUDA=12"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    (uninstall,) = [line for line in done.stdout.splitlines() if "pip uninstall" in line]
    assert "tensorrt-cu13 tensorrt-cu13-bindings tensorrt-cu13-libs" in uninstall and "tensorrt-cu12" not in uninstall
    assert done.stdout.index("pip uninstall") < done.stdout.index("pip install --quiet -c")


def test_an_unknown_trtbench_cuda_stops_make_with_one_line(tmp_path):
    done = subprocess.run(["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", "TRTBENCH_CUDA=11"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "TRTBENCH_CUDA=11 is not one of 12, 13, none" in done.stderr
    assert "pip install" not in done.stdout


def test_the_stack_script_runs_on_a_bare_python(tmp_path):
    # -I -S: no site-packages, no trtbench package: what the system python3 has before `make setup`
    folder = fake_nvidia_smi(tmp_path / "bin", capture("580-gb10-memory-na.csv"))
    done = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "scripts" / "gpu_stack.py")], capture_output=True,
                          text=True, env={"PATH": f"{folder}:/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tensorrt-cu13 NVIDIA driver 580.95.05 (R580)")


def test_the_stack_file_pins_every_cuda_package_of_its_major():
    for major in (12, 13):
        pins = dict(line.split("==") for line in (ROOT / f"constraints-cu{major}.txt").read_text().splitlines()
                    if "==" in line and not line.startswith("#"))
        assert int(pins["cuda-python"].split(".")[0]) == major and int(pins["cuda-bindings"].split(".")[0]) == major
        assert f"tensorrt-cu{major}" in pins and "nvidia-ml-py" in pins
    shared = (ROOT / "constraints.txt").read_text()
    assert not re.search(r"^(cuda-python|cuda-bindings|tensorrt)", shared, re.MULTILINE), \
        "constraints.txt pins a CUDA major for every stack"


# --- pip's resolution report -----------------------------------------------------------------------


def load_check_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_gpu_stack", ROOT / "scripts" / "check_gpu_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORTS = ROOT / "tests" / "data" / "pip-report"


@pytest.mark.parametrize("major", [12, 13])
def test_a_resolved_set_of_one_cuda_major_passes(major):
    check = load_check_script()
    packages = check.read_report(json.loads((REPORTS / f"cu{major}-bindings.json").read_text()))
    names = {name: built for name, _, built in packages}
    assert names[f"tensorrt-cu{major}-bindings"] == major and names["cuda-bindings"] == major
    assert names["nvidia-ml-py"] is None and names["cuda-pathfinder"] is None
    assert check.verdict(major, packages) == (True, [])


def test_a_set_that_mixes_cuda_majors_fails():
    check = load_check_script()
    report = json.loads((REPORTS / "cu12-bindings.json").read_text())
    for item in report["install"]:  # cuda-python 13 pulled in beside tensorrt-cu12: what the old dev pin did
        if item["metadata"]["name"] in ("cuda-python", "cuda-bindings"):
            item["metadata"]["version"] = "13.4.4"
    report["install"].append({"metadata": {"name": "nvidia-cuda-runtime-cu13", "version": "0.0.1"}})
    passed, problems = check.verdict(12, check.read_report(report))
    assert not passed
    assert problems == ["cuda-bindings 13.4.4 is built for CUDA 13", "cuda-python 13.4.4 is built for CUDA 13",
                        "nvidia-cuda-runtime-cu13 0.0.1 is built for CUDA 13"]


def test_cuda_majors_of_nvidias_wheel_names():
    check = load_check_script()
    assert check.cuda_major("nvidia_cuda_runtime_cu12", "12.8.57") == 12
    assert check.cuda_major("nvidia-cuda-runtime", "13.0.96") == 13
    assert check.cuda_major("tensorrt-cu13-libs", "11.4.0.106") == 13
    assert check.cuda_major("cuda-core", "1.2.2") is None and check.cuda_major("numpy", "2.4.6") is None
