"""ONNX inspection and small graph passes: inputs, FLOPs, parameters; BatchNormalization folding for INT8."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

BATCH_DIM = "batch"


@dataclass(frozen=True)
class GraphCounts:
    """What one forward pass of a graph costs at batch 1, counted from its nodes."""

    macs: int  # multiply-accumulates of Conv, Gemm and MatMul
    params: int  # trainable parameters: conv/linear weights and biases, BN scale and shift
    convs: int  # Conv nodes

    @property
    def flops_g(self) -> float:
        """FLOPS as the PaddleClas page counts them: 2 x MACs, in G."""
        return 2 * self.macs / 1e9

    @property
    def params_m(self) -> float:
        """Parameters in millions."""
        return self.params / 1e6


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Move tensor-valued Constant nodes into graph initializers, as most tools expect weights."""
    graph = model.graph
    keep = []
    for node in graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and value is not None and len(node.output) == 1:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value.t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return model


def name_batch_dimension(model: onnx.ModelProto, name: str = BATCH_DIM) -> onnx.ModelProto:
    """Give the first (dynamic) dimension of every graph input and output the same clear name."""
    for value in list(model.graph.input) + list(model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = name
    return model


def input_shape(model: onnx.ModelProto) -> tuple[str, list[int | str]]:
    """Name and shape (a str where the dimension is dynamic) of the graph's only real input."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    first = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in first.type.tensor_type.shape.dim]
    return first.name, dims


def count(model: onnx.ModelProto) -> GraphCounts:
    """MACs at batch 1 and trainable parameters of ``model``."""
    inferred = shape_inference.infer_shapes(_with_batch_one(model))
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    macs = 0
    trainable: set[str] = set()
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            kernel = weights[node.input[1]]  # (out, in/groups, kh, kw)
            out = shapes[node.output[0]]
            macs += int(np.prod(out[1:])) * int(np.prod(kernel[1:]))
            trainable.update(node.input[1:3])
        elif node.op_type in ("Gemm", "MatMul"):
            w = weights.get(node.input[1])
            if w is not None:  # a weight matrix, transposed or not: in x out MACs a sample
                macs += int(np.prod(w))
                trainable.update(node.input[1:3])
        elif node.op_type == "BatchNormalization":
            trainable.update(node.input[1:3])  # scale and shift; running mean/variance are not trained
        elif node.op_type == "Add":
            trainable.update(name for name in node.input if name in weights and len(weights[name]) == 1)
    params = sum(int(np.prod(weights[name])) for name in trainable if name in weights)
    convs = sum(1 for node in model.graph.node if node.op_type == "Conv")
    return GraphCounts(macs=macs, params=params, convs=convs)


def _with_batch_one(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of the graph's structure (weights left out) with the batch dimension fixed to 1."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    for tensor in light.graph.initializer:
        # Shape inference needs a weight's dims, not its values; dropping them keeps this fast.
        if tensor.data_type == onnx.TensorProto.FLOAT and int(np.prod(tensor.dims)) > 64:
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
    for value in light.graph.input:
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_value = 1
    return light


def fold_batch_norms(model: onnx.ModelProto) -> onnx.ModelProto:
    """Fold each BatchNormalization that directly follows a Conv into that Conv's weight and bias.

    A BN is folded only when the Conv's output feeds that BN alone (and is no graph output), and the
    Conv weight and the BN's four parameters are initializers. The Conv takes over the BN's output
    name, so the rest of the graph is untouched; the folded graph computes the same function, up to
    float32 rounding. ``model`` is changed in place and returned.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    graph_outputs = {o.name for o in graph.output}
    producers = {out: node for node in graph.node for out in node.output}
    taken = set(inits) | set(producers) | {i.name for i in graph.input}
    folded: set[int] = set()  # indices of the BN nodes folded away
    gone: set[str] = set()  # the Convs' former outputs
    new_inits = []
    for index, bn in enumerate(graph.node):
        if bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue  # training-mode BN (running statistics as extra outputs) is not a constant transform
        conv = producers.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or consumers.get(conv.output[0]) != 1:
            continue
        has_bias = len(conv.input) > 2 and bool(conv.input[2])
        params = [conv.input[1], *bn.input[1:5], *conv.input[2:3 if has_bias else 2]]
        if conv.output[0] in graph_outputs or not all(name in inits for name in params):
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]])
        dtype = weight.dtype
        epsilon = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[name]).astype(np.float64) for name in bn.input[1:5])
        bias = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if has_bias else 0.0
        # In float64, so the only error left is the final rounding to the weight's own type.
        scale = gamma / np.sqrt(var + epsilon)
        folded_weight = weight.astype(np.float64) * scale.reshape(-1, *([1] * (weight.ndim - 1)))
        folded_bias = (bias - mean) * scale + beta
        # New names: the old weight may be read by another node, which must keep seeing it unscaled.
        w_name = _fresh_name(f"{conv.input[1]}_bn_folded", taken)
        b_name = _fresh_name(f"{conv.input[2] if has_bias else conv.input[1]}_bn_folded_bias", taken)
        new_inits += [numpy_helper.from_array(folded_weight.astype(dtype), w_name),
                      numpy_helper.from_array(folded_bias.astype(dtype), b_name)]
        data = conv.input[0]
        del conv.input[:]
        conv.input.extend([data, w_name, b_name])
        gone.add(conv.output[0])
        conv.output[0] = bn.output[0]
        folded.add(index)
    if not folded:
        return model
    keep = [node for index, node in enumerate(graph.node) if index not in folded]
    del graph.node[:]
    graph.node.extend(keep)
    graph.initializer.extend(new_inits)
    infos = [v for v in graph.value_info if v.name not in gone]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    drop_unused_initializers(graph)
    return model


def _fresh_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_N`` when that name is already a tensor of the graph; the result is reserved."""
    name, index = base, 1
    while name in taken:
        name, index = f"{base}_{index}", index + 1
    taken.add(name)
    return name


def drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Remove initializers (and their graph-input entries, as old exports list them) no node reads."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep = [t for t in graph.initializer if t.name in used]
    dropped = {t.name for t in graph.initializer} - {t.name for t in keep}
    del graph.initializer[:]
    graph.initializer.extend(keep)
    inputs = [i for i in graph.input if i.name not in dropped]
    del graph.input[:]
    graph.input.extend(inputs)


def graph_nodes(path: Path) -> list[tuple[str, str]]:
    """The nodes of the ONNX graph at ``path`` as (name, op type), in graph order (weights not read)."""
    model = onnx.load(str(path), load_external_data=False)
    return [(node.name, node.op_type) for node in model.graph.node]
