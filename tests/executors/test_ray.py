"""Sweeps on a Ray cluster: a local cluster of this machine's CPUs and the ONNX Runtime CPU backend
measure the same cases as a serial run, one timing at a time per node; a worker killed mid-case is
retried once; the placement asks for a whole device; and without Ray, --ray names the extra."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from trtbench import backends
from trtbench.errors import TrtbenchError
from trtbench.executors import executor_from
from trtbench.executors.case import Case
from trtbench.executors.ray import Node, RayExecutor
from trtbench.measure.timing import TimingPolicy
from trtbench.session import Session, Workspace

FAST = TimingPolicy(warmup_ms=10, duration_s=0.3, min_iterations=3)
CPU_NODE = Node("a1" * 28, "host-a", 2, "AMD EPYC 7B13", ())
GPU_NODES = [Node("b2" * 28, "host-b", 16, "Intel Xeon", ("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB")),
             Node("c3" * 28, "host-c", 8, "Intel Xeon", ("NVIDIA L4",))]


class _Gpu:
    name, gpu = "gpu-thing", True


class _Cpu:
    name, gpu = "cpu-thing", False


def _cases(backend, batches=(1, 2)):
    return [(backend, Case("ResNet18", "fp32", b)) for b in batches]


# --- planning, without a cluster -------------------------------------------------------------------


def _executor(nodes, **kwargs):
    executor = RayExecutor(**kwargs)
    executor._nodes = nodes
    return executor


def test_per_device_type_runs_each_case_once_on_every_kind_of_device():
    executor = _executor([CPU_NODE, *GPU_NODES], per_device_type=True)
    gpu = executor.expand(_cases(_Gpu(), [1]))
    assert [case.device for _, case in gpu] == ["NVIDIA A100-SXM4-80GB", "NVIDIA L4"]
    cpu = executor.expand(_cases(_Cpu(), [1]))
    assert [case.device for _, case in cpu] == ["AMD EPYC 7B13", "Intel Xeon"]
    assert cpu[0][1].label() == "ResNet18 fp32 batch 1 on AMD EPYC 7B13"


def test_without_per_device_type_each_case_runs_once():
    executor = _executor([CPU_NODE, *GPU_NODES])
    expanded = executor.expand(_cases(_Gpu(), [1, 2, 4]))
    assert len(expanded) == 3 and {case.device for _, case in expanded} <= {"NVIDIA A100-SXM4-80GB", "NVIDIA L4"}


def test_devices_keeps_the_kinds_it_names_and_refuses_a_name_no_node_has():
    executor = _executor([CPU_NODE, *GPU_NODES], per_device_type=True, devices=("l4",))
    assert [case.device for _, case in executor.expand(_cases(_Gpu(), [1]))] == ["NVIDIA L4"]
    with pytest.raises(TrtbenchError, match=r"no node of the Ray cluster has a GPU named like H100 for gpu-thing "
                                            r"\(it has: NVIDIA A100-SXM4-80GB, NVIDIA L4\)"):
        _executor(GPU_NODES, devices=("H100",)).expand(_cases(_Gpu(), [1]))
    with pytest.raises(TrtbenchError, match="has a GPU for gpu-thing"):
        _executor([CPU_NODE]).expand(_cases(_Gpu(), [1]))


def test_a_gpu_case_takes_one_whole_gpu_and_a_cpu_case_every_cpu_of_its_node():
    executor = _executor([CPU_NODE, *GPU_NODES])
    node, options = executor.placement(_Gpu(), Case("ResNet18", "fp16", 1, device="NVIDIA L4"), 0)
    assert node.host == "host-c" and options["num_gpus"] == 1 and options["max_retries"] == 1
    assert options["scheduling_strategy"].node_id == "c3" * 28 and options["scheduling_strategy"].soft is False
    node, options = executor.placement(_Cpu(), Case("ResNet18", "fp32", 1, device="Intel Xeon"), 1)
    assert node.host == "host-c" and options["num_cpus"] == 8 and "num_gpus" not in options


def test_the_plan_remembers_the_cluster_for_resume():
    executor = RayExecutor("auto", True, ("A100",))
    again = executor_from(executor.describe())
    assert isinstance(again, RayExecutor) and again.describe() == executor.describe()
    assert executor_from(None).describe() == {"kind": "local"}
    with pytest.raises(TrtbenchError, match="unknown executor 'slurm'"):
        executor_from({"kind": "slurm"})


# --- a real local cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray cluster of this machine's CPUs, whose workers import the trtbench under test and
    keep what they receive in a node cache of the test's own; yields that cache."""
    import logging

    import ray

    from trtbench.executors.ray import local_worker_env

    node_cache = tmp_path_factory.mktemp("node")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {**local_worker_env(), "TRTBENCH_LOCK_DIR": os.environ["TRTBENCH_LOCK_DIR"],
                                       "TRTBENCH_NODE_CACHE": str(node_cache)}})
    yield node_cache
    ray.shutdown()


def _session(tmp_path, models_dir, executor=None, name="serial"):
    backend = backends.backend_class("onnxruntime-cpu")
    assert backend.name == "onnxruntime-cpu"
    return Session(Workspace(models_dir, tmp_path / name / "engines", tmp_path / name / "results"), "onnxruntime-cpu",
                   {"threads": 1}, precisions=["fp32", "int8"], executor=executor)


def _summary(records):
    return sorted((r.model, r.backend, r.precision, r.batch, r.status, r.device) for r in records)


@pytest.mark.slow
def test_a_ray_sweep_measures_what_a_serial_one_does(cluster, exported, tmp_path):
    models_dir, _ = exported
    serial = _session(tmp_path, models_dir).run(["ResNet18"], [1, 2], FAST)
    on_ray = _session(tmp_path, models_dir, RayExecutor(), "ray").run(["ResNet18"], [1, 2], FAST)
    assert _summary(on_ray.records) == _summary(serial.records) and len(on_ray.records) == 4
    for record in on_ray.records:
        assert record.ok and record.node and record.environment["host"]["cpu"] and record.environment["versions"]
        assert record.engine and record.method["timer"] and record.precision_executed
    # every timing on the node had the node to itself
    windows = sorted(r.timed_between for r in on_ray.records)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(windows))
    # the graphs came through the object store, checked, into the node's own cache
    received = {p.name for p in (cluster / "graphs").rglob("*.onnx")}
    assert {"ResNet18.onnx", "ResNet18.int8-ort.onnx"} <= received


def _kill_measuring_workers(times: int, stop: threading.Event) -> list[int]:
    """SIGKILL the worker running a case (its process title is ray::measure_case), ``times`` times."""
    killed: list[int] = []
    while len(killed) < times and not stop.is_set():
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) in killed:
                continue
            try:
                title = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::measure_case"):
                time.sleep(0.5)  # mid-case: exporting the graphs in, building or timing
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed.append(int(proc.name))
                break
        time.sleep(0.02)
    return killed


@pytest.mark.slow
@pytest.mark.parametrize("kills, status", [(1, "ok"), (2, "failed")])
def test_a_worker_killed_mid_case_is_retried_once(cluster, exported, tmp_path, kills, status):
    models_dir, _ = exported
    session = Session(Workspace(models_dir, tmp_path / "e", tmp_path / "r"), "onnxruntime-cpu", {"threads": 1},
                      precisions=["fp32"], executor=RayExecutor())
    stop = threading.Event()
    killed: list[int] = []
    killer = threading.Thread(target=lambda: killed.extend(_kill_measuring_workers(kills, stop)))
    killer.start()
    try:
        outcome = session.run(["ResNet18"], [1], TimingPolicy(warmup_ms=10, duration_s=2, min_iterations=3))
    finally:
        stop.set()
        killer.join()
    (record,) = outcome.records
    assert len(killed) == kills and record.status == status
    if status == "failed":
        assert record.error.startswith(f"lost on node {record.node} (")
        assert "retried once by Ray and lost again" in record.error


def test_without_ray_the_option_names_the_extra(invoke, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    result = invoke("run", "ResNet18", "--ray", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert result.exit_code == 3
    assert result.stderr.strip() == ("error: ray is not available (needed by --ray); install it with: "
                                     "pip install 'trtbench[ray]'")


def test_the_cluster_options_need_ray(invoke, tmp_path):
    result = invoke("run", "ResNet18", "--per-device-type", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert result.exit_code == 2 and "add --ray" in result.stderr.strip().splitlines()[-1]


def test_a_graph_that_arrives_damaged_is_refused(tmp_path):
    import hashlib

    from trtbench.executors.ray import _arrive

    class Store:
        def get(self, ref):
            return ref

    good = b"graph bytes"
    target = tmp_path / "ResNet18.onnx"
    with pytest.raises(TrtbenchError, match="ResNet18.onnx arrived damaged on node"):
        _arrive(target, hashlib.sha256(b"what the driver sent").hexdigest(), good, Store())
    assert not target.exists()
    _arrive(target, hashlib.sha256(good).hexdigest(), good, Store())
    assert target.read_bytes() == good


@pytest.mark.slow
def test_a_ray_sweep_stopped_midway_resumes_on_the_cluster(cluster, exported, tmp_path):
    from trtbench.events import CaseFinished
    from trtbench.store.results import load_run

    models_dir, _ = exported
    workspace = Workspace(models_dir, tmp_path / "e", tmp_path / "r")

    def stop_after_the_first(event):
        if isinstance(event, CaseFinished):
            raise KeyboardInterrupt

    session = Session(workspace, "onnxruntime-cpu", {"threads": 1}, precisions=["fp32"], executor=RayExecutor(),
                      reporter=stop_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        session.run(["ResNet18"], [1, 2, 4], FAST)
    (run_path,) = workspace.results.glob("*.json")
    stopped = load_run(run_path)
    assert stopped.status == "interrupted" and len(stopped.records) == 1
    assert stopped.plan["executor"] == {"kind": "ray", "address": None, "per_device_type": False, "devices": []}

    resumed, run_file = Session.resuming(workspace.results, None)
    assert isinstance(resumed.executor, RayExecutor)
    resumed.run(["ResNet18"], [1, 2, 4], FAST, resume=run_file)
    run = load_run(run_path)
    assert run.status == "complete" and sorted(r.batch for r in run.records) == [1, 2, 4]
    assert all(r.ok and r.node for r in run.records)


@pytest.mark.slow
def test_each_node_says_what_it_cannot_run(cluster, exported, tmp_path):
    """On a cluster a named backend is checked where it runs: this CPU has no FP16 arithmetic, so the
    node records why instead of running FP16 as something else."""
    from trtbench.measure.cpu import native_fp16

    if native_fp16():
        pytest.skip("this CPU runs FP16 natively")
    models_dir, _ = exported
    session = Session(Workspace(models_dir, tmp_path / "e", tmp_path / "r"), "openvino-cpu", {"threads": 1},
                      precisions=["native"], executor=RayExecutor())
    assert "fp16" in session.precisions  # declared by the backend; each node answers for itself
    outcome = session.run(["ResNet18"], [1], FAST)
    by_precision = {r.precision: r for r in outcome.records}
    assert by_precision["fp32"].ok
    assert by_precision["fp16"].status == "failed"
    assert by_precision["fp16"].error.startswith("openvino-cpu does not run fp16 natively on node ")
    with pytest.raises(TrtbenchError, match=r"no node of the Ray cluster has a GPU for tensorrt \(it has: none\)"):
        Session(Workspace(models_dir, tmp_path / "e", tmp_path / "r2"), "tensorrt", precisions=["fp16"],
                executor=RayExecutor()).run(["ResNet18"], [1], FAST)


@pytest.mark.slow
def test_run_ray_from_the_command_line(cluster, invoke, exported, tmp_path):
    import json

    models_dir, _ = exported
    common = ("--backend", "onnxruntime-cpu", "--precision", "fp32", "--batch", "1", "--threads", "1",
              "--warmup-ms", "10", "--duration", "0.2", "--models-dir", models_dir, "--results-dir", tmp_path / "r",
              "--engines-dir", tmp_path / "e")
    result = invoke("run", "ResNet18", "--ray", "--per-device-type", *common)
    assert result.exit_code == 0, result.output
    (run_path,) = (tmp_path / "r").glob("*.json")
    run = json.loads(run_path.read_text())
    (record,) = run["records"]
    assert record["node"] and record["status"] == "ok" and run["plan"]["executor"]["per_device_type"] is True
    assert run["plan"]["cases"][0][4] == record["device"]  # the kind of device it was planned for
    missing = invoke("run", "ResNet18", "--ray", "--devices", "H100", *common)
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines()[-1].startswith(
        "error: no node of the Ray cluster has a CPU named like H100 for onnxruntime-cpu (it has: ")


def test_an_export_that_is_not_the_planned_one_is_not_sent_to_the_cluster(tmp_path):
    """The driver ships each export once, hashed as sent: one that is not the run's planned export is
    refused for its cases (failed records naming the change), and no task is submitted for them."""
    import contextlib
    import hashlib

    from trtbench.backends.base import Backend
    from trtbench.executors import Sweep

    class FakeRay:
        def __init__(self):
            self.put_bytes = []

        def put(self, data):
            self.put_bytes.append(data)
            return len(self.put_bytes)

        def remote(self, function):
            return self

        def options(self, **options):
            raise AssertionError("no task may be submitted for a refused case")

    export = tmp_path / "ResNet18.onnx"
    export.write_bytes(b"ResNet18 exported again after the run began")
    records = []
    work = [(Backend(), Case("ResNet18", "fp32", b, device="AMD EPYC 7B13")) for b in (1, 2)]

    def sweep(planned):
        return Sweep(work, {"ResNet18": export}, tmp_path, FAST, None, lambda b: contextlib.nullcontext(),
                     lambda *a: None, lambda *a: None, lambda b, c, record: records.append(record),
                     exports={"ResNet18": planned})

    ray = FakeRay()
    executor = _executor([CPU_NODE])
    executor._run(ray, sweep(hashlib.sha256(b"ResNet18 as planned").hexdigest()))
    assert [(r.batch, r.status, r.node) for r in records] == [(1, "failed", "host-a"), (2, "failed", "host-a")]
    assert records[0].error.startswith(f"ResNet18's export {export} changed (sha256 ")
    sent = hashlib.sha256(export.read_bytes()).hexdigest()
    shipped = executor._ship(FakeRay(), sweep(sent))
    assert shipped[("base", "ResNet18", "fp32")] == [("ResNet18.onnx", sent, 1)]


# --- reaching a cluster ----------------------------------------------------------------------------


def _run_on(invoke, tmp_path, address, *more):
    return invoke("run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32", "--batch", "1",
                  "--ray", address, *more, "--models-dir", tmp_path / "m", "--results-dir", tmp_path / "r")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_address_nothing_listens_on_is_one_line_naming_it(invoke, tmp_path):
    port = _closed_port()
    started = time.monotonic()
    result = _run_on(invoke, tmp_path, f"127.0.0.1:{port}", "--ray-timeout", "2")
    assert time.monotonic() - started < 2
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.strip() == (f"error: cannot connect to the Ray cluster at 127.0.0.1:{port}: connection "
                                     "refused (no Ray cluster listens on that port); check the address, or start "
                                     "one there with `ray start --head`")
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()  # refused before any work


def test_a_host_that_does_not_exist_is_one_line_naming_it(invoke, tmp_path, monkeypatch):
    import socket

    looked_up = []

    def getaddrinfo(host, *args, **kwargs):  # as the resolver answers for a name under .invalid
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = _run_on(invoke, tmp_path, "nosuchhost.invalid:6379")
    assert looked_up == ["nosuchhost.invalid"] and result.exit_code == 1
    assert result.stderr.strip() == ("error: cannot connect to the Ray cluster at nosuchhost.invalid:6379: no such "
                                     "host (nosuchhost.invalid); check the address, or start one there with "
                                     "`ray start --head`")


def test_a_lookup_that_never_answers_ends_within_the_bound(tmp_path, monkeypatch):
    import socket

    from trtbench.executors.ray import check_answers

    never = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: never.wait())
    started = time.monotonic()
    try:
        with pytest.raises(TrtbenchError, match=r"^cannot connect to the Ray cluster at slow.example:6379: looking "
                                                r"up slow.example timed out after 0.3 s;"):
            check_answers("slow.example:6379", 0.3)
    finally:
        never.set()
    assert time.monotonic() - started < 1


def test_a_port_that_accepts_and_never_answers_ends_within_the_bound(invoke, tmp_path):
    import socket

    with socket.socket() as silent:  # listens, so the kernel accepts, and never reads or writes
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = _run_on(invoke, tmp_path, f"127.0.0.1:{port}", "--ray-timeout", "0.5")
        assert time.monotonic() - started < 2
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: cannot connect to the Ray cluster at 127.0.0.1:{port}: the port "
                                    "accepted the connection but nothing answered within 0.5 s")


def test_a_port_that_answers_but_is_not_ray_is_one_line(tmp_path):
    import socket

    from trtbench.executors.ray import check_answers

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def answer_as_a_web_server():
            conn, _ = server.accept()
            with conn:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        web = threading.Thread(target=answer_as_a_web_server)
        web.start()
        with pytest.raises(TrtbenchError, match="something answered there, but not as a Ray cluster does"):
            check_answers(f"127.0.0.1:{port}", 5)
        web.join()


@pytest.mark.parametrize("address", ["nosuchhost", "host:port", "host:70000", ":6379"])
def test_an_address_that_is_not_host_port_is_a_usage_error(invoke, tmp_path, address):
    result = _run_on(invoke, tmp_path, address)
    assert result.exit_code == 2
    assert f"Invalid value for --ray: the Ray address '{address}' is not HOST:PORT" in result.stderr


def test_ray_with_no_value_or_local_starts_a_local_cluster(invoke):
    from trtbench.cli.run import _executor
    from trtbench.executors.ray import split_address

    for given in ("", "local", "LOCAL", "none"):
        executor = _executor(given, False, None)
        assert executor.address is None and executor.describe()["address"] is None
    assert _executor("auto", False, None).address == "auto"
    assert split_address("ray://10.0.0.5:10001") == ("10.0.0.5", 10001)
    assert split_address("[::1]:6379") == ("::1", 6379)
    help_text = " ".join(invoke("run", "--help").output.split())
    assert "with no value or `local`, a local cluster of this machine" in help_text
    assert "--ray-timeout SECONDS" in help_text and "(default 30)" in help_text


def test_the_timeout_travels_with_the_plan_and_needs_ray(invoke, tmp_path):
    executor = RayExecutor("10.0.0.5:6379", timeout=5)
    assert executor_from(executor.describe()).timeout == 5
    assert executor_from({"kind": "ray", "address": "10.0.0.5:6379"}).timeout == 30
    result = invoke("run", "ResNet18", "--ray-timeout", "5", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert result.exit_code == 2 and "add --ray" in result.stderr.strip().splitlines()[-1]
    zero = _run_on(invoke, tmp_path, "10.0.0.5:6379", "--ray-timeout", "0")
    assert zero.exit_code == 2 and "--ray-timeout" in zero.stderr


@pytest.mark.slow
def test_a_real_cluster_answers_the_check(cluster):
    import ray

    from trtbench.executors.ray import check_answers

    check_answers(ray.get_runtime_context().gcs_address, 5)


def _ours(tag: str) -> list[int]:
    """The processes whose environment holds ``tag`` (every process Ray starts for the run inherits it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if tag.encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return found


def _titles(pids: list[int]) -> list[str]:
    """Each process's command line (a Ray process's title, once it has set one)."""
    titles = []
    for pid in pids:
        try:
            titles.append(b" ".join(Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0"))
                          .decode(errors="replace"))
        except OSError:
            continue
    return titles


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["gcs/gcs_server", "dashboard/agent.py"])
def test_ctrl_c_while_a_local_cluster_starts_ends_with_130_and_leaves_no_ray_process(exported, tmp_path, moment):
    """Ctrl-C at the terminal reaches the whole foreground group (trtbench and the Ray processes it
    started) at an early and a late moment of the local cluster's start-up."""
    import shutil
    import subprocess
    import sys
    import tempfile

    models_dir, _ = exported
    ray_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    tag = f"RAY_TMPDIR={ray_dir}"
    assert _ours(tag) == []
    process = subprocess.Popen(
        [sys.executable, "-m", "trtbench", "run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32",
         "--batch", "1", "--threads", "1", "--warmup-ms", "10", "--duration", "0.2", "--ray",
         "--models-dir", str(models_dir), "--results-dir", str(tmp_path / "r"), "--engines-dir", str(tmp_path / "e")],
        env={**os.environ, "RAY_TMPDIR": ray_dir}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(moment in title or moment == "dashboard/agent.py" and "DashboardAgent" in title
                   for title in _titles(_ours(tag))):
                os.killpg(process.pid, signal.SIGINT)
                break
            time.sleep(0.01)
        _, stderr = process.communicate(timeout=120)
        left = _ours(tag)
        settle = time.monotonic() + 10  # a process killed as the run ended may take a moment to go
        while left and time.monotonic() < settle:
            time.sleep(0.1)
            left = _ours(tag)
        assert process.returncode == 130, stderr.decode(errors="replace")[-2000:]
        assert stderr.decode().strip().splitlines()[-1] == (
            "error: interrupted; finished results and artifacts are kept")
        assert left == [], _titles(left)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in _ours(tag):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_dir, ignore_errors=True)


def _ctrl_c():
    """Ctrl-C as Python sees it: the SIGINT handler in place is called (the slow test above sends real ones)."""
    signal.getsignal(signal.SIGINT)(signal.SIGINT, None)


class _RayStartingAndStopping:
    """Ray's init and shutdown as far as the executor sees them; Ctrl-C comes in the middle of ``when``."""

    def __init__(self, when: str):
        self.when, self.calls, self.running = when, [], False

    def is_initialized(self):
        return self.running

    def init(self, **options):
        if self.when == "init":
            _ctrl_c()
        self.calls.append("init finished")
        self.running = True

    def shutdown(self):
        if self.when == "shutdown":
            _ctrl_c()
        self.calls.append("shutdown finished")
        self.running = False


@pytest.mark.parametrize("when", ["init", "shutdown"])
def test_ctrl_c_while_ray_starts_or_stops_lets_it_finish_then_stops_the_cluster(monkeypatch, when):
    import sys

    fake = _RayStartingAndStopping(when)
    monkeypatch.setitem(sys.modules, "ray", fake)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    executor = RayExecutor()
    if when == "init":
        with pytest.raises(KeyboardInterrupt):
            executor.connect()
    else:
        executor.connect()
        with pytest.raises(KeyboardInterrupt):
            executor.close()
    assert fake.calls == ["init finished", "shutdown finished"] and not fake.running and not executor._started
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
