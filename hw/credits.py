"""Credit flow control: a producer that issues work only while the queue its results
end in is sure to have room, so that nothing between the two reads a ``ready``.

A stream pipeline whose stages stall on their consumer's ``ready`` has that ``ready``
in the clock enable of every stage, and at ``hw.skid.CHIP_WIDE_PE`` lanes those stages
span the chip: the pointwise side's handshakes (the store router's, the requantiser's,
the accumulators' entry, the array's enable, the beats' entry) were the critical paths
at pe 8 in most timing steps from 17 to 25, one route across the chip after another,
and copies of the enables only moved them (timing steps 19 to 25). With credits the
stages run free (each advances every cycle, a valid bit beside it) and the backpressure
ends at one queue at the end of the pipeline:

- the queue (``hw.queue.Queue``) has :func:`credits_needed` entries and takes every
  result the cycle it comes;
- the producer holds as many credits, spends one on every piece of work that will put a
  result into the queue, and does not issue such work without one;
- a credit comes back :data:`RETURN` cycles after its result leaves the queue, through
  registers (their route from the queue to the producer crosses the chip, register to
  register).

So the queue never overflows, and with a consumer that takes every result at once the
producer never waits for a credit: the same results in the same cycles as the stalling
pipeline, plus the queue's latency. Under a stalled consumer the producer runs ahead by
a full queue (``hw.pw_stage.PointwiseStage.output_held``, the cost model's
``store_slack``).
"""

from amaranth.hdl import Mux, Signal

__all__ = ["RETURN", "credits_needed", "credit_counter"]

#: Registers a credit passes from the queue's read to the producer's count.
RETURN = 2


def credits_needed(latency):
    """Queue entries (credits) with which a producer can issue a result every cycle,
    for ``latency`` cycles from issuing to the result at the queue's head: a credit
    spent at cycle ``t`` comes back at ``t + latency + RETURN + 1`` (the result read at
    the head at ``t + latency``, the RETURN registers, the count's)."""
    return latency + RETURN + 1


def credit_counter(m, depth, spend, give, name, spacing=1):
    """Returns ``ok``, a register: the producer holds a credit this cycle (it starts
    with ``depth``). ``spend``: the producer issues a result this cycle (only while
    ``ok``); ``give``: a result leaves the queue this cycle. ``ok`` is computed from
    the count and the returning credit, with ``spend`` at its last LUT.

    ``spacing`` > 1 also keeps results that many cycles apart at least (``ok`` is low
    for ``spacing - 1`` cycles after a spend): for a stage behind the producer that
    takes one every ``spacing`` cycles (a shared requantiser), which then never has to
    stall the free-running stages."""
    given = give
    for k in range(RETURN):
        late = Signal(name=f"{name}_return{k + 1}")
        m.d.sync += late.eq(given)
        given = late
    count = Signal(range(depth + 1), name=f"{name}_count", init=depth)
    ok = Signal(name=f"{name}_ok", init=1)
    m.d.sync += count.eq(count - spend + given)
    if spacing == 1:
        m.d.sync += ok.eq(Mux(spend, (count >= 2) | ((count != 0) & given), (count != 0) | given))
        return ok
    wait = Signal(range(spacing), name=f"{name}_wait")  # cycles before the next spend
    with m.If(spend):
        m.d.sync += wait.eq(spacing - 1)
    with m.Elif(wait != 0):
        m.d.sync += wait.eq(wait - 1)
    m.d.sync += ok.eq(~spend & (wait <= 1) & ((count != 0) | given))
    return ok
