"""The pictures of `cnnlab.viz.maps` as PNG files: filters, feature maps, class maps, effective receptive fields.

Each ``*_figure`` function draws a matplotlib `Figure` from arrays (the object API and the Agg renderer
only: drawing never switches the backend of a program that imported cnnlab); each ``plot_*`` function
computes what it shows with `cnnlab.viz.maps` and writes the PNG atomically (`cnnlab.io.files`).
matplotlib is imported only when a figure is made (``pip install 'cnnlab[viz]'``). Every picture has a
title, and a colour bar wherever the colours stand for values.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from cnnlab.viz import maps
from cnnlab.viz.figures import new_figure, write_png

__all__ = ["filters_figure", "feature_maps_figure", "class_map_figure",
           "erf_figure", "plot_filters", "plot_feature_maps", "plot_class_map", "plot_erf"]

METHOD_NAMES = {"cam": "CAM", "gradcam": "Grad-CAM", "saliency": "saliency"}


# ---------------------------------------------------------------- layout
def _tiles(fig, n: int):
    """n axes in a near-square grid, without ticks (the unused ones hidden)."""
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


# ---------------------------------------------------------------- drawing arrays
def filters_figure(weight, title: str | None = None):
    """A grid of conv filters.

    With 3 input channels each filter is one RGB tile, 0.5 + w / (2 max|w|) (grey is 0); otherwise one tile
    per (filter, input channel), coloured on one diverging scale ±max|w| with a colour bar.

    Shape:
        weight: (C_out, C_in, kH, kW).
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filters_figure: weight must be (C_out, C_in, kH, kW), got shape {w.shape}")
    c_out, c_in, kh, kw = w.shape
    scale = float(np.abs(w).max()) or 1.0
    rgb = c_in == 3
    n = c_out if rgb else c_out * c_in
    side = max(4.0, min(10.0, 0.6 * math.ceil(math.sqrt(n))))
    fig = new_figure("filters_figure", (side + (0 if rgb else 1), side + 0.5))
    axes = _tiles(fig, n)
    if rgb:
        for ax, f in zip(axes, w):
            ax.imshow(np.clip(0.5 + f.transpose(1, 2, 0) / (2 * scale), 0, 1), interpolation="nearest")  # (kH, kW, 3)
    else:
        for ax, f in zip(axes, w.reshape(n, kh, kw)):
            image = ax.imshow(f, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight")
    fig.suptitle(title or f"{c_out} filters {c_in}×{kh}×{kw}" + (" (RGB, grey = 0)" if rgb else ""))
    return fig


def feature_maps_figure(feature_maps, title: str | None = None):
    """A grid of the maps of one layer on one colour scale (viridis), with a colour bar.

    Shape:
        feature_maps: (C, h, w).
    """
    f = np.asarray(feature_maps, dtype=np.float64)
    if f.ndim != 3:
        raise ValueError(f"feature_maps_figure: feature_maps must be (C, h, w), got shape {f.shape}")
    side = max(4.0, min(10.0, 1.1 * math.ceil(math.sqrt(f.shape[0]))))
    fig = new_figure("feature_maps_figure", (side + 1, side + 0.5))
    axes = _tiles(fig, f.shape[0])
    low, high = float(f.min()), float(f.max())
    for ax, m in zip(axes, f):
        image = ax.imshow(m, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="activation")
    fig.suptitle(title or f"{f.shape[0]} feature maps {f.shape[1]}×{f.shape[2]}")
    return fig


def class_map_figure(pixels, result: maps.ClassMap, classes=None, title: str | None = None):
    """Two panels: the input image as the model saw it, and the class map over it, with a colour bar.

    Args:
        pixels: (H, W) or (H, W, 3) uint8 or floats in [0, 1], the image at the model's input size.
        result: from `maps.cam`, `maps.grad_cam` or `maps.saliency`.
        classes: the class names, for the title; default: the indices.
        title: default: the method, the layer, the class, its score and probability.
    """
    pixels = np.asarray(pixels)
    if pixels.shape[:2] != result.map.shape:
        raise ValueError(f"class_map_figure: pixels are {pixels.shape[0]}×{pixels.shape[1]}, but the map is "
                         f"{result.map.shape[0]}×{result.map.shape[1]}")
    gray = {"cmap": "gray"} if pixels.ndim == 2 else {}
    fig = new_figure("class_map_figure", (8, 4.2))
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.imshow(pixels, **gray)
    left.set_title("input")
    image = right.imshow(result.map, cmap="jet", alpha=0.5)
    fig.colorbar(image, ax=right, shrink=0.9, label=METHOD_NAMES[result.method])
    name = str(result.target) if classes is None else classes[result.target]
    scores = result.scores.astype(np.float64)
    p = np.exp(scores - scores.max())
    p = p[result.target] / p.sum()
    right.set_title(f"{METHOD_NAMES[result.method]}" + (f" of {result.layer}" if result.layer else ""))
    fig.suptitle(title or f"class {name}: score {result.scores[result.target]:.2f}, probability {p:.1%}")
    return fig


def erf_figure(erf, box, title: str | None = None):
    """The effective receptive field as a heat map, with the theoretical one outlined, and a colour bar.

    Args:
        erf: (H, W) from `maps.effective_receptive_field`.
        box: (top, left, bottom, right) from `maps.receptive_field_box`.
    """
    erf = np.asarray(erf, dtype=np.float64)
    if erf.ndim != 2:
        raise ValueError(f"erf_figure: erf must be (H, W), got shape {erf.shape}")
    fig = new_figure("erf_figure", (5.5, 4.6))
    from matplotlib.patches import Rectangle  # noqa: PLC0415 - lazy (new_figure said it if matplotlib is missing)

    top, left, bottom, right = box
    ax = fig.subplots()
    image = ax.imshow(erf, cmap="inferno", interpolation="nearest")
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor="cyan",
                           linewidth=1.5, label=f"theoretical {bottom - top}×{right - left}"))
    ax.legend(loc="lower right", fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.9, label="mean |∂y/∂x|")
    ax.set_title(title or "effective receptive field")
    return fig


# ---------------------------------------------------------------- computing and writing
def plot_filters(model, path, title: str | None = None) -> Path:
    """Write the grid of the first Conv2d's filters (`filters_figure`) to ``path``; return the path."""
    return write_png(filters_figure(maps.first_layer_filters(model), title), path)


def plot_feature_maps(model, image, directory, layers=None) -> list[Path]:
    """Write one PNG of feature maps per layer (default: every Conv2d) to ``directory``/NAME.png.

    Args:
        model: a Module.
        image: (C, H, W), preprocessed as the model's training images.
        directory: made if missing.
        layers: names of layers; default: `maps.conv_layer_names`.

    Returns:
        the paths written, in the order of the layers.
    """
    found = maps.feature_maps(model, image, layers)
    directory = Path(os.fspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    modules = dict(model.named_modules())
    written = []
    for name, f in found.items():
        title = f"{name} ({type(modules[name]).__name__}): {f.shape[0]} maps {f.shape[1]}×{f.shape[2]}"
        written.append(write_png(feature_maps_figure(f, title), directory / f"{name}.png"))
    return written


def plot_class_map(result: maps.ClassMap, pixels, path, classes=None, title: str | None = None) -> Path:
    """Write `class_map_figure` to ``path``; return the path."""
    return write_png(class_map_figure(pixels, result, classes, title), path)


def plot_erf(model, inputs, path, layer=None, title: str | None = None) -> Path:
    """Compute the effective receptive field of ``layer``'s central unit over ``inputs`` (N, C, H, W) and
    its theoretical box, and write `erf_figure` to ``path``; return the path."""
    layer = maps.default_layer(model) if layer is None else layer
    erf = maps.effective_receptive_field(model, inputs, layer)
    box = maps.receptive_field_box(model, np.shape(inputs)[1:], layer)
    title = title or f"ERF of the centre unit of {layer}, over {len(inputs)} inputs"
    return write_png(erf_figure(erf, box, title), path)
