"""Threads for frame streams: read ahead, write behind, alternate two workers.

    for frame in prefetch(clip.frames()): ...          # decode runs ahead in a thread
    with ThreadedWriter(writer) as wr: wr.write(out)   # encode waits in a thread

OpenCV, PyAV, MediaPipe and pipe writes release the GIL, so on a 2-core
machine decode/encode and the per-frame maths really run side by side. Every
op and matte pipeline uses these (one implementation: a stopped consumer
stops and closes its source, errors re-raise in the consumer).
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[Any], depth: int = 3,
             fn: Callable[[Any], Any] | None = None) -> Generator[Any, None, None]:
    """Iterate ``items`` (optionally mapped through ``fn``) in a background
    thread, up to ``depth`` ahead. Exceptions re-raise in the consumer;
    closing the generator early stops the thread."""
    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    it = iter(items)

    def work() -> None:
        try:
            for x in it:
                if not put(fn(x) if fn is not None else x):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Raised(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # stop upstream threads (nested prefetches) now, not at GC
                close()

    th = threading.Thread(target=work, name="vedit-prefetch", daemon=True)
    th.start()
    try:
        while True:
            x = q.get()
            if x is _DONE:
                return
            if isinstance(x, _Raised):
                raise x.exc
            yield x
    finally:
        stop.set()
        th.join(timeout=5)


class ThreadedWriter:
    """Wraps a ``vedit.io`` Writer so ``write`` only queues the frame and a
    thread feeds the encoder. Errors from the encoder re-raise on the next
    ``write`` or when the block ends. Nest it inside the writer's own
    ``with`` block, which closes or aborts the file (nothing half-written)."""

    def __init__(self, writer: Any, depth: int = 3):
        self.writer = writer
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._exc: BaseException | None = None
        self._th = threading.Thread(target=self._work, name="vedit-writer", daemon=True)
        self._th.start()

    def _work(self) -> None:
        while True:
            f = self._q.get()
            if f is _DONE:
                return
            if self._exc is None:
                try:
                    self.writer.write(f)
                except BaseException as exc:  # noqa: BLE001
                    self._exc = exc

    def write(self, frame: np.ndarray) -> None:
        if self._exc is not None:
            raise self._exc
        self._q.put(frame)

    def _finish(self) -> None:
        if self._th.is_alive():
            self._q.put(_DONE)
            self._th.join()

    def __enter__(self) -> ThreadedWriter:
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Literal[False]:
        """Waits for the queued frames; the wrapped writer's own ``with``
        block then closes it (or aborts it when anything failed)."""
        self._finish()
        if et is None and self._exc is not None:
            raise self._exc
        return False


def alternate(items: Iterable[Any], fns: tuple[Callable[[Any], Any], Callable[[Any], Any]],
              depth: int = 4) -> Iterator[Any]:
    """Map ``items`` through ``fns[0]`` and ``fns[1]`` in turn, each function
    in a worker thread of its own (so each sees every other item, in order),
    results in item order, up to ``depth`` items in flight. For two instances
    of a model that keeps per-instance state and releases the GIL."""
    pools = [ThreadPoolExecutor(1, thread_name_prefix="vedit-alternate") for _ in fns]
    queued: deque[Any] = deque()
    try:
        for i, x in enumerate(items):
            queued.append(pools[i % 2].submit(fns[i % 2], x))
            if len(queued) >= depth:
                yield queued.popleft().result()
        while queued:
            yield queued.popleft().result()
    finally:
        for p in pools:
            p.shutdown(wait=True, cancel_futures=True)
