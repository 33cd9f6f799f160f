"""cnnlab.optim.lr_scheduler against torch.optim.lr_scheduler: lr (and momentum) sequences,
state_dict round trips mid-run, and validation messages."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import optim
from cnnlab.optim import lr_scheduler

STEPS = 30


def two_groups(module, make_param, name="SGD", **options):
    """An optimizer of `module` (cnnlab.optim or torch.optim) with two groups of different lrs."""
    a, b, c = make_param((2, 3)), make_param((3,)), make_param((4,))
    groups = [{"params": [a, b]}, {"params": [c], "lr": 0.02}]
    return getattr(module, name)(groups, lr=0.1, **options)


def ours_param(shape):
    return cnnlab.Tensor(np.ones(shape), requires_grad=True)


def group_values(opt):
    """What schedulers set: lr, and momentum or beta1 where the optimizer has them, as one flat list of
    numbers (``pytest.approx`` compares flat sequences only: betas are spread, not nested)."""
    values = []
    for g in opt.param_groups:
        values.append(g["lr"])
        if "momentum" in g:
            values.append(g["momentum"])
        if "betas" in g:
            values.extend(g["betas"])
    return values


def last_lr_values(sched):
    return [float(v) for v in sched.get_last_lr()]


# name, options, optimizer class, optimizer options
SCHEDULES = [
    ("StepLR", {"step_size": 7}, "SGD", {}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}, "SGD", {}),
    ("MultiStepLR", {"milestones": [4, 9, 9, 20]}, "SGD", {}),
    ("MultiStepLR", {"milestones": [25, 3], "gamma": 0.3}, "Adam", {}),
    ("ExponentialLR", {"gamma": 0.9}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 10}, "SGD", {}),  # 30 steps: three half-periods, past T_max
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.005}, "RMSprop", {}),
    ("CosineAnnealingLR", {"T_max": 40, "eta_min": 1e-4}, "Adam", {}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": [0.5, 0.3], "total_steps": STEPS, "anneal_strategy": "linear"}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.5, "epochs": 5, "steps_per_epoch": 6, "three_phase": True}, "Adam", {}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "pct_start": 0.25, "div_factor": 10.0,
                    "final_div_factor": 100.0, "base_momentum": [0.8, 0.7], "max_momentum": 0.9}, "AdamW", {}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS + 5, "cycle_momentum": False}, "SGD", {}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "three_phase": True, "anneal_strategy": "linear"},
     "RMSprop", {"momentum": 0.5}),
]

LAMBDAS = [lambda epoch: 0.95 ** epoch, lambda epoch: 1.0 / (1 + epoch // 4)]


def ids(config):
    return f"{config[0]}-{config[2]}-" + "-".join(f"{k}={v}" for k, v in config[1].items())


def make_pair(torch, config):
    name, options, opt_name, opt_options = config
    opt = two_groups(optim, ours_param, opt_name, **opt_options)
    ref = two_groups(torch.optim, lambda s: torch.ones(s, dtype=torch.float64, requires_grad=True), opt_name,
                     **opt_options)
    return (opt, getattr(lr_scheduler, name)(opt, **options),
            ref, getattr(torch.optim.lr_scheduler, name)(ref, **options))


def step_both(opt, sched, ref, ref_sched):
    opt.step()
    ref.step()
    sched.step()
    ref_sched.step()


@pytest.mark.parametrize("config", SCHEDULES, ids=ids)
def test_schedule_matches_torch(torch, config):
    opt, sched, ref, ref_sched = make_pair(torch, config)
    assert group_values(opt) == group_values(ref)
    assert sched.last_epoch == ref_sched.last_epoch == 0
    assert sched.base_lrs == ref_sched.base_lrs
    for k in range(STEPS):
        step_both(opt, sched, ref, ref_sched)
        assert group_values(opt) == pytest.approx(group_values(ref), rel=1e-15, abs=0), f"step {k + 1}"
        assert last_lr_values(sched) == pytest.approx(last_lr_values(ref_sched), rel=1e-15, abs=0)
    assert sched.last_epoch == ref_sched.last_epoch == STEPS
    for g, h in zip(opt.param_groups, ref.param_groups):
        assert g["initial_lr"] == h["initial_lr"]


def test_lambda_lr_matches_torch(torch):
    for lr_lambda in (LAMBDAS[0], LAMBDAS):
        opt = two_groups(optim, ours_param)
        ref = two_groups(torch.optim, lambda s: torch.ones(s, requires_grad=True))
        sched, ref_sched = lr_scheduler.LambdaLR(opt, lr_lambda), torch.optim.lr_scheduler.LambdaLR(ref, lr_lambda)
        for _ in range(STEPS):
            step_both(opt, sched, ref, ref_sched)
            assert sched.get_last_lr() == ref_sched.get_last_lr()


def test_cosine_annealing_exact_over_and_past_t_max(torch):
    """The recursive form, with its special step at the bottom of each period, bit for bit."""
    opt = two_groups(optim, ours_param)
    ref = two_groups(torch.optim, lambda s: torch.ones(s, requires_grad=True))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.001)
    ref_sched = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=5, eta_min=0.001)
    lrs = []
    for _ in range(STEPS):
        step_both(opt, sched, ref, ref_sched)
        assert sched.get_last_lr() == ref_sched.get_last_lr()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[4] == pytest.approx(0.001) and lrs[9] == pytest.approx(0.1) and lrs[14] == pytest.approx(0.001)


def test_scheduler_drives_the_optimizer(torch):
    """SGD with momentum under OneCycleLR: lr and momentum change every step; the params follow torch's."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [cnnlab.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, ref = optim.SGD(ours, lr=0.1, momentum=0.9), torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=STEPS)
    ref_sched = torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=0.2, total_steps=STEPS)
    for k in range(STEPS):
        for p, q in zip(ours, theirs):
            p.grad = cnnlab.Tensor(np.cos(p.data) + k * 0.01)
            q.grad = torch.tensor(np.cos(q.detach().numpy()) + k * 0.01)
        step_both(opt, sched, ref, ref_sched)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_one_cycle_errors_past_total_steps(torch):
    opt = two_groups(optim, ours_param)
    ref = two_groups(torch.optim, lambda s: torch.ones(s, requires_grad=True))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    ref_sched = torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=0.1, total_steps=5)
    for _ in range(5):
        step_both(opt, sched, ref, ref_sched)
    opt.step()
    ref.step()
    with pytest.raises(ValueError, match="Tried to step 6 times"):
        ref_sched.step()
    with pytest.raises(ValueError, match=r"OneCycleLR: tried to step 6 times, but total_steps is 5"):
        sched.step()


# ---------------------------------------------------------------- state dicts
RESUME = [SCHEDULES[1], SCHEDULES[2], SCHEDULES[4], SCHEDULES[5], SCHEDULES[8], SCHEDULES[10]]


@pytest.mark.parametrize("config", RESUME, ids=ids)
def test_state_dict_round_trip_mid_run(torch, config):
    """Save scheduler and optimizer halfway; a fresh pair that loads them continues like the original and torch."""
    name, options, opt_name, opt_options = config
    opt, sched, ref, ref_sched = make_pair(torch, config)
    for _ in range(12):
        step_both(opt, sched, ref, ref_sched)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved_sched and saved_sched["last_epoch"] == 12

    opt2 = two_groups(optim, ours_param, opt_name, **opt_options)
    sched2 = getattr(lr_scheduler, name)(opt2, **options)  # make the scheduler first, then load (as in torch)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert sched2.last_epoch == 12 and sched2.get_last_lr() == sched.get_last_lr()
    for k in range(12, STEPS):
        step_both(opt, sched, ref, ref_sched)
        opt2.step()
        sched2.step()
        assert group_values(opt2) == group_values(opt) == pytest.approx(group_values(ref), rel=1e-15, abs=0)
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_state_dict_keys_match_torch(torch):
    for config in SCHEDULES:
        opt, sched, ref, ref_sched = make_pair(torch, config)
        public = {k for k in ref_sched.state_dict() if not k.startswith("_get_lr")}
        assert public <= set(sched.state_dict()), config[0]


def test_lambda_lr_state_dict_skips_functions():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    opt = two_groups(optim, ours_param)
    sched = lr_scheduler.LambdaLR(opt, [LAMBDAS[0], Warmup(5)])
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"n": 5}]
    opt2 = two_groups(optim, ours_param)
    warmup = Warmup(2)
    sched2 = lr_scheduler.LambdaLR(opt2, [LAMBDAS[0], warmup])
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert warmup.n == 5 and sched2.lr_lambdas[0] is LAMBDAS[0] and sched2.last_epoch == 3
    for _ in range(5):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_save_and_resume_through_a_file(torch, tmp_path):
    import cnnlab.io as io
    for config in (SCHEDULES[2], SCHEDULES[11]):
        name, options, opt_name, opt_options = config
        opt, sched, ref, ref_sched = make_pair(torch, config)
        for _ in range(10):
            step_both(opt, sched, ref, ref_sched)
        path = tmp_path / f"{name}.safetensors"
        io.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
        ckpt = io.load(path)
        opt2 = two_groups(optim, ours_param, opt_name, **opt_options)
        sched2 = getattr(lr_scheduler, name)(opt2, **options)
        opt2.load_state_dict(ckpt["optimizer"])
        sched2.load_state_dict(ckpt["scheduler"])
        for _ in range(10, STEPS):
            step_both(opt, sched, ref, ref_sched)
            opt2.step()
            sched2.step()
            assert group_values(opt2) == group_values(opt) == pytest.approx(group_values(ref), rel=1e-15, abs=0)


# ---------------------------------------------------------------- base behaviour and validation
def test_initial_lr_and_resuming_with_last_epoch(torch):
    opt = two_groups(optim, ours_param)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02] == sched.base_lrs
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.01] == [g["lr"] for g in opt.param_groups]
    lrs = sched.get_last_lr()
    lrs[0] = 123.0
    assert sched.get_last_lr()[0] == 0.05  # get_last_lr gives a copy
    # a new scheduler on the same optimizer keeps initial_lr; last_epoch >= 0 needs it
    again = lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    assert again.base_lrs == [0.1, 0.02] and again.last_epoch == 5
    fresh = two_groups(optim, ours_param)
    with pytest.raises(KeyError, match=r"StepLR: param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(fresh, step_size=2, last_epoch=4)
    # resuming cosine annealing with last_epoch uses the closed form, as torch
    ref = two_groups(torch.optim, lambda s: torch.ones(s, requires_grad=True))
    for group in ref.param_groups:
        group["initial_lr"] = group["lr"]
    for group in fresh.param_groups:
        group["initial_lr"] = group["lr"]
    ours = lr_scheduler.CosineAnnealingLR(fresh, T_max=10, last_epoch=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=10, last_epoch=3)
    assert ours.get_last_lr() == theirs.get_last_lr()
    for _ in range(5):
        fresh.step()
        ref.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()


def sgd():
    return optim.SGD([ours_param((2,))], lr=0.1)


@pytest.mark.parametrize("make, error, match", [
    (lambda: lr_scheduler.StepLR("sgd", step_size=2), TypeError, r"StepLR: str is not an Optimizer"),
    (lambda: lr_scheduler.StepLR(sgd(), step_size=0), ValueError,
     r"StepLR: step_size must be a positive integer, got 0"),
    (lambda: lr_scheduler.StepLR(sgd(), step_size=2.5), ValueError, r"step_size must be a positive integer, got 2.5"),
    (lambda: lr_scheduler.StepLR(sgd(), step_size=2, gamma="x"), ValueError, r"StepLR: gamma must be a real number"),
    (lambda: lr_scheduler.MultiStepLR(sgd(), milestones=[2, 3.5]), ValueError,
     r"MultiStepLR: milestones must be integers, got \[2, 3.5\]"),
    (lambda: lr_scheduler.ExponentialLR(sgd(), gamma=None), ValueError, r"ExponentialLR: gamma must be a real number"),
    (lambda: lr_scheduler.CosineAnnealingLR(sgd(), T_max=0), ValueError,
     r"CosineAnnealingLR: T_max must be a positive integer, got 0"),
    (lambda: lr_scheduler.LambdaLR(sgd(), [LAMBDAS[0], LAMBDAS[1]]), ValueError,
     r"LambdaLR: expected 1 lr_lambdas \(one per param group\), got 2"),
    (lambda: lr_scheduler.LambdaLR(sgd(), 0.5), TypeError, r"LambdaLR: lr_lambda must be callable"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1), ValueError,
     r"OneCycleLR: you must give either total_steps, or epochs and steps_per_epoch"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=0), ValueError,
     r"OneCycleLR: total_steps must be a positive integer, got 0"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, epochs=2, steps_per_epoch=-1), ValueError,
     r"OneCycleLR: steps_per_epoch must be a positive integer, got -1"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"OneCycleLR: pct_start must be in \[0, 1\], got 1.5"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     r"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda: lr_scheduler.OneCycleLR(sgd(), max_lr=[0.1, 0.2], total_steps=10), ValueError,
     r"OneCycleLR: max_lr must have one value per param group: max_lr has 2 values, the optimizer has 1"),
    (lambda: lr_scheduler.OneCycleLR(optim.Optimizer([ours_param((2,))], {"lr": 0.1}), max_lr=0.1, total_steps=10),
     ValueError, r"OneCycleLR: cycle_momentum=True needs an optimizer with 'momentum' or 'betas'"),
])
def test_validation_messages(make, error, match):
    with pytest.raises(error, match=match):
        make()
