"""Matte refinement: edge-aware (guided filter), hole filling and speckle
removal, grow/shrink, feather, and temporal smoothing along optical flow.

All functions take and return float32 alpha in [0, 1] (HxW).
"""
from __future__ import annotations

import cv2
import numpy as np

from vedit.flow import FlowEstimator, fb_consistency, warp
from vedit.flow.ops import mask_bbox


def to_alpha(img: np.ndarray) -> np.ndarray:
    """Any mask image (grey, RGB, RGBA; uint8, uint16 or float) → float32 [0, 1].
    An image with a non-trivial alpha channel uses its alpha."""
    if img.ndim == 3:
        if img.shape[2] == 4 and img[:, :, 3].min() < img[:, :, 3].max():
            img = img[:, :, 3]
        elif img.shape[2] == 2:  # grey + alpha
            img = img[:, :, 1] if img[:, :, 1].min() < img[:, :, 1].max() else img[:, :, 0]
        else:
            img = img[:, :, :3].max(axis=2)
    if img.dtype == np.uint8:
        return img.astype(np.float32) * (1.0 / 255.0)
    if img.dtype == np.uint16:
        return img.astype(np.float32) * (1.0 / 65535.0)
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def nonzero_box(alpha: np.ndarray, pad: int = 0, level: float = 0.5 / 255.0):
    """(y0, y1, x0, x1) of the pixels above ``level``, grown by ``pad`` and
    clipped to the frame; None when there are none."""
    bb = mask_bbox(alpha > level)
    if bb is None:
        return None
    h, w = alpha.shape[:2]
    y0, y1, x0, x1 = bb
    return max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)


def guided_refine(alpha: np.ndarray, frame_rgb: np.ndarray, radius: int = 8, eps: float = 1e-3) -> np.ndarray:
    """Edge-aware refinement: guided filter of the matte with the frame as guide
    (opencv-contrib ``ximgproc``), so matte edges snap to image edges. ``eps`` is
    in [0,1]² intensity units.

    Only the box around the matte's non-zero pixels (plus twice the radius) is
    filtered: beyond it every window sees a constant 0, which the filter keeps,
    so the result is the whole-frame filter's (within half a level) at the
    cost of the person's box, not the frame's."""
    a = np.ascontiguousarray(alpha, dtype=np.float32)
    guide = frame_rgb[:, :, :3]
    if guide.dtype != np.uint8:
        guide = np.clip(guide, 0, 255).astype(np.uint8)
    if guide.shape[:2] != a.shape:
        guide = cv2.resize(np.ascontiguousarray(guide), (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    box = nonzero_box(a, 2 * int(radius) + 2)
    if box is None:
        return a.copy()
    y0, y1, x0, x1 = box
    out = np.zeros_like(a)
    sub = cv2.ximgproc.guidedFilter(np.ascontiguousarray(guide[y0:y1, x0:x1]), np.ascontiguousarray(a[y0:y1, x0:x1]),
                                    int(radius), float(eps) * 255.0 * 255.0)
    np.clip(sub, 0.0, 1.0, out=sub)
    out[y0:y1, x0:x1] = sub
    return out


def fill_holes(alpha: np.ndarray, max_hole: float = 0.02, min_island: float = 0.01) -> np.ndarray:
    """Fill enclosed background holes smaller than ``max_hole`` of the frame
    area and drop foreground islands smaller than ``min_island`` of the largest
    one (speckles a model or a key leaves behind). Returns ``alpha`` itself
    when there is nothing to change."""
    h, w = alpha.shape
    # components are found in the box around the foreground plus one pixel:
    # background touching that box's border reaches the outside, so the holes
    # and islands are the whole frame's
    box = nonzero_box(alpha, 1, level=0.5)
    if box is None:
        return alpha
    y0, y1, x0, x1 = box
    sub = alpha[y0:y1, x0:x1]
    binary = (sub > 0.5).astype(np.uint8)
    bh_, bw_ = binary.shape
    out_sub = sub
    n, lab, stats, _ = cv2.connectedComponentsWithStats(1 - binary, connectivity=4)
    if n > 1:
        x, y, bw, bh, area = stats[1:, 0], stats[1:, 1], stats[1:, 2], stats[1:, 3], stats[1:, 4]
        touches = (x == 0) | (y == 0) | (x + bw >= bw_) | (y + bh >= bh_)
        touches |= ((x0 + x) == 0) | ((y0 + y) == 0) | ((x0 + x + bw) >= w) | ((y0 + y + bh) >= h)
        fill = np.zeros(n, bool)
        fill[1:] = ~touches & (area < max_hole * h * w)
        if fill.any():
            out_sub = np.where(fill[lab], 1.0, out_sub).astype(np.float32)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n > 2:
        area = stats[:, 4].copy()
        area[0] = 0
        drop = area < min_island * area.max()
        drop[0] = False
        if drop.any():
            out_sub = np.where(drop[lab], 0.0, out_sub).astype(np.float32)
    if out_sub is sub:
        return alpha
    out = alpha.copy()
    out[y0:y1, x0:x1] = out_sub
    return out


def grow(alpha: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (``pixels`` > 0) or erode (< 0) the matte by a disk."""
    if not pixels:
        return alpha
    k = _disk(abs(int(pixels)))
    return cv2.dilate(alpha, k) if pixels > 0 else cv2.erode(alpha, k)


def feather(alpha: np.ndarray, pixels: float) -> np.ndarray:
    """Soften the edge over about ``pixels`` pixels (Gaussian)."""
    if not pixels or pixels <= 0:
        return alpha
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=max(0.3, pixels / 2.0))


def resize_alpha(alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h): area when shrinking, bilinear when growing."""
    w, h = size
    if alpha.shape[1] == w and alpha.shape[0] == h:
        return alpha
    interp = cv2.INTER_AREA if w < alpha.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(alpha, (w, h), interpolation=interp)


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vedit-smooth")
    return _POOL


class TemporalSmoother:
    """Smooths a matte along optical flow so edges do not boil.

    The previous smoothed matte is warped onto the current frame; where the
    flow is trustworthy and the two mattes roughly agree, they are blended
    (an exponential average along motion paths). Where they disagree strongly
    (real shape change, occlusion) the current matte wins, so moving edges do
    not lag.

    Trust (``check``): ``"fb"`` (default) — forward-backward consistency (a
    second, backward flow, run in another thread); ``"photometric"`` — the
    previous frame, warped by the same flow, matches this one within
    ``tolerance`` grey levels (one flow, cheaper). Flows are computed only in
    the box where either matte is not 0. ``band`` > 0 limits blending to that
    fraction of the long side around the current edge.
    """

    # Tennis, first 30 frames (tests/masks): the edge instability drops 42%
    # with fast DIS at 320 px, finest scale 1 and the forward-backward check,
    # as with the former medium DIS at 480 px, at about half the CPU (14 vs
    # 25 ms a frame at 432x240). FAST's default finest scale 2: 35%.
    # Photometric check: 45%, but more of the faint trail a moving edge leaves
    # (alpha > 0.05 far from the person on 8% of the frame vs 2%), and a band
    # of 6% removes the trail but also most of the gain (30%): the measure
    # rewards the slow decay of carried values.
    def __init__(self, strength: float = 0.85, agree: float = 1.0, flow_side: int = 320, flow_preset: str = "fast",
                 check_preset: str | None = None, check: str = "fb", finest_scale: int | None = 1,
                 tolerance: float = 20.0, band: float = 0.0):
        if check not in ("photometric", "fb"):
            raise ValueError(f"check {check!r}: choose photometric or fb")
        self.strength = float(strength)
        self.agree = float(agree)
        self.mode = check
        self.tolerance = float(tolerance)  # grey levels: photometric error where trust starts to fall
        self.band = float(band)  # half-width of the edge band that is smoothed, as a fraction of the long side
        self.flow = FlowEstimator(flow_preset, max_side=flow_side, finest_scale=finest_scale)
        # the backward flow (forward-backward check) runs in another thread at
        # the same time, so it needs its own estimator
        self.check = (FlowEstimator(check_preset or flow_preset, max_side=flow_side, finest_scale=finest_scale)
                      if check == "fb" else None)
        self._prev_alpha: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None

    def reset(self) -> None:
        self._prev_alpha = None
        self._prev_grey = None

    def __call__(self, alpha: np.ndarray, frame_rgb: np.ndarray) -> np.ndarray:
        grey = self.flow.prepare(frame_rgb)
        h, w = alpha.shape
        out = alpha
        if self._prev_alpha is not None and self._prev_alpha.shape == alpha.shape:
            # only where either matte is not 0 can the blend change anything:
            # the flows are computed in that box (grown so the motion and the
            # flow's own context fit), not over the whole frame
            pad = max(8, int(0.06 * max(h, w)))
            box = nonzero_box(np.maximum(alpha, self._prev_alpha), pad)
            if box is not None:
                out = self._blend_box(alpha, grey, box)
        self._prev_alpha = out
        self._prev_grey = grey
        return out

    def _blend_box(self, alpha: np.ndarray, grey: np.ndarray, box) -> np.ndarray:
        h, w = alpha.shape
        gh, gw = grey.shape
        y0, y1, x0, x1 = box
        sy, sx = gh / h, gw / w
        # the same box on the flow grid (at least 16 px a side for DIS)
        gy0, gx0 = int(y0 * sy), int(x0 * sx)
        gy1, gx1 = max(min(gh, gy0 + 16), int(np.ceil(y1 * sy))), max(min(gw, gx0 + 16), int(np.ceil(x1 * sx)))
        gy0, gx0 = max(0, min(gy0, gy1 - 16)), max(0, min(gx0, gx1 - 16))
        # alpha box matching the flow box exactly
        ay0, ay1 = int(round(gy0 / sy)), min(h, int(round(gy1 / sy)))
        ax0, ax1 = int(round(gx0 / sx)), min(w, int(round(gx1 / sx)))
        cur_g = np.ascontiguousarray(grey[gy0:gy1, gx0:gx1])
        prev_g = np.ascontiguousarray(self._prev_grey[gy0:gy1, gx0:gx1])
        size = (ax1 - ax0, ay1 - ay0)
        # flows and trust on the flow grid, then both upsampled to the box
        if self.check is not None:
            # the two flows are independent: compute them side by side (OpenCV
            # releases the GIL)
            job = _pool().submit(self.check.dis.calc, prev_g, cur_g, None)
            f = self.flow.dis.calc(cur_g, prev_g, None)
            trust = fb_consistency(f, job.result()).astype(np.float32)
        else:
            f = self.flow.dis.calc(cur_g, prev_g, None)
            err = cv2.absdiff(warp(prev_g, f), cur_g).astype(np.float32)
            # 1 up to the tolerance, falling to 0 at 1.5x it
            trust = np.clip(1.5 - err * (1.0 / self.tolerance), 0.0, 1.0)
        trust = cv2.resize(trust, size, interpolation=cv2.INTER_LINEAR)
        f_cp = cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
        f_cp[:, :, 0] *= size[0] / f.shape[1]
        f_cp[:, :, 1] *= size[1] / f.shape[0]
        a = alpha[ay0:ay1, ax0:ax1]
        carried = warp(np.ascontiguousarray(self._prev_alpha[ay0:ay1, ax0:ax1]), f_cp)
        diff = (a - carried) * (1.0 / self.agree)
        wgt = np.exp(-(diff * diff))
        wgt *= trust
        wgt *= np.float32(self.strength)
        if self.band > 0:
            # boiling is an edge effect: away from the current edge the current
            # matte stands, so a wrong flow cannot leave a ghost trail behind a
            # moving person
            r = max(1, int(round(self.band * max(h, w))))
            core = (a > 0.5).astype(np.uint8)
            k = _disk(r)
            near_edge = cv2.dilate(core, k) != cv2.erode(core, k)
            wgt *= near_edge
        out = alpha.copy()
        out[ay0:ay1, ax0:ax1] = a + wgt * (carried - a)
        return out


def edge_band(alpha: np.ndarray, width: int = 3) -> np.ndarray:
    """Boolean band of ``width`` pixels either side of the 0.5 contour."""
    b = (alpha > 0.5).astype(np.uint8)
    k = _disk(width)
    return (cv2.dilate(b, k) > 0) & ~(cv2.erode(b, k) > 0)


def edge_instability(alphas: list[np.ndarray], frames: list[np.ndarray], width: int = 3) -> float:
    """Mean |alpha_t − warp(alpha_{t+1})| inside an edge band, after flow
    alignment (forward-backward consistent pixels only): how much the matte
    edge boils. Lower is steadier."""
    est = FlowEstimator("medium", max_side=640)
    total, count = 0.0, 0
    for t in range(len(alphas) - 1):
        f = est(frames[t], frames[t + 1])
        b = est(frames[t + 1], frames[t])
        ok = fb_consistency(f, b)
        band = (edge_band(alphas[t], width) | edge_band(warp(alphas[t + 1], f), width)) & ok
        if band.any():
            d = np.abs(alphas[t] - warp(alphas[t + 1], f))[band]
            total += float(d.sum())
            count += int(band.sum())
    return total / max(count, 1)
