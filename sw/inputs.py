"""The network's input for ``sw.run``: a photo, an int8 array, or a deterministic test image.

A photo (PNG or JPEG) is converted to RGB, resized to the model's input height and
width (bilinear), its pixels mapped linearly from 0..255 to the float range the user
gives (``--input-range``, default -1,1 as Keras' MobileNet expects) and quantised as the
input tensor says: ``q = round(x / scale) + zero_point`` (ties away from zero, as
TFLite's quantiser), clamped to int8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_image", "load_int8_array", "parse_range", "quantize_input"]


def parse_range(text: str) -> tuple[float, float]:
    """``"-1,1"`` -> ``(-1.0, 1.0)``; raises ValueError unless two finite numbers lo < hi."""
    parts = str(text).split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"input range must be two numbers LO,HI (e.g. -1,1 or 0,1), "
                         f"not {text!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"input range must be finite with LO < HI, not {text!r}")
    return lo, hi


def quantize_input(real: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float to int8 as TFLite quantises: ``round(x / scale) + zero_point``, clamped."""
    ratio = np.asarray(real, np.float64) / scale
    codes = np.sign(ratio) * np.floor(np.abs(ratio) + 0.5) + zero_point
    return np.clip(codes, -128, 127).astype(np.int8)


def load_image(path, height: int, width: int, scale: float, zero_point: int,
               value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """An int8 ``height x width x 3`` input from a PNG or JPEG file."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((width, height), Image.BILINEAR)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not an image") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{path}: too big an image to load (more than "
                         f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable PNG or JPEG image "
                         f"({type(error).__name__})") from None
    pixels = np.asarray(rgb, np.float64)
    lo, hi = value_range
    return quantize_input(lo + (hi - lo) * pixels / 255.0, scale, zero_point)


def load_int8_array(path, shape: tuple[int, ...]) -> np.ndarray:
    """An int8 array in the model's input shape (a leading batch of 1 optional) from .npy."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a NumPy .npy array ({type(error).__name__})") from None
    if not isinstance(array, np.ndarray) or array.dtype != np.int8:
        raise ValueError(f"{path}: must hold an int8 array, not {getattr(array, 'dtype', type(array).__name__)}")
    if array.shape not in (tuple(shape), (1, *shape)):
        raise ValueError(f"{path}: shape {array.shape} is not the model's input {tuple(shape)}")
    return array.reshape(shape)
