"""`cnnlab serve`: a local web page to explore trained models (cnnlab.serve, the [web] extra)."""
from __future__ import annotations

import ipaddress
import sys

from cnnlab.cli.common import Formatter, flag_names

#: what `--host` means by "this machine only"
LOOPBACK = ("localhost",)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK


def _serve(args) -> int:
    from cnnlab.messages import MissingExtraError

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be an int in [0, 65535] (0: any free port), got {args.port}")
    try:
        import uvicorn
        from cnnlab.serve.app import create_app
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        raise MissingExtraError(f"serve: needs starlette, uvicorn and python-multipart ({missing} is missing): "
                                "pip install 'cnnlab[web]'") from None
    from cnnlab.serve import SHIPPED
    from cnnlab.serve.explorer import Explorer

    paths = args.checkpoint or SHIPPED
    try:
        explorers = [Explorer(path) for path in paths]
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(f"--checkpoint: {e}") from None
    names = [e.name for e in explorers]
    for i, e in enumerate(explorers):   # two runs of one model: tell them apart by their place
        if names.count(e.name) > 1:
            e.name = f"{e.name}-{i + 1}"
    app = create_app(explorers)
    if not _is_loopback(args.host):
        print(f"warning: --host {args.host} lets other machines reach this server (it has no login); "
              "the default, 127.0.0.1, keeps it to this machine", file=sys.stderr)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    _announce(server, args.host, args.open, [e.name for e in explorers])
    server.run()
    return 0


def _announce(server, host, open_browser, names) -> None:
    """Print the address (and open the browser with --open) once uvicorn listens, on its actual port."""
    startup = server.startup

    async def announced(sockets=None):
        await startup(sockets=sockets)
        if not server.started:
            return
        port = server.servers[0].sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/"
        print(f"cnnlab serve: {', '.join(names)} at {url} (Ctrl+C stops it)", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    server.startup = announced


def add_parsers(sub) -> None:
    serve = sub.add_parser(
        "serve", help="a local web page to explore trained models: predictions, every layer, the arithmetic",
        formatter_class=Formatter,
        description="Serve a web page (and its JSON API, described at /api/openapi.json) to explore trained\n"
                    "models: draw a digit, upload an image or pick a test image; see the top classes, every\n"
                    "layer's output, how any value was computed and its receptive field, CAM and Grad-CAM, a\n"
                    "convolution playground and the model's summary. Without --checkpoint it serves the LeNet-5\n"
                    "and the GAP net trained on MNIST that ship with cnnlab. Needs the [web] extra.",
        epilog="examples:\n"
               "  cnnlab serve --open\n"
               "  cnnlab serve --checkpoint runs/lenet5-mnist --checkpoint runs/gapnet-mnist --port 8080\n")
    serve.add_argument("--checkpoint", action="append", metavar="PATH",
                       help="a checkpoint.safetensors written by cnnlab train, or its run folder; give it again "
                            "for more models (default: the two models that ship with cnnlab)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default: 127.0.0.1, this machine only; another address "
                            "is warned about)")
    serve.add_argument("--port", type=int, default=8000, help="the port (default: 8000; 0: any free port)")
    serve.add_argument("--open", action="store_true", help="open the page in a web browser once it is served")
    serve.set_defaults(run=_serve, flags=flag_names(serve))
