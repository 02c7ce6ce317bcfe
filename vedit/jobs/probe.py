"""Media checks at submit, in helper processes that can be killed.

Reading a clip's header can hang: a stalled network share, a file system that
never answers. A thread stuck in such a read can never be stopped, so the
job server's checks run in small helper processes (``python -m
vedit.jobs.probe``, each in its own process group), one check at a time
each: a check that does not answer within its timeout has its helper killed
(with anything it started, an ``ffprobe``...) and reaped, and the submit gets
its 422 on time. Helpers are started ahead and reused, so a check costs a
round trip, not a Python start.

A check is a module-level function and its arguments, sent pickled over a
private pipe; what cannot be pickled (a closure an in-process caller
registered) is checked in a thread instead (see :func:`run_check`).
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable

log = logging.getLogger("vedit.jobs")

#: seconds a new helper may take to start (import vedit and its libraries)
STARTUP_TIMEOUT = 60.0
_HEAD = struct.Struct("!I")


class ProbeTimeout(Exception):
    """The check did not answer within its timeout; its helper was killed."""


class ProbeFailed(Exception):
    """The check raised: ``kind`` is ``param`` (a ParamError), ``vedit`` (another
    VeditError) or ``other``; ``args[0]`` its message."""

    def __init__(self, message: str, kind: str, type_name: str):
        super().__init__(message)
        self.kind, self.type_name = kind, type_name


class Unpicklable(Exception):
    """The check cannot be sent to a helper process."""


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ProbeTimeout()
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("the helper process ended")
        buf += chunk
    return bytes(buf)


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEAD.pack(len(data)) + data)  # one write for a small message
    while view:
        view = view[os.write(fd, view):]


def _recv(fd: int, deadline: float | None) -> Any:
    (n,) = _HEAD.unpack(_read_exact(fd, _HEAD.size, deadline))
    return pickle.loads(_read_exact(fd, n, deadline))


class _Helper:
    """One helper process and the two pipes to it."""

    def __init__(self) -> None:
        req_r, self.req_w = os.pipe()
        self.res_r, res_w = os.pipe()
        env = dict(os.environ)
        # the caller's import path: registered ops' checks import in the helper too
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in sys.path)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vedit.jobs.probe", str(req_r), str(res_w)],
                pass_fds=(req_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env, cwd="/", start_new_session=True, close_fds=True)
        finally:
            os.close(req_r)
            os.close(res_w)
        self.ready = False

    def wait_ready(self) -> None:
        if not self.ready:
            if _recv(self.res_r, time.monotonic() + STARTUP_TIMEOUT) != "ready":
                raise EOFError("the helper process did not start")
            self.ready = True

    def call(self, request: bytes, timeout: float) -> Any:
        """Send a pickled request; its answer within ``timeout`` seconds (ProbeTimeout)."""
        view = memoryview(_HEAD.pack(len(request)) + request)
        while view:
            view = view[os.write(self.req_w, view):]
        return _recv(self.res_r, time.monotonic() + timeout)

    def kill(self) -> None:
        """Kill the helper and whatever it started (its process group), and reap it."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for fd in (self.req_w, self.res_r):
            with contextlib.suppress(OSError):
                os.close(fd)


class ProbePool:
    """Helper processes for media checks: at most ``size`` at once (a check
    waits for a free one within its own timeout), idle ones kept for reuse."""

    def __init__(self, size: int = 4, keep: int = 2):
        self.size, self.keep = size, keep
        self._idle: list[_Helper] = []
        self._busy = 0
        self._cond = threading.Condition()

    def warm(self) -> None:
        """Start a helper now, so the first check does not wait for it."""
        with self._cond:
            if not self._idle and self._busy == 0:
                self._idle.append(_Helper())

    def pids(self) -> list[int]:
        with self._cond:
            return [h.proc.pid for h in self._idle]

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float, want: bool = False) -> Any:
        """``fn(*args)`` in a helper; its value when ``want``. Raises ProbeTimeout
        (the helper was killed), ProbeFailed (the check raised) or Unpicklable."""
        try:
            request = pickle.dumps((fn, args, want), protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(request)  # what the helper will do: import fn by name
        except Exception as exc:  # noqa: BLE001 - closures, local classes, odd values
            raise Unpicklable(str(exc)) from None
        deadline = time.monotonic() + timeout
        helper = self._take(deadline)
        ok = False
        try:
            try:
                helper.wait_ready()  # a helper's start is not counted in the check's time
            except ProbeTimeout:
                raise EOFError(f"no answer within {STARTUP_TIMEOUT:g} s of its start") from None
            res = helper.call(request, timeout)
            ok = True
        except (EOFError, OSError) as exc:
            raise ProbeFailed(f"the checker process stopped ({exc})", "other", "ProbeError") from None
        finally:
            self._give(helper, ok)
        status, *rest = res
        if status == "ok":
            return rest[0]
        if status == "unloadable":
            raise Unpicklable(rest[0])
        message, kind, type_name = rest
        raise ProbeFailed(message, kind, type_name)

    def _take(self, deadline: float) -> _Helper:
        with self._cond:
            while not self._idle and self._busy >= self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProbeTimeout()
                self._cond.wait(left)
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            return _Helper()
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _give(self, helper: _Helper, ok: bool) -> None:
        with self._cond:
            self._busy -= 1
            keep = ok and len(self._idle) < self.keep
            if keep:
                self._idle.append(helper)
            self._cond.notify()
        if not keep:
            helper.kill()

    def close(self) -> None:
        """Kill the idle helpers (busy ones are killed when their check returns)."""
        with self._cond:
            idle, self._idle = self._idle, []
        for h in idle:
            h.kill()


POOL = ProbePool()
atexit.register(POOL.close)


def run_check(fn: Callable[..., Any], args: tuple, timeout: float, want: bool = False) -> Any:
    """``fn(*args)`` in a helper process, killed after ``timeout`` seconds
    (ProbeTimeout); a ``fn`` that cannot be sent there runs in a daemon thread
    with the same timeout (the thread cannot be stopped: only such in-process
    registered checks can leave one behind). Errors come back as ProbeFailed."""
    try:
        return POOL.call(fn, args, timeout, want)
    except Unpicklable:
        pass
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["exc"] = exc

    t = threading.Thread(target=run, name="vedit-probe", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise ProbeTimeout()
    if "exc" in box:
        raise ProbeFailed(str(box["exc"]), *_kind(box["exc"]))
    return box.get("value") if want else None


def _kind(exc: BaseException) -> tuple[str, str]:
    from vedit.errors import VeditError
    from vedit.ops.params import ParamError

    kind = "param" if isinstance(exc, ParamError) else "vedit" if isinstance(exc, VeditError) else "other"
    return kind, type(exc).__name__


def _serve(req_fd: int, res_fd: int) -> None:
    """The helper's loop: one request at a time until the pipe closes."""
    import vedit.io  # noqa: F401 - imported before "ready": a check pays no import
    import vedit.ops  # noqa: F401

    _send(res_fd, "ready")
    while True:
        try:
            fn, args, want = _recv(req_fd, None)
        except EOFError:
            return
        except Exception as exc:  # noqa: BLE001 - a function this process cannot import
            _send(res_fd, ("unloadable", f"{type(exc).__name__}: {exc}"))
            continue
        try:
            value = fn(*args)
            _send(res_fd, ("ok", value if want else None))
        except BaseException as exc:  # noqa: BLE001 - every error goes back as text
            _send(res_fd, ("err", str(exc), *_kind(exc)))


def frame_count(path: str) -> int:
    """The frame count of a clip (a check the helper runs)."""
    from vedit.io import open_clip

    return int(open_clip(path).frame_count)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is for the server
    _serve(int(sys.argv[1]), int(sys.argv[2]))
