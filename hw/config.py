"""The one configuration of an mnaccel accelerator, and every size derived from it.

``AcceleratorConfig`` is frozen and validates itself. The generator writes it (with the
derived sizes) as ``config.json`` beside the Verilog; the testbenches, the cost model
and the driver read that file back with ``AcceleratorConfig.from_json``. A size or a
latency is computed here and nowhere else.

Sizes: ``--sram`` and the reports use SI prefixes, as DDR traffic does: 1 kB = 1000
bytes, 1 MB = 1,000,000 bytes; KiB and MiB are the binary units (1 MiB = 1,048,576).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from functools import cached_property

from model import numerics
from model.layers import LayerKind, Network, mobilenet_v1, validate_alpha, validate_resolution
from model.tiling import channel_blocks, min_tile_words, network_steps, run_length

__all__ = ["AcceleratorConfig", "Bank", "MultiplierPlan", "multiplier_plan", "parse_size",
           "format_size", "ceil_log2", "DDR_DATA_WIDTHS", "PARAM_LANE_BITS", "AXI_ID_BITS",
           "MAX_ID_BITS"]

#: Bits per output channel of a parameter word (``model.numerics``): a lane is 9 whole
#: bytes, so a word of pe lanes loads as 9 slices of pe bytes.
PARAM_LANE_BITS = numerics.PARAM_LANE_BITS

DDR_DATA_WIDTHS = (32, 64, 128, 256, 512)
#: Default and largest width of the AXI4 master's ID signals (``hw.axi``).
AXI_ID_BITS = 1
MAX_ID_BITS = 32
#: The pointwise requantiser shares its multipliers between at most this many lane groups.
MAX_REQUANT_SHARE = 4
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3}


def parse_size(text) -> int:
    """Bytes from ``"1MB"`` (10**6), ``"512KiB"`` (2**19), ``"1048576"`` or an int."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
        unit = match and match.group(2).lower()
        if not match or unit not in _UNITS:
            raise ValueError(f"size must be bytes with an optional unit (kB, MB, KiB, MiB; "
                             f"e.g. 1MB, 512KiB, 1048576), not {text!r}")
        exact = Fraction(match.group(1)) * _UNITS[unit]
        if exact.denominator != 1:
            raise ValueError(f"size must be a whole number of bytes, not {text!r}")
        value = int(exact)
    if value <= 0:
        raise ValueError(f"size must be positive, not {text!r}")
    return value


def format_size(nbytes: int) -> str:
    """``1000000`` -> ``"1 MB"``, ``1536`` -> ``"1.5 kB"`` (SI, as ``parse_size``)."""
    for unit, scale in (("MB", 1000 ** 2), ("kB", 1000)):
        if nbytes >= scale:
            return f"{nbytes / scale:.4g} {unit}"
    return f"{nbytes} B"


def ceil_log2(value: int) -> int:
    """Bits needed to address ``value`` words (at least 1)."""
    return max(1, math.ceil(math.log2(value))) if value > 1 else 1


@dataclass(frozen=True)
class Bank:
    """One on-chip SRAM bank (``lib.memory.Memory`` instances in the RTL).

    ``copies`` counts identical buffers (e.g. 9 window sub-banks x 2 halves for double
    buffering); ``bytes`` is the total of all copies. ``per_memory`` copies share one
    memory in the RTL (the halves of the activation and weight buffers are interleaved in
    one memory, so no multiplexer sits behind a block RAM; the pixel buffer is one ring):
    the memories are ``memories`` of ``memory_depth`` words each. ``write_bits``:
    the bits one write enable covers (the weight buffer's banks are loaded a slice of
    ``pe`` bytes at a time); None for whole words.
    """

    name: str
    width: int  # bits per word
    depth: int  # words per copy
    copies: int
    purpose: str
    sized_by: str  # the layer (or rule) that set the depth
    per_memory: int = 1
    write_bits: int | None = None

    @property
    def memories(self) -> int:
        return self.copies // self.per_memory

    @property
    def memory_depth(self) -> int:
        return self.depth * self.per_memory

    @property
    def addr_width(self) -> int:
        return ceil_log2(self.depth)

    @property
    def bytes(self) -> int:
        return self.width // 8 * self.depth * self.copies


@dataclass(frozen=True)
class MultiplierPlan:
    """Where the multipliers of a ``pe``-lane design go: DSP blocks or LUTs.

    A DSP here is one 18x18 (ECP5 MULT18X18D) or 25x18 (7-series DSP48E1) multiplier.
    Each int8 product of the depthwise lanes has one; the pointwise array has one per
    product, or with ``packed`` one per pair of products that share an activation (an
    8 x 25-bit product, one DSP48E1; see ``hw.products``). Each requantiser lane's 32 x 31
    product (TFLite's ``M0``) takes ``hw.requant.DSPS_PER_LANE`` (four 18x18), in both
    requantisers, and they always stay in DSPs. Under a DSP
    limit the excess int8 multipliers are built in LUTs: the depthwise ones first (one DSP
    saved per LUT multiplier, where a packed pointwise multiplier saves one per two).
    """

    pe: int
    packed: bool
    requant_dsps: int
    depthwise: int  # multipliers of the depthwise lanes
    depthwise_lut: int  # of them, in LUTs
    pointwise: int  # multipliers of the pointwise array
    pointwise_lut: int  # of them, in LUTs
    requant_share: int = 1  # lane groups sharing the pointwise requantiser's multipliers

    @property
    def dsps(self) -> int:
        return self.requant_dsps + self.depthwise - self.depthwise_lut + self.pointwise - self.pointwise_lut

    @property
    def lut_products(self) -> int:
        """int8 products computed in LUTs."""
        return self.depthwise_lut + self.pointwise_lut * (2 if self.packed else 1)

    def describe(self) -> str:
        parts = [f"{self.dsps} DSP multipliers: pointwise {self.pointwise - self.pointwise_lut}"
                 f"{' (two int8 products each)' if self.packed else ''}, depthwise "
                 f"{self.depthwise - self.depthwise_lut}, requantisers {self.requant_dsps} (32 x 31 bits"
                 f"{f'; the pointwise one shared by {self.requant_share} lane groups' if self.requant_share > 1 else ''})"]
        if self.lut_products:
            parts.append(f"{self.lut_products} int8 products in LUTs (depthwise {self.depthwise_lut}, "
                         f"pointwise {self.pointwise_lut * (2 if self.packed else 1)})")
        return "; ".join(parts)


def multiplier_plan(pe: int, packed: bool = False, dsp_limit: int | None = None,
                    pw_share: int = 1) -> MultiplierPlan:
    """The :class:`MultiplierPlan` of a ``pe``-lane design with at most ``dsp_limit`` DSPs,
    its pointwise requantiser shared by ``pw_share`` lane groups."""
    from .depthwise import TAPS
    from .pointwise import PointwiseArray

    from .requant import DSPS_PER_LANE

    requant = DSPS_PER_LANE * (pe + pe // pw_share)
    depthwise, pointwise = TAPS * pe, PointwiseArray.multipliers(pe, packed)
    excess = 0 if dsp_limit is None else requant + depthwise + pointwise - dsp_limit
    if excess > depthwise + pointwise:
        raise ValueError(f"dsp_limit must be at least {requant} at pe {pe} (the requantisers' "
                         f"{requant // DSPS_PER_LANE} lanes of 32 x 31 bits, {DSPS_PER_LANE} "
                         f"multipliers each, stay in DSPs), not {dsp_limit}")
    depthwise_lut = min(depthwise, max(0, excess))
    return MultiplierPlan(pe, packed, requant, depthwise, depthwise_lut, pointwise,
                          max(0, excess - depthwise_lut), pw_share)


def _positive_int(name, value, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, not {value!r}")


@dataclass(frozen=True)
class AcceleratorConfig:
    """Parameters of one accelerator; everything else is derived.

    Parameters
    ----------
    pe : int
        Channel lanes. The pointwise array does ``pe x pe`` int8 multiply-accumulates
        per cycle (pe input x pe output channels); the depthwise stage does ``pe``
        channels x 9 taps per cycle.
    sram_bytes : int
        Total on-chip buffer in bytes, shared by all banks.
    alpha, resolution : the built-in MobileNet-v1 whose layer table sizes the banks, when
        ``network`` is not given (both become None for an imported network).
    ddr_data_bits : int
        AXI4 data width of the DDR port.
    ddr_bytes_per_cycle : float
        Sustained DDR bandwidth the DDR model grants, bytes per accelerator cycle.
    ddr_latency_cycles : int
        Cycles from a read request to its first data beat.
    clock_mhz : float
        Clock used only to turn cycles into seconds and frames/s in reports.
    dsp_limit : int or None
        At most this many DSP multipliers; the int8 products beyond it are built in LUTs
        (:class:`MultiplierPlan`). None: every multiplier in a DSP.
    dsp_packing : bool
        Two pointwise int8 products per DSP (needs a 25x18 multiplier: 7-series DSP48E1).
    network : model.layers.Network or None
        The network that sizes the banks and that the tiler, cost model and scheduler
        run: an imported one (``model.tflite.load_tflite``), or None for the built-in
        ``mobilenet_v1(alpha, resolution)``.
    axi_id_bits : int
        Width of the DDR port's AXI4 ID signals (``m_axi_awid``, ``bid``, ``arid``,
        ``rid``), 1..32. The core drives ID 0 and reports a response with another ID as
        an error (STATUS.error).
    """

    pe: int = 16
    sram_bytes: int = 1_000_000
    alpha: float | None = None  # None: 1.0 for the built-in network
    resolution: int | None = None  # None: 224 for the built-in network
    ddr_data_bits: int | None = None  # None: the widest of at most 64 bits that divides 8 x pe
    ddr_bytes_per_cycle: float | None = None  # None: 5, or the port's peak when that is less
    ddr_latency_cycles: int = 64
    clock_mhz: float = 200.0
    dsp_limit: int | None = None
    dsp_packing: bool = False
    network: Network | None = None
    axi_id_bits: int = AXI_ID_BITS

    def __post_init__(self):
        _positive_int("pe", self.pe, maximum=64)
        _positive_int("axi_id_bits", self.axi_id_bits, maximum=MAX_ID_BITS)
        _positive_int("sram_bytes", self.sram_bytes)
        if self.network is None:  # the built-in MobileNet-v1 (1.0-224 unless told)
            alpha = 1.0 if self.alpha is None else self.alpha
            resolution = 224 if self.resolution is None else self.resolution
            validate_alpha(alpha)
            validate_resolution(resolution)
            object.__setattr__(self, "alpha", alpha)
            object.__setattr__(self, "resolution", resolution)
            object.__setattr__(self, "network", mobilenet_v1(alpha, resolution))
        elif not isinstance(self.network, Network):
            raise ValueError(f"network must be a model.layers.Network, not {type(self.network).__name__}")
        elif self.network.alpha is None:  # imported: alpha and resolution do not apply
            if self.alpha is not None or self.resolution is not None:
                raise ValueError(f"alpha and resolution describe the built-in MobileNet-v1; this "
                                 f"configuration's network is {self.network.name!r} (set network=None "
                                 f"to use them)")
        else:  # a built-in network object: it must be the one alpha and resolution say
            given = (self.network.alpha, self.network.resolution)
            if self.alpha is None and self.resolution is None:
                object.__setattr__(self, "alpha", float(self.network.alpha))
                object.__setattr__(self, "resolution", self.network.resolution)
            elif (validate_alpha(self.alpha), self.resolution) != given:
                raise ValueError(f"alpha {self.alpha} and resolution {self.resolution} disagree with "
                                 f"the network {self.network.name!r}; give one or the other "
                                 f"(network=None to build it from alpha and resolution)")
        if self.ddr_data_bits is None:
            # The widest port of at most 64 bits whose beat divides a pe-byte word (the load
            # DMA assembles words from whole beats, the store DMA moves whole beats).
            fits = [bits for bits in DDR_DATA_WIDTHS if bits <= 64 and (8 * self.pe) % bits == 0]
            if not fits:
                raise ValueError(f"pe must be a multiple of 4, not {self.pe}: a pe-byte word is a "
                                 f"whole number of DDR beats of at least 32 bits")
            object.__setattr__(self, "ddr_data_bits", max(fits))
        if self.ddr_bytes_per_cycle is None:
            object.__setattr__(self, "ddr_bytes_per_cycle", min(5.0, self.ddr_data_bits / 8))
        if self.ddr_data_bits not in DDR_DATA_WIDTHS:
            raise ValueError(f"ddr_data_bits must be one of {', '.join(map(str, DDR_DATA_WIDTHS))}, "
                             f"not {self.ddr_data_bits!r}")
        if self.ddr_data_bits > 8 * self.pe:
            raise ValueError(f"ddr_data_bits ({self.ddr_data_bits}) must be at most 8 x pe = {8 * self.pe}: "
                             f"a DDR beat never holds more than one {self.pe}-byte word")
        if (8 * self.pe) % self.ddr_data_bits:
            raise ValueError(f"ddr_data_bits ({self.ddr_data_bits}) must divide 8 x pe = {8 * self.pe}: "
                             f"a {self.pe}-byte word is a whole number of DDR beats"
                             + ("" if self.pe % 4 == 0 else " (pe must be a multiple of 4)"))
        if not isinstance(self.ddr_bytes_per_cycle, (int, float)) or not \
                0 < self.ddr_bytes_per_cycle <= self.ddr_data_bits // 8:
            raise ValueError(f"ddr_bytes_per_cycle must be in (0, {self.ddr_data_bits // 8}] "
                             f"(the {self.ddr_data_bits}-bit port's peak), not {self.ddr_bytes_per_cycle!r}")
        if isinstance(self.ddr_latency_cycles, bool) or not isinstance(self.ddr_latency_cycles, int) \
                or self.ddr_latency_cycles < 0:
            raise ValueError(f"ddr_latency_cycles must be a non-negative integer, not {self.ddr_latency_cycles!r}")
        if not isinstance(self.clock_mhz, (int, float)) or self.clock_mhz <= 0:
            raise ValueError(f"clock_mhz must be positive, not {self.clock_mhz!r}")
        if self.dsp_limit is not None:
            if isinstance(self.dsp_limit, bool) or not isinstance(self.dsp_limit, int) or self.dsp_limit < 0:
                raise ValueError(f"dsp_limit must be a non-negative integer, not {self.dsp_limit!r}")
        if not isinstance(self.dsp_packing, bool):
            raise ValueError(f"dsp_packing must be true or false, not {self.dsp_packing!r}")
        self.multipliers  # validates dsp_limit against pe
        self._check_sram()

    # -- numerics (fixed by the design, recorded for the consumers of config.json) -----
    act_bits = numerics.ACT_BITS
    weight_bits = numerics.WEIGHT_BITS
    acc_bits = numerics.ACC_BITS
    bias_bits = numerics.BIAS_BITS
    mult_bits = numerics.MULT_BITS
    shift_bits = numerics.SHIFT_BITS
    taps = 9  # 3x3 depthwise window

    @property
    def pointwise_macs_per_cycle(self) -> int:
        return self.pe * self.pe

    @property
    def depthwise_macs_per_cycle(self) -> int:
        return self.taps * self.pe

    requant_param_bits = PARAM_LANE_BITS

    @cached_property
    def pw_requant_share(self) -> int:
        """Lane groups sharing the pointwise requantiser's multipliers: the largest power
        of two (at most :data:`MAX_REQUANT_SHARE`) dividing ``pe`` that no step's run is
        shorter than. The array emits one word per run, so sharing costs no cycle."""
        shortest = min(run_length(step, self.pe) for step in self.steps)
        share = 1
        while share * 2 <= min(shortest, MAX_REQUANT_SHARE) and self.pe % (share * 2) == 0:
            share *= 2
        return share

    @cached_property
    def multipliers(self) -> MultiplierPlan:
        return multiplier_plan(self.pe, self.dsp_packing, self.dsp_limit, self.pw_requant_share)

    @property
    def dsp_estimate(self) -> int:
        """DSP multipliers the design needs (:class:`MultiplierPlan`); nothing else in it
        multiplies (the DMA's constant multiples are shifts and adds)."""
        return self.multipliers.dsps

    def blocks(self, channels: int) -> int:
        """Channel blocks of ``pe`` lanes covering ``channels``."""
        return channel_blocks(channels, self.pe)

    # -- SRAM plan -------------------------------------------------------------------
    # Activations sit in 9 sub-banks by (row mod 3, column mod 3), so any 3x3 window, at
    # stride 1 or 2, reads its 9 pixels from 9 different banks in one cycle. A word is one
    # pixel's block of pe channels. Each bank has two halves (double buffering): the load
    # stream fills one while the engine computes from the other.
    @cached_property
    def steps(self):
        """The network cut into engine steps (``model.tiling.network_steps``)."""
        return network_steps(self.network)

    def min_tile_words(self, step) -> tuple[int, int]:
        """(activation words per sub-bank half, weight words) of ``step``'s smallest tile."""
        return min_tile_words(step, self.pe)

    @cached_property
    def _plan(self):
        layers = self.network.layers
        act_step = max(self.steps, key=lambda step: self.min_tile_words(step)[0])
        w_step = max(self.steps, key=lambda step: self.min_tile_words(step)[1])
        # Channel blocks that the per-block memories must index: any layer's inputs or
        # outputs, and conv1's 27 im2col channels.
        c_max = max(max(max(layer.in_c, layer.out_c) for layer in layers),
                    max(step.in_channels for step in self.steps))
        c_layer = next((layer for layer in layers if max(layer.in_c, layer.out_c) == c_max),
                       layers[0])
        act_word, w_word = self.pe * self.act_bits, self.pe * self.pe * self.weight_bits
        # A run in the pixel buffer: one pixel's channel blocks, or a pooled map's pixels.
        pool_pixels = max((layer.in_h * layer.in_w for layer in layers
                           if layer.kind is LayerKind.AVGPOOL), default=1)
        pixel_depth = max(self.blocks(c_max), pool_pixels)
        # The weight buffer's banks: halves interleaved in one memory, loaded a slice
        # (one load beat of pe bytes) at a time.
        weights = {"per_memory": 2, "write_bits": self.pe * 8}
        fixed = [
            Bank("dw_weights", self.taps * self.pe * self.weight_bits, self.blocks(c_max), 2,
                 "depthwise 3x3 weights, one word per channel block", c_layer.name, **weights),
            Bank("dw_params", self.pe * self.requant_param_bits, self.blocks(c_max), 2,
                 "depthwise bias, multiplier, shift per channel", c_layer.name, **weights),
            Bank("pw_params", self.pe * self.requant_param_bits, self.blocks(c_max), 2,
                 "pointwise bias, multiplier, shift per output channel", c_layer.name, **weights),
            Bank("pixel", act_word, pixel_depth, 2,
                 "depthwise outputs for the pointwise array, ping-pong by run",
                 c_layer.name if pixel_depth == self.blocks(c_max) else "avgpool", per_memory=2),
        ]
        fixed_bytes = sum(bank.bytes for bank in fixed)
        act_min, w_min = self.min_tile_words(act_step)[0], self.min_tile_words(w_step)[1]
        need = fixed_bytes + 2 * 9 * act_min * act_word // 8 + 2 * w_min * w_word // 8
        # What is left after the minimums is split evenly in bytes between activations
        # and weights; bigger tiles mean fewer DDR round trips for both.
        spare = max(0, self.sram_bytes - need)
        act_depth = act_min + spare // 2 // (2 * 9 * act_word // 8)
        w_depth = w_min + spare // 2 // (2 * w_word // 8)
        banks = [
            Bank("act", act_word, act_depth, 18,
                 "input activations: 9 window sub-banks (row%3, col%3) x 2 halves",
                 f"{act_step.name} (min {act_min} words)", per_memory=2),
            Bank("pw_weights", w_word, w_depth, 2,
                 "pointwise pe x pe weight blocks x 2 halves",
                 f"{w_step.name} (min {w_min} words)", **weights),
            *fixed,
        ]
        return banks, need, act_step, w_step

    @property
    def banks(self) -> list[Bank]:
        return self._plan[0]

    @property
    def bank(self):
        return {bank.name: bank for bank in self.banks}

    @property
    def load_addr_bits(self) -> int:
        """Address width of the load stream: enough for the deepest buffer."""
        return max(bank.addr_width for bank in self.banks)

    @property
    def sram_min_bytes(self) -> int:
        """The smallest SRAM that holds the minimal tile of every layer."""
        return self._plan[1]

    def _check_sram(self):
        banks, need, act_step, w_step = self._plan
        if self.sram_bytes < need:
            act_in = act_step.first
            w_layer = w_step.weight_layer
            raise ValueError(
                f"SRAM of {format_size(self.sram_bytes)} ({self.sram_bytes} bytes) is too small: "
                f"it needs at least {need} bytes ({format_size(need)}) at pe {self.pe}; "
                f"layer {act_step.name} ({act_in.in_h}x{act_in.in_w}x{act_in.in_c}) needs "
                f"{2 * 9 * self.min_tile_words(act_step)[0] * self.pe} bytes of activation buffer "
                f"and layer {w_step.name} ({w_layer.in_c}x{w_layer.out_c}) "
                f"{2 * self.min_tile_words(w_step)[1] * self.pe * self.pe} bytes of weight buffer")

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["network"] = self.network.to_dict()
        data["derived"] = {
            "act_bits": self.act_bits, "weight_bits": self.weight_bits,
            "acc_bits": self.acc_bits, "bias_bits": self.bias_bits,
            "mult_bits": self.mult_bits, "shift_bits": self.shift_bits,
            "pointwise_macs_per_cycle": self.pointwise_macs_per_cycle,
            "depthwise_macs_per_cycle": self.depthwise_macs_per_cycle,
            "dsp_estimate": self.dsp_estimate,
            "multipliers": asdict(self.multipliers),
            "sram_min_bytes": self.sram_min_bytes,
            "sram_used_bytes": sum(bank.bytes for bank in self.banks),
            "banks": [{**asdict(bank), "addr_width": bank.addr_width, "bytes": bank.bytes}
                      for bank in self.banks],
        }
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "AcceleratorConfig":
        names = {f.name for f in fields(cls)}
        given = {k: v for k, v in data.items() if k in names}
        table = given.pop("network", None)
        if table is not None and table.get("alpha") is None:  # imported: the table is the network
            given["network"] = Network.from_dict(table)
        config = cls(**given)
        if table is not None and Network.from_dict(table) != config.network:
            raise ValueError("config.json's layer table disagrees with its alpha and resolution; "
                             "regenerate it with python -m hw.generate")
        if "derived" in data and data["derived"] != config.to_dict()["derived"]:
            raise ValueError("config.json's derived sizes disagree with this version of mnaccel; "
                             "regenerate it with python -m hw.generate")
        return config

    @classmethod
    def from_json(cls, path) -> "AcceleratorConfig":
        with open(path) as file:
            return cls.from_dict(json.load(file))
