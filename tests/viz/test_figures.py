"""cnnlab.viz.figures: a figure without pyplot, its PNG bytes, written atomically; a clear message without matplotlib."""
from __future__ import annotations

import sys

import pytest
from helpers import requires

from cnnlab.messages import MissingExtraError
from cnnlab.viz import figures

PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = [requires("matplotlib", "viz"), requires("PIL", "viz")]


def test_new_figure_is_a_constrained_agg_figure_and_leaves_pyplot_alone():
    fig = figures.new_figure("test", (3, 2))
    assert type(fig).__name__ == "Figure" and tuple(fig.get_size_inches()) == (3, 2)
    assert fig.get_layout_engine() is not None
    assert "matplotlib.pyplot" not in sys.modules or sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_figure_png_and_write_png(tmp_path):
    fig = figures.new_figure("test", (2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    data = figures.figure_png(fig, dpi=50)
    assert data.startswith(PNG)
    path = figures.write_png(fig, tmp_path / "a.png", dpi=50)
    assert path == tmp_path / "a.png" and path.read_bytes().startswith(PNG)
    from PIL import Image

    with Image.open(path) as img:
        assert img.size == (100, 100)  # 2 inches at 50 dpi
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left


def test_write_png_keeps_the_old_file_when_drawing_fails(tmp_path):
    (tmp_path / "a.png").write_bytes(b"old")

    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        figures.write_png(Broken(), tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == b"old"


def test_without_matplotlib_the_message_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"^plot_filters: drawing needs matplotlib: pip install 'cnnlab\[viz\]'$"):
        figures.new_figure("plot_filters", (2, 2))
    assert issubclass(MissingExtraError, ImportError)
