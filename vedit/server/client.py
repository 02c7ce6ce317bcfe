"""A small client for a running ``vedit serve`` (standard library only, so host
adapters such as Blender's Python can use it as is)::

    c = VeditClient()                       # http://127.0.0.1:8765, token from $VEDIT_HOME/token
    job_id = c.submit({"op": "remove", "input": "/clips/a.mp4", "output": "/clips/a_clean.mp4",
                       "params": {"mask": "/clips/mask.png"}})
    job = c.wait(job_id, timeout=600)       # the final job dict
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from vedit.errors import InvalidInputError, VeditError
from vedit.server.config import read_token, token_path

DEFAULT_URL = "http://127.0.0.1:8765"
TERMINAL = ("done", "failed", "cancelled")


class ServerError(VeditError):
    """The server answered with an error; ``status`` and ``type`` as it sent them."""

    def __init__(self, message: str, status: int = 0, type_: str = ""):
        super().__init__(message)
        self.status, self.type = status, type_


class ServerUnavailableError(ServerError, ConnectionError):
    """No server is listening at the URL."""


class AuthError(ServerError, PermissionError):
    """401/403 from the server."""


class JobNotFound(ServerError, LookupError):
    """404 for a job id."""


class VeditClient:
    """Talks to a running server. ``url`` defaults to ``$VEDIT_URL`` or
    http://127.0.0.1:8765; ``token`` to the token file in ``$VEDIT_HOME``."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0):
        self.url = (url or os.environ.get("VEDIT_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("VEDIT_TOKEN") or read_token()
        self.timeout = timeout

    # -- transport -----------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            if not self.token:
                raise AuthError(f"no token: start the server once (vedit serve) so it writes {token_path()}, "
                                "or pass the token (--token / token=)", 401, "Unauthorized")
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read() or b"{}")
            except ValueError:
                err = {}
            msg = err.get("error") or f"HTTP {exc.code} {exc.reason}"
            kind = err.get("type", "")
            cls = {401: AuthError, 403: AuthError, 404: JobNotFound}.get(exc.code, ServerError)
            raise cls(msg, exc.code, kind) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerUnavailableError(f"no vedit server at {self.url} ({reason}); start one with "
                                         "`vedit serve` or pass --url", 0, "Unavailable") from None

    # -- API ------------------------------------------------------------------
    def health(self) -> dict:
        return self._request("GET", "/health", auth=False)

    def engines(self) -> dict:
        return self._request("GET", "/engines")

    def submit(self, spec: dict | None = None, **fields) -> str:
        """Queue a job; returns its id. Relative paths are made absolute here
        (the server refuses relative ones: its working folder means nothing)."""
        spec = dict(spec or {}, **fields)
        if not spec.get("op"):
            raise InvalidInputError("submit: give op, input and output")
        for k in ("input", "output"):
            if isinstance(spec.get(k), str) and spec[k] and not os.path.isabs(spec[k]):
                trail = "/" if spec[k].endswith("/") else ""
                spec[k] = os.path.abspath(spec[k]) + trail
        return self._request("POST", "/jobs", spec)["id"]

    def get(self, job_id: str) -> dict:
        return self._request("GET", f"/jobs/{job_id}")

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict]:
        q = "&".join(f"{k}={v}" for k, v in (("status", status), ("limit", limit)) if v)
        return self._request("GET", "/jobs" + (f"?{q}" if q else ""))

    def cancel(self, job_id: str) -> dict:
        return self._request("POST", f"/jobs/{job_id}/cancel")

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.25, on_progress=None) -> dict:
        """Poll until the job is done, failed or cancelled; returns the final job
        dict. ``on_progress(job)`` is called on each poll. TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
            time.sleep(poll)
