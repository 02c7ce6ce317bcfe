"""Background replacement: plates that follow the camera, edge-aware alpha
blending, light wrap, colour matching and spill suppression.

    from vedit.composite import CameraTracker, PlateRenderer, Compositor, parse_background

The op that strings these together is ``vedit.ops.replace_bg``.
"""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from vedit.composite.blend import as_alpha, composite, fast_guided_alpha, light_wrap, with_alpha
from vedit.composite.color import ColorMatcher, suppress_spill
from vedit.composite.fit import FIT_MODES, fit_matrix, frame_box, prescale
from vedit.composite.plate import Background, blur_background, parse_background, parse_color, video_plate_frames
from vedit.composite.track import CameraTracker, path_bounds


class PlateRenderer:
    """Renders the background for frame t: ``renderer(t, frame, alpha)``.

    Image/video/generated plates are fitted (``fit``) to ``box`` (world
    coordinates, the area the whole camera path sees) and moved by the camera
    path ``paths`` (M_t: world → frame t); with no paths the plate is fitted
    to the frame and stays still. Calls must come in frame order.
    """

    def __init__(self, bg: Background, size: tuple[int, int], fps, n: int, fit: str = "cover",
                 box=None, paths=None, loop: bool = True, blur: float | None = None):
        self.bg = bg
        self.w, self.h = int(size[0]), int(size[1])
        self.paths = paths
        self.box = box if box is not None else frame_box(self.w, self.h)
        self.fit = fit
        self.blur = float(blur) if blur else 0.015 * max(self.w, self.h)
        self._static: np.ndarray | None = None
        self._video = None
        if bg.kind == "color":
            self._static = np.empty((self.h, self.w, 3), np.uint8)
            self._static[:] = bg.color
        elif bg.kind in ("image", "prompt"):
            F = fit_matrix(bg.size, self.box, fit)
            self._plate, self._F = prescale(bg.image[:, :, :3], F)
            if paths is None:
                self._static = self._warp(self._plate, self._F)
        elif bg.kind == "video":
            self._F = fit_matrix(bg.size, self.box, fit)
            self._video = video_plate_frames(bg.clip, n, Fraction(fps), loop=loop)

    def _warp(self, img: np.ndarray, T: np.ndarray) -> np.ndarray:
        if np.allclose(T, np.eye(3), atol=1e-9) and img.shape[:2] == (self.h, self.w):
            return img
        affine = abs(T[2, 0]) < 1e-12 and abs(T[2, 1]) < 1e-12
        if affine:
            return cv2.warpAffine(img, (T / T[2, 2])[:2], (self.w, self.h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        return cv2.warpPerspective(img, T, (self.w, self.h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)

    def transform(self, t: int) -> np.ndarray:
        """Plate pixels → frame-t pixels (image/generated plates)."""
        M = self.paths[t] if self.paths is not None else np.eye(3)
        return M @ self._F

    def __call__(self, t: int, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
        k = self.bg.kind
        if k == "transparent":
            return None
        if k == "blur":
            return blur_background(frame, as_alpha(alpha), self.blur)
        if self._static is not None:
            return self._static
        if k == "video":
            img, F = prescale(next(self._video)[:, :, :3], self._F)
        else:
            img, F = self._plate, self._F
        M = self.paths[t] if self.paths is not None else np.eye(3)
        return self._warp(img, M @ F)


class Compositor:
    """Per-frame compositing: ``comp(frame, alpha, plate) -> RGB (or RGBA)``.

    Order: spill suppression (chroma keys) → edge-aware alpha → colour match
    toward the plate → light wrap → alpha blend. Where alpha is exactly 1 the
    output is the input pixel; where it is 0 the plate pixel.
    """

    def __init__(self, light_wrap: float = 0.3, match_strength: float = 0.0, spill_key=None,
                 edge_refine: bool = True, transparent: bool = False):
        self.light_wrap = float(light_wrap)
        self.matcher = ColorMatcher(match_strength) if match_strength > 0 else None
        self.spill_key = spill_key
        self.edge_refine = edge_refine
        self.transparent = transparent

    def __call__(self, frame: np.ndarray, alpha: np.ndarray, plate: np.ndarray | None) -> np.ndarray:
        fg = np.ascontiguousarray(frame[:, :, :3])
        a = as_alpha(alpha)
        if self.spill_key is not None:
            fg = suppress_spill(fg, self.spill_key)
        if self.edge_refine and max(a.shape) > 640:
            # mattes are built at ≤640 px; snap their edges to full-res detail
            a = fast_guided_alpha(a, fg, radius=max(4, max(a.shape) // 160))
        if self.transparent or plate is None:
            return with_alpha(fg, a)
        if self.matcher is not None:
            fg = self.matcher(fg, plate, a)
        if self.light_wrap > 0:
            fg = light_wrap(fg, plate, a, self.light_wrap)
        return composite(fg, plate, a)


__all__ = [
    "Background", "CameraTracker", "ColorMatcher", "Compositor", "FIT_MODES", "PlateRenderer", "as_alpha",
    "blur_background", "composite", "fast_guided_alpha", "fit_matrix", "frame_box", "light_wrap",
    "parse_background", "parse_color", "path_bounds", "prescale", "suppress_spill", "video_plate_frames",
    "with_alpha",
]
