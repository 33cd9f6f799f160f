"""`summary`: a network layer by layer — shapes, parameters, MACs and FLOPs, receptive fields — and
`receptive_field`: the input region that one output unit sees.

How the layers are found. A model made of Sequentials (``nn.Sequential``, ``keras.Sequential``)
whose layers can infer their output shapes (`Module.output_shape`, through the formulas of
`cnnlab.shapes`; Keras' ``compute_output_shape``) is summarised by shape inference alone: nothing is
computed. Any other model (a custom ``forward``: VGG's flatten, the ResNets' blocks) runs one forward
pass on zeros of ``input_size``, in eval mode, with a hook on every layer; the modes are restored
after. Each call of a layer is a row, in the order of the calls; a layer called twice has two rows,
its parameters counted in the first.

Conventions (also printed under the table):

- One multiply-add is one MAC; FLOPs = 2·MACs. MACs count the weights of conv and linear layers,
  each weight once per position it is applied at: a conv makes N·C_out·(C_in/groups)·∏k·∏o MACs
  (∏o the output positions), a transposed conv N·C_in·(C_out/groups)·∏k·∏n (∏n the input positions),
  a linear layer (inputs)·in·out; bias, pooling, normalization and activations count 0. These are
  ptflops' and ``torch.utils.flop_counter``'s numbers (the latter's FLOPs / 2).
- Receptive field r, effective stride S and effective padding P per spatial axis, in input pixels,
  as in Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks"
  (Distill, 2019): unit x of a layer's output sees the input pixels x·S − P .. x·S − P + r − 1
  (`shapes.field_after`, `shapes.field_region`). Through a graph (the ResNets) every path from the
  input counts (the rules for each kind of layer and op are in `cnnlab.tools.fields`): where paths
  meet (an add) their fields merge into the one that covers them all
  (`shapes.merge_fields`), with a note when they are misaligned (their centers differ) and no field
  when their strides differ. After a flatten, a linear layer or global pooling a unit sees the whole
  input and the row shows none.
- Memory: parameters in their dtype; activations are the outputs of every row for the whole batch
  in ``dtype``.

Example:
    >>> s = cnnlab.summary(cnnlab.models.lenet5(), (1, 1, 28, 28))
    >>> s.total_params, s.total_macs, s.rows[5]["receptive_field"]
    (61706, 416520, (16, 16))
    >>> print(s)                                               # the table   # doctest: +SKIP
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from cnnlab import arguments, backend, nn, shapes
from cnnlab.autograd import Tensor, enable_grad, keep_inputs
from cnnlab.keras import layers as K
from cnnlab.keras.models import Sequential as KerasSequential
from cnnlab.tools.fields import (CONSTANT, CONV_TRANSPOSES, CONVS, KERAS_CONVS, KERAS_TRANSPOSES, WEIGHTED, Tracer,
                                 channels_last, field_out, spatial_sizes, window)

__all__ = ["Summary", "Region", "summary", "receptive_field"]


CONVENTIONS = ("One multiply-add = one MAC; FLOPs = 2·MACs. MACs count conv and linear weights, each once per "
               "position it is applied at (a conv: N·C_out·(C_in/groups)·∏k·∏out); bias, pooling, normalization "
               "and activations are not counted (as ptflops, and torch.utils.flop_counter / 2). RF, S, P: receptive "
               "field, effective stride and effective padding per spatial axis in input pixels (Araujo, Norris and "
               "Sim, Distill 2019): unit x sees input pixels x·S − P .. x·S − P + RF − 1.")


# ---------------------------------------------------------------- the calls of the layers
@dataclass
class _Call:
    name: str
    module: object
    input_shape: tuple
    output_shape: tuple
    fields: tuple | None


def _is_container(module) -> bool:
    return next(iter(module.children()), None) is not None


def _infer(model, input_size, notes):
    """The calls of a model made of Sequentials, by shape inference; NotImplementedError if it is not one."""
    if any(_is_container(m) and not isinstance(m, (nn.Sequential, KerasSequential)) for m in model.modules()):
        raise NotImplementedError
    calls, shape = [], input_size
    fields = tuple(shapes.Field(1, 1, 0) for _ in input_size[2:])
    for name, module in model.named_modules(remove_duplicate=False):
        if _is_container(module):
            continue
        name = name or type(module).__name__
        try:
            if isinstance(module, K.Layer) and not module.built:   # as keras' Sequential.build(input_shape)
                module.output_shape(shape)
                module.build(shape)
                module.built = True
            out = tuple(module.output_shape(shape))
        except ValueError as e:
            raise ValueError(f"summary: input_size {input_size} does not fit layer '{name}': {e}") from None
        fields = field_out(module, fields, shape, out, notes, name)
        calls.append(_Call(name, module, shape, out, fields))
        shape = out
    for module in model.modules():   # every layer of a Keras Sequential is built now
        if isinstance(module, KerasSequential):
            module.built = True
    return calls, fields


def _trace(model, input_size, dtype, notes):
    """The calls of any model, from one forward pass with a hook on every layer; and the output's Fields."""
    names = {id(m): name or type(m).__name__ for name, m in model.named_modules() if not _is_container(m)}
    x = Tensor(np.zeros(input_size, dtype=dtype), requires_grad=True)
    tracer, calls = Tracer(x), []

    def hook(module, args, output):
        name = names[id(module)]
        tracer.layer = f"'{name}'"
        inp = next(a for a in args if isinstance(a, Tensor))
        out = output[0] if isinstance(output, tuple) else output
        fields = field_out(module, tracer.fields(inp), tuple(inp.shape), tuple(out.shape), tracer.notes, name)
        tracer.set(out, fields)
        calls.append(_Call(name, module, tuple(inp.shape), tuple(out.shape), fields))

    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(hook) for m in model.modules() if id(m) in names]
    model.eval()
    try:
        with enable_grad(), keep_inputs():   # the ops keep their inputs: the graph is walked below
            y = model(x)
    except ValueError as e:
        raise ValueError(f"summary: input_size {input_size} does not fit the model: {e}") from None
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes:
            m.training = training
    tracer.layer = "the output"
    y = y[0] if isinstance(y, tuple) else y
    fields = tracer.fields(y)
    notes += tracer.notes
    return calls, (None if fields is CONSTANT else fields), tuple(y.shape)


# ---------------------------------------------------------------- rows
def _macs(module, in_shape, out_shape) -> int:
    """Each weight once per position: positions = the output's (the input's, for a transposed conv) over channels."""
    if not isinstance(module, WEIGHTED):
        return 0
    shape = in_shape if isinstance(module, CONV_TRANSPOSES + KERAS_TRANSPOSES) else out_shape
    axis = -1 if channels_last(module) or isinstance(module, (nn.Linear, K.Dense)) else 1
    positions = math.prod(shape) // shape[axis]
    return positions * sum(p.numel() for p in module.parameters() if p.ndim >= 2)


def _per_axis(fields, key):
    return None if fields is None else tuple(getattr(f, key) for f in fields)


def _row(call: _Call, params: int, trainable: int) -> dict:
    module, (in_shape, out_shape) = call.module, (call.input_shape, call.output_shape)
    w = window(module, spatial_sizes(module, in_shape))
    macs = _macs(module, in_shape, out_shape)
    row = {"name": call.name, "layer_type": type(module).__name__, "input_shape": in_shape,
           "output_shape": out_shape, "params": params, "trainable_params": trainable, "macs": macs,
           "flops": 2 * macs, "receptive_field": _per_axis(call.fields, "size"),
           "effective_stride": _per_axis(call.fields, "stride"), "effective_padding": _per_axis(call.fields, "padding")}
    for key in ("kernel_size", "stride", "padding", "padding_per_side", "dilation", "groups"):
        row[key] = None
    if w is not None:
        row.update(kernel_size=w.kernel_size, stride=w.stride, padding=w.padding, padding_per_side=w.pads,
                   dilation=w.dilation, groups=w.groups)
    row["dense_params"] = row["unshared_params"] = None
    if isinstance(module, CONVS + KERAS_CONVS):   # the lecture's comparison, per sample
        has_bias = getattr(module, "bias", None) is not None
        volume_in, volume_out = math.prod(in_shape[1:]), math.prod(out_shape[1:])
        weights = sum(p.numel() for p in module.parameters() if p.ndim >= 2)
        positions = math.prod(spatial_sizes(module, out_shape))
        row["dense_params"] = volume_in * volume_out + has_bias * volume_out
        row["unshared_params"] = (weights + has_bias * out_shape[-1 if channels_last(module) else 1]) * positions
    return row


# ---------------------------------------------------------------- the summary
def _fmt(value) -> str:
    """An int with thousands separators; a per-axis tuple as one number when the axes agree, else 3×5."""
    if value is None:
        return "—"
    if isinstance(value, tuple):
        values = [_fmt(v) for v in value]
        return values[0] if len(set(values)) == 1 else "×".join(values)
    if isinstance(value, Fraction):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _window_text(row) -> str:
    if row["kernel_size"] is None:
        return ""
    pads = row["padding_per_side"]
    p = _fmt(tuple(a for a, _ in pads)) if all(a == b for a, b in pads) else \
        "(" + ",".join(f"{a}/{b}" for a, b in pads) + ")"
    text = f"k{_fmt(row['kernel_size'])} s{_fmt(row['stride'])} p{p}"
    if any(d != 1 for d in row["dilation"]):
        text += f" d{_fmt(row['dilation'])}"
    if row["groups"] not in (None, 1):
        text += f" g{row['groups']}"
    return text


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 1e5 else f"{n / 1e3:,.2f} kB"


def _plain(value):
    """A value of a row for JSON: tuples as lists, Fractions as floats (ints when whole)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Fraction):
        return float(value)
    return value


class Summary:
    """What `summary` returns: the rows (one dict per layer call) and the totals; ``print(s)`` shows the table.

    Attributes:
        rows (list of dict): per call of a layer, in order: ``name``, ``layer_type``, ``input_shape``,
            ``output_shape``, ``params``, ``trainable_params``, ``macs``, ``flops``, ``receptive_field``,
            ``effective_stride``, ``effective_padding`` (per spatial axis; None where not defined),
            ``kernel_size``, ``stride``, ``padding`` (as the layer holds it), ``padding_per_side``
            ((before, after) per axis, resolved), ``dilation``, ``groups`` (None for layers without a
            window), and for convs ``dense_params`` (a fully connected layer between the same input and
            output volumes) and ``unshared_params`` (a locally connected layer: one filter per output
            position), per sample, with bias where the conv has one.
        input_size, dtype, method: what was summarised and how ('shape inference' or 'forward pass').
        total_params, trainable_params, total_macs, total_flops: the totals (parameters each counted once).
        param_bytes, activation_bytes, input_bytes: memory in bytes for the given batch.
        output_shape, output_fields: the model's output shape and its Fields (None where not defined).
        notes (list of str): where a receptive field could not be followed, or paths meet misaligned.
        calls (list): per row, the call it was made from: ``name``, ``module`` (the layer itself),
            ``input_shape``, ``output_shape`` and ``fields`` (its `shapes.Field` per axis, or None).
    """

    def __init__(self, model, input_size, dtype, method, calls, output_shape, output_fields, notes):
        self.input_size, self.dtype, self.method = input_size, dtype, method
        self.output_shape, self.output_fields, self.notes = output_shape, output_fields, notes
        self.calls = calls
        seen, self.rows = set(), []
        for call in calls:
            new = [p for p in call.module.parameters() if id(p) not in seen]
            seen.update(id(p) for p in new)
            self.rows.append(_row(call, sum(p.numel() for p in new),
                                  sum(p.numel() for p in new if p.requires_grad)))
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.param_bytes = sum(p.numel() * p.dtype.itemsize for p in params)
        self.total_macs = sum(row["macs"] for row in self.rows)
        self.total_flops = 2 * self.total_macs
        self.activation_bytes = sum(math.prod(row["output_shape"]) for row in self.rows) * dtype.itemsize
        self.input_bytes = math.prod(input_size) * dtype.itemsize

    def to_dict(self) -> dict:
        """The rows and totals as plain lists, ints and strings (for ``json.dumps``)."""
        totals = {k: getattr(self, k) for k in ("total_params", "trainable_params", "total_macs", "total_flops",
                                                 "param_bytes", "activation_bytes", "input_bytes")}
        return {"input_size": list(self.input_size), "dtype": str(self.dtype), "method": self.method,
                "output_shape": list(self.output_shape),
                "rows": [{k: _plain(v) for k, v in row.items()} for row in self.rows],
                **totals, "notes": list(self.notes), "conventions": CONVENTIONS}

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Params", "MACs", "Window", "RF", "S", "P")
        widths = (37, 18, 12, 14, 13, 7, 5, 5)
        lines = [f"{header[0]:<{widths[0]}}" + "".join(f"{h:>{w + 1}}" for h, w in zip(header[1:], widths[1:]))]
        rule = "=" * len(lines[0])
        for row in self.rows:
            name = f"{row['name']} ({row['layer_type']})"
            if len(name) > widths[0]:
                name = "…" + name[-widths[0] + 1:]
            cells = (str(row["output_shape"]), _fmt(row["params"]), _fmt(row["macs"]), _window_text(row),
                     _fmt(row["receptive_field"]), _fmt(row["effective_stride"]), _fmt(row["effective_padding"]))
            lines.append(f"{name:<{widths[0]}}" + "".join(f"{c:>{w + 1}}" for c, w in zip(cells, widths[1:])))
        batch = self.input_size[0]
        footer = [
            f"Total params: {self.total_params:,} (trainable {self.trainable_params:,}; "
            f"{_megabytes(self.param_bytes)})",
            f"Total MACs: {self.total_macs:,}   FLOPs: {self.total_flops:,}   (batch of {batch})",
            f"Activations: {_megabytes(self.activation_bytes)} (every layer's output, {self.dtype}, batch of "
            f"{batch}); input {_megabytes(self.input_bytes)}",
            f"Input size {self.input_size}; shapes by {self.method}.",
        ]
        width = len(rule)
        notes = [line for note in self.notes for line in textwrap.wrap("Note: " + note, width)]
        conventions = textwrap.wrap(CONVENTIONS, width)
        return "\n".join([rule, lines[0], rule, *lines[1:], rule, *footer, *notes, *conventions])

    def receptive_field(self, unit, layer=None) -> Region:
        """`receptive_field` of this summary's model and input size (see there)."""
        if layer is None:
            module = self.calls[-1].module if self.method == "shape inference" and self.calls else None
            where, shape, fields = "the model's output", self.output_shape, self.output_fields
        else:
            if not isinstance(layer, str):
                raise TypeError(f"receptive_field: layer must be a layer's name (a str), got {type(layer).__name__}")
            calls = [c for c in self.calls if c.name == layer]
            if not calls:
                names = [c.name for c in self.calls]
                raise ValueError(f"receptive_field: no layer named {layer!r}; the layers are "
                                 f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''}")
            where, shape, fields, module = f"layer {layer!r}", calls[0].output_shape, calls[0].fields, calls[0].module
        spatial = spatial_sizes(module, shape)
        channels = shape[-1] if channels_last(module) else shape[1] if len(shape) > 1 else None
        D = len(self.input_size) - 2
        if len(shape) != D + 2:
            raise ValueError(f"receptive_field: {where} has no spatial axes (its shape is {shape}): each of its units "
                             "sees the whole input")
        if not isinstance(unit, (tuple, list)) or len(unit) != D + 1:
            raise ValueError(f"receptive_field: unit must be (channel, *position) with {D + 1} ints for {where} of "
                             f"shape {shape}, got {unit!r}")
        unit = tuple(arguments.integer(u, op="receptive_field", arg="unit") for u in unit)
        if not all(0 <= u < n for u, n in zip(unit, (channels,) + spatial)):
            raise ValueError(f"receptive_field: unit {unit} is outside {where}, whose (channels, *positions) are "
                             f"{(channels,) + spatial}")
        if fields is None:
            why = "; ".join(self.notes) or "a layer on the way has no receptive field"
            raise ValueError(f"receptive_field: the receptive field of {where} is not defined: {why}")
        regions = [shapes.field_region(f, x) for f, x in zip(fields, unit[1:])]
        start = tuple(math.ceil(a) for a, _ in regions)
        end = tuple(math.floor(b) for _, b in regions)
        sizes = self.input_size[1:-1] if channels_last(module) else self.input_size[2:]
        return Region(layer, unit, start, end, tuple(max(a, 0) for a in start),
                      tuple(min(b, n - 1) for b, n in zip(end, sizes)), tuple(self.notes))

    def __repr__(self) -> str:
        return (f"Summary({len(self.rows)} rows, total_params={self.total_params:,}, "
                f"total_macs={self.total_macs:,})")


def _input_size(input_size, op) -> tuple:
    if not isinstance(input_size, (tuple, list)) or len(input_size) < 2:
        raise ValueError(f"{op}: input_size must be a tuple (N, C, *spatial) of at least 2 ints, the batch "
                         f"included, got {input_size!r}")
    return tuple(arguments.positive_int(n, op=op, arg="input_size") for n in input_size)


def _dtype(dtype, model, op):
    if dtype is None:
        floats = [p.dtype for p in model.parameters() if p.dtype.kind == "f"]
        return np.dtype(floats[0]) if floats else np.dtype(backend.get_default_dtype())
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating point dtype such as cnnlab.float32, got {dtype!r}")
    return dt


def summary(model, input_size, dtype=None) -> Summary:
    """Shapes, parameters, MACs/FLOPs and receptive fields of every layer of `model`, as torchinfo's summary.

    Args:
        model (nn.Module): any cnnlab model (its modes are left as they were).
        input_size (tuple): the input's shape with the batch: (N, C, *spatial) — 1, 2 or 3 spatial
            dims — or (N, *spatial, C) for a channels_last Keras model.
        dtype: the input's and activations' dtype. Default: None, the dtype of the model's parameters.

    Returns:
        Summary: ``.rows``, ``.to_dict()``, the totals; ``print()`` gives the table. The conventions
        (what a MAC is, how receptive fields are counted) are in this module's docstring and under the table.

    Raises:
        ValueError: input_size is not a tuple of positive ints, or does not fit the model (the message
            names the layer); TypeError: model is not a Module, or dtype is not a float dtype.

    Example:
        >>> s = summary(nn.Sequential(nn.Conv2d(3, 96, 11, padding=5)), (1, 3, 55, 55))
        >>> row = s.rows[0]
        >>> row["params"], row["unshared_params"], row["dense_params"]    # the lecture's comparison
        (34944, 105705600, 2635670400)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: model must be a cnnlab nn.Module, got {type(model).__name__}")
    input_size = _input_size(input_size, "summary")
    dtype = _dtype(dtype, model, "summary")
    notes = []
    try:
        calls, fields = _infer(model, input_size, notes)
        method, output_shape = "shape inference", calls[-1].output_shape if calls else input_size
    except NotImplementedError:
        notes.clear()
        calls, fields, output_shape = _trace(model, input_size, dtype, notes)
        method = "forward pass"
    return Summary(model, input_size, dtype, method, calls, output_shape, fields, notes)


# ---------------------------------------------------------------- one unit's region
@dataclass(frozen=True)
class Region:
    """The input region that one unit sees, per spatial axis: first and last pixel (inclusive).

    Attributes:
        layer (str or None): the layer's name; None for the model's output.
        unit (tuple): (channel, *position) of the unit.
        start, end: unclipped, as the receptive-field arithmetic gives them (may run past the input).
        clipped_start, clipped_end: the same region clipped to the input.
        notes (tuple of str): misaligned paths and the like (`Summary.notes`).
    """
    layer: str | None
    unit: tuple
    start: tuple
    end: tuple
    clipped_start: tuple
    clipped_end: tuple
    notes: tuple = ()

    @property
    def slices(self) -> tuple:
        """``slice(clipped_start, clipped_end + 1)`` per spatial axis: ``x[..., *region.slices]`` crops it."""
        return tuple(slice(a, b + 1) for a, b in zip(self.clipped_start, self.clipped_end))


def receptive_field(model, input_size, unit, layer=None) -> Region:
    """The input region that one unit of the model's output (or of layer `layer`'s output) sees.

    Unit x (per spatial axis) of a map with receptive field r, effective stride S and effective padding P
    sees the input pixels x·S − P .. x·S − P + r − 1 (`shapes.field_region`); a region that runs past the
    input (padding, a ceil-mode pool's last window) is also given clipped to it. After a transposed conv
    the region is the whole pixels inside the bound of `shapes.field_after`.

    Args:
        model (nn.Module): as `summary`.
        input_size (tuple): as `summary`, (N, C, *spatial).
        unit (tuple of ints): (channel, *position) in the layer's output, e.g. (0, 3, 3).
        layer (str): a layer's name, as `summary`'s rows name it ('features.4'). Default: None, the
            model's output. A layer called twice: its first call.

    Returns:
        Region: ``start``, ``end`` (unclipped) and ``clipped_start``, ``clipped_end``, per spatial axis.

    Raises:
        ValueError: an unknown layer name, a unit outside the output, a layer without spatial axes or
            without a receptive field (the message says why).

    Example:
        >>> r = receptive_field(cnnlab.models.lenet5(), (1, 1, 28, 28), (0, 0, 0), layer="5")   # S4
        >>> r.start, r.end, r.clipped_start, r.clipped_end
        ((-2, -2), (13, 13), (0, 0), (13, 13))
    """
    return summary(model, input_size).receptive_field(unit, layer)
