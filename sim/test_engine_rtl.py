"""RTL tests of the whole engine (sim/engine_tb.py): real layers, tile by tile, on Icarus
and Verilator, bit-exact against the golden model and cycle-exact against the cost model.

The steps cover every layer kind: conv1 from the raw image (``Mode.CONV``: the window
generator's windows gathered into im2col words, ``hw.conv_gather``; TF SAME on an odd
image and symmetric padding on an even one), fused depthwise +
pointwise at stride 1 (symmetric padding) and stride 2 (TensorFlow SAME on an even map,
pads bottom/right only, and on an odd map), global average pooling and a fully
connected layer; channel counts that are not multiples of pe; and tilings cut small on
purpose so that steps run as several row bands and output-channel groups.
"""

import json

import pytest

from hw.config import AcceleratorConfig
from hw.pw_stage import store_layout
from hw.engine import Engine
from model.golden import run_network
from model.layers import Activation, Layer, LayerKind, Padding
from model.quantize import random_input, random_mobilenet
from model.cost import step_mode
from model.tiling import Step, tile_step
from sim.runner import describe_layout
from sim.stimulus import step_stimulus

PES = (4, 8)
WIDE_PE = 16


def _relu6(name, kind, h, w, cin, cout, kernel=1, stride=1, padding=Padding()):
    return Layer(name, kind, h, w, cin, cout, kernel, stride, padding, Activation.RELU6)


def _steps():
    """(name, layers, index of the step's first layer, act depth cap, weight depth cap)."""
    same = Padding.same
    return [
        ("conv1-s2-odd", [_relu6("conv1", LayerKind.CONV, 9, 7, 3, 5, 3, 2, same(9, 7, 3, 2))], 0,
         None, None),
        ("conv1-s2-symmetric", [_relu6("conv1", LayerKind.CONV, 8, 10, 3, 7, 3, 2,
                                       Padding.symmetric(3))], 0, 6, None),
        ("fused-s1-symmetric", [_relu6("pw0", LayerKind.POINTWISE, 5, 7, 3, 6),
                                _relu6("dw", LayerKind.DEPTHWISE, 5, 7, 6, 6, 3, 1, Padding.symmetric(3)),
                                _relu6("pw", LayerKind.POINTWISE, 5, 7, 6, 10)], 1, 6, 2),
        ("fused-s2-same-even", [_relu6("pw0", LayerKind.POINTWISE, 6, 6, 3, 6),
                                _relu6("dw", LayerKind.DEPTHWISE, 6, 6, 6, 6, 3, 2, same(6, 6, 3, 2)),
                                _relu6("pw", LayerKind.POINTWISE, 3, 3, 6, 9)], 1, None, None),
        ("fused-s2-same-odd", [_relu6("pw0", LayerKind.POINTWISE, 7, 5, 3, 5),
                               _relu6("dw", LayerKind.DEPTHWISE, 7, 5, 5, 5, 3, 2, same(7, 5, 3, 2)),
                               _relu6("pw", LayerKind.POINTWISE, 4, 3, 5, 8)], 1, 4, None),
        ("avgpool", [_relu6("pw0", LayerKind.POINTWISE, 3, 3, 3, 6),
                     Layer("avgpool", LayerKind.AVGPOOL, 3, 3, 6, 6, 3)], 1, None, None),
        ("fc", [Layer("fc", LayerKind.FC, 1, 1, 6, 11, 1)], 0, None, 2),
    ]


def build_stimulus(config: AcceleratorConfig, seed: int = 5, names=None):
    """Tiles of every step of :func:`_steps` (those in ``names``) as packed beats with
    golden outputs."""
    tiles = []
    for name, layers, first, act_cap, weight_cap in _steps():
        if names is not None and name not in names:
            continue
        qlayers = random_mobilenet(layers, seed=seed)
        x = random_input(layers, seed=seed)
        outputs = run_network(qlayers, x)
        step = Step(tuple(layers[first:]))
        x_in = x if first == 0 else outputs[first - 1]
        act_depth = min(config.bank["act"].depth, act_cap or 10**9)
        weight_depth = min(config.bank["pw_weights"].depth, weight_cap or 10**9)
        tiles += step_stimulus(config, step, qlayers[first:], x_in, outputs[-1],
                               tile_step(step, config.pe, act_depth, weight_depth),
                               first_tile=len(tiles), name=name)
    return tiles


@pytest.mark.parametrize("pe", [*PES, WIDE_PE])
def test_engine_rtl(rtl, sim, pe, tmp_path):
    if pe != PES[0] and sim != "verilator":
        pytest.skip(f"pe={pe} is built for Verilator only (Icarus is too slow at this width; "
                    f"it runs pe={PES[0]})")
    tiles = _run(rtl, pe, tmp_path)
    assert len(tiles) > 6  # several steps run as more than one tile


CONV1_STEPS = ("conv1-s2-odd", "conv1-s2-symmetric")


@pytest.mark.parametrize("pe", [*PES, WIDE_PE])
def test_engine_rtl_conv1_from_image(rtl, sim, pe, tmp_path):
    """conv1 from the raw image (one pixel a word in the activation buffer, the engine's
    windows gathered into the im2col words): bit-exact, the cost model's cycles exactly
    per tile, under random pauses no fewer; pe 4 .. 16 (27 channels in 7 .. 2 words; the
    one-word case, pe 32, is ``hw.conv_gather``'s unit test in tests/test_hw_units.py:
    a pe-32 engine's Verilator build alone took a quarter of the test run)."""
    from hw.command import Mode

    if pe != PES[0] and sim != "verilator":
        pytest.skip(f"pe={pe} is built for Verilator only (Icarus runs pe={PES[0]})")
    for name, layers, first, *_ in _steps():
        if name in CONV1_STEPS:
            assert step_mode(Step(tuple(layers[first:]))) is Mode.CONV
    assert len(_run(rtl, pe, tmp_path, names=CONV1_STEPS)) >= 2


@pytest.mark.quick
def test_engine_rtl_pool_and_classifier_on_icarus(tmp_path):
    """The quick tier's engine run: the average-pooling and classifier steps at pe 4."""
    from sim.runner import run_rtl
    from sim.toolchain import simulator_status

    available, reason = simulator_status("icarus")
    if not available:
        pytest.skip(f"icarus: {reason}")
    assert len(_run(lambda design, **kw: run_rtl(design, sim="icarus", **kw), 4, tmp_path,
                    names=("avgpool", "fc"))) >= 2


def test_engine_rtl_ecp5(rtl, sim, tmp_path):
    """The engine elaborated for ECP5 (``hw.generate --target ecp5``): its multipliers
    MULT18X18D and its activation and weight buffers DP16KD with their output registers,
    simulated with sim/hdl's models; the same results and cycles as the portable RTL.
    On Verilator: the primitives' models are checked on both simulators on their own
    (sim/test_bram.py, sim/test_mac_arrays.py's ecp5 cases), and the whole engine with
    them took Icarus 13 minutes."""
    from hw.products import ECP5
    from sim.runner import ECP5_MODELS

    if sim != "verilator":
        pytest.skip("the ECP5 engine runs on Verilator (its primitives' models run on both "
                    "simulators in sim/test_bram.py and sim/test_mac_arrays.py)")
    assert len(_run(rtl, PES[0], tmp_path, platform=ECP5, extra_sources=ECP5_MODELS)) > 6


def _run(rtl, pe, tmp_path, names=None, **target):
    """The steps' tiles through the engine: bit-exact (the testbench checks every output
    beat), exactly the predicted cycles unpaused, no fewer under random pauses.
    ``target``: ``platform`` and ``extra_sources`` for a vendor's primitives."""
    config = AcceleratorConfig(pe=pe, alpha=0.25, resolution=32, sram_bytes=400_000)
    tiles = build_stimulus(config, names=names)
    stimulus = tmp_path / "stimulus.json"
    stimulus.write_text(json.dumps({"tiles": tiles}))
    run = rtl(Engine(config), toplevel="mnaccel_engine", test_module="sim.engine_tb", **target, params={
        "stimulus": str(stimulus),
        "store_layout": describe_layout(store_layout(pe)),
        "budget_cycles": sum(t["predicted"] + len(t["loads"]) for t in tiles),
    })
    assert set(run.tests.values()) == {"passed"}
    for tile in tiles:
        assert run.cycles[f"{tile['name']}/pause=none"] == tile["predicted"]
        assert run.cycles[f"{tile['name']}/pause=both"] >= tile["predicted"]
    return tiles
