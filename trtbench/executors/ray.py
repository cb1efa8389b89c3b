"""A sweep's cases as Ray tasks across a cluster: `trtbench run ... --ray [ADDRESS]`.

Each case is one Ray task that measures it with ``bench.run_case`` on the node Ray gives it, as a
local sweep does. A GPU case asks for one whole GPU; a CPU case asks for every CPU of its node, so
no two timings share a device (and each node's device lock keeps other trtbench runs off it). An
engine is built on the node that times it (it belongs to one GPU model and TensorRT version); the
graphs it is built from (the export, the FP16 or INT8 graph, Paddle's model) are made by the
driver and travel through Ray's object store, checked against their sha256 on arrival. Records
come back as cases end; a task whose worker or node is lost is retried once by Ray, then recorded
as failed, naming the node.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import math
import os
import platform
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from trtbench.backends.base import Backend
from trtbench.errors import MissingDependency, TrtbenchError
from trtbench.executors import Executor, Sweep, Work
from trtbench.executors.case import Case
from trtbench.store.records import LatencyRecord, record_from_json
from trtbench.store.results import timestamp

#: the seconds the driver waits for a record before it looks for Ctrl-C again
POLL_S = 0.5

#: the seconds --ray waits for a cluster to answer, unless --ray-timeout says otherwise
CONNECT_TIMEOUT_S = 30.0

#: what --ray takes for "a local cluster of this machine" (and "none", which the help once said)
LOCAL = ("", "local", "none")

#: the first bytes an HTTP/2 client sends (the connection preface and an empty SETTINGS frame); a gRPC
#: server, as Ray's GCS is, answers with a SETTINGS frame of its own
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_HTTP2_SETTINGS = 4


@dataclass(frozen=True)
class Node:
    """A live node of the cluster and its devices, as a task on it saw them."""

    node_id: str
    host: str
    cpus: int  # the CPUs Ray may give a task there
    cpu: str  # the CPU's model
    gpus: tuple[str, ...]  # the GPUs' names

    def kinds(self, gpu: bool) -> list[str]:
        """The kinds of device a GPU (or CPU) backend finds here."""
        return list(dict.fromkeys(self.gpus)) if gpu else [self.cpu]


def import_ray():
    """The ray module, or one line naming the extra that brings it."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "needed by --ray") from None
    return ray


class RayExecutor(Executor):
    """Runs each case as a Ray task on a cluster at ``address`` ("auto", host:port, or None: a local
    cluster of this machine); ``per_device_type`` runs every case once on each kind of device
    (GPU name, or CPU model for CPU backends), ``devices`` keeps only the kinds it names."""

    checks_here = False

    def __init__(self, address: str | None = None, per_device_type: bool = False, devices: Sequence[str] = (),
                 timeout: float = CONNECT_TIMEOUT_S):
        self.address = None if (address or "").strip().lower() in LOCAL else address
        self.per_device_type = per_device_type
        self.devices = tuple(devices)
        self.timeout = timeout
        self._nodes: list[Node] | None = None
        self._started = False

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> RayExecutor:
        return cls(described.get("address"), bool(described.get("per_device_type")),
                   tuple(described.get("devices") or ()), float(described.get("timeout") or CONNECT_TIMEOUT_S))

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": "ray", "address": self.address,
                                     "per_device_type": self.per_device_type, "devices": list(self.devices)}
        if self.timeout != CONNECT_TIMEOUT_S:  # plans written before --ray-timeout read the same
            described["timeout"] = self.timeout
        return described

    # --- the cluster -----------------------------------------------------------------------------

    def connect(self):
        """The ray module, connected to the cluster (a local one started here when no address)."""
        ray = import_ray()
        if ray.is_initialized():
            return ray
        where = self.address or "a local cluster"
        if self.address is not None and self.address.lower() != "auto":
            check_answers(self.address, self.timeout)
            # the bound for Ray's own connection, should the cluster stop answering after the check
            os.environ.setdefault("RAY_gcs_rpc_server_connect_timeout_s", str(max(1, math.ceil(self.timeout))))
        try:
            # Ctrl-C while Ray starts its processes would leave some running, untracked: it is held until
            # start-up ends, then the cluster is stopped and the interrupt goes on
            with signals_held() as held:
                if self.address is None:
                    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                             runtime_env={"env_vars": local_worker_env()})
                else:
                    ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
                self._started = True
                if held:
                    self._stop(ray)
        except Exception as exc:  # ConnectionError, or Ray's own errors for a bad address
            raise TrtbenchError(f"cannot connect to the Ray cluster at {where}: {_first_line(exc)}; start one with "
                                "`ray start --head`, or give its address to --ray") from None
        return ray

    def close(self) -> None:
        """Stop the cluster this executor started (not one it joined)."""
        if self._started:
            with signals_held():  # a shutdown cut short leaves Ray's processes behind
                self._stop(import_ray())

    def _stop(self, ray) -> None:
        ray.shutdown()
        self._started = False
        self._nodes = None

    def nodes(self) -> list[Node]:
        """The live nodes and their devices, asked of a task on each."""
        if self._nodes is not None:
            return self._nodes
        ray = self.connect()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        alive = [n for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(describe_node)
        answers = ray.get([probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote() for n in alive])
        self._nodes = [Node(n["NodeID"], found["host"], int(n.get("Resources", {}).get("CPU", 0)), found["cpu"],
                            tuple(found["gpus"])) for n, found in zip(alive, answers, strict=True)]
        return self._nodes

    # --- planning --------------------------------------------------------------------------------

    def expand(self, work: Sequence[Work]) -> list[Work]:
        """Each case once (or, with --per-device-type, once per kind of device), with the kind of
        device it runs on; one line when the cluster has no device for a backend."""
        nodes = self.nodes()
        expanded = []
        spread = itertools.count()
        for backend, case in work:
            kinds = self._kinds(nodes, backend)
            chosen = kinds if self.per_device_type else [kinds[next(spread) % len(kinds)]]
            expanded += [(backend, Case(case.model, case.precision, case.batch, case.backend, kind))
                         for kind in chosen]
        return expanded

    def _kinds(self, nodes: list[Node], backend: Backend) -> list[str]:
        kinds = list(dict.fromkeys(kind for node in nodes for kind in node.kinds(backend.gpu)))
        if self.devices:
            kinds = [kind for kind in kinds if any(name.lower() in kind.lower() for name in self.devices)]
        if not kinds:
            what = "GPU" if backend.gpu else "CPU"
            named = f" named like {', '.join(self.devices)}" if self.devices else ""
            found = sorted({kind for node in nodes for kind in node.kinds(backend.gpu)})
            raise TrtbenchError(f"no node of the Ray cluster has a {what}{named} for {backend.name} (it has: "
                                f"{', '.join(found) or 'none'}); see --devices")
        return kinds

    def placement(self, backend: Backend, case: Case, turn: int) -> tuple[Node, dict[str, Any]]:
        """The node a case runs on and the task options that take its device whole: one GPU, or
        every CPU of the node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        fit = [node for node in self.nodes() if case.device in node.kinds(backend.gpu)]
        if not fit:
            raise TrtbenchError(f"no live node of the Ray cluster has {case.device} for {case.label()}")
        node = fit[turn % len(fit)]
        resources = {"num_gpus": 1, "num_cpus": 1} if backend.gpu else {"num_cpus": max(node.cpus, 1)}
        return node, {**resources, "max_retries": 1, "retry_exceptions": False,
                      "scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=False)}

    # --- running ---------------------------------------------------------------------------------

    def run(self, sweep: Sweep) -> None:
        ray = self.connect()
        try:
            self._run(ray, sweep)
        finally:
            self.close()

    def _run(self, ray, sweep: Sweep) -> None:
        shipped = self._ship(ray, sweep)
        task = ray.remote(measure_case)
        pending: dict[Any, tuple[Backend, Case, Node]] = {}
        for turn, (backend, case) in enumerate(sweep.work):
            node, options = self.placement(backend, case, turn)
            payload = {"backend": backend.name, "config": backend.config.describe(),
                       "calibration": _calibration(backend), "case": _case_json(case),
                       "graph": sweep.graphs[case.model].name, "policy": sweep.policy.describe(),
                       "verify": sweep.check is not None}
            files = shipped[(backend.name, case.model, case.precision)]
            if isinstance(files, str):  # its export is not the one the run planned: refused, not sent
                sweep.finished(backend, case, _failed(backend, case, node, files))
                continue
            pending[task.options(**options).remote(payload, files)] = (backend, case, node)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in done:
                    backend, case, node = pending.pop(ref)
                    sweep.finished(backend, case, self._record(ray, ref, backend, case, node))
        except BaseException:
            for ref in pending:  # Ctrl-C: the cases under way stop; their records are not made
                ray.cancel(ref, force=True)
            raise

    def _ship(self, ray, sweep: Sweep) -> dict[tuple[str, str, str], list | str]:
        """Each file an engine is built from, put once into the object store: (name, sha256, ref)
        per (backend, model, precision); in their place, why not, where the export sent is not the
        one the run's plan names."""
        from trtbench.executors.case import export_changed

        refs: dict[Path, tuple[str, str, Any]] = {}
        shipped: dict[tuple[str, str, str], list | str] = {}
        for backend, case in sweep.work:
            key = (backend.name, case.model, case.precision)
            if key in shipped:
                continue
            graph = sweep.graphs[case.model]
            files = backend.graph_files(graph, case.precision)
            if sweep.check is not None:  # the output check runs Paddle's model on the node
                from trtbench.models.export import paddle_model_for

                files += list(paddle_model_for(graph))
            with_metadata = [p for f in dict.fromkeys(files) for p in (f, f.with_name(f.name + ".json"))
                             if p.is_file()]
            for path in with_metadata:
                if path not in refs:
                    data = path.read_bytes()  # hashed as sent: a file replaced meanwhile is not sent under the old hash
                    refs[path] = (path.name, hashlib.sha256(data).hexdigest(), ray.put(data))
            planned, sent = sweep.exports.get(case.model), refs.get(graph)
            if planned is not None and (sent is None or sent[1] != planned):
                shipped[key] = export_changed(case.model, graph, planned, sent[1] if sent else None)
            else:
                shipped[key] = [refs[path] for path in with_metadata]
        return shipped

    def _record(self, ray, ref, backend: Backend, case: Case, node: Node) -> LatencyRecord:
        """The record a task sent back, or a failed one naming the node when the task was lost."""
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the task itself raised (a graph that arrived damaged)
            cause = getattr(exc, "cause", None) or exc
            return _failed(backend, case, node, f"failed on node {node.host}: {_first_line(cause)}")
        except Exception as exc:  # WorkerCrashedError, NodeDiedError, TaskUnschedulableError, OutOfMemoryError
            return _failed(backend, case, node, f"lost on node {node.host} ({node.node_id[:12]}), retried once by "
                                                f"Ray and lost again: {type(exc).__name__}: {_first_line(exc)}")
        record = record_from_json(answer["record"], where=f"the record from node {answer['node']}")
        if not isinstance(record, LatencyRecord):
            raise TrtbenchError(f"node {answer['node']} sent back a {record.kind} record for a timed case")
        record.environment = answer["environment"]
        return record


def _failed(backend: Backend, case: Case, node: Node, error: str) -> LatencyRecord:
    record = LatencyRecord(model=case.model, precision=case.precision, batch=case.batch, backend=backend.name,
                           device=case.device, metric=backend.metric, node=node.host)
    record.failed(error)
    record.finished_at = timestamp()
    return record


def split_address(address: str) -> tuple[str, int]:
    """The host and port of a cluster address (host:port, [v6]:port, or ray://host:port); ValueError
    naming the form when it is not one."""
    rest = address.strip()
    if rest.lower().startswith("ray://"):
        rest = rest[len("ray://"):]
    host, colon, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"the Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379), auto or local")
    return host, int(port)


def check_answers(address: str, timeout: float) -> None:
    """Return once something at ``address`` answers as Ray's GCS does (a gRPC server), within
    ``timeout`` seconds; else one line naming the address and what answered: no such host, refused,
    timed out, or a server that is not Ray's."""
    host, port = split_address(address)
    deadline = time.monotonic() + timeout

    def fail(what: str) -> NoReturn:
        raise TrtbenchError(f"cannot connect to the Ray cluster at {address}: {what}; check the address, or start "
                            "one there with `ray start --head`")

    found: list = []
    lookup = threading.Thread(target=_lookup, args=(host, port, found), daemon=True)  # getaddrinfo has no timeout
    lookup.start()
    lookup.join(timeout)
    if not found:
        fail(f"looking up {host} timed out after {timeout:g} s")
    if isinstance(found[0], OSError):
        fail(f"no such host ({host})" if isinstance(found[0], socket.gaierror) else
             f"looking up {host} failed ({found[0].strerror or found[0]})")
    last: OSError | None = None
    for family, kind, proto, _, where in found[0]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(remaining)
            try:
                sock.connect(where)
            except OSError as exc:
                last = exc
                continue
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock.sendall(_HTTP2_HELLO)
                answer = _read(sock, 9)
            except TimeoutError:
                fail(f"the port accepted the connection but nothing answered within {timeout:g} s (is {port} the "
                     "head node's GCS port, 6379 unless `ray start --port` said otherwise?)")
            except OSError as exc:
                answer, last = b"", exc
            if len(answer) == 9 and answer[3] == _HTTP2_SETTINGS:
                return
            fail("something answered there, but not as a Ray cluster does (is it the head node's GCS port, "
                 "6379 unless `ray start --port` said otherwise?)")
    if isinstance(last, ConnectionRefusedError):
        fail("connection refused (no Ray cluster listens on that port)")
    if last is None or isinstance(last, TimeoutError):
        fail(f"no answer within {timeout:g} s (timed out; see --ray-timeout)")
    fail(f"{last.strerror or _first_line(last)}")


def _lookup(host: str, port: int, found: list) -> None:
    try:
        found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except OSError as exc:
        found.append(exc)


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM while the block runs, then deliver the first that came; yields the
    signals held so far (the block may look and stop what it started). In the main thread only:
    elsewhere signals do not arrive anyway."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)

    before: dict[int, Any] = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for signum, handler in before.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if held:
            # the handler that was there is called as the signal would have called it (a Python handler raises
            # here, in this frame); a default or ignored disposition gets the signal itself
            restored = before[held[0]]
            if callable(restored):
                restored(held[0], None)
            else:
                signal.raise_signal(held[0])


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- what runs on the nodes --------------------------------------------------------------------------


def describe_node() -> dict[str, Any]:
    """This node's host name, CPU model and GPU names (run as a task on each node)."""
    from trtbench import envinfo
    from trtbench.measure.gpu import gpus

    return {"host": platform.node(), "cpu": envinfo.cpu_name(), "gpus": [g["name"] for g in gpus()]}


def node_cache() -> Path:
    """Where a node keeps the graphs it received and the engines it built."""
    return Path(os.environ.get("TRTBENCH_NODE_CACHE") or Path.home() / ".cache" / "trtbench" / "node")


def measure_case(payload: dict[str, Any], files: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """One case measured on this node, as a local sweep measures it; returns the record's JSON form,
    this node's name and its environment."""
    import ray

    from trtbench import backends
    from trtbench.executors.case import run_case
    from trtbench.executors.environment import environment
    from trtbench.graphs.precision import Calibration
    from trtbench.measure.devicelock import timed_alone
    from trtbench.measure.timing import TimingPolicy

    case = Case(**payload["case"])
    calibration = payload["calibration"]
    backend = backends.backend_class(payload["backend"])(
        backends.config_for(payload["backend"], payload["config"]),
        None if calibration is None else Calibration(tuple(Path(p) for p in calibration["images"]),
                                                     calibration["seed"], calibration["key"]))
    refused = _refusal(backend, case.precision)
    if refused:
        record = LatencyRecord(model=case.model, precision=case.precision, batch=case.batch, backend=backend.name,
                               device=case.device, metric=backend.metric, node=platform.node())
        record.failed(refused)
        record.finished_at = timestamp()
        return {"record": record.to_json(), "node": platform.node(),
                "environment": environment([(backend.name, case.device)])}
    folder = node_cache() / "graphs" / _folder_name(files)
    for name, sha256, ref in files:
        _arrive(folder / name, sha256, ref, ray)
    check = None
    if payload["verify"]:
        from trtbench.checks.verify import OutputCheck

        check = OutputCheck({case.model: folder / payload["graph"]})
    record = run_case(backend, case, folder / payload["graph"], node_cache() / "engines",
                      TimingPolicy(**payload["policy"]), None, check,
                      exclusive=lambda b: timed_alone(b.device_key()))
    return {"record": record.to_json(), "node": platform.node(),
            "environment": environment([(backend.name, record.device)])}


def _refusal(backend: Backend, precision: str) -> str:
    """Why this node cannot run ``precision`` on ``backend`` (not installed, not native here), or ''."""
    state = backend.availability()
    if not state.ok:
        return f"backend {backend.name} is not available on node {platform.node()}: {state.reason}"
    ok, reason = backend.runs(precision)
    return "" if ok else f"{backend.name} does not run {precision} natively on node {platform.node()}: {reason}"


def _arrive(target: Path, sha256: str, ref, ray) -> None:
    """Write a received file where it belongs, unless it is already there; a file whose bytes do not
    hash to what the driver sent is refused."""
    from trtbench.store.artifacts import atomic_write_bytes, current_sha256

    if target.is_file() and current_sha256(target) == sha256:
        return
    data = ray.get(ref)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise TrtbenchError(f"{target.name} arrived damaged on node {platform.node()} (its sha256 is not the "
                            "driver's): run the case again")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)


def _folder_name(files: list[tuple[str, str, Any]]) -> str:
    """One folder per set of files (so exports of other weights never meet)."""
    return hashlib.sha256("".join(sorted(sha for _, sha, _ in files)).encode()).hexdigest()[:16]


def _calibration(backend: Backend) -> dict | None:
    calibration = backend.calibration
    if calibration is None:
        return None
    return {"images": [str(p) for p in calibration.images], "seed": calibration.seed, "key": calibration.key()}


def _case_json(case: Case) -> dict[str, Any]:
    return {"model": case.model, "precision": case.precision, "batch": case.batch, "backend": case.backend,
            "device": case.device}


def local_worker_env() -> dict[str, str]:
    """The workers of a local cluster import the trtbench this driver runs."""
    import trtbench

    source = str(Path(trtbench.__file__).resolve().parents[1])
    return {"PYTHONPATH": os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)}
