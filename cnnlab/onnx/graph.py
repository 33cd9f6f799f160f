"""The Module that runs an imported ONNX graph, and the small modules its nodes become.

`OnnxGraph` holds one submodule per node (a standard layer such as `nn.Conv2d` where there is one,
else a `Call` of a `cnnlab.nn.functional` op) and runs them in the graph's topological order over a
dict of named values: the graph's inputs, its initializers and constants, and every node's outputs.
"""
from __future__ import annotations

from cnnlab.autograd import Tensor
from cnnlab.nn import Module, ModuleList
from cnnlab.nn import functional as F

__all__ = ["OnnxGraph", "Call", "Padded", "pad_tuple"]


def pad_tuple(pads) -> tuple:
    """(before, after) per spatial axis, first axis first -> `F.pad`'s tuple (last axis first).

    Example:
        >>> pad_tuple(((1, 2), (3, 4)))
        (3, 4, 1, 2)
    """
    return tuple(v for pair in reversed(tuple(pads)) for v in pair)


class Call(Module):
    """A function of tensors as a module: ``forward(*xs) = fn(*xs, **kwargs)``.

    Args:
        fn: the function (an op of `cnnlab.nn.functional`, or a composition of them).
        **kwargs: its keyword arguments, fixed when the node was read.
    """

    def __init__(self, fn, **kwargs):
        super().__init__()
        self.fn, self.kwargs = fn, kwargs

    def forward(self, *inputs):
        return self.fn(*inputs, **self.kwargs)

    def extra_repr(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.fn.__name__}" + (f", {args}" if args else "")


class Padded(Module):
    """Pad explicitly, then run a layer (a conv or pooling layer with padding 0), as PyTorch does for
    padding that its layers cannot express (asymmetric pads, ONNX's auto_pad).

    Args:
        layer: the module run on the padded input.
        pads: a function of the input's spatial sizes that returns the (before, after) pads per axis
            (a negative pad crops).
        value: the fill value (0, or -inf before max pooling). Default: 0.
    """

    def __init__(self, layer: Module, pads, value: float = 0.0):
        super().__init__()
        self.layer, self.pads, self.value = layer, pads, value

    def forward(self, x: Tensor, *rest):
        return self.layer(F.pad(x, pad_tuple(self.pads(x.shape[2:])), value=self.value), *rest)

    def extra_repr(self) -> str:
        return f"value={self.value}" if self.value else ""


class OnnxGraph(Module):
    """An ONNX graph as a cnnlab Module: ``forward(*inputs)`` runs the nodes in topological order.

    Args:
        inputs: the names of the graph's inputs that are not initializers, in the graph's order.
        outputs: the names of its outputs.
        steps: (module, input names, output names) per node, in topological order.
        values: initializers and constants that the nodes read as inputs, by name: Parameters (float
            initializers, trained) and Tensors (constants, registered as buffers).
        source: where the graph came from (the file), for messages.

    Attributes:
        nodes (ModuleList): one module per node, in order. input_names, output_names: as given.

    `forward` returns the one output, or a tuple of them when the graph has several.
    """

    def __init__(self, inputs, outputs, steps, values, source="<model>"):
        super().__init__()
        self.input_names, self.output_names, self.source = tuple(inputs), tuple(outputs), source
        self.nodes = ModuleList([module for module, _, _ in steps])
        self.wiring = [(tuple(ins), tuple(outs)) for _, ins, outs in steps]
        self.value_names = {}          # ONNX name -> attribute name of the parameter or buffer
        for i, (name, value) in enumerate(values.items()):
            attr = f"value{i}"
            if value.requires_grad:
                self.register_parameter(attr, value)
            else:
                self.register_buffer(attr, value)
            self.value_names[name] = attr

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxGraph: the graph of {self.source} takes {len(self.input_names)} input(s) "
                            f"{list(self.input_names)}, got {len(inputs)}")
        for name, x in zip(self.input_names, inputs):
            if not isinstance(x, Tensor):
                raise TypeError(f"OnnxGraph: input {name!r} must be a Tensor, got {type(x).__name__}")
        env = {name: getattr(self, attr) for name, attr in self.value_names.items()}
        env.update(zip(self.input_names, inputs))
        for module, (ins, outs) in zip(self.nodes, self.wiring):
            result = module(*[env[n] if n else None for n in ins])
            env.update(zip(outs, result if isinstance(result, tuple) else (result,)))
        out = tuple(env[n] for n in self.output_names)
        return out[0] if len(out) == 1 else out

    def extra_repr(self) -> str:
        return f"inputs={list(self.input_names)}, outputs={list(self.output_names)}"
