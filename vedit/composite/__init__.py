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
from vedit.composite.pipeline import roi_of
from vedit.composite.track import CameraTracker, path_bounds


def _affine_within(T: np.ndarray, w: int, h: int, tol: float = 0.05) -> np.ndarray | None:
    """The 2x3 affine matrix that matches the homography ``T`` within ``tol``
    px over the whole w x h output (the usual case for a plate following a
    pan or zoom), else None."""
    T = T / T[2, 2]
    if abs(T[2, 0]) < 1e-12 and abs(T[2, 1]) < 1e-12:
        return T[:2]
    # T maps plate -> frame; warps sample the plate at T^-1(frame pixel), so
    # compare the two in the plate, at frame corners and centre
    Ti = cv2.invert(T, flags=cv2.DECOMP_LU)[1]
    pts = np.array([[[-0.5, -0.5]], [[w - 0.5, -0.5]], [[-0.5, h - 0.5]], [[w - 0.5, h - 0.5]],
                    [[w / 2 - 0.5, h / 2 - 0.5]], [[w / 2 - 0.5, -0.5]], [[-0.5, h / 2 - 0.5]]], np.float64)
    src = cv2.perspectiveTransform(pts, Ti).reshape(-1, 2)
    fr = pts.reshape(-1, 2)
    Ai = cv2.getAffineTransform(fr[:3].astype(np.float32), src[:3].astype(np.float32)).astype(np.float64)
    est = fr @ Ai[:, :2].T + Ai[:, 2]
    if np.abs(est - src).max() > tol:
        return None
    return cv2.invertAffineTransform(Ai)


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
        A = _affine_within(T, self.w, self.h)
        if A is not None:  # about twice as fast as the perspective warp
            return cv2.warpAffine(img, A, (self.w, self.h), flags=cv2.INTER_LINEAR,
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
        h, w = a.shape
        if self.spill_key is not None:
            fg = suppress_spill(fg, self.spill_key)
        # mattes are built at <=640 px; snap their edges to full-res detail
        refine = self.edge_refine and max(h, w) > 640
        r = max(4, max(h, w) // 160)
        if self.transparent or plate is None:
            if refine:
                a = fast_guided_alpha(a, fg, radius=r)
            return with_alpha(fg, a)
        if self.matcher is not None:  # statistics of the whole frame
            fg = self.matcher(fg, plate, a)
        # everything below only changes pixels near the subject: work in a box
        # around it (edge band + light-wrap reach), the rest is the plate
        wrap_r = max(2.0, 0.008 * (w + h))
        margin = 3 * r + int(3.5 * wrap_r) + 8
        box = roi_of(a > (0.5 / 255.0), margin)  # below half a level: the plate
        if box is None:
            return plate
        # snap the box to the low-resolution grids of the guided filter (1/4)
        # and the light wrap, so the box gives the whole-frame result
        g = int(np.lcm(4, max(1, int(wrap_r // 3))))
        y0, y1, x0, x1 = box
        y0, x0 = y0 // g * g, x0 // g * g
        y1, x1 = min(h, -(-y1 // g) * g), min(w, -(-x1 // g) * g)
        ac, fc, pc = a[y0:y1, x0:x1], fg[y0:y1, x0:x1], np.ascontiguousarray(plate[y0:y1, x0:x1, :3])
        if refine:
            ac = fast_guided_alpha(ac, fc, radius=r)
        if self.light_wrap > 0:
            fc = light_wrap(fc, pc, ac, self.light_wrap, radius=wrap_r)
        out = np.array(plate[:, :, :3], copy=True)
        out[y0:y1, x0:x1] = composite(fc, pc, ac)
        return out


__all__ = [
    "Background", "CameraTracker", "ColorMatcher", "Compositor", "FIT_MODES", "PlateRenderer", "as_alpha",
    "blur_background", "composite", "fast_guided_alpha", "fit_matrix", "frame_box", "light_wrap",
    "parse_background", "parse_color", "path_bounds", "prescale", "suppress_spill", "video_plate_frames",
    "with_alpha",
]
