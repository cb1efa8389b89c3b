"""The stages of a ResNet in its exported ONNX graph: the stem, the four stages of residual blocks and the
head, so that a profile can be read per stage (e.g. INT8 against FP32 per stage of ResNet50).

The graph is walked in order: the stem ends at its max-pool; each residual block ends with its Add, so a stage
ends at the Add that completes its blocks (the zoo's depths say how many); the head begins at the global
average pool. A stage begins at the first Conv or pool after its boundary, so the activation and quantize
nodes that close a block stay with it. Where the graph does not hold the blocks the zoo says (another model,
a graph changed by hand), there are no stages rather than wrong ones.
"""

from __future__ import annotations

from collections.abc import Sequence

STEM = "stem"
HEAD = "head"
_STARTS = frozenset(("Conv", "AveragePool", "GlobalAveragePool"))
#: nodes that quantize or dequantize: a group is placed by its other nodes (the weights' dequantize nodes sit at
#: the top of an INT8 graph)
QDQ = frozenset(("QuantizeLinear", "DequantizeLinear"))


def names(depths: Sequence[int]) -> list[str]:
    """The stages in order: 'stem', 'stage 1 (3 blocks)', ..., 'head'."""
    return [STEM, *(f"stage {index} ({count} block{'s' if count != 1 else ''})"
                    for index, count in enumerate(depths, 1)), HEAD]


def node_stages(graph: Sequence[tuple[str, str]], depths: Sequence[int]) -> dict[str, str] | None:
    """Each node's stage (``graph``: (name, op type) in order; ``depths``: blocks per stage), or None where the
    graph does not hold those blocks."""
    stages = names(depths)
    ends = [sum(depths[:index + 1]) for index in range(len(depths))]  # residual Adds counted at each stage's end
    current, pending, adds = 0, None, 0
    found: dict[str, str] = {}
    for name, op in graph:
        if pending is not None and op in _STARTS:
            current, pending = pending, None
        if op == "GlobalAveragePool" and current == len(depths):
            current = len(stages) - 1  # the head (its pool starts it even without a Conv first)
        found[name] = stages[current]
        if op == "MaxPool" and current == 0 and pending is None:
            pending = 1
        elif op == "Add" and 1 <= current <= len(depths):
            adds += 1
            if adds == ends[current - 1]:
                pending = current + 1  # the next stage, or (after the last) the head at its pool
    if adds != ends[-1] or current != len(stages) - 1:
        return None
    return found


def group_stage(nodes: Sequence[str], ops: dict[str, str], stages: dict[str, str]) -> str | None:
    """The stage a group of nodes is in: that of its first node that is not a quantize or dequantize node (of its
    first node where all are); None where the graph lacks it."""
    placed = [node for node in nodes if ops.get(node) not in QDQ] or list(nodes)
    return stages.get(placed[0]) if placed else None
