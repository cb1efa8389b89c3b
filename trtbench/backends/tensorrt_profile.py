"""TensorRT's layers as a per-layer profile: the names its profiler reports (IProfiler, or trtexec's
--exportProfile) tied through the engine inspector to the ONNX nodes each layer runs, for the tensorrt
and trtexec backends alike.

The inspector (with detailed profiling verbosity) gives each layer its LayerType, the data type it writes
and its ONNX nodes ("[ONNX Layer: X]" metadata). A Myelin layer, ``{ForeignNode[first...last]}``, may
list no nodes: it is then tied to the graph's nodes from ``first`` to ``last``, in graph order. A reformat
TensorRT inserted between two formats names no node: it is work the engine added.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from trtbench.backends.tensorrt_engine import Inspected
from trtbench.errors import TrtbenchError
from trtbench.measure.profile import Layer, LayerProfile

FOREIGN_NODE = re.compile(r"^\{ForeignNode\[(?P<first>.+?)\.\.\.(?P<last>.+)\]\}$")
REFORMAT_NAME = "Reformatting CopyNode"
#: LayerTypes of copies TensorRT inserts between formats
REFORMAT_TYPES = ("Reformat", "NoOp")
PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "uint8", "int32", "int64", "bool")
#: how many layer names a note lists before it says how many more
LISTED = 3

#: (node name, the tensors it writes) of each ONNX node, in graph order
GraphOrder = Sequence[tuple[str, tuple[str, ...]]]


def graph_order(path: str | Path | None) -> GraphOrder | None:
    """The ONNX graph's nodes as (name, outputs), in graph order; None when it cannot be read (weights not read)."""
    if not path:
        return None
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # a damaged or missing graph: ForeignNodes then stay unmapped, with a note
        return None
    return [(node.name, tuple(node.output)) for node in model.graph.node]


NOT_DETAILED = "the engine was not built with detailed profiling verbosity"


def tensorrt_layers(timed: Sequence[tuple[str, float]], inspected: Inspected | None, graph: GraphOrder | None,
                    no_details: str = NOT_DETAILED) -> tuple[list[Layer], list[str]]:
    """The Layer of each (engine layer name, median ms) in the order given, tied to its ONNX nodes through
    the inspector, and the notes on what could not be tied (``no_details``: why there is no inspector)."""
    notes: list[str] = []
    if inspected is None:
        notes.append(f"TensorRT's engine inspector gave no layer details ({no_details}): layers are not tied to "
                     "ONNX nodes")
        return [Layer(name, _kind_from_name(name), ms) for name, ms in timed], notes
    details = {name: (kind, precision, nodes)
               for (name, precision, nodes), kind in zip(inspected.layers, _types(inspected), strict=True)}
    layers: list[Layer] = []
    unknown: list[str] = []
    silent: list[str] = []
    for name, ms in timed:
        if name not in details:
            unknown.append(name)
            layers.append(Layer(name, _kind_from_name(name), ms))
            continue
        kind, precision, nodes = details[name]
        kind = kind or _kind_from_name(name)
        inserted = False
        foreign = FOREIGN_NODE.match(name)
        if not nodes and foreign:
            nodes, why = _between(foreign["first"], foreign["last"], graph)
            notes.append(f"TensorRT's Myelin layer {name} lists no ONNX nodes: "
                         + (f"tied to the {len(nodes)} nodes of the graph from {nodes[0]} to {nodes[-1]}, and its "
                            "time cannot be split among them" if nodes else f"tied to none ({why})"))
        elif not nodes and (kind in REFORMAT_TYPES or name.startswith(REFORMAT_NAME)):
            inserted = True
        elif not nodes:
            silent.append(name)
        layers.append(Layer(name, kind, ms, precision if precision in PRECISIONS else None, tuple(nodes), inserted))
    if unknown:
        notes.append(f"{_listed(unknown)} {'is' if len(unknown) == 1 else 'are'} not in TensorRT's engine "
                     "inspector: tied to no ONNX node")
    if silent:
        notes.append(f"{_listed(silent)} {'names' if len(silent) == 1 else 'name'} no ONNX node in TensorRT's "
                     "engine inspector: unmapped time")
    return layers, notes


def profile_of_runs(runs: Sequence[dict[str, float]], inspected: Inspected | None,
                    graph: GraphOrder | None) -> LayerProfile:
    """The profile of ``runs`` (each profiled inference's ms by layer, in the order reported): each layer's
    median, and the median of the inferences' sums as the total."""
    if not runs:
        raise TrtbenchError("TensorRT's profiler reported no inference")
    order = list(dict.fromkeys(name for run in runs for name in run))
    if not order:
        raise TrtbenchError("TensorRT's profiler reported no layer times")
    timed = [(name, statistics.median(run.get(name, 0.0) for run in runs)) for name in order]
    layers, notes = tensorrt_layers(timed, inspected, graph)
    total = statistics.median(sum(run.values()) for run in runs)
    return LayerProfile("TensorRT IProfiler", len(runs), layers, total, notes)


def _types(inspected: Inspected) -> tuple[str, ...]:
    return inspected.layer_types if len(inspected.layer_types) == len(inspected.layers) \
        else ("",) * len(inspected.layers)


def _kind_from_name(name: str) -> str:
    """A layer's kind where the inspector does not say: what its name shows, else "unknown"."""
    if name.startswith(REFORMAT_NAME):
        return "Reformat"
    if FOREIGN_NODE.match(name):
        return "Myelin"
    return "unknown"


def _between(first: str, last: str, graph: GraphOrder | None) -> tuple[tuple[str, ...], str]:
    """The names of the graph's nodes from ``first`` to ``last`` (each a node's name or a tensor it writes),
    in graph order; () and why where that cannot be told."""
    if graph is None:
        return (), "the ONNX graph could not be read"
    position: dict[str, int] = {}
    for index, (name, outputs) in enumerate(graph):
        for key in (*outputs, name):  # a node's own name wins over a tensor of the same name
            position[key] = index
    start, end = position.get(first), position.get(last)
    if start is None or end is None:
        return (), f"{first if start is None else last} is no node of the graph"
    if start > end:
        return (), f"{first} comes after {last} in the graph"
    return tuple(name for name, _ in graph[start:end + 1]), ""


def _listed(names: list[str]) -> str:
    """'layer a', 'layers a, b, c' or 'layers a, b, c and 4 more'."""
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return f"layer{'' if len(names) == 1 else 's'} {', '.join(names[:LISTED])}{more}"
