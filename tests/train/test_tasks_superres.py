"""cnnlab.train.tasks.SuperResolution and its PSNRMeter: totals that add up, the settings it checks, its data,
loss and model check, and a whole (tiny) run on the digits whose checkpoint records the task."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires

import cnnlab
from cnnlab.data.superres import bicubic_baseline, downscale, mnist_sr
from cnnlab.messages import SettingError
from cnnlab.train import TrainConfig, build_datasets, build_model, load_checkpoint, model_from_checkpoint, train
from cnnlab.train.psnr import psnr
from cnnlab.train.tasks import SUPER_RESOLUTION, TASKS, PSNRMeter

pytestmark = requires("PIL", "apps")


def sr_config(**kwargs):
    return TrainConfig(**{"task": "super-resolution", "model": "espcn", "dataset": "mnist", **kwargs})


def test_meter_adds_up_batches_and_measures_the_bicubic_baseline():
    rng = np.random.default_rng(1)
    target = rng.random((5, 1, 12, 12)).astype(np.float32)
    output = np.clip(target + rng.normal(0, 0.05, target.shape), 0, 1).astype(np.float32)
    whole, first, second = PSNRMeter(2), PSNRMeter(2), PSNRMeter(2)
    whole.update(output, target)
    first.update(output[:2], target[:2])
    second.update(output[2:], target[2:])
    summed = first.totals() + second.totals()                 # two ranks' shards, as all_reduce sums them
    np.testing.assert_allclose(summed, whole.totals(), rtol=1e-12)
    bicubic = bicubic_baseline(downscale(target[:, 0], 2), 2)
    assert first.result(summed) == pytest.approx({"psnr": psnr(output[:, 0], target[:, 0], 2).mean(),
                                                  "psnr_bicubic": psnr(bicubic, target[:, 0], 2).mean()})
    assert np.isnan(PSNRMeter(3).result()["psnr"])             # nothing seen yet
    flat = PSNRMeter(2)
    flat.update(np.full((2, 1, 8, 8), 0.5, np.float32), np.full((2, 1, 8, 8), 0.5, np.float32))
    top = 10 * np.log10(255 ** 2 * 16)                         # exact 4×4 insides: as if one pixel were 1 off
    assert flat.result() == pytest.approx({"psnr": top, "psnr_bicubic": top})
    with pytest.raises(ValueError, match=r"PSNRMeter: the output and the target must be \(N, 1, H, W\)"):
        whole.update(output[:, 0], target[:, 0])


def test_settings():
    assert TASKS["super-resolution"] is SUPER_RESOLUTION
    assert sr_config().resolved().scale == 2 and sr_config(scale=3).resolved().scale == 3
    assert sr_config().resolved().lr == 1e-3 and sr_config(lr=0.01).resolved().lr == 0.01      # the task's default
    assert sr_config(optimizer="sgd").resolved().lr == 0.05 and TrainConfig().resolved().lr == 3e-3
    with pytest.raises(SettingError, match="TrainConfig: scale must be an int >= 2, got 1"):
        sr_config(scale=1).validate()
    with pytest.raises(SettingError, match="TrainConfig: data_dir is not for skimage: its photographs ship inside "
                                           "scikit-image, got 'x'"):
        sr_config(dataset="skimage", data_dir="x").validate()
    with pytest.raises(SettingError, match="unknown dataset 'cifar10' for the task super-resolution; choose from "
                                           "skimage, mnist"):
        sr_config(dataset="cifar10").validate()


def test_digits_loss_and_model_check():
    config = sr_config(limit_train=6, limit_test=4, scale=2).resolved()
    train_set, test_set, info = build_datasets(config)
    (lr, hr), n = train_set[5], len(test_set)
    assert lr.shape == (1, 14, 14) and hr.shape == (1, 28, 28) and len(train_set) == 6 and n == 4
    assert SUPER_RESOLUTION.eval_batch_size(test_set, config) == config.eval_batch_size
    model = build_model("srcnn", info, None, SUPER_RESOLUTION, config)
    assert model.scale == 2
    with pytest.raises(SettingError, match=r"build_model: model gapnet gives outputs of shape \(10,\) per image, but "
                                           r"super-resolution ×2 of 1×14×14 images needs 1×28×28"):
        build_model("gapnet", info, None, SUPER_RESOLUTION, config)
    out, target = cnnlab.tensor(np.zeros((2, 1, 4, 4), np.float32)), cnnlab.tensor(np.full((2, 1, 4, 4), 0.5,
                                                                                             np.float32))
    assert SUPER_RESOLUTION.loss(out, target).item() == pytest.approx(0.25)                 # per pixel
    assert SUPER_RESOLUTION.loss(out, target, reduction="sum").item() == pytest.approx(0.5)  # per image, summed
    assert SUPER_RESOLUTION.format("psnr", 31.204) == "31.20 dB"


@requires("skimage", "apps")
def test_photographs_patches_and_whole_test_images():
    config = sr_config(dataset="skimage", scale=3, limit_train=10, limit_test=2).resolved()
    train_set, test_set, info = build_datasets(config)
    lr, hr = train_set[0]
    assert len(train_set) == 10 and lr.shape == (1, 17, 17) and hr.shape == (1, 51, 51) and info.name == "skimage"
    assert len(test_set) == 2 and test_set[1][1].shape == (1, 300, 450)            # chelsea, modcropped by 3
    assert SUPER_RESOLUTION.eval_batch_size(test_set, config) == 1                 # camera and chelsea differ in size


@pytest.mark.parametrize("scale", [2, 3])
def test_a_run_records_the_task_and_its_metrics(tmp_path, scale):
    config = sr_config(epochs=1, batch_size=16, limit_train=32, limit_test=8, scale=scale, out=str(tmp_path / "run"))
    history = train(config, log=None, progress=False)
    assert {"train_psnr", "train_psnr_bicubic", "test_psnr", "test_psnr_bicubic"} <= set(history[0])
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["config"].task == "super-resolution" and ckpt["config"].scale == scale
    model, info = model_from_checkpoint(ckpt)
    assert type(model).__name__ == "ESPCN" and model.scale == scale and info.name == "mnist"
    digits = mnist_sr(train=False, scale=scale, limit=8)                            # the baseline, computed here
    bicubic = [psnr(bicubic_baseline(lr, scale), hr, scale) for lr, hr in zip(digits.lr, digits.hr)]
    assert history[0]["test_psnr_bicubic"] == pytest.approx(np.mean(bicubic))
