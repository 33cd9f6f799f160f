"""`cnnlab train --task segment`, `eval` and `segment` on a tiny U-Net and a few canvases: the run's files,
the metrics printed, the mask over the image, and one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import one_error_line, requires, run_cli, trained

from cnnlab.cli import main
from cnnlab.data import MNISTSegmentation

TINY = ["--task", "segment", "--model", "unet", "--dataset", "mnist-seg", "--model-args", "widths=[4,8,8]",
        "--epochs", "1", "--batch-size", "8", "--limit-train", "32", "--limit-test", "16", "--prefetch", "0",
        "--no-progress"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("segment") / "unet", *TINY, "--loss", "ce+dice")


def test_train_writes_the_tasks_metrics_and_eval_prints_them(checkpoint):
    history = json.loads((checkpoint / "metrics.json").read_text())
    assert list(history[0]) == ["epoch", "train_loss", "train_pixel_acc", "train_miou", "test_loss",
                                "test_pixel_acc", "test_miou", "seconds", "images_per_second"]
    assert 0 <= history[0]["test_miou"] <= 1 and 0 <= history[0]["test_pixel_acc"] <= 1
    code, out = run_cli(["eval", "--checkpoint", str(checkpoint), "--limit-test", "16"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("unet trained on mnist-seg for 1 epoch (task segment)")
    assert lines[1] == (f"test loss {history[0]['test_loss']:.4f}  test pixel accuracy "
                        f"{history[0]['test_pixel_acc']:.2%}  test mean IoU {history[0]['test_miou']:.4f} "
                        "(16 mnist-seg test images)")
    assert lines[2].startswith("IoU per class: background ") and lines[2].count(", digit ") == 10


@requires("PIL", "viz")
def test_segment_writes_the_mask_over_the_image(checkpoint, tmp_path):
    from PIL import Image

    canvas = MNISTSegmentation(train=False, size=1).data[0]
    Image.fromarray(canvas).save(tmp_path / "canvas.png")
    code, out = run_cli(["segment", "--checkpoint", str(checkpoint), str(tmp_path / "canvas.png"),
                         "--out", str(tmp_path / "mask.png")])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'canvas.png'}: 64×64 pixels; ")
    assert lines[1] == f"wrote {tmp_path / 'mask.png'}: the classes in colour over the image, with a legend"
    with Image.open(tmp_path / "mask.png") as picture:
        assert picture.size == (256 + 120, 256)
        pixels = np.asarray(picture.convert("RGB"))
    # a light image (a dark digit on white) is inverted first, with a note
    Image.fromarray(255 - canvas).save(tmp_path / "paper.png")
    code, _ = run_cli(["segment", "--checkpoint", str(checkpoint), str(tmp_path / "paper.png"),
                       "--out", str(tmp_path / "paper-mask.png")])
    assert code == 0 and (tmp_path / "paper-mask.png").is_file()


@pytest.fixture(scope="module")
def classify_checkpoint(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("segment") / "lenet", "--epochs", "1", "--limit-train", "64",
                   "--limit-test", "32", "--prefetch", "0", "--no-progress")


@requires("PIL", "viz")
def test_segment_errors_are_one_line(checkpoint, classify_checkpoint, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.zeros((3, 40), np.uint8)).save(tmp_path / "thin.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "ok.png")
    cases = [
        (["--checkpoint", str(classify_checkpoint), str(tmp_path / "ok.png"), "--out", str(tmp_path / "m.png")],
         "is a checkpoint of task 'classify', not of a segmentation model; give --checkpoint of a run of "
         "cnnlab train --task segment"),
        (["--checkpoint", str(checkpoint), str(tmp_path / "thin.png"), "--out", str(tmp_path / "m.png")],
         "error: the image is 40×3 pixels, smaller than the 4×4 that the model takes (its downsampling); "
         "give a larger image"),
        (["--checkpoint", str(checkpoint), str(tmp_path / "ok.png"), "--out", str(tmp_path / "m.png"),
          "--alpha", "2"], "--alpha must be in [0, 1], got 2.0"),
        (["--checkpoint", str(checkpoint), str(tmp_path / "none.png"), "--out", str(tmp_path / "m.png")],
         f"no such image file: {tmp_path / 'none.png'}"),
        (["--checkpoint", str(checkpoint), str(tmp_path / "ok.png"), "--out", str(tmp_path)],
         f"--out {tmp_path} is a folder"),
    ]
    for argv, message in cases:
        err = one_error_line(capsys, main(["segment", *argv]), "segment")
        assert message in err, err
    assert not (tmp_path / "m.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--loss", "dice"], "--loss is for the segment task, not classify, got 'dice'"),
    (TINY + ["--loss", "focal"], "unknown --loss 'focal' for the --task segment; choose from ce, dice, ce+dice"),
    (TINY + ["--augment"], "--augment is for classify (it would move the digits but not their masks)"),
    (["--task", "segment", "--dataset", "mnist"], "unknown --dataset 'mnist' for the --task segment; choose from "
                                                  "mnist-seg"),
    (["--task", "segment", "--dataset", "mnist-seg", "--model", "gapnet", "--limit-train", "8", "--limit-test", "8"],
     "--model gapnet gives scores of shape (11,) per image, but segment needs (11, 64, 64): a score for each of "
     "the 11 classes of mnist-seg at every pixel (fcn, unet)"),
])
def test_train_errors_name_the_flag(capsys, tmp_path, argv, message):
    err = one_error_line(capsys, main(["train", *argv, "--out", str(tmp_path / "run")]), "train")
    assert message in err, err


def test_predict_refuses_a_segmentation_checkpoint(checkpoint, tmp_path, capsys):
    err = one_error_line(capsys, main(["predict", "--checkpoint", str(checkpoint), str(tmp_path / "x.png")]),
                         "predict")
    assert "was trained for the task segment; predict takes classification checkpoints" in err


def test_train_takes_the_tasks_model_and_dataset_when_they_are_not_given(tmp_path):
    from cnnlab.train import read_run_config

    out = tmp_path / "run"
    argv = [a for a in TINY if a not in ("--model", "unet", "--dataset", "mnist-seg")]
    assert "--model" not in argv and "--dataset" not in argv
    assert main(["train", *argv, "--limit-train", "8", "--limit-test", "4", "--out", str(out)]) == 0
    config = read_run_config(out)
    assert (config.task, config.model, config.dataset) == ("segment", "unet", "mnist-seg")
