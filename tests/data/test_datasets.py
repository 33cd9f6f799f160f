"""MNIST, FashionMNIST, CIFAR10 and ImageFolder on small files the tests write, good and broken."""
from __future__ import annotations

import gzip
import io
import sys
import tarfile

import numpy as np
import pytest
from helpers import requires

from cnnlab.data import transforms as T
from cnnlab.data.cifar import CIFAR10, read_cifar_bin
from cnnlab.data.datasets import MNIST, FashionMNIST
from cnnlab.data.folder import IMG_EXTENSIONS, ImageFolder
from cnnlab.data.loader import DataLoader


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 8, np.int16: 0x0B}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder, n=6, split="train", gz=True, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8) if labels is None else np.asarray(labels, np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in ((f"{split}-images-idx3-ubyte", images), (f"{split}-labels-idx1-ubyte", labels)):
        data = idx_bytes(array)
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return images, labels


# ---------------------------------------------------------------- MNIST / FashionMNIST
@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_mnist_reads_idx_files(tmp_path, gz, layout):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    images, labels = write_mnist(folder, split="t10k", gz=gz)
    ds = MNIST(tmp_path, train=False)
    assert len(ds) == 6 and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data, images)
    img, target = ds[4]
    assert img.shape == (28, 28) and img.dtype == np.uint8 and target == labels[4] and type(target) is int
    assert ds.class_to_idx["3 - three"] == 3 and "Split: Test" in repr(ds)


def test_mnist_transforms_and_loader_fast_path(tmp_path):
    images, labels = write_mnist(tmp_path, n=10)
    ds = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
               target_transform=None)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32 and y.numpy().tolist() == labels[:4].tolist()
    expected = (images[:4, None].astype(np.float32) / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(x.numpy(), expected)
    np.testing.assert_array_equal(ds[0][0].numpy(), expected[0])


def test_bundled_mnist_test_split():
    ds = MNIST(train=False)
    assert len(ds) == 10000 and ds.data.shape == (10000, 28, 28) and ds.targets[:5].tolist() == [7, 2, 1, 0, 4]


def test_broken_mnist_files_name_the_file(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    good = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(good[:-10]))
    with pytest.raises(ValueError, match="read_idx: .*train-images-idx3-ubyte.gz: file is truncated"):
        MNIST(tmp_path)
    path.write_bytes(gzip.compress(b"\x00\x01\x08\x03" + good[4:]))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: wrong magic number 0x00010803"):
        MNIST(tmp_path)
    write_mnist(tmp_path, labels=[1, 2, 3, 12, 4, 5])
    with pytest.raises(ValueError, match=r"MNIST: .*train-labels-idx1-ubyte.gz: label 12 at index 3 is not a class "
                                         r"\(0..9\)"):
        MNIST(tmp_path)
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8))))
    with pytest.raises(ValueError, match=r"holds \(6, 28, 28\) and .* holds \(5,\)"):
        MNIST(tmp_path)
    write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((6, 2, 2), np.int16))))
    with pytest.raises(ValueError, match="images must be unsigned bytes .* got int16"):
        MNIST(tmp_path)


def test_missing_files_say_where_and_how(tmp_path):
    expected = str(tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError, match=f"FashionMNIST: no such file: {expected} .*pass download=True"):
        FashionMNIST(tmp_path, train=False)
    with pytest.raises(ValueError, match="FashionMNIST: root is required"):
        FashionMNIST()
    write_mnist(tmp_path / "FashionMNIST" / "raw", split="t10k")
    assert FashionMNIST(tmp_path, train=False).classes[9] == "Ankle boot"


# ---------------------------------------------------------------- CIFAR-10
def cifar_records(labels, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    return np.concatenate([np.asarray(labels, np.uint8)[:, None], pixels], 1).tobytes(), pixels


def write_cifar(root, n=3):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    pixels = {}
    for k, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
        data, pixels[name] = cifar_records([(k + j) % 10 for j in range(n)], seed=k)
        (folder / name).write_bytes(data)
    return pixels


def test_cifar_binary_layout(tmp_path):
    pixels = write_cifar(tmp_path)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3 and train.data.shape == (15, 32, 32, 3)
    assert train.targets.tolist()[:6] == [0, 1, 2, 1, 2, 3] and test.targets.tolist() == [5, 6, 7]
    p = pixels["data_batch_2.bin"][1]  # the second record of the second file: train index 4
    img, label = train[4]
    assert label == 2 and img.dtype == np.uint8
    assert img[0, 0].tolist() == [p[0], p[1024], p[2048]]  # R, G, B planes
    assert img[1, 2, 1] == p[1024 + 32 + 2]  # row 1, column 2, green
    ds = CIFAR10(tmp_path, transform=T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor()]))
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=True, seed=0)))
    assert x.shape == (8, 3, 32, 32) and x.dtype == np.float32


def test_cifar_broken_files(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError, match=r"CIFAR10: .*test_batch.bin: file size 9214 is not a positive multiple of "
                                         r"3073"):
        CIFAR10(tmp_path, train=False)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="file size 0 is not a positive multiple"):
        CIFAR10(tmp_path, train=False)
    path.write_bytes(cifar_records([3, 10, 1])[0])
    with pytest.raises(ValueError, match=r"test_batch.bin: record 1 has label 10, but CIFAR-10 labels are 0..9"):
        read_cifar_bin(path)


def make_tar(path, members):
    """members: name -> bytes (or None for a directory)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_cifar_from_the_archive_and_unsafe_archives(tmp_path):
    data, _ = cifar_records([4, 2])
    good = {"cifar-10-batches-bin": None, "cifar-10-batches-bin/test_batch.bin": data,
            "cifar-10-batches-bin/readme.html": b"hi"}
    make_tar(tmp_path / "cifar-10-binary.tar.gz", good)
    ds = CIFAR10(tmp_path, train=False)
    assert ds.targets.tolist() == [4, 2] and (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").is_file()
    assert not (tmp_path / "cifar-10-batches-bin" / "readme.html").exists()  # only what is needed
    for evil in ("../evil.bin", "/tmp/evil.bin", "cifar-10-batches-bin/../../evil.bin"):
        root = tmp_path / f"evil{len(evil)}"
        root.mkdir()
        make_tar(root / "cifar-10-binary.tar.gz", {**good, evil: b"x"})
        with pytest.raises(ValueError, match=f"member '{evil}' has an absolute path or '..'; refusing"):
            CIFAR10(root, train=False)
        assert not (root / "cifar-10-batches-bin").exists()
    root = tmp_path / "partial"
    root.mkdir()
    make_tar(root / "cifar-10-binary.tar.gz", good)
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz has no member cifar-10-batches-bin/data_batch_1.bin"):
        CIFAR10(root)
    blob = (root / "cifar-10-binary.tar.gz").read_bytes()
    (root / "cifar-10-binary.tar.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz: the archive is truncated or corrupt"):
        CIFAR10(root, train=False)
    with pytest.raises(FileNotFoundError, match=r"CIFAR10: no such file: .*test_batch.bin \(nor the archive .*\); "
                                                r"pass download=True"):
        CIFAR10(tmp_path / "nothing", train=False)


# ---------------------------------------------------------------- ImageFolder
def write_png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@requires("PIL", "train")
def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (5, 4), dtype=np.uint8)
    write_png(tmp_path / "dog" / "b.png", rgb)
    write_png(tmp_path / "cat" / "nested" / "a.PNG", gray)
    write_png(tmp_path / "cat" / "z.png", rgb)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path, transform=None)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [p.split(str(tmp_path))[1] for p, _ in ds.samples] == ["/cat/z.png", "/cat/nested/a.PNG", "/dog/b.png"]  # torchvision's sorted walk
    assert ds.targets == [0, 0, 1] and ".webp" in IMG_EXTENSIONS
    img, label = ds[1]
    assert img.shape == (5, 4, 3) and img.dtype == np.uint8 and label == 0
    np.testing.assert_array_equal(img, np.repeat(gray[..., None], 3, 2))  # L -> RGB
    np.testing.assert_array_equal(ds[2][0], rgb)
    loader = DataLoader(ImageFolder(tmp_path, transform=T.ToTensor()), batch_size=3)
    x, y = next(iter(loader))
    assert x.shape == (3, 3, 5, 4) and y.numpy().tolist() == [0, 0, 1]


@requires("PIL", "train")
def test_image_folder_errors(tmp_path, monkeypatch):
    write_png(tmp_path / "a" / "x.png", np.zeros((4, 4), np.uint8))
    data = (tmp_path / "a" / "x.png").read_bytes()
    (tmp_path / "a" / "y.png").write_bytes(data[: len(data) // 2])
    ds = ImageFolder(tmp_path)
    with pytest.raises(ValueError, match=r"ImageFolder: .*y.png: cannot read the image"):
        ds[1]
    (tmp_path / "b").mkdir()
    with pytest.raises(FileNotFoundError, match="ImageFolder: found no valid file for the classes b"):
        ImageFolder(tmp_path)
    assert len(ImageFolder(tmp_path, allow_empty=True)) == 2
    with pytest.raises(FileNotFoundError, match="ImageFolder: couldn't find any class folder in"):
        ImageFolder(tmp_path / "a")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"ImageFolder: reading images needs Pillow.*pip install pillow"):
        ImageFolder(tmp_path, allow_empty=True)
    custom = ImageFolder(tmp_path, loader=lambda p: np.zeros((2, 2), np.uint8), allow_empty=True)
    assert custom[0][0].shape == (2, 2)
