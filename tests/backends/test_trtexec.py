"""The trtexec backend without trtexec: the flags it passes each major, its refusals, how it learns
the major, and trtexec's output (in the format samples/common prints it) read line by line."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.blocking import finishes
from tests.fakes.cuda import FakeCuda
from trtbench.backends import trtexec
from trtbench.backends.tensorrt import EngineBuildConfig
from trtbench.backends.trtexec import TrtexecBackend, parse_summary, tensorrt_version, trtexec_mode
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, run_case
from trtbench.measure.timing import TimingPolicy

SUMMARY = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx
[11/29/2026-10:00:00] [I] === Trace details ===
[11/29/2026-10:00:00] [I] Timing trace has 2000 queries over 3.00211 s
[11/29/2026-10:00:00] [I] === Performance summary ===
[11/29/2026-10:00:00] [I] Throughput: 666.198 qps
[11/29/2026-10:00:00] [I] Latency: min = 1.62 ms, max = 2.5 ms, mean = 1.70 ms, median = 1.68 ms, percentile(90%) = 1.75 ms, percentile(95%) = 1.8 ms, percentile(99%) = 2.1 ms
[11/29/2026-10:00:00] [I] Enqueue Time: min = 0.2 ms, max = 0.5 ms, mean = 0.25 ms, median = 0.24 ms, percentile(90%) = 0.3 ms, percentile(95%) = 0.31 ms, percentile(99%) = 0.4 ms
[11/29/2026-10:00:00] [I] H2D Latency: min = 0.08 ms, max = 0.12 ms, mean = 0.09 ms, median = 0.09 ms, percentile(90%) = 0.1 ms, percentile(95%) = 0.11 ms, percentile(99%) = 0.12 ms
[11/29/2026-10:00:00] [I] GPU Compute Time: min = 1.5 ms, max = 2.3 ms, mean = 1.56 ms, median = 1.55 ms, percentile(90%) = 1.6 ms, percentile(95%) = 1.65 ms, percentile(99%) = 1.9 ms
[11/29/2026-10:00:00] [I] D2H Latency: min = 0.004 ms, max = 0.01 ms, mean = 0.005 ms, median = 0.005 ms, percentile(90%) = 0.006 ms, percentile(95%) = 0.007 ms, percentile(99%) = 0.009 ms
[11/29/2026-10:00:00] [I] Total Host Walltime: 3.00211 s
[11/29/2026-10:00:00] [I] Total GPU Compute Time: 3.12 s
[11/29/2026-10:00:00] [W] * GPU compute time is unstable, with coefficient of variance = 4.5%.
[11/29/2026-10:00:00] [I] Explanations of the performance metrics are printed in the verbose logs.
&&&& PASSED TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx
"""

# `trtexec --help`: the banner line, then the help text (abridged)
HELP_10 = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # /opt/tensorrt/bin/trtexec --help
=== Model Options ===
  --onnx=<file>               ONNX model
=== Inference Options ===
  --noDataTransfers           Disable DMA transfers to and from device (default = enabled).
  --useSpinWait               Actively synchronize on GPU events. This option may decrease synchronization time but increase CPU usage and power (default = disabled)
  --useCudaGraph              Use CUDA graph to capture engine execution and then launch inference (default = disabled).
"""
HELP_11 = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # /opt/tensorrt/bin/trtexec --help
=== Model Options ===
  --onnx=<file>               ONNX model
=== Inference Options ===
  --includeDataTransfers      Enable DMA transfers to and from device (default = disabled).
  --noDataTransfers           [Deprecated] DMA transfers are now disabled by default. This flag is a no-op.
  --noSpinWait                Disable spin wait and use blocking synchronization instead.
  --noCudaGraph               Disable CUDA graph capture and launch (default = CUDA graph enabled).
"""
HELPS = {10: HELP_10, 11: HELP_11}

# A run as trtexec 10.13 prints it: options echoed, build, inference, trace, summary (abridged where marked)
RUN_10 = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx --shapes=x:8x3x224x224
[11/29/2026-10:00:00] [I] === Model Options ===
[11/29/2026-10:00:00] [I] Format: ONNX
[11/29/2026-10:00:00] [I] Model: models/ResNet50.onnx
[11/29/2026-10:00:00] [I] Output:
[11/29/2026-10:00:00] [I] === Build Options ===
[11/29/2026-10:00:00] [I] Memory Pools: workspace: default, dlaSRAM: default, dlaLocalDRAM: default, dlaGlobalDRAM: default, tacticSharedMem: default
[11/29/2026-10:00:00] [I] avgTiming: 8
[11/29/2026-10:00:00] [I] Precision: {precision}
[11/29/2026-10:00:00] [I] === Inference Options ===
[11/29/2026-10:00:00] [I] Batch: Explicit
[11/29/2026-10:00:00] [I] Input inference shape : x=8x3x224x224
[11/29/2026-10:00:00] [I] Iterations: 10
[11/29/2026-10:00:00] [I] Duration: 3s (+ 200ms warm up)
[11/29/2026-10:00:00] [I] Sleep time: 0ms
[11/29/2026-10:00:00] [I] Idle time: 0ms
[11/29/2026-10:00:00] [I] Inference Streams: 1
[11/29/2026-10:00:00] [I] ExposeDMA: {expose_dma}
[11/29/2026-10:00:00] [I] Data transfers: {data_transfers}
[11/29/2026-10:00:00] [I] Spin-wait: {spin_wait}
[11/29/2026-10:00:00] [I] Multithreading: Disabled
[11/29/2026-10:00:00] [I] CUDA Graph: {cuda_graph}
[11/29/2026-10:00:00] [I] Separate profiling: Disabled
[11/29/2026-10:00:00] [I] Time Deserialize: Disabled
[11/29/2026-10:00:00] [I] Time Refit: Disabled
[11/29/2026-10:00:00] [I]
{device_lines}[11/29/2026-10:00:00] [I] TensorRT version: 10.13.3
[11/29/2026-10:00:00] [I] Start parsing network model.
[11/29/2026-10:00:00] [I] Finished parsing network model. Parse time: 0.0969
[11/29/2026-10:00:25] [I] Engine built in 25.1 sec.
[11/29/2026-10:00:25] [I] Created engine with size: 98.4521 MiB
[11/29/2026-10:00:25] [I] [TRT] Loaded engine size: 98 MiB
[11/29/2026-10:00:25] [I] Engine deserialized in 0.0523104 sec.
[11/29/2026-10:00:25] [I] [TRT] [MemUsageChange] TensorRT-managed allocation in IExecutionContext creation: CPU +0, GPU +25, now: CPU 0, GPU 123 (MiB)
[11/29/2026-10:00:25] [I] Setting persistentCacheLimit to 0 bytes.
[11/29/2026-10:00:25] [I] Created execution context with device memory size: 24.5 MiB
[11/29/2026-10:00:25] [I] Using random values for input x
[11/29/2026-10:00:25] [I] Input binding for x with dimensions 8x3x224x224 is created.
[11/29/2026-10:00:25] [I] Output binding for softmax_0.tmp_0 with dimensions 8x1000 is created.
{graph_lines}[11/29/2026-10:00:25] [I] Starting inference
[11/29/2026-10:00:28] [I] Warmup completed 122 queries over 200 ms
[11/29/2026-10:00:28] [I] Timing trace has 2000 queries over 3.00211 s
[11/29/2026-10:00:28] [I]
[11/29/2026-10:00:28] [I] === Trace details ===
[11/29/2026-10:00:28] [I] Trace averages of 10 runs:
[11/29/2026-10:00:28] [I] Average on 10 runs - GPU latency: 1.5512 ms - Host latency: 1.6981 ms (enqueue 0.2461 ms)
[11/29/2026-10:00:28] [I] Average on 10 runs - GPU latency: 1.5493 ms - Host latency: 1.6958 ms (enqueue 0.2437 ms)
[11/29/2026-10:00:28] [I]
[11/29/2026-10:00:28] [I] === Performance summary ===
[11/29/2026-10:00:28] [I] Throughput: 666.198 qps
[11/29/2026-10:00:28] [I] Latency: min = 1.62 ms, max = 2.5 ms, mean = 1.70 ms, median = 1.68 ms, percentile(90%) = 1.75 ms, percentile(95%) = 1.8 ms, percentile(99%) = 2.1 ms
[11/29/2026-10:00:28] [I] Enqueue Time: min = 0.2 ms, max = 0.5 ms, mean = 0.25 ms, median = 0.24 ms, percentile(90%) = 0.3 ms, percentile(95%) = 0.31 ms, percentile(99%) = 0.4 ms
[11/29/2026-10:00:28] [I] H2D Latency: min = 0.08 ms, max = 0.12 ms, mean = 0.09 ms, median = 0.09 ms, percentile(90%) = 0.1 ms, percentile(95%) = 0.11 ms, percentile(99%) = 0.12 ms
[11/29/2026-10:00:28] [I] GPU Compute Time: min = 1.5 ms, max = 2.3 ms, mean = 1.56 ms, median = 1.55 ms, percentile(90%) = 1.6 ms, percentile(95%) = 1.65 ms, percentile(99%) = 1.9 ms
[11/29/2026-10:00:28] [I] D2H Latency: min = 0.004 ms, max = 0.01 ms, mean = 0.005 ms, median = 0.005 ms, percentile(90%) = 0.006 ms, percentile(95%) = 0.007 ms, percentile(99%) = 0.009 ms
[11/29/2026-10:00:28] [I] Total Host Walltime: 3.00211 s
[11/29/2026-10:00:28] [I] Total GPU Compute Time: 3.12 s
[11/29/2026-10:00:28] [I] Explanations of the performance metrics are printed in the verbose logs.
[11/29/2026-10:00:28] [I]
&&&& PASSED TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx --shapes=x:8x3x224x224
"""

# The same as trtexec 11.1 prints it: no "Separate profiling" line; by default no transfers, so H2D/D2H are 0
RUN_11 = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=models/ResNet50.fp16.onnx --shapes=x:8x3x224x224
[11/29/2026-10:00:00] [I] === Model Options ===
[11/29/2026-10:00:00] [I] Format: ONNX
[11/29/2026-10:00:00] [I] Model: models/ResNet50.fp16.onnx
[11/29/2026-10:00:00] [I] Output:
[11/29/2026-10:00:00] [I] === Build Options ===
[11/29/2026-10:00:00] [I] Memory Pools: workspace: default, dlaSRAM: default, dlaLocalDRAM: default, dlaGlobalDRAM: default, tacticSharedMem: default
[11/29/2026-10:00:00] [I] avgTiming: 8
[11/29/2026-10:00:00] [I] Precision: {precision}
[11/29/2026-10:00:00] [I] === Inference Options ===
[11/29/2026-10:00:00] [I] Batch: Explicit
[11/29/2026-10:00:00] [I] Input inference shape : x=8x3x224x224
[11/29/2026-10:00:00] [I] Iterations: 10
[11/29/2026-10:00:00] [I] Duration: 3s (+ 200ms warm up)
[11/29/2026-10:00:00] [I] Sleep time: 0ms
[11/29/2026-10:00:00] [I] Idle time: 0ms
[11/29/2026-10:00:00] [I] Inference Streams: 1
[11/29/2026-10:00:00] [I] ExposeDMA: {expose_dma}
[11/29/2026-10:00:00] [I] Data transfers: {data_transfers}
[11/29/2026-10:00:00] [I] Spin-wait: {spin_wait}
[11/29/2026-10:00:00] [I] Multithreading: Disabled
[11/29/2026-10:00:00] [I] CUDA Graph: {cuda_graph}
[11/29/2026-10:00:00] [I] Time Deserialize: Disabled
[11/29/2026-10:00:00] [I] Time Refit: Disabled
[11/29/2026-10:00:00] [I]
{device_lines}[11/29/2026-10:00:00] [I] TensorRT version: 11.1.0
[11/29/2026-10:00:00] [I] Start parsing network model.
[11/29/2026-10:00:00] [I] Finished parsing network model. Parse time: 0.0712
[11/29/2026-10:00:19] [I] Engine built in 18.7 sec.
[11/29/2026-10:00:19] [I] Created engine with size: 49.3172 MiB
[11/29/2026-10:00:19] [I] [TRT] Loaded engine size: 49 MiB
[11/29/2026-10:00:19] [I] Engine deserialized in 0.0311 sec.
[11/29/2026-10:00:19] [I] Created execution context with device memory size: 12.3 MiB
[11/29/2026-10:00:19] [I] Using random values for input x
[11/29/2026-10:00:19] [I] Input binding for x with dimensions 8x3x224x224 is created.
[11/29/2026-10:00:19] [I] Output binding for softmax_0.tmp_0 with dimensions 8x1000 is created.
{graph_lines}[11/29/2026-10:00:19] [I] Starting inference
[11/29/2026-10:00:22] [I] Warmup completed 301 queries over 200 ms
[11/29/2026-10:00:22] [I] Timing trace has 4521 queries over 3.00034 s
[11/29/2026-10:00:22] [I]
[11/29/2026-10:00:22] [I] === Trace details ===
[11/29/2026-10:00:22] [I] Trace averages of 10 runs:
[11/29/2026-10:00:22] [I] Average on 10 runs - GPU latency: 0.6611 ms - Host latency: 0.6611 ms (enqueue 0.0094 ms)
[11/29/2026-10:00:22] [I]
[11/29/2026-10:00:22] [I] === Performance summary ===
[11/29/2026-10:00:22] [I] Throughput: 1506.83 qps
[11/29/2026-10:00:22] [I] Latency: min = 0.652 ms, max = 0.701 ms, mean = 0.6615 ms, median = 0.6609 ms, percentile(90%) = 0.6641 ms, percentile(95%) = 0.666 ms, percentile(99%) = 0.6742 ms
[11/29/2026-10:00:22] [I] Enqueue Time: min = 0.0071 ms, max = 0.0402 ms, mean = 0.0093 ms, median = 0.0091 ms, percentile(90%) = 0.0102 ms, percentile(95%) = 0.0109 ms, percentile(99%) = 0.0161 ms
[11/29/2026-10:00:22] [I] H2D Latency: min = 0 ms, max = 0 ms, mean = 0 ms, median = 0 ms, percentile(90%) = 0 ms, percentile(95%) = 0 ms, percentile(99%) = 0 ms
[11/29/2026-10:00:22] [I] GPU Compute Time: min = 0.652 ms, max = 0.701 ms, mean = 0.6615 ms, median = 0.6609 ms, percentile(90%) = 0.6641 ms, percentile(95%) = 0.666 ms, percentile(99%) = 0.6742 ms
[11/29/2026-10:00:22] [I] D2H Latency: min = 0 ms, max = 0 ms, mean = 0 ms, median = 0 ms, percentile(90%) = 0 ms, percentile(95%) = 0 ms, percentile(99%) = 0 ms
[11/29/2026-10:00:22] [I] Total Host Walltime: 3.00034 s
[11/29/2026-10:00:22] [I] Total GPU Compute Time: 2.99064 s
[11/29/2026-10:00:22] [I] Explanations of the performance metrics are printed in the verbose logs.
[11/29/2026-10:00:22] [I]
&&&& PASSED TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=models/ResNet50.fp16.onnx --shapes=x:8x3x224x224
"""
RUNS = {10: RUN_10, 11: RUN_11}
# samples/common/sampleDevice.cpp setCudaDevice, on the GPU the CUDA double names (FakeCuda's defaults)
DEVICE_LINES = """\
[11/29/2026-10:00:00] [I] === Device Information ===
[11/29/2026-10:00:00] [I] Available Devices:
[11/29/2026-10:00:00] [I]   Device 0: "{name}" UUID: GPU-5e2b7c1a-0d4f-4e1b-9a63-2f8d1c7e9b40
[11/29/2026-10:00:00] [I] Selected Device: {name}
[11/29/2026-10:00:00] [I] Selected Device ID: 0
[11/29/2026-10:00:00] [I] Selected Device UUID: GPU-5e2b7c1a-0d4f-4e1b-9a63-2f8d1c7e9b40
[11/29/2026-10:00:00] [I] Compute Capability: {cc}
[11/29/2026-10:00:00] [I] SMs: {sms}
[11/29/2026-10:00:00] [I] Device Global Memory: 81559 MiB
[11/29/2026-10:00:00] [I] Shared Memory per SM: 228 KiB
[11/29/2026-10:00:00] [I] Memory Bus Width: 5120 bits (ECC enabled)
[11/29/2026-10:00:00] [I] Application Compute Clock Rate: 1.98 GHz
[11/29/2026-10:00:00] [I] Application Memory Clock Rate: 2.619 GHz
[11/29/2026-10:00:00] [I]
[11/29/2026-10:00:00] [I] Note: The application clock rates do not reflect the actual clock rates that the GPU is currently running at.
[11/29/2026-10:00:00] [I]
"""
GRAPH_CAPTURED = """\
[11/29/2026-10:00:19] [I] Capturing CUDA graph for the current execution context
[11/29/2026-10:00:19] [I] Successfully captured CUDA graph for the current execution context.
"""
# 10.x's words; 11.x's second line reads "CUDA graph capture failed. The inference will be launched without using CUDA graph."
GRAPH_FAILED = """\
[11/29/2026-10:00:19] [I] Capturing CUDA graph for the current execution context
[11/29/2026-10:00:19] [W] The built TensorRT engine contains operations that are not permitted under CUDA graph capture mode.
[11/29/2026-10:00:19] [W] The specified --useCudaGraph flag has been ignored. The inference will be launched without using CUDA graph launch.
"""


def run_log(major, typing="weak", precision="fp32", inflight=2, data_transfers=True, spin_wait=True,
            cuda_graph=False, graph_lines=None, gpu=("Fake GPU 80GB", "9.0", 132)):
    """A trtexec run's output whose echoed options are the given ones, on ``gpu`` (name, compute
    capability, SMs; None: no device information)."""
    def enabled(on):
        return "Enabled" if on else "Disabled"

    shown = "Strongly Typed" if typing == "strong" else "FP32+FP16" if precision == "fp16" else "FP32"
    if graph_lines is None:
        graph_lines = GRAPH_CAPTURED if cuda_graph else ""
    return RUNS[major].format(precision=shown, expose_dma=enabled(inflight == 1),
                              data_transfers=enabled(data_transfers), spin_wait=enabled(spin_wait),
                              cuda_graph=enabled(cuda_graph), graph_lines=graph_lines,
                              device_lines=DEVICE_LINES.format(name=gpu[0], cc=gpu[1], sms=gpu[2]) if gpu else "")


class FakeProcess:
    """What subprocess.Popen returns, on canned output: stdout yields it a line at a time."""

    def __init__(self, text, returncode=0, timeout=False):
        self.lines = text.splitlines(keepends=True)
        self.read = 0  # how many lines the caller has taken so far
        self.stdout = self._stream()
        self.returncode = returncode
        self.timeout = timeout
        self.killed = False
        self.exited = False

    def _stream(self):
        for line in self.lines:
            self.read += 1
            yield line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.exited = True

    def wait(self):
        return self.returncode

    def kill(self):
        self.killed = True

    def communicate(self, timeout=None):
        if self.timeout:
            raise subprocess.TimeoutExpired("trtexec", timeout)
        return "".join(self.stdout), None


class FakeTrtexec:
    """A stand-in for subprocess.Popen that plays trtexec: --help prints ``help``, a run prints ``run``.

    Given --timingCacheFile, a run reads the file as trtexec does (``offered``: its bytes, None when
    there was none) and, when it succeeds, writes it back with its own timings added (a '+'). Given
    --exportTimes, a run that succeeds writes one entry per timed query its summary counts, in
    trtexec's format (``times``: the GPU compute times; by default 1.5, 1.55 and 1.6 ms in turn;
    ``times_text``: the file's text instead, e.g. a damaged one). Given --exportProfile and --exportLayerInfo,
    a run that succeeds writes ``profile`` and ``layer_info`` there (text, or JSON-ready values; None: no file).
    """

    def __init__(self, help=HELP_10, run=None, returncode=0, help_timeout=False, times=None, times_text=None,
                 profile=None, layer_info=None):
        self.help, self.run, self.returncode, self.help_timeout = help, run, returncode, help_timeout
        self.times, self.times_text = times, times_text
        self.profile, self.layer_info = profile, layer_info
        self.commands = []
        self.processes = []
        self.offered = []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        if "--help" in command:
            process = FakeProcess(self.help, timeout=self.help_timeout)
        else:
            process = FakeProcess(self.run or "", self.returncode)
            self._timing_cache(command)
            self._export_times(command)
            self._export("--exportProfile=", self.profile, command)
            self._export("--exportLayerInfo=", self.layer_info, command)
        self.processes.append(process)
        return process

    def _timing_cache(self, command):
        given = [arg.split("=", 1)[1] for arg in command if arg.startswith("--timingCacheFile=")]
        if not given:
            return
        path = Path(given[0])
        before = path.read_bytes() if path.exists() else None  # a FIFO here would block, as in trtexec
        self.offered.append(before)
        if self.returncode == 0:
            path.write_bytes((before or b"") + b"+")

    def _export_times(self, command):
        given = [arg.split("=", 1)[1] for arg in command if arg.startswith("--exportTimes=")]
        if not given or self.returncode != 0:
            return
        if self.times_text is not None:
            Path(given[0]).write_text(self.times_text)
            return
        counted = re.search(r"Timing trace has (\d+) queries", self.run or "")
        times = self.times or [(1.5, 1.55, 1.6)[index % 3] for index in range(int(counted[1]) if counted else 0)]
        start, entries = 0.0, []
        for compute in times:
            entries.append({"startEnqMs": start, "endEnqMs": start + 0.01, "startH2dMs": start,
                            "endH2dMs": start + 0.05, "startComputeMs": start + 0.05,
                            "endComputeMs": start + 0.05 + compute, "startD2hMs": start + 0.05 + compute,
                            "endD2hMs": start + 0.1 + compute, "h2dMs": 0.05, "computeMs": compute, "d2hMs": 0.05,
                            "latencyMs": 0.1 + compute})
            start += compute
        Path(given[0]).write_text(json.dumps(entries))

    def _export(self, flag, content, command):
        given = [arg[len(flag):] for arg in command if arg.startswith(flag)]
        if not given or content is None or self.returncode != 0:
            return
        Path(given[0]).write_text(content if isinstance(content, str) else json.dumps(content))

    @property
    def runs(self):
        return [command for command in self.commands if "--help" not in command]


@pytest.fixture
def graphs(monkeypatch, tmp_path):
    """FP16/INT8 builds take a named graph instead of converting the ONNX: FP16 strongly typed the FP16
    graph, INT8 the FP32 Q/DQ graph (weak) or the one whose rest is FP16 (strong)."""
    def network_graph(path, precision, typing, calibration=None):
        if precision == "int8":
            return path.with_name(f"{path.stem}.int8{'-fp16' if typing == 'strong' else ''}.onnx")
        return path.with_name(f"{path.stem}.fp16.onnx") if precision == "fp16" and typing == "strong" else path

    monkeypatch.setattr(trtexec, "network_graph", network_graph)
    return tmp_path / "ResNet50.onnx"


def backend(major, popen=None, gpu=None, **options):
    """trtexec of ``major`` on the CUDA double's GPU (``gpu``: another one, or a callable that raises)."""
    fake = popen or FakeTrtexec(help=HELPS[major])
    gpu = gpu or FakeCuda()
    properties = gpu if callable(gpu) else gpu.device_properties
    return TrtexecBackend(EngineBuildConfig(**options), executable="/opt/trt/bin/trtexec", popen=fake,
                          device_properties=properties), fake


def test_summary_becomes_spans_and_throughput():
    timed = parse_summary(SUMMARY)
    assert list(timed.spans) == ["compute", "h2d", "d2h", "end_to_end", "enqueue"]
    compute = timed.spans["compute"]
    assert (compute.min, compute.median, compute.mean, compute.p90, compute.p95, compute.p99, compute.max) == \
        (1.5, 1.55, 1.56, 1.6, 1.65, 1.9, 2.3)
    assert compute.cov == pytest.approx(0.045)
    assert timed.spans["end_to_end"].median == 1.68 and timed.spans["h2d"].p99 == 0.12
    assert timed.spans["enqueue"].stdev is None and timed.spans["enqueue"].cov is None
    assert timed.throughput_qps == 666.198 and timed.iterations == 2000 and timed.wall_s == 3.00211
    assert tensorrt_version(SUMMARY) == "10.13.3"


def test_no_summary_is_an_error():
    with pytest.raises(TrtbenchError, match="no performance summary"):
        parse_summary("[E] Error[4]: could not parse\n&&&& FAILED")


# (major, data_transfers, cuda_graph, inflight) -> the timing flags, in order; spin-wait is on for all
RUN_FLAGS = [
    (10, True, False, 2, ["--useSpinWait"]),
    (10, False, False, 2, ["--noDataTransfers", "--useSpinWait"]),
    (10, True, True, 2, ["--useCudaGraph", "--useSpinWait"]),
    (10, False, True, 2, ["--noDataTransfers", "--useCudaGraph", "--useSpinWait"]),
    (10, True, False, 1, ["--useSpinWait", "--exposeDMA"]),
    (10, False, False, 1, ["--noDataTransfers", "--useSpinWait", "--exposeDMA"]),
    (10, True, True, 1, ["--useCudaGraph", "--useSpinWait", "--exposeDMA"]),
    (10, False, True, 1, ["--noDataTransfers", "--useCudaGraph", "--useSpinWait", "--exposeDMA"]),
    (11, True, False, 2, ["--includeDataTransfers", "--noCudaGraph"]),
    (11, False, False, 2, ["--noCudaGraph"]),
    (11, True, True, 2, ["--includeDataTransfers"]),
    (11, False, True, 2, []),
    (11, True, False, 1, ["--includeDataTransfers", "--noCudaGraph", "--exposeDMA"]),
    (11, False, False, 1, ["--noCudaGraph", "--exposeDMA"]),
    (11, True, True, 1, ["--includeDataTransfers", "--exposeDMA"]),
    (11, False, True, 1, ["--exposeDMA"]),
]


@pytest.mark.parametrize(("major", "data_transfers", "cuda_graph", "inflight", "flags"), RUN_FLAGS)
def test_timing_flags_per_major(tmp_path, major, data_transfers, cuda_graph, inflight, flags):
    model = tmp_path / "ResNet50.onnx"
    trt, fake = backend(major, data_transfers=data_transfers, cuda_graph=cuda_graph, inflight=inflight,
                        workspace_mib=1024)
    engine = trt.build(model, "fp32", 8, tmp_path / "engines")
    # FP32 at the default typing: weak on 10 and strong on 11 are both the default, so no typing flag
    assert engine.command == [
        "/opt/trt/bin/trtexec", f"--onnx={model}", "--shapes=x:8x3x224x224", "--builderOptimizationLevel=3",
        "--noTF32", "--memPoolSize=workspace:1024M", *flags]
    for deprecated in ("--separateProfileRun", "--stronglyTyped", "--fp16"):
        assert deprecated not in engine.command
    if major == 11:  # no-ops there: passing them would say nothing about what runs
        assert not {"--noDataTransfers", "--useCudaGraph", "--useSpinWait"} & set(engine.command)

    fake.run = run_log(major, typing="weak" if major == 10 else "strong", inflight=inflight,
                       data_transfers=data_transfers, cuda_graph=cuda_graph)
    engine.timed(TimingPolicy(warmup_ms=200, duration_s=3, min_iterations=10))
    ((*command, cache, times, warmup, duration, iterations, percentile),) = fake.runs
    assert command == engine.command and cache.startswith("--timingCacheFile=")  # a private copy: see below
    assert times.startswith("--exportTimes=")  # every inference's time: the samples records keep
    assert [warmup, duration, iterations, percentile] == ["--warmUp=200", "--duration=3", "--iterations=10",
                                                          "--percentile=90,95,99"]
    method = engine.describe()
    assert {key: method[key] for key in ("trtexec_major", "data_transfers", "cuda_graph", "spin_wait", "tf32",
                                         "inflight")} == \
        {"trtexec_major": major, "data_transfers": data_transfers, "cuda_graph": cuda_graph, "spin_wait": True,
         "tf32": False, "inflight": inflight}


# (major, typing, precision, tf32) -> the build flags, in order, and which graph is built
BUILD_FLAGS = [
    (10, "auto", "fp32", False, ["--noTF32"], "weak", "ResNet50.onnx"),
    (10, "auto", "fp16", False, ["--fp16", "--noTF32"], "weak", "ResNet50.onnx"),
    (10, "weak", "fp16", True, ["--fp16"], "weak", "ResNet50.onnx"),
    (10, "auto", "int8", False, ["--fp16", "--int8", "--noTF32"], "weak", "ResNet50.int8.onnx"),
    (10, "strong", "int8", False, ["--stronglyTyped", "--noTF32"], "strong", "ResNet50.int8-fp16.onnx"),
    (10, "strong", "fp16", True, ["--stronglyTyped"], "strong", "ResNet50.fp16.onnx"),
    (10, "strong", "fp32", False, ["--stronglyTyped", "--noTF32"], "strong", "ResNet50.onnx"),
    (10, "weak", "fp32", True, [], "weak", "ResNet50.onnx"),
    (11, "auto", "fp32", False, ["--noTF32"], "strong", "ResNet50.onnx"),
    (11, "auto", "fp16", False, ["--noTF32"], "strong", "ResNet50.fp16.onnx"),
    (11, "strong", "fp16", True, [], "strong", "ResNet50.fp16.onnx"),
    (11, "auto", "int8", True, [], "strong", "ResNet50.int8-fp16.onnx"),
]


@pytest.mark.parametrize(("major", "typing", "precision", "tf32", "flags", "typed", "graph"), BUILD_FLAGS)
def test_build_flags_per_major(graphs, tmp_path, major, typing, precision, tf32, flags, typed, graph):
    trt, _ = backend(major, typing=typing, tf32=tf32, timing_cache=False)
    engine = trt.build(graphs, precision, 1, tmp_path)
    run_flags = ["--useSpinWait"] if major == 10 else ["--includeDataTransfers", "--noCudaGraph"]
    assert engine.command == ["/opt/trt/bin/trtexec", f"--onnx={tmp_path / graph}", "--shapes=x:1x3x224x224",
                              "--builderOptimizationLevel=3", *flags, *run_flags]
    method = engine.describe()
    assert (method["typing"], method["tf32"], engine.info["typing"]) == (typed, tf32, typed)
    assert method["fp16_build"] is None if precision == "fp32" else method["fp16_build"].startswith(f"{typed}: ")


@pytest.mark.parametrize(("major", "options", "precision", "message"), [
    (11, {"typing": "weak"}, "fp16", "TensorRT 11 builds strongly typed networks only: drop --typing weak"),
    (11, {"typing": "weak"}, "fp32", "TensorRT 11 builds strongly typed networks only: drop --typing weak"),
    (11, {"typing": "weak"}, "int8", "TensorRT 11 builds strongly typed networks only: drop --typing weak"),
    (10, {"inflight": 3}, "fp32", "backend trtexec cannot run --inflight 3: trtexec 10 keeps 2 inferences in "
                                  "flight, or 1 with --exposeDMA"),
    (11, {"inflight": 8}, "fp16", "backend trtexec cannot run --inflight 8: trtexec 11 keeps 2 inferences in "
                                  "flight, or 1 with --exposeDMA"),
])
def test_what_a_major_cannot_run_is_refused_in_one_line(graphs, tmp_path, major, options, precision, message):
    trt, fake = backend(major, **options)
    with pytest.raises(TrtbenchError) as refused:
        trt.build(graphs, precision, 1, tmp_path)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert fake.runs == []


@pytest.mark.parametrize("banner", ["[TensorRT v90300] [b12]", "[TensorRT v120000] [b1]"])
def test_a_major_without_a_flag_table_is_refused(tmp_path, banner):
    fake = FakeTrtexec(help=f"&&&& RUNNING TensorRT.trtexec {banner} # trtexec --help\n")
    trt, _ = backend(10, popen=fake)
    with pytest.raises(TrtbenchError, match=r"trtbench knows the flags of trtexec 10\.x and 11\.x only"):
        trt.build(tmp_path / "m.onnx", "fp32", 1, tmp_path)


@pytest.mark.parametrize(("text", "version"), [
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --help", "10.13.3"),
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v100100] [b12] # trtexec --help", "10.1.0"),
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --help", "11.1.0"),
    ("[11/29/2026-10:00:00] [I] TensorRT version: 11.0.0", "11.0.0"),
    ("=== Model Options ===\n  --onnx=<file>  ONNX model", None),
    ("", None),
])
def test_version_from_trtexec_output(text, version):
    assert tensorrt_version(text) == version


def test_version_is_asked_once_per_backend(tmp_path):
    trt, fake = backend(11)
    for precision in ("fp32", "fp32"):
        trt.build(tmp_path / "m.onnx", precision, 1, tmp_path)
    assert fake.commands == [["/opt/trt/bin/trtexec", "--help"]]
    assert trt.version() == "11.1.0" and all(process.exited for process in fake.processes)


def test_unknown_version_fails_the_case_in_one_line(tmp_path):
    trt, fake = backend(10, popen=FakeTrtexec(help="=== Model Options ===\n  --onnx=<file>  ONNX model\n"))
    record = run_case(trt, Case("ResNet50", "fp32", 1), tmp_path / "m.onnx", tmp_path, TimingPolicy())
    assert record.status == "failed" and fake.runs == []
    assert record.error == ("cannot tell which TensorRT '/opt/trt/bin/trtexec' is from: its --help printed no "
                            "'[TensorRT vNNNNNN]' banner")


def test_help_that_hangs_or_cannot_start_is_a_one_line_error(tmp_path):
    hung = FakeTrtexec(help_timeout=True)
    trt, _ = backend(10, popen=hung)
    with pytest.raises(TrtbenchError, match=r"could not run '/opt/trt/bin/trtexec --help'.*timed out"):
        trt.version()
    assert hung.processes[0].killed

    def missing(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", command[0])

    trt, _ = backend(10, popen=missing)
    with pytest.raises(TrtbenchError, match="could not run '/opt/trt/bin/trtexec --help'.*No such file"):
        trt.version()


def test_describe_states_each_toggle_and_what_set_it(tmp_path):
    trt, fake = backend(11, data_transfers=True, cuda_graph=False, tf32=True)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 8, tmp_path)
    fake.run = run_log(11, typing="strong", data_transfers=True, cuda_graph=False)
    engine.timed(TimingPolicy())
    method = engine.describe()
    assert method["tensorrt"] == "11.1.0" and method["trtexec_major"] == 11
    assert (method["typing"], method["data_transfers"], method["cuda_graph"], method["spin_wait"], method["tf32"],
            method["inflight"], method["cuda_graph_requested"]) == ("strong", True, False, True, True, 2, False)
    assert method["set_by"] == {"typing": "trtexec 11 default", "tf32": "trtexec 11 default",
                                "data_transfers": "--includeDataTransfers", "cuda_graph": "--noCudaGraph",
                                "spin_wait": "trtexec 11 default", "inflight": "trtexec 11 default"}
    assert method["command"].endswith("--warmUp=200 --duration=3 --iterations=10 --percentile=90,95,99")
    assert " --includeDataTransfers --noCudaGraph --timingCacheFile=" in method["command"]

    trt, _ = backend(10, typing="weak", data_transfers=False, cuda_graph=True)
    method = trt.build(tmp_path / "m.onnx", "fp16", 8, tmp_path).describe()
    assert (method["typing"], method["data_transfers"], method["cuda_graph"], method["spin_wait"], method["tf32"],
            method["trtexec_major"]) == ("weak", False, True, True, False, 10)
    assert method["set_by"] == {"typing": "--fp16", "tf32": "--noTF32", "data_transfers": "--noDataTransfers",
                                "cuda_graph": "--useCudaGraph", "spin_wait": "--useSpinWait",
                                "inflight": "trtexec 10 default"}


def test_mode_is_one_decision_for_flags_and_record():
    mode = trtexec_mode(11, EngineBuildConfig(typing="auto", data_transfers=True, cuda_graph=True, inflight=1),
                        "fp16")
    assert (mode.build_flags, mode.run_flags) == (("--noTF32",), ("--includeDataTransfers", "--exposeDMA"))
    assert mode.describe() == {
        "trtexec_major": 11, "typing": "strong", "tf32": False, "data_transfers": True, "cuda_graph": True,
        "spin_wait": True, "inflight": 1,
        "set_by": {"typing": "trtexec 11 default", "tf32": "--noTF32", "data_transfers": "--includeDataTransfers",
                   "cuda_graph": "trtexec 11 default", "spin_wait": "trtexec 11 default",
                   "inflight": "--exposeDMA"},
        "fp16_build": "strong: FP16 graph (FP32 inputs and outputs), each layer in the type the graph gives it"}


def test_output_is_read_as_it_comes_and_progress_reported(tmp_path):
    trt, fake = backend(11)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 8, tmp_path)
    fake.run = run_log(11, typing="strong", data_transfers=True, cuda_graph=False)
    reported = []

    def progress(count, median):
        reported.append((count, median, fake.processes[-1].read))

    timed = engine.timed(TimingPolicy(), progress)
    lines = fake.run.splitlines()
    compute_line = next(i for i, line in enumerate(lines) if "GPU Compute Time:" in line) + 1
    # called once, when the summary's compute line arrived, before trtexec's last lines were read
    assert reported == [(4521, 0.6609, compute_line)] and compute_line < len(lines)
    assert timed.iterations == 4521 and timed.spans["compute"].median == 0.6609
    assert timed.spans["h2d"].median == 0 and timed.throughput_qps == 1506.83


def test_a_failing_progress_callback_kills_trtexec(tmp_path):
    trt, fake = backend(10)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 8, tmp_path)
    fake.run = run_log(10)

    def progress(count, median):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.timed(TimingPolicy(), progress)
    assert fake.processes[-1].killed and fake.processes[-1].exited


def test_failures_are_one_line(tmp_path):
    rejected = ("&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=m.onnx --fp16\n"
                "=== Model Options ===\n"
                "[11/29/2026-10:00:00] [E] Unknown option: --fp16 \n"
                "&&&& FAILED TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=m.onnx --fp16\n")
    trt, fake = backend(11)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 1, tmp_path)
    fake.run, fake.returncode = rejected, 1
    with pytest.raises(TrtbenchError, match=r"^trtexec failed: \[11/29/2026-10:00:00\] \[E\] Unknown option: --fp16$"):
        engine.timed(TimingPolicy())

    fake.run, fake.returncode = "", 139
    with pytest.raises(TrtbenchError, match="^trtexec failed: exit status 139$"):
        engine.timed(TimingPolicy())

    def missing(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", command[0])

    engine.popen = missing
    with pytest.raises(TrtbenchError, match="^could not start trtexec: .*No such file or directory"):
        engine.timed(TimingPolicy())


def test_a_trtexec_that_runs_another_policy_than_asked_fails(tmp_path):
    trt, fake = backend(11, cuda_graph=False)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 1, tmp_path)
    fake.run = run_log(11, typing="strong", data_transfers=True, cuda_graph=True)  # ignored --noCudaGraph
    with pytest.raises(TrtbenchError, match=r"^trtexec 11\.1\.0 ran cuda_graph=True where its flags asked for "
                                            r"cuda_graph=False: its defaults differ"):
        engine.timed(TimingPolicy())


def test_failed_graph_capture_is_recorded_as_plain_enqueues(tmp_path):
    trt, fake = backend(10, cuda_graph=True)
    engine = trt.build(tmp_path / "m.onnx", "fp32", 8, tmp_path)
    fake.run = run_log(10, cuda_graph=True, graph_lines=GRAPH_FAILED)
    engine.timed(TimingPolicy())
    method = engine.describe()
    assert (method["cuda_graph"], method["cuda_graph_requested"]) == (False, True)
    assert engine.warnings == ["trtexec could not capture a CUDA graph (the engine has operations a capture does "
                               "not permit); it timed plain enqueues instead"]

    fake.run = run_log(10, cuda_graph=True)
    engine.warnings.clear()
    engine.timed(TimingPolicy())
    assert engine.describe()["cuda_graph"] is True and engine.warnings == []


def test_a_real_process_is_read_line_by_line(tmp_path):
    """subprocess.Popen itself, on a script that prints a trtexec run: the default launcher works."""
    output = tmp_path / "run.txt"
    output.write_text(run_log(10))
    script = tmp_path / "trtexec"
    script.write_text(f"#!{sys.executable}\n"
                      "import sys\n"
                      "if '--help' in sys.argv:\n"
                      f"    print({HELP_10!r})\n"
                      "else:\n"
                      f"    sys.stdout.write(open({str(output)!r}).read())\n")
    script.chmod(0o755)
    trt = TrtexecBackend(EngineBuildConfig(), executable=str(script))
    engine = trt.build(tmp_path / "m.onnx", "fp32", 8, tmp_path)
    reported = []
    timed = engine.timed(TimingPolicy(), lambda count, median: reported.append((count, median)))
    assert reported == [(2000, 1.55)] and timed.iterations == 2000
    assert engine.describe()["tensorrt"] == "10.13.3" and engine.output == run_log(10)


@pytest.mark.parametrize("major,plan_mib,context_mib,load_s", [(10, 98.4521, 24.5, 0.0523104),
                                                                 (11, 49.3172, 12.3, 0.0311)])
def test_what_trtexec_says_of_its_engine_is_kept(graphs, major, plan_mib, context_mib, load_s):
    trt, fake = backend(major)
    fake.run = run_log(major, typing="weak" if major == 10 else "strong")  # the options trtbench passes by default
    engine = trt.build(graphs, "fp32", 8, graphs.parent)
    assert engine.memory_facts() == {} and engine.load_s is None  # trtexec has not run
    engine.timed(TimingPolicy())
    # its sizes are MiB to 6 significant digits: the bytes are as near as they tell
    assert engine.memory_facts() == {"plan_bytes": round(plan_mib * 2**20),
                                     "device_memory_bytes": round(context_mib * 2**20)}
    assert engine.load_s == load_s
    assert "does not time the context" in engine.describe()["load"]


@pytest.mark.parametrize("lines,facts,load_s", [
    ("", {}, None),
    ("[I] Created engine with size: 0 MiB\n[I] Engine deserialized in nan sec.\n", {}, None),
    ("[I] Created engine with size: 1e MiB\n[I] Engine deserialized in -1 sec.\n", {}, None),
    ("[I] Created execution context with device memory size: 0.5 MiB\n", {"device_memory_bytes": 2**19}, None),
])
def test_engine_facts_trtexec_did_not_print_are_left_out(lines, facts, load_s):
    assert trtexec.engine_facts(lines) == (facts, load_s)


def test_missing_trtexec_is_unavailable():
    state = TrtexecBackend(executable=None).availability()
    assert not state.ok and "not on PATH" in state.reason


# --- trtexec's timing cache: an artifact of engines/, never handed to trtexec itself -------------


def timed_run(trt, fake, engines, major=10, **log):
    """Build and time one fp32 case with trtexec printing a run on ``log``'s GPU; the engine."""
    engine = trt.build(engines.parent / "m.onnx", "fp32", 1, engines)
    fake.run = run_log(major, typing="weak" if major == 10 else "strong", **log)
    finishes(lambda: engine.timed(TimingPolicy()))
    return engine


def recorded_cache(engines):
    from trtbench.store import artifacts

    return artifacts.valid(engines / "trtexec.timing.cache", trtexec.TIMING_CACHE_KIND)


def test_the_timing_cache_is_recorded_for_its_tensorrt_and_gpu_and_offered_back(tmp_path):
    engines = tmp_path / "engines"
    trt, fake = backend(10)
    first = timed_run(trt, fake, engines)
    found = recorded_cache(engines)
    assert found is not None and found.key == {"tensorrt": "10.13.3", "gpu": "Fake GPU 80GB",
                                               "compute_capability": "9.0", "multiprocessors": 132}
    assert (engines / "trtexec.timing.cache").read_bytes() == b"+"
    second = timed_run(trt, fake, engines)
    # trtexec was given a private copy of the checked bytes, never the file in engines/
    assert fake.offered == [None, b"+"] and (engines / "trtexec.timing.cache").read_bytes() == b"++"
    assert all(str(engines) not in arg for command in fake.runs for arg in command)
    assert first.describe()["timing_cache"]["offered"] is False
    assert second.describe()["timing_cache"] == {"file": str(engines / "trtexec.timing.cache"), "offered": True,
                                                 "recorded_sha256": recorded_cache(engines).sha256}
    assert not first.warnings and not second.warnings


@pytest.mark.parametrize("other,reason", [
    ({"major": 11}, "TensorRT version changed (10.13.3 -> 11.1.0)"),
    ({"gpu": FakeCuda(gpu_name="Other GPU")}, "GPU changed"),
    ({"gpu": FakeCuda(compute_capability="8.9")}, "compute capability changed"),
    ({"gpu": FakeCuda(multiprocessor_count=14)}, "SM count changed (132 -> 14)"),  # a MIG slice, same name
])
def test_a_cache_from_another_tensorrt_or_gpu_is_not_offered_and_is_replaced(tmp_path, other, reason):
    engines = tmp_path / "engines"
    trt, fake = backend(10)
    timed_run(trt, fake, engines)
    major = other.get("major", 10)
    gpu = other.get("gpu", FakeCuda())
    props = gpu.device_properties()
    trt, fake = backend(major, gpu=gpu)
    engine = timed_run(trt, fake, engines, major=major,
                       gpu=(props["name"], props["compute_capability"], props["multiprocessor_count"]))
    assert fake.offered == [None]
    (note,) = engine.warnings
    assert "not offered" in note and reason in note and "\n" not in note
    assert recorded_cache(engines).key["multiprocessors"] == props["multiprocessor_count"]
    assert (engines / "trtexec.timing.cache").read_bytes() == b"+"


def test_a_damaged_cache_is_not_offered(tmp_path):
    engines = tmp_path / "engines"
    trt, fake = backend(10)
    timed_run(trt, fake, engines)
    (engines / "trtexec.timing.cache").write_bytes(b"X")
    engine = timed_run(trt, fake, engines)
    assert fake.offered == [None, None] and "does not match its recorded sha256" in engine.warnings[0]
    assert recorded_cache(engines) is not None


def test_a_fifo_in_place_of_the_cache_never_reaches_trtexec(tmp_path):
    engines = tmp_path / "engines"
    engines.mkdir()
    os.mkfifo(engines / "trtexec.timing.cache")
    trt, fake = backend(11)
    timed_run(trt, fake, engines, major=11)
    assert fake.offered == [None]
    assert (engines / "trtexec.timing.cache").is_file() and recorded_cache(engines) is not None


def _flip(path):
    stat = path.stat()
    path.write_bytes(bytes([path.read_bytes()[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, inode and time: only the bytes tell


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("change", [_flip, _fifo])
def test_a_cache_changed_after_its_check_is_not_offered(tmp_path, monkeypatch, change):
    from trtbench.store import artifacts

    engines = tmp_path / "engines"
    trt, fake = backend(10)
    timed_run(trt, fake, engines)
    checked = artifacts.valid

    def valid(path, kind):
        found = checked(path, kind)
        if found is not None and kind == trtexec.TIMING_CACHE_KIND and not getattr(valid, "done", False):
            valid.done = True
            change(found.path)
        return found

    monkeypatch.setattr(artifacts, "valid", valid)
    engine = timed_run(trt, fake, engines)
    assert fake.offered == [None, None], "bytes other than the checked ones reached trtexec"
    assert any("changed after it was checked" in w or "does not match" in w for w in engine.warnings)


def test_without_cuda_bindings_the_gpu_is_learned_from_trtexec(tmp_path):
    def no_cuda():
        raise RuntimeError("no CUDA bindings")

    engines = tmp_path / "engines"
    trt, fake = backend(10, gpu=no_cuda)
    timed_run(trt, fake, engines)
    timed_run(trt, fake, engines)
    assert fake.offered == [None, b"+"] and recorded_cache(engines).key["gpu"] == "Fake GPU 80GB"
    # a trtexec that prints no device information leaves the cache as it was
    trt, fake = backend(10, gpu=no_cuda)
    engine = timed_run(trt, fake, engines, gpu=None)
    assert "printed no device information" in engine.warnings[0]
    assert (engines / "trtexec.timing.cache").read_bytes() == b"++"


def test_a_run_on_another_gpu_than_offered_for_is_not_kept(tmp_path):
    engines = tmp_path / "engines"
    trt, fake = backend(10)
    timed_run(trt, fake, engines)
    engine = timed_run(trt, fake, engines, gpu=("Fake GPU 80GB", "9.0", 14))
    assert fake.offered == [None, b"+"] and "not the GPU its timing cache was offered for" in engine.warnings[0]
    assert (engines / "trtexec.timing.cache").read_bytes() == b"+"


def test_a_failed_run_records_nothing(tmp_path):
    engines = tmp_path / "engines"
    trt, fake = backend(10)
    fake.returncode = 1
    engine = trt.build(tmp_path / "m.onnx", "fp32", 1, engines)
    fake.run = "[11/29/2026-10:00:00] [E] Error[4]: could not parse\n"
    with pytest.raises(TrtbenchError, match="^trtexec failed: "):
        engine.timed(TimingPolicy())
    assert not (engines / "trtexec.timing.cache").exists()


def test_every_timed_inference_is_kept_from_the_times_trtexec_exports(tmp_path):
    trt, fake = backend(10)
    engine = trt.build(tmp_path / "ResNet50.onnx", "fp32", 8, tmp_path / "engines")
    fake.run = run_log(10)
    policy = TimingPolicy(warmup_ms=200, duration_s=3, min_iterations=10, percentiles=(50, 99), stability=0.05,
                          max_duration_s=60)
    timed = engine.timed(policy)
    assert "--iterations=662" in fake.runs[0]  # trtexec told to time as many as p99 needs
    assert timed.samples is not None and len(timed.samples) == timed.iterations == 2000
    assert timed.samples[:3] == [1.5, 1.55, 1.6] and not engine.warnings
    assert timed.windows is not None and timed.windows.stable  # cut from the samples' own times
    assert len(timed.windows.medians_ms) >= 3


@pytest.mark.parametrize("text", ["", "not json", '{"computeMs": 1}', '[{"latencyMs": 1.0}]', '[{"computeMs": "x"}]',
                                  '[{"computeMs": -1}]', '[{"computeMs": 1e999}]'])
def test_times_that_cannot_be_read_leave_the_summary_and_say_so(tmp_path, text):
    trt, fake = backend(10, popen=FakeTrtexec(help=HELPS[10], times_text=text))
    engine = trt.build(tmp_path / "ResNet50.onnx", "fp32", 8, tmp_path / "engines")
    fake.run = run_log(10)
    timed = engine.timed(TimingPolicy())
    assert timed.samples is None and timed.spans["compute"].median == 1.55
    assert engine.warnings == ["trtexec wrote no per-inference times (--exportTimes): the percentiles are its "
                               "summary's, without intervals, and no samples are kept"]
