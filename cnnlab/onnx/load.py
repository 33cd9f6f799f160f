"""`load(path)`: an ONNX CNN graph as a runnable cnnlab Module.

The file is read with the `onnx` package (the ``[onnx]`` extra), checked by ``onnx.checker``, and
its nodes are turned one by one into modules (`cnnlab.onnx.convert_layers`,
`cnnlab.onnx.convert_tensors`): standard layers (`nn.Conv2d`, `nn.BatchNorm2d`, `nn.Linear`, ...)
that hold the initializers as their Parameters and buffers, or a `Call` of an op. On the way:

- nodes whose inputs are all constants (not trainable initializers) are computed once (constant
  folding: the shape arithmetic that exporters emit);
- the Shape -> Gather -> Unsqueeze -> Concat -> Reshape pattern that exporters emit for
  ``x.view(x.size(0), -1)``, and a Reshape to [0, -1], become a Flatten;
- an Identity of an initializer (exporters write one for each initializer equal to another) is a
  copy of it: a Parameter of its own;
- nodes whose outputs nobody reads are dropped.

Every problem with the file is one line that names the file (and the node), e.g.
``cnnlab.onnx.load: net.onnx: node 'n1' (NonMaxSuppression): NonMaxSuppression is not supported ...``.
"""
from __future__ import annotations

import os

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.messages import MissingExtraError
from cnnlab.nn import Parameter
from cnnlab.onnx.convert_layers import LAYERS
from cnnlab.onnx.convert_tensors import TENSORS
from cnnlab.onnx.graph import OnnxGraph

__all__ = ["load", "Node", "OnnxError", "CONVERTERS", "MIN_OPSET"]

#: op type -> converter (a function of a `Node` that returns the node's module).
CONVERTERS = {**LAYERS, **TENSORS}

#: The oldest default-domain opset read: the one that the files of real exporters start from.
MIN_OPSET = 6

#: Ops that are computed at load time when all their inputs are constants.
FOLDABLE = {"Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Reshape", "ConstantOfShape",
            "Identity", "Transpose", "Flatten", "Add", "Sub", "Mul", "Div", "Cast"}


class OnnxError(ValueError):
    """A problem with an ONNX file (its message is one line that names the file)."""


class NodeError(ValueError):
    """A converter's complaint about its node (load adds the file and the node to the message)."""


class Node:
    """One ONNX node as a converter sees it: its attributes, inputs and the constants it may absorb.

    Attributes:
        name (str): the node's name (or "OpType#index" when it has none). op (str): its op type.
        inputs, outputs (list of str): value names ("" for an omitted optional input).
        opset (int): the default domain's opset version of the file.
    """

    def __init__(self, proto, index, opset, constants, params, ranks):
        from onnx import helper

        self.name = proto.name or f"{proto.op_type}#{index}"
        self.op, self.opset = proto.op_type, opset
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        self.attrs = {}
        for a in proto.attribute:
            value = helper.get_attribute_value(a)
            self.attrs[a.name] = value.decode() if isinstance(value, bytes) else value
        self.absorbed = set()              # input positions taken into the module (initializers, constants)
        self._constants, self._params, self._ranks = constants, params, ranks

    def fail(self, message: str):
        """Raise the node's error (load names the file and the node)."""
        raise NodeError(message)

    def attr(self, name, default=None):
        """The attribute `name` as ONNX gives it (ints, floats, strings, lists, tensors), or `default`."""
        return self.attrs.get(name, default)

    def ints(self, name, n, default):
        """An attribute that holds n ints (e.g. strides), checked, as a tuple; `default` when absent."""
        value = self.attrs.get(name, default)
        if not isinstance(value, (list, tuple)):
            self.fail(f"attribute {name} must hold {n} ints, got {value!r}")
        value = tuple(value)
        if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
            self.fail(f"attribute {name} must hold {n} ints, got {list(value)}")
        return tuple(int(v) for v in value)

    def has(self, i: int) -> bool:
        """Whether the optional input i is given."""
        return i < len(self.inputs) and self.inputs[i] != ""

    def const(self, i: int, what: str = "", required: bool = True):
        """The value (a NumPy array) of input i, which must be a constant (an initializer, a Constant
        or a folded value); the module absorbs it. None when the optional input is absent."""
        if not self.has(i):
            if required:
                self.fail(f"input {i}{' (' + what + ')' if what else ''} is required")
            self.absorbed.add(i)       # an omitted optional input ("") is not passed on either
            return None
        name = self.inputs[i]
        if name not in self._constants:
            self.fail(f"input {i}{' (' + what + ')' if what else ''} {name!r} must be a constant "
                      "(an initializer or a Constant), but it is computed by the graph")
        self.absorbed.add(i)
        return self._constants[name]

    def peek(self, i: int):
        """The value of input i when it is a constant, else None (without absorbing it)."""
        return self._constants.get(self.inputs[i]) if self.has(i) else None

    def param(self, i: int, what: str = "", required: bool = True):
        """Input i as a Parameter (the same one for every node that reads that initializer); None when
        the optional input is absent. It must be an initializer of floats."""
        value = self.const(i, what, required)
        if value is None:
            return None
        name = self.inputs[i]
        if name not in self._params:
            if value.dtype.kind != "f":
                self.fail(f"input {i} ({what}) {name!r} must hold floats, got {value.dtype}")
            self._params[name] = Parameter(value.copy())
        return self._params[name]

    def rank(self, i: int = 0):
        """The rank of input i from ONNX's shape inference, or None when it is not known."""
        return self._ranks.get(self.inputs[i]) if self.has(i) else None


def _read(path):
    """The ModelProto of a path or a ModelProto, checked by onnx.checker."""
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("cnnlab.onnx.load needs the onnx package: pip install 'cnnlab[onnx]'") from None
    if isinstance(path, onnx.ModelProto):
        model, source = path, "<ModelProto>"
    elif isinstance(path, (str, os.PathLike)):
        source = os.fspath(path)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"cnnlab.onnx.load: {source}: no such file")
        try:
            model = onnx.load(source, load_external_data=False)
        except Exception as e:
            raise OnnxError(f"cnnlab.onnx.load: {source}: not a valid ONNX file ({_line(e)})") from None
    else:
        raise TypeError(f"cnnlab.onnx.load: path must be a str, an os.PathLike or an onnx.ModelProto, "
                        f"got {type(path).__name__}")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise OnnxError(f"cnnlab.onnx.load: {source}: not a valid ONNX model ({_line(e)})") from None
    return model, source


def _line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(e).__name__)


def _opset(model, source):
    versions = {o.domain: o.version for o in model.opset_import}
    opset = versions.get("", versions.get("ai.onnx"))
    if opset is None or opset < MIN_OPSET:
        raise OnnxError(f"cnnlab.onnx.load: {source}: the default ONNX opset must be {MIN_OPSET} or later, "
                        f"got {opset}")
    return opset


def _ranks(model):
    """Value name -> rank, from ONNX's shape inference (empty where it fails)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        inferred = model
    graph = inferred.graph
    ranks = {}
    for v in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = v.type.tensor_type
        if t.HasField("shape"):
            ranks[v.name] = len(t.shape.dim)
    return ranks


def _constants(model, source):
    """Initializer name -> NumPy array."""
    from onnx import numpy_helper

    values = {}
    for t in model.graph.initializer:
        if t.data_location == 1:  # TensorProto.EXTERNAL
            raise OnnxError(f"cnnlab.onnx.load: {source}: initializer {t.name!r} is stored in an external "
                            "data file, which cnnlab does not read")
        try:
            values[t.name] = numpy_helper.to_array(t)
        except Exception as e:
            raise OnnxError(f"cnnlab.onnx.load: {source}: initializer {t.name!r} cannot be read ({_line(e)})") \
                from None
    return values


def _flatten_patterns(nodes, constants):
    """Reshapes that flatten all but the batch dim, as Flatten(axis=1) nodes (same inputs and outputs)."""
    from onnx import helper

    producer = {out: n for n in nodes for out in n.output}

    def const(name):
        if name in constants:
            return np.asarray(constants[name])
        n = producer.get(name)
        if n is not None and n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            from onnx import numpy_helper
            return numpy_helper.to_array(n.attribute[0].t)
        return None

    def batch_size_of(name, x):
        """Whether value `name` is Unsqueeze(Gather(Shape(x), 0), axes=[0]) (or Gather(Shape(x), [0]))."""
        n = producer.get(name)
        if n is not None and n.op_type == "Unsqueeze":
            axes = [a.ints for a in n.attribute if a.name == "axes"]
            axes = list(axes[0]) if axes else (list(const(n.input[1]).ravel()) if len(n.input) > 1
                                                and const(n.input[1]) is not None else None)
            if axes != [0]:
                return False
            n, scalar = producer.get(n.input[0]), True
        else:
            scalar = False
        if n is None or n.op_type != "Gather" or any(a.name == "axis" and a.i != 0 for a in n.attribute):
            return False
        index = const(n.input[1])
        if index is None or index.ravel().tolist() != [0] or (index.ndim == 0) != scalar:
            return False
        shape = producer.get(n.input[0])
        return (shape is not None and shape.op_type == "Shape" and shape.input[0] == x
                and not any(a.name == "start" and a.i != 0 for a in shape.attribute))

    def flattens(node):
        shape = const(node.input[1])
        if shape is not None:
            allowzero = any(a.name == "allowzero" and a.i for a in node.attribute)
            return shape.ravel().tolist() == [0, -1] and not allowzero
        cat = producer.get(node.input[1])
        if cat is None or cat.op_type != "Concat" or len(cat.input) != 2:
            return False
        tail = const(cat.input[1])
        return tail is not None and tail.ravel().tolist() == [-1] and batch_size_of(cat.input[0], node.input[0])

    return [helper.make_node("Flatten", [n.input[0]], list(n.output), name=n.name, axis=1)
            if n.op_type == "Reshape" and len(n.input) == 2 and flattens(n) else n for n in nodes]


def _live(nodes, outputs):
    """The nodes that the graph's outputs depend on, in order."""
    needed, keep = set(outputs), []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    return keep[::-1]


def initializers(path) -> dict:
    """The initializers of an ONNX file (its weights), name -> Tensor, in the file's order: for loading
    into a model whose state-dict keys they carry (what `cnnlab.onnx.export` and PyTorch's exporter
    write, unless constant folding renamed them).

    Raises:
        FileNotFoundError, OnnxError: as `load`, naming the file.
    """
    from cnnlab.autograd import Tensor

    model, source = _read(path)
    return {name: Tensor(value) for name, value in _constants(model, source).items()}


def load(path) -> OnnxGraph:
    """An ONNX CNN graph as a runnable cnnlab Module (an `OnnxGraph`), in eval mode.

    Its ``forward`` takes the graph's inputs that are not initializers, in the graph's order, and
    returns its output (a tuple when there are several). Float initializers become Parameters (the
    weights of the layers that read them: `nn.Conv2d`, `nn.Linear`, `nn.BatchNorm2d`, ...; one
    Parameter per initializer, shared by every node that reads it), BatchNormalization's statistics
    become buffers, so the module can be fine-tuned (call ``.train()`` first, as in PyTorch).
    Attributes are read as ONNX defines them, for the default-domain opsets 6 onward.

    Args:
        path: the .onnx file (str or os.PathLike), or an ``onnx.ModelProto``.

    Returns:
        OnnxGraph: the module.

    Raises:
        TypeError: `path` is of another type.
        FileNotFoundError: there is no such file.
        ValueError: the file is not a valid ONNX model, or holds an op (or an attribute of one) that
            cnnlab does not support; the one-line message names the file and the node.
        ImportError: the onnx package is not installed (the ``[onnx]`` extra).

    Example:
        >>> net = cnnlab.onnx.load("lenet5.onnx")        # doctest: +SKIP
        >>> net(cnnlab.randn(2, 1, 28, 28)).shape        # doctest: +SKIP
        (2, 10)
    """
    model, source = _read(path)
    opset = _opset(model, source)
    graph = model.graph
    constants = _constants(model, source)
    trainable = {name for name, v in constants.items() if v.dtype.kind == "f"}
    inputs = [v.name for v in graph.input if v.name not in constants]
    outputs = [v.name for v in graph.output]
    params, ranks = {}, _ranks(model)
    protos = _live(_flatten_patterns(list(graph.node), constants), outputs)
    steps, runtime_inputs = [], set()
    for index, proto in enumerate(protos):
        if proto.op_type == "Identity" and proto.input[0] in constants:   # an exporter's copy of an initializer
            constants[proto.output[0]] = constants[proto.input[0]]
            trainable |= {proto.output[0]} if proto.input[0] in trainable else set()
            continue
        node = Node(proto, index, opset, constants, params, ranks)
        where = f"cnnlab.onnx.load: {source}: node {node.name!r} ({node.op})"
        if proto.domain not in ("", "ai.onnx"):
            raise OnnxError(f"{where}: ops of domain {proto.domain!r} are not supported")
        if node.op not in CONVERTERS:
            raise OnnxError(f"{where}: {node.op} is not supported (supported: {', '.join(sorted(CONVERTERS))})")
        try:
            module = CONVERTERS[node.op](node)
            ins = [name for i, name in enumerate(node.inputs) if i not in node.absorbed]
            fold = node.op in FOLDABLE and all(not n or (n in constants and n not in trainable) for n in ins)
            if fold:
                with no_grad():
                    result = module(*[Tensor(constants[n]) if n else None for n in ins])
                result = result if isinstance(result, tuple) else (result,)
                constants.update((name, np.asarray(r.data)) for name, r in zip(node.outputs, result))
                continue
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as e:
            raise OnnxError(f"{where}: {_line(e)}") from None
        runtime_inputs.update(n for n in ins if n in constants)
        steps.append((module, ins, node.outputs))
    missing = [n for n in outputs if n in constants and n not in runtime_inputs]
    values = {}
    for name in sorted(runtime_inputs | set(missing), key=list(constants).index):
        values[name] = params.get(name) or (Parameter(constants[name].copy()) if name in trainable
                                            else Tensor(constants[name].copy()))
    return OnnxGraph(inputs, outputs, steps, values, source).eval()
