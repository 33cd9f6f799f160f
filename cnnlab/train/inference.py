"""Classify image files with a trained model: `load_image` and `predict`.

Preprocessing (`load_image`), the same as the model saw in training, nothing more:

1. read the file with Pillow and convert it to grayscale ('L') for a 1-channel model
   (MNIST, Fashion-MNIST) or to RGB for a 3-channel one (CIFAR-10);
2. resize it to the model's input size (28×28 or 32×32) with bilinear filtering,
   ignoring the aspect ratio (crop your image square first if it matters);
3. scale to [0, 1] and normalise with the training set's mean and std.

MNIST's digits are white strokes on a black background, so a dark digit on white
paper must be inverted (``invert=True``). `light_border` tells such an image: ``cnnlab
predict`` inverts it by default for a model trained on light-on-dark images, and says
so (``--invert`` always inverts, ``--no-invert`` never).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.data import transforms as T
from cnnlab.messages import MissingExtraError
from cnnlab.nn.functional import softmax

__all__ = ["MissingExtraError", "light_border", "load_image", "predict", "preprocess", "read_image"]


def read_image(path, in_channels: int, size: int | None) -> np.ndarray:
    """Steps 1 and 2 above: one image file -> uint8 (size, size) for 1 channel, (size, size, 3) for 3;
    with size None, the image at its own size (H, W) or (H, W, 3) (what a segmentation model takes).

    Raises:
        FileNotFoundError: there is no such file.
        IsADirectoryError: ``path`` is a directory.
        ValueError: Pillow can't read the file as an image.
        MissingExtraError: Pillow is not installed.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingExtraError("predict: reading images needs Pillow: pip install 'cnnlab[train]'") from None
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file (give the image files themselves, "
                                f"e.g. {path}/*.png)")
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if in_channels == 1 else "RGB")
            if size is not None:
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)  # (size, size) or (size, size, 3)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"can't read {path} as an image: {e}") from None


def light_border(pixels: np.ndarray) -> bool:
    """Whether the outermost rows and columns of a uint8 image are mostly light (mean above mid-gray).

    A digit written dark on white paper has a light border; MNIST's digits (light on black) have a black one.
    """
    edge = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])  # (border pixels, *C)
    return bool(edge.mean() > 127.5)


def preprocess(pixels: np.ndarray, mean, std, invert: bool = False) -> np.ndarray:
    """Step 3 above (after inverting, if asked): uint8 (H, W) or (H, W, 3) -> normalised float32 (C, H, W)."""
    if invert:
        pixels = 255 - pixels
    return T.Normalize(mean, std).apply_batch(T.ToTensor().apply_batch(pixels[None]))[0]  # (C, H, W)


def load_image(path, in_channels: int, size: int, mean, std, invert: bool = False) -> np.ndarray:
    """One image file -> float32 (C, size, size), preprocessed as the module docstring says.

    Raises: as `read_image`.
    """
    return preprocess(read_image(path, in_channels, size), mean, std, invert)


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
