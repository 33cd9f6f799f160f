"""MNIST and Fashion-MNIST, as ``torchvision.datasets``: the four standard IDX files, gzipped or raw.

Where the files are looked for, for ``root`` given: ``root/<Name>/raw/``
(torchvision's layout, where downloads go), then ``root/`` itself; each file as
``<stem>.gz`` or ``<stem>``. ``MNIST(root=None)`` reads the copy bundled with
cnnlab (``cnnlab/datasets/mnist``, CC BY-SA 3.0).

Checksums: downloads are checked against the MD5s that torchvision publishes
for the ``.gz`` files. Files already on disk are not hashed; their IDX headers
and sizes are checked by `read_idx` instead. The bundled copy was re-gzipped,
so its ``.gz`` MD5s differ from the published ones: it is checked by its
decompressed shapes (60,000 and 10,000 images of 28 x 28), not by checksum.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.dataset import ImageArrayDataset
from cnnlab.data.download import download_file
from cnnlab.data.idx import read_idx
from cnnlab.data.mnist import BUNDLED_ROOT

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(ImageArrayDataset):
    """The MNIST digits, as ``torchvision.datasets.MNIST``; samples are (uint8 (28, 28) image, int label).

    Args:
        root: folder with the IDX files (see the module docstring); None: the bundled copy.
        train: the 60,000 training images, or the 10,000 test images. Default: True.
        transform: applied to each uint8 (28, 28) image, e.g. ``Compose([ToTensor(), Normalize(...)])``.
        target_transform: applied to each int label.
        download: fetch missing files from ``mirrors`` into ``root/<Name>/raw``. Default: False.

    Attributes:
        data: uint8 (N, 28, 28); targets: int64 (N,); classes, class_to_idx.
        mirrors, resources (file name, MD5), max_download_bytes, download_timeout: class
        attributes, so that a test can point them at a local server.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    bundled = BUNDLED_ROOT
    bundled_sizes = {True: 60000, False: 10000}
    max_download_bytes = 64 << 20
    download_timeout = 60.0

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        name = type(self).__name__
        if root is None and self.bundled is None:
            raise ValueError(f"{name}: root is required (only MNIST is bundled with cnnlab)")
        self.root = None if root is None else Path(os.fspath(root))
        self.train = bool(train)
        split = "train" if self.train else "t10k"
        image_file = self._locate(f"{split}-images-idx3-ubyte", download)
        label_file = self._locate(f"{split}-labels-idx1-ubyte", download)
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{name}: {image_file} holds {images.shape} and {label_file} holds {labels.shape}; "
                             "expected (N, rows, cols) images and N labels")
        if images.dtype != np.uint8:
            raise ValueError(f"{name}: {image_file}: images must be unsigned bytes (IDX type 0x08), "
                             f"got {images.dtype}")
        bad = np.flatnonzero((labels < 0) | (labels >= len(self.classes)))
        if bad.size:
            raise ValueError(f"{name}: {label_file}: label {labels[bad[0]]} at index {bad[0]} is not a class "
                             f"(0..{len(self.classes) - 1})")
        if self.root is None:
            expected = (self.bundled_sizes[self.train], 28, 28)
            if images.shape != expected:
                raise ValueError(f"{name}: the bundled {image_file} holds {images.shape}, expected {expected}; "
                                 "the package data is damaged, reinstall cnnlab")
        super().__init__(images, labels.astype(np.int64), transform, target_transform)

    @property
    def raw_folder(self) -> Path:
        """Where downloads go: ``root/<Name>/raw`` (the bundled folder when root is None)."""
        return self.bundled if self.root is None else self.root / type(self).__name__ / "raw"

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def _locate(self, stem: str, download: bool) -> Path:
        folders = [self.raw_folder] if self.root is None else [self.raw_folder, self.root]
        for folder in folders:
            for filename in (stem + ".gz", stem):
                if (folder / filename).is_file():
                    return folder / filename
        if self.root is None:
            raise FileNotFoundError(f"{type(self).__name__}: the bundled file {self.raw_folder / (stem + '.gz')} "
                                    "is missing; reinstall cnnlab, or pass root= to read (or download) another copy")
        if not download:
            raise FileNotFoundError(f"{type(self).__name__}: no such file: {self.raw_folder / (stem + '.gz')} "
                                    f"(nor {stem} there, nor either in {self.root}); pass download=True to download it")
        md5 = dict(self.resources)[stem + ".gz"]
        return download_file(stem + ".gz", self.mirrors, self.raw_folder, md5=md5,
                             max_bytes=self.max_download_bytes, timeout=self.download_timeout)

    def extra_repr(self) -> str:
        root = "bundled" if self.root is None else str(self.root)
        return f"Root location: {root}\nSplit: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST, as ``torchvision.datasets.FashionMNIST``: MNIST's format, ten kinds of clothing.

    Same arguments as `MNIST`, except that ``root`` is required (it is not bundled).
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    bundled = None
