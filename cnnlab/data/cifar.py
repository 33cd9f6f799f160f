"""CIFAR-10 from its official binary version (no pickle anywhere), as ``torchvision.datasets.CIFAR10``.

The binary version (``cifar-10-binary.tar.gz``, its folder
``cifar-10-batches-bin``) holds ``data_batch_1.bin`` .. ``data_batch_5.bin``
(10,000 images each) and ``test_batch.bin``. Each is a run of 3073-byte
records: one label byte (0..9), then 3072 pixel bytes, the 32 x 32 red plane,
then green, then blue, each row by row. torchvision reads the Python (pickle)
version instead; the images and labels are the same.

The archive's MD5 is the one its authors publish on the CIFAR page
(torchvision lists only the pickle version's).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.dataset import ImageArrayDataset
from cnnlab.data.download import download_file, extract_members

__all__ = ["CIFAR10"]

RECORD = 1 + 3 * 32 * 32  # label byte + R, G, B planes


def read_cifar_bin(path, num_classes: int = 10):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of one CIFAR-10 binary batch file.

    Raises:
        ValueError: naming the file, when it is empty, its size is not a multiple of
            3073 (a truncated or foreign file), or a label is not below ``num_classes``.
    """
    path = Path(os.fspath(path))
    size = path.stat().st_size
    if size == 0 or size % RECORD:
        raise ValueError(f"CIFAR10: {path}: file size {size} is not a positive multiple of {RECORD} "
                         "(1 label byte + 3072 pixel bytes per image); the file is truncated or not a CIFAR-10 batch")
    records = np.fromfile(path, np.uint8).reshape(-1, RECORD)  # (N, 3073)
    if len(records) * RECORD != size:
        raise ValueError(f"CIFAR10: {path}: read {len(records) * RECORD} bytes, the file has {size}")
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise ValueError(f"CIFAR10: {path}: record {bad[0]} has label {labels[bad[0]]}, but CIFAR-10 labels are "
                         f"0..{num_classes - 1} (is this a CIFAR-100 file?)")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 32, 32, 3) HWC
    return images, labels


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 60,000 colour images of 32 x 32 in ten classes; samples are (uint8 (32, 32, 3) image, int label).

    Args:
        root: folder holding ``cifar-10-batches-bin/`` (or ``cifar-10-binary.tar.gz``, which is
            then extracted there).
        train: the 50,000 training images (batches 1-5), or the 10,000 test images. Default: True.
        transform: applied to each uint8 HWC image, e.g. ``Compose([RandomCrop(32, padding=4),
            RandomHorizontalFlip(), ToTensor(), Normalize(...)])``.
        target_transform: applied to each int label.
        download: fetch the archive from ``mirrors`` into ``root`` when the files are missing.

    Attributes:
        data: uint8 (N, 32, 32, 3); targets: int64 (N,); classes, class_to_idx.
    """

    base_folder = "cifar-10-batches-bin"
    filename = "cifar-10-binary.tar.gz"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    max_download_bytes = 200 << 20
    download_timeout = 60.0

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        if root is None:
            raise ValueError("CIFAR10: root is required (CIFAR-10 is not bundled with cnnlab)")
        self.root, self.train = Path(os.fspath(root)), bool(train)
        folder = self.root / self.base_folder
        files = [folder / f for f in (self.train_list if self.train else self.test_list)]
        missing = [f for f in files if not f.is_file()]
        if missing:
            archive = self.root / self.filename
            if not archive.is_file():
                if not download:
                    raise FileNotFoundError(f"CIFAR10: no such file: {missing[0]} (nor the archive {archive}); "
                                            "pass download=True to download it")
                download_file(self.filename, self.mirrors, self.root, md5=self.tgz_md5,
                              max_bytes=self.max_download_bytes, timeout=self.download_timeout)
            names = [f"{self.base_folder}/{f.name}" for f in missing]
            extract_members(archive, self.root, names)
        parts = [read_cifar_bin(f, len(self.classes)) for f in files]
        images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
        labels = np.concatenate([p[1] for p in parts])
        super().__init__(images, labels, transform, target_transform)

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\nSplit: {'Train' if self.train else 'Test'}"
