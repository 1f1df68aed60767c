"""The whole engine (hw.engine.Engine) in Amaranth's simulator: every step kind of a
small MobileNet, tile by tile, bit-exact against the golden model."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.config import AcceleratorConfig
from hw.engine import Engine
from hw.pw_stage import PointwiseStage
from model.cost import step_cost
from model.golden import run_network
from model.layers import mobilenet_v1
from model.quantize import random_input, random_mobilenet
from model.tiling import network_steps, tile_step
from sw.program import assemble_output, program_tile, step_input


def run_step_pysim(config, qlayers, x_in, step, stall=0.0, seed=0):
    """Run every tile of ``step``; return (output map, cycles per tile)."""
    rng = random.Random(seed)
    tiling = tile_step(step, config.pe, config.bank["act"].depth, config.bank["pw_weights"].depth)
    xs = step_input(step, qlayers[0], x_in, config.pe)
    last = step.last
    out = np.zeros((last.out_h, last.out_w, last.out_c), np.int8)
    dut = Engine(config)
    cycles = []

    async def bench(ctx):
        for k, tile in enumerate(tiling.tiles):
            program = program_tile(step, qlayers, xs, tile, config.pe, act_half=k % 2,
                                   weight_half=(k // 2) % 2)
            for beat in program.loads:
                ctx.set(dut.load.valid, 1)
                ctx.set(dut.load.payload, beat)
                await ctx.tick()
            ctx.set(dut.load.valid, 0)
            ctx.set(dut.cmd.valid, 1)
            ctx.set(dut.cmd.payload, program.command)
            await ctx.tick()
            ctx.set(dut.cmd.valid, 0)
            words = []
            for _ in range(200 * (program.out_words + 10) * (1 + int(stall * 10))):
                ready = rng.random() >= stall
                ctx.set(dut.store.ready, ready)
                if ready and ctx.get(dut.store.valid):
                    payload = ctx.get(dut.store.payload)
                    words.append([int(v) for v in payload.data])
                    if payload.last:
                        await ctx.tick()
                        break
                await ctx.tick()
            assert len(words) == program.out_words
            cycles.append(ctx.get(dut.cycles))
            assemble_output(program, words, out, config.pe)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out, cycles




CASES = [
    # (alpha, resolution, sram, pe, padding, step name, stall)
    (0.25, 32, 70_000, 4, "same", "dw1+pw1", 0.0),  # stride 1, 2 x 4 blocks
    (0.25, 32, 70_000, 4, "same", "dw2+pw2", 0.3),  # stride 2, SAME (0,0,1,1), two tiles
    (0.25, 64, 66_000, 4, "symmetric", "dw4+pw4", 0.0),  # stride 2 symmetric, banded
    (0.25, 32, 70_000, 4, "same", "conv1", 0.0),  # conv1 from the image (Mode.CONV), several tiles
    (0.25, 64, 70_000, 4, "same", "avgpool", 0.0),  # global pool over a 2x2 map
    (0.25, 32, 200_000, 8, "same", "fc", 0.2),  # 37 classes: not a multiple of pe
    # pe 8 runs free behind credits (hw.credits): runs of one word, a result every cycle
    (0.25, 32, 200_000, 8, "same", "dw1+pw1", 0.0),
    (0.25, 32, 200_000, 8, "same", "dw1+pw1", 0.5),
]


def _run_case(alpha, resolution, sram, pe, padding, name, stall, config=None):
    """(output, golden output, cycles per tile, the cost model's tiles) of one step, on
    the accelerator built for its network or on ``config``'s."""
    config = config or AcceleratorConfig(pe=pe, alpha=alpha, resolution=resolution, sram_bytes=sram)
    network = mobilenet_v1(alpha, resolution, padding=padding,
                           num_classes=37 if name == "fc" else 1000)
    qlayers = random_mobilenet(network, seed=3)
    x = random_input(network, seed=3)
    outputs = run_network(qlayers, x)
    names = [layer.name for layer in network]
    step = next(s for s in network_steps(network) if s.name == name)
    index = names.index(step.first.name)
    q_step = qlayers[index:index + len(step.layers)]
    x_in = x if index == 0 else outputs[index - 1]
    got, cycles = run_step_pysim(config, q_step, x_in, step, stall=stall)
    want = outputs[index + len(step.layers) - 1].reshape(got.shape)
    predicted = step_cost(tile_step(step, pe, config.bank["act"].depth,
                                    config.bank["pw_weights"].depth), pe,
                          pw_share=config.pw_requant_share)
    return got, want, cycles, predicted.tiles


@pytest.mark.slow
@pytest.mark.parametrize("alpha, resolution, sram, pe, padding, name, stall", CASES,
                         ids=[f"{c[5]}-pe{c[3]}-{c[4]}-stall{c[6]}" for c in CASES])
def test_step_bit_exact(alpha, resolution, sram, pe, padding, name, stall):
    got, want, cycles, predicted = _run_case(alpha, resolution, sram, pe, padding, name, stall)
    assert np.array_equal(got, want)
    if stall == 0:
        assert cycles == [tile.cycles for tile in predicted]
    else:
        # Backpressure on the store stream can only add cycles.
        assert all(c >= p.cycles for c, p in zip(cycles, predicted))


@pytest.mark.slow
def test_credits_are_as_many_as_a_word_a_cycle_needs(monkeypatch):
    """pe 8's output queue and credits (``PointwiseStage.credits``, ``hw.credits``)
    are just enough for a result every cycle: with one fewer, a step of one-word runs
    (dw1+pw1 at 0.25, 8 channels) is still bit-exact but slower than the cost model
    says, with them it takes the cycles it says (``test_step_bit_exact``)."""
    case = (0.25, 32, 200_000, 8, "same", "dw1+pw1", 0.0)
    credits = PointwiseStage.credits
    monkeypatch.setattr(PointwiseStage, "credits",
                        classmethod(lambda cls, pe, share=1: credits(pe, share) - 1))
    got, want, cycles, predicted = _run_case(*case)
    assert np.array_equal(got, want)
    assert all(c >= p.cycles for c, p in zip(cycles, predicted))
    assert sum(cycles) > sum(p.cycles for p in predicted)


@pytest.mark.slow
@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_runs_shorter_than_the_shared_requantiser_wait_for_it(stall):
    """A shared pointwise requantiser takes a word every ``share`` cycles, and from pe 8
    nothing in front of it can stall (``hw.credits``): the sequencer spaces runs' last
    words that far apart. The accelerator for 0.5-64 at pe 8 shares by 2 (no run of its
    network is shorter); a step of one-word runs from 0.25-64 on it (a program its
    driver did not plan for) is bit-exact (without the spacing 27 of its 2,048 words
    were lost under store stalls) and, without stalls, takes the cycles the cost model
    says: two a run, not one (``model.cost.tile_cycles``)."""
    config = AcceleratorConfig(pe=8, alpha=0.5, resolution=64, sram_bytes=300_000)
    assert config.pw_requant_share == 2
    got, want, cycles, predicted = _run_case(0.25, 64, 300_000, 8, "same", "dw1+pw1", stall,
                                             config=config)
    assert np.array_equal(got, want)
    if stall == 0:
        assert cycles == [p.cycles for p in predicted]
    else:
        assert all(c >= p.cycles for c, p in zip(cycles, predicted))
