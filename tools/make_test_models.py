"""Write the small full-integer int8 .tflite test models of tests/models/.

Run from the repository root with a Python that has TensorFlow (Keras 3),
ai-edge-litert, scikit-image and pillow installed::

    /path/to/venv-with-tensorflow/bin/python tools/make_test_models.py [--out tests/models] [--only NAME ...]
    /path/to/venv-with-tensorflow/bin/python tools/make_test_models.py --benchmark DIR

``--benchmark DIR`` writes only ONE full-size model, ``DIR/mnv1_a100_224.tflite``
(MobileNet-v1 alpha 1.0, 224x224x3, include_top, 1000 classes, no classifier
activation; ~4.3 MB, too big to check in), built and converted exactly like the
test models below (BN calibration, classifier calibration, a few dead channels,
full-integer int8), checked the same way, and prints its entry (seed, sha256, op
summary, check results) as JSON on stdout.  Nothing in tests/models (files or
manifest.json) is touched.

The models are random-weight ``keras.applications.MobileNet`` networks (or
truncated backbones / small hand-built refusal cases).  A random network with
the default batch-norm statistics (mean 0, variance 1) barely depends on its
input, so before conversion every BatchNormalization layer is *calibrated*:
real photos (scikit-image sample images, randomly cropped / flipped / resized,
scaled as Keras MobileNet expects, ``pixels / 127.5 - 1``) are run through the
float model layer by layer, each BN layer's moving mean / variance is set to
the statistics of its input, gamma ~ U(0.5, 1.5), beta ~ U(-0.5, 1.0).  Some
models also get a few "dead" channels (kernel multiplied by 1e-5, as trained
networks have), which gives tiny per-channel weight scales and large
requantisation right shifts.  The classifier (1x1 conv or Dense) is rescaled so
each logit has mean 0 / std 2 over the calibration photos (calibrate_classifier()).

Conversion: tf.lite.TFLiteConverter.from_keras_model, Optimize.DEFAULT, a
representative dataset of photos, TFLITE_BUILTINS_INT8 only, int8 input and
output.  Every file is then loaded and run with the LiteRT BUILTIN_REF
reference kernels, compared with the float Keras model, and checked to depend
on its input (two different photos must give clearly different outputs).

Seeds are fixed; re-running gives the same files with the same TensorFlow.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tflite_summary  # noqa: E402

SEED = 20240611
N_BN_CALIB = 192      # images used to set the BN statistics
N_REPR = 128          # images of the converter's representative dataset

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "tests", "models")


# --------------------------------------------------------------------------- photos

def _photo_list() -> list[np.ndarray]:
    """scikit-image sample photos (bundled, no download), as HxWx3 uint8."""
    import skimage.data as d
    colour = ["chelsea", "coffee", "astronaut", "rocket", "cat", "immunohistochemistry",
              "hubble_deep_field", "retina", "colorwheel"]
    grey = ["camera", "coins", "moon", "grass", "gravel", "brick", "clock", "cell", "page", "text"]
    out = []
    for n in colour:
        out.append(np.ascontiguousarray(getattr(d, n)()[..., :3]))
    for n in grey:
        g = getattr(d, n)()
        out.append(np.repeat(g[..., None], 3, axis=2))
    return out


_PHOTOS: list[np.ndarray] | None = None


def photos() -> list[np.ndarray]:
    global _PHOTOS
    if _PHOTOS is None:
        _PHOTOS = _photo_list()
    return _PHOTOS


def preprocess(img_u8: np.ndarray) -> np.ndarray:
    """Keras MobileNet preprocessing: pixels / 127.5 - 1."""
    return img_u8.astype(np.float32) / 127.5 - 1.0


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))


def center_view(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Largest centred crop of aspect h:w, resized to h x w; float in [-1, 1]."""
    H, W = img.shape[:2]
    ch, cw = (H, int(round(H * w / h))) if H * w / h <= W else (int(round(W * h / w)), W)
    y0, x0 = (H - ch) // 2, (W - cw) // 2
    return preprocess(_resize(img[y0:y0 + ch, x0:x0 + cw], h, w))


def augmented_view(img: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop (30-100 % of the largest h:w crop), random flip, resize."""
    H, W = img.shape[:2]
    ch0, cw0 = (H, H * w / h) if H * w / h <= W else (W * h / w, W)
    f = rng.uniform(0.3, 1.0)
    ch, cw = max(2, int(ch0 * f)), max(2, int(cw0 * f))
    y0 = int(rng.integers(0, H - ch + 1))
    x0 = int(rng.integers(0, W - cw + 1))
    crop = img[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.2:
        crop = crop[::-1]
    out = _resize(np.ascontiguousarray(crop), h, w).astype(np.float32)
    # mild brightness / contrast jitter
    out = (out - 128.0) * rng.uniform(0.8, 1.2) + 128.0 + rng.uniform(-20, 20)
    return np.clip(out, 0, 255) / 127.5 - 1.0


def calibration_images(h: int, w: int, n: int, rng: np.random.Generator) -> np.ndarray:
    ph = photos()
    return np.stack([augmented_view(ph[i % len(ph)], h, w, rng) for i in range(n)]).astype(np.float32)


def test_images(h: int, w: int) -> np.ndarray:
    """Two clearly different photos (chelsea the cat, the rocket), centre crops."""
    import skimage.data as d
    return np.stack([center_view(d.chelsea(), h, w), center_view(d.rocket(), h, w)]).astype(np.float32)


# --------------------------------------------------------------------------- BN calibration

def make_dead_channels(model: keras.Model, layer_names: list[str], n_per_layer: int,
                       rng: np.random.Generator, factor: float = 1e-5) -> dict:
    """Multiply the kernels of a few output channels by `factor` (dead channels)."""
    dead = {}
    for name in layer_names:
        lyr = model.get_layer(name)
        ws = lyr.get_weights()
        k = ws[0]
        if isinstance(lyr, layers.DepthwiseConv2D):
            C = k.shape[2]
            ch = sorted(rng.choice(C, size=n_per_layer, replace=False).tolist())
            k[:, :, ch, :] *= factor
        else:
            C = k.shape[3]
            ch = sorted(rng.choice(C, size=n_per_layer, replace=False).tolist())
            k[:, :, :, ch] *= factor
        ws[0] = k
        lyr.set_weights(ws)
        dead[name] = ch
    return dead


def calibrate_bn(model: keras.Model, x: np.ndarray, rng: np.random.Generator,
                 gamma=(0.5, 1.0), beta=(0.5, 2.0), frac_high=0.03, beta_high=(5.0, 7.0)) -> int:
    """Set each BN layer's moving statistics to those of its input (in topological order).

    BN output = N(0, 1) * gamma + beta on the calibration photos.  gamma ~ U(0.5, 1.0),
    beta ~ U(0.5, 2.0) for most channels (so ReLU6 cuts the lower tail), and a fraction
    `frac_high` of channels get beta ~ U(5, 7) so the ReLU6 upper clamp is exercised.
    (With beta ~ U(-0.5, 1.0), gamma ~ U(0.5, 1.5) the random network is "chaotic": a
    +-1 LSB input perturbation grows to ~50 % relative RMS by block 13 in float, so the
    int8 model can hardly be compared with the float one; the choice above keeps it ~4 %.)
    """
    bns = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    for bn in bns:
        sub = keras.Model(model.inputs, bn.input)
        a = np.concatenate([np.asarray(sub(x[i:i + 64], training=False), dtype=np.float64)
                            for i in range(0, x.shape[0], 64)])
        mean = a.mean(axis=(0, 1, 2))
        var = a.var(axis=(0, 1, 2))
        C = mean.size
        g = rng.uniform(*gamma, size=C)
        b = rng.uniform(*beta, size=C)
        hi = rng.random(C) < frac_high
        b[hi] = rng.uniform(*beta_high, size=int(hi.sum()))
        bn.set_weights([g.astype(np.float32), b.astype(np.float32),
                        mean.astype(np.float32), var.astype(np.float32)])
    return len(bns)


def calibrate_classifier(model: keras.Model, x: np.ndarray, logit_std: float = 2.0) -> str | None:
    """Rescale the classifier (conv_preds 1x1 conv or fc Dense) so each logit has mean 0 and
    std `logit_std` over the calibration photos.  Without this the logits of a random network
    are dominated by an image-independent offset (the mean of the pooled features) and two
    photos differ by only a few LSB in the int8 output."""
    names = [l.name for l in model.layers]
    name = "conv_preds" if "conv_preds" in names else ("fc" if "fc" in names else None)
    if name is None:
        return None
    lyr = model.get_layer(name)
    sub = keras.Model(model.inputs, lyr.input)
    f = np.concatenate([np.asarray(sub(x[i:i + 64], training=False), dtype=np.float64)
                        for i in range(0, x.shape[0], 64)])
    f = f.reshape(f.shape[0], -1)                       # (N, C) pooled features
    k, b = lyr.get_weights()
    w = k.reshape(f.shape[1], -1).astype(np.float64)    # (C, classes)
    z = f @ w
    mu, sd = z.mean(axis=0), z.std(axis=0) + 1e-12
    w2 = w / sd * logit_std
    b2 = -mu / sd * logit_std
    lyr.set_weights([w2.reshape(k.shape).astype(np.float32), b2.astype(np.float32)])
    return name


# --------------------------------------------------------------------------- conversion / checks

def convert(model: keras.Model, repr_x: np.ndarray) -> bytes:
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):   # Keras export prints a long signature dump
        return _convert(model, repr_x)


def _convert(model: keras.Model, repr_x: np.ndarray) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def rep():
        for i in range(repr_x.shape[0]):
            yield [repr_x[i:i + 1]]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def quantize_input(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    """Round half away from zero, then clip to int8."""
    v = x / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
    return np.clip(q, -128, 127).astype(np.int8)


def ref_interpreter(path: str):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    return it


def run_ref(path: str, x_float: np.ndarray) -> list[list[np.ndarray]]:
    """Run each image (float, preprocessed) through the int8 model; int8 outputs per image."""
    it = ref_interpreter(path)
    ind = it.get_input_details()[0]
    scale, zp = ind["quantization"]
    res = []
    for i in range(x_float.shape[0]):
        it.set_tensor(ind["index"], quantize_input(x_float[i:i + 1], scale, zp))
        it.invoke()
        res.append([it.get_tensor(o["index"]).copy() for o in it.get_output_details()])
    return res


def check_model(path: str, model: keras.Model, h: int, w: int) -> dict:
    it = ref_interpreter(path)
    outd = it.get_output_details()
    x = test_images(h, w)
    q = run_ref(path, x)
    kout = model.predict(x, verbose=0)
    if not isinstance(kout, (list, tuple)):
        kout = [kout]
    kout = [np.asarray(k) for k in kout]
    info = {"outputs": []}
    used = set()
    for j, od in enumerate(outd):
        a, b = q[0][j].astype(np.int32), q[1][j].astype(np.int32)
        s, z = od["quantization"]
        # match the Keras output by shape (output order may differ)
        cand = [k for k in range(len(kout)) if k not in used and tuple(kout[k].shape[1:]) == tuple(od["shape"][1:])]
        k = cand[0]
        used.add(k)
        deq = np.stack([(q[i][j].astype(np.float64) - z) * s for i in range(2)])
        ref = kout[k].astype(np.float64)
        rel = float(np.abs(deq - ref).max() / (np.abs(ref).max() + 1e-12))
        corr = float(np.corrcoef(deq.ravel(), ref.ravel())[0, 1])
        o = {
            "name": od["name"], "shape": [int(v) for v in od["shape"]],
            "scale": float(s), "zero_point": int(z),
            "frac_differing": float(np.mean(a != b)),
            "mean_abs_diff_lsb": float(np.mean(np.abs(a - b))),
            "int8_range": [int(min(a.min(), b.min())), int(max(a.max(), b.max()))],
            "frac_saturated": float(np.mean((np.abs(np.concatenate([a.ravel(), b.ravel()])) >= 127)
                                            | (np.concatenate([a.ravel(), b.ravel()]) == -128))),
            "vs_float_max_rel_err": rel, "vs_float_corr": corr,
        }
        if len(od["shape"]) == 2:
            o["argmax"] = [int(np.argmax(q[0][j])), int(np.argmax(q[1][j]))]
        info["outputs"].append(o)
    return info


# --------------------------------------------------------------------------- models

def mobilenet(alpha, h, w, include_top, classes=10, seed=0, input_tensor=None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    if input_tensor is None:
        # explicit name: otherwise the .tflite input name (keras_tensor_<n>) depends on
        # how many Keras tensors were made before, and the bytes on --only
        input_tensor = keras.Input((h, w, 3), name="input")
    return keras.applications.MobileNet(weights=None, alpha=alpha, input_shape=(h, w, 3),
                                        include_top=include_top, classes=classes,
                                        classifier_activation=None, input_tensor=input_tensor)


def m_a025_96(seed):
    return mobilenet(0.25, 96, 96, True, 10, seed), (96, 96), ["conv_dw_2", "conv_pw_3", "conv_pw_9"]


def m_a050_128x96(seed):
    return mobilenet(0.5, 128, 96, True, 10, seed), (128, 96), []


def m_a100_b6_75(seed):
    base = mobilenet(1.0, 75, 75, False, seed=seed)
    m = keras.Model(base.input, base.get_layer("conv_pw_6_relu").output, name="mnv1_a100_b6")
    return m, (75, 75), ["conv_dw_1", "conv_pw_4"]


def m_a025_ssd(seed):
    base = mobilenet(0.25, 160, 160, False, seed=seed)
    m = keras.Model(base.input, [base.get_layer("conv_pw_11_relu").output,
                                 base.get_layer("conv_pw_13_relu").output], name="mnv1_a025_ssd")
    return m, (160, 160), ["conv_pw_5", "conv_dw_11", "conv_pw_12"]


def m_a025_odd(seed):
    """Converted with a fixed batch of 1 (keras.Input(batch_size=1)): the classifier's
    Reshape then becomes one plain RESHAPE instead of SHAPE/STRIDED_SLICE/PACK/RESHAPE."""
    inp = keras.Input((47, 33, 3), batch_size=1, name="input")
    m = mobilenet(0.25, 47, 33, True, 5, seed, input_tensor=inp)
    return m, (47, 33), ["conv_pw_1", "conv_dw_7"]


def m_a025_64_fc(seed):
    base = mobilenet(0.25, 64, 64, False, seed=seed)
    x = layers.GlobalAveragePooling2D(name="gap")(base.output)
    x = layers.Dense(10, name="fc")(x)
    return keras.Model(base.input, x, name="mnv1_a025_64_fc"), (64, 64), []


def _cbr(x, filters, k, s, name, dw=False):
    if dw:
        x = layers.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=name)(x)
    else:
        x = layers.Conv2D(filters, k, strides=s, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=name + "_bn")(x)
    return layers.ReLU(6.0, name=name + "_relu")(x)


def _top(x, classes):
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
    return layers.Reshape((classes,), name="reshape")(x)


def m_refuse_residual(seed):
    """conv -> dw -> pw -> ADD(residual) -> dw s2 -> pw -> GAP -> 1x1 conv classifier."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((32, 32, 3), name="input")
    x = _cbr(inp, 16, 3, 2, "conv1")
    y = _cbr(x, 0, 3, 1, "conv_dw_1", dw=True)
    y = _cbr(y, 16, 1, 1, "conv_pw_1")
    x = layers.Add(name="residual_add")([x, y])
    x = _cbr(x, 0, 3, 2, "conv_dw_2", dw=True)
    x = _cbr(x, 32, 1, 1, "conv_pw_2")
    return keras.Model(inp, _top(x, 10), name="refuse_residual"), (32, 32), []


def m_refuse_maxpool(seed):
    """conv -> MAX_POOL_2D 2x2 -> dw -> pw -> GAP -> 1x1 conv classifier."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((32, 32, 3), name="input")
    x = _cbr(inp, 16, 3, 2, "conv1")
    x = layers.MaxPooling2D(2, name="maxpool")(x)
    x = _cbr(x, 0, 3, 1, "conv_dw_1", dw=True)
    x = _cbr(x, 32, 1, 1, "conv_pw_1")
    return keras.Model(inp, _top(x, 10), name="refuse_maxpool"), (32, 32), []


def m_a100_224(seed):
    """Full-size benchmark model (--benchmark only; not in MODELS / tests/models)."""
    return (mobilenet(1.0, 224, 224, True, 1000, seed), (224, 224),
            ["conv_dw_2", "conv_pw_5", "conv_pw_11"])


MODELS = {
    "mnv1_a025_96": m_a025_96,
    "mnv1_a050_128x96": m_a050_128x96,
    "mnv1_a100_b6_75": m_a100_b6_75,
    "mnv1_a025_ssd_2out": m_a025_ssd,
    "mnv1_a025_odd_47x33": m_a025_odd,
    "mnv1_a025_64_fc": m_a025_64_fc,
    "refuse_residual": m_refuse_residual,
    "refuse_maxpool": m_refuse_maxpool,
}


BENCHMARK_NAME = "mnv1_a100_224"
BENCHMARK_SEED = SEED + 1000 * 100     # fixed, independent of the MODELS order


def build_one(name: str, idx: int, out_dir: str, factory=None, seed: int | None = None,
              timings: dict | None = None) -> dict:
    import time
    t0 = time.time()
    if seed is None:
        seed = SEED + 1000 * idx
    model, (h, w), dead_layers = (factory or MODELS[name])(seed)
    rng = np.random.default_rng(seed)
    x_bn = calibration_images(h, w, N_BN_CALIB, rng)
    dead = make_dead_channels(model, dead_layers, 3, rng) if dead_layers else {}
    nbn = calibrate_bn(model, x_bn, rng)
    clf = calibrate_classifier(model, x_bn)
    x_rep = calibration_images(h, w, N_REPR, rng)
    t1 = time.time()
    data = convert(model, x_rep)
    t2 = time.time()
    path = os.path.join(out_dir, name + ".tflite")
    with open(path, "wb") as f:
        f.write(data)
    chk = check_model(path, model, h, w)
    if timings is not None:     # not part of the record (manifest.json stays unchanged)
        timings.update(build_and_calibrate_s=t1 - t0, convert_s=t2 - t1, check_s=time.time() - t2)
    rec = {
        "file": os.path.basename(path), "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "seed": seed,
        "input_hw": [h, w], "bn_layers_calibrated": nbn, "dead_channels": dead,
        "classifier_calibrated": clf,
        "keras_params": int(model.count_params()),
        "ops_compact": tflite_summary.compact(path), "check": chk,
    }
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the int8 .tflite test models.")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", default=None, help="subset of: " + ", ".join(MODELS))
    ap.add_argument("--verbose", action="store_true", help="print the full per-op listing")
    ap.add_argument("--benchmark", metavar="DIR", default=None,
                    help=f"write only the full-size {BENCHMARK_NAME}.tflite (MobileNet-v1 1.0, 224x224, "
                         "1000 classes) into DIR and print its entry; tests/models is not touched")
    a = ap.parse_args(argv)
    if a.benchmark is not None:
        return _main_benchmark(a.benchmark, a.verbose)
    os.makedirs(a.out, exist_ok=True)
    from ai_edge_litert import __version__ as litert_version
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, ai-edge-litert {litert_version}, "
          f"numpy {np.__version__}")
    manifest = {}
    for idx, name in enumerate(MODELS):
        if a.only and name not in a.only:
            continue
        rec = build_one(name, idx, a.out)
        manifest[name] = rec
        print(f"\nwrote {os.path.join(a.out, rec['file'])}  ({rec['bytes']} bytes, sha256 {rec['sha256'][:16]})")
        print(tflite_summary.describe(os.path.join(a.out, rec["file"]), verbose=a.verbose))
        if rec["dead_channels"]:
            print(f"  dead channels (kernel x1e-5): {rec['dead_channels']}")
        for o in rec["check"]["outputs"]:
            print(f"  check {o['name']} {o['shape']}: chelsea vs rocket differ in {o['frac_differing']:.1%} "
                  f"of elements (mean |diff| {o['mean_abs_diff_lsb']:.1f} LSB), int8 range {o['int8_range']}, "
                  f"vs float: corr {o['vs_float_corr']:.4f}, max rel err {o['vs_float_max_rel_err']:.3f}"
                  + (f", argmax {o['argmax']}" if "argmax" in o else ""))
    man_path = os.path.join(a.out, "manifest.json")
    if a.only is None:
        meta = {"tensorflow": tf.__version__, "keras": keras.__version__,
                "ai_edge_litert": litert_version, "models": manifest}
        with open(man_path, "w") as f:
            json.dump(meta, f, indent=1)
        print(f"\nwrote {man_path}")
    return 0


def _main_benchmark(out_dir: str, verbose: bool) -> int:
    import time
    os.makedirs(out_dir, exist_ok=True)
    from ai_edge_litert import __version__ as litert_version
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, ai-edge-litert {litert_version}, "
          f"numpy {np.__version__}")
    t0 = time.time()
    tm: dict = {}
    rec = build_one(BENCHMARK_NAME, -1, out_dir, factory=m_a100_224, seed=BENCHMARK_SEED, timings=tm)
    dt = time.time() - t0
    path = os.path.join(out_dir, rec["file"])
    print(f"\nwrote {path}  ({rec['bytes']} bytes, sha256 {rec['sha256'][:16]})")
    print(f"  time: build + BN/classifier calibration {tm['build_and_calibrate_s']:.1f} s, "
          f"TFLite int8 conversion {tm['convert_s']:.1f} s, LiteRT BUILTIN_REF check {tm['check_s']:.1f} s, "
          f"total {dt:.1f} s")
    print(tflite_summary.describe(path, verbose=verbose))
    print(f"  dead channels (kernel x1e-5): {rec['dead_channels']}")
    for o in rec["check"]["outputs"]:
        print(f"  check {o['name']} {o['shape']}: chelsea vs rocket differ in {o['frac_differing']:.1%} "
              f"of elements (mean |diff| {o['mean_abs_diff_lsb']:.1f} LSB), int8 range {o['int8_range']}, "
              f"vs float: corr {o['vs_float_corr']:.4f}, max rel err {o['vs_float_max_rel_err']:.3f}"
              + (f", argmax {o['argmax']}" if "argmax" in o else ""))
    print("\nentry (not written to any manifest):")
    print(json.dumps({BENCHMARK_NAME: rec}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
