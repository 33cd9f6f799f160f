"""`Module`: the base class of every layer and model, as ``torch.nn.Module``.

A Module owns three ordered registries, filled by plain attribute assignment:

    self.weight = Parameter(...)    -> _parameters   (learned; in parameters() and state_dict())
    self.register_buffer("m", t)    -> _buffers      (state, not learned; in state_dict() if persistent)
    self.fc = Linear(4, 3)          -> _modules      (children; their items get the prefix "fc.")

Everything else (`parameters`, `state_dict`, `train`, `to`, `repr`) walks those
registries recursively, so the names come out exactly as PyTorch's:
``features.3.running_mean``, ``fc.weight``, ``0.bias``.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.nn.modules._utils import IncompatibleKeys, RemovableHandle, addindent, typename
from cnnlab.nn.parameter import Parameter

__all__ = ["Module", "RemovableHandle", "same_shape"]


class Module:
    """Base class for all layers and models, as ``torch.nn.Module``.

    Subclasses call ``super().__init__()`` first, assign their parameters and
    sub-modules as attributes, and define ``forward``. Calling the module
    (``module(x)``) runs the forward pre-hooks, ``forward`` and the forward hooks.

    Attributes:
        training (bool): True in training mode (the default), False after ``eval()``.
            Layers such as dropout and batch norm read it.

    Example:
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = nn.Linear(4, 8)
        ...         self.fc2 = nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> [name for name, _ in MLP().named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    def __init__(self):
        set_ = super().__setattr__
        set_("training", True)
        set_("_parameters", OrderedDict())
        set_("_buffers", OrderedDict())
        set_("_non_persistent_buffers_set", set())
        set_("_modules", OrderedDict())
        set_("_forward_pre_hooks", OrderedDict())
        set_("_forward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation of the module; every subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def output_shape(self, input_shape) -> tuple:
        """The shape of ``self(x)`` for an ``x`` of `input_shape`, without computing it (shape inference, as
        Keras' ``compute_output_shape``): what `cnnlab.summary` reads. Layers that can tell override this,
        through the formulas of `cnnlab.shapes`; here it raises NotImplementedError (summary then runs
        one forward pass instead)."""
        raise NotImplementedError(f"{self._get_name()} cannot infer its output shape from the input's alone")

    # ------------------------------------------------------------ calling and hooks
    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            new_args = hook(self, args)
            if new_args is not None:
                args = new_args if isinstance(new_args, tuple) else (new_args,)
        result = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            new_result = hook(self, args, result)
            if new_result is not None:
                result = new_result
        return result

    def _add_hook(self, hooks: OrderedDict, hook, prepend: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {typename(hook)}")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(module, args)`` before every forward.

        The hook may return new inputs (a tuple, or a single value that is wrapped
        in one) or None to keep them. Returns a handle with ``.remove()``.
        """
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(module, args, output)`` after every forward.

        The hook may return a replacement output, or None to keep it. Returns a
        handle with ``.remove()``.
        """
        return self._add_hook(self._forward_hooks, hook, prepend)

    # ------------------------------------------------------------ registration
    def _check_name(self, name, kind: str, registry: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None: a declared but absent one, such as ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{typename(param)}' object to parameter '{name}' "
                            "(cnnlab.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is not learned (running means, counters).

        Args:
            name: attribute name.
            tensor: a Tensor, or None.
            persistent: whether the buffer goes into ``state_dict()``. Default: True.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                            "(cnnlab.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module; its parameters get the prefix ``name + "."``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{typename(module)} is not a Module subclass (adding child module '{name}')")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_name(name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name: str):
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")

        def remove_from(*registries):  # a name lives in one registry at a time
            for r in registries:
                if isinstance(r, set):
                    r.discard(name)
                elif name in r:
                    del r[name]

        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call "
                                     f"(call super().__init__() first in {type(self).__name__}.__init__)")
            remove_from(d, buffers, modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{typename(value)}' as parameter '{name}' "
                                "(cnnlab.nn.Parameter or None expected); wrap it in nn.Parameter(...), "
                                f"or update the values in place with `with cnnlab.no_grad(): "
                                f"module.{name}.copy_(value)`")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call "
                                     f"(call super().__init__() first in {type(self).__name__}.__init__)")
            remove_from(d, params, buffers, self._non_persistent_buffers_set)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{typename(value)}' as child module '{name}' "
                                "(cnnlab.nn.Module or None expected)")
            modules[name] = value
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{typename(value)}' as buffer '{name}' "
                                "(cnnlab.Tensor or None expected)")
            buffers[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            super().__delattr__(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(name, module)`` for this module and all below it, depth first; "" names self.

        A module reachable by several paths is yielded once (its first path)
        unless ``remove_duplicate=False``.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        """Yield this module and every module below it (each once)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct children (each once)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """Yield the direct children."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, get_members, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()  # ids: a tensor shared by two modules is yielded once
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield ``(name, Parameter)`` in registration order, e.g. ``("0.weight", w)``; shared ones once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Yield the parameters (what an optimizer is given), each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield ``(name, Tensor)`` for the buffers, persistent or not."""
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        """Yield the buffers."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as ``"features.3"`` ("" is self)."""
        module = self
        for item in target.split(".") if target else []:
            child = module._modules.get(item)
            if not isinstance(child, Module):
                raise AttributeError(f"{module._get_name()} has no submodule `{item}` (looking up '{target}')")
            module = child
        return module

    def apply(self, fn) -> Module:
        """Call ``fn(m)`` on every child (recursively), then on self; returns self.

        Example:
            >>> def init_weights(m):
            ...     if isinstance(m, nn.Linear):
            ...         nn.init.xavier_uniform_(m.weight)
            >>> net.apply(init_weights)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on self and all children; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {typename(mode)}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: same as ``train(False)``; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (e.g. False to freeze); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.requires_grad_(False)
                with no_grad():
                    p.grad.zero_()

    # ------------------------------------------------------------ dtype
    def to(self, *args, dtype=None, device=None) -> Module:
        """Convert floating-point parameters and buffers to `dtype`, in place; returns self.

        ``to(cnnlab.float64)``, ``to(dtype=...)``, ``to(tensor)`` (its dtype) and
        ``to("cpu")`` (nothing to do: cnnlab computes on NumPy) are accepted.
        Parameters stay the same objects, so an optimizer built before still
        holds them. Integer buffers (counters) keep their dtype, as in PyTorch.
        """
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
                device = arg
            elif isinstance(arg, Tensor):
                dtype = arg.dtype
            else:
                dtype = arg
        if device is not None and str(device) != "cpu":
            raise ValueError(f"to: cnnlab computes on NumPy arrays on the CPU; device {device!r} is not supported")
        if dtype is None:
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"to: expected a dtype such as cnnlab.float64, got {dtype!r}") from None
        if dtype.kind != "f":
            raise TypeError(f"to: nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t.dtype.kind == "f" and t.dtype != dtype:
                t.data = t.data.astype(dtype)
                t._version += 1  # a graph recorded before the conversion can no longer backward
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self) -> Module:
        """Convert floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Convert floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    def cpu(self) -> Module:
        """Nothing to do (cnnlab computes on the CPU); returns self, for code written for PyTorch."""
        return self

    # ------------------------------------------------------------ state dict
    def _local_state(self) -> dict:
        """This module's own entries of the state dict: parameters, then persistent buffers."""
        state = {k: v for k, v in self._parameters.items() if v is not None}
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return state

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """An OrderedDict of every parameter and persistent buffer, keyed by its dotted path.

        Keys are PyTorch's: ``fc.weight``, ``0.bias``, ``features.3.running_mean``.
        Values are detached tensors that share memory with the module (the
        parameters themselves with ``keep_vars=True``). A module shared by two
        paths appears under both, as in PyTorch.
        """
        if destination is None:
            destination = OrderedDict()
        for name, value in self._local_state().items():
            destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping, strict: bool = True):
        """Copy parameters and buffers from `state_dict` into this module, in place.

        Everything is checked before anything is copied, so a failed load leaves
        the module unchanged. Values may be cnnlab Tensors or NumPy arrays (e.g.
        ``{k: v.numpy() for k, v in torch_model.state_dict().items()}``); they
        are cast to the dtype of the tensor they are copied into.

        Args:
            state_dict: mapping of dotted names to Tensors or arrays.
            strict: require the keys to match ``self.state_dict()`` exactly. Default: True.

        Returns:
            ``(missing_keys, unexpected_keys)``, a namedtuple of two lists.

        Raises:
            RuntimeError: with every problem listed: missing and unexpected keys
                (when strict), and shape or type mismatches (always).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got {type(state_dict)}")
        missing, unexpected, errors, to_copy = [], [], [], []

        def visit(module: Module, prefix: str) -> None:
            local = module._local_state()
            for name, target in local.items():
                key = prefix + name
                if key not in state_dict:
                    missing.append(key)
                    continue
                value = state_dict[key]
                array = value.data if isinstance(value, Tensor) else value
                if isinstance(array, np.generic):
                    array = np.asarray(array)
                if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
                    what = f"dtype {array.dtype}" if isinstance(array, np.ndarray) else type(value)
                    errors.append(f'While copying the parameter named "{key}", expected a cnnlab Tensor or a '
                                  f"numeric NumPy array from checkpoint but received {what} "
                                  "(convert a torch tensor with .detach().numpy())")
                elif array.shape != target.shape:
                    errors.append(f"size mismatch for {key}: copying a param with shape {array.shape} from "
                                  f"checkpoint, the shape in current model is {target.shape}.")
                else:
                    to_copy.append((target, array))
            for key in state_dict:
                if isinstance(key, str) and key.startswith(prefix):
                    head, *rest = key[len(prefix):].split(".", 1)
                    if (head not in module._modules) if rest else (head not in local):
                        unexpected.append(key)
            for name, child in module._modules.items():
                if child is not None:
                    visit(child, prefix + name + ".")

        visit(self, "")
        unexpected += [k for k in state_dict if not isinstance(k, str)]
        if strict:
            quoted = lambda keys: ", ".join(f'"{k}"' for k in keys)  # noqa: E731
            if unexpected:
                errors.insert(0, f"Unexpected key(s) in state_dict: {quoted(unexpected)}. ")
            if missing:
                errors.insert(0, f"Missing key(s) in state_dict: {quoted(missing)}. ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for target, array in to_copy:
                if not target.data.flags.writeable:  # e.g. a broadcast view: give it its own memory
                    target.data = target.data.copy()
                target.copy_(array.astype(target.dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside ``Layer(...)`` in the repr; layers list their non-child settings here."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def same_shape(module: Module, input_shape) -> tuple:
    """`Module.output_shape` of the layers whose output has the input's shape (activations, dropout,
    normalization, Identity): ``output_shape = same_shape`` in their class."""
    return tuple(input_shape)
