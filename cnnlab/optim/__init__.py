"""Optimizers and learning-rate schedules, as ``torch.optim``.

- `SGD`, `Adam`, `AdamW`, `RMSprop`: update params in place from their ``.grad``,
  with PyTorch's update rules, defaults, ``param_groups`` and ``state_dict`` layout.
- `Optimizer`: their base class (param groups, ``zero_grad``, ``state_dict``).
- `lr_scheduler`: `StepLR`, `MultiStepLR`, `ExponentialLR`, `CosineAnnealingLR`,
  `OneCycleLR`, `LambdaLR`, which change ``group['lr']`` once per ``step()``.

Example:
    >>> opt = cnnlab.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> sched = cnnlab.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    >>> for epoch in range(90):
    ...     for x, y in loader:
    ...         opt.zero_grad()
    ...         loss_fn(model(x), y).backward()
    ...         opt.step()
    ...     sched.step()
"""
from cnnlab.optim.optimizer import Optimizer
from cnnlab.optim.sgd import SGD
from cnnlab.optim.adam import Adam, AdamW
from cnnlab.optim.rmsprop import RMSprop
from cnnlab.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
