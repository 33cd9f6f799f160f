"""`cnnlab serve`: it listens where it says (127.0.0.1 unless told, with a warning elsewhere) on the port it says,
serves the shipped models or the checkpoints given, and its user errors are one line that names the flag."""
from __future__ import annotations

import re
import sys

import pytest
from helpers import needed, one_error_line

from cnnlab.cli import main


@pytest.fixture
def uvicorn(monkeypatch):
    """uvicorn, its server stopped right after it has started (the main loop returns at once)."""
    uvicorn = needed("the [web] extra", lambda: __import__("uvicorn"))
    needed("the [web] extra", lambda: __import__("starlette"))
    started = []

    async def no_main_loop(self):   # while it listens: the server and its port
        started.append((self, self.servers[0].sockets[0].getsockname()[1]))

    monkeypatch.setattr(uvicorn.Server, "main_loop", no_main_loop)
    uvicorn.started = started
    return uvicorn


def test_serve_listens_on_loopback_on_the_port_it_prints_and_opens_the_browser(uvicorn, monkeypatch, capsys):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    assert main(["serve", "--port", "0", "--open"]) == 0
    out, err = capsys.readouterr()
    ((server, port),) = uvicorn.started
    assert server.config.host == "127.0.0.1" and port > 0 and err == ""
    url = f"http://127.0.0.1:{port}/"
    assert out == f"cnnlab serve: lenet5-mnist, gapnet-mnist at {url} (Ctrl+C stops it)\n" and opened == [url]


def test_serve_warns_when_it_listens_beyond_this_machine(uvicorn, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: --host 0.0.0.0 lets other machines reach this server") and err.count("\n") == 1


def test_serve_takes_the_checkpoints_given(uvicorn, capsys):
    from cnnlab.serve import SHIPPED

    assert main(["serve", "--port", "0", "--checkpoint", str(SHIPPED[1]), "--checkpoint", str(SHIPPED[1])]) == 0
    assert capsys.readouterr().out.startswith("cnnlab serve: gapnet-mnist-1, gapnet-mnist-2 at http://127.0.0.1:")
    ((server, _),) = uvicorn.started
    assert [e.name for e in server.config.app.explorers] == ["gapnet-mnist-1", "gapnet-mnist-2"]


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], r"--port must be an int in \[0, 65535\] \(0: any free port\), got 70000"),
    (["--checkpoint", "/nonexistent/run"], r"--checkpoint: no checkpoint at /nonexistent/run$"),
    (["--checkpoint", __file__], r"--checkpoint: .*test_cli_serve.py is not a cnnlab training checkpoint"),
    (["--port", "x"], r"argument --port: invalid int value: 'x'"),
])
def test_serve_user_errors_are_one_line(uvicorn, argv, message, capsys):
    try:
        code = main(["serve", *argv])
    except SystemExit as e:   # argparse's own errors
        code = e.code
    assert re.search(message, one_error_line(capsys, code, "serve"))


def test_serve_without_the_web_extra_says_which_extra_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)   # import uvicorn raises ImportError
    err = one_error_line(capsys, main(["serve"]), "serve")
    assert "needs starlette, uvicorn and python-multipart" in err and "pip install 'cnnlab[web]'" in err


def test_serve_help_says_what_it_serves(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for text in ("--checkpoint PATH", "default: 127.0.0.1", "0: any free port", "--open", "/api/openapi.json"):
        assert text in out
