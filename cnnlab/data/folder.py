"""`ImageFolder`, as ``torchvision.datasets.ImageFolder``: one subfolder per class, images read with Pillow.

    root/cat/001.png
    root/cat/nested/002.jpg
    root/dog/003.png

Classes are the sorted subfolder names; the samples are every file with an
image extension under each class folder (walked recursively, sorted), as
``(path, class_index)``. Images are decoded with Pillow (the ``[viz]`` extra),
imported only when an image is read, and converted to RGB uint8 (H, W, 3)
arrays, ready for `cnnlab.data.transforms`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.dataset import Dataset

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "find_classes", "make_dataset", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _pillow(op: str):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{op}: reading images needs Pillow, which is not installed; "
                          "install it with `pip install pillow` (or `pip install cnnlab[viz]`)") from None
    return Image


def pil_loader(path) -> np.ndarray:
    """Decode an image file with Pillow into an RGB uint8 (H, W, 3) array.

    Raises:
        ValueError: naming the file, when it is truncated or not an image Pillow can read.
    """
    Image = _pillow("ImageFolder")
    try:
        with open(path, "rb") as f, Image.open(f) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"ImageFolder: {path}: cannot read the image ({e})") from None


def find_classes(directory) -> tuple[list[str], dict[str, int]]:
    """The sorted class folder names of ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"ImageFolder: couldn't find any class folder in {directory}")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx: dict, extensions=IMG_EXTENSIONS, is_valid_file=None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """Every ``(path, class_index)`` under the class folders, in sorted order (torchvision's walk)."""
    if is_valid_file is None:
        def is_valid_file(path: str) -> bool:
            return path.lower().endswith(tuple(extensions))
    samples, empty = [], []
    for name in sorted(class_to_idx):
        count = len(samples)
        for folder, _, files in sorted(os.walk(os.path.join(directory, name), followlinks=True)):
            for fname in sorted(files):
                path = os.path.join(folder, fname)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
        if len(samples) == count:
            empty.append(name)
    if empty and not allow_empty:
        raise FileNotFoundError(f"ImageFolder: found no valid file for the classes {', '.join(empty)} in "
                                f"{directory}; supported extensions are: {', '.join(extensions)}")
    return samples


class ImageFolder(Dataset):
    """Images sorted into one folder per class, as ``torchvision.datasets.ImageFolder``.

    Args:
        root: the folder holding one subfolder per class.
        transform: applied to each RGB uint8 (H, W, 3) image.
        target_transform: applied to each int label.
        loader: path -> image; default `pil_loader` (needs Pillow).
        is_valid_file: path -> bool, instead of the extension test.
        allow_empty: allow class folders without images. Default: False.

    Attributes:
        classes, class_to_idx, samples (list of (path, class_index)), targets, imgs (= samples).
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None, is_valid_file=None,
                 allow_empty: bool = False):
        self.root = Path(os.fspath(root))
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: no such folder: {self.root}")
        if loader is None:
            _pillow("ImageFolder")  # fail now, not at the first image
            loader = pil_loader
        self.loader, self.transform, self.target_transform = loader, transform, target_transform
        self.classes, self.class_to_idx = find_classes(self.root)
        self.extensions = IMG_EXTENSIONS if is_valid_file is None else None
        self.samples = make_dataset(self.root, self.class_to_idx, IMG_EXTENSIONS, is_valid_file, allow_empty)
        self.imgs = self.samples
        self.targets = [target for _, target in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        img = self.loader(path)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
