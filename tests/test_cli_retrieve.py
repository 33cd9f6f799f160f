"""`cnnlab retrieve`: the evaluation table (features beside raw pixels), an image's neighbours and their
picture, and one-line errors."""
from __future__ import annotations

import re

import pytest
from helpers import one_error_line, requires, run_cli

from cnnlab.cli import main
from cnnlab.data import MNIST


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("retrieve") / "lenet"
    code, _ = run_cli(["train", "--epochs", "1", "--limit-train", "512", "--limit-test", "64", "--prefetch", "0",
                   "--no-progress", "--out", str(out)])
    assert code == 0
    return out


def test_evaluate_prints_features_beside_raw_pixels(checkpoint):
    code, out = run_cli(["retrieve", "--checkpoint", str(checkpoint), "--evaluate", "--k", "5", "--limit-queries", "40",
                     "--limit-gallery", "300"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("lenet5 trained on mnist, features: layer '11''s input (84 values); 40 test images as "
                        "queries against 300 training images")
    assert lines[1].split() == ["mAP", "precision@5", "recall@5"]
    for line, name in zip(lines[2:], ("features", "raw pixels")):
        assert line.startswith(name)
        values = [float(v) for v in line[len(name):].split()]
        assert len(values) == 3 and all(0 <= v <= 1 for v in values)


@requires("PIL", "viz")
def test_an_image_gets_its_neighbours_and_their_picture(checkpoint, tmp_path):
    from PIL import Image

    digit = MNIST(train=False).data[0]
    Image.fromarray(digit).save(tmp_path / "q.png")
    code, out = run_cli(["retrieve", "--checkpoint", str(checkpoint), str(tmp_path / "q.png"), "--k", "3",
                     "--limit-gallery", "200", "--out", str(tmp_path / "n.png")])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{tmp_path / 'q.png'}: the 3 nearest training images by layer '11''s input (84 values):"
    assert all(re.fullmatch(r"  #\d+\s+.+\s+similarity [-0-9.]+", line) for line in lines[1:4])
    assert lines[4].startswith(f"wrote {tmp_path / 'n.png'}")
    with Image.open(tmp_path / "n.png") as picture:
        assert picture.size == (3 * (28 * 4 + 8), 3 * 30)


@pytest.mark.parametrize("argv, message", [
    ([], r"give image files to search for, or --evaluate \(not both\)"),
    (["--evaluate", "--out", "x.png"], r"--out is for the neighbours of image files, not for --evaluate"),
    (["--evaluate", "--k", "0", "--limit-gallery", "50"], r"--k must be in \[1, 50\] \(the gallery's size\), got 0"),
    (["--evaluate", "--layer", "fc9", "--limit-gallery", "50"], r"retrieval: the model has no layer 'fc9'"),
])
def test_errors_are_one_line(checkpoint, capsys, argv, message):
    err = one_error_line(capsys, main(["retrieve", "--checkpoint", str(checkpoint), *argv]), "retrieve")
    assert re.search(message, err), err
