"""End to end: a two-layer perceptron built from the core learns the real, bundled MNIST."""
from __future__ import annotations

import pytest

from cnnlab.cli import main
from cnnlab.demo import mnist_mlp


def test_two_layer_mlp_reaches_97_percent_on_mnist():
    lines = []
    metrics = mnist_mlp(epochs=3, hidden=256, batch_size=128, lr=1e-3, seed=0, log=lines.append)
    assert len(lines) == 3 and metrics["epoch"] == 3
    assert metrics["test_acc"] >= 0.97, metrics
    assert metrics["train_loss"] < 0.15, metrics


def test_cli_demo_reports_a_missing_data_dir_in_one_line(tmp_path, capsys):
    code = main(["demo", "--epochs", "1", "--data-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("cnnlab demo: error: mnist: neither train-images-idx3-ubyte.gz") and "\n" not in err


def test_cli_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--epochs", "--hidden", "--batch-size", "--lr", "--seed", "--data-dir"):
        assert flag in out
