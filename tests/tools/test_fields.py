"""cnnlab.tools.fields: each kind of layer's window and the field of its output; the Tracer through a graph."""
from __future__ import annotations

import pytest

import cnnlab
from cnnlab import keras, nn
from cnnlab.shapes import Field
from cnnlab.tools.fields import CONSTANT, Tracer, Window, channels_last, field_out, spatial_sizes, window

ONE = (Field(1, 1, 0), Field(1, 1, 0))


def test_windows_of_convs_pools_and_keras_layers():
    assert window(nn.Conv2d(1, 1, (4, 3), padding="same", dilation=(1, 2)), (8, 8)) == \
        Window((4, 3), (1, 1), "same", ((1, 2), (2, 2)), (1, 2), 1)
    assert window(nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1, groups=2), (5,)) == \
        Window((3,), (2,), (1,), ((1, 1),), (1,), 2, transposed=True)
    assert window(nn.MaxPool2d(3, 2, 1, dilation=2), (9, 9)) == Window((3, 3), (2, 2), 1, ((1, 1), (1, 1)), (2, 2),
                                                                      None)
    assert window(nn.LPPool1d(2, 3), (9,)).stride == (3,)
    assert window(keras.layers.Conv2D(4, 3, strides=2, padding="same"), (6, 7)).pads == ((0, 1), (1, 1))
    assert window(keras.layers.MaxPooling1D(2, padding="same"), (5,)).pads == ((0, 1),)
    assert window(nn.ReLU(), (3, 3)) is None and window(nn.Linear(2, 3), ()) is None


def test_layouts():
    layer = keras.layers.Conv2D(4, 3)
    assert channels_last(layer) and not channels_last(nn.Conv2d(1, 1, 1)) and not channels_last(None)
    assert spatial_sizes(layer, (2, 7, 9, 3)) == (7, 9) and spatial_sizes(nn.Conv2d(3, 1, 1), (2, 3, 7, 9)) == (7, 9)


def test_field_out_of_each_kind_of_layer():
    notes = []
    assert field_out(nn.Conv2d(1, 1, 3, stride=2, padding=1), ONE, (1, 1, 8, 8), (1, 1, 4, 4), notes, "c") == \
        (Field(3, 2, 1),) * 2
    assert field_out(nn.ZeroPad2d((1, 0, 3, 0)), ONE, (1, 1, 4, 4), (1, 1, 7, 5), notes, "p") == \
        (Field(1, 1, 3), Field(1, 1, 1))
    assert field_out(nn.AdaptiveAvgPool2d(2), ONE, (1, 1, 8, 6), (1, 1, 2, 2), notes, "a") == \
        (Field(4, 4, 0), Field(3, 3, 0))
    assert field_out(nn.BatchNorm2d(1), ONE, (1, 1, 4, 4), (1, 1, 4, 4), notes, "b") == ONE
    assert field_out(nn.Flatten(), ONE, (1, 1, 4, 4), (1, 16), notes, "f") is None
    assert field_out(nn.Conv2d(1, 1, 3), None, (1, 1, 4, 4), (1, 1, 2, 2), notes, "c") is None
    assert notes == []
    assert field_out(nn.AdaptiveAvgPool2d(3), ONE, (1, 1, 8, 8), (1, 1, 3, 3), notes, "a") is None
    assert field_out(nn.MaxUnpool2d(2), ONE, (1, 1, 4, 4), (1, 1, 8, 8), notes, "u") is None
    assert notes[0].startswith("'a' (AdaptiveAvgPool2d): adaptive pooling of (8, 8) to (3, 3) has windows")
    assert notes[1] == "'u' (MaxUnpool2d): the receptive field is not followed through this layer"


def test_the_tracer_crops_merges_and_stops():
    with cnnlab.autograd.keep_inputs():   # the Tracer walks the recorded ops' input tensors
        x = cnnlab.zeros(1, 1, 8, 8).requires_grad_()
        tracer = Tracer(x)
        assert tracer.fields(x) == ONE and tracer.fields(cnnlab.ones(2)) is CONSTANT
        assert tracer.fields(x[:, :, 1::2, ::2]) == (Field(1, 2, -1), Field(1, 2, 0))
        assert tracer.fields(x * 2 + x) == ONE
        conv = cnnlab.nn.functional.conv2d(x, cnnlab.ones(1, 1, 3, 3), padding=1)
        tracer.set(conv, (Field(3, 1, 1),) * 2)
        assert tracer.fields(conv + x) == (Field(3, 1, 1),) * 2 and tracer.notes == []
        tracer.layer = "'next'"
        assert tracer.fields(x[:, :, 2:6, :4]) == (Field(1, 1, -2), Field(1, 1, 0))
        assert tracer.fields(x[:, 0]) is None and tracer.notes == []   # the spatial axes are not all there
        assert tracer.fields(x[:, :, [0, 2]]) is None
        assert tracer.notes == ["an index before 'next' is not a slice: the receptive field is not followed"]
        assert tracer.fields(cnnlab.nn.functional.max_pool2d(x, 2)) is None
        assert tracer.notes[1].endswith("before 'next' changes the spatial size: the receptive field is not followed "
                                        "through it")


def test_the_tracer_notes_paths_of_different_strides():
    with cnnlab.autograd.keep_inputs():   # the Tracer walks the recorded ops' input tensors
        x = cnnlab.zeros(1, 1, 4, 4).requires_grad_()
        tracer = Tracer(x)
        a, b = x * 1, x * 3
        tracer.set(a, (Field(1, 2, 0),) * 2)
        assert tracer.fields(a + b) is None
        assert "paths of different effective strides meet in" in tracer.notes[0]


@pytest.mark.parametrize("layer", [nn.DeformConv2d(1, 1, 3), keras.layers.Conv2DTranspose(1, 3)])
def test_field_out_stops_at_deformable_and_keras_transposed_convs(layer):
    notes = []
    assert field_out(layer, ONE, (1, 1, 5, 5), (1, 1, 3, 3), notes, "x") is None
    assert "the receptive field is not followed through this layer" in notes[0]
