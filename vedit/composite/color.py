"""Colour: match the subject to the new plate, and suppress key-colour spill."""
from __future__ import annotations

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.masks.sources import despill


class ColorMatcher:
    """Moves the subject's per-channel mean and contrast part of the way
    (``strength`` 0..1) toward the plate's, as a per-channel lookup table.
    Statistics are measured at low resolution and smoothed over time
    (``smoothing``), so the grade drifts with the shot instead of flickering."""

    def __init__(self, strength: float = 0.5, smoothing: float = 0.9, max_side: int = 160):
        if not 0.0 <= strength <= 1.0:
            raise InvalidInputError(f"--match-strength {strength}: use a value between 0 and 1")
        self.strength = float(strength)
        self.smoothing = float(smoothing)
        self.max_side = max_side
        self._stats: np.ndarray | None = None  # [mu_f, sd_f, mu_p, sd_p] x 3

    def _small(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(1.0, self.max_side / max(h, w))
        return cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)

    def lut(self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
        f = self._small(fg[:, :, :3]).reshape(-1, 3).astype(np.float32)
        b = self._small(bg[:, :, :3]).reshape(-1, 3).astype(np.float32)
        a = self._small(alpha.astype(np.float32)).reshape(-1)
        sel = a > 0.5
        if sel.sum() < 16:
            if self._stats is None:
                return None
            stats = self._stats
        else:
            fs = f[sel]
            stats = np.stack([fs.mean(0), fs.std(0), b.mean(0), b.std(0)])
            if self._stats is not None:
                stats = self.smoothing * self._stats + (1 - self.smoothing) * stats
            self._stats = stats
        mu_f, sd_f, mu_p, sd_p = stats
        s = self.strength
        sd_f = np.maximum(sd_f, 1.0)
        gain = np.clip((np.maximum(sd_p, 1.0) / sd_f) ** s, 0.7, 1.4)
        mu_t = mu_f + s * (mu_p - mu_f)
        x = np.arange(256, dtype=np.float32)[:, None]
        table = (x - mu_f) * gain + mu_t
        return np.clip(table + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)

    def __call__(self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        table = self.lut(fg, bg, alpha)
        if table is None:
            return fg
        return cv2.LUT(np.ascontiguousarray(fg[:, :, :3]), table)


def suppress_spill(fg: np.ndarray, key="green", amount: float = 1.0) -> np.ndarray:
    """Key-colour spill suppression: the one despill rule (``vedit.masks.sources.despill``);
    ``key`` is replace-bg's ``--chroma`` colour, as in ``vedit matte``."""
    return despill(fg, key, amount, name="--chroma")
