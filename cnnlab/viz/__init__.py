"""Pictures of what a network does and how it learned. matplotlib is imported only when a picture is made.

The computations are NumPy functions of `cnnlab.viz.maps` (no matplotlib needed):

- `first_layer_filters`, `feature_maps`: the first conv's weights; the maps of every conv layer for one input;
  `layer_outputs`: the output of every layer for one input.
- `cam`: the class activation map M_c = Σ_k w_k^c f_k of a GAP + linear model (Zhou et al. 2016).
- `grad_cam`: Grad-CAM of any layer, by name (default: the last conv), through cnnlab's autograd.
- `saliency`: max over channels of |∂y^c/∂x| (Simonyan et al. 2014).
- `effective_receptive_field`, `receptive_field_box`: Luo et al.'s (2016) ERF and the theoretical box.
- `bilinear_resize`: `F.interpolate(mode="bilinear", align_corners=False)` on the last two axes of an array.

The PNG writers (`cnnlab.viz.pictures`, `cnnlab.viz.curves`; files written atomically):

- `plot_filters`, `plot_feature_maps`, `plot_class_map`, `plot_erf`, and their ``*_figure`` functions.
- `plot_curves` / `curves_png` / `curves_figure`, `plot_metrics_file`: loss and accuracy per epoch, train
  and test (the ``curves.png`` of a run, or from its ``metrics.json``).
"""
from cnnlab.viz.curves import curves_figure, curves_png, plot_curves, plot_metrics_file
from cnnlab.viz.figures import figure_png, new_figure, write_png
from cnnlab.viz.maps import (
    ClassMap, bilinear_resize, cam, conv_layer_names, default_layer, effective_receptive_field, feature_maps,
    find_layer, first_layer_filters, gap_classifier, grad_cam, layer_outputs, receptive_field_box, saliency,
)
from cnnlab.viz.pictures import (
    class_map_figure, erf_figure, feature_maps_figure, filters_figure, plot_class_map, plot_erf,
    plot_feature_maps, plot_filters,
)

__all__ = [
    "ClassMap", "bilinear_resize", "cam", "class_map_figure", "conv_layer_names", "curves_figure", "curves_png",
    "default_layer", "effective_receptive_field", "erf_figure", "feature_maps", "feature_maps_figure",
    "figure_png", "filters_figure", "find_layer", "first_layer_filters", "gap_classifier", "grad_cam", "layer_outputs", "new_figure",
    "plot_class_map", "plot_curves", "plot_erf", "plot_feature_maps", "plot_filters", "plot_metrics_file",
    "receptive_field_box", "saliency", "write_png",
]
