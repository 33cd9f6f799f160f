"""``cnnlab train --distributed`` under ``mpiexec -n 2`` on loopback (cnnlab.train.run with cnnlab.distributed).

Each MPI run has a timeout (a hang fails); skipped where mpi4py or mpiexec is missing, never in CI.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.train import TrainConfig, load_checkpoint, train
from helpers import run_worker

QUICK = ["--epochs", "2", "--limit-train", "512", "--limit-test", "256", "--no-progress"]   # 8 steps an epoch


def cnnlab_train(out, *flags, n=2, fault="none", at_step=0, timeout=240):
    """``mpiexec -n N cnnlab train --distributed QUICK --out OUT FLAGS``, rank 1 failing as `fault` says."""
    return run_worker("cli", fault, at_step, "train", "--distributed", *QUICK, "--out", out, *flags, n=n,
                      timeout=timeout)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """(a 2-rank run's folder, its stdout), and the same run's checkpoint in one process without MPI."""
    out = tmp_path_factory.mktemp("two-ranks") / "run"
    done = cnnlab_train(out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def weights(out):
    return {k: v.numpy() for k, v in load_checkpoint(out)["model"].items()}


def assert_same_run(found, expected, rtol):
    a, b = json.loads((found / "metrics.json").read_text()), json.loads((expected / "metrics.json").read_text())
    for row_a, row_b in zip(a, b, strict=True):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert row_a[key] == pytest.approx(row_b[key], rel=rtol), key
    wa, wb = weights(found), weights(expected)
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_allclose(wa[name], wb[name], rtol=rtol, atol=rtol * 1e-2, err_msg=name)


def test_two_ranks_train_as_one_process_and_only_rank_0_speaks(uninterrupted, tmp_path):
    out, stdout = uninterrupted
    assert stdout.count("training lenet5 on mnist") == 1 and "on 2 ranks of 32 images a step" in stdout
    assert stdout.count("epoch 2/2") == 1 and "rank 0 waited" in stdout
    one = tmp_path / "one"
    train(TrainConfig(epochs=2, limit_train=512, limit_test=256, out=str(one)), log=None, progress=False)
    assert_same_run(out, one, rtol=1e-4)   # float32, the sums of the global batch split in two
    assert load_checkpoint(out)["epoch"] == 2 and sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors", "curves.png", "metrics.json"]


def test_sync_batchnorm_makes_a_model_with_batch_norm_train_as_one_process(tmp_path):
    flags = ["--model", "pattern", "--sync-batchnorm", "--epochs", "1", "--optimizer", "sgd"]   # (Adam's
    # update lr·m/√v turns the rounding of gradients near 0 into steps of lr: SGD shows the equivalence better)
    done = cnnlab_train(tmp_path / "two", *flags)
    assert done.returncode == 0, done.stderr[-3000:]
    one = tmp_path / "one"
    train(TrainConfig(model="pattern", epochs=1, limit_train=512, limit_test=256, optimizer="sgd", sync_batchnorm=True,
                      out=str(one)),
          log=None, progress=False)   # one process: sync_batchnorm means nothing there
    assert_same_run(tmp_path / "two", one, rtol=1e-4)


@pytest.mark.parametrize("fault", ["kill", "raise"])
def test_a_failed_rank_stops_the_run_and_resume_finishes_it_on_another_number_of_ranks(uninterrupted, tmp_path,
                                                                                        fault):
    out = tmp_path / "run"
    stopped = cnnlab_train(out, fault=fault, at_step=12, timeout=60)   # step 4 of epoch 2; a hang fails here
    assert stopped.returncode != 0
    if fault == "raise":
        assert "cnnlab.distributed: rank 1 of 2 failed: RuntimeError: injected failure at step 12; stopping every " \
               "rank (MPI Abort)" in stopped.stderr
    assert load_checkpoint(out)["epoch"] == 1     # the last checkpoint, intact
    resumed = cnnlab_train(out, "--resume", n=1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout and "on 1 ranks of 64 images a step" in resumed.stdout
    assert_same_run(out, uninterrupted[0], rtol=1e-4)


def test_ranks_with_different_settings_are_told_at_start(tmp_path):
    done = cnnlab_train(tmp_path / "run", "--lr", "0.00{rank}1")
    assert done.returncode == 2
    assert "cnnlab train: error: the ranks disagree on the settings: lr=0.0001 on rank 0, but rank 1 has " \
           "lr=0.0011" in done.stderr
    assert not (tmp_path / "run").exists()


def test_the_global_batch_must_split_evenly(tmp_path):
    done = cnnlab_train(tmp_path / "run", "--batch-size", "63")
    assert done.returncode == 2
    assert "cnnlab train: error: --batch-size (the global batch) must be a multiple of the 2 ranks, got 63" \
        in done.stderr


def test_without_mpi4py_the_flag_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert main(["train", "--distributed", "--out", str(tmp_path / "run"), *QUICK]) == 2
    assert "cnnlab train: error: cnnlab.distributed needs mpi4py and an MPI library: pip install " \
           "'cnnlab[distributed]'" in capsys.readouterr().err
