"""RMSprop, as ``torch.optim.RMSprop``."""
from __future__ import annotations

import numpy as np

from cnnlab.optim.optimizer import Optimizer, check_number, lerp_


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    For each param θ with gradient g (γ: lr, α: alpha, λ: weight_decay, μ: momentum)::

        g = -g                                  if maximize
        g = g + λ θ                             if λ != 0
        v = α v + (1 - α) g²
        if centered:
            ḡ = α ḡ + (1 - α) g                 (as torch.lerp(ḡ, g, 1 - α))
            d = √(v - ḡ²) + ε
        else:
            d = √v + ε
        if μ > 0:  b = μ b + g / d;  θ = θ - γ b
        else:      θ = θ - γ g / d

    ε is added outside the square root (as in PyTorch; TensorFlow adds it inside).

    Args:
        params: Tensors, or dicts defining param groups.
        lr: learning rate γ (default 1e-2).
        alpha: smoothing constant α in [0, 1] (default 0.99).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalise by an estimate of the variance of g instead of its second moment.
        maximize: ascend the objective instead of descending it.

    State per param: ``'step'`` (int), ``'square_avg'`` (v), ``'momentum_buffer'``
    (b, when momentum > 0), ``'grad_avg'`` (ḡ, when centered).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options: dict, where: str) -> None:
        super()._check_options(options, where)
        check_number(where, "eps", options["eps"], low=0.0)
        check_number(where, "momentum", options["momentum"], low=0.0)
        check_number(where, "weight_decay", options["weight_decay"], low=0.0)
        # torch checks alpha >= 0 only; alpha > 1 makes v negative and the update NaN
        check_number(where, "alpha", options["alpha"], low=0.0, high=1.0)

    def step(self, closure=None):
        """Perform one update of every param that has a grad; return closure()'s loss if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._grad(p, group["maximize"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad              # v = α v + (1 - α) g²
                if group["centered"]:
                    grad_avg = state.setdefault("grad_avg", np.zeros_like(p.data))
                    lerp_(grad_avg, grad, 1 - alpha)
                    avg = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state.setdefault("momentum_buffer", np.zeros_like(p.data))
                    buf *= momentum
                    buf += grad / avg
                    p.data -= lr * buf
                else:
                    p.data += (-lr * grad) / avg
                self._updated(p)
        return loss
