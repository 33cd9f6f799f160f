"""Reading and writing files: checkpoints, safetensors weights, atomic writes.

- :func:`save` / :func:`load` — ``cnnlab.save(obj, path)`` and
  ``cnnlab.load(path)``: state dicts and nested checkpoints as safetensors
  files, written atomically, never unpickled (:mod:`cnnlab.io.checkpoint`).
- :func:`load_torch` — PyTorch's ``torch.save`` files (and safetensors files) as
  cnnlab Tensors, without torch, their pickles read by a restricted unpickler that
  builds only weights (:mod:`cnnlab.io.torch_load`); :func:`save_torch` writes
  ``torch.save``'s format and :func:`save_torch_compatible` safetensors with
  PyTorch's names, both without torch (:mod:`cnnlab.io.torch_save`).
- :mod:`cnnlab.io.safetensors` — the safetensors format itself:
  ``encode``/``decode`` bytes, ``save_file``/``load_file`` for arrays.
- :func:`atomic_write_bytes`, :func:`atomic_write_text`,
  :func:`atomic_writer` — every file cnnlab writes goes through these
  (:mod:`cnnlab.io.files`).
"""

from cnnlab.io import safetensors
from cnnlab.io.checkpoint import LoadError, load, save
from cnnlab.io.files import atomic_write_bytes, atomic_write_text, atomic_writer
from cnnlab.io.torch_load import load_torch
from cnnlab.io.torch_save import save_torch, save_torch_compatible

__all__ = ["LoadError", "atomic_write_bytes", "atomic_write_text", "atomic_writer", "load", "load_torch",
           "safetensors", "save", "save_torch", "save_torch_compatible"]
