"""MNIST as arrays: the four standard IDX files, bundled with cnnlab.

The bundled copy (``cnnlab/datasets/mnist``) is the MNIST database of Yann LeCun,
Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.idx import read_idx

BUNDLED_ROOT = Path(__file__).resolve().parent.parent / "datasets" / "mnist"
FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"mnist: neither {stem}.gz nor {stem} is in {root}")


def load_mnist_arrays(root=None, train: bool = True):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the train or test split.

    Args:
        root: folder with the IDX files (gzipped or raw); default: the bundled copy.
        train: the 60,000-image training split, or the 10,000-image test split.
    """
    root = Path(os.fspath(root)) if root is not None else BUNDLED_ROOT
    image_file, label_file = (_find(root, stem) for stem in FILES[bool(train)])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"mnist: {image_file} holds {images.shape} and {label_file} holds {labels.shape}; "
                         "expected (N, rows, cols) images and N labels")
    return images, labels.astype(np.int64)
