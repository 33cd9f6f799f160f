"""cnnlab.viz.pictures: what each figure shows (tiles, scales, colour bars, titles) and the PNG files written."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires

from cnnlab import nn
from cnnlab.models import gapnet
from cnnlab.viz import maps, pictures

PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = requires("matplotlib", "viz")


def colour_bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def tiles(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_filters_figure_of_one_input_channel_shares_a_diverging_scale():
    w = np.random.default_rng(0).standard_normal((5, 1, 3, 3))
    fig = pictures.filters_figure(w)
    assert fig.get_suptitle() == "5 filters 1×3×3" and len(tiles(fig)) == 5
    (bar,) = colour_bars(fig)
    assert bar.get_ylabel() == "weight"
    scale = np.abs(w).max()
    for ax, f in zip(tiles(fig), w[:, 0]):
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), f)
        assert image.get_clim() == (-scale, scale)


def test_filters_figure_of_rgb_filters_and_of_other_channel_counts():
    w = np.random.default_rng(1).standard_normal((4, 3, 5, 5))
    fig = pictures.filters_figure(w, title="conv1")
    assert fig.get_suptitle() == "conv1" and len(tiles(fig)) == 4 and not colour_bars(fig)
    first = tiles(fig)[0].get_images()[0].get_array()
    np.testing.assert_allclose(first, 0.5 + w[0].transpose(1, 2, 0) / (2 * np.abs(w).max()))
    assert pictures.filters_figure(w).get_suptitle() == "4 filters 3×5×5 (RGB, grey = 0)"
    fig = pictures.filters_figure(np.ones((2, 4, 3, 3)))
    assert len(tiles(fig)) == 8 and len(colour_bars(fig)) == 1  # one tile per filter and input channel
    with pytest.raises(ValueError, match=r"^filters_figure: weight must be \(C_out, C_in, kH, kW\), got shape \(2, 3\)$"):
        pictures.filters_figure(np.ones((2, 3)))


def test_feature_maps_figure_puts_every_map_on_one_scale():
    f = np.random.default_rng(2).standard_normal((6, 4, 5))
    fig = pictures.feature_maps_figure(f)
    assert fig.get_suptitle() == "6 feature maps 4×5" and len(tiles(fig)) == 6
    assert colour_bars(fig)[0].get_ylabel() == "activation"
    for ax, m in zip(tiles(fig), f):
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), m)
        assert image.get_clim() == (f.min(), f.max())
    with pytest.raises(ValueError, match=r"^feature_maps_figure: feature_maps must be \(C, h, w\), got shape \(4, 5\)$"):
        pictures.feature_maps_figure(f[0])


def result(method="gradcam", layer="features.3"):
    heat = np.arange(16.0).reshape(4, 4)
    return maps.ClassMap(method, layer, 2, np.array([0.0, 1.0, 3.0]), heat, maps.bilinear_resize(heat, (8, 8)))


def test_class_map_figure_shows_the_input_and_the_map_with_a_colour_bar():
    r = result()
    pixels = np.zeros((8, 8), np.uint8)
    fig = pictures.class_map_figure(pixels, r, classes=["a", "b", "c"])
    p = np.exp(3) / (1 + np.exp(1) + np.exp(3))
    assert fig.get_suptitle() == f"class c: score 3.00, probability {p:.1%}"
    left, right = tiles(fig)
    assert left.get_title() == "input" and right.get_title() == "Grad-CAM of features.3"
    np.testing.assert_array_equal(right.get_images()[1].get_array(), r.map)
    assert colour_bars(fig)[0].get_ylabel() == "Grad-CAM"
    fig = pictures.class_map_figure(pixels, result("saliency", ""), title="t")
    assert fig.get_suptitle() == "t" and tiles(fig)[1].get_title() == "saliency"
    assert pictures.class_map_figure(pixels, result("cam", "gap")).get_suptitle().startswith("class 2: ")
    with pytest.raises(ValueError, match=r"^class_map_figure: pixels are 7×8, but the map is 8×8$"):
        pictures.class_map_figure(np.zeros((7, 8)), r)


def test_erf_figure_outlines_the_theoretical_box():
    erf = np.zeros((10, 12))
    erf[3:6, 4:8] = 1
    fig = pictures.erf_figure(erf, (2, 3, 7, 9))
    (ax,) = tiles(fig)
    (box,) = ax.patches
    assert box.get_xy() == (2.5, 1.5) and (box.get_width(), box.get_height()) == (6, 5)  # pixel edges
    assert box.get_label() == "theoretical 5×6" and ax.get_title() == "effective receptive field"
    assert colour_bars(fig)[0].get_ylabel() == "mean |∂y/∂x|"
    with pytest.raises(ValueError, match=r"^erf_figure: erf must be \(H, W\), got shape \(1, 10, 12\)$"):
        pictures.erf_figure(erf[None], (0, 0, 1, 1))


def test_the_plot_functions_write_pngs(tmp_path):
    model = gapnet(widths=(3, 4)).eval()
    x = np.random.default_rng(3).standard_normal((1, 28, 28)).astype(np.float32)
    assert pictures.plot_filters(model, tmp_path / "f.png").read_bytes().startswith(PNG)
    written = pictures.plot_feature_maps(model, x, tmp_path / "maps")
    assert [p.name for p in written] == [f"{n}.png" for n in maps.conv_layer_names(model)]
    assert all(p.read_bytes().startswith(PNG) for p in written)
    assert [p.name for p in pictures.plot_feature_maps(model, x, tmp_path / "one", ["features.1"])] == ["features.1.png"]
    out = pictures.plot_class_map(maps.grad_cam(model, x), np.zeros((28, 28), np.uint8), tmp_path / "g.png")
    assert out.read_bytes().startswith(PNG)
    xs = np.random.default_rng(4).standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert pictures.plot_erf(model, xs, tmp_path / "e.png").read_bytes().startswith(PNG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.png", "f.png", "g.png", "maps", "one"]


def test_plot_erf_refuses_a_model_without_conv_layers(tmp_path):
    with pytest.raises(ValueError, match=r"^default_layer: Linear has no Conv2d layer$"):
        pictures.plot_erf(nn.Linear(2, 2), np.zeros((1, 1, 2, 2), np.float32), tmp_path / "e.png")
    assert not (tmp_path / "e.png").exists()
