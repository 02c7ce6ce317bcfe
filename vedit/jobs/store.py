"""Job state in SQLite (WAL), so queued and finished jobs survive a restart.

One connection guarded by a lock: the server has one writer (the runner) and
readers that are cheap; WAL keeps a crash from corrupting the file. The database
and its WAL/SHM files are private (0600): specs name the user's files. Every
row reads back whatever it holds (text that is not valid UTF-8 or JSON, lone
surrogates): one bad row never breaks the job list.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from typing import Any

STATUSES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    output TEXT,
    tmp_output TEXT,
    error TEXT,
    error_type TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
"""

_COLS = ("id", "seq", "spec", "status", "progress", "stage", "done", "total", "output", "tmp_output",
         "error", "error_type", "created", "started", "finished")


class JobStore:
    """Persistent job table. Rows come back as plain dicts (``spec`` decoded)."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # created private, before sqlite
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.text_factory = _text
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.secure()

    def secure(self) -> None:
        """The database, its WAL/SHM files and their folder readable by the owner only."""
        if self.path == ":memory:":
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.chmod(self.path + suffix, 0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _row(r) -> dict:
        d = {k: _clean(v) for k, v in zip(_COLS, r)}
        try:
            spec = _clean(json.loads(d["spec"]))
        except (TypeError, ValueError, RecursionError):
            spec = None
        d["spec"] = spec if isinstance(spec, dict) else {"unreadable": True}
        return d

    def add(self, spec: dict, output: str) -> dict:
        job_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute(
                "INSERT INTO jobs (id, seq, spec, status, output, created) VALUES (?, ?, ?, 'queued', ?, ?)",
                (job_id, seq, json.dumps(spec), output, now))
        row = self.get(job_id)
        assert row is not None
        return row

    def get(self, job_id: str) -> dict | None:
        with self._lock:
            r = self._db.execute(f"SELECT {', '.join(_COLS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(r) if r else None

    def list(self, status: str | None = None, limit: int | None = None, before: int | None = None) -> list[dict]:
        """Jobs newest first; ``before``: only jobs older than this ``seq`` (paging)."""
        q = f"SELECT {', '.join(_COLS)} FROM jobs"
        where: list[str] = []
        args: list[object] = []
        if status:
            where.append("status = ?")
            args.append(status)
        if before is not None:
            where.append("seq < ?")
            args.append(int(before))
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY seq DESC"
        if limit:
            q += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        return [self._row(r) for r in rows]

    def count(self, statuses=ACTIVE) -> int:
        marks = ", ".join("?" * len(statuses))
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})", statuses).fetchone()[0]

    def update(self, job_id: str, **fields) -> None:
        bad = set(fields) - set(_COLS)
        if bad:
            raise KeyError(f"unknown job fields {bad}")
        if "spec" in fields:
            fields["spec"] = json.dumps(fields["spec"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def update_if(self, job_id: str, statuses: tuple[str, ...], **fields) -> bool:
        """Update only while the job is in one of ``statuses``; True when it was."""
        if "spec" in fields:
            fields["spec"] = json.dumps(fields["spec"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        marks = ", ".join("?" * len(statuses))
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})",
                                   (*fields.values(), job_id, *statuses))
            return cur.rowcount > 0

    def delete(self, job_id: str, statuses: tuple[str, ...] = ("done", "failed", "cancelled")) -> bool:
        """Delete a job while it is in one of ``statuses``; True when it was."""
        marks = ", ".join("?" * len(statuses))
        with self._lock:
            cur = self._db.execute(f"DELETE FROM jobs WHERE id = ? AND status IN ({marks})", (job_id, *statuses))
            return cur.rowcount > 0

    def prune(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        """Delete finished jobs beyond the newest ``keep`` and those finished more
        than ``max_age_s`` ago; returns how many went."""
        n = 0
        with self._lock:
            if max_age_s is not None:
                n += self._db.execute("DELETE FROM jobs WHERE status IN ('done', 'failed', 'cancelled') "
                                      "AND COALESCE(finished, created) < ?", (time.time() - max_age_s,)).rowcount
            if keep is not None:
                n += self._db.execute(
                    "DELETE FROM jobs WHERE status IN ('done', 'failed', 'cancelled') AND seq <= COALESCE(("
                    "SELECT seq FROM jobs WHERE status IN ('done', 'failed', 'cancelled') "
                    "ORDER BY seq DESC LIMIT 1 OFFSET ?), -1)", (max(0, int(keep)),)).rowcount
        return n

    def active_outputs(self) -> set[str]:
        """Paths claimed by queued or running jobs (outputs and previews; absolute and real)."""
        with self._lock:
            rows = self._db.execute("SELECT output, spec FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        out = set()
        for o, spec in rows:
            paths = [o] if o else []
            try:
                claims = json.loads(spec).get("claims") or []
                paths += [c for c in claims if isinstance(c, str)]
            except (TypeError, ValueError, AttributeError):
                pass
            for p in paths:
                p = _occupied(p)
                out |= {os.path.abspath(p), os.path.realpath(p)}
        return out


def _occupied(path: str) -> str:
    """The file or folder an output path occupies (a frame pattern's folder)."""
    path = path.rstrip("/")
    return os.path.dirname(path) if "%" in os.path.basename(path) else path


def _text(raw: bytes) -> str:
    """sqlite text as str even when the bytes are not UTF-8."""
    return raw.decode("utf-8", "replace")


def _clean(value: Any) -> Any:
    """``value`` with every string made encodable (lone surrogates escaped) and
    bytes (a BLOB where text belongs) decoded."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
