"""Pictures of what a network does and how it learned. matplotlib is imported only when a picture is made.

- `plot_curves` / `curves_png` / `curves_figure`: loss and accuracy per epoch, train and test (the ``curves.png`` of a run).
"""
from cnnlab.viz.curves import curves_figure, curves_png, plot_curves

__all__ = ["curves_figure", "curves_png", "plot_curves"]
