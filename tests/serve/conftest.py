"""What the tests of cnnlab.serve share: the [web] extra (skipped without it, never in CI), the shipped models
loaded once, the app, and one real uvicorn server on an ephemeral loopback port for the whole session."""
import socket
import threading
import time
import warnings

import pytest
from helpers import needed


@pytest.fixture(scope="session")
def web():
    """The [web] extra (starlette, uvicorn, python-multipart) and httpx, the test client's transport."""
    def load():
        import httpx  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Using `httpx` with", UserWarning)   # Starlette's note on its successor
            from starlette import testclient

        return testclient

    return needed("the [web] extra and httpx", load)


@pytest.fixture(scope="session")
def explorers(web):
    from cnnlab.serve import SHIPPED
    from cnnlab.serve.explorer import Explorer

    return [Explorer(path) for path in SHIPPED]


@pytest.fixture(scope="session")
def app(explorers):
    from cnnlab.serve.app import create_app

    return create_app(explorers)


@pytest.fixture(scope="session")
def client(web, app):
    """Starlette's test client (in process; a bug would raise instead of answering 500)."""
    return web.TestClient(app)


@pytest.fixture(scope="session")
def server(app):
    """A real uvicorn server in a thread, on a free port of 127.0.0.1: its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", limit_concurrency=1000))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(30)
    sock.close()
