"""The lecture's arithmetic on real tensors: one output element of a conv or a pool, term by term.

Every number comes from the op's own code path, never from a second implementation:

- the arguments are checked by the op's own checks (`conv_args`, `max_pool_args`, ...), so an
  explanation accepts exactly what the op accepts, and fails where it fails, before any work;
- the window is taken from the same read-only window view that the op computes with
  (`windows` of `pad_constant(input, pads)`), and the coordinates that it marks are that view
  applied to a grid of positions, so the cells shown are the cells the op reads;
- the products are formed and summed (plus the bias, over the group's input channels), and the
  sum is compared with the op's own output at that element (`agrees`): they differ by float
  rounding at most. Max pooling's winner is chosen by the op's `max_and_first_tap` (PyTorch's tie
  rule) and compared with the op's ``return_indices``; the sizes of `output_size` are those of
  `cnnlab.shapes`.

Notation (per spatial axis, as `cnnlab.shapes`): n input size, k kernel size, s stride, p padding,
d dilation, o output size; output i of a conv reads the padded input at i·s + t·d for the taps
t = 0..k−1, and

    S[n, o, i] = b[o] + Σ_c Σ_t I_pad[n, c, i·s + t·d] · K[o, c, t]     (c over o's group)

Each function returns a small frozen dataclass (the terms, the sums, the window's coordinates, the
op's value); ``print()`` shows it the lecture's way, numbers without a trailing .0 when integral
and otherwise to 6 significant digits:

The modules: `conv` (conv1d-3d), `transpose` (conv_transpose1d-3d, an output's terms and an input's
scatter), `pooling` (max and average pooling), `sizes` (`output_size`), `layers` (`layer`: one
output element of a named layer of a model, for one input, by the kind of layer), `element` (what they share:
`Term`, the window at one output, the check against the op, `plain` for JSON) and `printing` (numbers, grids, `matrix` for the
command line: ``cnnlab explain conv|pool|size``).

Example:
    >>> import cnnlab
    >>> x = cnnlab.tensor([[[1., 2, 3], [4, 5, 6], [7, 8, 9]]])
    >>> w = cnnlab.tensor([[[[10., 20], [30, 40]]]])
    >>> print(conv2d(x, w, at=(0, 1, 1)).sum_line())
    5×10 + 6×20 + 8×30 + 9×40 = 770
    >>> print(output_size(11, 3, stride=2, padding=1, dilation=2).starts)
    (0, 2, 4, 6, 8)
"""
from cnnlab.explain.conv import ConvExplanation, conv1d, conv2d, conv3d
from cnnlab.explain.element import Term, plain
from cnnlab.explain.layers import LayerExplanation, layer
from cnnlab.explain.pooling import (
    AvgPoolExplanation, MaxPoolExplanation, avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d,
)
from cnnlab.explain.printing import grid, matrix, number
from cnnlab.explain.sizes import MODES, SizeExplanation, output_size
from cnnlab.explain.transpose import (
    Scatter, ScatterExplanation, TransposeExplanation, conv_transpose1d, conv_transpose1d_scatter, conv_transpose2d,
    conv_transpose2d_scatter, conv_transpose3d, conv_transpose3d_scatter,
)

__all__ = ["Term", "plain", "layer", "LayerExplanation", "ConvExplanation", "MaxPoolExplanation", "AvgPoolExplanation", "TransposeExplanation", "Scatter",
           "ScatterExplanation", "SizeExplanation", "MODES", "number", "grid", "matrix",
           "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "conv_transpose1d_scatter", "conv_transpose2d_scatter", "conv_transpose3d_scatter",
           "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "output_size"]
