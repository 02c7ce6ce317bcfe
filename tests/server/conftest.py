"""Fixtures for the job server tests: the job fixtures of tests/jobs (a tiny
PNG sequence with a square mask, the registered test op, helpers ``h``), the
app in-process, and a live server on a real socket."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.jobs.conftest import clip_dir, free_port, h, test_op  # noqa: F401 - the job fixtures, shared


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    monkeypatch.setenv("VEDIT_HOME", str(folder))
    return folder


@pytest.fixture
def make_client(home):
    """Builds the app in-process and returns (TestClient, auth headers, app)."""
    from fastapi.testclient import TestClient

    from vedit.server import ServerConfig, create_app

    made = []

    def make(**cfg):
        app = create_app(ServerConfig(home=str(home), **cfg))
        c = TestClient(app, base_url="http://127.0.0.1:8765")
        c.__enter__()
        made.append(c)
        tok = (home / "token").read_text().strip()
        return c, {"Authorization": f"Bearer {tok}"}, app

    yield make
    for c in made:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def live_server(home):
    """A real uvicorn server on a free port in a thread; yields (url, token, app)."""
    import uvicorn

    from vedit.server import ServerConfig, create_app

    port = free_port()
    app = create_app(ServerConfig(home=str(home), port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", (home / "token").read_text().strip(), app
    server.should_exit = True
    t.join(15)


@pytest.fixture
def tls_server(home):
    """A real server over TLS on 127.0.0.1 with a self-signed pair (vedit's
    make_cert) and short header/idle timeouts: yields (port, url, cert)."""
    import uvicorn

    from vedit.server import ServerConfig, create_app
    from vedit.server.app import uvicorn_config
    from vedit.server.tls import make_cert

    cert, key = make_cert(str(home / "tls"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ServerConfig(home=str(home), port=port, tls_cert=cert, tls_key=key, header_timeout=0.5,
                       idle_timeout=1).validate()
    server = uvicorn.Server(uvicorn_config(create_app(cfg), cfg))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and t.is_alive(), "TLS server did not start"
        time.sleep(0.02)
    yield port, f"https://127.0.0.1:{port}", cert
    server.should_exit = True
    t.join(15)
