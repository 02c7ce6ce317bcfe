"""Shared engine vocabulary: argument names and output dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np

# callback(done_frames, total_frames, stage) -> None; raise JobCancelled to stop
ProgressCallback = Optional[Callable[[int, int, str], None]]


@dataclass
class InpaintOutput:
    """``frames`` streams the result (RGB uint8), in input order."""

    frames: Iterator[np.ndarray]
    frame_count: int
    stats: dict = field(default_factory=dict)


@dataclass
class AnimateOutput:
    frames: Iterator[np.ndarray]
    frame_count: int
    fps: float
    stats: dict = field(default_factory=dict)


def report(callback: ProgressCallback, done: int, total: int, stage: str) -> None:
    if callback is not None:
        callback(done, total, stage)
