"""`Optimizer`: the base class of every optimizer, as ``torch.optim.Optimizer``.

An optimizer holds the tensors it updates in *param groups*: a list of dicts,
each with a ``'params'`` list and the options of the algorithm (``'lr'``,
``'momentum'``, ...). Options missing from a group come from the defaults given
to the constructor, so one optimizer can give each group its own lr::

    opt = SGD([{"params": net.features.parameters()},
               {"params": net.classifier.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)

Per-parameter buffers (momentum, running averages, step counts) live in
``opt.state[param]``, a dict of NumPy arrays in the parameter's dtype and ints.
A subclass writes ``step()``: for each group, for each param whose ``.grad`` is
not None, update ``param.data`` in place with NumPy. The updates record no graph
and keep the parameter's dtype: every scalar is a Python float, which NumPy 2
never lets upcast a float32 array (an ``np.float64`` scalar would).
"""
from __future__ import annotations

import collections
import copy
import itertools
import numbers

import numpy as np

from cnnlab.autograd import Tensor, enable_grad


class Optimizer:
    """Base class of the optimizers, as ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, or of dicts (param groups) each with a
            ``'params'`` entry and any options that differ from `defaults`.
        defaults: the options of the algorithm, used where a group gives none.

    Attributes:
        param_groups: list of dicts ``{'params': [tensors], option: value, ...}``;
            schedulers change ``group['lr']`` here.
        state: dict param -> dict of its buffers (NumPy arrays, ints); a
            ``defaultdict(dict)`` as in torch, so custom optimizers can write
            ``state = self.state[p]``. A param gets state on its first update,
            so params whose grad stays None never do.
        defaults: the constructor's options.
    """

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, but got a Tensor; "
                            "pass [tensor] or model.parameters()")
        if isinstance(params, dict):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, but got a dict; "
                            "pass a list of param groups, e.g. [{'params': ..., 'lr': ...}]")
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=name))
        self.defaults = dict(defaults)
        self.state: collections.defaultdict = collections.defaultdict(dict)
        self.param_groups: list[dict] = []
        self._check_options(self.defaults, name)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of params with its own options, as ``torch.optim.Optimizer.add_param_group``.

        Useful when fine-tuning: unfreeze a layer and hand its params to the optimizer.
        """
        name = type(self).__name__
        i = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param group {i} must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: param group {i} has no 'params' entry (keys: {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=name))
        else:
            params = list(params)
        for j, p in enumerate(params):
            where = f"param group {i}, params[{j}]"
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but {where} is {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating point tensors, but {where} has dtype {p.dtype}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor ({where} was computed by "
                                 f"{type(p.grad_fn).__name__}); pass leaf tensors such as Parameters")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: param group {i} contains the same tensor more than once")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")

        group = {"params": params}
        group.update((k, v) for k, v in param_group.items() if k != "params")
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        if any(k in param_group for k in self.defaults):  # this group overrides a default: check it
            self._check_options(group, f"{name}: param group {i}")
        self.param_groups.append(group)

    def _check_options(self, options: dict, where: str) -> None:
        """Raise ValueError naming `where` if an option breaks the algorithm's rules. Subclasses extend this."""
        if "lr" in options:
            check_number(where, "lr", options["lr"], low=0.0)

    # ---------------------------------------------------------------- step
    def step(self, closure=None):
        """Update every param that has a grad; return `closure()`'s loss if a closure is given."""
        raise NotImplementedError

    @staticmethod
    def _evaluate(closure):
        """The loss from `closure` (run with grad enabled, as torch does), or None."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @staticmethod
    def _grad(p: Tensor, maximize: bool) -> np.ndarray:
        """The gradient of `p` as an array in p's dtype, negated for `maximize` (a new array then)."""
        grad = p.grad.data
        if grad.dtype != p.data.dtype:
            grad = grad.astype(p.data.dtype)
        return -grad if maximize else grad

    @staticmethod
    def _updated(p: Tensor) -> None:
        """Record that `p.data` was changed in place, as every torch in-place op does.

        A graph that saved `p` before this step then refuses to backward through the
        stale value (see `autograd.backward`) instead of giving a silently wrong grad.
        """
        p._version += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the grads of all params: to None (default), or to zeros in place, as ``torch``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.fill(0)

    # ---------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout, with params replaced by int indices::

            {'state': {0: {'step': 3, 'exp_avg': Tensor, ...}, 1: {...}},
             'param_groups': [{'lr': 0.001, ..., 'params': [0, 1]}, ...]}

        Params are numbered in the order of the groups. Buffers are copied into
        Tensors, so the dict is a snapshot that later steps do not change.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: Tensor(np.array(v, copy=True)) if isinstance(v, np.ndarray) else v
                                for k, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a `state_dict` (from this class, or torch's with the same layout).

        The groups must match the optimizer's in number and sizes; the params keep
        their identity, everything else (options, buffers) comes from `state_dict`.
        Buffers are copied and cast to their param's dtype. Nothing changes if
        the dict does not fit.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups' (from state_dict()), "
                             f"got {type(state_dict).__name__}"
                             + (f" with keys {list(state_dict)}" if isinstance(state_dict, dict) else ""))
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter groups, "
                             f"but the optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {i} has {len(saved['params'])} parameters in the "
                                 f"state dict, but {len(group['params'])} in the optimizer")
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in self.param_groups)))

        state = collections.defaultdict(dict)
        for key, saved in state_dict["state"].items():
            if key not in id_map:
                raise ValueError(f"{name}: the state dict has state for parameter {key!r}, "
                                 f"which is in none of its param_groups (ids {sorted(id_map)})")
            p = id_map[key]
            state[p] = {k: _restore(k, v, p, f"{name}: state of parameter {key}, {k!r}") for k, v in saved.items()}

        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if isinstance(new.get("betas"), list):  # a file format without tuples may give a list
                new["betas"] = tuple(new["betas"])
            for k, default in self.defaults.items():
                new.setdefault(k, default)
            self._check_options(new, f"{name}: param group {i}")
            new["params"] = group["params"]
            groups.append(new)
        self.state, self.param_groups = state, groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------- helpers for the subclasses
_SET_MESSAGE = ("{name}: parameters must be given in an ordered collection, not a set "
                "(the order of a set changes between runs, and so would state_dict); use a list")


def _restore(key, value, p: Tensor, where: str):
    """A state value from a state dict: 'step' becomes an int, arrays become copies in p's dtype."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if key == "step" and array.size == 1:  # torch keeps 'step' as a 0-d float32 tensor
        return int(array.item())
    if array.shape != p.shape:
        raise ValueError(f"{where} has shape {array.shape}, but the parameter has shape {p.shape}")
    return np.array(array, dtype=p.data.dtype, copy=True)


def check_number(where: str, name: str, value, low=None, high=None, high_open: bool = False) -> None:
    """Raise ValueError unless `value` is a real number in [low, high] (or [low, high) with high_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: {name} must be a real number, got {value!r}")
    if low is not None and high is None and not value >= low:
        raise ValueError(f"{where}: {name} must be non-negative, got {value}" if low == 0 else
                         f"{where}: {name} must be >= {low}, got {value}")
    if high is not None and not (low <= value < high if high_open else low <= value <= high):
        raise ValueError(f"{where}: {name} must be in [{low:g}, {high:g}{')' if high_open else ']'}, got {value}")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start <- start + weight * (end - start), in place, in ``torch.lerp``'s two forms.

    torch uses this form for |weight| < 0.5 and ``end - (end - start) * (1 - weight)``
    otherwise, so that the result is exact at both ends; we follow it for equal rounding.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, (end - start) * (1.0 - weight), out=start)
