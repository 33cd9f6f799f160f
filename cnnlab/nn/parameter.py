"""`Parameter`: a tensor that a `Module` registers as one of its learnable weights."""
from __future__ import annotations

import numpy as np

from cnnlab.autograd import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default, as ``torch.nn.Parameter``.

    Assigning a Parameter to a `Module` attribute registers it, so that it shows
    up in `parameters()`, `named_parameters()` and `state_dict()`.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else np.asarray(data), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
