"""Server configuration, the config folder and the bearer token."""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from typing import Callable

from vedit.errors import InvalidInputError
from vedit.server.client import read_token, token_path, vedit_home

__all__ = ["LOOPBACK_HOSTS", "ServerConfig", "ensure_token", "read_token", "token_path", "vedit_home"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger("vedit.server")


def is_loopback(host: str) -> bool:
    """True for a loopback address or the name localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MIN_TOKEN_CHARS = 43  # secrets.token_urlsafe(32): 256 random bits


def _write_token(path: str) -> str:
    """A fresh 256-bit token written atomically to ``path`` (0600)."""
    tok = secrets.token_urlsafe(32)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(tok + "\n")
    os.replace(tmp, path)
    return tok


def ensure_token(home: str | None = None, echo: Callable[[str], None] | None = None) -> str:
    """The server's token: created on first start (folder 0700, file 0600).

    A token file found readable by others may already have leaked, and a short
    one can be guessed: either is replaced by a new token (``echo`` gets one
    line telling panels to read it again).
    """
    home = home or vedit_home()
    os.makedirs(home, mode=0o700, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(home, stat.S_IMODE(os.stat(home).st_mode) & 0o700 | 0o700)
    path = token_path(home)
    if not os.path.lexists(path):
        return _write_token(path)
    st = os.lstat(path)
    tok = read_token(home) if stat.S_ISREG(st.st_mode) else None
    why = ("was readable by other users" if stat.S_IMODE(st.st_mode) & 0o077 else
           "is not a regular file" if not stat.S_ISREG(st.st_mode) else
           "was empty" if not tok else
           "was shorter than 256 bits" if len(tok) < MIN_TOKEN_CHARS else "")
    if not why:
        return tok  # type: ignore[return-value]
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"token file {path} is not a regular file; remove it and start the server again")
    tok = _write_token(path)
    (echo or log.warning)(f"token file {path} {why}: a new token was made; panels must read the token file "
                          "again (reopen them or press Reconnect)")
    return tok


@dataclass
class ServerConfig:
    """Everything ``vedit serve`` can set.

    ``allowed_roots``: folders outputs must stay in (default: next to the input).
    ``origins``: browser origins of panels allowed to call (CORS + CSRF check).
    ``allowed_hosts``: extra ``Host`` names accepted beside loopback names.
    ``max_body``: request body limit in bytes. ``token``: use this token instead
    of the file (tests).
    """

    home: str = field(default_factory=vedit_home)
    host: str = "127.0.0.1"
    port: int = 8765
    allowed_roots: list[str] = field(default_factory=list)
    output_dir: str | None = None
    origins: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    workers: int = 1
    max_queue: int = 100
    max_body: int = 64 * 1024
    requeue_interrupted: bool = False
    token: str | None = None
    read_roots: list[str] = field(default_factory=list)
    keep_jobs: int = 200
    keep_days: float = 30.0
    allow_remote: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    header_timeout: float = 10.0
    idle_timeout: float = 5.0

    @property
    def db_path(self) -> str:
        return os.path.join(self.home, "jobs.db")

    @property
    def token_file(self) -> str:
        return token_path(self.home)

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

    def validate(self) -> ServerConfig:
        if not (0 <= int(self.port) <= 65535):
            raise InvalidInputError(f"--port {self.port}: expected 0..65535")
        for r in self.allowed_roots:
            if not os.path.isdir(r):
                raise InvalidInputError(f"--allowed-root {r}: no such folder")
        if self.output_dir and not os.path.isdir(self.output_dir):
            raise InvalidInputError(f"--output-dir {self.output_dir}: no such folder")
        for o in self.origins:
            if not o.startswith(("http://", "https://")) or o.endswith("/"):
                raise InvalidInputError(f"--origin {o!r}: expected scheme://host[:port] with no trailing slash")
        if self.workers < 1:
            raise InvalidInputError(f"--workers {self.workers}: expected at least 1")
        if self.max_queue < 1:
            raise InvalidInputError(f"--max-queue {self.max_queue}: expected at least 1")
        for r in self.read_roots:
            if not os.path.isdir(r):
                raise InvalidInputError(f"--allow-read {r}: no such folder")
        if self.keep_jobs < 0 or not self.keep_days > 0:
            raise InvalidInputError("--keep-jobs must be 0 or more and --keep-days above 0")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise InvalidInputError("--tls-cert and --tls-key go together; give both (or run vedit serve --make-cert)")
        for f in (self.tls_cert, self.tls_key):
            if f and not os.path.isfile(f):
                raise InvalidInputError(f"TLS file {f}: not found")
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise InvalidInputError(f"--host {self.host} is reachable from other machines; add --allow-remote "
                                        "(with --tls-cert/--tls-key) to mean it, or keep 127.0.0.1")
            if not self.tls_cert:
                raise InvalidInputError(f"--host {self.host} with --allow-remote needs TLS: give --tls-cert and "
                                        "--tls-key (vedit serve --make-cert makes a self-signed pair)")
        return self
