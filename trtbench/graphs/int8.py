"""INT8 graphs: one recipe (BatchNorm folded into the Convs, per-channel symmetric int8 weights,
ranges from the same calibration data) in the form each runtime turns into integer kernels: the
TensorRT forms (explicit Q/DQ placed as TensorRT fuses, the rest FP32 or FP16) and ONNX Runtime's
(uint8 activations around every Conv, which its CPU provider fuses into QLinearConv). Made and cached
through ``trtbench.graphs.precision.graph_for``."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trtbench.errors import TrtbenchError
from trtbench.store import artifacts

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from trtbench.graphs.precision import Calibration

#: how the TensorRT INT8 forms are made; part of their cache key (a graph made another way is remade)
INT8_METHOD = ("bn-folded explicit Q/DQ: Conv/Gemm/MatMul inputs and residual Add inputs, pooled shortcuts "
               "read the shared dequantized tensor")
#: the opset the FP16 rest needs: QuantizeLinear and DequantizeLinear take FP16 scales from opset 19
FP16_QDQ_OPSET = 19
#: how the "onnxruntime" INT8 form is made; part of its cache key
INT8_ORT_METHOD = ("bn-folded, onnxruntime quant_pre_process + quantize_static QDQ: uint8 asymmetric "
                   "activations (MinMax), int8 symmetric per-channel weights, int32 biases, float logits")


def write_tensorrt_form(source: Path, target: Path, calibration: Calibration, half_rest: bool = False) -> dict:
    """A Q/DQ graph of ``source`` laid out for TensorRT's explicit quantization, ranges from ``calibration``.

    BatchNormalization is folded into the Convs first, so no Q/DQ pair can sit between a Conv and
    the BN/ReLU TensorRT fuses into it. Then: symmetric per-tensor INT8 on the activation input of
    every Conv, Gemm and MatMul and on the residual input of every Add; symmetric per-channel INT8
    weights (output-channel axis) behind a DequantizeLinear; biases stay float, as TensorRT wants
    them (it rejects an INT32 bias DequantizeLinear). A pooling node that reads a tensor quantized
    for another reader (the vd shortcut's AvgPool beside the block's first Conv) reads the same
    dequantized tensor, so every reader of the previous block's output is a Q/DQ pair and TensorRT
    can fuse the quantize into that block's Conv+Add+ReLU, which then writes INT8.

    ``half_rest``: everything not quantized (the rest of the float graph, the Q/DQ scales, the
    biases) becomes FP16, inputs and outputs staying FP32, as NVIDIA recommends for a strongly
    typed INT8 build; FP16 scales need opset 19, so an older graph is converted to it first.
    """
    import onnx

    from trtbench.graphs import graph

    model = graph.fold_batch_norms(onnx.load(str(source)))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        raise TrtbenchError(f"{source} is opset {opset}: per-channel DequantizeLinear needs opset 13 or later")
    plan = _quantization_plan(model)
    ranges = _activation_ranges(model, sorted({name for name, _ in plan.activations}), calibration)
    _insert_qdq(model, plan, ranges)
    if half_rest:
        model = _half_rest(model, opset)
    onnx.save(model, str(target))
    ops = [node.op_type for node in model.graph.node]
    return {"quantize_nodes": ops.count("QuantizeLinear"), "rest": "fp16" if half_rest else "fp32"}


def _half_rest(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """``model`` with its float tensors in FP16 (inputs and outputs stay FP32); int8 stays int8."""
    from onnx import version_converter
    from onnxconverter_common import float16

    if opset < FP16_QDQ_OPSET:
        model = version_converter.convert_version(model, FP16_QDQ_OPSET)
    with warnings.catch_warnings():
        # The converter warns once per value it clamps to FP16's range; that is what FP16 means.
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(model, keep_io_types=True)


def write_onnxruntime_form(source: Path, target: Path, calibration: Calibration) -> dict:
    """A Q/DQ graph of ``source`` in the form ONNX Runtime's CPU provider runs as integer kernels.

    BatchNormalization is folded into the Convs first (as for the TensorRT form), then ONNX
    Runtime's own tools lay out the Q/DQ nodes where its fusions expect them: quant_pre_process
    (shape inference and basic optimizations: it drops paddle2onnx's Identity nodes, each of which
    would otherwise cost a requantization, and makes the head's MatMul + Add one Gemm), then
    quantize_static with uint8 activations quantized asymmetrically from their MinMax ranges over
    ``calibration`` (the ReLU after each Conv disappears into its zero point), int8 per-channel
    symmetric weights and int32 biases: ONNX Runtime fuses a Conv into QLinearConv only when its
    input, weight and bias all come through DequantizeLinear and its output goes to a
    QuantizeLinear. The classifier's output (the logits) is left float: the head still runs as an
    integer QGemm, and 256 levels of logits only blur close classes. Measured on ResNet50 (AMD
    EPYC with VNNI, 2 threads, batch 1): every Conv becomes QLinearConv, 6.2 ms against 18.4 ms in
    FP32 (the TensorRT form: 40-48 ms); symmetric uint8 activations took 9.2 ms (each ReLU stays
    in float between a DQ and a Q) and were further from FP32.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from trtbench.graphs import graph

    model = graph.fold_batch_norms(onnx.load(str(source)))
    input_name, _ = graph.input_shape(model)
    tools_log = logging.getLogger("onnxruntime.quantization")
    level = tools_log.level
    tools_log.setLevel(logging.WARNING)  # its steps are logged at INFO; trtbench reports its own progress
    try:
        with artifacts.scratch_dir("int8-ort") as work:
            prepared = work / "prepared.onnx"
            quant_pre_process(model, prepared)
            quantize_static(prepared, target, _CalibrationFeed(input_name, calibration),
                            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, per_channel=True,
                            calibrate_method=CalibrationMethod.MinMax, calibration_providers=["CPUExecutionProvider"],
                            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                                           "OpTypesToExcludeOutputQuantization": ["Gemm", "MatMul"]})
    finally:
        tools_log.setLevel(level)
    made = onnx.load(str(target), load_external_data=False)
    ops = [node.op_type for node in made.graph.node]
    return {"quantize_nodes": ops.count("QuantizeLinear"),
            "dequantize_nodes": ops.count("DequantizeLinear"), "convs": ops.count("Conv")}


class _CalibrationFeed:
    """``calibration``'s inputs one at a time, as quantize_static's CalibrationDataReader reads them."""

    def __init__(self, input_name: str, calibration: Calibration):
        self.input_name = input_name
        self.samples = iter(calibration.inputs())

    def get_next(self) -> dict | None:
        """The next input as a feed dict; None when they are all read."""
        sample = next(self.samples, None)
        return None if sample is None else {self.input_name: sample}


@dataclass
class _Plan:
    """Where the Q/DQ pairs go: (tensor, node index) for activations, (node index, axis) for weights."""

    activations: list[tuple[str, int]]  # the node at index reads the tensor through a Q/DQ pair
    weights: list[tuple[int, int]]  # the node's input 1 becomes DequantizeLinear(int8 weight, axis)


def _quantization_plan(model: onnx.ModelProto) -> _Plan:
    """The Q/DQ placement TensorRT fuses best, for a graph whose BNs are already folded."""
    nodes = list(model.graph.node)
    initializers = {t.name for t in model.graph.initializer}
    constants = initializers | {out for node in nodes if node.op_type == "Constant" for out in node.output}
    producers = {out: node for node in nodes for out in node.output}
    depth = _depths(model)
    plan = _Plan([], [])
    for index, node in enumerate(nodes):
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            plan.activations += [(name, index) for name in node.input[:2 if node.op_type == "MatMul" else 1]
                                 if name not in constants]
            if node.input[1] in initializers:
                plan.weights.append((index, _weight_axis(node, model)))
        elif node.op_type == "Add" and len(node.input) == 2 and not constants.intersection(node.input):
            # A residual Add. TensorRT fuses it into the Conv that produces one input, and runs that
            # fused Conv in INT8 when the other (residual) input is quantized; a Q/DQ pair on the
            # Conv side would split the fusion. So only the residual input gets one (NVIDIA's
            # "quantize the residual input in Add"); with a Conv on both sides the Add goes into
            # the deeper one (the main branch), and with none both inputs are quantized.
            convs = [name for name in node.input if _through_identity(name, producers) == "Conv"]
            fused = max(convs, key=lambda name: depth.get(name, 0)) if convs else None
            plan.activations += [(name, index) for name in node.input if name != fused]
    quantized = {name for name, _ in plan.activations}
    for index, node in enumerate(nodes):
        # TensorRT runs a pooling on INT8 between a DQ and a Q; reading the raw tensor instead would
        # keep its producer from writing INT8 (one reader not through Q is enough).
        if node.op_type in ("AveragePool", "MaxPool") and node.input[0] in quantized:
            plan.activations.append((node.input[0], index))
    return plan


def _through_identity(name: str, producers: dict) -> str | None:
    """The op type that produces ``name``, looking through Identity nodes (paddle2onnx adds them)."""
    node = producers.get(name)
    while node is not None and node.op_type == "Identity":
        node = producers.get(node.input[0])
    return node.op_type if node is not None else None


def _depths(model: onnx.ModelProto) -> dict[str, int]:
    """Each tensor's longest distance, in nodes, from the graph inputs (nodes are in topological order)."""
    depth: dict[str, int] = {}
    for node in model.graph.node:
        level = 1 + max((depth.get(name, 0) for name in node.input), default=0)
        depth.update({out: level for out in node.output})
    return depth


def _weight_axis(node: onnx.NodeProto, model: onnx.ModelProto) -> int:
    """The output-channel axis of a Conv, Gemm or MatMul weight: one scale per output channel."""
    if node.op_type == "Conv":
        return 0  # (out, in / groups, kh, kw)
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1  # B is (N, K) when transposed, else (K, N)
    dims = next(t.dims for t in model.graph.initializer if t.name == node.input[1])
    return len(dims) - 1  # MatMul: (..., K, N)


def _activation_ranges(model: onnx.ModelProto, names: list[str], calibration: Calibration) -> dict[str, float]:
    """max |x| of each tensor in ``names`` over all calibration inputs, from the FP32 graph on ONNX Runtime."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from trtbench.graphs import graph

    input_name, _ = graph.input_shape(model)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    fetched = [name for name in names if name != input_name]  # the input's range is read off the feed
    outputs = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in fetched if name not in outputs)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    amax = dict.fromkeys(names, 0.0)
    for data in calibration.inputs():
        values = dict(zip(fetched, session.run(fetched, {input_name: data}), strict=True))
        values[input_name] = data
        for name in names:
            amax[name] = max(amax[name], float(np.abs(values[name]).max()))
    return amax


def _symmetric_scale(amax: float | np.ndarray) -> np.ndarray:
    """INT8 symmetric scale amax / 127; 1 where amax is 0 (all values are 0, any positive scale is exact)."""
    import numpy as np

    amax = np.asarray(amax, dtype=np.float32)
    return np.where(amax > 0, amax / 127, 1).astype(np.float32)


def _insert_qdq(model: onnx.ModelProto, plan: _Plan, ranges: dict[str, float]) -> None:
    """Rewrite ``model`` in place: Q/DQ pairs and int8 weights where ``plan`` says."""
    import numpy as np
    from onnx import helper, numpy_helper

    from trtbench.graphs.graph import drop_unused_initializers

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    taken = set(inits) | {i.name for i in graph.input} | {out for node in graph.node for out in node.output}

    def fresh(base: str) -> str:
        name, index = base, 1
        while name in taken:
            name, index = f"{base}_{index}", index + 1
        taken.add(name)
        return name

    nodes = list(graph.node)
    after: dict[str, list] = {}  # tensor -> the Q/DQ nodes to place right after its producer
    before: dict[int, list] = {}  # node index -> weight DequantizeLinear nodes to place before it
    dequantized: dict[str, str] = {}  # one Q/DQ pair per tensor, shared by all the readers the plan names
    for name, index in plan.activations:
        if name not in dequantized:
            scale, zero = fresh(f"{name}_scale"), fresh(f"{name}_zero_point")
            graph.initializer.extend([numpy_helper.from_array(_symmetric_scale(ranges[name]), scale),
                                      numpy_helper.from_array(np.zeros((), np.int8), zero)])
            quantized, dequantized[name] = fresh(f"{name}_quantized"), fresh(f"{name}_dequantized")
            after.setdefault(name, []).extend([
                helper.make_node("QuantizeLinear", [name, scale, zero], [quantized], name=fresh(f"{name}_Q")),
                helper.make_node("DequantizeLinear", [quantized, scale, zero], [dequantized[name]],
                                 name=fresh(f"{name}_DQ")),
            ])
        node = nodes[index]
        for slot, read in enumerate(node.input):
            if read == name:
                node.input[slot] = dequantized[name]
    weights: dict[tuple[str, int], str] = {}
    for index, axis in plan.weights:
        node = nodes[index]
        name = node.input[1]
        if (name, axis) not in weights:
            weight = numpy_helper.to_array(inits[name]).astype(np.float32)
            others = tuple(a for a in range(weight.ndim) if a != axis)
            scales = _symmetric_scale(np.abs(weight).max(axis=others))
            shape = [-1 if a == axis else 1 for a in range(weight.ndim)]
            # |w| <= amax, so |w / scale| <= 127: the clip only guards against rounding at the edge.
            values = np.clip(np.rint(weight / scales.reshape(shape)), -127, 127).astype(np.int8)
            int8, scale, zero = fresh(f"{name}_int8"), fresh(f"{name}_scale"), fresh(f"{name}_zero_point")
            graph.initializer.extend([numpy_helper.from_array(values, int8),
                                      numpy_helper.from_array(scales, scale),
                                      numpy_helper.from_array(np.zeros(scales.shape, np.int8), zero)])
            weights[name, axis] = fresh(f"{name}_dequantized")
            before.setdefault(index, []).append(
                helper.make_node("DequantizeLinear", [int8, scale, zero], [weights[name, axis]], axis=axis,
                                 name=fresh(f"{name}_DQ")))
        node.input[1] = weights[name, axis]
    ordered = [n for i in graph.input for n in after.get(i.name, [])]
    for index, node in enumerate(nodes):
        ordered += before.get(index, [])
        ordered.append(node)
        ordered += [n for out in node.output for n in after.get(out, [])]
    del graph.node[:]
    graph.node.extend(ordered)
    drop_unused_initializers(graph)  # the float weights, now read by no node
