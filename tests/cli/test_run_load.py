"""`trtbench run --scenario offline|server`: the options a load needs, refused in one line where they do not fit,
and real runs on this CPU's engines."""

import json

import pytest

from tests.cli.test_run import FAST


@pytest.mark.parametrize(("options", "message"), [
    (["--scenario", "server"], "--scenario server needs --rate QPS"),
    (["--rate", "10"], "--rate and --latency-bound are for --scenario server"),
    (["--concurrency", "2"], "--concurrency is for --scenario offline or server"),
    (["--scenario", "offline", "--concurrency", "0"], "'0' is not a number of requests from 1 to 256"),
    (["--scenario", "offline", "--concurrency", "2,x"], "'x' is not a number of requests"),
    (["--scenario", "server", "--rate", "-5"], "-5 is not a finite number >= 0"),
    (["--scenario", "server", "--latency-bound", "0"], "0 is not more than 0"),
    (["--scenario", "party"], "'party' is not one of"),
])
def test_options_that_do_not_fit_the_load_are_refused_in_one_line(invoke, tmp_path, options, message):
    shown = invoke("run", "ResNet18", *options, "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert shown.exit_code == 2, shown.output
    assert message in shown.stderr and "Traceback" not in shown.output
    assert not list(tmp_path.glob("*.json"))  # refused before any work


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openvino-cpu", "onnxruntime-cpu"])
def test_offline_and_server_runs_on_this_cpu(invoke, exported, tmp_path, backend):
    models_dir, _ = exported
    common = ["ResNet18", "--backend", backend, "--precision", "fp32", "--batch", "1", *FAST,
              "--models-dir", models_dir, "--engines-dir", tmp_path / "e"]
    offline = invoke("run", *common, "--scenario", "offline", "--concurrency", "1,2", "--results-dir", tmp_path / "o")
    assert offline.exit_code == 0, offline.output
    assert "Offline: the most images/s with every request available at once" in offline.stdout
    (record,) = json.loads(next((tmp_path / "o").glob("*.json")).read_text())["records"]
    assert record["scenario"] == "offline" and [p["concurrency"] for p in record["load"]["sweep"]] == [1, 2]
    assert record["throughput_ips"] == max(p["images_per_s"] for p in record["load"]["sweep"])
    assert record["load"]["how"] and record["load"]["requests"] in (1, 2)
    rate = record["throughput_qps"] / 2
    server = invoke("run", *common, "--scenario", "server", "--rate", f"{rate:.1f}", "--concurrency", "2",
                    "--results-dir", tmp_path / "s")
    assert server.exit_code == 0, server.output
    (record,) = json.loads(next((tmp_path / "s").glob("*.json")).read_text())["records"]
    assert record["scenario"] == f"server {float(f'{rate:.1f}'):g} qps" and record["load"]["achieved_qps"] > 0
    assert "Server: requests arriving at random" in server.stdout
