"""Fixtures for the host-adapter tests: tiny source clips whose frames encode
their own frame number, so a result can be traced back to the exact source
frames it came from."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def numbered_frame(i: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A frame whose top band is a flat grey of level 8*i (readable after lossy
    coding) and whose rest is a fixed texture."""
    rng = np.random.default_rng(seed)
    img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    img = np.ascontiguousarray(np.repeat(np.repeat(img[::4, ::4], 4, 0), 4, 1)[:h, :w])
    img[: h // 3] = (8 * i) % 256
    return img


def frame_number(frame: np.ndarray) -> int:
    h = frame.shape[0]
    return int(round(float(frame[2: h // 3 - 2, 2:-2].mean()) / 8.0))


def write_numbered_clip(path: Path, n: int = 20, fps: int = 24, h: int = 48, w: int = 64, seed: int = 0) -> Path:
    from vedit.io import open_writer

    with open_writer(str(path), fps, (w, h)) as wr:
        for i in range(n):
            wr.write(numbered_frame(i, h, w, seed))
    return path


@pytest.fixture
def numbered_clips(tmp_path):
    """Three 20-frame 24 fps mp4 clips (64x48)."""
    d = tmp_path / "media"
    d.mkdir()
    return [write_numbered_clip(d / f"shot{k}.mp4", seed=k) for k in range(3)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_origins():
    """Panel origins the live server allows (a test module may override this)."""
    return []


@pytest.fixture
def server_tls():
    """Whether the live server runs over TLS with a pair from ``vedit serve
    --make-cert`` (a test module may override this)."""
    return False


@pytest.fixture
def live_server(tmp_path, server_origins, server_tls):
    """A real ``vedit serve`` on a free loopback port, with its own VEDIT_HOME.
    Yields (url, token, home); over TLS the certificate is home/tls/cert.pem."""
    pytest.importorskip("fastapi")  # the server extra
    pytest.importorskip("uvicorn")
    import ssl
    import urllib.request

    home = tmp_path / "vedit_home"
    home.mkdir()
    port = free_port()
    env = dict(os.environ, VEDIT_HOME=str(home), PYTHONUNBUFFERED="1")
    serve = [sys.executable, "-m", "vedit_cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    tls: list[str] = []
    ctx = None
    if server_tls:
        subprocess.run(serve + ["--make-cert"], env=env, cwd=str(ROOT), check=True, capture_output=True, timeout=120)
        cert, key = home / "tls" / "cert.pem", home / "tls" / "key.pem"
        tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
        ctx = ssl.create_default_context(cafile=str(cert))
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        serve + tls + ["--allowed-root", str(tmp_path)] + [a for o in server_origins for a in ("--origin", o)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
    )
    url = f"{'https' if server_tls else 'http'}://127.0.0.1:{port}"

    deadline = time.monotonic() + 60
    ok = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1, context=ctx) as r:
                ok = r.status == 200
                break
        except OSError:
            time.sleep(0.2)
    if not ok:
        proc.kill()
        log.close()
        pytest.fail(f"vedit serve did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
    token = (home / "token").read_text().strip()
    try:
        yield url, token, home
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class _Helpers:
    numbered_frame = staticmethod(numbered_frame)
    frame_number = staticmethod(frame_number)
    write_numbered_clip = staticmethod(write_numbered_clip)
    root = ROOT


@pytest.fixture
def helpers():
    """The helper functions above (test modules cannot import conftest under importlib mode)."""
    return _Helpers
