"""Background replacement: plates that follow the camera, edge-aware alpha
blending, light wrap, colour matching and spill suppression.

    from vedit.composite import CameraTracker, PlateRenderer, Compositor, parse_background

The op that strings these together is ``vedit.ops.replace_bg``.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import cv2
import numpy as np

from vedit.composite.blend import _blend, _light_wrap, as_alpha, composite, fast_guided_alpha, light_wrap, roi_of, with_alpha
from vedit.composite.color import ColorMatcher, suppress_spill
from vedit.composite.fit import FIT_MODES, fit_matrix, frame_box, prescale
from vedit.composite.plate import Background, blur_background, parse_background, parse_color, video_plate_frames
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
        self._video: Iterator[np.ndarray] | None = None  # video plates: their frames, timed to the shot
        self.fresh = False
        if bg.kind == "color":
            self._static = np.empty((self.h, self.w, 3), np.uint8)
            self._static[:] = bg.color
        elif bg.kind in ("image", "prompt"):
            if bg.image is None:
                raise ValueError(f"a {bg.kind} background needs its image")
            F = fit_matrix((bg.image.shape[1], bg.image.shape[0]), self.box, fit)
            self._plate, self._F = prescale(bg.image[:, :, :3], F)
            if paths is None:
                self._static = self._warp(self._plate, self._F)
        elif bg.kind == "video":
            if bg.clip is None:
                raise ValueError("a video background needs its clip")
            self._F = fit_matrix((bg.clip.width, bg.clip.height), self.box, fit)
            self._video = video_plate_frames(bg.clip, n, Fraction(fps), loop=loop)

    def _warp(self, img: np.ndarray, T: np.ndarray) -> np.ndarray:
        if np.allclose(T, np.eye(3), atol=1e-9) and img.shape[:2] == (self.h, self.w):
            return img
        A = _affine_within(T, self.w, self.h)
        if A is not None:  # about 1.4x as fast as the perspective warp
            return cv2.warpAffine(img, A, (self.w, self.h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        return cv2.warpPerspective(img, T, (self.w, self.h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)

    def transform(self, t: int) -> np.ndarray:
        """Plate pixels → frame-t pixels (image/generated plates)."""
        M = self.paths[t] if self.paths is not None else np.eye(3)
        return M @ self._F

    def __call__(self, t: int, frame: np.ndarray, alpha: np.ndarray | None) -> np.ndarray | None:
        """The plate for frame t. ``self.fresh`` then says whether it is a new
        array that the caller may write into (not shared with other frames)."""
        k = self.bg.kind
        self.fresh = False
        if k == "transparent":
            return None
        if k == "blur":
            if alpha is None:
                raise ValueError("a blurred background needs the frame's alpha")
            self.fresh = True
            return blur_background(frame, as_alpha(alpha), self.blur)
        if self._static is not None:
            return self._static
        if self._video is not None:
            src = next(self._video)
            img, F = prescale(src[:, :, :3], self._F)
        else:
            img, F = self._plate, self._F
            src = img
        M = self.paths[t] if self.paths is not None else np.eye(3)
        out = self._warp(img, M @ F)
        self.fresh = not (np.may_share_memory(out, src) or np.may_share_memory(out, img))
        return out


def _scaled_box(box, sx: float, sy: float, margin: int, w: int, h: int):
    """A (y0, y1, x0, x1) box of a low-resolution matte → the full-resolution
    box that holds every pixel it can touch when upsampled, plus ``margin``."""
    y0, y1, x0, x1 = box
    return (max(0, int(np.floor((y0 - 1) * sy)) - margin), min(h, int(np.ceil((y1 + 1) * sy)) + margin),
            max(0, int(np.floor((x0 - 1) * sx)) - margin), min(w, int(np.ceil((x1 + 1) * sx)) + margin))


def upsample_box(a: np.ndarray, size: tuple[int, int], box) -> np.ndarray:
    """The (y0, y1, x0, x1) box of ``a`` bilinearly upsampled to ``size``
    (w, h) (pixel-centre aligned, as cv2.resize), computed for that box only."""
    w, h = size
    y0, y1, x0, x1 = box
    hl, wl = a.shape[:2]
    if w % wl == 0 and h % hl == 0:
        # whole-number factors: resize a crop (1 source pixel of margin, so
        # the samples are the whole-image resize's, borders included)
        kx, ky = w // wl, h // hl
        cx0, cy0 = max(0, x0 // kx - 1), max(0, y0 // ky - 1)
        cx1, cy1 = min(wl, -(-x1 // kx) + 1), min(hl, -(-y1 // ky) + 1)
        up = cv2.resize(a[cy0:cy1, cx0:cx1], ((cx1 - cx0) * kx, (cy1 - cy0) * ky), interpolation=cv2.INTER_LINEAR)
        ox, oy = x0 - cx0 * kx, y0 - cy0 * ky
        return np.ascontiguousarray(up[oy:oy + y1 - y0, ox:ox + x1 - x0])
    sx, sy = wl / w, hl / h
    M = np.array([[sx, 0.0, (x0 + 0.5) * sx - 0.5], [0.0, sy, (y0 + 0.5) * sy - 0.5]])
    return cv2.warpAffine(a, M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


class Prepared:
    """The plate-independent half of compositing one frame (see
    :meth:`Compositor.prepare`): the box around the subject (y0, y1, x0, x1),
    or None when nobody is there, and the edge-refined matte in that box as
    uint8 (0..255), which also keeps it small."""

    __slots__ = ("box", "alpha8")

    def __init__(self, box, alpha8):
        self.box = box
        self.alpha8 = alpha8


class Compositor:
    """Per-frame compositing: ``comp(frame, alpha, plate) -> RGB (or RGBA)``.

    Order: spill suppression (chroma keys) → edge-aware alpha → colour match
    toward the plate → light wrap → alpha blend. Where alpha is exactly 1 the
    output is the input pixel; where it is 0 the plate pixel.

    ``alpha`` may be smaller than the frame (a matte at working resolution):
    it is upsampled (bilinear) only in the box around the subject.
    ``reuse_plate=True`` lets the output be written into ``plate`` (a plate
    rendered for this frame only).

    Without colour matching the work splits in two: ``prepare(frame, alpha)``
    (box, matte upsampling, edge refinement: no plate needed, so it can run
    while the plate is not known yet) and ``comp(frame, None, plate,
    prepared=...)``.
    """

    def __init__(self, light_wrap: float = 0.3, match_strength: float = 0.0, spill_key=None,
                 edge_refine: bool = True, transparent: bool = False):
        self.light_wrap = float(light_wrap)
        self.matcher = ColorMatcher(match_strength) if match_strength > 0 else None
        self.spill_key = spill_key
        self.edge_refine = edge_refine
        self.transparent = transparent

    @property
    def can_prepare(self) -> bool:
        return self.matcher is None and not self.transparent

    def _geometry(self, h: int, w: int):
        r = max(4, max(h, w) // 160)
        wrap_r = max(2.0, 0.008 * (w + h))
        return r, wrap_r

    def _refined_box(self, fg: np.ndarray, a: np.ndarray):
        """(box, refined matte in the box) for a float32 matte of any size."""
        h, w = fg.shape[:2]
        r, wrap_r = self._geometry(h, w)
        # everything below only changes pixels near the subject: work in a box
        # around it (edge band + light-wrap reach), the rest is the plate
        margin = 3 * r + int(3.5 * wrap_r) + 8
        low = a.shape != (h, w)
        if low:
            lb = roi_of(cv2.compare(a, 0.5 / 255.0, cv2.CMP_GT) > 0, 0)
            box = None if lb is None else _scaled_box(lb, w / a.shape[1], h / a.shape[0], margin, w, h)
        else:
            box = roi_of(cv2.compare(a, 0.5 / 255.0, cv2.CMP_GT) > 0, margin)  # below half a level: the plate
        if box is None:
            return None, None
        # snap the box to the low-resolution grids of the guided filter (1/4)
        # and the light wrap, so the box gives the whole-frame result
        g = int(np.lcm(4, max(1, int(wrap_r // 3))))
        y0, y1, x0, x1 = box
        y0, x0 = y0 // g * g, x0 // g * g
        y1, x1 = min(h, -(-y1 // g) * g), min(w, -(-x1 // g) * g)
        ac = upsample_box(a, (w, h), (y0, y1, x0, x1)) if low else a[y0:y1, x0:x1]
        # mattes are built at <=640 px; snap their edges to full-res detail
        if self.edge_refine and max(h, w) > 640:
            ac = fast_guided_alpha(ac, fg[y0:y1, x0:x1], radius=r)
        return (y0, y1, x0, x1), ac

    def _fg(self, frame: np.ndarray) -> np.ndarray:
        fg = np.ascontiguousarray(frame[:, :, :3])
        return suppress_spill(fg, self.spill_key) if self.spill_key is not None else fg

    def prepare(self, frame: np.ndarray, alpha: np.ndarray) -> Prepared:
        """The plate-independent half (needs ``can_prepare``)."""
        if not self.can_prepare:
            raise ValueError("prepare() needs a compositor without colour matching or transparency")
        box, ac = self._refined_box(self._fg(frame), as_alpha(alpha))
        if box is None:
            return Prepared(None, None)
        return Prepared(box, cv2.convertScaleAbs(ac, alpha=255.0))  # rounds and saturates to uint8

    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None, plate: np.ndarray | None,
                 reuse_plate: bool = False, prepared: Prepared | None = None) -> np.ndarray:
        fg = np.ascontiguousarray(frame[:, :, :3])
        h, w = fg.shape[:2]
        r, wrap_r = self._geometry(h, w)
        if prepared is not None:
            if plate is None or not self.can_prepare:
                raise ValueError("a prepared frame needs a plate and a compositor that can prepare")
            if prepared.box is None:
                return plate if reuse_plate else np.array(plate[:, :, :3], copy=True)
            y0, y1, x0, x1 = prepared.box
            ac = as_alpha(prepared.alpha8)
            fc = fg[y0:y1, x0:x1]
            if self.spill_key is not None:
                fc = suppress_spill(fc, self.spill_key)
        else:
            if alpha is None:
                raise ValueError("composite needs the frame's alpha or a prepared frame")
            if alpha.shape[:2] != (h, w) and (self.transparent or plate is None or self.matcher is not None):
                alpha = cv2.resize(as_alpha(alpha), (w, h), interpolation=cv2.INTER_LINEAR)
            a = as_alpha(alpha)
            if self.spill_key is not None:
                fg = suppress_spill(fg, self.spill_key)
            if self.transparent or plate is None:
                if self.edge_refine and max(h, w) > 640:
                    a = fast_guided_alpha(a, fg, radius=r)
                return with_alpha(fg, a)
            if self.matcher is not None:  # statistics of the whole frame
                fg = self.matcher(fg, plate, a)
            box, ac = self._refined_box(fg, a)
            if box is None:
                return plate if reuse_plate else np.array(plate[:, :, :3], copy=True)
            y0, y1, x0, x1 = box
            fc = fg[y0:y1, x0:x1]
        pc = np.ascontiguousarray(plate[y0:y1, x0:x1, :3])
        if self.light_wrap > 0:
            fc = _light_wrap(fc, pc, ac, self.light_wrap, wrap_r)
        out = plate if (reuse_plate and plate.ndim == 3 and plate.shape[2] == 3) else np.array(plate[:, :, :3], copy=True)
        out[y0:y1, x0:x1] = _blend(fc, pc, ac)
        return out


__all__ = [
    "Background", "CameraTracker", "ColorMatcher", "Compositor", "Prepared", "FIT_MODES", "PlateRenderer", "as_alpha",
    "blur_background", "composite", "fast_guided_alpha", "fit_matrix", "frame_box", "light_wrap",
    "parse_background", "parse_color", "path_bounds", "prescale", "suppress_spill", "video_plate_frames",
    "with_alpha",
]
