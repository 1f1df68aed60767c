"""Packing structured values into the flat bits of Amaranth layouts, without Amaranth at
run time: :func:`describe_layout` turns a layout into JSON once, and :func:`pack` /
:func:`unpack` use that description. The testbenches (cocotb side) and the host
scheduler (``sw/``) share these; the field widths and offsets come from the layouts
the RTL uses, never restated.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping

__all__ = ["describe_layout", "pack", "unpack"]


def describe_layout(shape) -> dict[str, Any]:
    """Describe an Amaranth shape or ``lib.data`` layout as JSON for :func:`pack`/:func:`unpack`.

    A plain shape is ``{"width", "signed"}``; an ``ArrayLayout`` adds ``"array"`` (the
    element) and ``"length"``; a ``StructLayout`` adds ``"struct"``: ``{name: element}``
    with an ``"offset"`` in each element. Every description has ``"width"``.
    """
    from amaranth.hdl import Shape
    from amaranth.lib import data

    if isinstance(shape, data.ArrayLayout):
        elem = describe_layout(shape.elem_shape)
        return {"width": shape.size, "array": elem, "length": shape.length}
    if isinstance(shape, data.StructLayout):
        fields = {name: {**describe_layout(f.shape), "offset": f.offset} for name, f in shape}
        return {"width": shape.size, "struct": fields}
    if isinstance(shape, data.Layout):
        raise TypeError(f"cannot describe layout {shape!r}: only struct and array layouts")
    cast = Shape.cast(shape)
    return {"width": cast.width, "signed": cast.signed}


def pack(desc: Mapping[str, Any], value) -> int:
    """Pack ``value`` (int, list or dict, as ``desc`` says) into the unsigned int of its bits."""
    if "struct" in desc:
        bits = 0
        for name, field_desc in desc["struct"].items():
            bits |= pack(field_desc, value[name]) << field_desc["offset"]
        return bits
    if "array" in desc:
        elem = desc["array"]
        if len(value) != desc["length"]:
            raise ValueError(f"expected {desc['length']} elements, not {len(value)}")
        bits = 0
        for i, item in enumerate(value):
            bits |= pack(elem, item) << (i * elem["width"])
        return bits
    width = desc["width"]
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if desc["signed"] else (0, 1 << width)
    value = int(value.value if isinstance(value, enum.Enum) else value)
    if not lo <= value < hi:
        raise ValueError(f"{value} does not fit a {'signed' if desc['signed'] else 'unsigned'} "
                         f"{width}-bit field")
    return value & ((1 << width) - 1)


def unpack(desc: Mapping[str, Any], bits: int):
    """Inverse of :func:`pack`: return the int, list or dict that ``bits`` holds."""
    if "struct" in desc:
        return {name: unpack(f, bits >> f["offset"]) for name, f in desc["struct"].items()}
    if "array" in desc:
        elem = desc["array"]
        return [unpack(elem, bits >> (i * elem["width"])) for i in range(desc["length"])]
    width = desc["width"]
    bits &= (1 << width) - 1
    if desc["signed"] and bits >> (width - 1):
        bits -= 1 << width
    return bits
