"""trtexec, NVIDIA's own benchmark, run on the same ONNX so both tools sit side by side in a report.

trtexec times itself; trtbench passes the same warm-up, duration and iteration policy and parses
its performance summary into the same record fields.

trtexec's defaults changed between majors (11.x skips the data transfers, replays a CUDA graph and
spin-waits; 10.x did none of these), so every toggle a record states is set here from a per-major
table (``TRTEXEC_DEFAULTS``, ``TRTEXEC_FLAGS``) rather than left to whichever trtexec is on PATH.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtbench.backends.base import Availability, Backend, Check, Engine
from trtbench.backends.tensorrt import (
    ENGINE_KEY_LABELS,
    EngineBuildConfig,
    fp16_build,
    network_graph,
    resolve_typing,
)
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import INPUT_SHAPE
from trtbench.graphs.precision import Calibration
from trtbench.measure.profile import LayerProfile
from trtbench.measure.timing import Latency, Timed, TimingPolicy, windows_of
from trtbench.store import artifacts

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
# "&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --help": every run, --help included
_VERSION = re.compile(r"\[TensorRT v(?P<v>\d{5,})\]")
# "[I] TensorRT version: 10.13.3": printed once a run gets past its options
_VERSION_LINE = re.compile(r"TensorRT version: (?P<v>\d+\.\d+\.\d+)")
# "[I] CUDA Graph: Enabled": trtexec echoes the options it parsed before it builds
_ECHO = re.compile(r"\[I\] (?P<key>Precision|ExposeDMA|Data transfers|Spin-wait|CUDA Graph): (?P<value>.+?)\s*$")
#: each echoed option as (toggle, the toggle's value read from the echo)
ECHOED: dict[str, tuple[str, Callable[[str], Any]]] = {
    "Precision": ("typing", lambda text: "strong" if text == "Strongly Typed" else "weak"),
    "ExposeDMA": ("inflight", lambda text: 1 if text == "Enabled" else 2),
    "Data transfers": ("data_transfers", lambda text: text == "Enabled"),
    "Spin-wait": ("spin_wait", lambda text: text == "Enabled"),
    "CUDA Graph": ("cuda_graph", lambda text: text == "Enabled"),
}
# "=== Device Information ===" (samples/common/sampleDevice.cpp, setCudaDevice): the GPU trtexec runs on
_DEVICE_LINES = {"gpu": re.compile(r"\[I\] Selected Device: (?P<v>.+?)\s*$", re.M),
                 "compute_capability": re.compile(r"\[I\] Compute Capability: (?P<v>\d+\.\d+)\s*$", re.M),
                 "multiprocessors": re.compile(r"\[I\] SMs: (?P<v>\d+)\s*$", re.M)}
# What trtexec says of the engine it built and loaded (samples/common/sampleEngines.cpp, sampleInference.cpp):
# sizes in MiB to 6 significant digits, the deserialization (runtime and deserializeCudaEngine) in seconds
_ENGINE_SIZE = re.compile(r"\[I\] Created engine with size: (?P<mib>[\d.eE+-]+) MiB")
_CONTEXT_MEMORY = re.compile(r"\[I\] Created execution context with device memory size: (?P<mib>[\d.eE+-]+) MiB")
_DESERIALIZED = re.compile(r"\[I\] Engine deserialized in (?P<s>[\d.eE+-]+) sec")
TIMING_CACHE_KIND = "trtexec-timing-cache"
TIMING_CACHE_FILE = "trtexec.timing.cache"
# trtexec's warning when the engine cannot be captured; it then times plain enqueues (10.x and 11.x)
_GRAPH_FAILED = "not permitted under CUDA graph capture mode"

#: What trtexec does for each toggle when given no flag, by major (samples/common/sampleOptions.h:
#: BuildOptions.stronglyTyped/tf32, InferenceOptions.skipTransfers or includeTransfers, graph, spin,
#: overlap; the depth in flight is 1 + overlap, samples/common/sampleInference.cpp IterationBase).
TRTEXEC_DEFAULTS: dict[int, dict[str, Any]] = {
    10: {"typing": "weak", "tf32": True, "data_transfers": True, "cuda_graph": False, "spin_wait": False,
         "inflight": 2},
    11: {"typing": "strong", "tf32": True, "data_transfers": False, "cuda_graph": True, "spin_wait": True,
         "inflight": 2},
}
#: The flag that moves a toggle off its default, by major (samples/common/sampleOptions.cpp). A value
#: with no flag here and not the default is one that major cannot run. 11.x still accepts
#: --noDataTransfers, --useCudaGraph, --useSpinWait and --stronglyTyped as no-ops; they are never passed.
TRTEXEC_FLAGS: dict[int, dict[tuple[str, Any], str]] = {
    10: {("typing", "strong"): "--stronglyTyped", ("tf32", False): "--noTF32",
         ("data_transfers", False): "--noDataTransfers", ("cuda_graph", True): "--useCudaGraph",
         ("spin_wait", True): "--useSpinWait", ("inflight", 1): "--exposeDMA"},
    11: {("tf32", False): "--noTF32", ("data_transfers", True): "--includeDataTransfers",
         ("cuda_graph", False): "--noCudaGraph", ("spin_wait", False): "--noSpinWait",
         ("inflight", 1): "--exposeDMA"},
}
#: the toggles trtexec applies while building the engine; the rest apply while it times
BUILD_TOGGLES = ("typing", "tf32")
# trtbench's TensorRT backend waits on CUDA events created with default flags, which spin rather
# than block; trtexec is asked to wait the same way so the two backends' numbers compare.
SPIN_WAIT = True

#: What a profile run adds to the timed run's flags, by major: layer details in the engine it builds, and
#: the profile taken in a run of its own after the timing (10.x: --separateProfileRun; 11.x always does,
#: and warns that the flag is a no-op).
PROFILE_FLAGS: dict[int, tuple[str, ...]] = {
    10: ("--profilingVerbosity=detailed", "--separateProfileRun"),
    11: ("--profilingVerbosity=detailed",),
}
PROFILE_ENGINE = "trtexec --exportProfile"

HELP_TIMEOUT_S = 60  # `trtexec --help` prints and exits; longer means it is stuck (a driver or loader hang)

Popen = Callable[..., Any]  # subprocess.Popen or a stand-in: called alike, a context manager with stdout,
# wait, kill and communicate


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
    """'10.13.3' from trtexec's '[TensorRT v101303]' banner (or its 'TensorRT version: 10.13.3' line)."""
    match = _VERSION.search(text)
    if match:
        number = int(match["v"])
        return f"{number // 10000}.{number // 100 % 100}.{number % 100}"
    line = _VERSION_LINE.search(text)
    return line["v"] if line else None


def device_facts(text: str) -> dict | None:
    """The GPU trtexec ran on, from its device information: name, compute capability and SM count
    (the key parts of a timing cache); None unless all three are there."""
    found = {name: pattern.search(text) for name, pattern in _DEVICE_LINES.items()}
    if not all(found.values()):
        return None
    facts: dict[str, Any] = {name: match["v"] for name, match in found.items() if match}
    facts["multiprocessors"] = int(facts["multiprocessors"])
    return facts


def read_exported_profile(path: Path) -> tuple[list[tuple[str, float]], int | None, list[str]]:
    """The layers of trtexec's --exportProfile file, ``[{"count": N}, {"name", "timeMs", "averageMs", "medianMs",
    "percentage"}, ...]`` (samples/common/sampleReporting.cpp, Profiler::exportJSONProfile), as (name, median ms),
    the inferences it counts, and notes; a one-line error for a file that is missing or not such a profile."""
    try:
        with artifacts.open_regular(path) as handle:
            data = handle.read()
    except OSError as exc:
        raise TrtbenchError(f"trtexec wrote no per-layer profile (--exportProfile): {exc.strerror or exc}") from None
    try:
        entries = _profile_json(data)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise TrtbenchError(f"trtexec's per-layer profile {path.name} is not JSON: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict) or "count" not in entries[0]:
        raise TrtbenchError(f"trtexec's per-layer profile {path.name} is not a list that begins with its count")
    count = entries[0]["count"]
    layers: list[tuple[str, float]] = []
    averaged = 0
    for index, entry in enumerate(entries[1:], start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        median = entry.get("medianMs") if isinstance(entry, dict) else None
        if not _time(median) and isinstance(entry, dict):
            median = entry.get("averageMs")
            averaged += 1
        if not isinstance(name, str) or not isinstance(median, int | float) or not _time(median):
            raise TrtbenchError(f"trtexec's per-layer profile {path.name}: entry {index} is not a layer with a name "
                                "and a time in ms")
        layers.append((name, float(median)))
    if not layers:
        raise TrtbenchError(f"trtexec's per-layer profile {path.name} holds no layer")
    notes = []
    if averaged:
        notes.append(f"trtexec gave no median for {averaged} of {len(layers)} layers (no medianMs): their time is "
                     "their mean (averageMs)")
    return layers, count if type(count) is int and count > 0 else None, notes


def _profile_json(data: bytes) -> Any:
    """JSON, where trtexec's own writer may have put C++'s nan or inf (a percentage of a total of 0)."""
    try:
        return artifacts.parse_json(data)
    except ValueError:
        text = data.decode("utf-8")
        return json.loads(re.sub(r"(:\s*)-?(?:nan|inf)\b", r"\1null", text))


def engine_facts(text: str) -> tuple[dict, float | None]:
    """What trtexec's output says of its engine: ``plan_bytes`` ("Created engine with size") and
    ``device_memory_bytes`` ("Created execution context with device memory size", device_memory_size_v2), each
    from MiB to 6 significant digits; and the seconds "Engine deserialized in" (None where not printed)."""
    def number(pattern: re.Pattern, group: str) -> float | None:
        found = pattern.search(text)
        try:
            value = float(found[group]) if found else None
        except ValueError:  # "1e" and the like: the pattern's characters, not a number
            return None
        return value if _time(value) else None

    facts = {}
    for key, pattern in (("plan_bytes", _ENGINE_SIZE), ("device_memory_bytes", _CONTEXT_MEMORY)):
        mib = number(pattern, "mib")
        if mib:  # "Created engine with size: 0 MiB" comes of a failed build
            facts[key] = round(mib * 2**20)
    return facts, number(_DESERIALIZED, "s")


def _check_exit(output: str, returncode: int, failed: str) -> None:
    """A one-line error, ``failed`` and trtexec's last error line, unless trtexec exited with 0."""
    if returncode != 0:
        errors = [line for line in output.splitlines() if "[E]" in line]
        raise TrtbenchError(f"{failed}: {errors[-1].strip() if errors else f'exit status {returncode}'}")


def _time(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


class TimingCache:
    """trtexec's timing cache, kept in engines/ as an artifact keyed by trtexec's TensorRT version and
    the GPU (name, compute capability, SM count).

    trtexec opens and rewrites the file it is given whenever it likes, so it never gets this one: it
    gets a private copy of the checked bytes (or none, when the cache is from another TensorRT or GPU,
    damaged, or not a regular file), and what it wrote there is recorded back after a run that
    succeeded on the GPU the cache was offered for.
    """

    def __init__(self, path: Path, version: str, gpu: Callable[[], dict | None], learned: Callable[[dict], None]):
        self.path, self.version = Path(path), version
        self.gpu, self.learned = gpu, learned
        self.offered_for: dict | None = None  # the key of the run in progress, where it was known before
        self.offered = False
        self.recorded: str | None = None  # sha256 of what the last run left, once recorded

    def key(self, gpu: dict) -> dict:
        return {"tensorrt": self.version, **gpu}

    def offer(self, private: Path, notes: list[str]) -> None:
        """Put the checked cache at ``private`` (trtexec's --timingCacheFile) where it fits this run."""
        gpu = self.gpu()
        self.offered_for = self.key(gpu) if gpu is not None else None
        self.offered = False
        if self.offered_for is None:
            return  # the GPU is not known before the run: trtexec starts an empty cache
        why = artifacts.why_not_reusable(self.path, TIMING_CACHE_KIND, self.offered_for, ENGINE_KEY_LABELS)
        if why is not None:
            if not why.startswith("no cached"):  # none yet, or not a regular file: nothing to say
                notes.append(f"trtexec's timing cache {self.path} not offered ({why}): replaced after this run")
            return
        found = artifacts.valid(self.path, TIMING_CACHE_KIND)
        self.offered = found is not None and artifacts.copy_matching(self.path, found.sha256, private)
        if not self.offered:
            notes.append(f"trtexec's timing cache {self.path} changed after it was checked: not offered, "
                         "replaced after this run")

    def record(self, private: Path, output: str, notes: list[str]) -> None:
        """Record what trtexec left at ``private`` as the cache of the GPU its output names."""
        ran_on = device_facts(output)
        if ran_on is not None:
            self.learned(ran_on)
        key = self.key(ran_on) if ran_on is not None else self.offered_for
        if key is None:
            notes.append(f"trtexec printed no device information: its timing cache was not kept in {self.path}")
            return
        if self.offered and key != self.offered_for:
            notes.append(f"trtexec ran on {key['gpu']} (compute capability {key['compute_capability']}, "
                         f"{key['multiprocessors']} SMs), not the GPU its timing cache was offered for: "
                         f"{self.path} was not updated")
            return
        try:
            with artifacts.open_regular(private) as handle:
                data = handle.read()
        except OSError:
            notes.append(f"trtexec wrote no timing cache: {self.path} was not updated")
            return
        self.recorded = artifacts.store(self.path, TIMING_CACHE_KIND, key, data).sha256

    def describe(self) -> dict:
        """For the record: the cache, whether trtexec was given it, and what it left."""
        return {"file": str(self.path), "offered": self.offered, "recorded_sha256": self.recorded}


@dataclass(frozen=True)
class TrtexecMode:
    """How one trtexec run builds and times: each toggle's value, the flags that set them (those
    of the build, then those of the timing), and for each toggle the flag that set it or the
    trtexec default that already gives it."""

    major: int
    precision: str
    settings: dict[str, Any]
    build_flags: tuple[str, ...]
    run_flags: tuple[str, ...]
    set_by: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict:
        """The toggles as trtexec runs them, for the record's ``method``."""
        return {"trtexec_major": self.major, **self.settings, "set_by": dict(self.set_by),
                "fp16_build": fp16_build(self.settings["typing"], self.precision)}


def trtexec_mode(major: int, config: EngineBuildConfig, precision: str) -> TrtexecMode:
    """The flags that make trtexec ``major`` run exactly ``config`` at ``precision``; a one-line
    error for what that major cannot run."""
    if major not in TRTEXEC_DEFAULTS:
        known = " and ".join(f"{m}.x" for m in TRTEXEC_DEFAULTS)
        raise TrtbenchError(f"trtexec from TensorRT {major}.x: trtbench knows the flags of trtexec {known} only")
    defaults, flags = TRTEXEC_DEFAULTS[major], TRTEXEC_FLAGS[major]
    wanted = {"typing": resolve_typing(major, config.typing, precision), "tf32": config.tf32,
              "data_transfers": config.data_transfers, "cuda_graph": config.cuda_graph, "spin_wait": SPIN_WAIT,
              "inflight": config.inflight}
    build: list[str] = []
    run: list[str] = []
    set_by: dict[str, str] = {}
    for toggle, value in wanted.items():
        if value == defaults[toggle]:
            set_by[toggle] = f"trtexec {major} default"
        elif (toggle, value) in flags:
            (build if toggle in BUILD_TOGGLES else run).append(flags[toggle, value])
            set_by[toggle] = flags[toggle, value]
        else:
            raise TrtbenchError(_cannot(major, toggle, value))
    if wanted["typing"] == "weak" and precision in ("fp16", "int8"):
        # weak typing builds from the FP32 graph (INT8: the FP32 Q/DQ graph); reduced precision comes
        # from the builder flags, FP16 beside INT8 so the layers outside the Q/DQ pairs may use it
        precision_flags = ["--fp16", "--int8"] if precision == "int8" else ["--fp16"]
        build[0:0] = precision_flags
        set_by["typing"] = " ".join(precision_flags)
    return TrtexecMode(major, precision, wanted, tuple(build), tuple(run), set_by)


def _cannot(major: int, toggle: str, value: Any) -> str:
    """The one-line refusal for a toggle value trtexec ``major`` has no flag for."""
    if toggle == "inflight":
        return (f"backend trtexec cannot run --inflight {value}: trtexec {major} keeps 2 inferences in flight, "
                f"or 1 with --exposeDMA (--infStreams adds streams, not depth)")
    return f"backend trtexec cannot run {toggle}={value}: trtexec {major} has no flag for it"


class TrtexecEngine(Engine):
    """One trtexec invocation that builds and times (model, precision, batch)."""

    spans = ("compute", "h2d", "d2h", "end_to_end", "enqueue")

    def __init__(self, command: list[str], batch: int, info: dict, mode: TrtexecMode,
                 version: str | None = None, popen: Popen = subprocess.Popen, timing_cache: TimingCache | None = None):
        super().__init__(batch, info=info)
        self.command = command
        self.mode = mode
        self.timing_cache = timing_cache
        self.popen = popen
        self.output = ""
        self.version = version
        self.full_command: list[str] = []
        self.graph_captured: bool | None = None  # None until a run with a CUDA graph requested says
        self.memory: dict = {}  # what trtexec's output said of the engine, once it has run

    def timed(self, policy: TimingPolicy, progress=None) -> Timed:
        """Run trtexec with ``policy``, reading its output as it comes, and parse its summary.

        trtexec prints nothing while it times; ``progress(queries, median_ms)`` is called once its
        summary gives both numbers.
        """
        with artifacts.scratch_dir("trtexec") as work:
            private = work / "timing.cache"
            cache_flags = []
            if self.timing_cache is not None:
                self.timing_cache.offer(private, self.warnings)
                cache_flags = [f"--timingCacheFile={private}"]
            times = work / "times.json"
            timed = self._run(self.command + cache_flags + [f"--exportTimes={times}"], policy, progress)
            if self.timing_cache is not None:
                self.timing_cache.record(private, self.output, self.warnings)
            timed.samples = self._samples(times, timed.iterations)
        if timed.samples and policy.stability is not None:
            timed.windows = windows_of(timed.samples, policy)
        return timed

    def _samples(self, times: Path, queries: int) -> list[float] | None:
        """The GPU compute time of each timed inference, from the file --exportTimes wrote (warm-up left out);
        None, with a warning, when it wrote none that can be read."""
        try:
            entries = artifacts.load_json(times)
            samples = [float(entry["computeMs"]) for entry in entries]
        except (*artifacts.JSON_ERRORS, TypeError, KeyError):
            samples = []
        if not samples or not all(math.isfinite(value) and value >= 0 for value in samples):
            self.warnings.append("trtexec wrote no per-inference times (--exportTimes): the percentiles are its "
                                 "summary's, without intervals, and no samples are kept")
            return None
        if queries and len(samples) != queries:
            self.warnings.append(f"trtexec's per-inference times hold {len(samples)} inferences where its summary "
                                 f"counts {queries}")
        return samples

    def _run(self, command: list[str], policy: TimingPolicy, progress) -> Timed:
        # trtexec times until both the duration and the count are reached: the count is raised to what the
        # percentiles asked for need (trtexec cannot extend a timing itself)
        iterations = max(policy.min_iterations, policy.needed_samples)
        command = command + [f"--warmUp={policy.warmup_ms:g}", f"--duration={policy.duration_s:g}",
                             f"--iterations={iterations}", "--percentile=90,95,99"]
        self.full_command = command
        queries: int | None = None
        echoed: dict[str, Any] = {}

        def read(line: str) -> None:
            nonlocal queries
            echo = _ECHO.search(line)
            if echo and echo["key"] in ECHOED:
                toggle, value = ECHOED[echo["key"]]
                echoed.setdefault(toggle, value(echo["value"]))
            counted = _QUERIES.search(line)
            if counted:
                queries = int(counted["n"])
            stats = _STATS.search(line)
            if progress is not None and stats and stats["name"] == "GPU Compute Time" and queries:
                progress(queries, float(stats["median"]))

        self.output, returncode = self._invoke(command, read)
        self.version = tensorrt_version(self.output) or self.version
        _check_exit(self.output, returncode, "trtexec failed")
        self.memory, self.load_s = engine_facts(self.output)
        self._check_echo(echoed)
        if self.mode.settings["cuda_graph"]:
            self.graph_captured = _GRAPH_FAILED not in self.output
            if not self.graph_captured:
                self.warnings.append("trtexec could not capture a CUDA graph (the engine has operations a capture "
                                     "does not permit); it timed plain enqueues instead")
        return parse_summary(self.output)

    def _invoke(self, command: list[str], read: Callable[[str], None] | None) -> tuple[str, int]:
        """Run trtexec, handing each line of its output to ``read`` as it comes; its whole output and exit status."""
        lines: list[str] = []
        try:
            process = self.popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 errors="replace", bufsize=1)
        except OSError as exc:
            raise TrtbenchError(f"could not start trtexec: {exc}") from None
        with process:
            try:
                for line in process.stdout:
                    lines.append(line)
                    if read is not None:
                        read(line)
            except BaseException:
                # Ctrl-C or a failing callback must not leave trtexec holding the GPU
                process.kill()
                raise
            returncode = process.wait()
        return "".join(lines), returncode

    def profile_layers(self, iterations: int) -> LayerProfile:
        """trtexec's own per-layer profile, in a run of its own after the timed one: the engine built again as
        the timed run built it (same graph, flags and timing cache) with detailed layer information, and
        ``iterations`` inferences profiled after its timing; each layer tied to ONNX nodes through the layer
        information it exports."""
        from trtbench.backends.tensorrt_engine import read_engine_information
        from trtbench.backends.tensorrt_profile import NOT_DETAILED, graph_order, tensorrt_layers

        self._require_active()
        if iterations < 1:
            raise TrtbenchError(f"profiling needs at least 1 iteration, not {iterations}")
        with artifacts.scratch_dir("trtexec-profile") as work:
            profile_file, layer_file = work / "profile.json", work / "layers.json"
            command = [*self.command, *PROFILE_FLAGS[self.mode.major]]
            if self.timing_cache is not None:
                private = work / "timing.cache"
                self.timing_cache.offer(private, [])  # read only: the timed run keeps what it learned
                command.append(f"--timingCacheFile={private}")
            command += [f"--exportProfile={profile_file}", f"--exportLayerInfo={layer_file}", "--warmUp=0",
                        "--duration=0", f"--iterations={iterations}"]
            _check_exit(*self._invoke(command, None), "trtexec's profile run failed")
            timed, count, notes = read_exported_profile(profile_file)
            try:
                with artifacts.open_regular(layer_file) as handle:
                    inspected = read_engine_information(handle.read().decode("utf-8", errors="replace"))
                why = NOT_DETAILED
            except OSError:
                inspected, why = None, "trtexec wrote no layer information (--exportLayerInfo)"
        layers, tied = tensorrt_layers(timed, inspected, graph_order(self.info.get("graph")), why)
        notes = [*notes, *tied,
                 "trtexec reports no per-inference sums: the total is the sum of the layers' medians",
                 "trtexec built the engine again for the profile, as the timed run built it (same graph, flags and "
                 "timing cache)"]
        return LayerProfile(PROFILE_ENGINE, count or iterations, layers, sum(ms for _, ms in timed), notes)

    def concurrent(self, requests: int):
        """Not through runners: trtexec times itself in its own process, so trtbench cannot call its inferences."""
        raise TrtbenchError(f"trtexec times itself, so trtbench cannot run {requests!r} of its requests at once; "
                            "trtexec's own --infStreams is not wired yet: use --backend tensorrt (execution contexts "
                            "on streams of their own)")

    def memory_facts(self) -> dict:
        """What trtexec said of the engine it ran (``plan_bytes``, ``device_memory_bytes``; from MiB to 6
        significant digits); {} until it has run. trtexec prints no weights size and no per-profile memory."""
        return dict(self.memory)

    def _check_echo(self, echoed: dict[str, Any]) -> None:
        """Fail when trtexec's echo of its options contradicts the mode its flags were chosen for: a
        trtexec whose defaults are not the ones in TRTEXEC_DEFAULTS would otherwise be mislabelled."""
        for toggle, ran in echoed.items():
            wanted = self.mode.settings[toggle]
            if ran != wanted:
                raise TrtbenchError(f"trtexec {self.version or self.mode.major} ran {toggle}={ran} where its flags "
                                    f"asked for {toggle}={wanted}: its defaults differ from trtbench's table "
                                    f"for trtexec {self.mode.major}")

    def describe(self) -> dict:
        """What trtexec ran: its command, TensorRT version and every toggle as set for this run."""
        described = {"timer": "trtexec's own (CUDA events)", "command": " ".join(self.full_command or self.command),
                     "tensorrt": self.version, "percentile": "trtexec's nearest-rank percentiles",
                     "load": "trtexec's 'Engine deserialized in' (the runtime and the deserialization; trtexec "
                             "does not time the context)",
                     **self.mode.describe()}
        # as the tensorrt backend records it: what ran, and what was asked for
        described["cuda_graph_requested"] = self.mode.settings["cuda_graph"]
        if self.graph_captured is False:
            described["cuda_graph"] = False
        if self.timing_cache is not None:
            described["timing_cache"] = self.timing_cache.describe()
        return described


class TrtexecBackend(Backend):
    """Runs `trtexec` from PATH. It times engines itself and cannot run inferences for trtbench."""

    name = "trtexec"
    metric = "GPU compute time (trtexec)"
    gpu = True
    precisions = ("fp32", "fp16", "int8")
    config_class = EngineBuildConfig
    can_infer = False
    config: EngineBuildConfig

    def __init__(self, config: EngineBuildConfig | None = None, calibration: Calibration | None = None,
                 executable: str | None = None, popen: Popen = subprocess.Popen,
                 device_properties: Callable[[], dict] | None = None):
        super().__init__(config, calibration)
        self.executable = executable or shutil.which("trtexec")
        self.popen = popen
        self._version: str | None = None
        self._device_properties = device_properties or _cuda_device_properties
        self._gpu: dict | None = None
        self._gpu_asked = False

    @classmethod
    def checks(cls) -> list[Check]:
        """`trtbench doctor`'s line: where trtexec is, or how to get it."""
        found = shutil.which("trtexec")
        return [Check("trtexec", found or "", "trtexec backend",
                      "" if found else "install TensorRT (its bin/ holds trtexec) and add it to PATH")]

    def availability_impl(self) -> Availability:
        """Available when a trtexec executable was found."""
        if not self.executable:
            return Availability(False, "trtexec is not on PATH",
                                "install TensorRT (its bin/ holds trtexec) and add it to PATH")
        return Availability(True, f"trtexec at {self.executable}")

    def device(self) -> str:
        """The GPU trtexec runs on, by name."""
        from trtbench.measure.gpu import gpu_name

        return gpu_name() or "NVIDIA GPU"

    def _executable(self) -> str:
        if not self.executable:
            self.require()
        assert self.executable is not None
        return self.executable

    def graph_files(self, onnx_path: Path, precision: str) -> list[Path]:
        """The export, and the graph trtexec parses under this trtexec's typing (where its version
        cannot be read here, the graph of each typing)."""
        try:
            typings = [trtexec_mode(int(self.version().split(".")[0]), self.config, precision).settings["typing"]]
        except Exception:  # no trtexec here: a cluster's nodes may have either major
            typings = ["weak", "strong"]
        graphs = [network_graph(Path(onnx_path), precision, typing, self.calibration) for typing in typings]
        return list(dict.fromkeys([Path(onnx_path), *graphs]))

    def build(self, onnx_path: Path, precision: str, batch: int, cache_dir: Path) -> Engine:
        """The trtexec command for (graph, precision, batch) with the flags its major needs; trtexec
        builds and times in one run, so nothing runs here but `trtexec --help`, once."""
        options = self.config
        executable = self._executable()
        version = self.version()
        mode = trtexec_mode(int(version.split(".")[0]), options, precision)
        graph = network_graph(Path(onnx_path), precision, mode.settings["typing"], self.calibration)
        command = [executable, f"--onnx={graph}", f"--shapes=x:{batch}x{'x'.join(map(str, INPUT_SHAPE))}",
                   f"--builderOptimizationLevel={options.opt_level}", *mode.build_flags]
        if options.workspace_mib is not None:
            command.append(f"--memPoolSize=workspace:{options.workspace_mib}M")
        command += mode.run_flags
        # a file apart from the tensorrt backend's: trtexec's TensorRT may not be the Python one
        cache = TimingCache(Path(cache_dir) / TIMING_CACHE_FILE, version, self.gpu_facts, self._learned) \
            if options.timing_cache else None
        return TrtexecEngine(command, batch, info={"typing": mode.settings["typing"], "graph": str(graph),
                                                   "fp16_build": fp16_build(mode.settings["typing"], precision),
                                                   "tensorrt": version},
                             mode=mode, version=version, popen=self.popen, timing_cache=cache)

    def energy(self):
        """Not read: trtexec builds and times in one process of its own, so its timed window cannot be told apart
        from its build."""
        from trtbench.measure.energy import CaseEnergy, Unreadable

        return CaseEnergy(Unreadable("trtexec builds and times in one run: its timed window cannot be read apart"))

    def gpu_facts(self) -> dict | None:
        """The GPU trtexec will run on (name, compute capability, SM count), before it runs: as an earlier
        trtexec run printed it, else from the CUDA bindings; None when neither can tell."""
        if self._gpu is None and not self._gpu_asked:
            self._gpu_asked = True
            try:
                props = self._device_properties()
                self._gpu = {"gpu": props["name"], "compute_capability": props["compute_capability"],
                             "multiprocessors": props["multiprocessor_count"]}
            except Exception:  # no CUDA bindings or driver here: trtexec's own output will tell
                self._gpu = None
        return self._gpu

    def _learned(self, gpu: dict) -> None:
        self._gpu = gpu

    def version(self) -> str:
        """The TensorRT version of the trtexec this backend runs, from the banner of `trtexec --help`;
        asked once per backend."""
        if self._version is None:
            executable = self._executable()
            try:
                with self.popen([executable, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace") as process:
                    try:
                        output, _ = process.communicate(timeout=HELP_TIMEOUT_S)
                    except subprocess.TimeoutExpired:
                        process.kill()  # leaving the with block waits for it
                        raise
            except (OSError, subprocess.SubprocessError) as exc:
                raise TrtbenchError(f"could not run '{executable} --help' to learn its TensorRT version: "
                                    f"{exc}") from None
            version = tensorrt_version(output or "")
            if version is None:
                raise TrtbenchError(f"cannot tell which TensorRT '{executable}' is from: its --help printed no "
                                    "'[TensorRT vNNNNNN]' banner")
            self._version = version
        return self._version


def _cuda_device_properties() -> dict:
    """The CUDA bindings' view of the GPU trtexec runs on (device 0 of those CUDA_VISIBLE_DEVICES leaves,
    as trtexec's default --device)."""
    from trtbench.measure.cuda import load_cuda

    return load_cuda("auto").device_properties()
