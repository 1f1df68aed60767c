"""A skid register in front of a pipeline's first stage, so that the stream's ``ready``
is a register.

Without it a pipeline's ``i_stream.ready`` is its advance condition, combinational from
the stages downstream; chained through several components (sequencer, window generator,
depthwise stage) those conditions became one path across all of them. With it the
producer's handshake ends at a flip-flop of the consumer.

A skid register passes the producer's ``valid`` on through a LUT; where that ``valid``
itself is the head of a long path (the engine's output valid across the chip into the
store DMA's burst cutter, timing step 8), :func:`registered_input` puts a register on
both: ``valid`` and the payload from a register, ``ready`` from a register, one cycle of
latency.
"""

from amaranth.hdl import Mux, Signal
from amaranth.lib import stream

__all__ = ["registered_input", "skid_input", "SKID_HELD", "REGISTERED_HELD"]

#: Beats a :func:`skid_input` holds beyond its pipeline's own under a stalled consumer
#: (the skid register).
SKID_HELD = 1
#: Beats a :func:`registered_input` holds under a stalled consumer (its output register
#: and its skid register).
REGISTERED_HELD = 2


def skid_input(m, i_stream, name, value=None):
    """An inner stream that the pipeline behind ``i_stream`` takes its beats from
    (driving the inner ``ready`` with its first stage's advance condition), and
    ``i_stream.ready`` from a register.

    A beat arriving while the first stage does not advance waits in the skid register;
    ``i_stream.ready`` is low while it is full, and the first stage takes it before any
    later beat. No latency: without stalls the skid stays empty and a beat goes straight
    through. Under stalls it holds one beat more.

    ``value`` (a value-castable computed from ``i_stream.payload``; the payload itself by
    default) is what the skid holds and the inner stream carries: a first stage with
    logic in front of its registers computes it once, from the input, and the skid's
    multiplexer sits behind that logic, not in front of it."""
    value = i_stream.payload if value is None else value
    shape = value.shape()
    inner = stream.Signature(shape).create(path=(name,))
    skid = Signal(shape, name=f"{name}_skid")
    full = Signal(name=f"{name}_skid_full")
    m.d.comb += [
        i_stream.ready.eq(~full),
        inner.valid.eq(full | i_stream.valid),
        inner.payload.eq(Mux(full, skid, value)),
    ]
    with m.If(inner.ready):
        m.d.sync += full.eq(0)
    with m.Elif(i_stream.valid):
        m.d.sync += full.eq(1)
    # The skid register loads whenever it is empty (its value matters only once ``full``
    # is set, by the beat it took that cycle): its clock enables are the ``full``
    # register alone, not the inner ``ready`` (the pipeline's handshake) fanned out to
    # every bit of a wide skid.
    with m.If(~full):
        m.d.sync += skid.eq(value)
    return inner


def registered_input(m, i_stream, name):
    """An inner stream whose ``valid`` and payload are registers, and ``i_stream.ready``
    a register: an output register with a skid register beside it (one beat a cycle
    under any stalls; two beats held).

    Latency 1: a beat accepted at an edge is offered on the inner stream the cycle after.
    While the output register holds a beat that the inner stream does not take, a beat
    arriving waits in the skid register and ``i_stream.ready`` falls; the output register
    takes it first when it empties."""
    shape = i_stream.payload.shape()
    inner = stream.Signature(shape).create(path=(name,))
    valid = Signal(name=f"{name}_valid")
    payload = Signal(shape, name=f"{name}_payload")
    skid = Signal(shape, name=f"{name}_skid")
    full = Signal(name=f"{name}_skid_full")
    m.d.comb += [
        i_stream.ready.eq(~full),
        inner.valid.eq(valid),
        inner.payload.eq(payload),
    ]
    with m.If(~valid | inner.ready):
        m.d.sync += [
            valid.eq(full | i_stream.valid),
            payload.eq(Mux(full, skid, i_stream.payload)),
            full.eq(0),
        ]
    with m.Elif(i_stream.valid):
        m.d.sync += full.eq(1)
    # As in ``skid_input``: the skid register loads whenever it is empty.
    with m.If(~full):
        m.d.sync += skid.eq(i_stream.payload)
    return inner
