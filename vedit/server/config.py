"""Server configuration, the config folder and the bearer token."""
from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field

from vedit.errors import InvalidInputError
from vedit.server.client import read_token, token_path, vedit_home

__all__ = ["LOOPBACK_HOSTS", "ServerConfig", "ensure_token", "read_token", "token_path", "vedit_home"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def ensure_token(home: str | None = None) -> str:
    """Create the token on first start (folder 0700, file 0600); return it.

    An existing token is kept (adapters have read it) but its mode is
    tightened to 0600 if it was readable by others.
    """
    home = home or vedit_home()
    os.makedirs(home, mode=0o700, exist_ok=True)
    path = token_path(home)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, 0o600)
        tok = read_token(home)
        if not tok:
            raise InvalidInputError(f"token file {path} is empty; delete it and start the server again") from None
        return tok
    tok = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(tok + "\n")
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
        return f"http://{host}:{self.port}"

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
        return self
