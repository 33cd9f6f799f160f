"""One output element of a named layer of a model, for one input: how the layer computed it.

`layer` runs the model once (eval mode, no gradients) with a forward hook on the layer, which keeps the
layer's input and output, and explains the element by the kind of layer:

    conv        Conv2d (zeros padding): `conv2d`, the window of the layer's input, the kernel, the terms, bias
    max_pool    MaxPool2d: `max_pool2d`, the window and the winner
    avg_pool    AvgPool2d: `avg_pool2d`, the window's sum and the divisor
    mean        AdaptiveAvgPool2d: the mean of the bin (PyTorch's bins, `shapes.adaptive_bins`)
    linear      Linear: y_j = b_j + Σ_i x_i·W[j, i], one `Term` per input
    batch_norm  BatchNorm2d (eval): y = (x − μ_c)/√(σ²_c + ε)·γ_c + β_c
    pointwise   ReLU and the other activations, Dropout (eval): the value before and after
    flatten     Flatten: which input element it is

The value that the explanation computes is compared with the layer's own output there (``agrees``), to
float rounding. ``to_dict()`` gives it all as plain lists, numbers and strings (for JSON).

Example:
    >>> import cnnlab
    >>> model = cnnlab.models.lenet5()
    >>> e = layer(model, np.ones((1, 28, 28), np.float32), "3", (0, 2, 2))     # C3
    >>> e.kind, len(e.element.terms), e.agrees                                  # 6 channels × 5 × 5
    ('conv', 150, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnlab import nn, shapes
from cnnlab.autograd import Tensor, no_grad
from cnnlab.explain import element as el, printing as fmt
from cnnlab.explain.conv import conv2d
from cnnlab.explain.element import Term, plain
from cnnlab.explain.pooling import avg_pool2d, max_pool2d
from cnnlab.messages import SettingError

__all__ = ["LayerExplanation", "layer", "KINDS"]

#: layers explained by their value before and after (elementwise in eval mode)
POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Tanh,
             nn.Dropout)

KINDS = ("conv", "max_pool", "avg_pool", "mean", "linear", "batch_norm", "pointwise", "flatten")


@dataclass(frozen=True)
class LayerExplanation:
    """One output element of a layer of a model (returned by `layer`).

    Attributes:
        layer, layer_type: the layer's name (as `named_modules` gives it) and its class name.
        kind: one of `KINDS` (see the module's docstring).
        at: the element in the layer's output for the one input: (channel, i, j) for maps, (j,) for vectors.
        input_shape, output_shape: the layer's input and output for the one input (the batch left out).
        value: the layer's own output at ``at``.
        computed: what the explanation computes there, in the layer's dtype.
        agrees: whether the two are equal to float rounding (they must be).
        formula: the arithmetic in one line (for conv, linear and the pools the sum; for pointwise layers
            f(before) = after).
        element: for conv and the pools, the `ConvExplanation`, `MaxPoolExplanation` or `AvgPoolExplanation`
            of the layer's input (its terms on the padded input); else None.
        terms: for linear, one `Term` per input x_i (channel i, position (i,), weight W[j, i]); for mean, the
            bin's cells; for pointwise, batch_norm and flatten the one input value; () for the others.
        bias: the bias of conv and linear (None without one).
        parameters: batch_norm's mean, var, eps, weight and bias of the channel; a pointwise layer's repr.
    """
    layer: str
    layer_type: str
    kind: str
    at: tuple
    input_shape: tuple
    output_shape: tuple
    value: float
    computed: float
    agrees: bool
    formula: str
    element: el.Element | None = None
    terms: tuple = ()
    bias: float | None = None
    parameters: dict | None = None

    def to_dict(self) -> dict:
        """Everything as plain lists, numbers and strings; non-finite numbers (−∞ padding of max pooling) as None."""
        return plain(self)


def _check_at(at, shape, name) -> tuple:
    """`at` as ints inside the output `shape` (the batch left out), else a SettingError naming ``at``."""
    op = "explain.layer"
    items = tuple(at) if isinstance(at, (tuple, list)) else ()
    ok = len(items) == len(shape) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                          for v in items)
    if not ok:
        what = "(channel, i, j)" if len(shape) == 3 else f"{len(shape)} ints"
        raise SettingError(op, f"{{at}} must be {what} for layer {name!r}, whose output is {tuple(shape)}, "
                               f"got {at!r}", "at")
    items = tuple(int(v) for v in items)
    if not all(0 <= v < n for v, n in zip(items, shape)):
        raise SettingError(op, f"{{at}} {list(items)} is outside the output {tuple(shape)} of layer {name!r}", "at")
    return items


def _run(model, image, name):
    """(module, its input, its output) of the layer's first call for the one image, arrays without the batch."""
    modules = dict(model.named_modules())
    if not isinstance(name, str):
        raise TypeError(f"explain.layer: layer must be a layer's name (a str), got {type(name).__name__}")
    if name not in modules or name == "" or next(iter(modules[name].children()), None) is not None:
        leaves = [n for n, m in modules.items() if n and next(iter(m.children()), None) is None]
        raise SettingError("explain.layer", f"{{layer}} {name!r} is not a layer of {type(model).__name__} (its "
                           f"layers: {', '.join(leaves[:16])}{', ...' if len(leaves) > 16 else ''})", "layer")
    module = modules[name]
    x = np.asarray(image.data if isinstance(image, Tensor) else image)
    if x.ndim < 2 or x.dtype.kind != "f":
        raise ValueError(f"explain.layer: image must be one floating-point input (C, *spatial), got shape "
                         f"{x.shape} and dtype {x.dtype}")
    seen = {}

    def hook(_module, args, output):
        seen.setdefault("io", (args[0].data[0], output.data[0]))

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad(), module.register_forward_hook(hook):
            model(Tensor(x[None]))
    finally:
        for m, training in modes:
            m.training = training
    if "io" not in seen:
        raise ValueError(f"explain.layer: layer {name!r} is not called by {type(model).__name__}'s forward")
    return (module,) + seen["io"]


def _same(computed, value, scale, dtype, op) -> bool:
    return el.agreement(op, computed, value, scale, dtype)[0]


def _same_as_layer(e, value, dtype) -> bool:
    """Whether an op's explanation agrees with its op, and the op's value with the layer's output in the model."""
    scale = sum(abs(t.value * t.weight) for t in e.terms if math.isfinite(t.value)) + abs(getattr(e, "bias", 0) or 0)
    return e.agrees and _same(e.op_value, value, scale, dtype, e.op)


def layer(model, image, name, at) -> LayerExplanation:
    """How layer ``name`` of ``model`` computed its output element ``at`` for ``image`` (see the module docstring).

    Args:
        model: a Module (run once in eval mode; its modes come back after).
        image: one input (C, H, W), preprocessed as the model's training images.
        name: the layer, as `named_modules` names it ('features.3'); a leaf layer, called in the forward pass.
        at: the element of the layer's output for this input, without the batch: (channel, i, j) for maps,
            (j,) for the vector of a Linear or Flatten.

    Returns:
        a `LayerExplanation`.

    Raises:
        ValueError (a SettingError naming ``layer`` or ``at``): an unknown layer, one not called, ``at`` not
            inside its output, or a layer of a kind that has no explanation here (the message says which).
    """
    module, x, y = _run(model, image, name)
    at = _check_at(at, y.shape, name)
    value = float(y[at])
    common = dict(layer=name, layer_type=type(module).__name__, at=at, input_shape=tuple(x.shape),
                  output_shape=tuple(y.shape), value=value)
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros":
            raise SettingError("explain.layer", f"{{layer}} {name!r} pads with {module.padding_mode!r}; only "
                               "zeros padding is explained", "layer")
        e = conv2d(Tensor(x), module.weight, module.bias, module.stride, module.padding, module.dilation,
                   module.groups, at=at)
        return LayerExplanation(kind="conv", computed=e.value, agrees=_same_as_layer(e, value, x.dtype),
                                formula=e.sum_line().splitlines()[-1], element=e, bias=e.bias, **common)
    if isinstance(module, nn.MaxPool2d):
        e = max_pool2d(Tensor(x), module.kernel_size, module.stride, module.padding, module.dilation,
                       module.ceil_mode, at=at)
        formula = f"max({', '.join(fmt.number(t.value) for t in e.terms)}) = {fmt.number(e.value)}"
        return LayerExplanation(kind="max_pool", computed=e.value, agrees=_same_as_layer(e, value, x.dtype),
                                formula=formula, element=e, **common)
    if isinstance(module, nn.AvgPool2d):
        e = avg_pool2d(Tensor(x), module.kernel_size, module.stride, module.padding, module.ceil_mode,
                       module.count_include_pad, module.divisor_override, at=at)
        formula = f"({' + '.join(fmt.factor(t.value) for t in e.terms)}) / {e.divisor} = {fmt.number(e.value)}"
        return LayerExplanation(kind="avg_pool", computed=e.value, agrees=_same_as_layer(e, value, x.dtype),
                                formula=formula, element=e, **common)
    if isinstance(module, nn.AdaptiveAvgPool2d) and x.ndim == 3:
        c, i, j = at
        (r0, r1), (c0, c1) = (shapes.adaptive_bins(n, o)[k] for n, o, k in zip(x.shape[1:], y.shape[1:], (i, j)))
        cells = x[c, r0:r1, c0:c1]
        computed = cells.mean(dtype=x.dtype)
        terms = tuple(Term(c, (r, q), float(x[c, r, q])) for r in range(r0, r1) for q in range(c0, c1))
        formula = f"mean of the {cells.size} values of channel {c}, rows {r0}..{r1 - 1} × columns {c0}..{c1 - 1} " \
                  f"= {fmt.number(computed)}"
        return LayerExplanation(kind="mean", computed=float(computed), terms=terms, formula=formula,
                                agrees=_same(float(computed), value, float(np.abs(cells).mean()), x.dtype, name),
                                **common)
    if isinstance(module, nn.Linear) and x.ndim == 1:
        (j,) = at
        w = module.weight.data[j]                                                   # (in_features,)
        products = x * w
        bias = None if module.bias is None else float(module.bias.data[j])
        computed = products.sum() + (module.bias.data[j] if module.bias is not None else 0)
        terms = tuple(Term(i, (i,), float(x[i]), (j, i), float(w[i])) for i in range(x.shape[0]))
        formula = f"Σ_i x_i·W[{j}, i] over {x.shape[0]} inputs = {fmt.number(products.sum())}" + \
                  (f", + bias {fmt.number(bias)} = {fmt.number(computed)}" if bias is not None else "")
        scale = float(np.abs(products).sum()) + abs(bias or 0.0)
        return LayerExplanation(kind="linear", computed=float(computed), terms=terms, bias=bias, formula=formula,
                                agrees=_same(float(computed), value, scale, x.dtype, name), **common)
    if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None and x.ndim == 3:
        c = at[0]
        before = x[at]
        mean, var = module.running_mean.data[c], module.running_var.data[c]
        gamma = module.weight.data[c] if module.weight is not None else x.dtype.type(1)
        beta = module.bias.data[c] if module.bias is not None else x.dtype.type(0)
        computed = (before - mean) / np.sqrt(var + x.dtype.type(module.eps)) * gamma + beta
        parameters = dict(mean=float(mean), var=float(var), eps=module.eps, weight=float(gamma), bias=float(beta))
        formula = (f"({fmt.number(before)} − {fmt.number(mean)}) / √({fmt.number(var)} + {module.eps:g}) × "
                   f"{fmt.number(gamma)} + {fmt.number(beta)} = {fmt.number(computed)}")
        scale = abs(float(computed)) + abs(float(beta)) + 1e-30
        return LayerExplanation(kind="batch_norm", computed=float(computed), terms=(Term(c, at[1:], float(before)),),
                                parameters=parameters, formula=formula,
                                agrees=_same(float(computed), value, scale, x.dtype, name), **common)
    if isinstance(module, POINTWISE) and x.shape == y.shape:
        before = x[at]
        with no_grad():
            computed = module(Tensor(np.array([before], dtype=x.dtype))).data[0]
        formula = f"{type(module).__name__}({fmt.number(before)}) = {fmt.number(computed)}"
        return LayerExplanation(kind="pointwise", computed=float(computed), parameters={"module": repr(module)},
                                terms=(Term(at[0], at[1:], float(before)),), formula=formula,
                                agrees=bool(computed == value or (math.isnan(computed) and math.isnan(value))),
                                **common)
    if isinstance(module, nn.Flatten) and y.ndim == 1 and x.size == y.size:
        source = tuple(int(v) for v in np.unravel_index(at[0], x.shape))
        formula = f"element {at[0]} of the flattened vector is input {list(source)} = {fmt.number(x[source])}"
        return LayerExplanation(kind="flatten", computed=float(x[source]), terms=(Term(source[0], source[1:],
                                float(x[source])),), formula=formula, agrees=bool(x[source] == value), **common)
    raise SettingError("explain.layer", f"{{layer}} {name!r} is a {type(module).__name__}, which has no "
                       "explanation here (explained: Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Linear, "
                       "BatchNorm2d, Flatten and the activations)", "layer")
