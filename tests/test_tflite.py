"""The ``.tflite`` importer: every layer of every test model equal to LiteRT's reference
kernels (``OpResolverType.BUILTIN_REF``), the trained model's accuracy, what is refused
and how bad files are answered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.golden import run_network
from model.layers import LayerKind
from model.quantize import random_input
from model.tflite import TFLiteImportError, load_tflite, reference_run

MODELS = Path(__file__).parent / "models"
ACCEPTED = ["mnv1_a025_96", "mnv1_a050_128x96", "mnv1_a100_b6_75", "mnv1_a025_ssd_2out",
            "mnv1_a025_odd_47x33", "mnv1_a025_64_fc", "digits_a025_32"]


def inputs(model):
    """A uniform random int8 input and an image-like one (correlated, the input's range)."""
    shape = model.network.layers[0].in_shape
    noise = np.random.default_rng(0).integers(-128, 128, shape, dtype=np.int8)
    return [noise, random_input(model.network, 1, scale=model.input_scale,
                                zero_point=model.input_zero_point)]


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_layer_equals_the_reference_kernels(name):
    model = load_tflite(MODELS / f"{name}.tflite")
    outputs = []
    for x in inputs(model):
        golden = run_network(list(model.qlayers), x)
        reference, by_output = reference_run(model, x)
        for q, got in zip(model.qlayers, golden):
            want = reference[q.layer.name]
            assert np.array_equal(got, want), (q.layer.name, int(np.count_nonzero(got != want)))
        maps = {q.layer.name: g for q, g in zip(model.qlayers, golden)}
        maps.update(model.run_host(golden[-1]))  # a Dense classifier, on the host
        for output in model.outputs:
            assert np.array_equal(maps[output.layer].reshape(output.shape), by_output[output.name])
        outputs.append(golden[-1])
    # Not vacuous: the two inputs give clearly different outputs.
    assert np.mean(outputs[0] != outputs[1]) > 0.3


def test_layer_tables_of_the_test_models():
    model = load_tflite(MODELS / "mnv1_a050_128x96.tflite")
    net = model.network
    assert (net.alpha, net.resolution) == (None, None)
    assert [l.name for l in net][:3] == ["conv1", "dw1", "pw1"] and [l.name for l in net][-2:] == \
        ["avgpool", "fc"]
    assert net["conv1"].in_shape == (128, 96, 3) and net["conv1"].out_c == 16
    assert net["avgpool"].in_shape == (4, 3, 512) and net["avgpool"].out_shape == (1, 1, 512)
    assert net["fc"].kind is LayerKind.FC and net["fc"].out_c == 10
    assert len(net) == 29 and net.output_layers == ("fc",)
    # Odd maps: the converter's PAD + VALID stride-2 depthwise becomes explicit padding.
    odd = load_tflite(MODELS / "mnv1_a100_b6_75.tflite").network
    assert odd["conv1"].padding.as_tuple() == (1, 1, 1, 1) and odd["conv1"].out_shape == (38, 38, 32)
    assert odd["dw4"].padding.as_tuple() == (0, 0, 1, 1) and odd["dw4"].in_shape == (19, 19, 128)
    assert odd["pw6"].out_shape == (4, 4, 512) and odd.output_layers == ("pw6",)
    # Two outputs, in the converter's order, each a layer's map.
    ssd = load_tflite(MODELS / "mnv1_a025_ssd_2out.tflite")
    assert ssd.network.output_layers == ("pw13", "pw11")
    assert [(o.layer, o.shape) for o in ssd.outputs] == [("pw13", (1, 5, 5, 256)),
                                                          ("pw11", (1, 10, 10, 128))]


def test_a_dense_classifier_runs_on_the_host():
    model = load_tflite(MODELS / "mnv1_a025_64_fc.tflite")
    assert [l.name for l in model.network][-1] == "avgpool"
    assert [h.name for h in model.host_layers] == ["fc (host)"]
    assert [o.layer for o in model.outputs] == ["fc (host)"]
    assert model.network.output_layers == ("avgpool",)  # what the accelerator hands the host


def test_dead_channels_need_large_right_shifts():
    """Real models' dead channels: tiny weight scales, shifts far right (TOOLCHAIN.md)."""
    model = load_tflite(MODELS / "mnv1_a025_96.tflite")
    assert min(int(q.shift.min()) for q in model.qlayers) <= -20


def test_trained_digits_model_accuracy_equals_tflite_image_for_image():
    model = load_tflite(MODELS / "digits_a025_32.tflite")
    data = np.load(MODELS / "digits_heldout.npz")
    recorded = json.loads((MODELS / "digits_accuracy.json").read_text())
    assert (data["input_scale"], data["input_zero_point"]) == \
        (np.float32(model.input_scale), model.input_zero_point)
    ours, theirs = [], []
    for x in data["x"]:
        logits = run_network(list(model.qlayers), x)[-1].reshape(-1)
        _, by_output = reference_run(model, x)
        reference = next(iter(by_output.values())).reshape(-1)
        assert np.array_equal(logits, reference)
        ours.append(int(np.argmax(logits)))  # ties to the lower index
        theirs.append(int(np.argmax(reference)))
    assert ours == theirs
    accuracy = float(np.mean(np.array(ours) == data["y"]))
    assert accuracy == recorded["tflite_int8_accuracy"] > 0.9


@pytest.mark.parametrize("name, message", [
    ("refuse_residual", "refuse_residual.tflite: operator 3 (ADD): a residual addition (skip "
                        "connection); MobileNet-v1 has none and the accelerator runs one chain of "
                        "layers"),
    ("refuse_maxpool", "refuse_maxpool.tflite: operator 1 (MAX_POOL_2D): this operator is not a "
                       "MobileNet-v1 layer the accelerator runs"),
])
def test_refused_models_name_the_operator_and_why(name, message):
    with pytest.raises(TFLiteImportError) as info:
        load_tflite(MODELS / f"{name}.tflite")
    assert str(info.value) == message


def test_bad_files(tmp_path):
    def message(path):
        with pytest.raises(TFLiteImportError) as info:
            load_tflite(path)
        return str(info.value)

    assert message(tmp_path / "missing.tflite") == f"{tmp_path / 'missing.tflite'}: no such file"
    assert message(tmp_path) == f"{tmp_path}: is a directory, not a .tflite file"
    text = tmp_path / "notes.tflite"
    text.write_text("not a model at all")
    assert message(text) == f"{text}: not a TFLite flatbuffer (no 'TFL3' identifier)"
    whole = (MODELS / "mnv1_a025_96.tflite").read_bytes()
    for cut in (64, len(whole) // 2):
        truncated = tmp_path / f"cut{cut}.tflite"
        truncated.write_bytes(whole[:cut])
        assert message(truncated).startswith(f"{truncated}: corrupt or truncated TFLite flatbuffer")


def _with_softmax(source: Path, target: Path) -> None:
    """``source`` with an int8 SOFTMAX appended to its output, as a Keras model with the
    default classifier activation converts (scale 1/256, zero point -128)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    sub = model.subgraphs[0]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SOFTMAX
    code.version = 2
    model.operatorCodes.append(code)
    logits = sub.tensors[sub.outputs[0]]
    probs = schema.TensorT()
    probs.shape, probs.type, probs.name = list(logits.shape), schema.TensorType.INT8, b"probs"
    probs.buffer = 0
    probs.quantization = schema.QuantizationParametersT()
    probs.quantization.scale, probs.quantization.zeroPoint = [1 / 256], [-128]
    sub.tensors.append(probs)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [sub.outputs[0]], [len(sub.tensors) - 1]
    op.builtinOptionsType = schema.BuiltinOptions.SoftmaxOptions
    op.builtinOptions = schema.SoftmaxOptionsT()
    op.builtinOptions.beta = 1.0
    sub.operators.append(op)
    sub.outputs = [len(sub.tensors) - 1]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.write_bytes(bytes(builder.Output()))


def test_a_softmax_output_is_reported_as_its_logits(tmp_path):
    """LiteRT's reference int8 SOFTMAX aborts the process: the reference runs the model
    without it, and the accelerator reports the logits (softmax is the host's)."""
    path = tmp_path / "with_softmax.tflite"
    _with_softmax(MODELS / "mnv1_a025_96.tflite", path)
    model = load_tflite(path)
    plain = load_tflite(MODELS / "mnv1_a025_96.tflite")
    assert [(o.name, o.layer, o.shape, o.softmax) for o in model.outputs] == \
        [("probs", "fc", (1, 10), True)]
    x = inputs(model)[1]
    _, with_softmax = reference_run(model, x)
    _, without = reference_run(plain, x)
    assert np.array_equal(with_softmax["probs"], next(iter(without.values())))


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_model_through_the_accelerators_programs(name):
    """The schedule's programs on the fast model (the accelerator's tiling, DDR layout and
    arithmetic): every step equal to the golden model and to TFLite's reference kernels,
    every model output equal to the interpreter's."""
    from hw.config import AcceleratorConfig
    from sw.run import execute

    model = load_tflite(MODELS / f"{name}.tflite")
    base = AcceleratorConfig(pe=8, sram_bytes=10**6, network=model.network)
    config = AcceleratorConfig(pe=8, sram_bytes=base.sram_min_bytes, network=model.network)
    report = execute(config, "model", seed=2, model=model)
    assert report["bit_exact"] and report["tflite_exact"]
    assert all(layer["tflite_exact"] for layer in report["layers"])
    assert [o["name"] for o in report["outputs"]] == [o.name for o in model.outputs]
    assert all(o["tflite_exact"] for o in report["outputs"])
