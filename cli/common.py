"""Helpers shared by commands: the progress bar and --quiet."""
from __future__ import annotations

import sys
import time

import click


class Progress:
    """A progress bar with ETA on stderr; a ``callback(done, total, stage)``.

    Ops report one overall count that never goes back (``vedit.ops.progress``);
    the bar keeps that promise even for a caller that does not, and the ETA
    comes from the overall rate."""

    def __init__(self, total: int, quiet: bool = False, label: str = ""):
        self.total = max(1, int(total))
        self.quiet = quiet or not sys.stderr
        self.label = label
        self.t0 = time.monotonic()
        self._last = 0.0
        self.done = 0
        self.stage = label

    def __call__(self, done: int, total: int | None = None, stage: str = "") -> None:
        if total and int(total) != self.total:
            # a new total: keep the bar where it is (as a fraction), never back
            frac = self.done / self.total
            self.total = max(1, int(total))
            self.done = int(frac * self.total)
        self.done = max(self.done, int(done))  # the bar never goes back
        done = self.done
        self.stage = stage or self.stage
        if self.quiet:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        frac = min(1.0, done / self.total)
        el = now - self.t0
        eta = el / frac - el if frac > 0 else 0.0
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        fps = done / el if el > 0 else 0.0
        sys.stderr.write(f"\r{self.stage[:18]:<18} [{bar}] {done}/{self.total} {fps:5.1f} fps ETA {eta:5.1f}s ")
        sys.stderr.flush()

    def finish(self) -> None:
        if not self.quiet:
            sys.stderr.write("\n")
            sys.stderr.flush()


def quiet_option(f):
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)
