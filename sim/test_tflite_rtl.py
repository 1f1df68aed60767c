"""Users' int8 ``.tflite`` models through the whole accelerator from DDR: every step
bit-exact with the golden model and with LiteRT's reference kernels, the trained model's
predictions those of TFLite, cycles against the cost model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hw.config import AcceleratorConfig
from model.tflite import load_tflite, reference_run
from sw.run import execute

MODELS = Path(__file__).parent.parent / "tests" / "models"
#: Per-layer cycle error allowed. Small fused steps at the smallest SRAM run up to ~2 %
#: longer than predicted (measured: dw1+pw1 of the 47x33 model at pe 8, +2.13 %, 49
#: cycles of 2,302); the cause is the open under-prediction of fused steps (issue
#: "Past the per-layer roofline", item 4), not the imported arithmetic.
TOLERANCE = 0.03


def _minimal(model, **kwargs) -> AcceleratorConfig:
    base = AcceleratorConfig(sram_bytes=10**6, network=model.network, **kwargs)
    return dataclasses.replace(base, sram_bytes=base.sram_min_bytes)


def _check(report):
    assert report["bit_exact"] and report["tflite_exact"], \
        [l["name"] for l in report["layers"]
         if l["bit_exact"] is False or not l.get("tflite_exact")]
    for layer in report["layers"]:
        assert abs(layer["error"]) <= TOLERANCE, (layer["name"], layer["measured_cycles"],
                                                  layer["predicted_cycles"])


def test_trained_digits_model_on_held_out_images(sim, tmp_path):
    """Three held-out digits through the RTL (pe 4, the smallest SRAM: every step tiles):
    the accelerator's class is TFLite's, every layer equal to the reference kernels'.
    Icarus (~1 k cycles/s) runs the first three steps of one image."""
    model = load_tflite(MODELS / "digits_a025_32.tflite")
    data = np.load(MODELS / "digits_heldout.npz")
    config = _minimal(model, pe=4, ddr_data_bits=32, ddr_bytes_per_cycle=4.0, ddr_latency_cycles=20)
    picks = [0, 1, 2] if sim == "verilator" else [0]
    for index in picks:
        x = data["x"][index]
        limit = 3 if sim == "icarus" else None
        report = execute(config, sim, workdir=tmp_path / str(index), model=model, image=x,
                         limit=limit)
        _check(report)
        if limit is None:
            _, outputs = reference_run(model, x)
            logits = next(iter(outputs.values())).reshape(-1)
            assert report["top5"][0]["class"] == int(np.argmax(logits))
            assert report["outputs"][0]["tflite_exact"]


def test_odd_non_square_model_with_explicit_padding(tmp_path):
    """47 x 33 input: PAD + VALID stride-2 depthwise, 3x3 depthwise on 1x1 maps, the
    classifier straight after block 13 (no MEAN); pe 8 on a 64-bit port; Verilator."""
    from sim.toolchain import simulator_status

    available, reason = simulator_status("verilator")
    if not available:
        pytest.skip(f"verilator: {reason}")
    model = load_tflite(MODELS / "mnv1_a025_odd_47x33.tflite")
    config = _minimal(model, pe=8)
    report = execute(config, "verilator", seed=3, workdir=tmp_path, model=model)
    _check(report)
    assert report["outputs"][0]["shape"] == [1, 5] and report["outputs"][0]["tflite_exact"]
