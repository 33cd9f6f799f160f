"""The `cnnlab` command: train, eval, predict; user errors in one line, bugs with their traceback."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import numpy as np
import pytest
from helpers import installed, one_error_line, requires

import cnnlab
from cnnlab import cli
from cnnlab.cli import main
from cnnlab.data import MNIST
from cnnlab.train import run

QUICK = ["--epochs", "2", "--limit-train", "256", "--limit-test", "128", "--prefetch", "0", "--no-progress"]
TIMING = ("seconds", "images_per_second")


def numbers(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One quick LeNet-5 run made by the command line: (its folder, what it printed)."""
    out = tmp_path_factory.mktemp("cli") / "lenet"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", *QUICK, "--out", str(out)])
    capture = printed.getvalue().splitlines()
    assert code == 0
    return out, capture


def test_train_writes_the_run_folder_and_prints_the_test_accuracy(trained):
    out, lines = trained
    assert lines[0].startswith("training lenet5 on mnist: 256 training and 128 test images")
    assert re.fullmatch(r"test accuracy: \d+\.\d\d% on the 128 mnist test images after 2 epochs", lines[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert set(metrics[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                               "images_per_second"}
    assert f"{metrics[-1]['test_acc']:.2%}" in lines[-1]
    ckpt = run.load_checkpoint(out / "checkpoint.safetensors")
    assert ckpt["epoch"] == 2 and ckpt["config"].model == "lenet5" and ckpt["config"].limit_train == 256
    if installed("matplotlib"):
        assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert not (out / "curves.png").exists()


def test_train_with_the_same_seed_gives_the_same_numbers_and_resume_continues_exactly(trained, tmp_path, capsys):
    out, _ = trained
    assert main(["train", *QUICK, "--out", str(tmp_path / "again")]) == 0
    first = json.loads((out / "metrics.json").read_text())
    assert numbers(json.loads((tmp_path / "again" / "metrics.json").read_text())) == numbers(first)
    # a run stopped after epoch 1: its folder as it was then, from a one-epoch twin
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        run.train(cnnlab.train.TrainConfig(epochs=2, limit_train=256, limit_test=128, prefetch=0, out=str(stopped)),
                  log=lambda line: (_ for _ in ()).throw(KeyboardInterrupt) if line.startswith("epoch 2/") else None,
                  progress=False)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(stopped), "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"resuming {stopped} after epoch 1 of 2\n")
    assert numbers(json.loads((stopped / "metrics.json").read_text())) == numbers(first)


def test_train_picks_a_fresh_default_folder_and_never_overwrites_a_run(trained, tmp_path, monkeypatch, capsys):
    out, _ = trained
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "lenet5-mnist").mkdir(parents=True)
    shutil.copy(out / "checkpoint.safetensors", tmp_path / "runs" / "lenet5-mnist")
    assert main(["train", *QUICK[:-5], "--epochs", "1", "--no-progress", "--limit-test", "64"]) == 0
    assert (tmp_path / "runs" / "lenet5-mnist-2" / "checkpoint.safetensors").is_file()
    capsys.readouterr()
    err = one_error_line(capsys, main(["train", "--out", "runs/lenet5-mnist"]), "train")
    assert err == ("cnnlab train: error: runs/lenet5-mnist holds a run already (checkpoint.safetensors); "
                   "pass --resume to continue it, or choose another --out")


def test_train_help_explains_every_flag_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    flags = ["--task", "--model", "--model-args", "--dataset", "--scale", "--data-dir", "--download", "--augment", "--limit-train",
             "--limit-test", "--epochs", "--batch-size", "--optimizer", "--lr", "--momentum", "--weight-decay",
             "--schedule", "--seed", "--out", "--resume", "--prefetch", "--no-progress"]
    for flag in flags:
        assert re.search(rf"{flag}\b", text), flag
    assert text.count("(default:") >= len(flags)
    for default in ("lenet5 for classify", "mnist for classify", "unet for segment", "(default: 10)", "(default: 64)", "(default: adamw)",
                    "(default: onecycle)", "(default: 0)", "(default: 2)"):
        assert default in text, default


@pytest.mark.parametrize("args, message", [
    (["--model", "lenet6"], "argument --model: invalid choice: 'lenet6'"),
    (["--dataset", "svhn"], "argument --dataset: invalid choice: 'svhn'"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
])
def test_train_argument_errors_are_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    err = one_error_line(capsys, exit_info.value.code, "train")
    assert message in err and err.endswith("(see 'cnnlab train --help')")


@pytest.mark.parametrize("make_args, message", [
    (lambda p: ["--data-dir", str(p / "nowhere")], "cnnlab train: error: data directory {p}/nowhere does not exist"),
    (lambda p: ["--dataset", "fashion-mnist"], "cnnlab train: error: fashion-mnist is not bundled with cnnlab"),
    (lambda p: ["--data-dir", str(p)], "cnnlab train: error: MNIST: no such file: {p}/MNIST/raw/train-images"),
    (lambda p: ["--resume"],
     "cnnlab train: error: --resume: there is no checkpoint to resume from at {p}/o/checkpoint.safetensors"),
    (lambda p: ["--model-args", "width=3"], "cnnlab train: error: --model lenet5 has no argument 'width'"),
    (lambda p: ["--model-args", "widths"], "cnnlab train: error: --model-args takes KEY=VALUE items"),
    (lambda p: ["--model", "alexnet"], "cnnlab train: error: --model alexnet can't take mnist's 1×28×28 images"),
    (lambda p: ["--epochs", "0"], "cnnlab train: error: --epochs must be an int >= 1, got 0"),
    (lambda p: ["--lr", "-1"], "cnnlab train: error: --lr must be a finite number >= 0, got -1.0"),
])
def test_train_user_errors_are_one_line(make_args, message, tmp_path, capsys):
    err = one_error_line(capsys, main(["train", *make_args(tmp_path), "--out", str(tmp_path / "o")]), "train")
    assert err.startswith(message.format(p=tmp_path)), err


def test_resume_with_other_settings_is_refused(trained, tmp_path, capsys):
    out, _ = trained
    shutil.copytree(out, tmp_path / "r")
    err = one_error_line(capsys, main(["train", "--resume", "--out", str(tmp_path / "r"), "--lr", "0.1"]), "train")
    assert err.startswith("cnnlab train: error: --lr is 0.1, but the run in "), err
    assert err.endswith("a resumed run keeps its settings (only --data-dir, --download, --prefetch, eval_batch_size, "
                        "--out, --distributed may change)"), err


def test_train_keeps_freed_memory_for_its_own_process(monkeypatch, tmp_path):
    """`cnnlab train` opts in to runtime.keep_freed_memory before training (the library never does)."""
    import cnnlab.train

    calls = []
    monkeypatch.setattr(cnnlab.runtime, "keep_freed_memory", lambda enabled=True: calls.append(enabled) or True)
    monkeypatch.setattr(cnnlab.train, "train", lambda config, **kwargs: calls.append("train"))
    assert main(["train", *QUICK, "--out", str(tmp_path / "o")]) == 0
    assert calls == [True, "train"]


def test_bugs_keep_their_traceback(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(run, "build_model", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train", *QUICK, "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):  # --traceback: the user asked for it
        main(["--traceback", "train", "--epochs", "0", "--out", str(tmp_path / "o")])


def test_eval_prints_loss_accuracy_and_the_confusion_matrix(trained, capsys):
    out, _ = trained
    assert main(["eval", "--checkpoint", str(out), "--limit-test", "128"]) == 0
    lines = capsys.readouterr().out.splitlines()
    last = json.loads((out / "metrics.json").read_text())[-1]
    assert lines[0] == f"{out / 'checkpoint.safetensors'}: lenet5 trained on mnist for 2 epochs"
    assert lines[1] == (f"test loss {last['test_loss']:.4f}  test accuracy {last['test_acc']:.2%} "
                        f"({round(128 * last['test_acc'])}/128 mnist test images)")
    assert lines[2] == "confusion matrix (rows: true class, columns: predicted class):"
    assert lines[3].split() == ["true", "\\", "predicted", *map(str, range(10)), "recall"]
    rows = [line.split() for line in lines[4:]]
    assert len(rows) == 10 and rows[7][:3] == ["7", "-", "seven"]
    counts = np.array([[int(v) for v in row[3:13]] for row in rows])
    assert counts.sum() == 128 and counts.trace() == round(128 * last["test_acc"])


@pytest.mark.parametrize("make_args, message", [
    (lambda p: ["--checkpoint", str(p / "none.safetensors")], "no checkpoint at {p}/none.safetensors"),
    (lambda p: ["--checkpoint", str(p)], "no checkpoint at {p}/checkpoint.safetensors"),
    (lambda p: ["--checkpoint", str(p / "junk.bin")],
     "{p}/junk.bin is not a cnnlab training checkpoint (not a safetensors file: file is 3 bytes, shorter than"),
    (lambda p: ["--checkpoint", str(p / "text.txt")], "{p}/text.txt is not a cnnlab training checkpoint (not a "
     "safetensors file: its first 8 bytes give a header length of 8031924123371070824, over the limit of "),
    (lambda p: ["--checkpoint", str(p / "weights.safetensors")],
     "{p}/weights.safetensors is a safetensors file but not a cnnlab training checkpoint"),
])
def test_eval_user_errors_are_one_line(make_args, message, tmp_path, capsys):
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 3)
    (tmp_path / "text.txt").write_text("hello world, not a checkpoint")
    cnnlab.save({"weight": cnnlab.zeros(2)}, tmp_path / "weights.safetensors")
    err = one_error_line(capsys, main(["eval", *make_args(tmp_path)]), "eval")
    assert err.startswith("cnnlab eval: error: " + message.format(p=tmp_path)), err


def test_eval_refuses_a_dataset_of_another_shape(trained, capsys):
    out, _ = trained
    err = one_error_line(capsys, main(["eval", "--checkpoint", str(out), "--dataset", "cifar10"]), "eval")
    assert "the model was trained on mnist (1×28×28, 10 classes) and can't be tested on --dataset cifar10 (3×32×32" in err


@requires("PIL", "train")
def test_predict_prints_the_top_k_classes(trained, tmp_path, capsys):
    out, _ = trained
    from PIL import Image

    test_set = MNIST(train=False)
    for i in range(2):
        Image.fromarray(test_set.data[i]).save(tmp_path / f"digit{i}.png")
    Image.fromarray(255 - test_set.data[0]).convert("RGB").save(tmp_path / "paper.jpg")
    paths = [str(tmp_path / "digit0.png"), str(tmp_path / "digit1.png")]
    assert main(["predict", "--checkpoint", str(out), *paths, "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == paths[0] and lines[4] == paths[1] and len(lines) == 8
    ranked = [re.fullmatch(r"  (\d)\. (\d) - \w+ +(\d+\.\d\d)%", line) for line in lines[1:4]]
    assert all(ranked) and [m.group(1) for m in ranked] == ["1", "2", "3"]
    probs = [float(m.group(3)) for m in ranked]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 100.01
    # the top class is the model's answer on the very image the test set holds
    model, info = run.model_from_checkpoint(run.load_checkpoint(out))
    from cnnlab.train.tasks import DATASETS, _transforms
    x = _transforms(DATASETS["mnist"], augment=False)(test_set.data[0])
    assert ranked[0].group(2) == str(int(model(x.unsqueeze(0)).argmax(dim=1).item()))
    assert main(["predict", "--checkpoint", str(out), "--invert", "--top-k", "1", str(tmp_path / "paper.jpg")]) == 0
    inverted = capsys.readouterr()
    lines = inverted.out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"  1. {ranked[0].group(2)} - ") and inverted.err == ""
    # by default the dark digit on light paper is inverted too, with a note that says so
    assert main(["predict", "--checkpoint", str(out), "--top-k", "1", str(tmp_path / "paper.jpg")]) == 0
    auto = capsys.readouterr()
    assert auto.out == inverted.out
    assert auto.err == (f"note: {tmp_path / 'paper.jpg'} has a light background, unlike mnist's light-on-dark "
                        "images: inverted it (--no-invert keeps it as it is)\n")
    assert main(["predict", "--checkpoint", str(out), "--no-invert", "--top-k", "1", str(tmp_path / "paper.jpg")]) == 0
    kept = capsys.readouterr()
    assert kept.err == "" and kept.out != inverted.out  # the light page read as it is: another answer
    # and an MNIST digit as it is (light on dark) is not inverted
    assert main(["predict", "--checkpoint", str(out), "--top-k", "1", paths[0]]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("make_args, message", [
    pytest.param(lambda p, ck: ["--checkpoint", ck, str(p / "nope.png")], "no such image file: {p}/nope.png",
                 marks=requires("PIL", "train")),
    pytest.param(lambda p, ck: ["--checkpoint", ck, str(p / "bad.png")], "can't read {p}/bad.png as an image",
                 marks=requires("PIL", "train")),
    pytest.param(lambda p, ck: ["--checkpoint", ck, str(p)], "{p} is a directory, not an image file",
                 marks=requires("PIL", "train")),
    (lambda p, ck: ["--checkpoint", ck, "--top-k", "11", str(p / "bad.png")],
     "--top-k must be in [1, 10] (the number of classes), got 11"),
    (lambda p, ck: ["--checkpoint", str(p / "bad.png"), str(p / "bad.png")],
     "{p}/bad.png is not a cnnlab training checkpoint (not a safetensors file: "),
])
def test_predict_user_errors_are_one_line(trained, make_args, message, tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not an image")
    err = one_error_line(capsys, main(["predict", *make_args(tmp_path, str(trained[0]))]), "predict")
    assert err.startswith("cnnlab predict: error: " + message.format(p=tmp_path)), err


def test_predict_without_pillow_says_which_extra_to_install(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    (tmp_path / "x.png").write_bytes(b"")
    err = one_error_line(capsys, main(["predict", "--checkpoint", str(trained[0]), str(tmp_path / "x.png")]),
                         "predict")
    assert err == "cnnlab predict: error: reading images needs Pillow: pip install 'cnnlab[train]'"


def test_the_user_errors_are_the_documented_ones():
    assert set(cli.USER_ERRORS) == {ValueError, FileNotFoundError, IsADirectoryError, cnnlab.data.DownloadError,
                                    cnnlab.train.MissingExtraError}


def test_an_interrupted_train_says_how_to_resume(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnlab.train, "train", interrupted)
    assert main(["train", "--out", str(tmp_path / "o")]) == 130
    err = capsys.readouterr().err
    assert f"continue with cnnlab train --resume --out {tmp_path / 'o'}" in err


# ---------------------------------------------------------------- errors name the flag
@pytest.mark.parametrize("argv, message", [
    (["demo", "--epochs", "0"], "--epochs must be an int >= 1, got 0"),
    (["demo", "--epochs", "-1"], "--epochs must be an int >= 1, got -1"),
    (["demo", "--batch-size", "0"], "--batch-size must be an int >= 1, got 0"),
    (["demo", "--hidden", "0"], "--hidden must be an int >= 1, got 0"),
    (["demo", "--lr", "inf"], "--lr must be a finite number >= 0, got inf"),
    (["train", "--batch-size", "0"], "--batch-size must be an int >= 1, got 0"),
    (["train", "--epochs", "0"], "--epochs must be an int >= 1, got 0"),
    (["train", "--limit-test", "0"], "--limit-test must be an int >= 1, got 0"),
    (["train", "--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
    (["train", "--scale", "2"], "--scale is for the super-resolution task, not classify, got 2"),
    (["train", "--model-args", "variant"], "--model-args takes KEY=VALUE items, got 'variant'"),
    (["train", "--model-args", "depth=3"], "--model lenet5 has no argument 'depth' (--model-args); it takes"),
    (["train", "--dataset", "cifar10"], "cifar10 is not bundled with cnnlab; give the folder of its files with "
                                        "--data-dir, and --download to fetch them"),
])
def test_settings_errors_name_the_flag(argv, message, capsys):
    err = one_error_line(capsys, main(argv), argv[0])
    assert err.startswith(f"cnnlab {argv[0]}: error: {message}"), err
    assert "_" not in err.split(":")[2].split()[0], err  # a flag, not a Python name


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size must be an int >= 1, got 0"),
    (["--limit-test", "0"], "--limit-test must be an int >= 1, got 0"),
    (["--dataset", "fashion-mnist"], "fashion-mnist is not bundled with cnnlab; give the folder of its files with "
                                     "--data-dir, and --download to fetch them"),
])
def test_eval_errors_name_its_own_flags(trained, argv, message, capsys):
    err = one_error_line(capsys, main(["eval", "--checkpoint", str(trained[0]), *argv]), "eval")
    assert err == f"cnnlab eval: error: {message}"  # no "train: " or "TrainConfig: " inside


def test_eval_takes_the_data_flags_of_train():
    args = cli.build_parser().parse_args(["eval", "--checkpoint", "c", "--data-dir", "d", "--download"])
    assert args.download is True and args.data_dir == "d"


def test_from_python_errors_name_the_argument():
    from cnnlab.demo import mnist_mlp
    from cnnlab.train import TrainConfig
    with pytest.raises(ValueError, match=r"^TrainConfig: batch_size must be an int >= 1, got 0$"):
        TrainConfig(batch_size=0).validate()
    with pytest.raises(ValueError, match=r"^TrainConfig: eval_batch_size must be an int >= 1, got 0$"):
        TrainConfig(eval_batch_size=0).validate()
    with pytest.raises(ValueError, match=r"^build_datasets: cifar10 is not bundled with cnnlab; give the folder of "
                                         r"its files with data_dir, and download=True to fetch them$"):
        cnnlab.train.build_datasets(TrainConfig(dataset="cifar10"))
    with pytest.raises(ValueError, match=r"^mnist_mlp: epochs must be an int >= 1, got 0$"):
        mnist_mlp(epochs=0)
    with pytest.raises(ValueError, match=r"^mnist_mlp: batch_size must be an int >= 1, got 0$"):
        mnist_mlp(batch_size=0)


def test_predict_invert_is_a_plain_switch_before_the_images():
    parse = cli.build_parser().parse_args
    assert parse(["predict", "--checkpoint", "c", "--invert", "a.png"]).invert is True
    assert parse(["predict", "--checkpoint", "c", "--no-invert", "a.png"]).invert is False
    assert parse(["predict", "--checkpoint", "c", "a.png"]).invert is None  # look at each image
