"""ONNX inspection and the small graph passes export needs: inputs, FLOPs, parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import shape_inference

BATCH_DIM = "batch"


@dataclass(frozen=True)
class GraphCounts:
    """What one forward pass of a graph costs at batch 1, counted from its nodes."""

    macs: int  # multiply-accumulates of Conv, Gemm and MatMul
    params: int  # trainable parameters: conv/linear weights and biases, BN scale and shift

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
    return GraphCounts(macs=macs, params=params)


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
