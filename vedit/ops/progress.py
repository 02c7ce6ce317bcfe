"""One overall progress per op: a fraction that never goes back, with a stage name.

Engines and mask sources report ``callback(done, total, stage)`` for their own
stage (a first pass, a model load, a second pass), each from 0. An op knows its
plan — say a matte pass over ``n`` frames then a compositing pass over ``n`` —
and gives each part a span of the overall total; :class:`OverallProgress` maps
every report into that span and never lets the overall count go down, so a
panel's progress bar only moves forward and an ETA from the overall rate holds.
"""
from __future__ import annotations

from collections.abc import Callable

Callback = Callable[..., None] | None


class OverallProgress:
    """Forward ``callback(done, total, stage)`` as one monotone count out of ``total``.

    ``part(start, span)`` returns a stage-local callback whose ``done/total``
    maps to ``start + span * done/total``. Exceptions raised by ``callback``
    (``JobCancelled``) pass through.
    """

    def __init__(self, callback: Callback, total: int):
        self.callback = callback
        self.total = max(1, int(total))
        self.done = 0
        self.stage = ""

    def report(self, done: float, stage: str = "") -> None:
        d = int(min(self.total, max(self.done, done)))
        self.done = d
        self.stage = stage or self.stage
        if self.callback is not None:
            self.callback(d, self.total, self.stage)

    def part(self, start: float, span: float) -> Callable[..., None]:
        def cb(done: float, total: float | None = None, stage: str = "") -> None:
            frac = min(1.0, max(0.0, float(done) / float(total))) if total else 0.0
            self.report(start + span * frac, stage)

        return cb

    def finish(self) -> None:
        self.report(self.total, "done")
