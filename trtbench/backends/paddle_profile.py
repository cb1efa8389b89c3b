"""Paddle Inference's per-layer profile: paddle.profiler's operator events, one per op and inference,
put on the ops of the program Paddle optimized, and from there on the ONNX nodes of the export.

The events name an op's type only ("onednn_op.fused_conv2d"), not which op it was. The profiled
predictor runs its ops one after another in program order (FLAGS_new_executor_sequential_run), so
the n-th event of an inference is the n-th op of the optimized program that runs at every inference;
events of a type the program does not hold there are ops Paddle inserted when it chose kernels
(layout changes such as onednn_to_paddle_layout). Where the events do not follow the program, the
times are summed by operator type and mapped to nothing.

The ONNX graph is converted from the same Paddle program, and both keep its parameter names (the
graph's initializers) and the names of its inputs and outputs. An op that reads parameters covers the
ONNX nodes reading the same ones (a convolution with its batch norm folded in: Conv and
BatchNormalization); what lies between is traced by tensors, the way covered_nodes in
trtbench.backends.onnxruntime traces ONNX Runtime's optimized graph.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trtbench.measure.profile import Layer, LayerProfile

if TYPE_CHECKING:
    import onnx

#: how the profile says it was made (LayerProfile.engine)
PROFILER = "Paddle profiler"
#: the ONNX ops an op of Paddle's without parameters may stand for, by its type
_ONNX_OPS = {
    "pool2d": ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"),
    "relu": ("Relu",), "sigmoid": ("Sigmoid",), "tanh": ("Tanh",), "softmax": ("Softmax",),
    "add": ("Add",), "elementwise_add": ("Add",), "fused_elementwise_add": ("Add",), "multiply": ("Mul",),
    "flatten": ("Flatten",), "reshape": ("Reshape",), "transpose": ("Transpose",), "concat": ("Concat",),
    "matmul": ("MatMul", "Gemm"), "fused_matmul": ("MatMul", "Gemm"),
}
#: ops Paddle adds to its program to change a tensor's data type or layout: the same tensor to the ONNX graph
CONVERSIONS = ("quantize", "dequantize", "requantize", "reorder", "transfer_layout", "onednn_to_paddle_layout")
# the parameter op of a saved PIR program, and the ops that feed and fetch
_PARAMETER, _DATA, _FETCH = "p", "data", "fetch"


@dataclass(frozen=True)
class ProgramOp:
    """An op of the optimized program that runs at every inference."""

    kind: str  # its type without the dialect: "fused_conv2d"
    inputs: tuple[int, ...]  # the values it reads that change with the input (data path), in order
    outputs: tuple[int, ...]
    parameters: tuple[str, ...]  # the parameters its other inputs are computed from
    activation: str = ""  # a fused activation ("relu"), where it has one
    precision: str | None = None


@dataclass
class Program:
    """What the profile needs of a saved PIR program."""

    ops: list[ProgramOp] = field(default_factory=list)  # in program order
    feeds: dict[int, str] = field(default_factory=dict)  # value -> input name
    fetches: dict[int, str] = field(default_factory=dict)  # value -> output name


def short_kind(name: str) -> str:
    """An op type without its dialect: "fused_conv2d" for "onednn_op.fused_conv2d" or "1.fused_conv2d"."""
    return name.rsplit(".", 1)[-1]


def read_program(data: Any, precision_of=None) -> Program:
    """The ops of a saved PIR program (its JSON, parsed) that run at every inference: those reading the
    fed input, directly or not. ValueError where ``data`` is not such a program."""
    block = _top_block(data)
    constant: dict[int, frozenset[str]] = {}  # value -> the parameters it is computed from
    runtime: set[int] = set()
    program = Program()
    for op in block:
        if not isinstance(op, dict) or not isinstance(op.get("#"), str):
            raise ValueError("an op without a type")
        kind = short_kind(op["#"])
        inputs, outputs, attributes = _values(op.get("I")), _values(op.get("O")), _attributes(op)
        if kind == _PARAMETER:
            name = next((part for part in reversed(op.get("A") or []) if isinstance(part, str)), "")
            constant.update({value: frozenset({name}) for value in outputs})
        elif kind == _DATA:
            runtime.update(outputs)
            program.feeds.update({value: str(attributes.get("name", "")) for value in outputs})
        elif kind == _FETCH:
            program.fetches.update({value: str(attributes.get("name", "")) for value in inputs})
        elif any(value in runtime for value in inputs):
            runtime.update(outputs)
            parameters = frozenset().union(*(constant.get(value, frozenset()) for value in inputs))
            activation = attributes.get("fuse_activation")
            program.ops.append(ProgramOp(kind, tuple(value for value in inputs if value in runtime), tuple(outputs),
                                         tuple(sorted(parameters)), activation if isinstance(activation, str) else "",
                                         precision_of(op) if precision_of is not None else None))
        else:  # computed once from parameters and constants (a batch norm folded into a convolution)
            found = frozenset().union(*(constant.get(value, frozenset()) for value in inputs))
            constant.update({value: found for value in outputs})
    return program


def _top_block(data: Any) -> list:
    try:
        ops = data["program"]["regions"][0]["blocks"][0]["ops"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("not a saved PIR program (no program.regions[0].blocks[0].ops)") from None
    if not isinstance(ops, list):
        raise ValueError("its ops are not a list")
    return ops


def _values(entries: Any) -> list[int]:
    """The value ids of an op's "I" or "O" (a list of {"%": id}, or one such dict); 0 is no value."""
    entries = [entries] if isinstance(entries, dict) else entries if isinstance(entries, list) else []
    found = [entry.get("%") for entry in entries if isinstance(entry, dict)]
    return [value for value in found if type(value) is int and value > 0]


def _attributes(op: dict) -> dict[str, Any]:
    attributes = op.get("A")
    return {item["N"]: (item.get("AT") or {}).get("D") for item in attributes if isinstance(item, dict)
            and isinstance(item.get("N"), str) and isinstance(item.get("AT") or {}, dict)} \
        if isinstance(attributes, list) else {}


def operator_runs(trace: Any) -> list[list[tuple[str, float]]]:
    """Per profiled inference (paddle.profiler's ProfileStep events, in order), its operators' types and
    milliseconds, in the order they ran. ValueError where ``trace`` is not a chrome trace of Paddle's."""
    events = trace.get("traceEvents") if isinstance(trace, dict) else None
    if not isinstance(events, list):
        raise ValueError("no traceEvents list")
    timed = [event for event in events if isinstance(event, dict) and isinstance(event.get("name"), str)
             and _number(event.get("ts")) and _number(event.get("dur")) and event["dur"] >= 0]
    steps = sorted((event["ts"], event["ts"] + event["dur"]) for event in timed if event.get("cat") == "ProfileStep")
    operators = sorted((event for event in timed if event.get("cat") == "Operator"), key=lambda event: event["ts"])
    runs: list[list[tuple[str, float]]] = []
    for start, end in steps:
        run, busy_until = [], float("-inf")
        for event in operators:
            # an operator run inside another is the outer one's time; "ts" is whole microseconds, so the
            # next operator may seem to start before the last one ended
            if start <= event["ts"] <= end and event["ts"] + event["dur"] > busy_until:
                run.append((short_kind(event["name"].split("[", 1)[0]), event["dur"] / 1000.0))
                busy_until = event["ts"] + event["dur"]
        if run:
            runs.append(run)
    return runs


def _number(value: Any) -> bool:
    return type(value) in (int, float) and value == value and abs(value) != float("inf")


def profile_from(runs: list[list[tuple[str, float]]], program: Program, graph: onnx.GraphProto | None) -> LayerProfile:
    """The layers of ``runs`` (per inference, each operator's type and ms in the order they ran), each
    op put on the ONNX nodes of ``graph`` it computes; by operator type where the runs do not follow
    ``program``."""
    expected = [op.kind for op in program.ops]
    found = [_aligned(run, expected) for run in runs]
    total = statistics.median(sum(ms for _, ms in run) for run in runs) if runs else 0.0
    count = len(runs)
    aligned = [each for each in found if each is not None]
    if not runs or len(aligned) < len(found):
        return _by_type(runs, program, total, count)
    mapped = covered_nodes(program, graph) if graph is not None else {}
    names = _op_names(expected)
    layers, notes = [], []
    for index, op in enumerate(program.ops):
        nodes, why = mapped.get(index, ((), "no ONNX graph was given"))
        if op.kind in CONVERSIONS:
            nodes, why = (), ""
        elif not nodes:
            notes.append(f"Paddle op {names[index]} ({op.kind}) maps to no ONNX node: {why}")
        layers.append(Layer(names[index], op.kind, statistics.median(times[index] for times, _ in aligned),
                            op.precision, nodes, op.kind in CONVERSIONS))
    for name in dict.fromkeys(name for _, inserted in aligned for name in inserted):
        median = statistics.median(inserted.get(name, 0.0) for _, inserted in aligned)
        layers.append(Layer(name, name.rsplit(".", 1)[0], median, None, (), True))
    return LayerProfile(PROFILER, count, layers, total, notes)


def _op_names(kinds: list[str]) -> list[str]:
    """"fused_conv2d.0", "fused_conv2d.1", "pool2d.0": each op by its type and its place among that type's."""
    seen: dict[str, int] = {}
    names = []
    for kind in kinds:
        names.append(f"{kind}.{seen.get(kind, 0)}")
        seen[kind] = seen.get(kind, 0) + 1
    return names


def _aligned(run: list[tuple[str, float]], expected: list[str]) -> tuple[list[float], dict[str, float]] | None:
    """Each program op's ms in ``run`` and the inserted ops' ms (by type and place among inserted ops of
    that type); None where the run's operators do not follow the program's ops."""
    times: list[float] = []
    inserted: dict[str, float] = {}
    seen: dict[str, int] = {}
    for kind, ms in run:
        if len(times) < len(expected) and kind == expected[len(times)]:
            times.append(ms)
        elif kind in expected:
            return None  # an op of the program's, out of its place
        else:
            name = f"{kind}.{seen.get(kind, 0)}"
            seen[kind] = seen.get(kind, 0) + 1
            inserted[name] = ms
    return (times, inserted) if len(times) == len(expected) else None


def _by_type(runs: list[list[tuple[str, float]]], program: Program, total: float, count: int) -> LayerProfile:
    """One layer per operator type (its time per inference), mapped to no ONNX node."""
    kinds = list(dict.fromkeys(kind for run in runs for kind, _ in run))
    precisions: dict[str, set] = {}
    for op in program.ops:
        precisions.setdefault(op.kind, set()).add(op.precision)
    layers = []
    for kind in kinds:
        found = precisions.get(kind, {None})
        median = statistics.median(sum(ms for each, ms in run if each == kind) for run in runs)
        layers.append(Layer(kind, kind, median, next(iter(found)) if len(found) == 1 else None))
    layers.sort(key=lambda layer: -layer.median_ms)
    note = ("Paddle's operator events did not follow its optimized program's ops, so they cannot be told apart: "
            "times are summed by operator type and cannot be put on the ONNX node groups")
    return LayerProfile(PROFILER, count, layers, total, [note] if runs else ["Paddle's profile holds no operator"])


def covered_nodes(program: Program, graph: onnx.GraphProto) -> dict[int, tuple[tuple[str, ...], str]]:
    """For each op of ``program`` (by index), the names of the ``graph`` nodes it computes, or () and why not.

    Values of the program are first named in the graph's words: the fed input and fetched outputs by
    name; the input an op with parameters reads, as the input of the first node reading the same
    parameters; an op's output, as the tensor its nodes end in (its last node reading its parameters, or
    its input) carried through what it folds in: an Identity, its fused activation, the sum with its
    residual input, and for an op without parameters one node of its own type."""
    initializers = {tensor.name for tensor in graph.initializer}
    producers = {tensor: node for node in graph.node for tensor in node.output}
    constants = initializers | {tensor for node in graph.node if node.op_type == "Constant" for tensor in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for tensor in dict.fromkeys(node.input):
            consumers.setdefault(tensor, []).append(node)
    graph_inputs = {value.name for value in graph.input} - initializers
    # a conversion's output is its input, to the ONNX graph: values are named through them
    same = {op.outputs[0]: op.inputs[0] for op in program.ops
            if op.kind in CONVERSIONS and len(op.inputs) == 1 and len(op.outputs) == 1}
    named = _Names(same)
    for value, name in program.feeds.items():
        if name in graph_inputs:
            named[value] = name
    for value, name in program.fetches.items():
        if name in {output.name for output in graph.output}:
            named[value] = name
    anchors = [[node for node in graph.node if set(node.input) & set(op.parameters)] for op in program.ops]
    for op, nodes in zip(program.ops, anchors, strict=True):
        reads = [tensor for tensor in nodes[0].input if tensor and tensor not in constants] if nodes else []
        if op.inputs and len(reads) == 1 and op.inputs[0] not in named:
            named[op.inputs[0]] = reads[0]
    covered: dict[int, tuple[tuple[str, ...], str]] = {}
    claimed: set[str] = set()
    leaves = constants | graph_inputs | {""}
    order = {node.name: index for index, node in enumerate(graph.node)}
    for index, (op, nodes) in enumerate(zip(program.ops, anchors, strict=True)):
        if op.kind in CONVERSIONS:
            continue
        if op.outputs and op.outputs[0] not in named:
            end = _folded(op, nodes, named, consumers, constants)
            if end is not None:
                named[op.outputs[0]] = end
        reads = [named.get(value) for value in op.inputs]
        if not op.outputs or op.outputs[0] not in named or any(tensor is None for tensor in reads):
            covered[index] = ((), "its inputs and output could not be traced to the ONNX graph's tensors")
            continue
        stops = {tensor for tensor in reads if tensor is not None} | leaves
        found, reached = _walk_back(named[op.outputs[0]], stops, producers)
        if reached - stops or (reached & graph_inputs) - set(reads):
            covered[index] = ((), "tracing its output back reaches past its own inputs")
        elif found & claimed:
            covered[index] = ((), "its ONNX nodes overlap an earlier op's")
        elif not found:
            covered[index] = ((), "its output is its input in the ONNX graph")
        else:
            claimed |= found
            covered[index] = (tuple(sorted(found, key=order.__getitem__)), "")
    return covered


class _Names(dict):
    """The graph tensor of each program value, a value a conversion made being the one it was made from."""

    def __init__(self, same: dict[int, int]):
        super().__init__()
        self.same = same

    def _source(self, value: int) -> int:
        seen = set()
        while value in self.same and value not in seen:
            seen.add(value)
            value = self.same[value]
        return value

    def __setitem__(self, value: int, name: str) -> None:
        super().__setitem__(self._source(value), name)

    def __getitem__(self, value: int) -> str:
        return super().__getitem__(self._source(value))

    def __contains__(self, value: object) -> bool:
        return super().__contains__(self._source(value)) if isinstance(value, int) else False

    def get(self, value: int, default=None):  # type: ignore[override]
        return super().get(self._source(value), default)


def _folded(op: ProgramOp, anchors: list, named: dict[int, str], consumers: dict[str, list],
            constants: set[str]) -> str | None:
    """The graph tensor ``op``'s output is: where its nodes end, carried through what it folds in."""
    if anchors:
        tensor = anchors[-1].output[0] if anchors[-1].output else None
    else:
        tensor = named.get(op.inputs[0]) if op.inputs else None
    if tensor is None:
        return None
    residual = {named.get(value) for value in op.inputs[1:]} - {None} if anchors else set()
    activation = op.activation.replace("_", "").lower()
    own = _ONNX_OPS.get(op.kind, ()) if not anchors else ()
    while len(consumers.get(tensor, [])) == 1:
        after = consumers[tensor][0]
        others = {each for each in after.input if each != tensor and each not in constants}
        if after.op_type == "Identity" or after in anchors:
            pass
        elif activation and after.op_type.lower() == activation and not others:
            activation = ""
        elif residual and after.op_type in ("Add", "Sum") and others and others <= residual:
            residual = set()
        elif after.op_type in own and others <= {named.get(value) for value in op.inputs}:
            own = ()
        else:
            break
        if not after.output:
            break
        tensor = after.output[0]
    return tensor


def _walk_back(output: str, stops: set[str], producers: dict) -> tuple[set[str], set[str]]:
    """Names of the nodes computing ``output`` from ``stops``, and the tensors the walk ended at that
    no node produces (inputs, initializers, or tensors the graph lacks)."""
    found: set[str] = set()
    reached: set[str] = set()
    pending, seen = [output], set()
    while pending:
        tensor = pending.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        if tensor in stops or tensor not in producers:
            reached.add(tensor)
            continue
        producer = producers[tensor]
        found.add(producer.name)
        pending.extend(producer.input)
    return found, reached
