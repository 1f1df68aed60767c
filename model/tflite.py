"""Import a user's int8 ``.tflite`` MobileNet-v1: the network and its quantised layers.

:func:`load_tflite` reads the flatbuffer (LiteRT's own schema module) and builds the
project's :class:`model.layers.Network` and one :class:`model.golden.QuantLayer` per
layer, with TFLite's arithmetic (:mod:`model.numerics`): the golden model then computes
what LiteRT's reference kernels compute, element for element.

Accepted, as TFLite's converter emits them for MobileNet-v1 with full-integer
quantisation: CONV_2D (3x3 first layer, 1x1 pointwise, 1x1 classifier on the pooled
map), DEPTHWISE_CONV_2D (3x3, multiplier 1), PAD before a convolution (folded into its
explicit padding), MEAN over height and width (global average pooling), fused
NONE/RELU/RELU6, SAME and VALID padding, int8 activations, symmetric int8 weights
(per channel or per tensor), int32 biases; RESHAPE, SHAPE, STRIDED_SLICE, PACK and
SOFTMAX after the last layer run on the host. The layers must form one chain (each
reads the previous one's output); any layer's output may be a model output (an SSD
taps blocks 11 and 13). Anything else raises :class:`TFLiteImportError` with one line
naming the operator, its index and why.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .golden import QuantLayer
from .layers import Activation, Layer, LayerKind, Network, Padding
from .numerics import INT8_MAX, INT8_MIN, mean_multiplier, quantize_multiplier, wrap_int32
from .quantize import activation_range

__all__ = ["TFLiteImportError", "ImportedModel", "ModelOutput", "HostFullyConnected",
           "load_tflite", "reference_run"]

HOST_OPS = {"RESHAPE", "SHAPE", "STRIDED_SLICE", "PACK", "SOFTMAX"}


class TFLiteImportError(ValueError):
    """The file is not a model the accelerator can run; the message says why."""


@dataclass(frozen=True)
class ModelOutput:
    """One output tensor of the model: which layer's map it is, in the model's shape."""

    name: str
    layer: str  # the layer whose output map this is (C order: the same bytes)
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    tensor: int  # the TFLite tensor holding these values (before a SOFTMAX, if any)
    softmax: bool = False  # the model applies SOFTMAX to it; the host does that in float


@dataclass(frozen=True, eq=False)
class HostFullyConnected:
    """A FULLY_CONNECTED classifier, run on the host in its reference kernel's arithmetic.

    LiteRT's reference int8 FULLY_CONNECTED does not requantise with integers: it scales
    the int32 accumulator by a double (``acc * (s_in * s_w[c] / s_out)``, rounded to
    double precision) and rounds half away from zero. The accelerator's requantisers
    cannot reproduce that bit for bit, and the layer is a sliver of the network's
    multiply-accumulates (``Cin x Cout``), so the host computes it exactly after the
    accelerator's last layer.
    """

    name: str
    weights: np.ndarray  # (Cin, Cout) int8
    bias: np.ndarray  # (Cout,) int64: TFLite's bias - Z_in * sum(w), modulo 2**32
    scale: np.ndarray  # (Cout,) float64: s_in * s_w[c] / s_out in double, left to right
    out_zero_point: int
    clamp_lo: int
    clamp_hi: int
    out_scale: float

    def run(self, x: np.ndarray) -> np.ndarray:
        """The int8 outputs ``(Cout,)`` for the int8 input ``x`` (any shape of Cin values)."""
        acc = wrap_int32(self.bias + x.reshape(-1).astype(np.int64) @ self.weights.astype(np.int64))
        product = acc.astype(np.float64) * self.scale  # IEEE double, as the C++ computes it
        whole = np.trunc(product)
        rounded = whole + np.where(np.abs(product - whole) >= 0.5, np.sign(product), 0.0)
        return np.clip(rounded + self.out_zero_point, self.clamp_lo, self.clamp_hi).astype(np.int8)


@dataclass(frozen=True, eq=False)
class ImportedModel:
    """What :func:`load_tflite` returns."""

    path: Path
    sha256: str
    network: Network
    qlayers: tuple[QuantLayer, ...]
    input_name: str
    input_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    outputs: tuple[ModelOutput, ...]
    tensor_of_layer: dict  # layer name -> TFLite tensor index of its output (reference checks)
    host_layers: tuple[HostFullyConnected, ...] = ()  # after the network's last layer
    reference_content: bytes | None = None  # the model without SOFTMAX, for reference runs

    def run_host(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The host layers' outputs (by name) on the accelerator's last map ``x``."""
        maps = {}
        for layer in self.host_layers:
            x = maps[layer.name] = layer.run(x)
        return maps


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _names(enum_class) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


class _Graph:
    """The parts of the flatbuffer the importer reads, with one-line errors."""

    def __init__(self, path: Path):
        schema = _schema()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TFLiteImportError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise TFLiteImportError(f"{path}: is a directory, not a .tflite file") from None
        except OSError as error:
            raise TFLiteImportError(f"{path}: cannot read it ({error.strerror})") from None
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise TFLiteImportError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
        try:
            model = schema.ModelT.InitFromPackedBuf(data, 0)
            graph = model.subgraphs[0]
            self.tensors, self.operators = graph.tensors, graph.operators or []
            self.inputs, self.outputs = list(graph.inputs), list(graph.outputs)
            self.buffers, self.codes = model.buffers, model.operatorCodes
            if len(model.subgraphs) != 1:
                raise TFLiteImportError(f"{path}: {len(model.subgraphs)} subgraphs; only "
                                        f"single-graph models can run")
        except TFLiteImportError:
            raise
        except Exception as error:  # a truncated or corrupt buffer fails anywhere inside
            raise TFLiteImportError(f"{path}: corrupt or truncated TFLite flatbuffer "
                                    f"({type(error).__name__})") from None
        self.path, self.sha256 = path, hashlib.sha256(data).hexdigest()
        self.op_names = _names(schema.BuiltinOperator)
        self.type_names = _names(schema.TensorType)
        self.schema = schema

    def op_name(self, op) -> str:
        code = self.codes[op.opcodeIndex]
        return self.op_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")

    def tensor_name(self, index: int) -> str:
        name = self.tensors[index].name
        return name.decode() if isinstance(name, bytes) else str(name)

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in self.tensors[index].shape)

    def dtype(self, index: int) -> str:
        return self.type_names.get(self.tensors[index].type, "?")

    def quant(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        q = self.tensors[index].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        return np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64)

    def constant(self, index: int, dtype) -> np.ndarray | None:
        buffer = self.buffers[self.tensors[index].buffer]
        if buffer is None or buffer.data is None or len(buffer.data) == 0:
            return None
        return np.frombuffer(bytes(np.asarray(buffer.data, np.uint8)), dtype=dtype).reshape(
            self.shape(index))


class _Refuse:
    def __init__(self, graph: _Graph):
        self.graph = graph

    def __call__(self, index: int, op_name: str, why: str):
        raise TFLiteImportError(f"{self.graph.path.name}: operator {index} ({op_name}): {why}")


def _activation_of(graph, options, refuse, index, name) -> Activation:
    if options is None:
        return Activation.NONE
    fused = getattr(options, "fusedActivationFunction", 0)
    names = _names(graph.schema.ActivationFunctionType)
    kind = names.get(fused, str(fused))
    table = {"NONE": Activation.NONE, "RELU": Activation.RELU, "RELU6": Activation.RELU6}
    if kind not in table:
        refuse(index, name, f"fused activation {kind} is not supported (NONE, RELU, RELU6 are)")
    return table[kind]


def _activation_quant(graph, tensor, refuse, index, name, role):
    if graph.dtype(tensor) != "INT8":
        refuse(index, name, f"{role} tensor is {graph.dtype(tensor)}; the accelerator runs int8 "
                            f"activations (convert with inference_input_type=tf.int8 and full-"
                            f"integer quantisation)")
    scale, zero = graph.quant(tensor)
    if scale.size != 1:
        refuse(index, name, f"{role} tensor needs one scale and zero point (per-tensor), "
                            f"not {scale.size}")
    return float(scale[0]), int(zero[0])


def _fully_connected(graph, op, refuse, index, name, current, in_scale, in_zero, count):
    inputs = [int(i) for i in op.inputs]
    out = int(op.outputs[0])
    out_scale, out_zero = _activation_quant(graph, out, refuse, index, name, "output")
    weights = graph.constant(inputs[1], np.int8) if graph.dtype(inputs[1]) == "INT8" else None
    if weights is None or weights.ndim != 2:
        refuse(index, name, "weights must be a constant int8 matrix")
    out_c, in_c = weights.shape
    if math.prod(graph.shape(current)) != in_c:
        refuse(index, name, f"takes {in_c} inputs, not the previous layer's "
                            f"{math.prod(graph.shape(current))}")
    w_scale, w_zero = graph.quant(inputs[1])
    if w_scale.size not in (1, out_c) or np.any(w_zero != 0):
        refuse(index, name, "weights must be symmetric int8, per channel or per tensor")
    bias = np.zeros(out_c, np.int64)
    if len(inputs) > 2 and inputs[2] >= 0:
        if graph.dtype(inputs[2]) != "INT32":
            refuse(index, name, f"bias must be int32, not {graph.dtype(inputs[2])}")
        bias = graph.constant(inputs[2], np.int32).astype(np.int64)
    activation = _activation_of(graph, op.builtinOptions, refuse, index, name)
    w = np.ascontiguousarray(weights.T)
    scales = np.broadcast_to(w_scale, (out_c,)).astype(np.float64)
    # double(s_in) * double(s_w[c]) / double(s_out), left to right, as the kernel does.
    effective = np.array([float(np.float32(in_scale)) * s / float(np.float32(out_scale))
                          for s in scales])
    lo, hi = activation_range(activation, out_scale, out_zero)
    return HostFullyConnected(f"fc{count + 1} (host)" if count else "fc (host)", w,
                              wrap_int32(bias - in_zero * w.astype(np.int64).sum(axis=0)),
                              effective, out_zero, lo, hi, out_scale)


def _without_softmax(graph: _Graph, outputs) -> bytes:
    """The flatbuffer without its SOFTMAX ops (and what reads them), its outputs the
    softmax inputs: LiteRT's reference int8 SOFTMAX aborts the process."""
    import flatbuffers

    schema = graph.schema
    model = schema.ModelT.InitFromPackedBuf(graph.path.read_bytes(), 0)
    sub = model.subgraphs[0]
    dropped: set[int] = set()
    kept = []
    for op in sub.operators:
        name = graph.op_name(op)
        if name == "SOFTMAX" or any(int(i) in dropped for i in op.inputs):
            dropped.update(int(o) for o in op.outputs)
        else:
            kept.append(op)
    sub.operators = kept
    sub.outputs = [o.tensor for o in outputs]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def load_tflite(path) -> ImportedModel:
    """Import ``path``; raise :class:`TFLiteImportError` (one line) if it cannot run."""
    path = Path(path)
    graph = _Graph(path)
    refuse = _Refuse(graph)
    if len(graph.inputs) != 1:
        raise TFLiteImportError(f"{path.name}: {len(graph.inputs)} inputs; the accelerator takes "
                                f"one image")
    input_tensor = graph.inputs[0]
    input_shape = graph.shape(input_tensor)
    if len(input_shape) != 4 or input_shape[0] != 1 or input_shape[3] != 3:
        raise TFLiteImportError(f"{path.name}: input shape {list(input_shape)}; expected "
                                f"[1, height, width, 3]")
    in_scale, in_zero = _activation_quant(graph, input_tensor, refuse, 0, "input", "input")

    layers: list[Layer] = []
    qlayers: list[QuantLayer] = []
    tensor_of_layer: dict[str, int] = {}
    producer: dict[int, str] = {}  # tensor index -> layer name (or "input")
    host_source: dict[int, tuple[str, int]] = {}  # host op output -> (op, its data input)
    current = input_tensor  # the chain's head tensor
    cur_scale, cur_zero = in_scale, in_zero
    pending_pad = None  # (top, left, bottom, right) from a PAD op
    host_only = False
    counts = {"dw": 0, "pw": 0}
    host_layers: list[HostFullyConnected] = []
    producer[input_tensor] = "input"

    for index, op in enumerate(graph.operators):
        name = graph.op_name(op)
        inputs = [int(i) for i in op.inputs]
        outputs = [int(o) for o in op.outputs]
        if name in HOST_OPS:
            host_only = True
            for out in outputs:
                host_source[out] = (name, inputs[0] if inputs else -1)
            continue
        if host_only:
            refuse(index, name, "runs after the host-side reshape/softmax ops; the accelerator's "
                                "layers must come first")
        if host_layers and name != "FULLY_CONNECTED":
            refuse(index, name, "follows the fully connected classifier, which runs on the host")
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "PAD", "FULLY_CONNECTED"):
            why = {
                "ADD": "a residual addition (skip connection); MobileNet-v1 has none and the "
                       "accelerator runs one chain of layers",
                "QUANTIZE": "a float or uint8 model edge; convert with full-integer "
                            "quantisation and int8 input and output",
                "DEQUANTIZE": "a float model edge; convert with full-integer quantisation "
                              "and int8 input and output",
            }.get(name, "this operator is not a MobileNet-v1 layer the accelerator runs")
            refuse(index, name, why)
        if not inputs or inputs[0] != current:
            refuse(index, name, "does not read the previous layer's output; the accelerator "
                                "runs one chain of layers")
        out = outputs[0]
        out_scale, out_zero = _activation_quant(graph, out, refuse, index, name, "output")
        in_h, in_w, in_c = graph.shape(current)[1:4] if len(graph.shape(current)) == 4 else (0, 0, 0)

        if name == "FULLY_CONNECTED":
            host_layers.append(_fully_connected(graph, op, refuse, index, name, current,
                                                cur_scale, cur_zero, len(host_layers)))
            current, cur_scale, cur_zero = out, out_scale, out_zero
            producer[out] = host_layers[-1].name
            continue

        if name == "PAD":
            pads = graph.constant(inputs[1], np.int32)
            if pads is None or pads.shape != (4, 2) or pads[0].any() or pads[3].any():
                refuse(index, name, "only constant padding of height and width is supported")
            if (out_scale, out_zero) != (cur_scale, cur_zero):
                refuse(index, name, "pads with a requantisation; only plain zero padding is supported")
            if pending_pad is not None:
                refuse(index, name, "two PADs in a row")
            pending_pad = (int(pads[1][0]), int(pads[2][0]), int(pads[1][1]), int(pads[2][1]))
            unpadded = current
            current = out
            producer[out] = producer[unpadded]
            continue

        if name == "MEAN":
            axes = graph.constant(inputs[1], np.int32)
            if axes is None or sorted(int(a) for a in axes.reshape(-1)) != [1, 2]:
                refuse(index, name, "only a mean over height and width (global average "
                                    "pooling) is supported")
            if pending_pad is not None:
                refuse(index, name, "a PAD before a global average pool")
            layer = Layer("avgpool", LayerKind.AVGPOOL, in_h, in_w, in_c, in_c, in_h, 1)
            window = in_h * in_w
            try:
                m0, shift = mean_multiplier(float(np.float32(cur_scale)) / float(np.float32(out_scale)),
                                            window)
            except ValueError as error:
                refuse(index, name, str(error))
            q = QuantLayer(layer, None, np.full(in_c, wrap_int32(-window * cur_zero), np.int32),
                           np.full(in_c, m0, np.int32), np.full(in_c, shift, np.int32),
                           cur_zero, out_zero, INT8_MIN, INT8_MAX, cur_scale, out_scale)
        else:
            weights = graph.constant(inputs[1], np.int8) if graph.dtype(inputs[1]) == "INT8" else None
            if weights is None:
                refuse(index, name, f"weights must be constant int8, not {graph.dtype(inputs[1])}")
            w_scale, w_zero = graph.quant(inputs[1])
            if w_scale.size == 0:
                refuse(index, name, "weights have no quantisation parameters")
            if np.any(w_zero != 0):
                refuse(index, name, "asymmetric weights (non-zero weight zero point); the "
                                    "accelerator needs symmetric int8 weights")
            bias = None
            if len(inputs) > 2 and inputs[2] >= 0:
                if graph.dtype(inputs[2]) != "INT32":
                    refuse(index, name, f"bias must be int32, not {graph.dtype(inputs[2])}")
                bias = graph.constant(inputs[2], np.int32)
            options = op.builtinOptions
            activation = _activation_of(graph, options, refuse, index, name)
            stride = (int(options.strideH), int(options.strideW)) if options else (1, 1)
            dilation = (int(getattr(options, "dilationHFactor", 1) or 1),
                        int(getattr(options, "dilationWFactor", 1) or 1))
            if stride[0] != stride[1] or stride[0] not in (1, 2):
                refuse(index, name, f"stride {stride[0]}x{stride[1]}; strides 1 and 2 (square) run")
            if dilation != (1, 1):
                refuse(index, name, "dilated convolution is not supported")
            padding_names = _names(graph.schema.Padding)
            style = padding_names.get(int(options.padding), "?") if options else "VALID"
            out_c_w = weights.shape[0] if name == "CONV_2D" else weights.shape[3]
            kh, kw = weights.shape[1], weights.shape[2]
            if kh != kw or kh not in (1, 3):
                refuse(index, name, f"kernel {kh}x{kw}; 3x3 and 1x1 run")
            if style == "SAME":
                padding = Padding.same(in_h, in_w, kh, stride[0])
            else:
                padding = Padding()
            if pending_pad is not None:
                if style != "VALID":
                    refuse(index, name, "SAME padding after an explicit PAD")
                padding = Padding(*pending_pad)
                in_h -= pending_pad[0] + pending_pad[2]
                in_w -= pending_pad[1] + pending_pad[3]
                pending_pad = None
            if name == "DEPTHWISE_CONV_2D":
                if kh != 3 or weights.shape[0] != 1 or out_c_w != in_c:
                    refuse(index, name, "only 3x3 depthwise with depth multiplier 1 runs")
                counts["dw"] += 1
                layer_name, kind = f"dw{counts['dw']}", LayerKind.DEPTHWISE
                w = weights[0]  # (3, 3, C)
            elif kh == 3:
                if layers:
                    refuse(index, name, "a 3x3 convolution runs only as the first layer (conv1)")
                layer_name, kind = "conv1", LayerKind.CONV
                w = np.ascontiguousarray(weights.transpose(1, 2, 3, 0))  # (3, 3, Cin, Cout)
            else:
                if stride[0] != 1:
                    refuse(index, name, "a 1x1 convolution with stride 2 is not supported")
                w = np.ascontiguousarray(weights.reshape(out_c_w, in_c).T)  # (Cin, Cout)
                if (in_h, in_w) == (1, 1) and layers and layers[-1].kind in (LayerKind.AVGPOOL,
                                                                            LayerKind.POINTWISE):
                    layer_name, kind = "fc", LayerKind.FC
                else:
                    counts["pw"] += 1
                    layer_name, kind = f"pw{counts['pw']}", LayerKind.POINTWISE
            if kind is not LayerKind.FC and any(l.name == "fc" for l in layers):
                refuse(index, name, "a layer after the classifier")
            try:
                layer = Layer(layer_name, kind, in_h, in_w, in_c, out_c_w, kh, stride[0],
                              padding, activation)
            except ValueError as error:
                refuse(index, name, str(error))
            if graph.shape(out)[1:] != layer.out_shape:
                refuse(index, name, f"output shape {list(graph.shape(out))} differs from the "
                                    f"layer's {list(layer.out_shape)}")
            w_scale = np.broadcast_to(w_scale, (out_c_w,)) if w_scale.size == 1 else w_scale
            if w_scale.size != out_c_w:
                refuse(index, name, f"{w_scale.size} weight scales for {out_c_w} output channels: "
                                    f"the accelerator needs per-output-channel (or per-tensor) scales")
            q_bias = np.zeros(out_c_w, np.int64) if bias is None else bias.astype(np.int64)
            sums = w.astype(np.int64).reshape(-1, out_c_w).sum(axis=0)
            pairs = []
            for c in range(out_c_w):
                # TFLite: double(s_in) * s_w[c] / double(s_out), left to right.
                real = float(np.float32(cur_scale)) * float(w_scale[c]) / float(np.float32(out_scale))
                try:
                    pairs.append(quantize_multiplier(real))
                except ValueError as error:
                    refuse(index, name, f"output channel {c}: {error}")
            lo, hi = activation_range(activation, out_scale, out_zero)
            q = QuantLayer(layer, w, wrap_int32(q_bias - cur_zero * sums).astype(np.int32),
                           np.array([p[0] for p in pairs], np.int32),
                           np.array([p[1] for p in pairs], np.int32),
                           cur_zero, out_zero, lo, hi, cur_scale, out_scale)
        layers.append(layer)
        qlayers.append(q)
        tensor_of_layer[layer.name] = out
        producer[out] = layer.name
        current, cur_scale, cur_zero = out, out_scale, out_zero

    if not layers:
        raise TFLiteImportError(f"{path.name}: no layers the accelerator runs")
    if pending_pad is not None:
        raise TFLiteImportError(f"{path.name}: the model ends in a PAD")
    model_outputs = []
    for tensor in graph.outputs:
        value, source, softmax = tensor, tensor, False
        while source in host_source:  # back through reshapes and a softmax to a layer
            op_name, source = host_source[source]
            if op_name == "SOFTMAX":
                value, softmax = source, True
        if source not in producer or producer[source] == "input":
            raise TFLiteImportError(f"{path.name}: output {graph.tensor_name(tensor)!r} is not "
                                    f"the output of a layer the accelerator runs")
        if math.prod(graph.shape(value)) != math.prod(graph.shape(source)):
            raise TFLiteImportError(f"{path.name}: output {graph.tensor_name(tensor)!r} is not "
                                    f"a reshape of a layer's output")
        scale, zero = graph.quant(value)
        model_outputs.append(ModelOutput(graph.tensor_name(tensor), producer[source],
                                         graph.shape(value),
                                         float(scale[0]) if scale.size else 0.0,
                                         int(zero[0]) if zero.size else 0, value, softmax))
    reference_content = _without_softmax(graph, model_outputs) if any(
        o.softmax for o in model_outputs) else None
    name = f"{path.stem} ({input_shape[1]}x{input_shape[2]})"
    host_names = {layer.name for layer in host_layers}
    network = Network(name, None, None, tuple(layers), outputs=tuple(dict.fromkeys(
        layers[-1].name if o.layer in host_names else o.layer for o in model_outputs)))
    return ImportedModel(path, graph.sha256, network, tuple(qlayers), graph.tensor_name(input_tensor),
                         input_shape, in_scale, in_zero, tuple(model_outputs), tensor_of_layer,
                         tuple(host_layers), reference_content)


def reference_run(model: ImportedModel, image: np.ndarray) -> tuple[dict, dict]:
    """Run ``model`` on LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``, not the
    default XNNPACK, which rounds differently) on the int8 ``image`` (H x W x 3).

    Returns ``({layer name: its output map (H x W x C)}, {output name: tensor})``; an
    output the model passes through SOFTMAX is given before it (the logits), as the
    accelerator reports it (LiteRT's reference int8 SOFTMAX aborts the process).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    source = dict(model_content=model.reference_content) if model.reference_content else \
        dict(model_path=str(model.path))
    interpreter = Interpreter(**source, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    interpreter.set_tensor(index, np.asarray(image, np.int8).reshape(model.input_shape))
    interpreter.invoke()
    by_layer = {q.layer.name: interpreter.get_tensor(model.tensor_of_layer[q.layer.name]).reshape(
        q.layer.out_shape) for q in model.qlayers}
    by_output = {o.name: interpreter.get_tensor(o.tensor) for o in model.outputs}
    return by_layer, by_output
