"""Classify image files with a trained model: `load_image` and `predict`.

Preprocessing (`load_image`), the same as the model saw in training, nothing more:

1. read the file with Pillow and convert it to grayscale ('L') for a 1-channel model
   (MNIST, Fashion-MNIST) or to RGB for a 3-channel one (CIFAR-10);
2. resize it to the model's input size (28×28 or 32×32) with bilinear filtering,
   ignoring the aspect ratio (crop your image square first if it matters);
3. scale to [0, 1] and normalise with the training set's mean and std.

No inversion is assumed: MNIST digits are white strokes on a black background, so a
dark digit on white paper must be inverted (``invert=True``, ``cnnlab predict --invert``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.data import transforms as T
from cnnlab.nn.functional import softmax

__all__ = ["MissingExtraError", "load_image", "predict"]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def load_image(path, in_channels: int, size: int, mean, std, invert: bool = False) -> np.ndarray:
    """One image file -> float32 (C, size, size), preprocessed as the module docstring says.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: Pillow can't read the file as an image.
        MissingExtraError: Pillow is not installed.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingExtraError("predict: reading images needs Pillow: pip install 'cnnlab[train]'") from None
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if in_channels == 1 else "RGB")
            img = img.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.uint8)  # (size, size) or (size, size, 3)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"can't read {path} as an image: {e}") from None
    if invert:
        pixels = 255 - pixels
    return T.Normalize(mean, std).apply_batch(T.ToTensor().apply_batch(pixels[None]))[0]  # (C, size, size)


def predict(model, images, top_k: int = 3) -> list[list[tuple[int, float]]]:
    """The ``top_k`` most probable classes of each image, as (class index, probability), most probable first.

    Args:
        model: a classifier (put in eval mode here).
        images: float32 (N, C, H, W), preprocessed like the training images (see `load_image`).
        top_k: how many classes per image; at most the number of classes. Default: 3.
    """
    model.eval()
    with no_grad():
        probs = softmax(model(Tensor(np.asarray(images))), dim=1).data  # (N, classes)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= probs.shape[1]:
        raise ValueError(f"predict: top_k must be an int in [1, {probs.shape[1]}] (the number of classes), "
                         f"got {top_k!r}")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]  # (N, k)
    return [[(int(j), float(p[j])) for j in row] for p, row in zip(probs, order)]
