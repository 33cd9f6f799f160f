"""The `cnnlab` commands of cnnlab.viz: cam, features, filters; their user errors in one line that names the flag."""
from __future__ import annotations

import re
import sys

import pytest
from helpers import one_error_line, requires

from cnnlab import viz
from cnnlab.cli import main
from cnnlab.data import MNIST
from cnnlab.train import load_checkpoint, load_image, model_from_checkpoint

PNG = b"\x89PNG\r\n\x1a\n"
QUICK = ["--epochs", "1", "--limit-train", "256", "--limit-test", "64", "--prefetch", "0", "--no-progress"]
pytestmark = [requires("matplotlib", "viz"), requires("PIL", "viz")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small GAP net and a LeNet-5, each trained for 4 steps by the command line, and an MNIST test digit."""
    from PIL import Image

    root = tmp_path_factory.mktemp("viz")
    assert main(["train", "--model", "gapnet", "--model-args", "widths=[8,16]", *QUICK, "--out", str(root / "gap")]) == 0
    assert main(["train", "--model", "lenet5", *QUICK, "--out", str(root / "lenet")]) == 0
    digits = MNIST(train=False).data
    Image.fromarray(digits[0]).save(root / "seven.png")           # test image 0 is a 7
    Image.fromarray(255 - digits[0]).save(root / "paper.png")     # dark on light, as on paper
    return root


def model_and_image(runs, name="gap", image="seven.png"):
    model, info = model_from_checkpoint(load_checkpoint(runs / name))
    return model, load_image(runs / image, info.in_channels, info.input_size, info.mean, info.std), info


@pytest.mark.parametrize("flags, method, layer", [
    ([], "cam", "gap"),
    (["--method", "gradcam"], "gradcam", "features.12"),
    (["--method", "gradcam", "--layer", "features.3", "--class", "3"], "gradcam", "features.3"),
    (["--method", "saliency", "--class", "1"], "saliency", ""),
])
def test_cam_writes_the_png_and_says_what_it_shows(runs, tmp_path, capsys, flags, method, layer):
    out = tmp_path / "map.png"
    assert main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out", str(out), *flags]) == 0
    assert out.read_bytes().startswith(PNG)
    model, x, info = model_and_image(runs)
    target = int(flags[flags.index("--class") + 1]) if "--class" in flags else None
    result = {"cam": lambda: viz.cam(model, x, target), "gradcam": lambda: viz.grad_cam(model, x, target, layer),
              "saliency": lambda: viz.saliency(model, x, target)}[method]()
    assert result.layer == layer
    label = {"cam": "CAM", "gradcam": f"Grad-CAM of layer {layer}", "saliency": "saliency"}[method]
    top = info.classes[int(result.scores.argmax())]
    assert capsys.readouterr().out == (f"{out}: {label} for class {info.classes[result.target]} "
                                       f"(score {result.scores[result.target]:.3f}; the model's top class: {top})\n")


def test_cam_reads_the_image_as_predict_does(runs, tmp_path, capsys):
    assert main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "paper.png"), "--out", str(tmp_path / "a.png"),
                 "--method", "gradcam"]) == 0
    inverted = capsys.readouterr()
    assert inverted.err == (f"note: {runs / 'paper.png'} has a light background, unlike mnist's light-on-dark images: "
                            "inverted it (--no-invert keeps it as it is)\n")
    assert main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out", str(tmp_path / "b.png"),
                 "--method", "gradcam"]) == 0
    assert capsys.readouterr().out.split(":", 1)[1] == inverted.out.split(":", 1)[1]  # the same digit, the same map
    assert main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "paper.png"), "--out", str(tmp_path / "c.png"),
                 "--no-invert"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("make_args, message", [
    (lambda r, p: ["--method", "gradcam", "--layer", "nope"],
     "--layer 'nope' is not a layer of GAPNet (its conv layers: features.0, features.3, features.7, features.10)"),
    (lambda r, p: ["--class", "10"],
     "--class must be a class index in [0, 10) (gapnet was trained on mnist's 10 classes), got 10"),
    (lambda r, p: ["--class", "-1", "--method", "saliency"],
     "--class must be a class index in [0, 10) (gapnet was trained on mnist's 10 classes), got -1"),
    (lambda r, p: ["--checkpoint", str(r / "lenet")],
     "--method cam needs a model with global average pooling before a linear classifier (conv maps -> "
     "AdaptiveAvgPool2d(1) -> Linear), and lenet5 has none; --method gradcam works for any model"),
    (lambda r, p: ["--layer", "features.3"], "--layer chooses the layer of --method gradcam; --method cam takes none"),
    (lambda r, p: ["--out", str(p / "none" / "a.png")], "--out: there is no folder {p}/none to write a.png in"),
    (lambda r, p: ["--out", str(p)], "--out {p} is a folder; give the PNG file to write, e.g. {p}/out.png"),
    (lambda r, p: ["--checkpoint", str(p / "none")], "no checkpoint at {p}/none"),
])
def test_cam_user_errors_are_one_line(runs, tmp_path, capsys, make_args, message):
    args = make_args(runs, tmp_path)
    argv = ["cam", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out", str(tmp_path / "a.png"), *args]
    err = one_error_line(capsys, main(argv), "cam")
    assert err == f"cnnlab cam: error: {message.format(p=tmp_path)}"
    assert not (tmp_path / "a.png").exists()


def test_cam_with_gradcam_works_for_a_model_without_gap(runs, tmp_path, capsys):
    out = tmp_path / "lenet.png"
    assert main(["cam", "--checkpoint", str(runs / "lenet"), str(runs / "seven.png"), "--out", str(out),
                 "--method", "gradcam"]) == 0
    assert out.read_bytes().startswith(PNG)
    assert re.match(rf"{out}: Grad-CAM of layer 4 for class ", capsys.readouterr().out)  # LeNet-5: conv 3, ReLU 4


@pytest.mark.parametrize("argv, message", [
    (["--method", "gradcams"], "argument --method: invalid choice: 'gradcams'"),
    (["--class", "three"], "argument --class: invalid int value: 'three'"),
])
def test_cam_argument_errors_are_one_line(runs, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out", str(tmp_path / "a.png"),
              *argv])
    assert message in one_error_line(capsys, exit_info.value.code, "cam")


def test_cam_without_matplotlib_says_which_extra_to_install(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    err = one_error_line(capsys, main(["cam", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out",
                                       str(tmp_path / "a.png")]), "cam")
    assert err == "cnnlab cam: error: class_map_figure: drawing needs matplotlib: pip install 'cnnlab[viz]'"


def test_features_writes_one_png_per_conv_layer(runs, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(["features", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out", str(out)]) == 0
    names = ["features.0", "features.3", "features.7", "features.10"]
    assert capsys.readouterr().out.splitlines() == [str(out / f"{n}.png") for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)
    assert all((out / f"{n}.png").read_bytes().startswith(PNG) for n in names)


def test_features_and_cam_user_errors_are_one_line(runs, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    err = one_error_line(capsys, main(["features", "--checkpoint", str(runs / "gap"), str(runs / "seven.png"), "--out",
                                       str(tmp_path / "file")]), "features")
    assert err == (f"cnnlab features: error: --out {tmp_path / 'file'} is a file; give the folder to write one PNG per "
                   "conv layer in")
    for command in ("features", "cam"):
        err = one_error_line(capsys, main([command, "--checkpoint", str(runs / "gap"), str(tmp_path / "nope.png"),
                                           "--out", str(tmp_path / "maps")]), command)
        assert err == f"cnnlab {command}: error: no such image file: {tmp_path / 'nope.png'}"
        assert not (tmp_path / "maps").exists()


def test_filters_writes_the_first_layer_grid(runs, tmp_path, capsys):
    out = tmp_path / "filters.png"
    assert main(["filters", "--checkpoint", str(runs / "lenet"), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}\n" and out.read_bytes().startswith(PNG)
    err = one_error_line(capsys, main(["filters", "--checkpoint", str(runs / "lenet"), "--out",
                                       str(tmp_path / "none" / "f.png")]), "filters")
    assert err == f"cnnlab filters: error: --out: there is no folder {tmp_path / 'none'} to write f.png in"


@pytest.mark.parametrize("command, flags", [
    ("cam", ["--checkpoint", "--out", "--method", "--layer", "--class", "--invert"]),
    ("features", ["--checkpoint", "--out", "--invert"]),
    ("filters", ["--checkpoint", "--out"]),
])
def test_help_explains_every_flag(command, flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in flags:
        assert re.search(rf"{flag}\b", text), flag
    if command == "cam":
        assert "(default: cam)" in text and "M_c = sum_k w_k^c f_k" in text
