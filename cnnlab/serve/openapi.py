"""The OpenAPI 3.1 schema of the API of ``cnnlab serve`` (served at /api/openapi.json). Written out by hand;
tests/serve/test_app.py checks that it lists exactly the app's routes and methods."""
from __future__ import annotations

__all__ = ["SCHEMA"]

_ERROR = {"description": "a bad request: its message", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}

_INPUT = {
    "model": {"type": "string", "description": "the model's name (GET /api/models); default: the first"},
    "image": {"type": "string", "description": "an image file (PNG, JPEG, ...): a multipart file field, or its "
                                               "base64 text (a data: URL too) in JSON"},
    "pixels": {"type": "array", "items": {"type": "array"},
               "description": "rows of gray levels 0..255, or of [r, g, b]; at most 1024 on a side"},
    "sample": {"type": "integer", "minimum": 0, "description": "the index of a test image of the model's dataset"},
    "invert": {"type": ["boolean", "null"], "description": "invert the gray levels first; default (null): as "
               "`cnnlab predict`, for a light-on-dark model when the image's border is light"},
    "center": {"type": "boolean", "default": False,
               "description": "MNIST's centring of a drawn digit (box into 20×20, centre of mass in the middle)"},
}


def _post(summary, extra=None, required=(), answer="the answer"):
    properties = {**_INPUT, **(extra or {})}
    schema = {"type": "object", "properties": properties, "required": list(required),
              "description": "one of image, pixels or sample is the input"}
    return {"post": {
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                       "multipart/form-data": {"schema": schema}}},
        "responses": {"200": {"description": answer, "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": _ERROR, "404": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR}}}


def _get(summary, parameters=(), answer="the answer"):
    return {"get": {"summary": summary, "parameters": list(parameters),
                    "responses": {"200": {"description": answer,
                                          "content": {"application/json": {"schema": {"type": "object"}}}},
                                  "404": _ERROR, "422": _ERROR}}}


def _query(name, schema, description, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


SCHEMA = {
    "openapi": "3.1.0",
    "info": {"title": "cnnlab serve", "version": "1",
             "description": "Explore a trained CNN: predictions, every layer's output, the arithmetic of one "
                            "element, CAM and Grad-CAM, output sizes. Errors are {\"error\": message} with a 4xx."},
    "paths": {
        "/api/health": _get("whether the server is up, and the models it serves"),
        "/api/models": _get("the models served: name, dataset, classes, input shape, test accuracy, conv layers"),
        "/api/model": _get("one model and its cnnlab.summary (rows: shapes, parameters, MACs, receptive fields)",
                           [_query("model", {"type": "string"}, "the model's name; default: the first")]),
        "/api/predict": _post("the top-k classes of the input", {"top_k": {"type": "integer", "minimum": 1}},
                              answer='{"top": [{"index": 7, "label": "7", "probability": 0.99}, ...], "input": '
                                     '{"pixels": the input as the model sees it, "inverted", "centered"}}'),
        "/api/features": _post("every layer's output for the input",
                               answer='{"layers": [{"name", "type", "shape", "min", "max", "data": base64 of '
                                      'little-endian float32 in C order}]}'),
        "/api/explain": _post("how one element of one layer's output was computed (cnnlab.explain.layer), and "
                              "the input pixels its unit sees",
                              {"layer": {"type": "string"}, "at": {"type": "array", "items": {"type": "integer"},
                                                                   "description": "[channel, i, j], or [j]"}},
                              ["layer", "at"], "LayerExplanation.to_dict() and receptive_field"),
        "/api/cam": _post("CAM (models with global average pooling) or Grad-CAM (any model) of a class",
                          {"method": {"enum": ["cam", "gradcam"], "default": "gradcam"},
                           "layer": {"type": "string", "description": "Grad-CAM's layer; default: the last conv"},
                           "target": {"type": "integer", "description": "the class; default: the top one"}},
                          answer='{"map": (H, W) on the input, "low_res", "target", "label", "layer", "scores"}'),
        "/api/output-size": _get("an output size along one axis: the formula with the numbers, the window starts "
                                 "(cnnlab.explain.output_size)", [
            _query("n", {"type": "integer", "minimum": 1}, "the input size", True),
            _query("kernel", {"type": "integer", "minimum": 1}, "the kernel size", True),
            _query("stride", {"type": "integer", "minimum": 1}, "default: 1 (k for mode pool)"),
            _query("padding", {"oneOf": [{"type": "integer", "minimum": 0}, {"enum": ["same", "same-tf"]}]},
                   "p on both sides, 'same' (PyTorch's rule, stride 1) or 'same-tf' (TensorFlow's); default 0"),
            _query("dilation", {"type": "integer", "minimum": 1}, "default: 1"),
            _query("mode", {"enum": ["conv", "pool", "transpose", "same-tf"]}, "default: conv"),
            _query("ceil_mode", {"type": "boolean"}, "mode pool: round up"),
            _query("output_padding", {"type": "integer", "minimum": 0}, "mode transpose"),
        ], "SizeExplanation: out, padding, positions, starts, taps, lines"),
        "/api/conv": {"post": {
            "summary": "the playground: a convolution of a small matrix, its sizes, and one element explained",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["input", "kernel"], "properties": {
                    "input": {"type": "array", "description": "rows of numbers, at most 32×32"},
                    "kernel": {"type": "array", "description": "rows of numbers, at most 11×11"},
                    "stride": {"type": "integer"}, "dilation": {"type": "integer"},
                    "padding": {"oneOf": [{"type": "integer"}, {"enum": ["same", "same-tf"]}]},
                    "at": {"type": "array", "items": {"type": "integer"}, "description": "[i, j] of the output"}}}}}},
            "responses": {"200": {"description": '{"output", "sizes": per axis as /api/output-size, "padded", '
                                                 '"explanation", "sum_line"}',
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "400": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR}}},
        "/api/openapi.json": _get("this schema"),
    },
}
