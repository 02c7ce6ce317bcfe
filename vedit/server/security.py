"""The server's front door, as one ASGI middleware in front of everything:

1. ``Host`` must be a loopback name (or one configured): a DNS-rebinding page
   talks to 127.0.0.1 but sends its own host name → 403.
2. ``Origin``, when a browser sends one, must be a configured panel origin or
   the server itself → 403 (CSRF, cross-site WebSocket hijacking). Allowed
   origins get CORS headers and preflight answers.
3. ``Authorization: Bearer TOKEN`` on everything but the public paths → 401.
   WebSockets may pass ``?token=`` instead (browser WebSocket APIs cannot set
   headers).
4. Request bodies larger than ``max_body`` → 413, counted as they stream in.

Every refusal uses the one error shape ``{"ok": false, "error", "type", "status"}``.
"""
from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs

from vedit.server.config import LOOPBACK_HOSTS

PUBLIC_PATHS = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"


def error_body(status: int, error: str, type_: str) -> bytes:
    return json.dumps({"ok": False, "error": error, "type": type_, "status": status}).encode()


def host_name(host_header: str) -> str:
    """The host part of a Host header ("[::1]:8765" → "::1", "a.b:80" → "a.b")."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    def __init__(self, app, *, token: str, origins=(), allowed_hosts=(), max_body: int = 64 * 1024):
        self.app = app
        self.token = token.encode()
        self.origins = {o.rstrip("/").lower() for o in origins}
        self.hosts = {h.lower() for h in (*LOOPBACK_HOSTS, *allowed_hosts)}
        self.max_body = int(max_body)

    # -- helpers -------------------------------------------------------------
    async def _refuse(self, scope, send, status: int, error: str, type_: str, extra_headers=()):
        if scope["type"] == "websocket":
            # closing before accept makes the server answer the handshake with 403
            await send({"type": "websocket.close", "code": 4000 + status, "reason": error[:120]})
            return
        body = error_body(status, error, type_)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   *extra_headers]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="vedit"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope, headers: dict) -> bool:
        auth = headers.get("authorization", "")
        given = ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif scope["type"] == "websocket":
            qs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (qs.get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), self.token)

    # -- ASGI -------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))

        # 1. Host
        host = host_name(headers.get("host", ""))
        if host not in self.hosts:
            return await self._refuse(scope, send, 403, f"Host {headers.get('host', '')!r} is not allowed; "
                                      "call the server through 127.0.0.1 or localhost", "ForbiddenHost")

        # 2. Origin
        origin = headers.get("origin")
        cors = []
        if origin is not None:
            o = origin.rstrip("/").lower()
            scheme = "ws" if scope["type"] == "websocket" else scope.get("scheme", "http")
            scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
            same = o == f"{scheme}://{headers.get('host', '').lower()}"
            if o not in self.origins and not same:
                return await self._refuse(scope, send, 403, f"Origin {origin!r} is not an allowed panel origin; "
                                          "start the server with --origin URL", "ForbiddenOrigin")
            if o in self.origins:
                cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
            if (scope["type"] == "http" and scope["method"] == "OPTIONS"
                    and "access-control-request-method" in headers):
                await send({"type": "http.response.start", "status": 204, "headers": cors + [
                    (b"access-control-allow-methods", CORS_METHODS.encode()),
                    (b"access-control-allow-headers", CORS_HEADERS.encode()),
                    (b"access-control-max-age", b"600")]})
                await send({"type": "http.response.body", "body": b""})
                return

        # 3. token
        path = scope.get("path", "")
        if path not in PUBLIC_PATHS and not self._authorised(scope, headers):
            why = "missing" if not headers.get("authorization") else "wrong"
            return await self._refuse(scope, send, 401, f"{why} bearer token; send 'Authorization: Bearer TOKEN' "
                                      "with the token from the server's token file", "Unauthorized", cors)

        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)

        # 4. body size
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            return await self._refuse(scope, send, 400, "invalid Content-Length header", "BadRequest", cors)
        if length > self.max_body:
            return await self._refuse(scope, send, 413, f"request body of {length} bytes is over the "
                                      f"{self.max_body}-byte limit", "PayloadTooLarge", cors)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge()
            return msg

        async def send_cors(msg):
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                if cors:
                    msg = dict(msg, headers=list(msg.get("headers", [])) + cors)
            await send(msg)

        try:
            await self.app(scope, limited_receive, send_cors)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send, 413, f"request body is over the {self.max_body}-byte limit",
                                   "PayloadTooLarge", cors)
