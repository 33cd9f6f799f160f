"""cnnlab.distributed: the sampler alone, and everything else in real ``mpiexec -n 2`` runs on loopback.

The MPI runs (tests/mpi_worker.py, and ``cnnlab train --distributed``) each have a timeout, so a
hang fails instead of blocking. They are skipped where mpi4py or mpiexec is missing, never in CI
(the `test` extra installs them).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import cnnlab
from cnnlab.data import DataLoader, TensorDataset
from cnnlab import distributed as dist
from cnnlab.messages import MissingExtraError

from helpers import HERE, run_worker

# ---------------------------------------------------------------- DistributedSampler (no MPI needed)
def test_the_sampler_shards_are_disjoint_and_cover_the_epochs_permutation():
    data = range(10)
    shards = [list(dist.DistributedSampler(data, num_replicas=2, rank=r, seed=4)) for r in range(2)]
    order = np.random.default_rng([4, 0]).permutation(10).tolist()   # the DataLoader's shuffle of epoch 0
    assert shards == [order[0::2], order[1::2]]
    assert not set(shards[0]) & set(shards[1])


def test_the_sampler_pads_or_drops_as_pytorch(torch):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for n, w, drop in [(10, 3, False), (10, 3, True), (2, 5, False), (7, 7, True), (9, 4, False)]:
        for r in range(w):
            ours = dist.DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=False, drop_last=drop)
            theirs = TorchSampler(range(n), num_replicas=w, rank=r, shuffle=False, drop_last=drop)
            assert list(ours) == list(theirs) and len(ours) == len(theirs), (n, w, drop, r)


def test_set_epoch_changes_the_order_the_same_on_every_rank():
    samplers = [dist.DistributedSampler(range(8), num_replicas=2, rank=r, seed=1) for r in range(2)]
    first = [list(s) for s in samplers]
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert first != second and sorted(second[0] + second[1]) == list(range(8))
    assert first == [list(dist.DistributedSampler(range(8), num_replicas=2, rank=r, seed=1)) for r in range(2)]


def test_a_loader_with_the_sampler_gives_the_ranks_share_of_each_global_batch():
    data = TensorDataset(cnnlab.arange(12))
    shares = [DataLoader(data, batch_size=3, sampler=dist.DistributedSampler(data, 2, r, seed=2))
              for r in range(2)]
    whole = DataLoader(data, batch_size=6, shuffle=True, seed=2)
    for epoch in (0, 1):
        for loader in (*shares, whole):
            loader.set_epoch(epoch)
        for (a,), (b,), (c,) in zip(*shares, whole):
            assert sorted(a.tolist() + b.tolist()) == sorted(c.tolist())
    assert len(shares[0]) == len(whole) == 2


def test_sampler_errors():
    with pytest.raises(ValueError, match=r"DistributedSampler: Invalid rank 2, rank should be in the interval \[0, 1\]"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="DistributedSampler: num_replicas must be an int >= 1, got 0"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="DistributedSampler: shuffle and drop_last must be bools, got shuffle=1"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=0, shuffle=1)
    with pytest.raises(ValueError, match="DistributedSampler.set_epoch: epoch must be an int >= 0, got -1"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=0).set_epoch(-1)


def test_the_world_must_be_joined_first():
    if dist.is_initialized():  # pragma: no cover - only when another test joined MPI in this process
        pytest.skip("MPI was initialised in this process")
    for call in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(1.0),
                 lambda: dist.DistributedSampler(range(4))):
        with pytest.raises(RuntimeError, match=r"call cnnlab.distributed.init\(\) first"):
            call()
    with pytest.raises(ValueError, match="init: threads must be an int >= 1 or None, got 0"):
        dist.init(threads=0)


def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)   # import mpi4py now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'cnnlab\[distributed\]'"):
        dist.init()
    assert not dist.is_initialized()


def test_convert_sync_batchnorm_keeps_the_tensors():
    model = cnnlab.nn.Sequential(cnnlab.nn.Conv2d(1, 2, 3), cnnlab.nn.BatchNorm2d(2, momentum=None))
    bn = model[1]
    converted = dist.convert_sync_batchnorm(model)
    assert converted is model and type(model[1]) is dist.SyncBatchNorm
    assert model[1].weight is bn.weight and model[1].running_var is bn.running_var and model[1].momentum is None
    model.eval()
    x = cnnlab.randn(2, 1, 5, 5)
    with cnnlab.no_grad():   # eval: no MPI needed
        np.testing.assert_array_equal(model(x).numpy(), bn.eval()(model[0](x)).numpy())
    with pytest.raises(TypeError, match="convert_sync_batchnorm: module must be a cnnlab.nn.Module, got int"):
        dist.convert_sync_batchnorm(3)


# ---------------------------------------------------------------- on 2 ranks
def reference_steps(batch_norm: bool, dtype) -> dict:
    """One process, 64 images a step: the numbers the 2 ranks must reproduce."""
    sys.path.insert(0, str(HERE))
    import mpi_worker

    model = mpi_worker.make_model(batch_norm, dtype)
    mpi_worker.train_steps(model, *mpi_worker.make_data(dtype))
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("batch_norm", [False, True], ids=["no-bn", "sync-bn"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-5)], ids=["float64", "float32"])
def test_two_ranks_of_32_equal_one_process_of_64(tmp_path, batch_norm, dtype, rtol):
    out = tmp_path / "state.npz"
    done = run_worker("steps", np.dtype(dtype).name, int(batch_norm), out)
    assert done.returncode == 0, done.stderr[-3000:]
    found, expected = np.load(out), reference_steps(batch_norm, dtype)
    assert int(found["buckets"]) > 1                     # the gradients went in several buckets
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert int(found["threads"]) == max(1, cores // 2)   # init: the 2 ranks share the cores
    assert set(found.files) - {"buckets", "threads"} == set(expected)
    for name, value in expected.items():
        assert found[name].dtype == value.dtype
        np.testing.assert_allclose(found[name], value, rtol=rtol, atol=rtol * 1e-2, err_msg=name)
    import mpi_worker

    initial = mpi_worker.make_model(batch_norm, dtype).state_dict()["0.weight"].detach().numpy()
    assert np.abs(expected["0.weight"] - initial).max() > 1e-2   # the 20 steps did move the weights


def test_reducing_after_backward_gives_the_same_numbers(tmp_path):
    out = tmp_path / "state.npz"
    done = run_worker("steps", "float64", 0, out, 0)
    assert done.returncode == 0, done.stderr[-3000:]
    found = np.load(out)
    for name, value in reference_steps(False, np.float64).items():
        np.testing.assert_allclose(found[name], value, rtol=1e-10, atol=1e-12, err_msg=name)


def test_collectives_and_the_checks_of_ddp(tmp_path):
    done = run_worker("collectives", tmp_path / "found")
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"found.{r}").read_text()) for r in range(2)]
    for r, found in enumerate(ranks):
        assert (found["rank"], found["world"], found["rank_again"], found["initialized"]) == (r, 2, r, True)
        assert found["local"] == 2 and found["threads"] == 1
        assert found["sum_tensor"] == found["sum_tensor_in_place"] == [3.0, 6.0]
        assert (found["mean"], found["max"], found["min_array"], found["broadcast"]) == (0.5, 11, [0, -1], [6.0])
        # rank 0: loss 1 on 2 images, rank 1: loss 2 on 4 images -> 10/6; seconds: rank 0's
        assert found["metrics"] == {"loss": pytest.approx(10 / 6), "acc": 0.5, "images": 6, "seconds": 1.0,
                                    "confusion_matrix": [[2, 0], [0, 2]]}
        assert found["same_ok"] == "no error"
        assert found["same_bad"] == ("ValueError: check_same: the ranks disagree on the settings: lr=0.1 on rank 0, "
                                     "but rank 1 has lr=0.2")
        assert found["bad_op"] == "ValueError: all_reduce: op must be one of sum, mean, max, min, got 'prod'"
        assert found["bad_value"] == ("TypeError: all_reduce: value must be a Tensor, a numpy array or a number, "
                                      "got str")
        assert found["bad_src"] == "ValueError: broadcast: src must be a rank in [0, 1], got 2"
        assert found["ddp_other_model"].startswith(
            "ValueError: DistributedDataParallel: the ranks disagree on the model's parameters and buffers")
        assert "('weight', (2, 3), 'float32') on rank 0, but rank 1 has ('weight', (3, 3), 'float32')" \
            in found["ddp_other_model"]
        assert found["ddp_not_module"] == ("TypeError: DistributedDataParallel: module must be a cnnlab.nn.Module, "
                                           "got function")
        assert found["ddp_bad_cap"] == "ValueError: DistributedDataParallel: bucket_cap_mb must be a number > 0, got 0"
        assert found["ddp_unused"].startswith("RuntimeError: DistributedDataParallel: the last backward gave no "
                                              "gradient to 1.weight, 1.bias")
        assert found["sync_bn_one_value"].startswith("ValueError: SyncBatchNorm: Expected more than 1 value per "
                                                     "channel when training")
        assert found["running_mean"] == [0.0, 0.0]       # rank 0's buffer on both
    assert ranks[0]["weights"] == ranks[1]["weights"]     # rank 0's weights on both, though seeded differently
    assert ranks[0]["running_mean_after_forward"] == ranks[1]["running_mean_after_forward"]


def test_a_rank_that_raises_stops_every_rank(tmp_path):
    done = run_worker("fail", tmp_path / "step", 3)
    assert done.returncode != 0
    assert "cnnlab.distributed: rank 1 of 2 failed: RuntimeError: injected failure at step 3; stopping every rank" \
        in done.stderr
    assert int((tmp_path / "step.0").read_text()) < 19    # rank 0 did not run on to the end
    assert int((tmp_path / "step.1").read_text()) == 2
