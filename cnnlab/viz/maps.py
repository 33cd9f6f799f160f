"""What a network sees, as NumPy arrays: filters, feature maps, CAM, Grad-CAM, saliency, receptive fields.

Every function here computes; none draws (the pictures are `cnnlab.viz.pictures`), so none needs
matplotlib. Layers are named as `Module.named_modules` names them (``"features.3"``); their outputs are
caught with forward hooks, and the gradients come from cnnlab's own autograd. Each function runs the
model in eval mode with its parameters frozen (no ``.grad`` is written to them), and gives both back
as they were.

Notation (Zhou et al. 2016; Selvaraju et al. 2017): f_k (h, w) the k-th of the K feature maps that a
global average pooling (GAP) turns into F_k = (1/Z) Σ_ij f_k(i, j), Z = h·w the number of positions;
y^c = Σ_k w_k^c F_k + b^c the score of class c before softmax; A^k the k-th output map of any layer.

    CAM        M_c = Σ_k w_k^c f_k                                   (a GAP + linear model only)
    Grad-CAM   α_k^c = (1/Z) Σ_ij ∂y^c/∂A^k_ij,   L_c = ReLU(Σ_k α_k^c A^k)      (any layer)
    saliency   S(i, j) = max_channel |∂y^c/∂x(i, j)|                 (Simonyan et al. 2014)
    ERF        mean over inputs of Σ_channel |∂(Σ_k y_k(center))/∂x|    (Luo et al. 2016)

What the theory says, and the tests check: for a GAP + linear model and the layer whose output is the
GAP's input, ∂y^c/∂f_k(i, j) = w_k^c / Z at every position, so α_k^c = w_k^c / Z and
L_c = ReLU(M_c) / Z; and Σ_ij M_c(i, j) / Z + b^c = y^c.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from cnnlab import arguments, nn, shapes
from cnnlab.nn import functional as F
from cnnlab.autograd import Tensor, no_grad
from cnnlab.messages import SettingError

__all__ = ["ClassMap", "bilinear_resize", "conv_layer_names", "default_layer", "find_layer", "gap_classifier",
           "first_layer_filters", "feature_maps", "layer_outputs", "cam", "grad_cam", "saliency", "effective_receptive_field",
           "receptive_field_box"]

#: layers that keep the size of the maps and work on each position or channel: the default Grad-CAM
#: layer is the last conv followed by these (its rectified maps)
_POINTWISE = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish,
              nn.Sigmoid, nn.Tanh)


@dataclass
class ClassMap:
    """A map of where the evidence for one class lies in one input image (`cam`, `grad_cam`, `saliency`).

    Attributes:
        method: 'cam', 'gradcam' or 'saliency'.
        layer: the name of the layer whose maps were used ('' for saliency, which is about the input).
        target: the class c.
        scores: (classes,) the class scores y before softmax.
        low_res: (h, w) the map at the layer's resolution.
        map: (H, W) ``low_res`` resized to the input by `bilinear_resize`.
    """

    method: str
    layer: str
    target: int
    scores: np.ndarray
    low_res: np.ndarray
    map: np.ndarray


# ---------------------------------------------------------------- resizing
def bilinear_resize(array, size) -> np.ndarray:
    """Resize the last two axes bilinearly: ``F.interpolate(x, size, mode='bilinear', align_corners=False)``
    on a NumPy array (PyTorch's rule without antialiasing; see `cnnlab.nn.functional.interpolate`).

    Args:
        array: (..., h, w), floating point.
        size: (H, W) or one int for both.

    Returns:
        (..., H, W), of the input's dtype.

    Example:
        >>> bilinear_resize(np.array([[0.0, 1.0]]), (1, 4))
        array([[0.  , 0.25, 0.75, 1.  ]])
    """
    array = np.asarray(array)
    if array.ndim < 2 or array.dtype.kind != "f":
        raise ValueError(f"bilinear_resize: array must be floating point with 2 or more axes (..., h, w), "
                         f"got shape {array.shape} and dtype {array.dtype}")
    size = arguments.positive_ints(size, 2, op="bilinear_resize", arg="size")
    planes = Tensor(array.reshape((-1, 1) + array.shape[-2:]))                  # (M, 1, h, w)
    with no_grad():
        out = F.interpolate(planes, size=size, mode="bilinear", align_corners=False).data
    return out.reshape(array.shape[:-2] + size)


def conv_layer_names(model) -> list[str]:
    """The names of the model's Conv2d layers, in the order `named_modules` gives (the order of definition)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def default_layer(model) -> str:
    """Grad-CAM's default layer: the last Conv2d, or the last of the BatchNorm and activation layers that
    follow it directly in its Sequential (then its maps are rectified, as the Grad-CAM paper takes them).

    Raises:
        ValueError: the model has no Conv2d.
    """
    names = conv_layer_names(model)
    if not names:
        raise ValueError(f"default_layer: {type(model).__name__} has no Conv2d layer")
    parent_name, _, child = names[-1].rpartition(".")
    parent = model.get_submodule(parent_name)
    if not isinstance(parent, nn.Sequential):
        return names[-1]
    children = list(parent.named_children())  # (name, module) in the order of the Sequential
    i = [key for key, _ in children].index(child)
    while i + 1 < len(children) and isinstance(children[i + 1][1], _POINTWISE):
        i += 1
    return f"{parent_name}.{children[i][0]}" if parent_name else children[i][0]


def find_layer(model, name, op: str = "find_layer"):
    """The module that `named_modules` calls ``name`` (not "", the model itself).

    Raises:
        TypeError: ``name`` is not a str.
        SettingError (a ValueError): no module has that name; the message, owned by ``op``, lists the
            conv layers.
    """
    if not isinstance(name, str):
        raise TypeError(f"{op}: layer must be a module name (str), got {type(name).__name__}")
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        convs = ", ".join(conv_layer_names(model)) or "none"
        raise SettingError(op, f"{{layer}} {name!r} is not a layer of {type(model).__name__} (its conv layers: "
                           f"{convs})", "layer")
    return modules[name]


def gap_classifier(model):
    """(name of the GAP, name of the linear classifier) when the model ends in
    AdaptiveAvgPool2d(1) -> flatten -> Linear, as CAM needs; else None.

    Read from the structure, without running the model: the last AdaptiveAvgPool2d with output size 1
    and the last Linear, defined after it (`cam` then checks in a forward pass that the one feeds the
    other and that the Linear gives the scores).
    """
    modules = list(model.named_modules())
    gaps = [i for i, (_, m) in enumerate(modules) if isinstance(m, nn.AdaptiveAvgPool2d)
            and arguments.ntuple(m.output_size, 2, op="gap_classifier", arg="output_size") == (1, 1)]
    linears = [i for i, (_, m) in enumerate(modules) if isinstance(m, nn.Linear)]
    if not gaps or not linears or linears[-1] < gaps[-1]:
        return None
    return modules[gaps[-1]][0], modules[linears[-1]][0]


# ---------------------------------------------------------------- running the model
@contextlib.contextmanager
def _inspecting(model):
    """Eval mode and frozen parameters for the block; the model's mode and flags come back after it."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad = False
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad = flag


def _image(image, op: str) -> np.ndarray:
    """One image (C, H, W) as a floating (1, C, H, W) array."""
    data = np.asarray(image.data if isinstance(image, Tensor) else image)
    if data.ndim != 3 or data.dtype.kind != "f":
        raise ValueError(f"{op}: image must be one floating-point image (C, H, W), got shape {data.shape} "
                         f"and dtype {data.dtype}")
    return data[None]


def _target(target, scores: np.ndarray, op: str) -> int:
    classes = scores.shape[-1]
    if target is None:
        return int(np.argmax(scores))
    target = arguments.integer(target, op=op, arg="target")
    if not 0 <= target < classes:
        raise SettingError(op, f"{{target}} must be a class index in [0, {classes}), got {target}", "target")
    return target


def _scores(out: Tensor, op: str) -> Tensor:
    if out.ndim != 2 or out.shape[0] != 1:
        raise ValueError(f"{op}: the model must give class scores (1, classes) for one image, got shape {out.shape}")
    return out


def _catch(module, name: str, op: str, leaf: bool = False):
    """A forward hook on ``module`` that keeps its (N, K, h, w) output in the returned dict under "out";
    with ``leaf``, the output is replaced by a leaf that requires grad (backward stops there)."""
    caught = {}

    def hook(_module, _args, output):
        if not isinstance(output, Tensor) or output.ndim != 4:
            raise ValueError(f"{op}: layer {name!r} ({type(module).__name__}) gives "
                             f"{getattr(output, 'shape', type(output).__name__)}, not maps (N, C, H, W)")
        if "out" in caught:
            raise ValueError(f"{op}: layer {name!r} is called more than once in a forward pass; name one "
                             "that is called once")
        caught["out"] = Tensor(output.data, requires_grad=True) if leaf else output
        return caught["out"]

    return module.register_forward_hook(hook), caught


# ---------------------------------------------------------------- filters and feature maps
def first_layer_filters(model) -> np.ndarray:
    """The weights of the model's first Conv2d: (C_out, C_in/groups, kH, kW), a copy.

    Raises:
        ValueError: the model has no Conv2d.
    """
    names = conv_layer_names(model)
    if not names:
        raise ValueError(f"first_layer_filters: {type(model).__name__} has no Conv2d layer")
    return model.get_submodule(names[0]).weight.data.copy()


def feature_maps(model, image, layers=None) -> dict[str, np.ndarray]:
    """The output maps of each named layer (default: every Conv2d) for one image.

    Args:
        model: a Module.
        image: (C, H, W), preprocessed as the model's training images.
        layers: names of layers (`named_modules`); default: `conv_layer_names`.

    Returns:
        {name: (C_l, H_l, W_l)} in the order of ``layers``.
    """
    names = conv_layer_names(model) if layers is None else list(layers)
    x = _image(image, "feature_maps")
    modules = [find_layer(model, name, "feature_maps") for name in names]
    with contextlib.ExitStack() as stack, _inspecting(model), no_grad():
        caught = []
        for name, module in zip(names, modules):
            handle, maps = _catch(module, name, "feature_maps")
            stack.enter_context(handle)
            caught.append(maps)
        model(Tensor(x))
    missing = [name for name, maps in zip(names, caught) if "out" not in maps]
    if missing:
        raise ValueError(f"feature_maps: layer {missing[0]!r} is not called by {type(model).__name__}'s forward")
    return {name: maps["out"].data[0] for name, maps in zip(names, caught)}


def layer_outputs(model, image) -> dict[str, np.ndarray]:
    """The output of every layer (each leaf module: convs, activations, pools, flatten, linear...) for one
    image, the batch left out: {name: (C_l, H_l, W_l) or (F_l,)}, in the order of the calls of one forward
    pass (a layer called twice: its first call), as `cnnlab.summary`'s rows name them.

    Example:
        >>> from cnnlab.models import lenet5
        >>> outs = layer_outputs(lenet5(), np.zeros((1, 28, 28), np.float32))
        >>> [(name, out.shape) for name, out in outs.items()][:3]
        [('0', (6, 28, 28)), ('1', (6, 28, 28)), ('2', (6, 14, 14))]
    """
    x = _image(image, "layer_outputs")
    outputs = {}

    def keep(name):
        def hook(_module, _args, output):
            if isinstance(output, Tensor) and name not in outputs:
                outputs[name] = output.data[0]
        return hook

    with contextlib.ExitStack() as stack, _inspecting(model), no_grad():
        for name, module in model.named_modules():
            if name and next(iter(module.children()), None) is None:
                stack.enter_context(module.register_forward_hook(keep(name)))
        model(Tensor(x))
    return outputs


# ---------------------------------------------------------------- class maps
def cam(model, image, target=None) -> ClassMap:
    """The class activation map M_c = Σ_k w_k^c f_k of a GAP + linear model (Zhou et al. 2016).

    f_k are the maps that enter the GAP (AdaptiveAvgPool2d(1)), w the weight of the Linear that takes the
    pooled vector and gives the scores; the bias is not part of M_c (Σ_ij M_c / Z + b^c = y^c).

    Args:
        model: a model that ends conv maps -> AdaptiveAvgPool2d(1) -> flatten -> Linear (`gap_classifier`).
        image: (C, H, W), preprocessed as the model's training images.
        target: the class c; default: the highest score.

    Returns:
        `ClassMap` with low_res (h, w) = M_c and map (H, W) its bilinear resize to the input; ``layer``
        names the GAP.

    Raises:
        ValueError: the model is not GAP + linear, the image is not (C, H, W), or target is not a class.

    Example:
        >>> from cnnlab.models import gapnet
        >>> result = cam(gapnet(widths=(8,)), np.zeros((1, 28, 28), np.float32), target=3)
        >>> result.low_res.shape, result.map.shape
        ((28, 28), (28, 28))
    """
    found = gap_classifier(model)
    if found is None:
        raise ValueError(f"cam: {type(model).__name__} has no global average pooling before a linear classifier "
                         "(CAM needs conv maps -> AdaptiveAvgPool2d(1) -> flatten -> Linear); grad_cam works "
                         "for any conv layer of any model")
    x = _image(image, "cam")
    gap_name, fc_name = found
    gap, fc = model.get_submodule(gap_name), model.get_submodule(fc_name)
    seen = {}

    def keep(key):
        def hook(_module, args, out):
            seen.setdefault(key, (args[0].data, out))
        return hook

    with _inspecting(model), no_grad(), gap.register_forward_hook(keep("gap")), fc.register_forward_hook(keep("fc")):
        scores = _scores(model(Tensor(x)), "cam")
    if "gap" not in seen or "fc" not in seen or seen["fc"][1] is not scores or (
            seen["fc"][0].shape != (1, seen["gap"][1].shape[1])
            or not np.array_equal(seen["fc"][0].reshape(-1), seen["gap"][1].data.reshape(-1))):
        raise ValueError(f"cam: in {type(model).__name__}'s forward, {gap_name!r} (GAP) does not feed {fc_name!r} "
                         "(Linear) whose output is the scores: CAM needs conv maps -> GAP -> flatten -> Linear")
    scores = scores.data[0]
    c = _target(target, scores, "cam")
    f = seen["gap"][0][0]                                    # (K, h, w): the maps that enter the GAP
    low = np.tensordot(fc.weight.data[c], f, axes=(0, 0))    # (h, w): Σ_k w_k^c f_k
    return ClassMap("cam", gap_name, c, scores, low, bilinear_resize(low, x.shape[2:]))


def grad_cam(model, image, target=None, layer=None) -> ClassMap:
    """Grad-CAM of one layer for one image (Selvaraju et al. 2017): L_c = ReLU(Σ_k α_k^c A^k),
    α_k^c = (1/Z) Σ_ij ∂y^c/∂A^k_ij, with y^c the class score before softmax and Z = h·w.

    The layer's output is caught by a forward hook that hands the rest of the network a leaf holding
    the same values (`Tensor(A, requires_grad=True)`), so that backward from y^c stops at A and leaves
    ∂y^c/∂A in its ``.grad``.

    Args:
        model: any model that gives class scores (1, classes).
        image: (C, H, W), preprocessed as the model's training images.
        target: the class c; default: the highest score.
        layer: the name of a layer with (N, K, h, w) outputs; default: `default_layer`.

    Returns:
        `ClassMap` with low_res (h, w) = L_c and map (H, W) its bilinear resize to the input.

    Raises:
        ValueError: an unknown layer, one whose output is not maps, one the score does not depend on,
            an image not (C, H, W), or target not a class.
    """
    layer = default_layer(model) if layer is None else layer
    module = find_layer(model, layer, "grad_cam")
    x = _image(image, "grad_cam")
    handle, caught = _catch(module, layer, "grad_cam", leaf=True)
    with _inspecting(model), handle:
        scores = _scores(model(Tensor(x)), "grad_cam")
        if "out" not in caught:
            raise ValueError(f"grad_cam: layer {layer!r} is not called by {type(model).__name__}'s forward")
        c = _target(target, scores.data[0], "grad_cam")
        if scores.requires_grad:  # else the scores do not depend on the layer's output at all
            scores[0, c].backward()
    a = caught["out"]
    if a.grad is None:
        raise ValueError(f"grad_cam: the scores of {type(model).__name__} do not depend on layer {layer!r}")
    alpha = a.grad.data[0].mean(axis=(1, 2))                                # (K,)
    low = np.maximum(np.tensordot(alpha, a.data[0], axes=(0, 0)), 0)       # (h, w)
    return ClassMap("gradcam", layer, c, scores.data[0], low, bilinear_resize(low, x.shape[2:]))


def saliency(model, image, target=None) -> ClassMap:
    """The saliency map S = max over channels of |∂y^c/∂x| (Simonyan et al. 2014), for one image.

    Args:
        model: any model that gives class scores (1, classes).
        image: (C, H, W), preprocessed as the model's training images.
        target: the class c; default: the highest score.

    Returns:
        `ClassMap` with low_res and map both (H, W) = S, and layer ''.
    """
    x = Tensor(_image(image, "saliency").copy(), requires_grad=True)
    with _inspecting(model):
        scores = _scores(model(x), "saliency")
        c = _target(target, scores.data[0], "saliency")
        scores[0, c].backward()
    s = np.abs(x.grad.data[0]).max(axis=0)  # (H, W)
    return ClassMap("saliency", "", c, scores.data[0], s, s)


# ---------------------------------------------------------------- receptive fields
def _spatial_layers(model, x: np.ndarray, layer: str, op: str) -> list[tuple]:
    """(name, module) of the Conv2d, MaxPool2d and AvgPool2d layers called up to ``layer`` (itself included),
    each checked to take the maps the one before gave: a chain, for which the receptive field arithmetic
    of `cnnlab.shapes` holds."""
    target = find_layer(model, layer, op)
    called, done = [], []

    def record(name):
        def hook(module, args, out):
            if not done:
                if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                    called.append((name, module, args[0].shape[-2:], out.shape[-2:]))
                if module is target:
                    done.append(True)
        return hook

    with contextlib.ExitStack() as stack, _inspecting(model), no_grad():
        for name, module in model.named_modules():
            stack.enter_context(module.register_forward_hook(record(name)))
        model(Tensor(x[:1]))
    size = x.shape[-2:]
    for name, module, size_in, size_out in called:
        if tuple(size_in) != tuple(size):
            raise ValueError(f"{op}: the layers up to {layer!r} are not a chain ({name!r} takes "
                             f"{size_in[0]}×{size_in[1]} maps where the layer before gave {size[0]}×{size[1]}): "
                             "the receptive field arithmetic needs one path from the input")
        size = size_out
    return called


def receptive_field_box(model, input_shape, layer, unit=None) -> tuple[int, int, int, int]:
    """The theoretical receptive field of one output unit of ``layer``, in input pixels, clipped to the input.

    The recurrences of `cnnlab.shapes.receptive_field` over the Conv2d, MaxPool2d and AvgPool2d layers
    called up to the layer (a chain: each takes the maps the one before gave), per axis: size r, jump j,
    start; unit u is centred at start + u·j and sees [start + u·j − r/2, start + u·j + r/2).

    Args:
        model: a Module.
        input_shape: (C, H, W) of one input.
        layer: the name of a layer with (N, K, h, w) outputs.
        unit: (i, j) in the layer's output; default: the centre ((h − 1) // 2, (w − 1) // 2).

    Returns:
        (top, left, bottom, right): rows top..bottom−1 and columns left..right−1 of the input.
    """
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    x = np.zeros((1, *input_shape), dtype)
    called = _spatial_layers(model, x, layer, "receptive_field_box")
    if not called:
        raise ValueError(f"receptive_field_box: no Conv2d or pooling layer is called up to {layer!r}")
    h, w = called[-1][3]
    if unit is None:
        unit = ((h - 1) // 2, (w - 1) // 2)
    else:
        unit = arguments.nonnegative_ints(unit, 2, op="receptive_field_box", arg="unit")
        if unit[0] >= h or unit[1] >= w:
            raise ValueError(f"receptive_field_box: unit must be inside the {h}×{w} output of {layer!r}, "
                             f"got unit={unit}")
    box = []
    for axis in range(2):
        stack = []
        for _, m, _, _ in called:
            k = arguments.ntuple(m.kernel_size, 2, op="receptive_field_box", arg="kernel_size")[axis]
            s = arguments.ntuple(m.stride, 2, op="receptive_field_box", arg="stride")[axis]
            d = arguments.ntuple(getattr(m, "dilation", 1), 2, op="receptive_field_box", arg="dilation")[axis]
            if isinstance(m, nn.Conv2d):
                p = shapes.conv_pads(m.padding, m.kernel_size, m.dilation)[axis]
            else:
                p = arguments.ntuple(m.padding, 2, op="receptive_field_box", arg="padding")[axis]
            stack.append((k, s, p, d))
        rf = shapes.receptive_field(stack, op="receptive_field_box")[-1]
        centre = rf.start + unit[axis] * rf.jump
        box.append((max(int(np.floor(centre - rf.size / 2)), 0),
                    min(int(np.ceil(centre + rf.size / 2)), input_shape[1 + axis])))
    (top, bottom), (left, right) = box
    return top, left, bottom, right


def effective_receptive_field(model, inputs, layer=None) -> np.ndarray:
    """The effective receptive field of the central unit of ``layer`` (Luo et al. 2016), averaged over inputs.

    The gradient at the layer's output is 1 at the centre ((h − 1) // 2, (w − 1) // 2) of every channel and
    0 elsewhere; its input gradient's magnitude, summed over the input channels, is averaged over the
    inputs: ERF(i, j) = (1/N) Σ_n Σ_channel |∂(Σ_k y_k(centre))/∂x_n(i, j)|.

    Args:
        model: a Module (run in eval mode: BatchNorm with its running statistics).
        inputs: (N, C, H, W), e.g. test images or random ones.
        layer: the name of a layer with (N, K, h, w) outputs; default: `default_layer`.

    Returns:
        (H, W), non-negative; zero outside `receptive_field_box`.
    """
    layer = default_layer(model) if layer is None else layer
    module = find_layer(model, layer, "effective_receptive_field")
    data = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
    if data.ndim != 4 or data.dtype.kind != "f" or data.shape[0] == 0:
        raise ValueError(f"effective_receptive_field: inputs must be floating-point images (N, C, H, W), N >= 1, "
                         f"got shape {data.shape} and dtype {data.dtype}")
    x = Tensor(data.copy(), requires_grad=True)
    handle, caught = _catch(module, layer, "effective_receptive_field")
    with _inspecting(model), handle:
        model(x)
        if "out" not in caught:
            raise ValueError(f"effective_receptive_field: layer {layer!r} is not called by "
                             f"{type(model).__name__}'s forward")
        y = caught["out"]
        upstream = np.zeros(y.shape, y.dtype)
        upstream[:, :, (y.shape[2] - 1) // 2, (y.shape[3] - 1) // 2] = 1
        y.backward(upstream)
    return np.abs(x.grad.data).sum(axis=1).mean(axis=0)  # (H, W)
