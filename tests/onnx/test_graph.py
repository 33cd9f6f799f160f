"""cnnlab/onnx/graph.py: the Module of a loaded graph and the small modules its nodes become."""
import math

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import nn
from cnnlab.onnx.graph import Call, OnnxGraph, Padded, pad_tuple


def test_pad_tuple_is_last_axis_first():
    assert pad_tuple(((1, 2), (3, 4))) == (3, 4, 1, 2)
    assert pad_tuple([(0, 5)]) == (0, 5)


def test_call_runs_its_function_with_its_keywords():
    call = Call(F.leaky_relu, negative_slope=0.5)
    assert np.array_equal(call(cnnlab.tensor([-2.0, 3.0])).data, [-1.0, 3.0])
    assert repr(call) == "Call(leaky_relu, negative_slope=0.5)"


def test_padded_pads_then_runs_the_layer():
    x = cnnlab.randn(1, 2, 4, 5)
    pool = Padded(nn.MaxPool2d(2), lambda spatial: ((0, 1), (1, 0)), -math.inf)
    expected = F.max_pool2d(F.pad(x, (1, 0, 0, 1), value=-math.inf), 2)
    assert np.array_equal(pool(x).data, expected.data) and pool(x).shape == (1, 2, 2, 3)
    assert "value=-inf" in repr(pool)


def test_onnx_graph_runs_its_steps_over_named_values():
    bias = nn.Parameter(np.array([1.0, 2.0], dtype=np.float32))
    scale = cnnlab.tensor(np.array(3.0, dtype=np.float32))
    steps = [(Call(F.add), ["x", "b"], ["s"]), (Call(F.mul), ["s", "k"], ["y"]), (nn.ReLU(), ["y"], ["z"])]
    net = OnnxGraph(["x"], ["z", "s"], steps, {"b": bias, "k": scale}, source="test")
    z, s = net(cnnlab.tensor([[-5.0, 1.0]]))
    assert np.array_equal(s.data, [[-4.0, 3.0]]) and np.array_equal(z.data, [[0.0, 9.0]])
    assert [n for n, _ in net.named_parameters()] == ["value0"] and [n for n, _ in net.named_buffers()] == ["value1"]
    z.sum().backward()
    assert np.array_equal(bias.grad.data, [0.0, 3.0])
    with pytest.raises(TypeError, match=r"OnnxGraph: the graph of test takes 1 input\(s\) \['x'\], got 2"):
        net(cnnlab.tensor([1.0]), cnnlab.tensor([1.0]))
