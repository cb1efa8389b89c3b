"""A test double of the `tensorrt` module, faithful to the calls trtbench makes, for 10.x or 11.x.

Engines it "builds" run the ONNX graph with ONNX Runtime when the fake CUDA stream executes them,
so outputs are real. Every attribute the backend touches is logged as "Class.name", so a test can
check that the backend uses nothing beyond its declared, conformance-checked API. TensorRT 11's
double has no BuilderFlag.FP16 and no EXPLICIT_BATCH, like the real bindings.

It fails the way TensorRT does, by return value, when a test asks: put a step's name in
``FakeTensorRT.failing`` ("build", "deserialize", "context", "shape", "address", "enqueue",
"enqueue_in_capture", "timing_cache", "get_timing_cache", "inspector", "report": report_to_profiler).
A timing cache whose bytes start with ``FOREIGN_CACHE`` is refused as one made on another GPU.

An engine says what it holds as TensorRT does: ``device_memory_size_v2`` and the one profile's
``get_device_memory_size_for_profile_v2(0)`` (the two largest activations of one image, one layer reading
one while it writes the other, times the batch), and on 11.x (as on 10.14 and later, not 10.13)
``get_engine_stat(EngineStat.TOTAL_WEIGHTS_SIZE)``: the graph's initializers, FP32 ones halved where
BuilderFlag.FP16 lets TensorRT keep them in FP16. On 10.x, ``EngineStat`` and ``get_engine_stat`` are
missing as they are from the real 10.13 bindings (AttributeError).

``contexts_alive`` counts the execution contexts not yet destroyed. A context enqueued on one stream while
its last enqueue on another has not run refuses the enqueue (False): TensorRT leaves that undefined, and
code relying on it would corrupt its buffers on a GPU.

A context with a profiler reports a time for each layer of the engine's inspector (the inference's
compute time split among them in fixed shares), at each enqueue or on ``report_to_profiler()`` as
``enqueue_emits_profile`` says. ``reformats`` gives the engine a Reformat layer before its first layer
and after its last, as TensorRT inserts where formats differ; ``myelin`` ("listed" or "unlisted")
runs the graph's tail from its first pooling or matrix product as one Myelin layer,
``{ForeignNode[first...last]}``, whose Metadata lists its ONNX nodes or not.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnx.numpy_helper

FOREIGN_CACHE = b"made-on-another-gpu"
SUPPORTED_OPS = {"Conv", "BatchNormalization", "Relu", "Add", "MaxPool", "AveragePool", "GlobalAveragePool",
                 "Flatten", "Reshape", "MatMul", "Gemm", "Shape", "Slice", "Concat", "Identity", "Cast", "Constant",
                 "Gather", "Unsqueeze", "Squeeze", "QuantizeLinear", "DequantizeLinear"}


class Logged:
    """Logs public attribute reads and writes as '<api name>.<attribute>'."""

    api_name = "?"

    def __init__(self, log: set):
        object.__setattr__(self, "_log", log)

    def __getattribute__(self, name):
        if not name.startswith("_") and name != "api_name":
            object.__getattribute__(self, "_log").add(f"{type(self).api_name}.{name}")
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if not name.startswith("_"):
            self._log.add(f"{type(self).api_name}.{name}")
        object.__setattr__(self, name, value)


class _Bound(type):
    """pybind11's check on a class Python may subclass: the base's __init__ must have run."""

    def __call__(cls, *args, **kwargs):
        made = super().__call__(*args, **kwargs)
        if not made.__dict__.get("_bound"):
            # pybind11 names the bound class, not the subclass
            raise TypeError("tensorrt.IProfiler.__init__() must be called when overriding __init__")
        return made


class IProfiler(metaclass=_Bound):
    """trt.IProfiler: a Python subclass overrides report_layer_time."""

    def __init__(self):
        self._bound = True

    def report_layer_time(self, layer_name, ms):
        raise RuntimeError('Tried to call pure virtual function "IProfiler::report_layer_time"')


class Enum(Logged):
    """A TensorRT enum: ``members`` maps each member to its value in the real bindings."""

    def __init__(self, log, api_name, members: dict[str, int]):
        super().__init__(log)
        object.__setattr__(self, "_api", api_name)
        for member, value in members.items():
            object.__setattr__(self, member, EnumValue(api_name, member, value))

    def __getattribute__(self, name):
        if not name.startswith("_"):
            object.__getattribute__(self, "_log").add(f"{object.__getattribute__(self, '_api')}.{name}")
        return object.__getattribute__(self, name)


class EnumValue(int):
    def __new__(cls, api, member, value):
        obj = int.__new__(cls, value)
        obj.label = f"{api}.{member}"
        return obj


class LoggerFactory(Logged):
    api_name = "Logger"

    def __init__(self, log):
        super().__init__(log)
        object.__setattr__(self, "WARNING", 2)
        object.__setattr__(self, "INFO", 3)

    def __call__(self, min_severity=2):
        return ("logger", min_severity)


class Factory(Logged):
    """A callable standing for a TensorRT class (trt.Builder(logger) and the like)."""

    def __init__(self, log, api_name, make):
        super().__init__(log)
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_api", api_name)

    def __call__(self, *args):
        return self._make(*args)


class Tensor(Logged):
    api_name = "ITensor"

    def __init__(self, log, name):
        super().__init__(log)
        object.__setattr__(self, "name", name)


class Network(Logged):
    api_name = "INetworkDefinition"

    def __init__(self, log, strongly_typed):
        super().__init__(log)
        object.__setattr__(self, "_strong", strongly_typed)
        object.__setattr__(self, "_onnx", None)

    def get_input(self, index):
        graph = onnx.load(self._onnx, load_external_data=False).graph
        weights = {t.name for t in graph.initializer}
        inputs = [i.name for i in graph.input if i.name not in weights]
        return Tensor(self._log, inputs[index])


class ParserError(Logged):
    api_name = "ParserError"

    def __init__(self, log, node, op, text):
        super().__init__(log)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_op", op)
        object.__setattr__(self, "_text", text)

    def desc(self):
        return self._text

    def node_name(self):
        return self._node

    def node_operator(self):
        return self._op


class Parser(Logged):
    api_name = "OnnxParser"

    def __init__(self, log, network, logger):
        super().__init__(log)
        object.__setattr__(self, "_network", network)
        object.__setattr__(self, "_errors", [])

    def parse_from_file(self, model):
        path = model
        model = onnx.load(path)
        errors = [ParserError(self._log, n.name, n.op_type, f"no importer registered for op: {n.op_type}")
                  for n in model.graph.node if n.op_type not in SUPPORTED_OPS]
        object.__setattr__(self, "_errors", errors)
        object.__setattr__(self._network, "_onnx", path)
        return not errors

    @property
    def num_errors(self):
        return len(self._errors)

    def get_error(self, index):
        return self._errors[index]


class Profile(Logged):
    api_name = "IOptimizationProfile"

    def __init__(self, log):
        super().__init__(log)
        object.__setattr__(self, "_shapes", {})

    def set_shape(self, input, min, opt, max):  # noqa: A002 - the real bindings' parameter names
        self._shapes[input] = (tuple(min), tuple(opt), tuple(max))


class TimingCache(Logged):
    api_name = "ITimingCache"

    def __init__(self, log, blob):
        super().__init__(log)
        object.__setattr__(self, "_blob", bytes(blob))

    def serialize(self):
        return self._blob + b"+"


class Config(Logged):
    api_name = "IBuilderConfig"

    def __init__(self, log, module):
        super().__init__(log)
        object.__setattr__(self, "_module", module)
        # TensorRT's defaults: TF32 allowed (and FP32/TF32 only), layer names only in the inspector
        object.__setattr__(self, "_flags", {"BuilderFlag.TF32"})
        object.__setattr__(self, "_profiles", [])
        object.__setattr__(self, "_cache", None)
        object.__setattr__(self, "_pools", {})
        object.__setattr__(self, "profiling_verbosity", "ProfilingVerbosity.LAYER_NAMES_ONLY")

    def set_flag(self, flag):
        self._flags.add(flag.label)

    def clear_flag(self, flag):
        self._flags.discard(flag.label)

    def set_memory_pool_limit(self, pool, pool_size):
        self._pools[pool.label] = pool_size

    def add_optimization_profile(self, profile):
        self._profiles.append(profile)

    def create_timing_cache(self, serialized_timing_cache):
        return TimingCache(self._log, serialized_timing_cache)

    def set_timing_cache(self, cache, ignore_mismatch):
        if "timing_cache" in self._module.failing or (cache._blob.startswith(FOREIGN_CACHE) and not ignore_mismatch):
            return False  # the cache stays unset: get_timing_cache() then gives None
        object.__setattr__(self, "_cache", cache)
        return True

    def get_timing_cache(self):
        if "get_timing_cache" in self._module.failing:
            return None
        return self._cache


class Builder(Logged):
    api_name = "Builder"

    def __init__(self, log, module, logger):
        super().__init__(log)
        object.__setattr__(self, "_module", module)

    def create_network(self, flags=0):
        strong_bit = 1 << int(object.__getattribute__(self._module, "_strong_flag"))
        return Network(self._log, bool(flags & strong_bit))

    def create_builder_config(self):
        return Config(self._log, self._module)

    def create_optimization_profile(self):
        return Profile(self._log)

    def build_serialized_network(self, network, config):
        module = self._module
        precision_flags = sorted(config._flags - {"BuilderFlag.TF32"})
        module._builds.append({"onnx": network._onnx, "strong": network._strong, "flags": precision_flags,
                               "tf32": "BuilderFlag.TF32" in config._flags,
                               "opt_level": config.__dict__.get("builder_optimization_level"),
                               "verbosity": config.profiling_verbosity, "pools": dict(config._pools),
                               "timing_cache": config._cache})
        if network._strong and precision_flags:
            raise AssertionError("strongly typed networks take no precision flags")
        if "build" in module.failing:
            return None
        quantized = any(n.op_type == "QuantizeLinear" for n in onnx.load(network._onnx).graph.node)
        if quantized and not network._strong and "BuilderFlag.INT8" not in config._flags:
            return None  # TensorRT: "Int8 precision has been set for a layer ... but int8 is not configured"
        (shapes,) = [p._shapes for p in config._profiles]
        (low, opt, high), = shapes.values()
        assert low == opt == high, "trtbench builds static profiles"
        plan = {"onnx": network._onnx, "batch": opt[0], "input": next(iter(shapes)), "major": module._major,
                "fp16_flag": "BuilderFlag.FP16" in config._flags, "int8_flag": "BuilderFlag.INT8" in config._flags,
                "detailed": getattr(config.profiling_verbosity, "label", "") == "ProfilingVerbosity.DETAILED"}
        return bytes(json.dumps(plan), "utf-8")


#: members the double's classes have from a major on ("Class.member": major), as the real bindings do
FROM_MAJOR = {"ICudaEngine.get_engine_stat": 11}


class Engine(Logged):
    api_name = "ICudaEngine"

    def __getattribute__(self, name):
        since = FROM_MAJOR.get(f"ICudaEngine.{name}")
        if since is not None and object.__getattribute__(self, "_module")._major < since:
            raise AttributeError(f"'tensorrt_bindings.tensorrt.ICudaEngine' object has no attribute '{name}'")
        return super().__getattribute__(name)

    def __init__(self, log, module, plan):
        super().__init__(log)
        import onnxruntime as ort

        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_plan", plan)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        model = onnx.load(plan["onnx"], load_external_data=False)
        if any(node.op_type == "DequantizeLinear" for node in model.graph.node) and \
                any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
            # ONNX Runtime's CPU graph optimizations mangle FP16 Q/DQ (cosine 0.96 against FP32 on ResNet50_vd)
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(plan["onnx"], options, providers=["CPUExecutionProvider"])
        object.__setattr__(self, "_session", session)
        names = [session.get_inputs()[0].name, session.get_outputs()[0].name]
        object.__setattr__(self, "_names", names)

    @property
    def num_io_tensors(self):
        return 2

    def get_tensor_name(self, index):
        return self._names[index]

    def get_tensor_mode(self, name):
        modes = object.__getattribute__(self._module, "TensorIOMode")
        return object.__getattribute__(modes, "INPUT" if name == self._names[0] else "OUTPUT")

    def get_tensor_dtype(self, name):
        return object.__getattribute__(object.__getattribute__(self._module, "DataType"), "FLOAT")

    def create_execution_context(self):
        if "context" in self._module.failing:
            return None
        module = self._module
        object.__setattr__(module, "contexts_alive", module.contexts_alive + 1)
        return Context(self._log, self)

    def create_engine_inspector(self):
        return EngineInspector(self._log, self)

    @property
    def device_memory_size_v2(self):
        return self._sizes()["device"]

    def get_device_memory_size_for_profile_v2(self, profile_index):
        assert profile_index == 0, "trtbench builds one optimization profile"
        return self._sizes()["device"]

    def get_engine_stat(self, stat=0):
        assert int(stat) == 0, "trtbench reads EngineStat.TOTAL_WEIGHTS_SIZE only"
        return self._sizes()["weights"]

    def _sizes(self) -> dict:
        """The engine's device memory and weights in bytes (worked out once)."""
        if "_sizes_bytes" not in self.__dict__:
            object.__setattr__(self, "_sizes_bytes", engine_sizes(self._plan))
        return self.__dict__["_sizes_bytes"]

    def _entries(self) -> list[dict]:
        """The inspector's detailed entry of each layer (worked out once)."""
        if "_layer_entries" not in self.__dict__:
            object.__setattr__(self, "_layer_entries", inspector_entries(self._module, self._plan))
        return self.__dict__["_layer_entries"]

    def _layer_times(self, compute_ms: float) -> list[tuple[str, float]]:
        """Each layer's part of one inference's ``compute_ms``: shares 1, 2, 3, 1, 2, 3... of the whole."""
        names = [entry["Name"] for entry in self._entries()]
        shares = [index % 3 + 1 for index in range(len(names))]
        return [(name, compute_ms * share / sum(shares)) for name, share in zip(names, shares, strict=True)]


def engine_sizes(plan: dict) -> dict:
    """The double's device memory and weights of the engine ``plan`` describes, in bytes (see the module's
    docstring)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(plan["onnx"]))
    weights = 0
    for tensor in model.graph.initializer:
        nbytes = onnx.numpy_helper.to_array(tensor).nbytes
        halved = plan["fp16_flag"] and tensor.data_type == onnx.TensorProto.FLOAT
        weights += nbytes // 2 if halved else nbytes
    per_image = []
    for value in model.graph.value_info:
        kind = value.type.tensor_type
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type).itemsize
        per_image.append(itemsize * int(np.prod([dim.dim_value or 1 for dim in kind.shape.dim])))
    return {"device": plan["batch"] * sum(sorted(per_image)[-2:]), "weights": weights}


#: (TensorRT DataType name, the 10.x format string, the 11.x format string) by ONNX element type; the
#: strings as TensorRT's inspector writes them (NVIDIA's "Migrating IEngineInspector Usage from TensorRT
#: 10.x to 11.x" and the engine inspector section of its developer guide)
FORMATS = {
    "Float": ("Row major linear FP32 format", "Row major linear FP32 format (kLINEAR)"),
    "Half": ("Channel major FP16 format where channel % 8 == 0",
             "Channel major FP16 format where channel % 8 == 0 (kHWC8)"),
    "Int8": ("Thirty-two wide channel vectorized row major Int8 format",
             "Thirty-two wide channel vectorized row major Int8 format (kCHW32)"),
}
#: ONNX element types as TensorRT's DataType names
ELEMENT_TYPES = {onnx.TensorProto.FLOAT: "Float", onnx.TensorProto.FLOAT16: "Half", onnx.TensorProto.INT8: "Int8"}
#: what TensorRT fuses into the Conv before it (an activation, the residual Add), and what it leaves out
FUSED_AFTER_CONV = ("Add", "Relu")
NOT_LAYERS = ("QuantizeLinear", "DequantizeLinear", "Constant", "Identity", "Shape", "Slice", "Concat")


class EngineInspector(Logged):
    api_name = "EngineInspector"

    def __init__(self, log, engine):
        super().__init__(log)
        object.__setattr__(self, "_engine", engine)

    def get_engine_information(self, format):
        """Like TensorRT's JSON, in the schema of the double's major: layer names only, unless the plan
        was built with detailed verbosity.

        Layers are the graph's nodes, each Conv with the Add and Relu TensorRT fuses behind it. A layer
        writes INT8 when its input comes through a DequantizeLinear and every reader of what it writes is
        a QuantizeLinear (TensorRT fuses the quantize into it), else the type the graph gives its output
        (FP16 for every float layer under BuilderFlag.FP16: the double's weak build picks FP16 everywhere).
        """
        engine = self._engine
        if "inspector" in engine._module.failing:
            return ""
        major = engine._module._major
        entries = engine._entries()
        if not engine._plan.get("detailed"):
            return json.dumps({"Layers": [entry["Name"] for entry in entries], **_io(engine, major)})
        return json.dumps({"Layers": entries, **_io(engine, major)})


#: the ops the double's Myelin runs, from the first of them to the graph's end, as one layer
MYELIN_OPS = ("GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul")


def inspector_entries(module, plan: dict) -> list[dict]:
    """The detailed inspector entry of each layer of the engine ``plan`` describes, in engine order."""
    major = module._major
    model = _without_identities(onnx.shape_inference.infer_shapes(onnx.load(plan["onnx"])))
    layers = _layers(model)
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.input, *graph.output]}
    types.update({t.name: t.data_type for t in graph.initializer})
    producers = {out: node for node in graph.node for out in node.output}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    dequantized = {out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    foreign_at = None
    if module._myelin is not None:
        foreign_at = next((index for index, nodes in enumerate(layers) if nodes[0].op_type in MYELIN_OPS), None)
        if foreign_at is not None:
            layers[foreign_at:] = [[node for nodes in layers[foreign_at:] for node in nodes]]
    entries = []
    for index, nodes in enumerate(layers):
        first, last = nodes[0], nodes[-1]
        written_to = readers.get(last.output[0], [])
        if first.input and first.input[0] in dequantized and written_to \
                and all(reader.op_type == "QuantizeLinear" for reader in written_to):
            kind = "Int8"
        elif plan["fp16_flag"]:
            kind = "Half"
        else:
            kind = ELEMENT_TYPES.get(types.get(last.output[0]), "Float")
        inputs = [name for name in first.input[:1] if name]
        foreign = index == foreign_at
        metadata = "\x1f".join(f"[ONNX Layer: {node.name}]" for node in nodes)
        entries.append({
            "Name": f"{{ForeignNode[{first.name}...{last.name}]}}" if foreign else " + ".join(n.name for n in nodes),
            "LayerType": "Myelin" if foreign else {"Conv": "CaskConvolution",
                                                   "MatMul": "CaskGemmMatrixMultiply"}.get(first.op_type,
                                                                                           first.op_type),
            "Inputs": [_tensor(major, name, _kind_of(name, types, dequantized, producers)) for name in inputs],
            "Outputs": [_tensor(major, last.output[0], kind)],
            "Metadata": "" if foreign and module._myelin == "unlisted" else metadata,
            "TacticName": "fake_tactic", "StreamId": 0,
        })
    if module._reformats and entries:
        first, last = entries[0], entries[-1]
        entries.insert(0, _reformat(major, f"Reformatting CopyNode for Input Tensor 0 to {first['Name']}",
                                    first["Inputs"][0]["Name"], "Float", _entry_kind(first)))
        entries.append(_reformat(major, f"Reformatting CopyNode for Output Tensor 0 to {last['Name']}",
                                 last["Outputs"][0]["Name"], _entry_kind(last), "Float"))
    return entries


def _entry_kind(entry: dict) -> str:
    """The DataType name a layer entry writes."""
    tensor = entry["Outputs"][0]
    if "Datatype" in tensor:
        return tensor["Datatype"]
    return next(kind for kind, (legacy, _) in FORMATS.items() if legacy == tensor["Format/Datatype"])


def _reformat(major: int, name: str, tensor: str, source: str, target: str) -> dict:
    """A copy TensorRT inserted between two formats: it names no ONNX node."""
    return {"Name": name, "LayerType": "Reformat", "Inputs": [_tensor(major, tensor, source)],
            "Outputs": [_tensor(major, f"{tensor} copy", target)], "Metadata": "", "TacticName": "fake_tactic",
            "StreamId": 0}


def _layers(model) -> list[list]:
    """The graph's nodes grouped into TensorRT layers: a Conv takes the Add and Relu that follow it."""
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    taken: set[int] = set()
    layers = []
    for node in model.graph.node:
        if id(node) in taken or node.op_type in NOT_LAYERS:
            continue
        group = [node]
        while node.op_type == "Conv":
            following = readers.get(group[-1].output[0], [])
            if len(following) != 1:
                break
            after = following[0]
            if after.op_type not in FUSED_AFTER_CONV or any(n.op_type == after.op_type for n in group[1:]) \
                    or (after.op_type == "Add" and group[-1].op_type == "Relu"):
                break
            group.append(after)
            taken.add(id(after))
        layers.append(group)
    return layers


def _without_identities(model):
    """``model`` with its Identity nodes bypassed, as TensorRT removes them."""
    source = {node.output[0]: node.input[0] for node in model.graph.node if node.op_type == "Identity"}
    outputs = {o.name for o in model.graph.output}

    def resolve(name):
        while name in source and name not in outputs:
            name = source[name]
        return name

    kept = [node for node in model.graph.node if node.op_type != "Identity" or node.output[0] in outputs]
    for node in kept:
        for slot, name in enumerate(node.input):
            node.input[slot] = resolve(name)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def _kind_of(name, types, dequantized, producers) -> str:
    if name in dequantized:
        return "Int8"
    return ELEMENT_TYPES.get(types.get(name), "Float")


def _tensor(major: int, name: str, kind: str) -> dict:
    """One tensor of a layer entry: 10.x writes format and data type as one string, 11.x as two fields."""
    legacy, current = FORMATS[kind]
    entry = {"Name": name, "Location": "Device", "Dimensions": [-1]}
    if major >= 11:
        entry.update({"Format": current, "Datatype": kind})
    else:
        entry["Format/Datatype"] = legacy
    return entry


def _io(engine, major: int) -> dict:
    """The engine's inputs and outputs: 10.x "Bindings" (names), 11.x "I/O Tensors" (objects)."""
    if major < 11:
        return {"Bindings": list(engine._names)}
    batch = engine._plan["batch"]
    shapes = {engine._names[0]: [batch, 3, 224, 224], engine._names[1]: [batch, 1000]}
    tensors = []
    for name in engine._names:
        shape = shapes[name]
        is_input = name == engine._names[0]
        tensors.append({"Name": name, "IOMode": "Input" if is_input else "Output", "DataType": "Float",
                        "Dimensions": shape, "Location": "Device", "IsShapeInferenceIO": False,
                        "ProfileInfo": [{"MinShape": shape, "OptShape": shape, "MaxShape": shape,
                                         "Format": FORMATS["Float"][1]}] if is_input else []})
    return {"I/O Tensors": tensors}


class Context(Logged):
    api_name = "IExecutionContext"

    def __init__(self, log, engine):
        super().__init__(log)
        object.__setattr__(self, "_engine", engine)
        #: (stream handle, [done]) of the last enqueue
        object.__setattr__(self, "_last", None)
        object.__setattr__(self, "_shape", None)
        object.__setattr__(self, "_addresses", {})
        object.__setattr__(self, "_profiler", None)
        object.__setattr__(self, "_emits", True)
        #: (stream handle, layer times) of the last enqueue made with a profiler that did not report
        object.__setattr__(self, "_unreported", None)

    @property
    def profiler(self):
        return self._profiler

    @profiler.setter
    def profiler(self, value):
        if value is not None and not isinstance(value, IProfiler):
            # pybind11's words for an argument of the wrong type
            raise TypeError("(): incompatible function arguments. The following argument types are supported:\n"
                            "    1. (self: tensorrt.IExecutionContext, arg0: tensorrt.IProfiler) -> None")
        object.__setattr__(self, "_profiler", value)
        object.__setattr__(self, "_unreported", None)

    @property
    def enqueue_emits_profile(self):
        return self._emits

    @enqueue_emits_profile.setter
    def enqueue_emits_profile(self, value):
        object.__setattr__(self, "_emits", bool(value))

    def report_to_profiler(self):
        """TensorRT's reportToProfiler: the last enqueue's layer times to the profiler, once its work is done;
        False without a profiler, or with nothing enqueued since; True and nothing more when enqueue emits."""
        if self._profiler is None or "report" in self._engine._module.failing:
            return False
        if self._emits:
            return True
        if self._unreported is None:
            return False
        handle, times = self._unreported
        gpu = self._engine._module._gpu
        stream = gpu.streams[handle]
        if stream.capture is not None:
            return False
        gpu.synchronize(stream)  # its timing events are read: the inference must have finished
        object.__setattr__(self, "_unreported", None)
        for name, ms in times:
            self._profiler.report_layer_time(name, ms)
        return True

    def set_input_shape(self, name, shape):
        if tuple(shape)[0] != self._engine._plan["batch"] or "shape" in self._engine._module.failing:
            return False
        object.__setattr__(self, "_shape", tuple(shape))
        return True

    def get_tensor_shape(self, name):
        if name == self._engine._names[0]:
            return self._shape
        return (self._shape[0], 1000)

    def set_tensor_address(self, name, memory):
        if "address" in self._engine._module.failing:
            return False
        self._addresses[name] = memory
        return True

    def __del__(self):
        module = self.__dict__["_engine"]._module
        object.__setattr__(module, "contexts_alive", object.__getattribute__(module, "contexts_alive") - 1)

    def execute_async_v3(self, stream_handle):
        engine, gpu = self._engine, self._engine._module._gpu
        failing = engine._module.failing
        capturing = gpu.streams[stream_handle].capture is not None
        if "enqueue" in failing or ("enqueue_in_capture" in failing and capturing):
            return False  # enqueueV3 failed: nothing was queued
        if self._last is not None and self._last[0] != stream_handle and not self._last[1]:
            return False  # still running on another stream: one context serves one inference at a time
        in_name, out_name = engine._names
        shape, addresses = self._shape, dict(self._addresses)
        done: list = []

        def run():
            data = gpu.read(addresses[in_name], shape, np.float32)
            out = engine._session.run(None, {in_name: data})[0].astype(np.float32)
            gpu.memory[addresses[out_name]][: out.nbytes] = out.view(np.uint8).reshape(-1)
            done.append(True)

        profiler = self._profiler
        if profiler is not None and self._emits and capturing:
            return False  # an enqueue that emits its profile waits for the GPU, which a capture forbids
        if not capturing:
            gpu.host_work(gpu.launch_gap_ms)  # the enqueue's host time before its kernel is queued
        compute_ms = gpu.next_compute_ms()
        gpu.enqueue(stream_handle, run, compute_ms)
        object.__setattr__(self, "_last", (stream_handle, done))
        engine._module._enqueues += 1
        if profiler is not None and not capturing:
            times = engine._layer_times(compute_ms)
            if self._emits:  # synchronous: the layer times are reported before enqueue returns
                gpu.synchronize(gpu.streams[stream_handle])
                for name, ms in times:
                    profiler.report_layer_time(name, ms)
            else:
                object.__setattr__(self, "_unreported", (stream_handle, times))
        return True


class Runtime(Logged):
    api_name = "Runtime"

    def __init__(self, log, module, logger):
        super().__init__(log)
        object.__setattr__(self, "_module", module)

    def deserialize_cuda_engine(self, serialized_engine):
        if "deserialize" in self._module.failing:
            return None
        try:
            data = json.loads(bytes(serialized_engine))
        except ValueError:
            return None
        return Engine(self._log, self._module, data)


class FakeTensorRT(Logged):
    """Stands in for `import tensorrt` (install it in sys.modules or pass it to the backend)."""

    api_name = "tensorrt"

    def __init__(self, major: int, gpu, version: str | None = None, reformats: bool = False,
                 myelin: str | None = None):
        log: set = set()
        super().__init__(log)
        set_ = object.__setattr__
        set_(self, "_major", major)
        set_(self, "_reformats", reformats)
        set_(self, "_myelin", myelin)
        set_(self, "_gpu", gpu)
        set_(self, "_builds", [])
        set_(self, "_enqueues", 0)
        set_(self, "contexts_alive", 0)
        set_(self, "failing", set())
        set_(self, "_version", version or {10: "10.13.3.9", 11: "11.4.0.106"}[major])
        # Members and values as the real bindings of each major have them (checked by the conformance test).
        creation = {"STRONGLY_TYPED": 0} if major >= 11 else {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1}
        set_(self, "_strong_flag", creation["STRONGLY_TYPED"])
        builder_flags = {"DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "TF32": 6} if major >= 11 else \
            {"FP16": 0, "INT8": 1, "DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "TF32": 6, "BF16": 17}
        set_(self, "NetworkDefinitionCreationFlag", Enum(log, "NetworkDefinitionCreationFlag", creation))
        set_(self, "BuilderFlag", Enum(log, "BuilderFlag", builder_flags))
        set_(self, "MemoryPoolType", Enum(log, "MemoryPoolType", {"WORKSPACE": 0, "DLA_MANAGED_SRAM": 1}))
        set_(self, "TensorIOMode", Enum(log, "TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2}))
        set_(self, "DataType", Enum(log, "DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3}))
        set_(self, "ProfilingVerbosity", Enum(log, "ProfilingVerbosity",
                                              {"LAYER_NAMES_ONLY": 0, "NONE": 1, "DETAILED": 2}))
        set_(self, "LayerInformationFormat", Enum(log, "LayerInformationFormat", {"ONELINE": 0, "JSON": 1}))
        if major >= 11:
            set_(self, "EngineStat", Enum(log, "EngineStat", {"TOTAL_WEIGHTS_SIZE": 0, "STRIPPED_WEIGHTS_SIZE": 1}))
        set_(self, "IProfiler", IProfiler)
        set_(self, "Logger", LoggerFactory(log))
        set_(self, "Builder", Factory(log, "Builder", lambda logger: Builder(log, self, logger)))
        set_(self, "OnnxParser", Factory(log, "OnnxParser", lambda network, logger: Parser(log, network, logger)))
        set_(self, "Runtime", Factory(log, "Runtime", lambda logger: Runtime(log, self, logger)))

    def __getattribute__(self, name):
        if name == "__version__":
            object.__getattribute__(self, "_log").add("__version__")
            return object.__getattribute__(self, "_version")
        value = object.__getattribute__(self, name)  # a name the module lacks raises before it is logged
        if not name.startswith("_") and name not in ("used", "failing", "contexts_alive"):
            object.__getattribute__(self, "_log").add(name)
        return value

    def nptype(self, trt_type):
        return {0: np.float32, 1: np.float16, 2: np.int8, 3: np.int32}[int(trt_type)]

    @property
    def used(self) -> set:
        """Every TensorRT name the code under test touched."""
        return set(self._log)
