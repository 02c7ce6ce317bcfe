"""What every matte source shares: the working resolution and the stream shape.

A source yields, for each frame of the clip's selected range, the frame at
working resolution (RGB uint8, long side at most ``WORK_SIDE``) and a raw
alpha (float32 [0, 1]) at working or full resolution. Refinement, temporal
smoothing and output sizing happen once, in ``vedit.masks.matte_stream``.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from vedit.io import Clip

WORK_SIDE = 640  # analysis resolution cap: models run at ≤256 px anyway


def work_size(width: int, height: int, max_side: int = WORK_SIDE) -> tuple[int, int]:
    s = min(1.0, max_side / max(width, height))
    return max(8, round(width * s)), max(8, round(height * s))


def to_work(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class MatteSource:
    """Base class. Subclasses set ``name`` and implement ``stream``."""

    name = ""
    description = ""

    def check(self, clip: Clip) -> None:
        """Validate parameters against the clip before any work (raise
        InvalidInputError naming the argument)."""

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def work_frames(self, clip: Clip) -> Iterator[np.ndarray]:
        """The clip's frames at working resolution, decoded and resized in a
        background thread (a few frames ahead) so decoding overlaps the model."""
        size = work_size(clip.width, clip.height)
        return prefetch((to_work(f, size) for f in clip.frames()), depth=4)


_DONE = object()


def prefetch(it, depth: int = 4) -> Iterator:
    """Run iterator ``it`` in a daemon thread, ``depth`` items ahead.
    Exceptions are re-raised in the consumer; closing the consumer early
    stops the producer."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce():
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    th = threading.Thread(target=produce, name="vedit-matte-decode", daemon=True)
    th.start()

    def consume():
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while th.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    th.join(0.05)

    return consume()


def alternate(items: Iterable, fns: tuple[Callable, Callable], depth: int = 4) -> Iterator:
    """Map ``items`` through ``fns[0]`` and ``fns[1]`` in turn, each function
    in a worker thread of its own (so each sees every other item, in order),
    results in item order, up to ``depth`` items in flight. For two instances
    of a model that keeps per-instance state and releases the GIL."""
    pools = [ThreadPoolExecutor(1, thread_name_prefix="vedit-alternate") for _ in fns]
    queued: deque = deque()
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
