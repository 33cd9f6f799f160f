"""The segment task (cnnlab.train.tasks.Segment): its meter against the confusion matrix of the pixels, its
losses against the functional ones, its settings, its model check, and a tiny run from Python."""
from __future__ import annotations

import json

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from cnnlab.messages import SettingError
from cnnlab.train import config as C
from cnnlab.train import load_checkpoint, loop, model_from_checkpoint, tasks, train
from cnnlab.train.segmentation import mean_iou, pixel_accuracy

SEGMENT = tasks.TASKS["segment"]


def test_the_meter_counts_the_pixels_and_its_totals_add_up():
    rng = np.random.default_rng(0)
    scores, masks = rng.normal(size=(6, 5, 4, 3)), rng.integers(0, 5, (6, 4, 3))
    whole, first, second = tasks.SegmentMeter(5), tasks.SegmentMeter(), tasks.SegmentMeter()
    whole.update(scores, masks)
    first.update(scores[:2], masks[:2])
    second.update(scores[2:], masks[2:])
    summed = first.totals() + second.totals()
    np.testing.assert_array_equal(summed, whole.totals())
    m = loop.confusion_matrix(masks, scores.argmax(axis=1), 5)
    np.testing.assert_array_equal(whole.confusion_matrix(summed), m)
    assert first.result(summed) == {"pixel_acc": pixel_accuracy(m), "miou": mean_iou(m)}
    assert whole.result()["pixel_acc"] == pytest.approx(np.mean(scores.argmax(axis=1) == masks))
    assert tasks.SegmentMeter(3).result() == {"pixel_acc": 0.0, "miou": 0.0}   # nothing seen yet


def test_the_report_gives_each_class_its_iou():
    info = SEGMENT.datasets["mnist-seg"]
    m = np.zeros((11, 11))
    m[0, 0], m[0, 3], m[3, 3] = 6, 2, 2                   # background 6/8, digit 2 2/4, the others absent
    line, = SEGMENT.report(m.reshape(-1), info)
    assert line == ("IoU per class: background 0.7500, digit 0 -, digit 1 -, digit 2 0.5000, "
                    + ", ".join(f"digit {d} -" for d in range(3, 10)))


def test_the_meter_rejects_what_does_not_fit():
    meter = tasks.SegmentMeter(3)
    with pytest.raises(ValueError, match=r"SegmentMeter: the output must be \(N, 3, H, W\) scores for \(N, H, W\) "
                                         r"targets, got \(2, 3, 4, 4\) for \(2, 4\)"):
        meter.update(np.zeros((2, 3, 4, 4)), np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match=r"SegmentMeter: targets must be class indices in \[0, 3\), got values "
                                         r"in \[0, 7\]"):
        meter.update(np.zeros((1, 3, 1, 2)), np.array([[[0, 7]]]))


@pytest.mark.parametrize("name", tasks.SEGMENT_LOSSES)
def test_the_losses_are_the_functional_ones_and_sum_is_the_mean_times_the_images(name):
    rng = np.random.default_rng(1)
    x, y = cnnlab.tensor(rng.normal(size=(3, 4, 5, 5))), cnnlab.tensor(rng.integers(0, 4, (3, 5, 5)))
    want = {"ce": F.cross_entropy(x, y).item(), "dice": F.dice_loss(x, y).item()}
    want["ce+dice"] = want["ce"] + want["dice"]
    task = SEGMENT.configured(C.TrainConfig(task="segment", dataset="mnist-seg", loss=name))
    assert task.loss(x, y).item() == pytest.approx(want[name], rel=1e-12)
    assert task.loss(x, y, reduction="sum").item() == pytest.approx(3 * want[name], rel=1e-12)
    with pytest.raises(ValueError, match="Segment.loss: reduction must be 'mean' or 'sum', got 'none'"):
        task.loss(x, y, reduction="none")


def test_settings():
    config = C.TrainConfig(task="segment", dataset="mnist-seg", model="unet").resolved()
    assert config.loss == "ce" and C.TrainConfig().resolved().loss is None
    for kwargs, match in [({"loss": "dice"}, "TrainConfig: loss is for the segment task, not classify, got 'dice'"),
                          ({"task": "segment", "dataset": "mnist-seg", "loss": "l2"},
                           "TrainConfig: unknown loss 'l2' for the task segment; choose from ce, dice, ce\\+dice"),
                          ({"task": "segment", "dataset": "mnist-seg", "augment": True},
                           "TrainConfig: augment is for classify"),
                          ({"task": "segment"}, "TrainConfig: unknown dataset 'mnist' for the task segment; "
                                                "choose from mnist-seg")]:
        with pytest.raises(SettingError, match=match):
            C.TrainConfig(**kwargs).validate()


def test_models_are_sized_and_checked_for_the_task():
    info = SEGMENT.datasets["mnist-seg"]
    model = C.build_model("unet", info, {"widths": [4, 8]}, SEGMENT)
    assert model(cnnlab.zeros(2, 1, 64, 64)).shape == (2, 11, 64, 64)
    with pytest.raises(SettingError, match=r"build_model: model gapnet gives scores of shape \(11,\) per image, "
                                           r"but segment needs \(11, 64, 64\)"):
        C.build_model("gapnet", info, None, SEGMENT)


def test_a_tiny_run_from_python(tmp_path):
    config = C.TrainConfig(task="segment", dataset="mnist-seg", model="fcn", model_args={"widths": [4, 4, 8, 8, 8]},
                           epochs=2, batch_size=8, limit_train=16, limit_test=8, prefetch=0, out=str(tmp_path / "r"))
    history = train(config, log=None, progress=False)
    assert [sorted(row) for row in history] == [sorted(["epoch", "train_loss", "train_pixel_acc", "train_miou",
                                                        "test_loss", "test_pixel_acc", "test_miou", "seconds",
                                                        "images_per_second"])] * 2
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == history
    ckpt = load_checkpoint(tmp_path / "r")
    assert ckpt["config"].task == "segment" and ckpt["config"].loss == "ce"
    model, info = model_from_checkpoint(ckpt)
    assert info.name == "mnist-seg" and type(model).__name__ == "FCN"
    test = loop.evaluate(model, cnnlab.data.DataLoader(SEGMENT.build_datasets(config, train=False)[1], batch_size=4),
                         SEGMENT, meter=SEGMENT.meter(info))
    assert test["miou"] == pytest.approx(history[-1]["test_miou"]) and test["images"] == 8
