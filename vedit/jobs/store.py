"""Job state in SQLite (WAL), so queued and finished jobs survive a restart.

One connection guarded by a lock: the server has one writer (the runner) and
readers that are cheap; WAL keeps a crash from corrupting the file.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid

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
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _row(r) -> dict:
        d = dict(zip(_COLS, r))
        d["spec"] = json.loads(d["spec"])
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

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict]:
        q = f"SELECT {', '.join(_COLS)} FROM jobs"
        args: list = []
        if status:
            q += " WHERE status = ?"
            args.append(status)
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
        sets = ", ".join(f"{k} = ?" for k in fields)
        marks = ", ".join("?" * len(statuses))
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})",
                                   (*fields.values(), job_id, *statuses))
            return cur.rowcount > 0

    def active_outputs(self) -> set[str]:
        """Outputs claimed by queued or running jobs (real paths)."""
        with self._lock:
            rows = self._db.execute("SELECT output FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        out = set()
        for (o,) in rows:
            if o:
                o = o.rstrip("/")
                out |= {os.path.abspath(o), os.path.realpath(o)}
        return out
