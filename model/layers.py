"""MobileNet-v1 layer table: typed layer descriptions and the network builder.

This table is the one description of the network. The golden model executes it, the
cost model prices it, the generator sizes SRAM banks from it and the driver tiles it.

Counting conventions follow Howard et al. (2017): Mult-Adds count one per multiply-
accumulate of a convolution or fully connected layer (pooling and bias are not
counted), and parameters count weights only (no biases, batch norm folded away).
With these conventions the table reproduces Tables 1, 2, 6, 7, 8 and 9 of the paper.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "LayerKind",
    "Activation",
    "Padding",
    "PaddingStyle",
    "Layer",
    "Network",
    "mobilenet_v1",
    "MOBILENET_V1_BLOCKS",
    "scale_channels",
    "alpha_label",
    "validate_alpha",
    "validate_resolution",
]


class LayerKind(enum.Enum):
    """What a layer computes."""

    CONV = "conv"  # standard KxK convolution over all input channels (conv1)
    DEPTHWISE = "depthwise"  # KxK convolution, one filter per channel
    POINTWISE = "pointwise"  # 1x1 convolution
    AVGPOOL = "avgpool"  # global average pool over the whole map
    FC = "fc"  # fully connected, i.e. 1x1 convolution on a 1x1 map


class Activation(enum.Enum):
    """Clamp applied after requantisation."""

    NONE = "none"
    RELU = "relu"
    RELU6 = "relu6"


class PaddingStyle(enum.Enum):
    """How a network pads its 3x3 convolutions."""

    SAME = "same"  # TensorFlow: extra padding goes bottom/right (s2 on even input: 0,0,1,1)
    SYMMETRIC = "symmetric"  # PyTorch: kernel//2 on every side


@dataclass(frozen=True)
class Padding:
    """Explicit zero padding (in input pixels) on each side of the input map."""

    top: int = 0
    left: int = 0
    bottom: int = 0
    right: int = 0

    def __post_init__(self):
        for side in ("top", "left", "bottom", "right"):
            value = getattr(self, side)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"padding {side} must be a non-negative integer, not {value!r}")

    @classmethod
    def same(cls, in_h: int, in_w: int, kernel: int, stride: int) -> "Padding":
        """TensorFlow "SAME": output is ceil(input / stride); odd totals pad bottom/right."""

        def split(size):
            out = -(-size // stride)
            total = max((out - 1) * stride + kernel - size, 0)
            return total // 2, total - total // 2

        top, bottom = split(in_h)
        left, right = split(in_w)
        return cls(top, left, bottom, right)

    @classmethod
    def symmetric(cls, kernel: int) -> "Padding":
        """PyTorch style: kernel // 2 on every side."""
        p = kernel // 2
        return cls(p, p, p, p)

    @classmethod
    def for_style(cls, style: PaddingStyle, in_h: int, in_w: int, kernel: int, stride: int):
        if style is PaddingStyle.SAME:
            return cls.same(in_h, in_w, kernel, stride)
        return cls.symmetric(kernel)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right)."""
        return (self.top, self.left, self.bottom, self.right)


@dataclass(frozen=True)
class Layer:
    """One layer of the network, with everything needed to run, price or size it.

    Parameters
    ----------
    name : str
        Short unique name, e.g. ``"dw3"``.
    kind : LayerKind
    in_h, in_w, in_c : int
        Input feature map height, width and channels (HWC layout, int8).
    out_c : int
        Output channels; equals ``in_c`` for depthwise and average pooling.
    kernel : int
        Square kernel size (3 for conv/depthwise, 1 for pointwise/fc, the map size for
        global average pooling).
    stride : int
    padding : Padding
    activation : Activation
    """

    name: str
    kind: LayerKind
    in_h: int
    in_w: int
    in_c: int
    out_c: int
    kernel: int
    stride: int = 1
    padding: Padding = Padding()
    activation: Activation = Activation.NONE

    def __post_init__(self):
        for field in ("in_h", "in_w", "in_c", "out_c", "kernel", "stride"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"layer {self.name!r}: {field} must be a positive integer, not {value!r}")
        if self.kind in (LayerKind.DEPTHWISE, LayerKind.AVGPOOL) and self.out_c != self.in_c:
            raise ValueError(f"layer {self.name!r}: {self.kind.value} needs out_c == in_c, "
                             f"not {self.out_c} != {self.in_c}")
        if self.kind in (LayerKind.POINTWISE, LayerKind.FC) and self.kernel != 1:
            raise ValueError(f"layer {self.name!r}: {self.kind.value} needs kernel 1, not {self.kernel}")
        if self.kind is LayerKind.FC and (self.in_h, self.in_w) != (1, 1):
            raise ValueError(f"layer {self.name!r}: fc needs a 1x1 input map, not {self.in_h}x{self.in_w}")
        if self.kind is LayerKind.AVGPOOL and self.kernel != self.in_h:
            raise ValueError(f"layer {self.name!r}: avgpool is global: kernel must be the map's "
                             f"height ({self.in_h}x{self.in_w}), not {self.kernel}")
        if self.kind is not LayerKind.AVGPOOL and (
                self.in_h + self.padding.top + self.padding.bottom < self.kernel or
                self.in_w + self.padding.left + self.padding.right < self.kernel):
            raise ValueError(f"layer {self.name!r}: padded input smaller than the {self.kernel}x{self.kernel} kernel")

    # -- shape ---------------------------------------------------------------------
    @property
    def out_h(self) -> int:
        if self.kind is LayerKind.AVGPOOL:
            return 1  # global, over a square or non-square map
        return (self.in_h + self.padding.top + self.padding.bottom - self.kernel) // self.stride + 1

    @property
    def out_w(self) -> int:
        if self.kind is LayerKind.AVGPOOL:
            return 1
        return (self.in_w + self.padding.left + self.padding.right - self.kernel) // self.stride + 1

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.in_h, self.in_w, self.in_c)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_h, self.out_w, self.out_c)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the int8 weight tensor the golden model takes (empty for pooling)."""
        k, ci, co = self.kernel, self.in_c, self.out_c
        return {
            LayerKind.CONV: (k, k, ci, co),
            LayerKind.DEPTHWISE: (k, k, ci),
            LayerKind.POINTWISE: (ci, co),
            LayerKind.FC: (ci, co),
            LayerKind.AVGPOOL: (),
        }[self.kind]

    # -- the paper's counts ----------------------------------------------------------
    @property
    def macs_per_output(self) -> int:
        """Multiply-accumulates that produce one output value."""
        k = self.kernel
        return {
            LayerKind.CONV: k * k * self.in_c,
            LayerKind.DEPTHWISE: k * k,
            LayerKind.POINTWISE: self.in_c,
            LayerKind.FC: self.in_c,
            LayerKind.AVGPOOL: 0,
        }[self.kind]

    @property
    def mult_adds(self) -> int:
        return self.out_h * self.out_w * self.out_c * self.macs_per_output

    @property
    def params(self) -> int:
        """Weights (the paper's parameter count: no biases)."""
        return math.prod(self.weight_shape) if self.weight_shape else 0

    @property
    def biases(self) -> int:
        return 0 if self.kind is LayerKind.AVGPOOL else self.out_c

    # -- int8 sizes --------------------------------------------------------------------
    @property
    def in_bytes(self) -> int:
        return self.in_h * self.in_w * self.in_c

    @property
    def out_bytes(self) -> int:
        return self.out_h * self.out_w * self.out_c

    @property
    def weight_bytes(self) -> int:
        return self.params

    @property
    def type_label(self) -> str:
        """Table 1 style "Type / Stride", e.g. ``"Conv dw / s2"``."""
        label = {
            LayerKind.CONV: "Conv",
            LayerKind.DEPTHWISE: "Conv dw",
            LayerKind.POINTWISE: "Conv",
            LayerKind.AVGPOOL: "Avg Pool",
            LayerKind.FC: "FC",
        }[self.kind]
        return f"{label} / s{self.stride}"

    @property
    def filter_label(self) -> str:
        """Table 1 style filter shape, e.g. ``"3 x 3 x 32 dw"``."""
        k = self.kernel
        if self.kind is LayerKind.CONV:
            return f"{k} x {k} x {self.in_c} x {self.out_c}"
        if self.kind is LayerKind.DEPTHWISE:
            return f"{k} x {k} x {self.in_c} dw"
        if self.kind is LayerKind.AVGPOOL:
            return f"Pool {self.in_h} x {self.in_w}"
        return f"1 x 1 x {self.in_c} x {self.out_c}" if self.kind is LayerKind.POINTWISE \
            else f"{self.in_c} x {self.out_c}"


# Table 1 of the paper after conv1: (pointwise output channels, depthwise stride) per
# depthwise-separable block at alpha = 1. The paper prints "Conv dw / s2" for the last
# depthwise layer (7x7x1024 in, 7x7x1024 out); that is a typo: its input and output are
# both 7x7, so the stride is 1, as in every released implementation.
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2),
    (1024, 1),  # paper: s2 (typo), see above
)
MOBILENET_V1_STEM_CHANNELS = 32


def validate_alpha(alpha) -> Fraction:
    """Return alpha as an exact fraction, or raise ValueError with the reason."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, Fraction, str)):
        raise ValueError(f"alpha must be a number in (0, 1], not {alpha!r}")
    try:
        exact = Fraction(str(alpha)) if not isinstance(alpha, Fraction) else alpha
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"alpha must be a number in (0, 1], not {alpha!r}") from None
    if not 0 < exact <= 1:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    return exact


#: The largest built-in input resolution (a 4096 x 4096 x 32 map is already 537 MB).
MAX_RESOLUTION = 4096


def validate_resolution(resolution) -> int:
    """Return the resolution, or raise ValueError: a multiple of 32, 32..MAX_RESOLUTION."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) \
            or resolution < 32 or resolution % 32:
        raise ValueError(f"resolution must be a multiple of 32 from 32 up, not {resolution!r}")
    if resolution > MAX_RESOLUTION:
        raise ValueError(f"resolution must be at most {MAX_RESOLUTION}, not {resolution!r}")
    return resolution


def alpha_label(alpha) -> str:
    """The paper's spelling of a width multiplier: 1.0, 0.75, 0.5, 0.25."""
    text = f"{float(alpha):.2f}"
    return text[:-1] if text.endswith("0") else text


def scale_channels(channels: int, alpha) -> int:
    """Width multiplier: floor(alpha * channels), at least 1 (exact, no float rounding)."""
    return max(1, math.floor(validate_alpha(alpha) * channels))


@dataclass(frozen=True)
class Network:
    """An ordered chain of layers: the built-in MobileNet-v1 (with the multipliers that
    produced it) or one imported from a ``.tflite`` file (``alpha`` and ``resolution``
    None). ``outputs`` names the layers whose maps are the network's outputs (empty:
    the last layer's)."""

    name: str
    alpha: Fraction | None
    resolution: int | None
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...] = ()

    def __post_init__(self):
        names = {layer.name for layer in self.layers}
        unknown = [name for name in self.outputs if name not in names]
        if unknown:
            raise ValueError(f"network {self.name!r}: output {unknown[0]!r} is not one of its layers")
        if self.layers and tuple(self.outputs) == (self.layers[-1].name,):
            object.__setattr__(self, "outputs", ())  # the default, spelled one way

    @property
    def output_layers(self) -> tuple[str, ...]:
        return self.outputs or (self.layers[-1].name,)

    def to_dict(self) -> dict:
        """The layer table as JSON-ready data (``config.json`` carries it)."""
        return {
            "name": self.name,
            "alpha": None if self.alpha is None else str(self.alpha),
            "resolution": self.resolution,
            "outputs": list(self.output_layers),
            "layers": [{"name": l.name, "kind": l.kind.value, "in_h": l.in_h, "in_w": l.in_w,
                        "in_c": l.in_c, "out_c": l.out_c, "kernel": l.kernel, "stride": l.stride,
                        "padding": list(l.padding.as_tuple()), "activation": l.activation.value}
                       for l in self.layers],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Network":
        """Inverse of :meth:`to_dict`; raises ValueError on a malformed table."""
        try:
            layers = tuple(
                Layer(l["name"], LayerKind(l["kind"]), l["in_h"], l["in_w"], l["in_c"], l["out_c"],
                      l["kernel"], l["stride"], Padding(*l["padding"]), Activation(l["activation"]))
                for l in data["layers"])
            alpha = None if data["alpha"] is None else Fraction(data["alpha"])
            outputs = tuple(data.get("outputs", ()))
            network = cls(data["name"], alpha, data["resolution"], layers, outputs)
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"malformed network table ({type(error).__name__}: {error})") from None
        return network

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(key)
        return self.layers[key]

    @property
    def mult_adds(self) -> int:
        return sum(layer.mult_adds for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def mult_adds_by_type(self) -> dict[str, int]:
        """Mult-Adds per Table 2 row: "conv1x1", "conv_dw", "conv3x3", "fc"."""
        return _by_type(self.layers, lambda layer: layer.mult_adds)

    def params_by_type(self) -> dict[str, int]:
        """Parameters per Table 2 row: "conv1x1", "conv_dw", "conv3x3", "fc"."""
        return _by_type(self.layers, lambda layer: layer.params)


_TABLE2_ROW = {
    LayerKind.POINTWISE: "conv1x1",
    LayerKind.DEPTHWISE: "conv_dw",
    LayerKind.CONV: "conv3x3",
    LayerKind.FC: "fc",
}


def _by_type(layers, measure) -> dict[str, int]:
    totals = {row: 0 for row in _TABLE2_ROW.values()}
    for layer in layers:
        if layer.kind in _TABLE2_ROW:
            totals[_TABLE2_ROW[layer.kind]] += measure(layer)
    return totals


def mobilenet_v1(alpha=1.0, resolution: int = 224, *, num_classes: int = 1000,
                 padding: PaddingStyle | str = PaddingStyle.SAME,
                 activation: Activation | str = Activation.RELU6) -> Network:
    """Build MobileNet-v1 (paper Table 1) for width multiplier alpha and input resolution.

    Parameters
    ----------
    alpha : float in (0, 1]
        Width multiplier: every layer's channels become floor(alpha * channels) (the
        RGB input and the classifier's outputs are not scaled).
    resolution : int
        Input height and width, a multiple of 32 from 32 up (the paper's resolution
        multiplier rho is resolution / 224).
    num_classes : int
        Outputs of the final FC layer (1000 for ImageNet, 120 for Stanford Dogs).
    padding : PaddingStyle or "same"/"symmetric"
        How the 3x3 layers pad: TensorFlow SAME or PyTorch-style symmetric.
    activation : Activation or "relu"/"relu6"
        The activation after every convolution (the FC layer has none).
    """
    alpha = validate_alpha(alpha)
    resolution = validate_resolution(resolution)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, not {num_classes!r}")
    padding = PaddingStyle(padding)
    activation = Activation(activation)

    layers = []
    size = resolution
    channels = scale_channels(MOBILENET_V1_STEM_CHANNELS, alpha)
    pad = Padding.for_style(padding, size, size, 3, 2)
    layers.append(Layer("conv1", LayerKind.CONV, size, size, 3, channels, 3, 2, pad, activation))
    size = layers[-1].out_h
    for index, (out_channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        pad = Padding.for_style(padding, size, size, 3, stride)
        dw = Layer(f"dw{index}", LayerKind.DEPTHWISE, size, size, channels, channels, 3, stride,
                   pad, activation)
        size = dw.out_h
        out_channels = scale_channels(out_channels, alpha)
        pw = Layer(f"pw{index}", LayerKind.POINTWISE, size, size, channels, out_channels, 1, 1,
                   Padding(), activation)
        layers += [dw, pw]
        channels = out_channels
    layers.append(Layer("avgpool", LayerKind.AVGPOOL, size, size, channels, channels, size, 1))
    layers.append(Layer("fc", LayerKind.FC, 1, 1, channels, num_classes, 1, 1))
    name = f"MobileNet-v1 {alpha_label(alpha)}-{resolution}"
    return Network(name, alpha, resolution, tuple(layers))
