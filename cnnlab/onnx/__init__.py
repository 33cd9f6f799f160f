"""ONNX files to and from cnnlab.

- `load(path)`: an ONNX CNN graph as a runnable cnnlab Module (`cnnlab.onnx.load`).
"""
from cnnlab.onnx.load import load  # noqa: F401
