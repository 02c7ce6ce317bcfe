"""The one client for a running ``vedit serve``, and the one lookup of the
config folder and token. Standard library only and no hard ``vedit`` import,
so host adapters use this file as is: the Blender extension build copies it
into the add-on, the Resolve script imports it (or a copy beside it)::

    c = VeditClient()                       # http://127.0.0.1:8765, token from $VEDIT_HOME/token
    job_id = c.submit({"op": "remove", "input": "/clips/a.mp4", "output": "/clips/a_clean.mp4",
                       "params": {"mask": "/clips/mask.png"}})
    job = c.wait(job_id, timeout=600)       # the final job dict

Over TLS (``vedit serve --tls-cert/--tls-key``) give an ``https://`` URL and,
for a self-signed certificate, the CA file to trust
(``VeditClient("https://127.0.0.1:8765", cafile=".../tls/cert.pem")`` or
``$VEDIT_CA_FILE``). A token rotated by the server (the token file rewritten)
is picked up by re-reading the file once when a request gets 401.
"""
from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

try:  # inside vedit, errors join its tree (the CLI prints them as one line)
    from vedit.errors import VeditError as _Base
except ImportError:  # a copy inside a host's Python
    class _Base(Exception):  # type: ignore[no-redef]
        """Stands in for vedit's error root."""

DEFAULT_URL = "http://127.0.0.1:8765"
TERMINAL = ("done", "failed", "cancelled")
#: a list of job dicts (named: ``VeditClient.list`` shadows the builtin inside the class)
JobList = list[dict[str, Any]]


# -- the config folder and the token --------------------------------------------------

def vedit_home() -> str:
    """``$VEDIT_HOME``, else ``${XDG_CONFIG_HOME:-~/.config}/vedit`` (absolute)."""
    if os.environ.get("VEDIT_HOME"):
        return os.path.abspath(os.path.expanduser(os.environ["VEDIT_HOME"]))
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(os.path.abspath(base), "vedit")


def token_path(home: str | None = None) -> str:
    return os.path.join(home or vedit_home(), "token")


def read_token(home: str | None = None) -> str | None:
    """The token a running server uses, or None when none was created yet."""
    try:
        with open(token_path(home), encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


# -- errors ----------------------------------------------------------------------------

class ServerError(_Base, RuntimeError):
    """The server answered with an error; ``status`` and ``type`` as it sent them."""

    def __init__(self, message: str, status: int = 0, type_: str = ""):
        super().__init__(message)
        self.status, self.type = status, type_


class ServerUnavailableError(ServerError, ConnectionError):
    """No server is listening at the URL."""


class AuthError(ServerError, PermissionError):
    """401/403 from the server, or no token to send."""


class JobNotFound(ServerError, LookupError):
    """404 for a job id."""


# -- the client ----------------------------------------------------------------------

class VeditClient:
    """Talks to a running server. ``url`` defaults to ``$VEDIT_URL`` or
    http://127.0.0.1:8765; ``token`` to ``$VEDIT_TOKEN`` or the token file
    (re-read once on a 401, so a rotated token is picked up); ``cafile``
    (default ``$VEDIT_CA_FILE``): the certificate to trust for an ``https``
    URL, e.g. the self-signed one ``vedit serve --make-cert`` writes."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0,
                 cafile: str | None = None):
        self.url = (url or os.environ.get("VEDIT_URL") or DEFAULT_URL).rstrip("/")
        scheme = urllib.parse.urlsplit(self.url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"vedit server URL must start with http:// or https://, got {self.url!r}")
        given = token or os.environ.get("VEDIT_TOKEN")
        self._token_from_file = not given  # only a token read from the file is re-read on 401
        self.token = given or read_token()
        self.timeout = timeout
        self.cafile = cafile or os.environ.get("VEDIT_CA_FILE") or None
        self._ssl: ssl.SSLContext | None = None
        if scheme == "https":
            if self.cafile and not os.path.isfile(self.cafile):
                raise ValueError(f"CA file {self.cafile} not found (vedit serve --make-cert writes "
                                 f"{os.path.join(vedit_home(), 'tls', 'cert.pem')})")
            self._ssl = ssl.create_default_context(cafile=self.cafile)

    # -- transport -----------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        return self._exchange(method, path, body, auth)[0]

    def _exchange(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[Any, dict[str, str]]:
        """(decoded body, response headers); on a 401 with a token from the
        file, the file is read again and the request sent once more when it
        holds a different token (the server rotated it)."""
        try:
            return self._send(method, path, body, auth)
        except AuthError as exc:
            if not (auth and exc.status == 401 and self._token_from_file):
                raise
            fresh = read_token()
            if not fresh or fresh == self.token:
                raise
            self.token = fresh
            return self._send(method, path, body, auth)

    def _send(self, method: str, path: str, body: Any, auth: bool) -> tuple[Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            if not self.token:
                raise AuthError(f"no vedit token: start the server once (vedit serve) so it writes {token_path()}, "
                                "or pass the token (--token / token=)", 401, "Unauthorized")
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return json.loads(resp.read() or b"null"), headers
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read() or b"{}")
            except ValueError:
                err = {}
            err = err if isinstance(err, dict) else {}
            msg = err.get("error") or f"HTTP {exc.code} {exc.reason}"
            cls = {401: AuthError, 403: AuthError, 404: JobNotFound}.get(exc.code, ServerError)
            raise cls(msg, exc.code, err.get("type", "")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLError):
                raise ServerUnavailableError(f"TLS to {self.url} failed ({reason}); trust the server's certificate "
                                             "(cafile= / $VEDIT_CA_FILE) or check the URL", 0, "TLS") from None
            raise ServerUnavailableError(f"no vedit server at {self.url} ({reason}); start one with "
                                         "`vedit serve` or pass --url", 0, "Unavailable") from None

    # -- API ------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/health", auth=False)
        return result

    def engines(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/engines")
        return result

    def ops(self) -> dict[str, Any]:
        """Every op's params (type, default, choices, range, help): build forms from it."""
        result: dict[str, Any] = self._request("GET", "/ops")["ops"]
        return result

    def submit(self, spec: dict[str, Any] | None = None, **fields: Any) -> str:
        """Queue a job; returns its id. Relative paths are made absolute here
        (the server refuses relative ones: its working folder means nothing)."""
        spec = dict(spec or {}, **fields)
        if not spec.get("op"):
            raise ValueError("submit: give op, input and output")
        for k in ("input", "output"):
            if isinstance(spec.get(k), str) and spec[k] and not os.path.isabs(spec[k]):
                trail = "/" if spec[k].endswith("/") else ""
                spec[k] = os.path.abspath(spec[k]) + trail
        return str(self._request("POST", "/jobs", spec)["id"])

    def get(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/jobs/{urllib.parse.quote(job_id, safe='')}")
        return result

    def list(self, status: str | None = None, limit: int | None = None,
             cursor: str | None = None) -> JobList:
        """One page of jobs, newest first (the server's default page size unless
        ``limit``); ``cursor``: the page after the one whose ``next_cursor`` it was.
        ``list_all`` follows the pages."""
        return self.page(status=status, limit=limit, cursor=cursor)[0]

    def page(self, status: str | None = None, limit: int | None = None,
             cursor: str | None = None) -> tuple[JobList, str | None]:
        """(jobs, cursor of the next page or None): the server's ``X-Next-Cursor``."""
        q = urllib.parse.urlencode({k: v for k, v in (("status", status), ("limit", limit), ("cursor", cursor))
                                    if v})
        jobs, headers = self._exchange("GET", "/jobs" + (f"?{q}" if q else ""))
        return jobs, headers.get("x-next-cursor") or None

    def list_all(self, status: str | None = None, page_size: int | None = None) -> JobList:
        """Every job the server keeps, newest first, following ``X-Next-Cursor``
        page by page (a cursor seen twice stops the walk rather than loop)."""
        jobs, cursor = self.page(status=status, limit=page_size)
        seen: set[str] = set()
        while cursor and cursor not in seen:
            seen.add(cursor)
            more, cursor = self.page(status=status, limit=page_size, cursor=cursor)
            jobs.extend(more)
        return jobs

    def delete(self, job_id: str) -> None:
        """Forget a finished job (its output stays); ServerError 409 while it is active."""
        self._request("DELETE", f"/jobs/{urllib.parse.quote(job_id, safe='')}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", f"/jobs/{urllib.parse.quote(job_id, safe='')}/cancel", {})
        return result

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.25,
             on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
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


#: the name the host adapters use
Client = VeditClient
