"""The job runner: a queue in front of worker threads that run ops.

* Progress: each op reports ``callback(done, total, stage)``; the runner turns it
  into fraction, stage, frames done and ETA, kept live in memory (cheap to poll)
  and written to the store at most every ``persist_interval`` seconds.
* Cancellation is cooperative: the callback raises ``JobCancelled`` once a
  cancel was asked for; a queued job is cancelled at once.
* Outputs are atomic twice over: the op writes to a hidden temporary name beside
  the target (ops themselves also write atomically), and only a finished,
  uncancelled job is moved to its final name — never over an existing file
  (a unique name is taken instead), never onto an input.
* State lives in a :class:`~vedit.jobs.store.JobStore`; on start, jobs that were
  running when the process died are marked failed with the reason (or
  re-queued), their temporary files removed, and queued jobs resume in order.
"""
from __future__ import annotations

import collections
import glob
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field

from vedit.errors import JobCancelled, VeditError
from vedit.jobs.spec import PathPolicy, get_op_func, unique_output, validate_spec
from vedit.jobs.store import JobStore

log = logging.getLogger("vedit.jobs")

TERMINAL = ("done", "failed", "cancelled")
INTERRUPTED = "interrupted: the server stopped while this job was running; submit it again"


class JobNotFoundError(VeditError, LookupError):
    """No job with that id (HTTP 404)."""

    status = 404


class QueueFullError(VeditError):
    """Too many queued jobs (HTTP 429)."""

    status = 429


@dataclass
class _Live:
    """In-memory state of a job the runner is executing."""

    cancel: threading.Event = field(default_factory=threading.Event)
    reason: str = "cancelled by user"
    progress: float = 0.0
    stage: str = "starting"
    done: int = 0
    total: int = 0
    eta: float | None = None
    stage_t0: float = field(default_factory=time.monotonic)
    persisted: float = 0.0


class Runner:
    """Runs validated jobs in submission order on ``workers`` threads."""

    def __init__(self, store: JobStore, *, workers: int = 1, max_queue: int = 100,
                 policy: PathPolicy | None = None, requeue_interrupted: bool = False,
                 persist_interval: float = 0.5):
        self.store = store
        self.workers = max(1, int(workers))
        self.max_queue = max(1, int(max_queue))
        self.policy = policy or PathPolicy()
        self.requeue_interrupted = requeue_interrupted
        self.persist_interval = persist_interval
        self._queue: collections.deque[str] = collections.deque()
        self._cond = threading.Condition()
        self._submit_lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._versions: dict[str, int] = collections.defaultdict(int)
        self._threads: list[threading.Thread] = []
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._stopping = False
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"vedit-job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def recover(self) -> None:
        """Settle jobs left by a previous process, then queue the waiting ones."""
        for row in self.store.list(status="running"):
            self._remove_temps(row)
            if self.requeue_interrupted:
                self.store.update(row["id"], status="queued", progress=0.0, done=0, total=0,
                                  stage="re-queued after a server restart", tmp_output=None, started=None)
            else:
                self.store.update(row["id"], status="failed", error=INTERRUPTED, error_type="Interrupted",
                                  stage="interrupted", tmp_output=None, finished=time.time())
        with self._cond:
            self._queue.clear()
            for row in reversed(self.store.list(status="queued")):
                self._queue.append(row["id"])
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; running jobs are interrupted (see ``requeue_interrupted``)."""
        with self._cond:
            self._stopping = True
            for live in self._live.values():
                live.reason = "shutdown"
                live.cancel.set()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- API ----------------------------------------------------------------------
    def submit(self, spec: dict) -> dict:
        """Validate and queue a spec; returns the public job dict.

        Raises SpecError (422), PathNotAllowedError (400) or QueueFullError (429).
        """
        with self._submit_lock:  # output names are claimed one job at a time
            if self.store.count(("queued",)) >= self.max_queue:
                raise QueueFullError(f"the job queue is full ({self.max_queue} queued); wait for jobs to finish")
            job = validate_spec(spec, self.policy, taken=self.store.active_outputs())
            row = self.store.add(job.as_dict() | {"requested_output": job.requested_output}, job.output)
        with self._cond:
            self._queue.append(row["id"])
            self._cond.notify()
        return self.public(row)

    def get(self, job_id: str) -> dict:
        row = self.store.get(job_id) if isinstance(job_id, str) else None
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs with GET /jobs")
        return self.public(row)

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict]:
        return [self.public(r) for r in self.store.list(status=status, limit=limit)]

    def cancel(self, job_id: str) -> dict:
        """Cancel a job (idempotent). A queued job is cancelled at once; a running
        one stops at its next progress report."""
        self.get(job_id)
        if self.store.update_if(job_id, ("queued",), status="cancelled", stage="cancelled",
                                error="cancelled by user", error_type="JobCancelled", finished=time.time()):
            with self._cond:
                try:
                    self._queue.remove(job_id)
                except ValueError:
                    pass
            self._bump(job_id)
        else:
            live = self._live.get(job_id)
            if live is not None and not live.cancel.is_set():
                live.reason = "cancelled by user"
                live.cancel.set()
                live.stage = "cancelling"
                self._bump(job_id)
        return self.get(job_id)

    def version(self, job_id: str) -> int:
        """A counter that changes whenever the job's public state may have changed."""
        return self._versions[job_id]

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """Block until the job is finished; returns its public dict."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout} s (status {job['status']})")
            with self._cond:
                self._cond.wait(0.05)

    def public(self, row: dict) -> dict:
        """The public job dict (DESIGN §5 fields first, extras after)."""
        spec = row["spec"]
        d = {"id": row["id"], "status": row["status"], "progress": row["progress"], "stage": row["stage"],
             "output": row["output"], "error": row["error"], "error_type": row["error_type"],
             "op": spec.get("op"), "input": spec.get("input"),
             "requested_output": spec.get("requested_output", spec.get("output")),
             "params": spec.get("params", {}), "range": spec.get("range", {}),
             "done": row["done"], "total": row["total"], "eta": None,
             "created": row["created"], "started": row["started"], "finished": row["finished"]}
        live = self._live.get(row["id"])
        if live is not None and row["status"] == "running":
            d.update(progress=live.progress, stage=live.stage, done=live.done, total=live.total, eta=live.eta)
        return d

    # -- worker ---------------------------------------------------------------------
    def _bump(self, job_id: str) -> None:
        self._versions[job_id] += 1
        with self._cond:
            self._cond.notify_all()

    def _next(self) -> str | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait(0.5)
            if self._stopping:
                return None
            return self._queue.popleft()

    def _work(self) -> None:
        while True:
            job_id = self._next()
            if job_id is None:
                return
            live = _Live()
            self._live[job_id] = live
            try:
                if self.store.update_if(job_id, ("queued",), status="running", started=time.time(),
                                        stage="starting", progress=0.0):
                    self._bump(job_id)
                    self._execute(job_id, live)
            except Exception:  # noqa: BLE001 - a worker must survive anything
                log.exception("job %s: runner error", job_id)
                self.store.update(job_id, status="failed", error="internal runner error; see the server log",
                                  error_type="InternalError", finished=time.time())
            finally:
                self._live.pop(job_id, None)
                self._bump(job_id)

    def _callback(self, job_id: str, live: _Live):
        def callback(done: int, total: int | None = None, stage: str = "") -> None:
            if live.cancel.is_set():
                raise JobCancelled(live.reason)
            now = time.monotonic()
            if stage and stage != live.stage:
                live.stage, live.stage_t0 = stage, now
            live.done = int(done)
            if total:
                live.total = int(total)
            if live.total > 0:
                live.progress = max(0.0, min(0.999, live.done / live.total))
                el = now - live.stage_t0
                live.eta = round(el * (live.total - live.done) / live.done, 2) if live.done > 0 and el > 0 else None
            self._versions[job_id] += 1
            if now - live.persisted >= self.persist_interval:
                live.persisted = now
                self.store.update(job_id, progress=live.progress, stage=live.stage, done=live.done,
                                  total=live.total)
        return callback

    def _execute(self, job_id: str, live: _Live) -> None:
        row = self.store.get(job_id)
        if row is None:
            raise JobNotFoundError(f"job {job_id} is gone")
        spec = row["spec"]
        final = row["output"]
        # the target may have appeared since submission: never overwrite it
        taken = self.store.active_outputs() - {os.path.abspath(final.rstrip("/")), os.path.realpath(final.rstrip("/"))}
        final = unique_output(final, taken)
        tmp = _temp_name(final, job_id)
        self.store.update(job_id, output=final, tmp_output=tmp)
        rng = spec.get("range") or {}
        produced = tmp
        try:
            fn = get_op_func(spec["op"])
            result = fn(spec["input"], tmp, start=rng.get("start"), end=rng.get("end"),
                        callback=self._callback(job_id, live), **spec.get("params", {}))
            produced = result if isinstance(result, str) and result else tmp
            if live.cancel.is_set():
                raise JobCancelled(live.reason)
            live.stage = "finishing"
            final = _commit(produced, final)
            self.store.update(job_id, status="done", progress=1.0, stage="done", output=final,
                              done=live.done, total=live.total, tmp_output=None, finished=time.time())
        except JobCancelled:
            if live.reason == "shutdown":
                if self.requeue_interrupted:
                    self.store.update(job_id, status="queued", progress=0.0, stage="re-queued after shutdown",
                                      tmp_output=None, started=None)
                else:
                    self.store.update(job_id, status="failed", error=INTERRUPTED, error_type="Interrupted",
                                      stage="interrupted", tmp_output=None, finished=time.time())
            else:
                self.store.update(job_id, status="cancelled", stage="cancelled", error=live.reason,
                                  error_type="JobCancelled", tmp_output=None, finished=time.time())
        except VeditError as exc:
            self.store.update(job_id, status="failed", stage="failed", error=str(exc),
                              error_type=type(exc).__name__, tmp_output=None, finished=time.time())
        except Exception as exc:  # noqa: BLE001 - reported on the job, logged in full
            log.exception("job %s failed", job_id)
            self.store.update(job_id, status="failed", stage="failed",
                              error=f"{type(exc).__name__}: {exc}", error_type="InternalError",
                              tmp_output=None, finished=time.time())
        finally:
            for p in {produced, tmp}:
                if f"vedit-job-{job_id}" in p:  # never delete anything but our own temporaries
                    _remove(p)
            self._remove_temps({"id": job_id, "output": final})

    def _remove_temps(self, row: dict) -> None:
        """Delete whatever a job left under temporary names beside its output."""
        out = row.get("output")
        if row.get("tmp_output"):
            _remove(row["tmp_output"])
        if not out:
            return
        folder = os.path.dirname(out.rstrip("/"))
        if "%" in os.path.basename(out.rstrip("/")):
            folder = os.path.dirname(folder)
        for p in glob.glob(os.path.join(glob.escape(folder), f".*vedit-job-{row['id']}*")):
            _remove(p)


def _temp_name(final: str, job_id: str) -> str:
    """A hidden name beside ``final`` that keeps its kind (extension / folder / pattern)."""
    trail = final.endswith("/")
    path = final.rstrip("/")
    pattern = ""
    if "%" in os.path.basename(path):
        path, pattern = os.path.split(path)
    d, b = os.path.split(path)
    if trail or pattern or os.path.isdir(path):
        tmp = os.path.join(d, f".{b}.vedit-job-{job_id}")
        return os.path.join(tmp, pattern) if pattern else tmp + "/"
    stem, ext = os.path.splitext(b)
    return os.path.join(d, f".{stem}.vedit-job-{job_id}{ext}")


def _occupied(path: str) -> str:
    """The file or folder an output occupies (a pattern's folder)."""
    path = path.rstrip("/")
    return os.path.dirname(path) if "%" in os.path.basename(path) else path


def _commit(produced: str, final: str) -> str:
    """Move a finished output to ``final`` without replacing anything; if the name
    was taken meanwhile, a unique one is used. Returns the final path."""
    src = _occupied(produced)
    if not os.path.exists(src):
        from vedit.errors import MediaError

        raise MediaError(f"the operation reported success but wrote nothing at {produced}")
    suffix = final[len(_occupied(final)):]
    if os.path.abspath(src) == os.path.abspath(_occupied(final)):
        return final  # the op wrote to the final name itself
    for _ in range(100):
        dst = _occupied(final)
        try:
            if os.path.isdir(src):
                if os.path.isdir(dst) and not os.path.islink(dst) and not os.listdir(dst):
                    os.rmdir(dst)
                if os.path.lexists(dst):
                    raise FileExistsError(dst)
                os.rename(src, dst)
            else:
                os.link(src, dst)  # fails if dst exists: no clobbering, atomic
                os.unlink(src)
            return dst + suffix
        except FileExistsError:
            final = unique_output(final)
        except OSError as exc:
            import errno

            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                final = unique_output(final)
            elif exc.errno in (errno.EPERM, errno.EXDEV, errno.ENOTSUP) and not os.path.isdir(src):
                # file systems without hard links: check-then-rename
                if os.path.lexists(dst):
                    final = unique_output(final)
                    continue
                os.replace(src, dst)
                return dst + suffix
            else:
                raise
    raise FileExistsError(f"cannot find a free name for {final}")


def _remove(path: str | None) -> None:
    if not path:
        return
    p = _occupied(path) if "%" in os.path.basename(path.rstrip("/")) else path.rstrip("/")
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            os.remove(p)
    except OSError:
        pass
