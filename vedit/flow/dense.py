"""Dense optical flow with OpenCV DIS (fast on CPU), optionally computed at a
reduced scale and upsampled."""
from __future__ import annotations

import cv2
import numpy as np

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _grey(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2GRAY)
    return img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8)


class FlowEstimator:
    """Reusable DIS estimator. ``max_side`` caps the size flow is computed at
    (the field is then upsampled and its vectors scaled)."""

    def __init__(self, preset: str = "fast", max_side: int | None = 640, finest_scale: int | None = None) -> None:
        if preset not in _PRESETS:
            raise ValueError(f"unknown flow preset {preset!r}; choose {', '.join(_PRESETS)}")
        self.dis = cv2.DISOpticalFlow.create(_PRESETS[preset])
        self.dis.setUseSpatialPropagation(True)
        if finest_scale is not None:
            # FAST stops at 1/4 resolution; small fast objects then take the
            # background's motion and escape consistency checks
            self.dis.setFinestScale(int(finest_scale))
        self.max_side = max_side

    def prepare(self, img: np.ndarray) -> np.ndarray:
        g = _grey(img)
        h, w = g.shape
        if self.max_side and max(h, w) > self.max_side:
            s = self.max_side / max(h, w)
            g = cv2.resize(g, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
        return g

    def __call__(self, a: np.ndarray, b: np.ndarray, size: tuple[int, int] | None = None,
                 prepared: bool = False) -> np.ndarray:
        """Flow a→b (HxWx2 float32) at full size (``size`` = (w, h) when prepared)."""
        ga = a if prepared else self.prepare(a)
        gb = b if prepared else self.prepare(b)
        flow = self.dis.calc(ga, gb, None)
        if size is None:
            size = (a.shape[1], a.shape[0])
        w, h = size
        if (flow.shape[1], flow.shape[0]) != (w, h):
            sx, sy = w / flow.shape[1], h / flow.shape[0]
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
            flow[:, :, 0] *= sx
            flow[:, :, 1] *= sy
        return flow


def compute_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast", max_side: int | None = 640) -> np.ndarray:
    """One-off flow a→b. Prefer a FlowEstimator for many pairs."""
    return FlowEstimator(preset, max_side)(a, b)
