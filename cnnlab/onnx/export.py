"""`export`: a cnnlab model as an ONNX file, traced from one forward pass of an example input.

How it works. The model runs once, in eval mode, on a copy of the example input that requires
grad, so that the autograd graph records every op. Forward hooks on the modules record each call:
its arguments and its output. Then the graph is walked back from the output:

    a tensor made by a call of a layer        -> that layer's ONNX node(s), written from its attributes
    of `export_layers.LAYERS` (Conv2d, ...)      (`cnnlab.onnx.export_layers`)
    a tensor made by an op between layers     -> the op's node (`export_ops.OPS`: the residual add,
                                                 x.flatten(1), F.relu, F.pad, x[:, :, ::2], ...)
    a parameter or buffer of the model        -> an initializer, named by its state-dict key
    the example input                         -> the graph input "input"

So custom forwards (ResNet's blocks, with their residual adds) export without knowing them, and
normal execution pays nothing: the hooks exist only while `export` runs, and the graph is the one
autograd records anyway. A layer or op that ONNX cannot express raises `ExportError` naming it
and why, before anything is written.

The `onnx` package (the ``[onnx]`` extra) is imported only when `export` runs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor, enable_grad, keep_inputs
from cnnlab.io.files import atomic_write_bytes
from cnnlab.messages import MissingExtraError
from cnnlab.nn import Module
from cnnlab.onnx.export_layers import LAYERS
from cnnlab.onnx.export_ops import OPS, ExportError

__all__ = ["export", "ExportError", "GraphBuilder", "Call"]

#: The opsets `export` writes: Conv, pooling, Pad (with a pads input) and the rest as opset 17 has them;
#: DeformConv needs 19.
OPSETS = range(17, 22)


@dataclass
class Call:
    """One recorded call of a module: the module, its name, its arguments and its output(s).

    `name` is the module's dotted path in the model (its class name for the model itself), the base of
    its nodes' and values' names; `label` names it in messages (``Conv2d 'features.0'``)."""

    module: Module
    name: str
    args: tuple
    outputs: tuple
    label: str


class GraphBuilder:
    """The ONNX graph as it is written: nodes in order, initializers, unique value names.

    The writers of layers and ops (`cnnlab.onnx.export_layers`, `cnnlab.onnx.export_ops`) call
    `node`, `param`, `constant` and `ints`; `export` assembles the model with `model`.

    Args:
        opset: the ONNX opset being written (writers choose forms by it).
        dtype: the float dtype of the graph; float constants take it.
        state: the model's state dict (``keep_vars=True``), which names the initializers.
    """

    def __init__(self, opset: int, dtype, state: dict):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset, self.dtype = opset, np.dtype(dtype)
        self.nodes, self.initializers, self.used, self.node_names = [], [], {"input", "output"}, set()
        self.state = {}  # id(parameter or buffer) -> its (first) state-dict key
        for key, t in state.items():
            self.state.setdefault(id(t), key)
        self.params = {}                                        # id(tensor) -> its initializer's name
        self.extra = {}  # facts that one writer leaves for another (MaxPool's ONNX indices for MaxUnpool)

    def fresh(self, base: str, used: set | None = None) -> str:
        """A value name (or a name in `used`) not taken yet: `base`, else base_1, base_2, ..."""
        used = self.used if used is None else used
        name, i = base, 0
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        return name

    def node(self, op_type: str, inputs, outputs=None, name: str | None = None, **attributes):
        """Add a node; `outputs` are names (made fresh from `name` or op_type when omitted).

        Returns the output name, or the list of them when there are several."""
        base = name or op_type
        if outputs is None:
            outputs = [self.fresh(base)]
        elif isinstance(outputs, str):
            outputs = [outputs]
        node_name = self.fresh(base, self.node_names)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), list(outputs), name=node_name, **attributes))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def initializer(self, name: str, array: np.ndarray) -> str:
        """An initializer under exactly this name (a state-dict key)."""
        if name in self.used:
            raise ExportError(f"export: the value name {name!r} is used twice")
        self.used.add(name)
        return self._store(name, array)

    def _store(self, name: str, array: np.ndarray) -> str:
        array = np.asarray(array, order="C")   # (np.ascontiguousarray would make a 0-d array 1-d)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def param(self, t: Tensor) -> str:
        """The initializer of a parameter or buffer, named by its state-dict key (written once)."""
        if id(t) not in self.params:
            key = self.state.get(id(t))
            self.params[id(t)] = self.initializer(key, t.data) if key is not None else self.constant("tensor", t.data)
        return self.params[id(t)]

    def constant(self, base: str, array) -> str:
        """A constant (an initializer under a fresh name); floats take the model's dtype."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        return self._store(self.fresh(base), array)

    def ints(self, base: str, values) -> str:
        """An int64 constant, e.g. the shape of a Reshape or the pads of a Pad."""
        return self.constant(base, np.asarray(values, dtype=np.int64))

    def model(self, input_shape, output_shape, dynamic_batch: bool):
        """The ModelProto with input "input" and output "output", dim 0 symbolic ("N") when `dynamic_batch`."""
        elem = self.helper.np_dtype_to_tensor_dtype(self.dtype)
        dims = lambda shape: (["N"] + list(shape[1:])) if dynamic_batch and shape else list(shape)  # noqa: E731
        graph = self.helper.make_graph(
            self.nodes, "cnnlab", [self.helper.make_tensor_value_info("input", elem, dims(input_shape))],
            [self.helper.make_tensor_value_info("output", elem, dims(output_shape))], self.initializers)
        opsets = [self.helper.make_opsetid("", self.opset)]
        return self.helper.make_model(graph, producer_name="cnnlab", opset_imports=opsets)


def _check_arguments(model, example_input, path, opset, dynamic_batch):
    """export's argument checks, before any work."""
    if not isinstance(model, Module):
        raise TypeError(f"export: model must be a cnnlab.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, (Tensor, np.ndarray)):
        raise TypeError(f"export: example_input must be a cnnlab Tensor or a NumPy array, "
                        f"got {type(example_input).__name__}")
    array = example_input.data if isinstance(example_input, Tensor) else example_input
    if array.dtype.kind != "f":
        raise TypeError(f"export: example_input must be a floating-point tensor, got dtype {array.dtype}")
    if array.ndim < 1 or array.shape[0] < 1:
        raise ValueError(f"export: example_input must have a batch dim of at least 1, got shape {array.shape}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export: path must be a str or os.PathLike, got {type(path).__name__}")
    opset = arguments.integer(opset, op="export", arg="opset")
    if opset not in OPSETS:
        raise ValueError(f"export: opset must be in {OPSETS.start}..{OPSETS.stop - 1}, got opset={opset}")
    return array, opset, arguments.boolean(dynamic_batch, op="export", arg="dynamic_batch")


def _trace(model: Module, array: np.ndarray):
    """Run the model once on a copy of `array`, hooks on every module.

    Returns (input, output, calls, spans): `calls` maps id(output) -> the `Call` of a layer of
    `LAYERS` that made it; `spans` are all module calls in the order they ended (inner ones first),
    for naming the module an unsupported op ran in."""
    calls, spans, handles = {}, [], []
    names = {id(m): name for name, m in model.named_modules()}

    def record(module, args, output):
        outputs = tuple(output) if isinstance(output, tuple) else (output,)
        path, kind = names.get(id(module), ""), type(module).__name__
        call = Call(module, path or kind, tuple(args), outputs, f"{kind} '{path}'" if path else kind)
        spans.append(call)
        if type(module) not in LAYERS or any(out is a for out in outputs for a in args):
            return  # looked through; or it returns its input: nothing to write
        for out in outputs:
            calls[id(out)] = call

    for module in model.modules():
        handles.append(module.register_forward_hook(record))
    x = Tensor(array.copy(), requires_grad=True)
    try:
        with enable_grad(), keep_inputs():   # the ops keep their inputs: the graph is walked below
            y = model(x)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(y, Tensor):
        raise ExportError(f"export: the model must return one Tensor, got {type(y).__name__}")
    if y is x:
        raise ExportError("export: the model returns its input unchanged; there is nothing to export")
    return x, y, calls, spans


def _write_graph(g: GraphBuilder, x: Tensor, y: Tensor, calls: dict, spans: list) -> None:
    """Walk back from y and write every node after the nodes of its inputs (depth first, no recursion)."""
    state = g.state
    names = {id(x): "input"}

    def inputs_of(t):
        call = calls.get(id(t))
        if call is not None:
            return [a for a in call.args if isinstance(a, Tensor)]
        if t.grad_fn is not None and id(t) not in state:
            return [a for a in t.grad_fn.inputs if isinstance(a, Tensor)]
        return []

    stack = [(y, False)]
    while stack:
        t, ready = stack.pop()
        if id(t) in names:
            continue
        if not ready:
            stack.append((t, True))
            stack.extend((a, False) for a in inputs_of(t) if id(a) not in names)
            continue
        call = calls.get(id(t))
        if call is not None:
            ins = [names.get(id(a)) if isinstance(a, Tensor) else a for a in call.args]
            outs = [g.fresh(call.name) if len(call.outputs) == 1 else g.fresh(f"{call.name}.{i}")
                    for i in range(len(call.outputs))]
            LAYERS[type(call.module)](g, call, ins, outs)
            for out, name in zip(call.outputs, outs):
                names[id(out)] = name
        elif id(t) in state:
            names[id(t)] = g.param(t)
        elif t.grad_fn is not None:
            op = type(t.grad_fn)
            if op not in OPS:
                raise ExportError(f"export: the op {op.__name__} in the forward of {_owner(spans, t)} has no ONNX "
                                  f"form here; between layers, export writes the ops "
                                  f"{', '.join(sorted(o.__name__ for o in OPS))}")
            ins = [names.get(id(a)) if isinstance(a, Tensor) else a for a in t.grad_fn.inputs]
            try:
                names[id(t)] = OPS[op](g, t.grad_fn, ins, t)
            except ExportError as e:
                raise ExportError(f"{e} (in the forward of {_owner(spans, t)})") from None
        else:  # a tensor made inside forward that does not depend on the input: a constant
            names[id(t)] = g.constant("constant", t.data)
    g.node("Identity", [names[id(y)]], ["output"], name="output")


def _owner(spans: list, t: Tensor) -> str:
    """The innermost module whose forward made `t`: the first call to end whose output is reached from
    `t`'s side, walking back from that output and stopping at the call's arguments."""
    for call in spans:
        stop, stack, seen = {id(a) for a in call.args}, list(call.outputs), set()
        while stack:
            u = stack.pop()
            if u is t:
                return call.label
            if id(u) in seen or id(u) in stop or not isinstance(u, Tensor) or u.grad_fn is None:
                continue
            seen.add(id(u))
            stack.extend(a for a in u.grad_fn.inputs if isinstance(a, Tensor))
    return "the model"  # pragma: no cover - the model's own call ends last and reaches every op


def export(model: Module, example_input, path, opset: int = 17, dynamic_batch: bool = True):
    """Write `model` as an ONNX file that computes what ``model.eval()(input)`` computes.

    The model is traced on `example_input` (one forward pass, in eval mode; its training flags are
    restored afterwards). Parameters and buffers become initializers under their state-dict keys
    (``features.0.weight``, ``bn1.running_mean``, ...); the graph input is ``"input"`` and the output
    ``"output"``. The model is checked with ``onnx.checker.check_model(full_check=True)`` before the
    file is written (atomically).

    Args:
        model: a cnnlab Module returning one Tensor.
        example_input: a floating-point Tensor or array (N, ...) that the model takes; its dtype is the
            graph's.
        path: the .onnx file to write.
        opset: the ONNX opset, 17..21. Default: 17 (DeformConv2d needs 19).
        dynamic_batch: make dim 0 of the input and output symbolic ("N"), so the file runs at any batch
            size (every layer keeps dim 0 free; a reshape in a forward does when it keeps dim 0 or is a
            flatten, see `cnnlab.onnx.export_ops`). Default: True.

    Returns:
        The ``onnx.ModelProto`` that was written.

    Raises:
        TypeError, ValueError: a bad argument (before any work).
        ImportError: the ``onnx`` package is missing (``pip install cnnlab[onnx]``).
        ExportError (a ValueError): a layer or op that ONNX cannot express, named with the reason;
            also a model that does not return one new Tensor.
        onnx.checker.ValidationError: the full checker refused the model (nothing is written).
        OSError: the file cannot be written (then it is left as it was).

    Models of 2 GB or more are not supported: a protobuf holds less (ONNX's external data would be
    needed).

    Example:
        >>> net = cnnlab.models.lenet5()
        >>> cnnlab.onnx.export(net, cnnlab.randn(1, 1, 28, 28), "lenet5.onnx")   # doctest: +SKIP
    """
    array, opset, dynamic_batch = _check_arguments(model, example_input, path, opset, dynamic_batch)
    try:
        import onnx
    except ImportError as e:
        raise MissingExtraError("export: ONNX export needs the onnx package: pip install 'cnnlab[onnx]'") from e
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        x, y, calls, spans = _trace(model, array)
    finally:
        for m, mode in modes:
            m.training = mode
    g = GraphBuilder(opset, array.dtype, model.state_dict(keep_vars=True))
    _write_graph(g, x, y, calls, spans)
    proto = g.model(x.shape, y.shape, dynamic_batch)
    onnx.checker.check_model(proto, full_check=True)
    atomic_write_bytes(path, proto.SerializeToString())
    return proto
