"""Matte refinement: edge-aware (guided filter), hole filling and speckle
removal, grow/shrink, feather, and temporal smoothing along optical flow.

All functions take and return float32 alpha in [0, 1] (HxW).
"""
from __future__ import annotations

import cv2
import numpy as np

from vedit.flow import FlowEstimator, fb_consistency, warp
from vedit.flow.ops import mask_bbox
from vedit.io.masks import to_alpha  # noqa: F401 - the one mask reader's converter, used here by name


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def nonzero_box(alpha: np.ndarray, pad: int = 0, level: float = 0.5 / 255.0) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the pixels above ``level``, grown by ``pad`` and
    clipped to the frame; None when there are none."""
    bb = mask_bbox(alpha > level)
    if bb is None:
        return None
    h, w = alpha.shape[:2]
    y0, y1, x0, x1 = bb
    return max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)


def guided_refine(alpha: np.ndarray, frame_rgb: np.ndarray, radius: int = 8, eps: float = 1e-3,
                  subsample: int = 1) -> np.ndarray:
    """Edge-aware refinement: guided filter of the matte with the frame as guide
    (opencv-contrib ``ximgproc``), so matte edges snap to image edges. ``eps`` is
    in [0,1]² intensity units.

    Only the box around the matte's non-zero pixels (plus twice the radius) is
    filtered: beyond it every window sees a constant 0, which the filter keeps,
    so the result is the whole-frame filter's (within half a level) at the
    cost of the person's box, not the frame's.

    ``subsample`` > 1 runs the fast guided filter (He and Sun, 2015) instead:
    see :func:`fast_guided_filter`."""
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
    g, p = np.ascontiguousarray(guide[y0:y1, x0:x1]), np.ascontiguousarray(a[y0:y1, x0:x1])
    if subsample > 1:
        sub = fast_guided_filter(g, p, int(radius), float(eps), int(subsample))
    else:
        sub = cv2.ximgproc.guidedFilter(g, p, int(radius), float(eps) * 255.0 * 255.0)
    np.clip(sub, 0.0, 1.0, out=sub)
    out[y0:y1, x0:x1] = sub
    return out


def fast_guided_filter(guide: np.ndarray, p: np.ndarray, radius: int, eps: float = 1e-3,
                       subsample: int = 2) -> np.ndarray:
    """Colour guided filter of ``p`` (float32 HxW) by ``guide`` (RGB uint8),
    ``eps`` in [0,1]² units, the fast way (He and Sun, "Fast Guided Filter",
    2015): the per-window linear coefficients (a, b), the part that costs, are
    computed on both images shrunk ``subsample`` times (radius shrunk to
    match), upsampled, and applied to the full-resolution guide, so the
    output still follows the guide's edges pixel for pixel. With
    ``subsample`` 2, about 1.7 times as fast as ``cv2.ximgproc.guidedFilter``
    on a person matte at 640x360 (2.6 vs 4.4 ms); the two mattes differ by a
    few levels at edges (tests/masks)."""
    h, w = p.shape
    sw, sh = max(1, -(-w // subsample)), max(1, -(-h // subsample))
    small = cv2.resize(guide, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    small *= np.float32(1.0 / 255.0)
    ir, ig, ib = cv2.split(small)
    ps = cv2.resize(p, (sw, sh), interpolation=cv2.INTER_AREA)
    k = 2 * max(1, int(round(radius / subsample))) + 1

    def mean(x):
        return cv2.boxFilter(x, -1, (k, k), borderType=cv2.BORDER_REFLECT)

    mr, mg, mb, mp = mean(ir), mean(ig), mean(ib), mean(ps)
    # the guide's covariance matrix in each window (eps on the diagonal) and
    # its covariance with p
    rr = mean(ir * ir) - mr * mr + np.float32(eps)
    gg = mean(ig * ig) - mg * mg + np.float32(eps)
    bb = mean(ib * ib) - mb * mb + np.float32(eps)
    rg, rb, gb = mean(ir * ig) - mr * mg, mean(ir * ib) - mr * mb, mean(ig * ib) - mg * mb
    cr, cg, cb = mean(ir * ps) - mr * mp, mean(ig * ps) - mg * mp, mean(ib * ps) - mb * mp
    # a = (covariance + eps)^-1 (covariance with p): symmetric 3x3 inverse by cofactors
    c00, c01, c02 = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    c11, c12, c22 = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    inv_det = 1.0 / (rr * c00 + rg * c01 + rb * c02)
    ar = (c00 * cr + c01 * cg + c02 * cb) * inv_det
    ag = (c01 * cr + c11 * cg + c12 * cb) * inv_det
    ab = (c02 * cr + c12 * cg + c22 * cb) * inv_det
    b = mp - ar * mr - ag * mg - ab * mb
    # mean coefficients, upsampled; q = a . I + b at full resolution, as one
    # 4-channel product (guide, 255) x (a, b) / 255 summed over channels
    coef = cv2.resize(mean(cv2.merge([ar, ag, ab, b])), (w, h), interpolation=cv2.INTER_LINEAR)
    full = cv2.cvtColor(guide, cv2.COLOR_RGB2RGBA)  # the added channel is 255
    prod = cv2.multiply(coef, full, scale=1.0 / 255.0, dtype=cv2.CV_32F)
    return cv2.transform(prod, np.ones((1, 4), np.float32))


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
    the box where either matte is not 0, with the preset's patch stride and
    variational refinement replaced by ``PATCH_STRIDE`` and ``REFINE_ITERS``.
    ``band`` > 0 limits blending to that fraction of the long side around the
    current edge.
    """

    # Tennis, first 30 frames (tests/masks): the edge instability drops 42%
    # with fast DIS at 320 px, finest scale 1 and the forward-backward check,
    # as with the former medium DIS at 480 px, at about half the CPU (14 vs
    # 25 ms a frame at 432x240). FAST's default finest scale 2: 35%.
    # Photometric check: 45%, but more of the faint trail a moving edge leaves
    # (alpha > 0.05 far from the person on 8% of the frame vs 2%), and a band
    # of 6% removes the trail but also most of the gain (30%): the measure
    # rewards the slow decay of carried values.
    # Tennis, all 70 frames (bench/matte.py, cast shadow included): FAST at
    # 240 px with patches every 5 px (FAST: 4) and 4 variational refinement
    # iterations (FAST: 5) keeps about the gain of FAST at 320 px (39.8% vs
    # 41.1% lower; 42.0% vs 41.9% on the clip upscaled to 720p) and the faint
    # trail (alpha > 0.05 beyond 15 px of the true mask: 0.32% vs 0.34% of the
    # frame, 0.42% vs 0.42% at 720p) for 45% less flow CPU (at 720p, two
    # flows a frame over most of the frame). FAST alone at 240 px: 42.7%, but
    # a trail of 0.50%; at 280 px with these settings: 41.3%, 0.34%.
    PATCH_STRIDE = 5
    REFINE_ITERS = 4

    def __init__(self, strength: float = 0.85, agree: float = 1.0, flow_side: int = 240, flow_preset: str = "fast",
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
        for est in (self.flow, self.check):
            if est is not None:
                est.dis.setPatchStride(self.PATCH_STRIDE)
                est.dis.setVariationalRefinementIterations(self.REFINE_ITERS)
        self._prev_alpha: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None
        self._grid: np.ndarray | None = None  # pixel coordinates (x, y) at the matte's size, made once

    def reset(self) -> None:
        self._prev_alpha = None
        self._prev_grey = None

    def __call__(self, alpha: np.ndarray, frame_rgb: np.ndarray) -> np.ndarray:
        grey = self.flow.prepare(frame_rgb)
        h, w = alpha.shape
        out = alpha
        prev_alpha, prev_grey = self._prev_alpha, self._prev_grey
        if prev_alpha is not None and prev_grey is not None and prev_alpha.shape == alpha.shape:
            # only where either matte is not 0 can the blend change anything:
            # the flows are computed in that box (grown so the motion and the
            # flow's own context fit), not over the whole frame
            pad = max(8, int(0.06 * max(h, w)))
            box = nonzero_box(np.maximum(alpha, prev_alpha), pad)
            if box is not None:
                out = self._blend_box(alpha, grey, prev_alpha, prev_grey, box)
        self._prev_alpha = out
        self._prev_grey = grey
        return out

    def _blend_box(self, alpha: np.ndarray, grey: np.ndarray, prev_alpha: np.ndarray, prev_grey: np.ndarray,
                   box: tuple[int, int, int, int]) -> np.ndarray:
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
        prev_g = np.ascontiguousarray(prev_grey[gy0:gy1, gx0:gx1])
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
        # the flow upsampled to the box, its vectors scaled to match, plus the
        # box's pixel coordinates: where each box pixel comes from in the
        # previous matte (sampled there directly, no crop)
        f_cp = cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
        f_cp = cv2.multiply(f_cp, (size[0] / f.shape[1], size[1] / f.shape[0], 0.0, 0.0))
        grid = self._grid
        if grid is None or grid.shape[:2] != (h, w):
            grid = self._grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        carried = cv2.remap(prev_alpha, cv2.add(grid[ay0:ay1, ax0:ax1], f_cp), None, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        a = alpha[ay0:ay1, ax0:ax1]
        # wgt = strength * trust * exp(-((a - carried) / agree)^2)
        d = cv2.absdiff(a, carried)
        wgt = cv2.exp(cv2.multiply(d, d, scale=-1.0 / (self.agree * self.agree)))
        wgt = cv2.multiply(wgt, trust, scale=self.strength)
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
        # a + wgt * (carried - a)
        out[ay0:ay1, ax0:ax1] = cv2.add(a, cv2.multiply(wgt, cv2.subtract(carried, a)))
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
