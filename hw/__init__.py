"""Amaranth generator of the mnaccel accelerator: one component per module, `hw.top` wires them."""
