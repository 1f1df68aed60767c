"""Engine stimulus for sim/engine_tb.py: a step's tiles as packed beats, golden outputs
and predicted cycles, built with the driver's encoders (``sw.program``) and the cost
model (``model.cost``). Shared by the RTL tests and the benchmark."""

from __future__ import annotations

from hw.command import command_layout, load_layout
from model.cost import step_cost
from sim.runner import describe_layout, pack
from sw.program import expected_words, step_programs

__all__ = ["step_stimulus"]


def step_stimulus(config, step, qlayers, x_in, golden, tiling, *, first_tile=0, name=None):
    """One dict per tile: ``name``, ``loads`` and ``command`` (packed), ``expected``
    (the golden values of each output word's real channels) and ``predicted`` cycles.

    ``qlayers`` are the step's quantised layers, ``x_in`` its input map, ``golden`` its
    output as the golden model computes it, ``first_tile`` the tiles run before it (for
    the alternation of buffer halves)."""
    pe = config.pe
    load_desc = describe_layout(load_layout(pe, config.load_addr_bits))
    cmd_desc = describe_layout(command_layout())
    cost = step_cost(tiling, pe, pw_share=config.pw_requant_share)
    golden = golden.reshape(step.last.out_shape)
    programs = step_programs(step, qlayers, x_in, tiling, pe, first_tile=first_tile)
    return [{
        "name": f"{name or step.name}/tile{k}",
        "step": step.name,
        "loads": [pack(load_desc, beat) for beat in program.loads],
        "command": pack(cmd_desc, program.command),
        "expected": expected_words(program, golden, pe),
        "predicted": tile_cost.cycles,
    } for k, (program, tile_cost) in enumerate(zip(programs, cost.tiles))]
