"""`cnnlab train --task super-resolution`, `cnnlab eval` of its checkpoint and `cnnlab upscale`: a run on a few
digits, the PSNRs, an enlarged RGB and gray image, and one-line errors (scale, size, task, model)."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import one_error_line, requires, run_cli

pytestmark = requires("PIL", "apps")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("upscale") / "espcn"
    code, _ = run_cli(["train", "--task", "super-resolution", "--model", "espcn", "--dataset", "mnist", "--epochs", "1",
                       "--batch-size", "16", "--limit-train", "32", "--limit-test", "8", "--prefetch", "0",
                       "--no-progress", "--out", str(out)])
    assert code == 0
    return out


def photo(path, shape, seed=0):
    from cnnlab.apps.superres import save_png

    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    save_png(image, path)
    return image


def test_eval_reports_psnr_beside_bicubic(checkpoint):
    code, out = run_cli(["eval", "--checkpoint", str(checkpoint), "--limit-test", "4"])
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("espcn trained on mnist for 1 epoch (task super-resolution)")
    words = lines[1].split()
    assert words[:2] == ["test", "loss"] and words[3:5] == ["test", "PSNR"] and words[6] == "dB"
    assert words[7:10] == ["test", "bicubic", "PSNR"] and lines[1].endswith("(4 mnist test images)")
    assert lines[2].split() == ["PSNR", "per", "image", "(dB):", "bicubic", "espcn"]
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == ["0", "1", "2", "3"]                     # the digits' names: their indices
    bicubic, model = (np.mean([float(r[k]) for r in rows]) for k in (1, 2))
    assert abs(bicubic - float(words[10])) < 0.01 and abs(model - float(words[5])) < 0.01   # the rows' means


@pytest.mark.parametrize("shape", [(10, 12, 3), (9, 8)])
def test_upscale_writes_the_image_twice_as_large(checkpoint, tmp_path, shape):
    from cnnlab.apps.superres import read_image

    photo(tmp_path / "small.png", shape)
    code, out = run_cli(["upscale", "--checkpoint", str(checkpoint), str(tmp_path / "small.png"), "--out",
                         str(tmp_path / "big.png"), "--scale", "2"])
    big = read_image(tmp_path / "big.png")
    assert code == 0 and big.shape == (2 * shape[0], 2 * shape[1]) + shape[2:]
    kind = "RGB" if len(shape) == 3 else "gray"
    assert out == (f"wrote {tmp_path / 'big.png'}: {shape[1]}×{shape[0]} -> {2 * shape[1]}×{2 * shape[0]} {kind} "
                   "(espcn ×2 on the luminance, bicubic on the colour)\n")


def test_upscale_errors(checkpoint, tmp_path, capsys):
    photo(tmp_path / "small.png", (10, 12, 3))
    photo(tmp_path / "tiny.png", (7, 30))
    base = ["upscale", "--checkpoint", str(checkpoint), str(tmp_path / "small.png"), "--out", str(tmp_path / "b.png")]
    code, _ = run_cli(base + ["--scale", "3"])
    assert one_error_line(capsys, code, "upscale") == ("cnnlab upscale: error: --scale 3 is not the checkpoint's: its "
                                                       "espcn was trained to enlarge ×2")
    code, _ = run_cli(["upscale", "--checkpoint", str(checkpoint), str(tmp_path / "tiny.png"), "--out", "b.png"])
    assert one_error_line(capsys, code, "upscale") == (f"cnnlab upscale: error: the IMAGE {tmp_path / 'tiny.png'} is "
                                                       "7×30 pixels, too small to enlarge: it needs at least 8×8")
    code, _ = run_cli(["train", "--epochs", "1", "--limit-train", "64", "--limit-test", "16", "--prefetch", "0",
                       "--no-progress", "--out", str(tmp_path / "lenet")])
    capsys.readouterr()
    code, _ = run_cli(["upscale", "--checkpoint", str(tmp_path / "lenet")] + base[3:])
    assert one_error_line(capsys, code, "upscale") == (
        f"cnnlab upscale: error: --checkpoint {tmp_path / 'lenet' / 'checkpoint.safetensors'} was trained for the task "
        "classify, not super-resolution: give a checkpoint of cnnlab train --task super-resolution")
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("flags,message", [
    (["--model", "lenet5", "--dataset", "mnist"], "--model lenet5 can't take mnist's 1×14×14 images"),
    (["--model", "gapnet", "--dataset", "mnist"], r"--model gapnet gives outputs of shape (10,) per image, but super-resolution ×2 of "
                            r"1×14×14 images needs 1×28×28"),
    (["--model", "espcn", "--scale", "1"], "--scale must be an int >= 2, got 1"),
    (["--model", "espcn", "--dataset", "cifar10"], "unknown --dataset 'cifar10' for the --task super-resolution; "
                                                   "choose from skimage, mnist"),
])
def test_train_errors(capsys, tmp_path, flags, message):
    code, _ = run_cli(["train", "--task", "super-resolution", "--epochs", "1", "--limit-train", "8", "--no-progress",
                       "--out", str(tmp_path / "run")] + flags)
    assert one_error_line(capsys, code, "train").startswith(f"cnnlab train: error: {message}")
