"""trtexec, NVIDIA's own benchmark, run on the same ONNX so both tools sit side by side in a report.

trtexec times itself; trtbench passes the same warm-up, duration and iteration policy and parses
its performance summary into the same record fields.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from trtbench.backends.base import Availability, Backend, Check, Engine
from trtbench.backends.tensorrt import EngineBuildConfig
from trtbench.errors import TrtbenchError
from trtbench.precision import Calibration, graph_for
from trtbench.timing import Latency, Timed, TimingPolicy
from trtbench.zoo import INPUT_SHAPE

# trtexec's summary lines and the span each becomes
SUMMARY_SPANS = {
    "GPU Compute Time": "compute",
    "H2D Latency": "h2d",
    "D2H Latency": "d2h",
    "Latency": "end_to_end",
    "Enqueue Time": "enqueue",
}
_STATS = re.compile(
    r"\[I\] (?P<name>GPU Compute Time|H2D Latency|D2H Latency|Latency|Enqueue Time): "
    r"min = (?P<min>[\d.eE+-]+) ms, max = (?P<max>[\d.eE+-]+) ms, mean = (?P<mean>[\d.eE+-]+) ms, "
    r"median = (?P<median>[\d.eE+-]+) ms(?P<rest>.*)$")
_PERCENTILE = re.compile(r"percentile\((?P<p>[\d.]+)%\) = (?P<v>[\d.eE+-]+) ms")
_THROUGHPUT = re.compile(r"\[I\] Throughput: (?P<qps>[\d.eE+-]+) qps")
_WALLTIME = re.compile(r"\[I\] Total Host Walltime: (?P<s>[\d.eE+-]+) s")
_QUERIES = re.compile(r"Timing trace has (?P<n>\d+) queries over (?P<s>[\d.eE+-]+) s")
_COV = re.compile(r"coefficient of variance = (?P<cov>[\d.]+)%")
_VERSION = re.compile(r"\[TensorRT v(?P<v>\d+)\]")


def parse_summary(text: str) -> Timed:
    """The performance summary of trtexec's output as a Timed (spans in trtbench's names)."""
    spans: dict[str, Latency] = {}
    for line in text.splitlines():
        match = _STATS.search(line)
        if not match:
            continue
        percentiles = {float(m["p"]): float(m["v"]) for m in _PERCENTILE.finditer(match["rest"])}
        median = float(match["median"])
        spans[SUMMARY_SPANS[match["name"]]] = Latency(
            mean=float(match["mean"]), median=median, min=float(match["min"]), max=float(match["max"]),
            p90=percentiles.get(90.0, median), p95=percentiles.get(95.0, median), p99=percentiles.get(99.0, median),
            stdev=None, count=0)
    if "compute" not in spans:
        raise TrtbenchError("trtexec printed no performance summary (no 'GPU Compute Time' line)")
    ordered = {span: spans[span] for span in TrtexecEngine.spans if span in spans}
    qps = _THROUGHPUT.search(text)
    queries = _QUERIES.search(text)
    wall = _WALLTIME.search(text)
    wall_s = float(queries["s"]) if queries else float(wall["s"]) if wall else 0.0
    throughput = float(qps["qps"]) if qps else None
    iterations = int(queries["n"]) if queries else round((throughput or 0) * wall_s)
    cov = _COV.search(text)
    if cov:  # trtexec prints the GPU compute time's coefficient of variation only when it is high
        compute = ordered["compute"]
        ordered["compute"] = Latency(**{**compute.__dict__, "stdev": float(cov["cov"]) / 100 * compute.mean})
    return Timed(spans=ordered, iterations=iterations, wall_s=wall_s, throughput_qps=throughput)


def tensorrt_version(text: str) -> str | None:
    """'10.13.3' from trtexec's '[TensorRT v101303]' banner."""
    match = _VERSION.search(text)
    if not match:
        return None
    number = int(match["v"])
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


class TrtexecEngine(Engine):
    """One trtexec invocation that builds and times (model, precision, batch)."""

    spans = ("compute", "h2d", "d2h", "end_to_end", "enqueue")

    def __init__(self, command: list[str], batch: int, info: dict, run=subprocess.run):
        super().__init__(batch, info=info)
        self.command = command
        self.run = run
        self.output = ""
        self.version: str | None = None
        self.full_command: list[str] = []

    def timed(self, policy: TimingPolicy, progress=None) -> Timed:
        command = self.command + [f"--warmUp={policy.warmup_ms:g}", f"--duration={policy.duration_s:g}",
                                  f"--iterations={policy.min_iterations}", "--percentile=90,95,99"]
        self.full_command = command
        done = self.run(command, capture_output=True, text=True)
        self.output = (done.stdout or "") + (done.stderr or "")
        self.version = tensorrt_version(self.output)
        if done.returncode != 0:
            failed = [line for line in self.output.splitlines() if "[E]" in line]
            detail = failed[-1].strip() if failed else f"exit status {done.returncode}"
            raise TrtbenchError(f"trtexec failed: {detail}")
        return parse_summary(self.output)

    def describe(self) -> dict:
        return {"timer": "trtexec's own (CUDA events)", "command": " ".join(self.full_command),
                "tensorrt": self.version, "percentile": "trtexec's nearest-rank percentiles",
                "data_transfers": "--noDataTransfers" not in self.command,
                "cuda_graph": "--useCudaGraph" in self.command,
                "note": "trtexec's defaults differ between majors (10.x: transfers timed, no CUDA graph; "
                        "11.x: transfers not timed, CUDA graph and spin-wait on)"}


class TrtexecBackend(Backend):
    """Runs `trtexec` from PATH. It times engines itself and cannot run inferences for trtbench."""

    name = "trtexec"
    metric = "GPU compute time (trtexec)"
    config_class = EngineBuildConfig
    can_infer = False
    config: EngineBuildConfig

    def __init__(self, config: EngineBuildConfig | None = None, calibration: Calibration | None = None,
                 executable: str | None = None):
        super().__init__(config, calibration)
        self.executable = executable or shutil.which("trtexec")

    @classmethod
    def checks(cls) -> list[Check]:
        found = shutil.which("trtexec")
        return [Check("trtexec", found or "", "trtexec backend",
                      "" if found else "install TensorRT (its bin/ holds trtexec) and add it to PATH")]

    def availability_impl(self) -> Availability:
        if not self.executable:
            return Availability(False, "trtexec is not on PATH",
                                "install TensorRT (its bin/ holds trtexec) and add it to PATH")
        return Availability(True, f"trtexec at {self.executable}")

    def device(self) -> str:
        from trtbench.gpu import gpu_name

        return gpu_name() or "NVIDIA GPU"

    def _executable(self) -> str:
        if not self.executable:
            self.require()
        assert self.executable is not None
        return self.executable

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        options = self.config
        executable = self._executable()
        typing = options.typing
        if typing == "auto":
            typing = "weak" if self._major() == 10 and precision != "int8" else "strong"
        graph = graph_for(Path(onnx_path), precision, self.calibration) if typing == "strong" \
            else Path(onnx_path)
        command = [executable, f"--onnx={graph}", f"--shapes=x:{batch}x{'x'.join(map(str, INPUT_SHAPE))}",
                   f"--builderOptimizationLevel={options.opt_level}"]
        if typing == "strong":
            command.append("--stronglyTyped")
        elif precision == "fp16":
            command.append("--fp16")
        if options.workspace_mib is not None:
            command.append(f"--memPoolSize=workspace:{options.workspace_mib}M")
        if options.timing_cache:
            # trtexec rewrites its cache itself: a file of its own, apart from trtbench's checked one
            command.append(f"--timingCacheFile={Path(cache_dir) / 'trtexec.timing.cache'}")
        if not options.data_transfers:
            command.append("--noDataTransfers")
        if options.cuda_graph:
            command.append("--useCudaGraph")
        return TrtexecEngine(command, batch, info={"typing": typing, "graph": str(graph)})

    def _major(self) -> int:
        done = subprocess.run([self._executable(), "--help"], capture_output=True, text=True, timeout=60)
        version = tensorrt_version((done.stdout or "") + (done.stderr or ""))
        return int(version.split(".")[0]) if version else 10
