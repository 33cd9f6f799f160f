"""The ASGI app of ``cnnlab serve`` (Starlette): the page, its static files, and the JSON API that it uses.

    GET  /                    the page (static/index.html; app.js and style.css under /static/)
    GET  /api/health          {"status": "ok", "models": [...]}
    GET  /api/models          the models served: name, dataset, classes, input shape, test accuracy, ...
    GET  /api/model           one model (?model=NAME, default the first) with its `cnnlab.summary`
    POST /api/predict         the top-k classes of an input
    POST /api/features        every layer's output for an input
    POST /api/explain         how one element of one layer's output was computed, and its receptive field
    POST /api/cam             CAM or Grad-CAM of a class
    GET  /api/output-size     `explain.output_size` (the playground's formula and window starts)
    POST /api/conv            the playground's convolution, and the explanation of one output element
    GET  /api/openapi.json    the OpenAPI 3.1 schema of all of these

A POST takes a JSON object, or a multipart form whose field ``image`` is an image file (the other fields
as JSON values: ``at=[0, 3, 4]``); the input is one of ``image``, ``pixels`` or ``sample`` (see
`Explorer.read_input`), the model ``model`` (a name; default the first).

Safe by default: request bodies are limited (`MAX_BODY_BYTES`; 413 past it, counted as they arrive), an
image is refused before decoding when it has more than `cnnlab.train.MAX_PIXELS`; every bad request gets a
4xx with ``{"error": "..."}`` (never a traceback); no request names a file (models are loaded when the app
is made, static files are served from the package); the page may load nothing from elsewhere (its
Content-Security-Policy says 'self').
"""
from __future__ import annotations

import json
from pathlib import Path

from cnnlab.messages import MissingExtraError

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
except ImportError:  # pragma: no cover - the cli says it in one line
    raise MissingExtraError("cnnlab serve: needs starlette, uvicorn and python-multipart: pip install "
                            "'cnnlab[web]'") from None

from cnnlab.serve.explorer import Explorer, RequestError, output_size, playground
from cnnlab.serve.openapi import SCHEMA

__all__ = ["create_app", "MAX_BODY_BYTES", "STATIC"]

#: the largest request body, in bytes
MAX_BODY_BYTES = 4 * 1024 * 1024
STATIC = Path(__file__).parent / "static"
#: the page loads its script, style and images from this server only, and sends nothing elsewhere
CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


class BodyLimit:
    """ASGI middleware: a body longer than ``max_bytes`` (declared, or counted as it arrives) gets 413."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = _error(413, f"the request body is larger than the {self.max_bytes:,} bytes allowed")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await too_big(scope, receive, send)
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.max_bytes:
                return await too_big(scope, receive, send)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


#: fields that are names, kept as text in forms and queries (layer "3" of a Sequential is not the number 3)
TEXT_FIELDS = ("model", "layer", "method", "mode")


def _value(key: str, text: str):
    """A form field or query parameter read as JSON (3, true, [0, 1, 2]), else the text itself ('same'); the
    `TEXT_FIELDS` always as text."""
    if key in TEXT_FIELDS:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _params(request) -> dict:
    """The request's fields: a JSON object, or a multipart form (files as bytes, other fields read as JSON)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            params = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise RequestError("the body is not valid JSON", 400) from None
        if not isinstance(params, dict):
            raise RequestError("the JSON body must be an object of fields", 400)
        return params
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=32)
        except Exception as e:   # python-multipart's and Starlette's errors about a malformed form
            raise RequestError(f"the form can't be read: {getattr(e, 'detail', e)}", 400) from None
        params = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                params[key] = await value.read()
            else:
                params[key] = _value(key, value)
        return params
    raise RequestError("send a JSON object (Content-Type: application/json) or a form (multipart/form-data)", 415)


def create_app(explorers, max_body: int = MAX_BODY_BYTES):
    """The Starlette app that serves ``explorers`` (a list of `Explorer`, the first the default).

    Args:
        explorers: the models, each an `Explorer` (or a checkpoint path, loaded here).
        max_body: the largest request body in bytes (413 past it). Default: `MAX_BODY_BYTES`.
    """
    explorers = [e if isinstance(e, Explorer) else Explorer(e) for e in explorers]
    if not explorers:
        raise ValueError("create_app: give at least one model")
    by_name = {e.name: e for e in explorers}
    if len(by_name) != len(explorers):
        raise ValueError(f"create_app: two models have one name: {', '.join(e.name for e in explorers)}")

    def pick(name):
        if name is None:
            return explorers[0]
        if name not in by_name:
            raise RequestError(f"model {name!r} is not served here; the models: {', '.join(by_name)}", 404)
        return by_name[name]

    def answer(work):
        """An endpoint that runs ``work(request, params)`` in a worker thread and answers its dict as JSON."""
        async def endpoint(request):
            params = await _params(request) if request.method == "POST" else \
                {key: _value(key, value) for key, value in request.query_params.items()}
            return JSONResponse(await run_in_threadpool(work, request, params))
        return endpoint

    def on_model(method):
        return answer(lambda request, params: getattr(pick(params.get("model",
                                                                      request.query_params.get("model"))), method)(params))

    async def index(_request):
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    async def health(_request):
        return JSONResponse({"status": "ok", "models": list(by_name)})

    async def models(_request):
        return JSONResponse({"models": [e.describe() for e in explorers]})

    async def schema(_request):
        return JSONResponse(SCHEMA)

    routes = [
        Route("/", index),
        Route("/api/health", health),
        Route("/api/models", models),
        Route("/api/model", answer(lambda request, params: pick(params.get("model")).model_summary())),
        Route("/api/predict", on_model("predict"), methods=["POST"]),
        Route("/api/features", on_model("features"), methods=["POST"]),
        Route("/api/explain", on_model("explain"), methods=["POST"]),
        Route("/api/cam", on_model("class_map"), methods=["POST"]),
        Route("/api/output-size", answer(lambda request, params: output_size(params))),
        Route("/api/conv", answer(lambda request, params: playground(params)), methods=["POST"]),
        Route("/api/openapi.json", schema),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def request_error(_request, exc):
        return _error(exc.status, exc)

    async def value_error(_request, exc):   # the library's checks (ValueError, TypeError): the message is for the user
        return _error(422, exc)

    async def http_error(_request, exc):
        return _error(exc.status_code, exc.detail)

    async def bug(_request, exc):   # never a traceback in an answer (the server's log has it)
        return _error(500, f"internal error ({type(exc).__name__}); the server's log has the details")

    app = Starlette(routes=routes, exception_handlers={RequestError: request_error, ValueError: value_error,
                                                       TypeError: value_error, HTTPException: http_error,
                                                       Exception: bug})
    app.state.explorers = explorers
    limited = BodyLimit(app, max_body)
    limited.explorers = explorers
    return limited
