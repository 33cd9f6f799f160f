"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): mirrors in order, checksums,
truncated transfers, the size limit, atomic writes; MNIST and CIFAR10 with download=True."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import tarfile
import threading

import numpy as np
import pytest

from cnnlab.data.cifar import CIFAR10
from cnnlab.data.datasets import MNIST
from cnnlab.data.download import DownloadError, download_file, file_digest


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}  # "/a/name" -> bytes
    truncated: set = set()  # paths whose transfer stops halfway

    def do_GET(self):  # noqa: N802 - http.server's name
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if self.path in self.truncated else data)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    handler = type("H", (Handler,), {"files": {}, "truncated": set()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


PAYLOAD = bytes(range(256)) * 40


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_success_with_md5_and_sha256(server, tmp_path):
    base, handler = server
    handler.files["/m1/data.bin"] = PAYLOAD
    lines = []
    path = download_file("data.bin", [f"{base}/m1/"], tmp_path / "new", md5=md5(PAYLOAD),
                         sha256=hashlib.sha256(PAYLOAD).hexdigest(), log=lines.append)
    assert path == tmp_path / "new" / "data.bin" and path.read_bytes() == PAYLOAD
    assert lines == [f"Downloading {base}/m1/data.bin"] and file_digest(path) == md5(PAYLOAD)
    assert not leftovers(path.parent)


def test_first_mirror_404_then_the_second(server, tmp_path):
    base, handler = server
    handler.files["/m2/data.bin"] = PAYLOAD
    path = download_file("data.bin", [f"{base}/m1/", f"{base}/m2/"], tmp_path, md5=md5(PAYLOAD))
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_and_names_both_checksums(server, tmp_path):
    base, handler = server
    handler.files["/m1/data.bin"] = handler.files["/m2/data.bin"] = PAYLOAD[:-1] + b"!"
    want, got = md5(PAYLOAD), md5(PAYLOAD[:-1] + b"!")
    with pytest.raises(DownloadError) as info:
        download_file("data.bin", [f"{base}/m1/", f"{base}/m2/"], tmp_path, md5=want)
    message = str(info.value)
    assert f"could not fetch data.bin into {tmp_path} from any mirror" in message
    assert message.count(f"md5 checksum mismatch for data.bin: expected {want}, got {got} (download deleted)") == 2
    assert not (tmp_path / "data.bin").exists() and not leftovers(tmp_path)
    handler.files["/m2/data.bin"] = PAYLOAD  # a bad first mirror, a good second one
    assert download_file("data.bin", [f"{base}/m1/", f"{base}/m2/"], tmp_path, md5=want).read_bytes() == PAYLOAD


def test_truncated_transfer_then_the_next_mirror(server, tmp_path):
    base, handler = server
    handler.files["/m1/data.bin"] = handler.files["/m2/data.bin"] = PAYLOAD
    handler.truncated.add("/m1/data.bin")
    with pytest.raises(DownloadError, match=f"{base}/m1/data.bin: the transfer was truncated: got 5120 of 10240 bytes"):
        download_file("data.bin", [f"{base}/m1/"], tmp_path)
    assert not (tmp_path / "data.bin").exists() and not leftovers(tmp_path)
    path = download_file("data.bin", [f"{base}/m1/", f"{base}/m2/"], tmp_path, md5=md5(PAYLOAD))
    assert path.read_bytes() == PAYLOAD


def test_size_limit_404_message_and_bad_arguments(server, tmp_path):
    base, handler = server
    handler.files["/m1/data.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="the server announces 10240 bytes, more than the limit of 1000"):
        download_file("data.bin", [f"{base}/m1/"], tmp_path, max_bytes=1000)
    with pytest.raises(DownloadError, match="m1/missing.bin: HTTPError: HTTP Error 404: Not Found"):
        download_file("missing.bin", [f"{base}/m1/"], tmp_path)
    with pytest.raises(DownloadError, match="only http:// and https:// mirrors are supported"):
        download_file("data.bin", ["file:///etc/"], tmp_path)
    with pytest.raises(ValueError, match="download_file: filename must be a plain file name, got '../x'"):
        download_file("../x", [f"{base}/m1/"], tmp_path)


def mnist_gz(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    idx = [bytes([0, 0, 8, a.ndim]) + np.array(a.shape, ">u4").tobytes() + a.tobytes() for a in (images, labels)]
    return images, labels, [gzip.compress(b) for b in idx]


def test_mnist_download(server, tmp_path, monkeypatch):
    base, handler = server
    images, labels, (img_gz, lab_gz) = mnist_gz(7, 0)
    handler.files["/good/t10k-images-idx3-ubyte.gz"] = img_gz
    handler.files["/good/t10k-labels-idx1-ubyte.gz"] = lab_gz
    monkeypatch.setattr(MNIST, "mirrors", [f"{base}/missing/", f"{base}/good/"])
    monkeypatch.setattr(MNIST, "resources", [("t10k-images-idx3-ubyte.gz", md5(img_gz)),
                                             ("t10k-labels-idx1-ubyte.gz", md5(lab_gz))])
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        MNIST(tmp_path, train=False)
    ds = MNIST(tmp_path, train=False, download=True)
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").read_bytes() == img_gz
    np.testing.assert_array_equal(ds.data, images)
    assert ds.targets.tolist() == labels.tolist()
    monkeypatch.setattr(MNIST, "resources", [("t10k-images-idx3-ubyte.gz", "0" * 32),
                                             ("t10k-labels-idx1-ubyte.gz", md5(lab_gz))])
    with pytest.raises(DownloadError, match=f"expected {'0' * 32}, got {md5(img_gz)}"):
        MNIST(tmp_path / "other", train=False, download=True)
    assert not (tmp_path / "other" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()


def test_the_published_checksums_are_torchvisions():
    assert dict(MNIST.resources)["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert CIFAR10.tgz_md5 == "c32a1d4ab5d03f1284b67883e8d87530"


def test_cifar_download_and_extract(server, tmp_path, monkeypatch):
    base, handler = server
    rng = np.random.default_rng(0)
    records = np.concatenate([np.array([[7], [1]], np.uint8), rng.integers(0, 256, (2, 3072), dtype=np.uint8)], 1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
        info.size = records.nbytes
        tar.addfile(info, io.BytesIO(records.tobytes()))
    archive = buffer.getvalue()
    handler.files["/kriz/cifar-10-binary.tar.gz"] = archive
    monkeypatch.setattr(CIFAR10, "mirrors", [f"{base}/kriz/"])
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(archive))
    ds = CIFAR10(tmp_path, train=False, download=True)
    assert ds.targets.tolist() == [7, 1] and (tmp_path / "cifar-10-binary.tar.gz").read_bytes() == archive
    assert ds[1][0][0, 0].tolist() == records[1, [1, 1025, 2049]].tolist()
