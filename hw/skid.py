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
latency. :func:`queued_input` is the same stream, beat for beat and cycle for cycle, as a
two-entry queue of registers: the consumer's ``ready`` steps a read pointer and two level
flags only, not the clock enables of a wide output register (a consumer whose ``ready``
comes from across the chip: the store router's destinations, timing step 17).
"""

import itertools

from amaranth.hdl import Cat, Mux, Shape, Signal, Value
from amaranth.lib import stream

__all__ = ["queued_input", "registered_input", "registered_stage", "skid_input", "SKID_HELD", "REGISTERED_HELD",
           "CHIP_WIDE_PE", "chip_wide", "entry_input", "entry_latency", "entry_held"]

#: Beats a :func:`skid_input` holds beyond its pipeline's own under a stalled consumer
#: (the skid register).
SKID_HELD = 1
#: Beats a :func:`registered_input` holds under a stalled consumer (its output register
#: and its skid register), and a :func:`queued_input` (its two entries).
REGISTERED_HELD = 2


def skid_input(m, i_stream, name, value=None, parts=None, ready_copies=0):
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
    multiplexer sits behind that logic, not in front of it.

    ``parts`` (bit widths of consecutive slices of ``value``, summing to its width) gives
    each slice's multiplexer a copy of the ``full`` flag of its own, and the handshake
    (``i_stream.ready``, the inner ``valid``) one more: a skid whose slices feed
    consumers spread over the chip (the depthwise lanes at pe 8) then has no flag whose
    fan-out spans it. The copies have the same next state, so they are equal every
    cycle.

    ``ready_copies`` > 0 returns ``(inner, readies)``: ``readies`` are that many copies
    of ``i_stream.ready`` (:func:`_room_copies`), for a producer whose enables are many
    and spread over the chip (a lookup's block RAMs)."""
    value = i_stream.payload if value is None else value
    shape = value.shape()
    width = Shape.cast(shape).width
    parts = (width,) if parts is None else tuple(parts)
    if sum(parts) != width or min(parts) < 1:
        raise ValueError(f"parts {parts} do not cut the {width} bits of {name}")
    inner = stream.Signature(shape).create(path=(name,))
    skid = Signal(shape, name=f"{name}_skid")
    full = Signal(name=f"{name}_skid_full")
    if len(parts) == 1:
        m.d.comb += [
            i_stream.ready.eq(~full),
            inner.valid.eq(full | i_stream.valid),
            inner.payload.eq(Mux(full, skid, value)),
        ]
        copies = []
    else:
        copies = [Signal(name=f"{name}_skid_full{i}") for i in range(1, len(parts) + 1)]
        held, offered = Value.cast(skid), Value.cast(value)
        bounds = list(zip(itertools.accumulate(parts, initial=0), itertools.accumulate(parts)))
        m.d.comb += [
            i_stream.ready.eq(~full),
            inner.valid.eq(full | i_stream.valid),
            Value.cast(inner.payload).eq(Cat(*(Mux(flag, held[lo:hi], offered[lo:hi])
                                               for flag, (lo, hi) in zip(copies, bounds)))),
        ]
    # A copy is set by a beat arriving while it is clear, which is when ``full`` is set
    # (they are equal): written so, its clock enable is computed from itself, and
    # synthesis does not merge the copies into one flip-flop, as it does flags whose
    # enables are the same nets.
    with m.If(inner.ready):
        m.d.sync += full.eq(0)
    with m.Elif(i_stream.valid):
        m.d.sync += full.eq(1)
    for flag in copies:
        with m.If(inner.ready):
            m.d.sync += flag.eq(0)
        with m.Elif(i_stream.valid & ~flag):
            m.d.sync += flag.eq(1)
    readies = _room_copies(m, name, inner.ready, i_stream.valid, ready_copies)
    # The skid register loads whenever it is empty (its value matters only once ``full``
    # is set, by the beat it took that cycle): its clock enables are the ``full``
    # register alone, not the inner ``ready`` (the pipeline's handshake) fanned out to
    # every bit of a wide skid; with ``parts``, each slice's on its own copy.
    if not copies:
        with m.If(~full):
            m.d.sync += skid.eq(value)
    else:
        for flag, (lo, hi) in zip(copies, bounds):
            with m.If(~flag):
                m.d.sync += held[lo:hi].eq(offered[lo:hi])
    return (inner, readies) if ready_copies else inner


def _room_copies(m, name, empties, arrives, count):
    """``count`` copies of a skid's room (``~full``: ``i_stream.ready``) as registers of
    their own, each high while the skid is empty: cleared by a beat arriving while it is
    set (``arrives``), set again when the skid ``empties``, as ``full`` is set and
    cleared. Each copy's next state is computed from itself, so synthesis keeps them
    apart (it merges flip-flops whose inputs are the same nets), and the placer can put
    each beside its share of the producer's enables; a copy drives them with no LUT (an
    inverter behind ``full`` was one, timing step 19's seed-3 path)."""
    rooms = []
    for k in range(1, count + 1):
        room = Signal(name=f"{name}_room{k}", init=1)
        with m.If(empties):
            m.d.sync += room.eq(1)
        with m.Elif(arrives & room):
            m.d.sync += room.eq(0)
        rooms.append(room)
    return rooms


def registered_input(m, i_stream, name, ready_copies=0, own_ready=False):
    """An inner stream whose ``valid`` and payload are registers, and ``i_stream.ready``
    a register: an output register with a skid register beside it (one beat a cycle
    under any stalls; two beats held).

    Latency 1: a beat accepted at an edge is offered on the inner stream the cycle after.
    While the output register holds a beat that the inner stream does not take, a beat
    arriving waits in the skid register and ``i_stream.ready`` falls; the output register
    takes it first when it empties.

    ``ready_copies`` > 0 returns ``(inner, readies)``: that many copies of
    ``i_stream.ready`` as registers of their own (:func:`_room_copies`).

    ``own_ready`` drives ``i_stream.ready`` itself from such a copy, not from ``~full``:
    a producer whose enable is computed from its ``ready`` (a pipeline's one enable)
    then takes a flip-flop the placer can put beside it, while ``full`` stays beside the
    skid's multiplexer and the consumer (at pe 8 the pointwise accumulator entry's flag,
    3.91 ns from the array's enable, timing step 21's seed-3 path)."""
    shape = i_stream.payload.shape()
    inner = stream.Signature(shape).create(path=(name,))
    valid = Signal(name=f"{name}_valid")
    payload = Signal(shape, name=f"{name}_payload")
    skid = Signal(shape, name=f"{name}_skid")
    full = Signal(name=f"{name}_skid_full")
    m.d.comb += [
        inner.valid.eq(valid),
        inner.payload.eq(payload),
    ]
    if own_ready:
        (room,) = _room_copies(m, f"{name}_ready", ~valid | inner.ready, i_stream.valid, 1)
        m.d.comb += i_stream.ready.eq(room)
    else:
        m.d.comb += i_stream.ready.eq(~full)
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
    if not ready_copies:
        return inner
    return inner, _room_copies(m, name, ~valid | inner.ready, i_stream.valid, ready_copies)


def registered_stage(m, i_stream, name):
    """An inner stream that is ``i_stream`` a cycle later, through a register on ``valid``
    and the payload, with no handshake: ``i_stream.ready`` is 1 and the inner ``ready``
    is not read. For a free-running pipeline whose consumer takes every beat
    (``hw.credits``): latency 1, as :func:`registered_input`'s, and the route into it
    ends at a flip-flop, but no skid register and no flag, nothing that a ``ready``
    reaches."""
    inner = stream.Signature(i_stream.payload.shape()).create(path=(name,))
    m.d.comb += i_stream.ready.eq(1)
    m.d.sync += [inner.valid.eq(i_stream.valid), inner.payload.eq(i_stream.payload)]
    return inner


def queued_input(m, i_stream, name):
    """:func:`registered_input` as a two-entry queue of registers: the same beats in the
    same cycles under any stalls (latency 1, one beat a cycle, two beats held,
    ``i_stream.ready`` low only while both entries are full), but the inner ``ready``
    reaches only the read pointer and the two level flags.

    In :func:`registered_input` the inner ``ready`` is the clock enable of the output
    register, every bit of the payload. Here an entry loads whenever the write pointer
    is on it and it is free (its enables from registers, as the skid's), the write
    pointer steps as a beat is taken, and the payload leaves through a two-way
    multiplexer on the read pointer: the consumer's handshake ends at three flip-flops
    the placer can put beside the consumer."""
    shape = i_stream.payload.shape()
    inner = stream.Signature(shape).create(path=(name,))
    entries = [Signal(shape, name=f"{name}_entry{i}") for i in range(2)]
    w_ptr = Signal(name=f"{name}_w_ptr")
    r_ptr = Signal(name=f"{name}_r_ptr")
    valid = Signal(name=f"{name}_valid")  # one entry or two hold a beat
    full = Signal(name=f"{name}_full")    # both do
    push = i_stream.valid & ~full
    pop = valid & inner.ready
    m.d.comb += [
        i_stream.ready.eq(~full),
        inner.valid.eq(valid),
        inner.payload.eq(Mux(r_ptr, entries[1], entries[0])),
    ]
    with m.If(push):
        m.d.sync += w_ptr.eq(~w_ptr)
    with m.If(pop):
        m.d.sync += r_ptr.eq(~r_ptr)
    with m.If(push & ~pop):
        m.d.sync += [valid.eq(1), full.eq(valid)]
    with m.Elif(pop & ~push):
        m.d.sync += [valid.eq(full), full.eq(0)]
    # The entry under the write pointer is free while not ``full``; it loads whatever
    # the input carries, which counts only once the write pointer has stepped past it.
    for i, entry in enumerate(entries):
        with m.If((w_ptr == i) & ~full):
            m.d.sync += entry.eq(i_stream.payload)
    return inner


#: From this many lanes up the accelerator spans an ECP5-85k: at pe 8 with ``--fit`` it
#: takes every MULT18X18D and 92 % of the DP16KDs, so the placer puts the two ends of a
#: stream (a block RAM's output and the DSP row it feeds, the pointwise accumulators and
#: the requantiser's DSPs) up to the chip's height apart, and a route alone took 4 to 6 ns
#: (the critical paths at pe 8 after timing steps 16 and 17). Below it the design fills a
#: corner of the device and those streams keep their zero-latency skid registers.
CHIP_WIDE_PE = 8


def chip_wide(pe):
    """Whether a ``pe``-lane accelerator spans the device (:data:`CHIP_WIDE_PE`)."""
    return pe >= CHIP_WIDE_PE


def entry_input(m, i_stream, name, pe, ready_copies=0, own_ready=False):
    """The entry of a stream that crosses the chip at ``pe`` lanes: :func:`skid_input`
    (no latency) below :data:`CHIP_WIDE_PE`, :func:`registered_input` (latency
    :func:`entry_latency`, a register on the payload too, so the route across the chip
    ends at a flip-flop) from it. ``ready_copies`` > 0 returns ``(inner, readies)``, as
    both do; ``own_ready`` is :func:`registered_input`'s (from ``CHIP_WIDE_PE``)."""
    if chip_wide(pe):
        return registered_input(m, i_stream, name, ready_copies, own_ready)
    return skid_input(m, i_stream, name, ready_copies=ready_copies)


def entry_latency(pe):
    """Cycles an :func:`entry_input` adds at ``pe`` lanes."""
    return 1 if chip_wide(pe) else 0


def entry_held(pe):
    """Beats an :func:`entry_input` holds under a stalled consumer at ``pe`` lanes."""
    return REGISTERED_HELD if chip_wide(pe) else SKID_HELD
