"""What every matte source shares: the working resolution and the stream shape.

A source yields, for each frame of the clip's selected range, the frame at
working resolution (RGB uint8, long side at most ``WORK_SIDE``) and a raw
alpha (float32 [0, 1]) at working or full resolution. Refinement, temporal
smoothing and output sizing happen once, in ``vedit.masks.matte_stream``.
"""
from __future__ import annotations

import inspect
from typing import Any, Iterator

import cv2
import numpy as np

from vedit.io import Clip
from vedit.streams import alternate, prefetch  # noqa: F401 - re-exported (one implementation)

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
    # where a tracking source (track, grabcut, sam) writes its per-frame
    # confidence as JSON; None: reported on stderr only
    confidence_path: str | None = None

    @classmethod
    def from_params(cls, **params: Any) -> MatteSource:
        """Build from ``matte_stream``'s keyword arguments (the names the ops
        use); the source takes those its ``__init__`` names. A source whose
        own names differ overrides this."""
        sig = inspect.signature(cls.__init__)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            params = {k: v for k, v in params.items() if k in sig.parameters}
        return cls(**params)

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
