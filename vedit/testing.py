"""Helpers for tests and benchmarks that write their own synthetic footage."""
from __future__ import annotations

import cv2
import numpy as np


def textured(h: int, w: int, seed: int = 0, lo: int = 0, hi: int = 255) -> np.ndarray:
    """A detailed RGB uint8 texture in [lo, hi]: multi-scale smooth noise, enough
    structure for optical flow to lock on."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (4, 16, 64):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] * (s / 84.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * (hi - lo) + lo).astype(np.uint8)
