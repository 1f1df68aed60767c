"""Train a small MobileNet-v1 on scikit-learn's digits and write it as an int8 .tflite.

Run from the repository root with a Python that has TensorFlow (Keras 3),
ai-edge-litert, scikit-learn and pillow installed::

    /path/to/venv-with-tensorflow/bin/python tools/train_digits.py [--out tests/models] [--epochs 40]

Model: keras.applications.MobileNet(weights=None, alpha=0.25, input_shape=(32, 32, 3),
classes=10, dropout=0, classifier_activation=None) - logits out.

Data: sklearn.datasets.load_digits (1797 images, 8x8 grey, 0..16), upsampled to
32x32 (PIL bilinear), replicated to 3 channels, scaled to [-1, 1] (v / 8 - 1).
Split: train_test_split(test_size=0.2, random_state=0) -> 1437 train / 360 held out.
Training: Adam (cosine-decayed learning rate), random +-3 pixel shifts, fixed seed.

Writes into tests/models/:
  digits_a025_32.tflite    full-integer int8 (Optimize.DEFAULT, representative
                           dataset = the training images, TFLITE_BUILTINS_INT8,
                           int8 input and output)
  digits_heldout.npz       x: (360, 32, 32, 3) int8 - the held-out images quantised
                           with the model input's scale / zero point (round half away
                           from zero, then clip to [-128, 127]); y: (360,) labels;
                           input_scale, input_zero_point: the quantisation used
  digits_accuracy.json     float and int8 (LiteRT BUILTIN_REF kernels, argmax of the
                           int8 logits, ties to the lower index) held-out accuracy
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tflite_summary  # noqa: E402
from make_test_models import convert, quantize_input, ref_interpreter  # noqa: E402

SEED = 7
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "tests", "models")


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    imgs = d.images.astype(np.float32)                       # (1797, 8, 8), 0..16
    up = np.stack([np.asarray(Image.fromarray(im, mode="F").resize((32, 32), Image.BILINEAR))
                   for im in imgs])
    x = np.repeat((up / 8.0 - 1.0)[..., None], 3, axis=3).astype(np.float32)
    x = np.clip(x, -1.0, 1.0)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=0)


def shift_batch(x: np.ndarray, rng: np.random.Generator, max_shift: int = 3) -> np.ndarray:
    """Random integer translation, background (-1) fill."""
    n, h, w, c = x.shape
    p = max_shift
    padded = np.full((n, h + 2 * p, w + 2 * p, c), -1.0, np.float32)
    padded[:, p:p + h, p:p + w] = x
    dy = rng.integers(0, 2 * p + 1, n)
    dx = rng.integers(0, 2 * p + 1, n)
    return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Train the digits MobileNet and write it as int8 .tflite.")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=40)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    from ai_edge_litert import __version__ as litert_version
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, ai-edge-litert {litert_version}")

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(SEED)
    x_tr, x_te, y_tr, y_te = load_data()
    print(f"train {x_tr.shape}, held out {x_te.shape}")

    model = keras.applications.MobileNet(weights=None, alpha=0.25, input_shape=(32, 32, 3),
                                         include_top=True, classes=10, dropout=0.0,
                                         classifier_activation=None)
    batch = 32
    steps = a.epochs * int(np.ceil(len(x_tr) / batch))
    lr = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    t0 = time.time()
    for ep in range(a.epochs):
        h = model.fit(shift_batch(x_tr, rng), y_tr, batch_size=batch, epochs=ep + 1,
                      initial_epoch=ep, shuffle=True, verbose=0)
        if ep % 5 == 4 or ep == a.epochs - 1:
            acc = float(np.mean(np.argmax(model.predict(x_te, verbose=0), 1) == y_te))
            print(f"epoch {ep + 1:3d}: loss {h.history['loss'][-1]:.4f} "
                  f"train acc {h.history['accuracy'][-1]:.4f} held-out acc {acc:.4f} "
                  f"({time.time() - t0:.0f} s)")
    float_logits = model.predict(x_te, verbose=0)
    float_pred = np.argmax(float_logits, axis=1)
    float_acc = float(np.mean(float_pred == y_te))

    data = convert(model, x_tr)
    path = os.path.join(a.out, "digits_a025_32.tflite")
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path} ({len(data)} bytes)")
    print(tflite_summary.describe(path, verbose=False))

    it = ref_interpreter(path)
    ind, outd = it.get_input_details()[0], it.get_output_details()[0]
    in_scale, in_zp = ind["quantization"]
    xq = quantize_input(x_te, in_scale, in_zp)
    logits_q = np.zeros((len(xq), 10), np.int8)
    for i in range(len(xq)):
        it.set_tensor(ind["index"], xq[i:i + 1])
        it.invoke()
        logits_q[i] = it.get_tensor(outd["index"])[0]
    q_pred = np.argmax(logits_q, axis=1)          # ties -> lowest index
    q_acc = float(np.mean(q_pred == y_te))
    ties = int(np.sum(np.sum(logits_q == logits_q.max(axis=1, keepdims=True), axis=1) > 1))

    npz = os.path.join(a.out, "digits_heldout.npz")
    np.savez_compressed(npz, x=xq, y=y_te.astype(np.int64),
                        input_scale=np.float32(in_scale), input_zero_point=np.int32(in_zp))
    print(f"wrote {npz}: x {xq.shape} {xq.dtype}, y {y_te.shape}")

    # input dependence: two held-out images of different classes
    j = int(np.nonzero(y_te != y_te[0])[0][0])
    frac = float(np.mean(logits_q[0] != logits_q[j]))

    res = {
        "float_accuracy": float_acc,
        "tflite_int8_accuracy": q_acc,
        "n_heldout": int(len(y_te)),
        "n_heldout_correct_float": int(np.sum(float_pred == y_te)),
        "n_heldout_correct_int8": int(np.sum(q_pred == y_te)),
        "float_int8_prediction_agreement": float(np.mean(float_pred == q_pred)),
        "int8_argmax_ties": ties,
        "n_train": int(len(y_tr)),
        "split": "sklearn train_test_split(load_digits, test_size=0.2, random_state=0)",
        "input_preprocessing": "8x8 -> 32x32 PIL bilinear, v/8 - 1 clipped to [-1, 1], grey replicated to 3 channels",
        "input_scale": float(in_scale), "input_zero_point": int(in_zp),
        "output_scale": float(outd["quantization"][0]), "output_zero_point": int(outd["quantization"][1]),
        "int8_interpreter": "ai_edge_litert Interpreter, OpResolverType.BUILTIN_REF",
        "argmax": "argmax of the int8 logits, ties to the lower index",
        "epochs": a.epochs, "batch_size": batch, "optimizer": "Adam, CosineDecay(2e-3, alpha=0.02)",
        "augmentation": "random integer shifts of up to +-3 pixels (fill -1)",
        "seed": SEED,
        "tensorflow": tf.__version__, "keras": keras.__version__, "ai_edge_litert": litert_version,
        "tflite_bytes": len(data), "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "train_seconds": round(time.time() - t0, 1),
    }
    jpath = os.path.join(a.out, "digits_accuracy.json")
    with open(jpath, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {jpath}")
    print(f"held-out accuracy: float {float_acc:.4f}, int8 (BUILTIN_REF) {q_acc:.4f} on {len(y_te)} images; "
          f"float/int8 agreement {res['float_int8_prediction_agreement']:.4f}, int8 ties {ties}")
    print(f"input dependence: held-out images 0 (label {y_te[0]}) and {j} (label {y_te[j]}) "
          f"differ in {frac:.0%} of the int8 logits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
