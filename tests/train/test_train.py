"""cnnlab.train: the loop, runs with checkpoints, exact resume, the same numbers from the same seed."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import requires

import cnnlab
from cnnlab import nn, optim
from cnnlab.data import DataLoader, MNIST, TensorDataset
from cnnlab.train import config as C
from cnnlab.train import inference as P, loop, run, tasks
from cnnlab.train.progress import Progress

TIMING = ("seconds", "images_per_second")
TINY = dict(limit_train=256, limit_test=128, batch_size=64, prefetch=0)
# a small net with batch norm (buffers) and dropout (cnnlab's generator): everything a resume must restore
SMALL_PATTERN = {"pattern": "INPUT -> [CONV -> BN -> RELU -> POOL]*2 -> FC -> RELU -> DROPOUT -> FC",
                 "widths": [4, 8], "fc_widths": [16]}


def numbers(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


# ---------------------------------------------------------------- confusion matrix
def test_confusion_matrix_matches_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    expected = np.zeros((5, 5), np.int64)
    for i, j in zip(t, p):
        expected[i, j] += 1
    got = loop.confusion_matrix(t, p, 5)
    assert got.dtype == np.int64 and np.array_equal(got, expected)
    assert got.sum() == 200 and got.trace() == (t == p).sum()


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match=r"confusion_matrix: targets and predictions must have the same length, "
                                         r"got 2 and 3"):
        loop.confusion_matrix([0, 1], [0, 1, 1], 2)
    with pytest.raises(ValueError, match=r"confusion_matrix: predictions must be class indices in \[0, 2\), "
                                         r"got values in \[0, 2\]"):
        loop.confusion_matrix([0, 1], [0, 2], 2)


def test_format_confusion_matrix_is_a_readable_table():
    text = loop.format_confusion_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"])
    lines = text.splitlines()
    assert lines[0].split() == ["true", "\\", "predicted", "0", "1", "recall"]
    assert lines[1].split() == ["cat", "5", "1", "83.33%"]
    assert lines[2].split() == ["dog", "0", "4", "100.00%"]
    assert len({len(line) for line in lines}) == 1  # aligned columns


# ---------------------------------------------------------------- config and builders
@pytest.mark.parametrize("change, message", [
    (dict(model="lenet6"), "TrainConfig: unknown model 'lenet6'; choose from alexnet, espcn, fcn, gapnet, lenet5, pattern"),
    (dict(dataset="svhn"), "TrainConfig: unknown dataset 'svhn'; choose from mnist, fashion-mnist, cifar10"),
    (dict(optimizer="lbfgs"), "TrainConfig: unknown optimizer 'lbfgs'; choose from sgd, adam, adamw"),
    (dict(schedule="poly"), "TrainConfig: unknown schedule 'poly'; choose from none, step, cosine, onecycle"),
    (dict(epochs=0), r"TrainConfig: epochs must be an int >= 1, got 0"),
    (dict(batch_size=2.5), r"TrainConfig: batch_size must be an int >= 1, got 2.5"),
    (dict(limit_train=0), r"TrainConfig: limit_train must be an int >= 1, got 0"),
    (dict(lr=-1.0), r"TrainConfig: lr must be a finite number >= 0, got -1.0"),
    (dict(momentum=1.0), r"TrainConfig: momentum must be in \[0, 1\), got 1.0"),
    (dict(seed=-3), r"TrainConfig: seed must be an int >= 0, got -3"),
])
def test_config_is_checked_before_any_work(change, message):
    with pytest.raises(ValueError, match=message):
        C.TrainConfig(**change).resolved()


def test_config_fills_in_the_optimizers_defaults_and_round_trips():
    c = C.TrainConfig(optimizer="sgd").resolved()
    assert (c.lr, c.weight_decay) == (0.05, 5e-4)
    c = C.TrainConfig().resolved()
    assert (c.model, c.dataset, c.optimizer, c.lr, c.weight_decay, c.schedule) == (
        "lenet5", "mnist", "adamw", 3e-3, 0.01, "onecycle")
    assert C.TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="TrainConfig: unknown setting 'colour'"):
        C.TrainConfig.from_dict({**c.to_dict(), "colour": 1})


def test_parse_model_args_reads_json_or_text():
    assert C.parse_model_args(["variant=classic", "widths=[4, 8]", "batch_norm=false", "p=0.5"]) == {
        "variant": "classic", "widths": [4, 8], "batch_norm": False, "p": 0.5}
    with pytest.raises(ValueError, match="parse_model_args: model_args takes KEY=VALUE items, got 'widths'"):
        C.parse_model_args(["widths"])


def test_build_model_sizes_the_model_for_the_dataset():
    mnist = C.DATASETS["mnist"]
    net = C.build_model("lenet5", mnist)
    assert sum(p.numel() for p in net.parameters()) == 61_706 and net.training
    classic = C.build_model("lenet5", mnist, {"variant": "classic"})
    assert isinstance(classic[1], nn.Tanh)
    pattern = C.build_model("pattern", C.DATASETS["cifar10"], {"widths": [4, 8], "fc_widths": [16]})
    assert pattern(cnnlab.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="build_model: model lenet5 has no argument 'width' \\(model_args\\); it takes variant"):
        C.build_model("lenet5", mnist, {"width": 3})
    with pytest.raises(ValueError, match="lenet5: variant must be 'modern' or 'classic'"):
        C.build_model("lenet5", mnist, {"variant": "new"})
    with pytest.raises(ValueError, match=r"build_model: model alexnet can't take mnist's 1×28×28 images: "):
        C.build_model("alexnet", mnist)
    with pytest.raises(ValueError, match=r"from_pattern: expected"):
        C.build_model("pattern", mnist, {"pattern": "INPUT -> -> FC"})


def test_build_datasets_limits_and_checks_folders(tmp_path):
    train_set, test_set, info = C.build_datasets(C.TrainConfig(limit_train=100, limit_test=50))
    assert (len(train_set), len(test_set), info.num_classes) == (100, 50, 10)
    x, y = DataLoader(test_set, batch_size=50).__iter__().__next__()
    assert x.shape == (50, 1, 28, 28) and x.dtype == np.float32
    assert abs(float(x.data.mean()) + 0.0) < 1  # normalised
    with pytest.raises(FileNotFoundError, match=f"data directory {re.escape(str(tmp_path / 'no'))} does not"):
        C.build_datasets(C.TrainConfig(data_dir=str(tmp_path / "no")))
    with pytest.raises(ValueError, match="build_datasets: fashion-mnist is not bundled with cnnlab; give the folder"):
        C.build_datasets(C.TrainConfig(dataset="fashion-mnist"))
    with pytest.raises(FileNotFoundError, match="FashionMNIST: no such file"):
        C.build_datasets(C.TrainConfig(dataset="fashion-mnist", data_dir=str(tmp_path)))


def test_build_scheduler_per_schedule():
    net = nn.Linear(2, 2)
    for name, cls, per_batch in (("step", optim.lr_scheduler.StepLR, False),
                                 ("cosine", optim.lr_scheduler.CosineAnnealingLR, False),
                                 ("onecycle", optim.lr_scheduler.OneCycleLR, True)):
        c = C.TrainConfig(schedule=name, epochs=6).resolved()
        sched, step_each_batch = C.build_scheduler(c, C.build_optimizer(c, net.parameters()), 10)
        assert isinstance(sched, cls) and step_each_batch is per_batch
    c = C.TrainConfig(schedule="step", epochs=6, optimizer="sgd").resolved()
    sched, _ = C.build_scheduler(c, C.build_optimizer(c, net.parameters()), 10)
    assert sched.step_size == 2
    assert C.build_scheduler(C.TrainConfig(schedule="none").resolved(), None, 10) == (None, False)


# ---------------------------------------------------------------- the loop
def test_fit_learns_a_separable_toy_problem():
    cnnlab.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
    lines, saved = [], []
    history = loop.fit(model, loader, DataLoader(TensorDataset(x, y), batch_size=128),
                       optim.Adam(model.parameters(), lr=0.05), epochs=3,
                       on_epoch_end=lambda h: saved.append(len(h)), log=lines.append)
    assert [row["epoch"] for row in history] == [1, 2, 3] and saved == [1, 2, 3]
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                               "images_per_second"}
    assert history[-1]["test_acc"] > 0.95 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert lines[-1].startswith("epoch 3/3  train loss ")
    result = loop.evaluate(model, DataLoader(TensorDataset(x, y), batch_size=100), num_classes=2)
    assert result["confusion_matrix"].sum() == 256 and not model.training
    assert result["acc"] == history[-1]["test_acc"]


def test_progress_falls_back_to_plain_lines():
    lines = []
    bar = Progress(100, "epoch 1/2", lines.append, every=0.0, use_tqdm=False)
    bar.update(50, 0.5, "acc 75.00%")
    bar.close()
    assert re.fullmatch(r"epoch 1/2: 50/100 images  loss 0.5000  acc 75.00%  \d+ img/s", lines[0])


@requires("tqdm", "train")
def test_progress_uses_tqdm_when_asked(capsys):
    bar = Progress(100, "epoch 1/2", None, use_tqdm=True)
    bar.update(100, 0.5, "acc 75.00%")
    shown = str(bar._bar)  # what the bar draws (on stderr, at most every 0.1 s)
    bar.close()
    assert re.match(r"epoch 1/2 100%\|.*\| \S+<\S+ .*img/s, loss 0.5000 acc 75.00%$", shown), shown
    assert "epoch 1/2" in capsys.readouterr().err


@requires("tqdm", "train")
def test_progress_bar_keeps_its_numbers_at_80_columns():
    bar = Progress(60000, "epoch 10/10", None, use_tqdm=True, ncols=80)
    bar.update(30000, 0.01234, "acc 99.12%")
    shown = str(bar._bar)
    bar.close()
    assert len(shown) <= 80 and shown.endswith("img/s, loss 0.0123 acc 99.12%"), shown
    assert re.search(r"\|.{10,}\|", shown), shown  # and the bar itself still has room


# ---------------------------------------------------------------- runs
def test_a_run_writes_its_folder_and_the_same_seed_gives_the_same_numbers(tmp_path):
    lines = []
    config = C.TrainConfig(epochs=2, out=str(tmp_path / "a"), **TINY)
    history = run.train(config, log=lines.append, progress=False)
    assert lines[0].startswith("training lenet5 on mnist: 256 training and 128 test images, 61,706 parameters")
    assert lines[-1].startswith("test accuracy: ") and "on the 128 mnist test images after 2 epochs" in lines[-1]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics == history and [m["epoch"] for m in metrics] == [1, 2]
    ckpt = run.load_checkpoint(tmp_path / "a")
    assert ckpt["epoch"] == 2 and ckpt["config"] == config.resolved() and numbers(ckpt["metrics"]) == numbers(history)
    model, info = run.model_from_checkpoint(ckpt)
    _, test_set, _ = C.build_datasets(config)
    assert loop.evaluate(model, DataLoader(test_set, batch_size=64))["acc"] == history[-1]["test_acc"]
    again = run.train(C.TrainConfig(epochs=2, **{**TINY, "prefetch": 2}), log=None)  # prefetching changes nothing
    assert numbers(again) == numbers(history)
    other = run.train(C.TrainConfig(epochs=2, seed=1, **TINY), log=None)
    assert numbers(other) != numbers(history)


@requires("matplotlib", "train")
def test_curves_png_is_written_or_skipped_with_a_note(tmp_path, monkeypatch):
    run.train(C.TrainConfig(epochs=1, out=str(tmp_path / "a"), **TINY), log=None)
    assert (tmp_path / "a" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    lines = []
    run.train(C.TrainConfig(epochs=2, out=str(tmp_path / "b"), **TINY), log=lines.append, progress=False)
    assert not (tmp_path / "b" / "curves.png").exists() and (tmp_path / "b" / "metrics.json").exists()
    notes = [line for line in lines if line.startswith("note:")]
    assert notes == ["note: curves.png skipped: matplotlib is not installed (pip install 'cnnlab[train]')"]


def _stop_after(k):
    """A log that interrupts the run while it finishes epoch k + 1, before that epoch's checkpoint is written."""
    def log(line):
        if line.startswith(f"epoch {k + 1}/"):
            raise KeyboardInterrupt
    return log


@pytest.mark.parametrize("k", [1, 2])
def test_resuming_after_epoch_k_gives_the_uninterrupted_numbers(tmp_path, k):
    common = dict(TINY, limit_train=512, epochs=3, model="pattern", model_args=SMALL_PATTERN, augment=True,
                  prefetch=1)
    whole = run.train(C.TrainConfig(out=str(tmp_path / "whole"), **common), log=None)
    out = str(tmp_path / "stopped")
    with pytest.raises(KeyboardInterrupt):
        run.train(C.TrainConfig(out=out, **common), log=_stop_after(k), progress=False)
    assert run.load_checkpoint(out)["epoch"] == k
    lines = []
    resumed = run.train(C.TrainConfig(out=out, **common), resume=True, log=lines.append, progress=False)
    assert lines[0] == f"resuming {out} after epoch {k} of 3"
    assert numbers(resumed) == numbers(whole)
    assert numbers(json.loads((tmp_path / "stopped" / "metrics.json").read_text())) == numbers(whole)


def test_resume_checks(tmp_path):
    out = str(tmp_path / "r")
    with pytest.raises(FileNotFoundError, match=f"no checkpoint at {re.escape(out)}"):
        run.train(C.TrainConfig(out=out, **TINY), resume=True, log=None)
    with pytest.raises(ValueError, match="resume: give the run folder"):
        run.train(C.TrainConfig(**TINY), resume=True, log=None)
    run.train(C.TrainConfig(out=out, epochs=1, **TINY), log=None)
    with pytest.raises(ValueError, match=r"resume: lr is 0.1, but the run in .* was made with 0.003; a resumed run "
                                         r"keeps its settings \(only data_dir, download, prefetch"):
        run.train(C.TrainConfig(out=out, epochs=1, lr=0.1, **TINY), resume=True, log=None)
    done = run.train(C.TrainConfig(out=out, epochs=1, **{**TINY, "prefetch": 3}), resume=True, log=None)
    assert len(done) == 1  # nothing left to do


def test_load_checkpoint_rejects_foreign_files(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"junk.safetensors is not a cnnlab training checkpoint \(not a safetensors file: "):
        run.load_checkpoint(tmp_path / "junk.safetensors")
    cnnlab.save({"weight": cnnlab.zeros(2)}, tmp_path / "weights.safetensors")
    with pytest.raises(ValueError, match="is a safetensors file but not a cnnlab training checkpoint"):
        run.load_checkpoint(tmp_path / "weights.safetensors")
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*checkpoint.safetensors"):
        run.load_checkpoint(tmp_path)


# ---------------------------------------------------------------- predict
@requires("PIL", "train")
def test_load_image_applies_the_training_preprocessing(tmp_path):
    from PIL import Image

    test_set = MNIST(train=False, transform=tasks._transforms(C.DATASETS["mnist"], augment=False))
    Image.fromarray(test_set.data[0]).save(tmp_path / "digit.png")
    info = C.DATASETS["mnist"]
    x = P.load_image(tmp_path / "digit.png", 1, 28, info.mean, info.std)
    np.testing.assert_array_equal(x, test_set[0][0].data)  # exactly what training saw
    Image.fromarray(255 - test_set.data[0]).convert("RGB").resize((56, 56)).save(tmp_path / "big.png")
    big = P.load_image(tmp_path / "big.png", 1, 28, info.mean, info.std, invert=True)
    assert big.shape == (1, 28, 28) and np.abs(big - x).mean() < 0.2  # resized back: close, not equal
    rgb = P.load_image(tmp_path / "digit.png", 3, 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert rgb.shape == (3, 32, 32) and np.array_equal(rgb[0], rgb[2])
    with pytest.raises(FileNotFoundError, match="no such image file: .*nope.png"):
        P.load_image(tmp_path / "nope.png", 1, 28, info.mean, info.std)
    (tmp_path / "bad.png").write_text("text")
    with pytest.raises(ValueError, match="can't read .*bad.png as an image"):
        P.load_image(tmp_path / "bad.png", 1, 28, info.mean, info.std)


def test_predict_ranks_the_classes():
    cnnlab.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = np.random.default_rng(0).normal(size=(5, 1, 2, 2)).astype(np.float32)
    top = P.predict(model, x, top_k=3)
    probs = cnnlab.softmax(model(cnnlab.from_numpy(x)), dim=1).detach().numpy()
    for row, p in zip(top, probs):
        assert [k for k, _ in row] == list(np.argsort(-p)) and np.allclose([q for _, q in row], np.sort(p)[::-1])
    with pytest.raises(ValueError, match=r"predict: top_k must be an int in \[1, 3\]"):
        P.predict(model, x, top_k=4)


def test_curves_need_a_history():
    from cnnlab.viz import curves_png
    with pytest.raises(ValueError, match=r"plot_curves: history is empty \(no epoch finished yet\)"):
        curves_png([])
    with pytest.raises(ValueError, match="plot_curves: every epoch needs epoch, train_loss, test_loss, train_acc, "
                                         "test_acc; 'test_acc' is missing"):
        curves_png([{"epoch": 1, "train_loss": 1.0, "test_loss": 1.0, "train_acc": 0.5}])


@requires("matplotlib", "train")
@pytest.mark.parametrize("accs", [
    [(0.90, 0.965), (0.985, 0.988), (0.991, 0.992)],   # a first epoch far below the others (the main job's)
    [(0.11, 0.10), (0.12, 0.13)],                       # a model that learns nothing
    [(1.0, 1.0)],                                        # one perfect epoch
])
def test_curves_show_every_point_inside_the_axes(accs):
    from cnnlab.viz import curves_figure
    history = [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "test_loss": 1.2 / (i + 1), "train_acc": a,
                "test_acc": b} for i, (a, b) in enumerate(accs)]
    fig = curves_figure(history)
    for ax in fig.axes:
        low, high = ax.get_ylim()
        for line in ax.get_lines():
            assert all(low < y < high for y in line.get_ydata()), (ax.get_ylabel(), low, high, line.get_ydata())
        left, right = ax.get_xlim()
        assert all(left <= x <= right for line in ax.get_lines() for x in line.get_xdata())


def test_import_weights_takes_a_state_dict_and_names_key_for_a_nested_one(tmp_path):
    from cnnlab.io import save_torch
    from cnnlab.models import lenet5
    from cnnlab.train import TrainConfig, import_weights, load_checkpoint

    cnnlab.manual_seed(5)
    state = lenet5().state_dict()
    save_torch({"model": state, "epoch": 1}, tmp_path / "nested.pt")
    with pytest.raises(ValueError, match=r"^import: .*nested.pt holds a nested checkpoint \('model', 'epoch'\), not a "
                                         r"state dict: pick the entry of the weights with key$"):
        import_weights(tmp_path / "nested.pt", tmp_path / "c.safetensors", TrainConfig())
    path = import_weights(tmp_path / "nested.pt", tmp_path / "run" / "c.safetensors", TrainConfig(), key="model")
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 0 and ckpt["config"].model == "lenet5"
    for k, v in state.items():
        np.testing.assert_array_equal(ckpt["model"][k].numpy(), v.numpy(), err_msg=k)
