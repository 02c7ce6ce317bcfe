"""Minimal client for the local ``vedit serve`` job server (DESIGN §5), stdlib
only so it runs inside any host's Python (Blender, Resolve)."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8765"


class ServerError(RuntimeError):
    """The server is unreachable or answered with an error."""


def vedit_home() -> str:
    home = os.environ.get("VEDIT_HOME")
    if home:
        return home
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(xdg, "vedit")


def read_token(home: str | None = None) -> str:
    path = os.path.join(home or vedit_home(), "token")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        raise ServerError(f"no vedit token at {path}: start the server once with `vedit serve`") from None


class Client:
    """``submit(spec) -> id``, ``get(id) -> job``, ``cancel(id)``, ``wait(id)``."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0):
        self.url = (url or os.environ.get("VEDIT_URL") or DEFAULT_URL).rstrip("/")
        self._token = token
        self.timeout = timeout

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = read_token()
        return self._token

    def _call(self, method: str, path: str, body=None, auth: bool = True):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            try:
                msg = json.loads(exc.read().decode("utf-8")).get("error") or exc.reason
            except (ValueError, AttributeError):
                msg = exc.reason
            raise ServerError(f"vedit server: {msg} (HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"cannot reach the vedit server at {self.url} ({exc}); start it with `vedit serve`") from None
        return json.loads(raw.decode("utf-8")) if raw else {}

    def health(self) -> dict:
        return self._call("GET", "/health", auth=False)

    def submit(self, spec: dict) -> str:
        return str(self._call("POST", "/jobs", spec)["id"])

    def get(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict:
        return self._call("POST", f"/jobs/{job_id}/cancel", {})

    def wait(self, job_id: str, timeout: float = 600.0, interval: float = 0.25) -> dict:
        end = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.get("status") in ("done", "failed", "cancelled"):
                return job
            if time.monotonic() > end:
                raise ServerError(f"job {job_id} still {job.get('status')} after {timeout:.0f}s")
            time.sleep(interval)
