"""One trained model as the web page sees it: its input read as `predict` reads an image, and what the page
asks of it, answered by the library (`cnnlab.summary`, `cnnlab.explain`, `cnnlab.viz`) as plain JSON-able
dicts. Wiring only: every number comes from the library.

Every call that runs the model holds `MODEL_LOCK`: one model runs at a time in the process (the models'
hooks, the frozen flags of `viz`, and BLAS's thread count are process-wide state), so concurrent requests
are answered one after the other, each correctly.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import threading
from pathlib import Path

import numpy as np

from cnnlab import explain, shapes, viz
from cnnlab.explain.element import plain
from cnnlab.tools.summary import summary
from cnnlab.train import (center_digit, convert_pixels, dataset_arrays, decode_image, light_border, load_checkpoint,
                          model_from_checkpoint, predict, preprocess, resize_pixels)

__all__ = ["MODEL_LOCK", "Explorer", "RequestError", "MAX_SIDE", "playground"]

#: held by every call that runs a model
MODEL_LOCK = threading.Lock()
#: the longest side of an image given as "pixels" (JSON)
MAX_SIDE = 1024
#: the largest input and kernel of the convolution playground
PLAYGROUND_MAX = (32, 11)


class RequestError(ValueError):
    """A request that can't be answered; ``status`` is the HTTP status (4xx) the server answers with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def _field(params, name, kind, default=None, low=None, high=None):
    """params[name] (``default`` where it is missing or null), checked to be of ``kind`` (int, bool or str) and,
    for ints, in [low, high]."""
    value = params.get(name)
    if value is None:
        return default
    wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    if wrong or (kind is int and ((low is not None and value < low) or (high is not None and value > high))):
        rule = {int: "an int" + (f" in [{low}, {high}]" if high is not None else f" >= {low}" if low is not None else ""),
                bool: "true or false", str: "a string"}[kind]
        raise RequestError(f"{name} must be {rule}, got {value!r}")
    return value


def _matrix(value, name, max_side, low=None, high=None) -> np.ndarray:
    """A JSON list of rows of numbers (or of [r, g, b] triples) as a float64 array, checked."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(f"{name} must be a list of rows of numbers, all rows of one length") from None
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or 0 in array.shape:
        raise RequestError(f"{name} must be rows of numbers (H, W), or of [r, g, b] (H, W, 3), got shape "
                           f"{list(array.shape)}")
    if max(array.shape[:2]) > max_side:
        raise RequestError(f"{name} is {array.shape[0]}×{array.shape[1]}; at most {max_side} on a side", 413)
    if not np.isfinite(array).all() or (low is not None and array.min() < low) or (high is not None and
                                                                                    array.max() > high):
        raise RequestError(f"{name} must hold finite numbers" + (f" in [{low}, {high}]" if low is not None else ""))
    return array


def _image_bytes(params) -> bytes:
    data = params["image"]
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        raise RequestError("image must be an image file (multipart field) or its base64 text (JSON)")
    try:
        return base64.b64decode(data.partition("base64,")[2] or data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("image: not base64 text (give the file as a multipart field, or its base64)") from None


class Explorer:
    """A checkpoint of `cnnlab train`, loaded: the model in eval mode, its dataset's info and its summary.

    Args:
        path: the checkpoint file or run folder.
        name: what the page and the API call it (default: the model's name and dataset, 'lenet5-mnist').
    """

    def __init__(self, path, name: str | None = None):
        ckpt = load_checkpoint(path)
        self.model, self.info = model_from_checkpoint(ckpt)
        self.config, self.metrics = ckpt["config"], ckpt["metrics"]
        self.name = name or f"{self.config.model}-{self.info.name}"
        self.path = Path(ckpt["path"])
        size = (1, self.info.in_channels, self.info.input_size, self.info.input_size)
        with MODEL_LOCK:
            self.summary = summary(self.model, size)
        self._test_set = None

    # ---------------------------------------------------------------- what the model is
    def describe(self) -> dict:
        convs = viz.conv_layer_names(self.model)
        return {"name": self.name, "model": self.config.model, "model_args": self.config.model_args,
                "dataset": self.info.name, "classes": self.info.classes,
                "input_shape": [self.info.in_channels, self.info.input_size, self.info.input_size],
                "light_on_dark": self.info.light_on_dark, "epochs": len(self.metrics),
                "test_acc": self.metrics[-1]["test_acc"] if self.metrics else None,
                "cam": viz.gap_classifier(self.model) is not None, "conv_layers": convs,
                "gradcam_default": viz.default_layer(self.model) if convs else None}

    def model_summary(self) -> dict:
        return {**self.describe(), "summary": self.summary.to_dict()}

    # ---------------------------------------------------------------- the input
    def test_images(self):
        """(uint8 images, labels) of the test split of the model's dataset (loaded once)."""
        if self._test_set is None:
            try:
                raw, _, labels = dataset_arrays(self.config, train=False)
            except (ValueError, FileNotFoundError, OSError) as e:
                raise RequestError(f"sample: the test images of {self.info.name} can't be read here ({e})", 404) \
                    from None
            self._test_set = (raw, labels)
        return self._test_set

    def read_input(self, params) -> tuple[np.ndarray, np.ndarray, dict]:
        """(uint8 pixels as the model sees them, the preprocessed float32 (C, H, W), what was done) of the
        request's one input: "image" (file bytes or base64), "pixels" (rows of 0..255) or "sample" (a test
        image's index); "invert" (default: as `predict`, by the border) and "center" (MNIST's centring, for
        a drawn digit) apply to images and pixels."""
        given = [key for key in ("image", "pixels", "sample") if params.get(key) is not None]
        if len(given) != 1:
            raise RequestError("give one input: image (a file), pixels (rows of 0..255) or sample (a test image's "
                               f"index); got {', '.join(given) if given else 'none'}")
        invert = _field(params, "invert", bool)
        center = _field(params, "center", bool, False)
        size, channels = self.info.input_size, self.info.in_channels
        if given[0] == "sample":
            raw, labels = self.test_images()
            k = _field(params, "sample", int, low=0, high=len(raw) - 1)
            pixels, done = raw[k], {"sample": k, "label": int(labels[k]), "inverted": False, "centered": False}
        else:
            if given[0] == "image":
                try:
                    full = decode_image(_image_bytes(params), channels)
                except ValueError as e:
                    raise RequestError(f"image: {str(e).removeprefix('decode_image: ')}") from None
            else:
                array = _matrix(params["pixels"], "pixels", MAX_SIDE, 0, 255)
                full = convert_pixels(np.rint(array).astype(np.uint8), channels)
            if center and channels != 1:
                raise RequestError(f"center applies to gray digits; {self.name} takes {channels} channels")
            pixels = full if center else resize_pixels(full, size)   # as `predict`: resized, then inverted
            if invert is None:
                invert = self.info.light_on_dark and light_border(pixels)
            pixels = 255 - pixels if invert else pixels
            if center:   # a drawn digit: its box into 20×20, its centre of mass in the middle, as MNIST's
                pixels = center_digit(pixels, size)
            done = {"inverted": bool(invert), "centered": center}
        x = preprocess(pixels, self.info.mean, self.info.std)
        return pixels, x, {**done, "pixels": pixels.tolist()}

    # ---------------------------------------------------------------- what the page asks
    def predict(self, params) -> dict:
        classes = self.info.num_classes
        top_k = _field(params, "top_k", int, min(5, classes), 1, classes)
        _, x, done = self.read_input(params)
        with MODEL_LOCK:
            (top,) = predict(self.model, x[None], top_k)
        return {"model": self.name, "input": done,
                "top": [{"index": j, "label": self.info.classes[j], "probability": p} for j, p in top]}

    def features(self, params) -> dict:
        _, x, done = self.read_input(params)
        with MODEL_LOCK:
            outputs = viz.layer_outputs(self.model, x)
        rows = {row["name"]: row for row in self.summary.rows}
        layers = [{"name": name, "type": rows[name]["layer_type"] if name in rows else "", "shape": list(out.shape),
                   "min": float(out.min()), "max": float(out.max()),
                   "data": base64.b64encode(np.ascontiguousarray(out, "<f4").tobytes()).decode()}
                  for name, out in outputs.items()]
        return {"model": self.name, "input": done, "layers": layers,
                "encoding": "each layer's data: its values in C order as little-endian float32, base64"}

    def explain(self, params) -> dict:
        name = _field(params, "layer", str)
        at = params.get("at")
        if name is None or at is None:
            raise RequestError("explain needs layer (a layer's name) and at ([channel, i, j], or [j] for a vector)")
        if not isinstance(at, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in at):
            raise RequestError(f"at must be a list of ints ([channel, i, j], or [j] for a vector), got {at!r}")
        _, x, done = self.read_input(params)
        with MODEL_LOCK:
            e = explain.layer(self.model, x, name, tuple(at))
        out = {"model": self.name, "input": done, **e.to_dict(), "receptive_field": None}
        if len(at) == 3:
            try:
                region = self.summary.receptive_field(tuple(at), name)
                out["receptive_field"] = plain(dataclasses.asdict(region))
            except ValueError as err:
                out["receptive_field_note"] = str(err).removeprefix("receptive_field: ")
        else:
            out["receptive_field_note"] = "a unit of a vector sees the whole input"
        return out

    def class_map(self, params) -> dict:
        method = _field(params, "method", str, "gradcam")
        if method not in ("cam", "gradcam"):
            raise RequestError(f"method must be 'cam' or 'gradcam', got {method!r}")
        target = _field(params, "target", int, None, 0, self.info.num_classes - 1)
        layer = _field(params, "layer", str)
        if layer is not None and method != "gradcam":
            raise RequestError("layer chooses the layer of method 'gradcam'; 'cam' takes none")
        if method == "cam" and viz.gap_classifier(self.model) is None:
            raise RequestError(f"method 'cam' needs global average pooling before a linear classifier, and "
                               f"{self.name} has none; 'gradcam' works for any model")
        _, x, done = self.read_input(params)
        with MODEL_LOCK:
            result = viz.cam(self.model, x, target) if method == "cam" else \
                viz.grad_cam(self.model, x, target, layer)
        return {"model": self.name, "input": done, "method": method, "layer": result.layer,
                "target": result.target, "label": self.info.classes[result.target],
                "scores": plain(result.scores), "low_res": plain(result.low_res), "map": plain(result.map),
                "max": float(result.map.max())}


# ---------------------------------------------------------------- the convolution playground
def output_size(params) -> dict:
    """`explain.output_size` of the query's n, kernel, stride, padding (an int, 'same' by PyTorch's rule or
    'same-tf' by TensorFlow's), dilation, mode, ceil_mode and output_padding."""
    args = {}
    for key, low in (("n", 1), ("kernel", 1), ("stride", 1), ("dilation", 1), ("output_padding", 0)):
        args[key] = _field(params, key, int, None, low, 4096)
    if args["n"] is None or args["kernel"] is None:
        raise RequestError("output-size needs n (the input size) and kernel (the kernel size)")
    mode = _field(params, "mode", str, "conv")
    padding = params.get("padding", 0)
    if padding == "same":   # PyTorch's rule: stride 1, d(k - 1) split with the odd one after
        if (args["stride"] or 1) != 1:
            raise RequestError("padding 'same' (PyTorch's rule) needs stride 1; 'same-tf' (TensorFlow's) takes any")
        padding = shapes.same_padding_torch(args["kernel"], args["dilation"] or 1)
    elif padding == "same-tf":
        mode, padding = "same-tf", 0
    elif not (isinstance(padding, int) and not isinstance(padding, bool) and 0 <= padding <= 4096):
        raise RequestError(f"padding must be an int >= 0, 'same' or 'same-tf', got {padding!r}")
    e = explain.output_size(args["n"], args["kernel"], args["stride"], padding, args["dilation"] or 1,
                            _field(params, "ceil_mode", bool, False), mode, args["output_padding"] or 0)
    return plain(e)


def playground(params) -> dict:
    """The playground's convolution of a small input with a small kernel: the output (`F.conv2d`), the size
    of each axis (`output_size`), the padded input, and the explanation of output element ``at``."""
    from cnnlab import tensor
    from cnnlab.nn import functional as F

    big, kmax = PLAYGROUND_MAX
    x = _matrix(params.get("input"), "input", big)
    w = _matrix(params.get("kernel"), "kernel", kmax)
    if x.ndim != 2 or w.ndim != 2:
        raise RequestError("input and kernel must be rows of numbers (one channel)")
    stride = _field(params, "stride", int, 1, 1, big)
    dilation = _field(params, "dilation", int, 1, 1, big)
    padding = params.get("padding", 0)
    sizes = [output_size({"n": n, "kernel": k, "stride": stride, "dilation": dilation, "padding": padding})
             for n, k in zip(x.shape, w.shape)]
    (top, bottom), (left, right) = (s["padding"] for s in sizes)
    padded = F.pad(tensor(x), (left, right, top, bottom)).numpy()        # zeros, as the conv pads
    at = params.get("at", [0, 0])
    out_shape = [s["out"] for s in sizes]
    if not (isinstance(at, list) and len(at) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in at)
            and all(0 <= v < n for v, n in zip(at, out_shape))):
        raise RequestError(f"at must be [i, j] inside the output {out_shape}, got {at!r}")
    xt, wt = tensor(padded[None]), tensor(w[None, None])                # (1, H, W), (1, 1, kH, kW)
    y = F.conv2d(xt, wt, stride=stride, dilation=dilation).numpy()[0]    # (oH, oW)
    e = explain.conv2d(xt, wt, stride=stride, dilation=dilation, at=(0, *at))
    return {"sizes": sizes, "padded": padded.tolist(), "output": plain(y), "explanation": e.to_dict(),
            "sum_line": e.sum_line()}
