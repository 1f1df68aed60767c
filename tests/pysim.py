"""Drive a component's ``i_stream`` -> ``o_stream`` in Amaranth's own simulator.

Fast checks of single hw/ components (no HDL simulator): beats in, beats out, with
random idle cycles on the input and random backpressure on the output.
"""

from __future__ import annotations

import random

from amaranth.sim import Simulator

__all__ = ["run_stream"]


def run_stream(dut, beats, *, expect, idle=0.0, stall=0.0, seed=0, setup=None, unpack=None,
               i_stream=None, o_stream=None, max_cycles=None):
    """Send ``beats`` into the input stream and collect ``expect`` output beats.

    Parameters
    ----------
    dut : the component (or a harness holding it).
    beats : payload values for ``ctx.set`` (ints, dicts or lists as the layout takes).
    expect : number of output beats to collect.
    idle, stall : probabilities of an idle input cycle and of a cycle without ``ready``.
    setup : optional ``async setup(ctx)`` run before the first beat (static inputs, preloads).
    unpack : function of the payload view returning the recorded value (default: as_value).
    Returns (outputs, cycles from the first input cycle to the last output beat).
    """
    i_stream = i_stream if i_stream is not None else dut.i_stream
    o_stream = o_stream if o_stream is not None else dut.o_stream
    unpack = unpack or (lambda view: view)
    rng = random.Random(seed)
    outputs = []
    state = {"cycles": 0}
    limit = max_cycles or (len(beats) + expect) * 20 + 100

    async def bench(ctx):
        if setup is not None:
            await setup(ctx)
        k = 0
        for cycle in range(limit):
            ready = rng.random() >= stall
            ctx.set(o_stream.ready, ready)
            if k < len(beats) and rng.random() >= idle:
                ctx.set(i_stream.valid, 1)
                ctx.set(i_stream.payload, beats[k])
            else:
                ctx.set(i_stream.valid, 0)
            sent = ctx.get(i_stream.valid) and ctx.get(i_stream.ready)
            if ctx.get(o_stream.valid) and ready:
                outputs.append(unpack(ctx.get(o_stream.payload)))
            k += bool(sent)
            await ctx.tick()
            if len(outputs) == expect:
                state["cycles"] = cycle + 1
                break
        ctx.set(i_stream.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    if len(outputs) != expect:
        raise AssertionError(f"got {len(outputs)} of {expect} output beats in {limit} cycles")
    return outputs, state["cycles"]
