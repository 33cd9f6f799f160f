"""Stochastic gradient descent with momentum, as ``torch.optim.SGD``."""
from __future__ import annotations

import numpy as np

from cnnlab.kernels import optim_steps
from cnnlab.optim.optimizer import Optimizer, check_number


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each param θ with gradient g, at step t (λ: weight_decay, μ: momentum,
    τ: dampening, γ: lr)::

        g = -g                       if maximize
        g = g + λ θ                  if λ != 0
        if μ != 0:
            b = g                    at the first step, else  b = μ b + (1 - τ) g
            g = g + μ b              if nesterov, else  g = b
        θ = θ - γ g

    This is PyTorch's form: the lr multiplies the whole update, not the gradient
    inside the buffer (Sutskever et al. put it inside), so changing lr mid-run
    takes effect at once.

    Args:
        params: Tensors, or dicts defining param groups.
        lr: learning rate (default 1e-3, as torch 2.x).
        momentum: momentum factor μ (default 0).
        dampening: dampening τ of the momentum (default 0).
        weight_decay: L2 penalty λ (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend the objective instead of descending it.

    State per param: ``'momentum_buffer'`` (when momentum != 0).

    Example:
        >>> opt = cnnlab.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options: dict, where: str) -> None:
        super()._check_options(options, where)
        check_number(where, "momentum", options["momentum"], low=0.0)
        check_number(where, "dampening", options["dampening"])
        check_number(where, "weight_decay", options["weight_decay"], low=0.0)
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"{where}: nesterov=True requires momentum > 0 and dampening = 0, got "
                             f"momentum={options['momentum']}, dampening={options['dampening']}")

    def step(self, closure=None):
        """Perform one update of every param that has a grad; return closure()'s loss if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum = float(group["lr"]), float(group["momentum"])
            dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._grad(p, group["maximize"])
                if self._compiled_step(p, grad, group, momentum):
                    continue
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(grad, copy=True)  # an array even for 0-d
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * grad
                    grad = grad + momentum * buf if group["nesterov"] else buf
                p.data -= lr * grad
                self._updated(p)
        return loss

    def _compiled_step(self, p, grad, group, momentum) -> bool:
        """The step of p on compiled loops (one pass: `kernels.optim_steps`), if they apply; whether it ran."""
        state = self.state[p] if momentum != 0 else None
        buf = state.get("momentum_buffer") if state is not None else None
        first = momentum != 0 and buf is None
        if first:
            buf = np.empty_like(p.data)
        loops = optim_steps.loops_for(p.data, grad, *([buf] if buf is not None else []))
        if not loops:
            return False
        if first:
            state["momentum_buffer"] = buf
        optim_steps.sgd(loops, p.data, grad, buf, group, first)
        self._updated(p)
        return True
