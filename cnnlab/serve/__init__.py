"""``cnnlab serve``: a local web page to explore a trained CNN, and the JSON API it uses (the ``[web]`` extra:
Starlette, uvicorn, python-multipart). Wiring only: every number comes from `cnnlab.summary`,
`cnnlab.explain` and `cnnlab.viz`.

- `cnnlab.serve.app`: `create_app(explorers)`, the ASGI app (routes, validation, errors as JSON, limits);
- `cnnlab.serve.explorer`: `Explorer`, one checkpoint loaded, and what the page asks of it;
- `cnnlab.serve.openapi`: the API's OpenAPI schema;
- ``static/``: the page (index.html, app.js, style.css; nothing is fetched from elsewhere);
- ``models/``: the checkpoints served when none is given, `SHIPPED` (see the README for the commands
  that made them).

Example:
    >>> from cnnlab.serve import SHIPPED
    >>> from cnnlab.serve.app import create_app            # doctest: +SKIP
    >>> app = create_app(SHIPPED)                          # an ASGI app: uvicorn.run(app)
"""
from pathlib import Path

__all__ = ["SHIPPED", "MODELS_DIR"]

MODELS_DIR = Path(__file__).parent / "models"
#: the shipped checkpoints (stripped of their optimizer state): LeNet-5 and a GAP net, trained on MNIST
SHIPPED = [MODELS_DIR / "lenet5-mnist.safetensors", MODELS_DIR / "gapnet-mnist.safetensors"]

