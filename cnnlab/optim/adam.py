"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""
from __future__ import annotations

import numpy as np

from cnnlab.kernels import optim_steps
from cnnlab.optim.optimizer import Optimizer, check_number, lerp_


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    For each param θ with gradient g, at step t = 1, 2, ... (γ: lr, λ: weight_decay)::

        g = -g                                  if maximize
        θ = θ (1 - γ λ)                         if λ != 0 and decoupled_weight_decay (AdamW)
        g = g + λ θ                             if λ != 0 otherwise (L2 penalty)
        m = β1 m + (1 - β1) g                   (computed as torch.lerp(m, g, 1 - β1))
        v = β2 v + (1 - β2) g²
        v_max = max(v_max, v)                   if amsgrad, and v_max replaces v below
        θ = θ - γ / (1 - β1^t) · m / (√v / √(1 - β2^t) + ε)

    The last line is PyTorch's order of operations (bias corrections as Python
    floats, ε added after dividing √v by √(1 - β2^t)), so results match to rounding.

    Args:
        params: Tensors, or dicts defining param groups.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), the decay rates of the running averages of g and g²,
            each in [0, 1) (default (0.9, 0.999)).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ (default 0).
        amsgrad: use the maximum of all v so far (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay θ directly instead of adding λθ to g (this is AdamW).

    State per param: ``'step'`` (int), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v),
    ``'max_exp_avg_sq'`` (with amsgrad).

    Example:
        >>> opt = cnnlab.optim.Adam(model.parameters(), lr=3e-4)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        if isinstance(betas, list):
            betas = tuple(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, options: dict, where: str) -> None:
        super()._check_options(options, where)
        check_number(where, "eps", options["eps"], low=0.0)
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, beta in enumerate(betas):
            check_number(where, f"betas[{k}]", beta, low=0.0, high=1.0, high_open=True)
        check_number(where, "weight_decay", options["weight_decay"], low=0.0)

    def step(self, closure=None):
        """Perform one update of every param that has a grad; return closure()'s loss if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._grad(p, group["maximize"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                step = state["step"]
                v_max = state.setdefault("max_exp_avg_sq", np.zeros_like(p.data)) if group["amsgrad"] else None
                loops = optim_steps.loops_for(p.data, grad, exp_avg, exp_avg_sq, *([v_max] if group["amsgrad"] else []))
                if loops:                                            # compiled loops (one pass), or None
                    optim_steps.adam(loops, p.data, grad, exp_avg, exp_avg_sq, v_max, group, step)
                    self._updated(p)
                    continue

                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        p.data *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * p.data
                lerp_(exp_avg, grad, 1 - beta1)                     # m = β1 m + (1 - β1) g
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad              # v = β2 v + (1 - β2) g²

                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                if group["amsgrad"]:
                    v = v_max
                    np.maximum(v, exp_avg_sq, out=v)
                else:
                    v = exp_avg_sq
                denom = np.sqrt(v) / bias_correction2 ** 0.5 + eps
                p.data += (-step_size * exp_avg) / denom
                self._updated(p)
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The same as `Adam`, except that weight decay shrinks the params directly,
    θ = θ (1 - γ λ), before the Adam update, instead of adding λθ to the
    gradient (where Adam's normalisation would scale it away). Note the default
    weight_decay=1e-2.

    Example:
        >>> opt = cnnlab.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True  # as torch: AdamW always decouples
