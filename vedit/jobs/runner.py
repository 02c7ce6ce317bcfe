"""The job runner: a queue in front of worker threads that run ops.

* Progress: each op reports ``callback(done, total, stage)``; the runner turns it
  into fraction, stage, frames done and ETA, kept live in memory (cheap to poll)
  and written to the store at most every ``persist_interval`` seconds.
* Cancellation is cooperative: the callback raises ``JobCancelled`` once a
  cancel was asked for; a queued job is cancelled at once.
* Outputs are atomic twice over: the op writes into a private hidden staging
  folder made inside the output's folder, pinned by descriptor when the job
  starts (ops themselves also write atomically), and only a finished,
  uncancelled job is moved to its final name — never over an existing file
  (a unique name is taken instead), never onto an input, never outside the
  folder checked at submit (see :class:`_Dir`).
* State lives in a :class:`~vedit.jobs.store.JobStore`; on start, jobs that were
  running when the process died are marked failed with the reason (or
  re-queued), their temporary files removed, and queued jobs resume in order.
"""
from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import glob
import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from vedit.errors import JobCancelled, VeditError
from vedit.jobs.spec import PathNotAllowedError, PathPolicy, SpecError, get_op_func, unique_output, validate_spec
from vedit.jobs.store import JobStore
from vedit.ops import get_def, op_names

log = logging.getLogger("vedit.jobs")

TERMINAL = ("done", "failed", "cancelled")
INTERRUPTED = "interrupted: the server stopped while this job was running; submit it again"


class JobNotFoundError(VeditError, LookupError):
    """No job with that id (HTTP 404)."""

    status = 404


class JobActiveError(VeditError):
    """The job is queued or running; it cannot be deleted (HTTP 409)."""

    status = 409


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
    abandoned: bool = False


class Runner:
    """Runs validated jobs in submission order on ``workers`` threads."""

    def __init__(self, store: JobStore, *, workers: int = 1, max_queue: int = 100,
                 policy: PathPolicy | None = None, requeue_interrupted: bool = False,
                 persist_interval: float = 0.5, keep_jobs: int | None = 200, keep_days: float | None = 30.0,
                 cancel_grace: float = 5.0, staging_dir: str | None = None):
        self.store = store
        self.workers = max(1, int(workers))
        self.max_queue = max(1, int(max_queue))
        self.policy = policy or PathPolicy()
        self.requeue_interrupted = requeue_interrupted
        self.persist_interval = persist_interval
        self.keep_jobs = keep_jobs
        self.keep_days = keep_days
        self.cancel_grace = cancel_grace
        if staging_dir is None and store.path != ":memory:":
            staging_dir = os.path.join(os.path.dirname(os.path.abspath(store.path)), "staging")
        self._staging = _Staging(staging_dir) if staging_dir else None
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
        self.prune()
        if self._staging is not None:
            self._staging.open()
            # what jobs of an earlier process left in the private staging folder
            self._staging.clean(keep=[r["id"] for r in self.store.list(status="running")])
        self._stopping = False
        from vedit.jobs.probe import POOL

        POOL.warm()  # the first submit's media check finds a helper process ready
        for name in op_names():  # op modules load now, not inside the first submit's answer time
            try:
                get_def(name)
            except Exception as exc:  # noqa: BLE001 - that op's submits report it
                log.warning("op %s cannot be loaded: %s", name, exc)
        for _ in range(self.workers):
            self._spawn()

    def _spawn(self) -> None:
        t = threading.Thread(target=self._work, name=f"vedit-job-worker-{len(self._threads)}", daemon=True)
        t.start()
        self._threads.append(t)

    def prune(self) -> int:
        """Apply the retention: finished jobs beyond ``keep_jobs`` or older than ``keep_days`` go."""
        return self.store.prune(self.keep_jobs, None if self.keep_days is None else self.keep_days * 86400)

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
        if self._staging is not None and not self._threads:
            self._staging.close()

    # -- API ----------------------------------------------------------------------
    def submit(self, spec: dict) -> dict:
        """Validate and queue a spec; returns the public job dict.

        Raises SpecError (422), PathNotAllowedError (400) or QueueFullError (429).
        """
        if self.store.count(("queued",)) >= self.max_queue:
            raise QueueFullError(f"the job queue is full ({self.max_queue} queued); wait for jobs to finish")
        # the slow part (probing the input, with a timeout) runs outside the lock
        validate_spec(spec, self.policy, taken=self.store.active_outputs())
        with self._submit_lock:  # output names are claimed one job at a time
            if self.store.count(("queued",)) >= self.max_queue:
                raise QueueFullError(f"the job queue is full ({self.max_queue} queued); wait for jobs to finish")
            job = validate_spec(spec, self.policy, taken=self.store.active_outputs(), probe=False)
            row = self.store.add(job.as_dict() | {"requested_output": job.requested_output, "claims": job.claims,
                                                  "real_parents": job.real_parents}, job.output)
        self.prune()
        with self._cond:
            self._queue.append(row["id"])
            self._cond.notify()
        return self.public(row)

    def get(self, job_id: str) -> dict:
        row = self.store.get(job_id) if isinstance(job_id, str) else None
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs with GET /jobs")
        return self.public(row)

    def list(self, status: str | None = None, limit: int | None = None, before: int | None = None) -> list[dict]:
        return [self.public(r) for r in self.store.list(status=status, limit=limit, before=before)]

    def page(self, status: str | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[builtins.list[dict], str | None]:
        """One page of jobs, newest first, and the cursor of the next page (None at the end)."""
        before = None
        if cursor:
            # ASCII digits only: str.isdigit also takes '²' or '٣', which int() refuses
            if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
                raise JobNotFoundError(f"cursor {cursor[:40]!r} is not one this server gave; start without it")
            before = int(cursor)
        rows = self.store.list(status=status, limit=limit + 1, before=before)
        nxt = str(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return [self.public(r) for r in rows[:limit]], nxt

    def delete(self, job_id: str) -> None:
        """Forget a finished job (its output stays). An active job must be cancelled first (409)."""
        job = self.get(job_id)
        if job["status"] not in TERMINAL or not self.store.delete(job_id):
            raise JobActiveError(f"job {job_id} is {job['status']}; cancel it first, then delete it")
        self._versions.pop(job_id, None)

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
            self.prune()
        else:
            live = self._live.get(job_id)
            if live is not None and not live.cancel.is_set():
                live.reason = "cancelled by user"
                live.cancel.set()
                live.stage = "cancelling"
                self._bump(job_id)
                timer = threading.Timer(self.cancel_grace, self._abandon, (job_id, live))
                timer.daemon = True
                timer.start()
        return self.get(job_id)

    def _abandon(self, job_id: str, live: _Live) -> None:
        """A worker that did not stop within ``cancel_grace`` seconds of a cancel
        (stuck in a read, a library call): the job is marked cancelled now and a
        new worker takes the queue; the stuck thread exits when it returns and
        never writes the job again."""
        if self._live.get(job_id) is not live or self._stopping:
            return
        live.abandoned = True
        self._live.pop(job_id, None)
        self.store.update_if(job_id, ("running",), status="cancelled", stage="cancelled",
                             error=f"cancelled by user (the worker did not stop within {self.cancel_grace:g} s "
                                   "and was replaced)", error_type="JobCancelled", tmp_output=None,
                             finished=time.time())
        log.warning("job %s: worker did not answer a cancel; replaced", job_id)
        self._spawn()
        self._bump(job_id)

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
                self.store.update_if(job_id, ("running",), status="failed", error="internal runner error; see the server log",
                                  error_type="InternalError", finished=time.time())
            finally:
                if self._live.get(job_id) is live:
                    self._live.pop(job_id, None)
                self._bump(job_id)
            if live.abandoned:
                return  # a replacement worker took over
            self.prune()

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
                self.store.update_if(job_id, ("running",), progress=live.progress, stage=live.stage,
                                     done=live.done, total=live.total)
        return callback

    def _execute(self, job_id: str, live: _Live) -> None:
        row = self.store.get(job_id)
        if row is None:
            raise JobNotFoundError(f"job {job_id} is gone")
        spec = row["spec"]
        if spec.get("unreadable") or "op" not in spec:
            raise SpecError("the stored job spec cannot be read; submit the job again")
        params = dict(spec.get("params", {}))
        opdef = get_def(spec["op"])
        # every path the job writes: the output and each path_out param (a preview...)
        targets: dict[str | None, str] = {None: row["output"]}
        for name, value in params.items():
            if name in opdef._by_name and opdef[name].type == "path_out" and isinstance(value, str):
                targets[name] = value
        real_parents = spec.get("real_parents") or {}
        finals: dict[str | None, str] = {}
        temps: dict[str | None, str] = {}
        dirs: dict[str | None, _Dir] = {}
        produced = ""
        update = functools.partial(self.store.update_if, job_id, ("running",))
        ending: dict = {}  # the job's last state: written once its staging folders are gone
        try:
            taken = self.store.active_outputs() - _claims_of(row)
            for n, (key, want) in enumerate(targets.items()):
                # re-resolved now: the folder must still be the one checked at submit, with no
                # symlink on the way; names that appeared since are never overwritten
                final = unique_output(want, taken | {_occupied(f) for f in finals.values()})
                recorded = real_parents.get(want) or (real_parents.get(row["output"]) if key is None else None)
                d = _Dir.open(final, recorded)
                finals[key], dirs[key] = final, d
                # the op writes only inside a private folder made in the pinned one
                temps[key] = _staged_name(final, d.stage(job_id, n, self._staging))
            update(output=finals[None], tmp_output=dirs[None].stage_real)
            for key in targets:
                if key is not None:
                    params[key] = temps[key]
            rng = spec.get("range") or {}
            fn = get_op_func(spec["op"])
            result = fn(spec["input"], temps[None], start=rng.get("start"), end=rng.get("end"),
                        callback=self._callback(job_id, live), **params)
            produced = result if isinstance(result, str) and result else temps[None]
            if live.cancel.is_set():
                raise JobCancelled(live.reason)
            live.stage = "finishing"
            for d in dirs.values():
                d.verify()  # every folder before any output is placed: all or nothing
            done_paths: dict[str | None, str] = {}
            for key in targets:
                src = produced if key is None else temps[key]
                if key is not None and not dirs[key].staged_exists(src):
                    continue  # the op chose not to write this one
                done_paths[key] = dirs[key].commit(src, temps[key], finals[key])
            if len(targets) > 1:
                spec["params"] = {**spec.get("params", {}), **{k: v for k, v in done_paths.items() if k}}
                update(spec=spec)
            ending.update(status="done", progress=1.0, stage="done", output=done_paths[None],
                          done=live.done, total=live.total, tmp_output=None)
        except JobCancelled:
            if live.reason == "shutdown":
                if self.requeue_interrupted:
                    ending.update(status="queued", progress=0.0, stage="re-queued after shutdown",
                                  tmp_output=None, started=None)
                else:
                    ending.update(status="failed", error=INTERRUPTED, error_type="Interrupted",
                                  stage="interrupted", tmp_output=None)
            else:
                ending.update(status="cancelled", stage="cancelled", error=live.reason,
                              error_type="JobCancelled", tmp_output=None)
        except VeditError as exc:
            ending.update(status="failed", stage="failed", error=_shown(str(exc), dirs.values()),
                          error_type=type(exc).__name__, tmp_output=None)
        except Exception as exc:  # noqa: BLE001 - reported on the job, logged in full
            log.exception("job %s failed", job_id)
            ending.update(status="failed", stage="failed", error=_shown(f"{type(exc).__name__}: {exc}",
                                                                        dirs.values()),
                          error_type="InternalError", tmp_output=None)
        finally:
            for d in dirs.values():
                d.discard()  # the staging folder, in the pinned folder wherever it is now
                d.close()
            if ending:
                if ending["status"] != "queued":
                    ending["finished"] = time.time()
                update(**ending)

    def _remove_temps(self, row: dict) -> None:
        """Delete whatever a job left under temporary names beside its output and
        every other path it writes (a preview...), in the folders as checked at
        submit (their real paths) and as named."""
        if row.get("tmp_output"):
            _remove(row["tmp_output"])
        spec: dict = row["spec"] if isinstance(row.get("spec"), dict) else {}
        paths = [row.get("output"), *(row.get("claims") or []), *(spec.get("claims") or [])]
        folders = {os.path.dirname(_occupied(p)) for p in paths if isinstance(p, str) and p}
        folders |= {f for f in (spec.get("real_parents") or {}).values() if isinstance(f, str)}
        if self._staging is not None:
            folders.add(self._staging.path)
        for folder in folders:
            for p in glob.glob(os.path.join(glob.escape(folder), f".*vedit-job-{row['id']}*")):
                _remove(p)


def _claims_of(row: dict) -> set[str]:
    """The absolute and real forms of every path a job row claims."""
    spec: dict = row["spec"] if isinstance(row.get("spec"), dict) else {}
    out: set[str] = set()
    for p in [row.get("output"), *(spec.get("claims") or [])]:
        if isinstance(p, str) and p:
            p = _occupied(p)
            out |= {os.path.abspath(p), os.path.realpath(p)}
    return out


_NOFOLLOW_DIRS = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")


def _open_nofollow(real: str) -> int:
    """A descriptor of folder ``real`` opened one component at a time without
    following any symlink (OSError when one is a symlink now, or gone)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in real.strip("/").split("/"):
            if part:
                nfd = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


_O_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)


class _Dir:
    """The folder an output goes into, pinned when the job starts: the folder whose
    real path was checked at submit, reached without following symlinks.

    The op never writes there by path. :meth:`stage` makes the job a private
    (0700) staging folder, relative to a descriptor, and the op writes under it:

    * where ``/proc/self/fd`` names folders (Linux), the staging folder is made
      inside the pinned folder and the op writes under ``/proc/PID/fd/N`` of it
      (a name the kernel resolves to the folder itself, whatever its path has
      become): the finished output is a rename away, on the same file system;
    * elsewhere (macOS, BSD), the staging folder is made in the runner's own
      staging folder (:class:`_Staging`, 0700, owned by the server's user, so
      no other user can swap a folder on its path) and the op writes there by
      path.

    Either way, a folder on the output's path swapped for a symlink mid-write
    cannot send a byte outside the roots. The finished output is placed into
    the pinned folder descriptor to descriptor (a hard link or rename, or a copy
    into a new ``O_EXCL | O_NOFOLLOW`` file when the staging folder is on
    another file system), after checking the path still leads to the same
    folder; if not, the job fails and the staging folder is removed."""

    def __init__(self, real: str, fd: int | None, shown: str):
        self.real, self.fd, self.shown = real, fd, shown
        self.stage_fd: int | None = None
        self.stage_name = ""
        self.stage_root = ""  # the path the op writes under
        self.stage_parent_fd: int | None = fd  # the folder holding the staging folder (not owned)
        self.stage_parent = real

    @property
    def stage_real(self) -> str | None:
        """The staging folder by its real path (what a later start cleans up)."""
        return os.path.join(self.stage_parent, self.stage_name) if self.stage_name else None

    @classmethod
    def open(cls, final: str, recorded: str | None) -> _Dir:
        parent = os.path.dirname(_occupied(final))
        now = os.path.realpath(parent)
        if recorded and now != recorded:
            raise PathNotAllowedError(f"output folder {parent} now resolves to {now}, not to {recorded} as when "
                                      "the job was submitted (replaced by a symlink?); nothing was written")
        real = recorded or now
        fd = None
        if _NOFOLLOW_DIRS:
            try:
                fd = _open_nofollow(real)
            except OSError as exc:
                raise PathNotAllowedError(f"output folder {real}: {exc.strerror} (a folder on the way was "
                                          "replaced by a symlink or removed); nothing was written") from None
        return cls(real, fd, parent)

    def stage(self, job_id: str, n: int, private: _Staging | None = None) -> str:
        """Make the job's private staging folder; returns the path the op writes under."""
        self.stage_name = f".vedit-job-{job_id}.{n}"
        if self.fd is None:  # no descriptor-relative calls here: by path, checked at commit
            self.stage_root = os.path.join(self.real, self.stage_name)
            shutil.rmtree(self.stage_root, ignore_errors=True)
            os.mkdir(self.stage_root, 0o700)
            return self.stage_root
        if not proc_names_folders(self.fd):
            if private is not None:
                private.open()
            if private is None or private.fd is None:
                raise PathNotAllowedError(f"output folder {self.shown}: no private staging folder to write "
                                          "in (this system has no /proc); nothing was written")
            self.stage_parent_fd, self.stage_parent = private.fd, private.path
        self._remove_stage()  # a leftover of this job (re-queued after a shutdown)
        try:
            os.mkdir(self.stage_name, 0o700, dir_fd=self.stage_parent_fd)
            self.stage_fd = os.open(self.stage_name, _O_DIR, dir_fd=self.stage_parent_fd)
        except OSError as exc:
            raise PathNotAllowedError(f"output folder {self.shown}: cannot make the job's staging folder "
                                      f"({exc.strerror})") from None
        if self.stage_parent_fd == self.fd:
            self.stage_root = f"/proc/{os.getpid()}/fd/{self.stage_fd}"
        else:
            self.stage_root = os.path.join(self.stage_parent, self.stage_name)
        return self.stage_root

    def _staged(self, path: str) -> str | None:
        """The name inside the staging folder of an output path the op gave, or None."""
        occ = _occupied(path)
        if self.stage_root and os.path.dirname(os.path.abspath(occ)) == self.stage_root:
            return os.path.basename(occ)
        return None

    def staged_exists(self, path: str) -> bool:
        name = self._staged(path)
        if name is None:
            return False
        if self.stage_fd is None:
            return os.path.lexists(os.path.join(self.stage_root, name))
        return _lexists_at(name, self.stage_fd)

    def verify(self) -> None:
        """The path still leads, symlink-free, to the pinned folder, and the staging
        folder is still in it."""
        if self.fd is None:
            if os.path.realpath(self.shown) != self.real:
                raise PathNotAllowedError(f"output folder {self.shown} changed while the job ran; "
                                          "its output was not written")
            return
        try:
            fd = _open_nofollow(self.real)
        except OSError:
            fd = None
        try:
            same = fd is not None and _same(os.fstat(fd), os.fstat(self.fd))
        finally:
            if fd is not None:
                os.close(fd)
        if not same:
            raise PathNotAllowedError(f"output folder {self.shown} was replaced while the job ran (a symlink?); "
                                      "its output was not written")
        if self.stage_fd is not None:
            try:
                here = _same(os.stat(self.stage_name, dir_fd=self.stage_parent_fd, follow_symlinks=False),
                             os.fstat(self.stage_fd))
            except OSError:
                here = False
            if not here:
                raise PathNotAllowedError(f"the job's staging folder in {self.shown} was moved or replaced while "
                                          "the job ran; its output was not written")

    def commit(self, produced: str, staged: str, final: str) -> str:
        """Move the op's output (in the staging folder) to ``final`` without replacing
        anything; a unique name is taken if ``final`` appeared. ``produced`` is what
        the op returned, ``staged`` the name it was asked to write. Returns the path written."""
        from vedit.errors import MediaError

        self.verify()
        name = self._staged(produced) or self._staged(staged)
        if name is None or not self.staged_exists(os.path.join(self.stage_root, name)):
            raise MediaError(f"the operation reported success but wrote nothing at {_occupied(final)}")
        if self.fd is None or self.stage_fd is None:
            return _commit(os.path.join(self.stage_root, name) + staged[len(_occupied(staged)):], final)
        suffix = final[len(_occupied(final)):]
        src_fd, src = self.stage_fd, name
        if os.fstat(self.stage_fd).st_dev != os.fstat(self.fd).st_dev:
            # another file system: copied into a new file of the pinned folder first
            src_fd, src = self.fd, self.stage_name + ".part"
            _copy_at(name, self.stage_fd, src, self.fd)
        is_dir = stat.S_ISDIR(os.stat(src, dir_fd=src_fd, follow_symlinks=False).st_mode)
        for _ in range(100):
            occ = _occupied(final)
            dst = os.path.basename(occ)
            try:
                _place_at(src, src_fd, dst, self.fd, is_dir)
                return occ + suffix
            except FileExistsError:
                final = unique_output(final)
        raise FileExistsError(f"cannot find a free name for {final}")

    def _remove_stage(self) -> None:
        if self.fd is None or not self.stage_name.startswith("."):
            return
        _remove_at(self.stage_name, self.stage_parent_fd)
        if self.stage_parent_fd != self.fd:
            _remove_at(self.stage_name + ".part", self.fd)  # a copy cut short

    def discard(self) -> None:
        """Remove the staging folder (and whatever the op left in it) from the pinned folder."""
        if self.stage_fd is not None:
            os.close(self.stage_fd)
            self.stage_fd = None
        if self.fd is None:
            if self.stage_root:
                shutil.rmtree(self.stage_root, ignore_errors=True)
            return
        self._remove_stage()

    def close(self) -> None:
        if self.stage_fd is not None:
            os.close(self.stage_fd)
            self.stage_fd = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


#: whether ``/proc/PID/fd/N`` may name a staging folder (tests turn it off to run the other way)
USE_PROC = True


def proc_names_folders(fd: int) -> bool:
    """Whether ``/proc/PID/fd/N`` leads to the folder open as ``fd`` (Linux)."""
    if not USE_PROC:
        return False
    try:
        return _same(os.stat(f"/proc/{os.getpid()}/fd/{fd}"), os.fstat(fd))
    except OSError:
        return False


class _Staging:
    """The runner's own staging folder (``staging/`` beside the job database):
    where ops write on systems without ``/proc``. It must be a real folder of
    the server's user, 0700, so no other user can swap anything inside it; it
    is opened without following symlinks and held by descriptor."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            if self.fd is None and _NOFOLLOW_DIRS:
                self._open()

    def _open(self) -> None:
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        st = os.lstat(self.path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise VeditError(f"staging folder {self.path} is not a folder of this user; remove it and start again")
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(self.path, 0o700, follow_symlinks=False)
        real = os.path.realpath(self.path)
        fd = _open_nofollow(real)
        if not _same(os.fstat(fd), st):
            os.close(fd)
            raise VeditError(f"staging folder {self.path} changed while it was opened; start again")
        self.path, self.fd = real, fd

    def clean(self, keep: Iterable[str] = ()) -> None:
        """Remove what jobs left here, except the staging folders of jobs in ``keep``."""
        if self.fd is None:
            return
        keep = tuple(f".vedit-job-{j}." for j in keep)
        for name in os.listdir(self.fd):
            if name.startswith(".vedit-job-") and not name.startswith(keep):
                _remove_at(name, self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _remove_at(name: str, dir_fd: int | None) -> None:
    """Remove ``name`` (a file, or a folder with everything in it) relative to ``dir_fd``."""
    if dir_fd is None:
        return
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


def _copy_at(src: str, src_fd: int, dst: str, dst_fd: int) -> None:
    """Copy file or flat folder ``src`` (relative to ``src_fd``) to the new name
    ``dst`` relative to ``dst_fd``: created with ``O_EXCL | O_NOFOLLOW``, so it
    never replaces or writes through anything; symlinks are not copied."""
    _remove_at(dst, dst_fd)  # our own leftover (the name is the job's)
    st = os.stat(src, dir_fd=src_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(dst, 0o777, dir_fd=dst_fd)
        s_fd = os.open(src, _O_DIR, dir_fd=src_fd)
        try:
            d_fd = os.open(dst, _O_DIR, dir_fd=dst_fd)
            try:
                for entry in os.listdir(s_fd):
                    if stat.S_ISREG(os.stat(entry, dir_fd=s_fd, follow_symlinks=False).st_mode):
                        _copy_at(entry, s_fd, entry, d_fd)
            finally:
                os.close(d_fd)
        finally:
            os.close(s_fd)
        return
    if not stat.S_ISREG(st.st_mode):
        return
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    with open(os.open(src, os.O_RDONLY | nofollow, dir_fd=src_fd), "rb") as fin, \
            open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o666, dir_fd=dst_fd), "wb") as fout:
        shutil.copyfileobj(fin, fout, 8 << 20)
        fout.flush()
        os.fsync(fout.fileno())


def _place_at(src: str, src_fd: int, dst: str, dst_fd: int, is_dir: bool) -> None:
    """Move ``src`` to ``dst`` (each relative to its folder's descriptor) without
    replacing anything: FileExistsError when ``dst`` is taken (an empty folder
    is taken over by a folder)."""
    import errno

    if is_dir:
        with contextlib.suppress(OSError):
            os.rmdir(dst, dir_fd=dst_fd)  # only an empty folder goes
        if _lexists_at(dst, dst_fd):
            raise FileExistsError(dst)
        os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return
    try:
        os.link(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # a file system without hard links (exFAT, FAT): check, then rename
        if _lexists_at(dst, dst_fd):
            raise FileExistsError(dst) from None
        os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return
    os.unlink(src, dir_fd=src_fd)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _shown(message: str, dirs: Iterable[_Dir]) -> str:
    """An error message with staging paths written as the folders the user named."""
    for d in dirs:
        if d.stage_root:
            message = message.replace(d.stage_root, d.shown.rstrip("/") or "/")
    return message


def _lexists_at(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _staged_name(final: str, stage_root: str) -> str:
    """Where the op writes ``final`` inside the staging folder: the same name, so
    its kind (extension / folder / pattern) is kept."""
    occ = _occupied(final)
    suffix = final[len(occ):]
    if not suffix and os.path.isdir(occ):
        suffix = "/"  # an existing empty folder: a frame sequence goes there
    return os.path.join(stage_root, os.path.basename(occ)) + suffix


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
