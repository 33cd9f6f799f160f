"""Pictures of what a network does and how it learned. matplotlib is imported only when a picture is made.

- `plot_curves` / `curves_png`: loss and accuracy per epoch, train and test (the ``curves.png`` of a run).
"""
from cnnlab.viz.curves import curves_png, plot_curves

__all__ = ["curves_png", "plot_curves"]
