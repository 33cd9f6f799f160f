"""ONNX files from and to cnnlab models (the `onnx` package: the ``[onnx]`` extra, imported only when used).

- `export(model, example_input, path, opset=17, dynamic_batch=True)`: write a model as an ONNX file,
  traced from one forward pass, its parameters as initializers under their state-dict keys
  (`cnnlab.onnx.export`; what each layer becomes is in `cnnlab.onnx.export_layers`).
- `load(path)`: an ONNX CNN graph as a runnable cnnlab Module of standard layers (`cnnlab.onnx.load`;
  one converter per op in `cnnlab.onnx.convert_layers` and `cnnlab.onnx.convert_tensors`);
  `initializers(path)`: an ONNX file's weights by name.
"""
from cnnlab.onnx.export import ExportError, export
from cnnlab.onnx.load import OnnxError, initializers, load

__all__ = ["ExportError", "OnnxError", "export", "initializers", "load"]
