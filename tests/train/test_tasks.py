"""cnnlab.train.tasks: the Task contract, classify's meter, and a loop that serves any task."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import nn, optim
from cnnlab.data import DataLoader, TensorDataset
from cnnlab.messages import SettingError
from cnnlab.train import config as C
from cnnlab.train import loop, tasks


def test_classify_meter_counts_a_confusion_matrix_and_its_totals_add_up():
    rng = np.random.default_rng(0)
    scores, targets = rng.normal(size=(50, 4)), rng.integers(0, 4, 50)
    whole = tasks.ClassifyMeter(4)
    whole.update(scores, targets)
    first, second = tasks.ClassifyMeter(), tasks.ClassifyMeter()   # sized by the first output
    first.update(scores[:20], targets[:20])
    second.update(scores[20:], targets[20:])
    summed = first.totals() + second.totals()                        # two ranks' shards, as all_reduce sums them
    np.testing.assert_array_equal(summed, whole.totals())
    expected = loop.confusion_matrix(targets, scores.argmax(axis=1), 4)
    np.testing.assert_array_equal(whole.confusion_matrix(summed), expected)
    assert first.result(summed) == {"acc": np.trace(expected) / 50}
    assert whole.result()["acc"] == pytest.approx(np.mean(scores.argmax(axis=1) == targets))


def test_classify_meter_rejects_what_does_not_fit():
    meter = tasks.ClassifyMeter(3)
    with pytest.raises(ValueError, match=r"ClassifyMeter: the output must be \(N, 3\) scores for N targets, "
                                         r"got \(2, 4\) for 2"):
        meter.update(np.zeros((2, 4)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"ClassifyMeter: targets must be class indices in \[0, 3\), got values "
                                         r"in \[0, 5\]"):
        meter.update(np.zeros((2, 3)), np.array([0, 5]))
    assert tasks.ClassifyMeter().result() == {"acc": 0.0}            # nothing seen yet


def test_config_knows_the_tasks_and_checks_their_settings():
    assert "classify" in C.TASK_NAMES and C.TrainConfig().task == "classify"
    with pytest.raises(SettingError, match="TrainConfig: unknown task .detect.; choose from classify, segment, super-resolution"):
        C.TrainConfig(task="detect").validate()
    with pytest.raises(SettingError, match="TrainConfig: scale is for the super-resolution task, not classify, "
                                           "got 2"):
        C.TrainConfig(scale=2).validate()
    with pytest.raises(SettingError, match="build_datasets: unknown task .detect.; choose from classify, segment, super-resolution"):
        C.build_datasets(C.TrainConfig(task="detect"))


def test_classify_checks_the_models_output():
    info = tasks.DatasetInfo("tiny", type("Tiny", (), {"classes": ["a", "b", "c"]}), 1, 28, (0.0,), (1.0,))
    assert C.build_model("lenet5", info)(cnnlab.zeros(2, 1, 28, 28)).shape == (2, 3)   # sized by the task
    tasks.CLASSIFY.check_output("net", info, None, (2, 1, 28, 28), (2, 3))
    with pytest.raises(SettingError, match=r"build_model: model net gives scores of shape \(10,\) per image, "
                                           r"but tiny has 3 classes"):
        tasks.CLASSIFY.check_output("net", info, None, (2, 1, 28, 28), (2, 10))


class Regress(tasks.Task):
    """A task the library does not have: one number per input, MSE, and the mean absolute error."""

    name, metrics, headline, names = "regress", ("mae",), "mae", {"mae": "mean absolute error"}

    class MAE(tasks.Meter):
        def __init__(self):
            self.sums = np.zeros(2)

        def update(self, output, target):
            self.sums += [np.abs(output.reshape(-1) - target.reshape(-1)).sum(), target.size]

        def totals(self):
            return self.sums.copy()

        def result(self, totals=None):
            s = self.sums if totals is None else totals
            return {"mae": float(s[0] / s[1]) if s[1] else 0.0}

    def loss(self, output, target, reduction="mean"):
        return F.mse_loss(output.reshape(-1), target, reduction=reduction)

    def meter(self, info=None, config=None):
        return Regress.MAE()


def test_the_loop_trains_and_measures_any_task():
    cnnlab.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)).astype(np.float32)
    data = DataLoader(TensorDataset(cnnlab.tensor(x), cnnlab.tensor(y)), batch_size=16)
    model = nn.Linear(3, 1)
    lines = []
    history = loop.fit(model, data, data, optim.Adam(model.parameters(), lr=0.05), epochs=3, task=Regress(),
                       progress=False, log=lines.append)
    assert list(history[-1]) == ["epoch", "train_loss", "train_mae", "test_loss", "test_mae", "seconds",
                                 "images_per_second"]
    assert history[-1]["test_mae"] < history[0]["train_mae"]
    with cnnlab.no_grad():
        expected = np.abs(model(cnnlab.tensor(x)).numpy().reshape(-1) - y).mean()
    assert history[-1]["test_mae"] == pytest.approx(expected, rel=1e-5)
    assert f"test mae {history[-1]['test_mae']:.4f}" in lines[-1]
    with pytest.raises(ValueError, match="evaluate: num_classes \\(the confusion matrix\\) is for classify, "
                                         "not regress"):
        loop.evaluate(model, data, Regress(), num_classes=2)


@requires("matplotlib", "viz")
def test_curves_draw_the_tasks_metric():
    from cnnlab.viz import curves_figure

    history = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.2 / e, "train_psnr": 25.0 + e,
                "test_psnr": 24.0 + e} for e in (1, 2)]
    fig = curves_figure(history, metric="psnr", label="PSNR (dB)", percent=False)
    metric_ax = fig.axes[1]
    assert metric_ax.get_title() == "final test PSNR (dB) 26.00"
    assert list(metric_ax.lines[1].get_ydata()) == [25.0, 26.0]
    with pytest.raises(ValueError, match="'train_miou' is missing"):
        curves_figure(history, metric="miou")
