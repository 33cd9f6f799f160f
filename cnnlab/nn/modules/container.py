"""Containers: `Sequential` (a chain of layers), `ModuleList` and `ModuleDict` (registered collections)."""
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from cnnlab.nn.modules._utils import addindent, typename
from cnnlab.nn.modules.module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(idx, size: int, op: str) -> int:
    """A position in [0, size) from an int in [-size, size)."""
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{op}: indices must be integers or slices, not {typename(idx)}") from None
    if not -size <= idx < size:
        raise IndexError(f"{op}: index {idx} is out of range for {size} modules")
    return idx % size


class Sequential(Module):
    """A chain of modules: the output of each is the input of the next, as ``torch.nn.Sequential``.

    The children are named ``"0"``, ``"1"``, ... in the order given, or by the
    keys of an OrderedDict; those names prefix their parameters in
    ``state_dict()`` (``"0.weight"``).

    Args:
        *args: modules, or a single ``OrderedDict`` of name -> module.

    Shape:
        - Input: whatever the first module takes.
        - Output: whatever the last module returns (the input itself if empty).

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        >>> model(cnnlab.randn(32, 1, 28, 28)).shape
        (32, 10)
        >>> model[1:3]          # a Sequential of the same modules, keys "1" and "2"
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def output_shape(self, input_shape) -> tuple:
        """Each module's `output_shape` in turn."""
        for module in self._modules.values():
            input_shape = module.output_shape(input_shape)
        return tuple(input_shape)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self), "Sequential")]]):
            del self._modules[key]
        # renumber, as PyTorch does
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end (named ``str(len(self))``); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert `module` before position `index` and renumber; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: module must be a Module, got {typename(module)}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(modules))
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Append every module of an iterable (e.g. another Sequential); returns self."""
        for module in modules:
            self.append(module)
        return self

    def pop(self, idx):
        """Remove the module at `idx` and return it."""
        module = self[idx]
        del self[idx]
        return module

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential +: expected a Sequential, got {typename(other)}")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential +=: expected a Sequential, got {typename(other)}")
        return self.extend(list(other))


class ModuleList(Module):
    """A list of modules whose parameters are registered, as ``torch.nn.ModuleList``.

    Unlike a Python list attribute, a ModuleList makes its modules visible to
    ``parameters()``, ``state_dict()`` (keys ``"0.weight"``, ...), ``train()``
    and ``to()``. It has no ``forward``: the owner decides how to call them.

    Args:
        modules (iterable, optional): modules to add. Default: None.

    Example:
        >>> class Tower(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        ...     def forward(self, x):
        ...         for layer in self.layers:
        ...             x = layer(x).relu()
        ...         return x
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module: Module) -> None:
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx) -> None:
        positions = range(len(self))[idx] if isinstance(idx, slice) else [_index(idx, len(self), "ModuleList")]
        for i in positions:
            del self._modules[str(i)]
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of an iterable; returns self."""
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {typename(modules)}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index` and renumber."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: module must be a Module, got {typename(module)}")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(modules))

    def pop(self, idx):
        """Remove the module at `idx` and return it."""
        module = self[idx]
        del self[idx]
        return module

    def __repr__(self) -> str:
        """PyTorch's repr: runs of identical modules are shown once, as ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [addindent(f"({s}): {r}" if s == e else f"({s}-{e}): {e - s + 1} x {r}", 2) for s, e, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered, as ``torch.nn.ModuleDict``.

    Args:
        modules (mapping or iterable of (str, Module) pairs, optional): modules to add. Default: None.

    Example:
        >>> heads = nn.ModuleDict({"cls": nn.Linear(16, 10), "box": nn.Linear(16, 4)})
        >>> [k for k in heads.state_dict()]
        ['cls.weight', 'cls.bias', 'box.weight', 'box.bias']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove `key` and return its module."""
        module = self[key]
        del self[key]
        return module

    def update(self, modules) -> None:
        """Add (or replace) modules from a mapping or an iterable of (name, module) pairs."""
        if isinstance(modules, Mapping):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update should be called with a mapping or an iterable of "
                            f"(name, module) pairs, but got {typename(modules)}")
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable) or isinstance(pair, Module):
                raise TypeError(f"ModuleDict.update: sequence element #{j} should be a (name, module) pair, "
                                f"got {typename(pair)}")
            pair = list(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict.update: sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]
