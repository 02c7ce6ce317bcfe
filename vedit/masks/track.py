"""Tracking a keyframe mask through a shot with motion, optical flow and colour.

Plain chained warping of a mask drifts and tears within a few dozen frames:
the flow around an object's edge is the background's, fast limbs outrun the
flow, and every error is carried to the next frame. The tracker instead
re-finds the object every frame from evidence that does not depend on the
previous mask, and only uses the previous mask to say *which* evidence is
the object:

1. **camera motion**: a robust homography (RANSAC on forward-backward
   consistent flow) between consecutive frames; chained, it aligns the
   frames a few steps before and after onto the current one;
2. **motion evidence**: pixels that differ from *both* camera-aligned
   neighbours (t−k and t+k; the minimum of the two differences cancels the
   ghost an object leaves where it was) move against the background. The
   connected moving regions that touch the transported previous mask are the
   object's moving part (identity); no drift accumulates, because this part
   is re-derived from the pixels every frame;
3. **static part**: what the keyframe mask holds beyond the moving evidence
   (a cast shadow, a dilation margin, a part at rest) is transported with the
   object's own motion (its residual flow against the camera, extended from
   the moving pixels by normalised convolution) by forward splatting, which
   conserves area (backward warping with object flow would smear the object
   into the background behind it). Parts of the mask outside the frame
   travel on a padded canvas, so a mask cut by the frame edge stays cut
   there. Its edge is corrected by colour (foreground/background histograms
   learnt at the keyframe, slowly updated);
4. the output is the union, with small holes and specks cleaned.

When the moving evidence collapses (the object stops), the transported
previous moving part stands in for it. When the mask shrinks or stops
looking like the keyframe (the object goes behind something), the object is
*hidden*: its last whole extent is carried on by the camera and its own
velocity (its pixels matched between frames, not its centre, which moves
when part of it goes out of sight), the matte is what still moves inside a
window around that prediction (the parts showing beside the occluder), and
a moving region of the keyframe's colours and the recent size near it ends
the occlusion. Frames after the one being tracked
(``ahead``) are needed for step 2; ``_track_stream`` keeps a short lookahead.
"""
from __future__ import annotations

import os
from collections import deque
from typing import Iterator, NamedTuple

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.flow import fit_global_motion, homography_flow, warp
from vedit.flow.ops import consistency_from_sampled
from vedit.io import Clip
from vedit.masks.base import MatteSource, work_size
from vedit.masks.refine import fill_holes

_BINS = 16
LOOKAHEAD = 3  # frames on each side compared with the current one


def _disk(r: int) -> np.ndarray:
    r = max(1, int(r))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _quantise(frame: np.ndarray) -> np.ndarray:
    q = (frame[:, :, :3] // (256 // _BINS)).astype(np.int32)
    return (q[:, :, 0] * _BINS + q[:, :, 1]) * _BINS + q[:, :, 2]


def _hist(codes: np.ndarray, sel: np.ndarray) -> np.ndarray:
    h = np.bincount(codes[sel], minlength=_BINS ** 3).astype(np.float32)
    # spread counts to neighbouring bins so unseen-but-close colours score sensibly
    h = cv2.GaussianBlur(h.reshape(_BINS, _BINS * _BINS), (3, 3), 0.8).reshape(-1)
    return h / max(h.sum(), 1.0)


def _extend_flow(flow: np.ndarray, known: np.ndarray, sigma: float) -> np.ndarray:
    """Extend flow from ``known`` pixels outward (normalised Gaussian convolution,
    computed at reduced resolution since the result is smooth); far from any
    known pixel it tends to the median known flow."""
    if known.sum() < 5:
        return flow
    h, w = known.shape
    med = np.median(flow[known], axis=0)
    s = max(1, int(sigma // 3))
    sw, sh = max(1, w // s), max(1, h // s)
    k = cv2.resize(known.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
    fk = cv2.resize(flow * known[:, :, None], (sw, sh), interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(fk, (0, 0), sigma / s)
    den = cv2.GaussianBlur(k, (0, 0), sigma / s)
    num = cv2.resize(num, (w, h), interpolation=cv2.INTER_LINEAR)
    den = cv2.resize(den, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    wgt = np.clip(den * 8.0, 0, 1)
    ext = num / np.maximum(den, 1e-6)
    ext = wgt * ext + (1 - wgt) * med[None, None, :]
    return np.where(known[:, :, None], flow, ext).astype(np.float32)


def _splat(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Forward-warp a boolean mask: each set pixel moves to x + flow(x)
    (nearest pixel; pixels landing outside are dropped)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    d = flow[ys, xs]
    nx = np.rint(xs + d[:, 0]).astype(np.int64)
    ny = np.rint(ys + d[:, 1]).astype(np.int64)
    v = (nx >= 0) & (nx < w) & (ny >= 0) & (ny < h)
    out = np.zeros(h * w, np.uint8)
    out[ny[v] * w + nx[v]] = 1
    return out.reshape(h, w)


def _centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return np.array([mask.shape[1] / 2, mask.shape[0] / 2])
    return np.array([xs.mean(), ys.mean()])


def _moved(H: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Point ``c`` (x, y) mapped by homography ``H``."""
    p = H @ np.array([c[0], c[1], 1.0])
    return p[:2] / p[2]


def _shift(pad: int) -> np.ndarray:
    return np.array([[1, 0, pad], [0, 1, pad], [0, 0, 1.0]])


class _Motion(NamedTuple):
    """From a window frame to the next one."""

    fwd: np.ndarray  # dense flow
    ok: np.ndarray  # where that flow is forward-backward consistent
    H: np.ndarray  # the camera's homography


class _Frame:
    """A frame in the tracker's window, with the motion to the next one."""

    __slots__ = ("rgb", "grey", "blur", "_motion")

    def __init__(self, rgb: np.ndarray):
        self.rgb = np.ascontiguousarray(rgb[:, :, :3])
        self.grey = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
        self.blur = cv2.GaussianBlur(self.rgb, (3, 3), 0).astype(np.float32)
        self._motion: _Motion | None = None  # set when the next frame arrives

    @property
    def motion(self) -> _Motion:
        if self._motion is None:
            raise RuntimeError("the newest frame of the tracker's window has no motion to a next one yet")
        return self._motion

    @motion.setter
    def motion(self, m: _Motion) -> None:
        self._motion = m


class MaskTracker:
    """Carries a mask from frame to frame. ``step(frame, ahead=[...])`` →
    float32 alpha; ``ahead`` are the frames that follow ``frame`` (up to
    ``2 * LOOKAHEAD``; fewer at the end of a shot, or none, which weakens
    the motion evidence). ``core`` is the current mask (bool)."""

    def __init__(self, frame: np.ndarray, mask: np.ndarray, k: int = LOOKAHEAD,
                 colour_weight: float = 0.6, learn: float = 0.05, diff_threshold: float = 25.0,
                 ahead: list[np.ndarray] | None = None):
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        m = mask > 0.5
        h, w = m.shape
        s = min(h, w)
        self.k = max(1, int(k))
        self.colour_weight = colour_weight
        self.learn = learn
        self.diff_threshold = diff_threshold
        self.unit = max(2, round(s / 60))       # a length scale for rings and margins
        self.grow = self.unit                   # evidence is dilated like the keyframe mask (measured)
        self.close = round(2.5 * self.unit)     # bridges the gaps in a moving object's evidence
        self.reach = max(3, round(s / 40))      # evidence this near the prediction is the object
        self.band = max(2, round(s / 48))       # colour decides this near the static part's edge
        self.sigma = max(4.0, s / 24)           # spread of the object's own motion
        self.pad = max(16, round(s / 5))        # canvas beyond the frame for cut-off parts
        self.win: deque[_Frame] = deque()       # frames t-k .. t+k (t = self.pos in it)
        self.pos = 0
        self.win.append(_Frame(frame))
        self._feed(ahead or [])
        codes = _quantise(self.win[0].rgb)
        ring = (cv2.dilate(m.astype(np.uint8), _disk(6 * self.unit)) > 0) & ~m
        if ring.sum() < 50:
            ring = ~m
        self.fg = _hist(codes, m)
        self.bg = _hist(codes, ring)
        self.grow = self._measure_grow(m)
        # where frame differencing cannot explain the keyframe mask (an object
        # without texture, a periodic pattern moving along itself) the whole
        # mask is carried by its own motion and colour only
        self.use_motion = self.fit >= 0.55
        moving = self._object_evidence(m) & m if self.use_motion else np.zeros_like(m)
        self.moving = moving                    # the object's moving part (re-found every frame)
        self.static = m & ~moving               # the rest of the mask (transported)
        self.core = m
        # occlusion: the keyframe's appearance (frozen) and recent good frames
        self.fg0, self.bg0 = self.fg.copy(), self.bg.copy()
        self.like_key = max(1e-3, float(self._likeness(codes)[m].mean()))
        self.areas: deque[float] = deque([float(m.sum())], maxlen=10)
        self.centres: deque[np.ndarray] = deque([_centre(m)], maxlen=6)
        self.good = m                           # the last confident mask
        self.full = m                           # the object's whole extent, carried while parts are hidden
        self.lost = 0                           # frames since the object was lost (0: tracked)
        self.velocity = np.zeros(2)             # object motion against the camera, px a frame
        self.confidence = 1.0
        self.full_share = 0.8                   # a mask this near the recent area shows the whole object
        self.min_visible = 0.05                 # share of the recent area that stands for a hidden object
        self.vel_hist: deque[np.ndarray] = deque(maxlen=5)
        self.own_velocity: np.ndarray | None = None

    # -- frame window -------------------------------------------------------------
    def _link(self, a: _Frame, b: _Frame) -> None:
        f = self.dis.calc(a.grey, b.grey, None)
        bw = self.dis.calc(b.grey, a.grey, None)
        ok = consistency_from_sampled(f, warp(bw, f))
        H = fit_global_motion(f, ok)
        if H is None:
            H = np.eye(3)
            H[:2, 2] = np.median(f.reshape(-1, 2), axis=0)
        a.motion = _Motion(f, ok, H)

    def _push(self, frame: np.ndarray) -> None:
        fr = _Frame(frame)
        self._link(self.win[-1], fr)
        self.win.append(fr)

    def _feed(self, frames: list[np.ndarray]) -> None:
        """Append the frames of ``frames`` not yet in the window (``frames`` are
        the ones following the current frame, in order)."""
        have = len(self.win) - 1 - self.pos
        for f in list(frames)[have:2 * self.k]:
            self._push(f)

    def _chain(self, a: int, b: int) -> np.ndarray:
        """Homography from window frame a's coordinates to window frame b's."""
        M = np.eye(3)
        if b > a:
            for i in range(a, b):
                M = self.win[i].motion.H @ M
        else:
            for i in range(a - 1, b - 1, -1):
                M = np.linalg.inv(self.win[i].motion.H) @ M
        return M

    # -- evidence -------------------------------------------------------------
    def _difference(self) -> np.ndarray:
        """min over the neighbours t±k (as available) of the colour difference
        to the camera-aligned neighbour; NaN-free, 0 where nothing overlaps."""
        cur = self.win[self.pos]
        h, w = cur.grey.shape
        lo, hi = self.pos - self.k, self.pos + self.k
        if lo >= 0 and hi < len(self.win):
            pick = (lo, hi)
        elif hi < len(self.win):  # start of the shot: two later frames (k, 2k) also cancel ghosts
            pick = (hi, min(self.pos + 2 * self.k, len(self.win) - 1))
        elif lo >= 0:
            pick = (lo, max(self.pos - 2 * self.k, 0))
        else:
            pick = (0, len(self.win) - 1)
        ds = []
        for j in dict.fromkeys(pick):
            if j == self.pos:
                continue
            Hm = self._chain(self.pos, j)
            nb = cv2.warpPerspective(self.win[j].blur, Hm, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(-1e4, -1e4, -1e4))
            d = np.abs(nb - cur.blur).max(axis=2)
            d[nb[:, :, 0] < -1e3] = np.nan
            ds.append((j, d))
        if not ds:
            return np.zeros((h, w), np.float32)
        d = ds[0][1] if len(ds) == 1 else np.fmin(ds[0][1], ds[1][1])
        return np.nan_to_num(d, nan=0.0)

    def _moving(self) -> np.ndarray:
        e = (self._difference() > self.diff_threshold).astype(np.uint8)
        e = cv2.morphologyEx(e, cv2.MORPH_OPEN, _disk(1))
        return cv2.morphologyEx(e, cv2.MORPH_CLOSE, _disk(3))

    def _measure_grow(self, m: np.ndarray) -> int:
        """How far the keyframe mask reaches beyond the moving pixels (drawn and
        dataset masks are often dilated): the dilation of the evidence that
        best matches the mask near the evidence."""
        e = cv2.morphologyEx(self._moving(), cv2.MORPH_CLOSE, _disk(self.close))
        e = e & cv2.dilate(m.astype(np.uint8), _disk(self.reach))
        self.fit = 0.0
        if e.sum() < 20:
            return self.grow
        top = 3 * self.grow + 2
        region = cv2.dilate(e, _disk(top + 2)) > 0
        mm = m & region
        best, arg = -1.0, 0
        for g in range(top + 1):
            d = (cv2.dilate(e, _disk(g)) > 0) if g else e > 0
            score = (d & mm).sum() / max((d | mm).sum(), 1)
            if score > best:
                best, arg = score, g
        self.fit = float(best)
        return arg

    def _evidence(self) -> np.ndarray:
        """The moving pixels closed over the object's inside (frame differences
        fire on a uniform region's edges only; closing fills between them
        without spreading past the outline as a dilation would), then grown
        like the keyframe mask."""
        e = cv2.morphologyEx(self._moving(), cv2.MORPH_CLOSE, _disk(self.close))
        if self.grow:
            e = cv2.dilate(e, _disk(self.grow))
        return e

    def _object_evidence(self, near: np.ndarray) -> np.ndarray:
        """Moving regions (against the camera) that touch ``near``."""
        e = self._evidence()
        n, lab = cv2.connectedComponents(e)
        if n < 2:
            return np.zeros(e.shape, bool)
        hit = np.bincount(lab[cv2.dilate(near.astype(np.uint8), _disk(self.reach)) > 0], minlength=n)
        hit[0] = 0
        return hit[lab] > 0

    def _transport(self, mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        p = self.pad
        mp = cv2.copyMakeBorder(mask.astype(np.uint8), p, p, p, p, cv2.BORDER_REPLICATE)
        out = _splat(mp > 0, flow)
        out = cv2.morphologyEx(out, cv2.MORPH_CLOSE, _disk(2))
        return out[p:p + h, p:p + w] > 0

    def _object_flow(self, prev: _Frame, mask: np.ndarray) -> np.ndarray:
        """prev → cur motion of the object on the padded canvas: the camera's
        homography plus the object's own residual flow, measured on its
        moving, consistent pixels and extended to the rest of it."""
        h, w = mask.shape
        p = self.pad
        cam = homography_flow(prev.motion.H, h, w)
        resid = prev.motion.fwd - cam
        mag = np.linalg.norm(resid, axis=2)
        outside = ~(cv2.dilate(mask.astype(np.uint8), _disk(2 * self.unit)) > 0)
        thr = max(1.0, 3.0 * float(np.median(mag[outside]))) if outside.any() else 1.0
        known = (mag > thr) & prev.motion.ok & mask
        self.own_velocity = self._match_velocity(prev, mask)
        campad = homography_flow(_shift(p) @ prev.motion.H @ _shift(-p), h + 2 * p, w + 2 * p)
        if known.sum() < 20:
            return campad
        kp = cv2.copyMakeBorder(known.astype(np.uint8), p, p, p, p, cv2.BORDER_CONSTANT, value=0) > 0
        rp = cv2.copyMakeBorder(resid, p, p, p, p, cv2.BORDER_CONSTANT, value=0)
        return campad + _extend_flow(rp, kp, self.sigma)

    def _match_velocity(self, prev: _Frame, mask: np.ndarray) -> np.ndarray | None:
        """The object's own motion from the previous frame to this one (px,
        against the camera): its pixels in the previous frame matched in this
        one (masked template matching). Its pixels' motion rather than its
        centre's: a centre shifts when part of the object goes out of sight;
        and a match rather than the flow, which a thin object's surroundings
        smooth away."""
        ys, xs = np.nonzero(mask)
        if len(xs) < 20:
            return None
        h, w = mask.shape
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        r = max(8, round(0.5 * max(x1 - x0, y1 - y0)))
        c = np.array([(x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2])
        cam = _moved(prev.motion.H, c) - c
        sx0, sy0 = int(round(x0 + cam[0])) - r, int(round(y0 + cam[1])) - r
        sx1, sy1 = int(round(x1 + cam[0])) + r, int(round(y1 + cam[1])) + r
        if sx0 < 0 or sy0 < 0 or sx1 > w or sy1 > h:
            return None  # near the frame edge the search window would be cut
        tpl = prev.blur[y0:y1, x0:x1]
        tm = np.repeat(mask[y0:y1, x0:x1, None].astype(np.float32), 3, axis=2)
        res = cv2.matchTemplate(self.win[self.pos].blur[sy0:sy1, sx0:sx1], tpl, cv2.TM_SQDIFF, mask=tm)
        _, _, loc, _ = cv2.minMaxLoc(res)
        return np.array([sx0 + loc[0] - x0, sy0 + loc[1] - y0], np.float64) - cam

    # -- tracking -------------------------------------------------------------
    def output(self) -> np.ndarray:
        return self.core.astype(np.float32)

    def _likeness(self, codes: np.ndarray) -> np.ndarray:
        """Per pixel, how much more the keyframe's object colours explain it
        than the keyframe's surroundings (0..1)."""
        pf, pb = self.fg0[codes], self.bg0[codes]
        return np.where(pf + pb < 1e-9, 0.5, pf / np.maximum(pf + pb, 1e-12)).astype(np.float32)

    def _score(self, core: np.ndarray, codes: np.ndarray) -> float:
        """Confidence 0..1: the mask's area against the recent ones times its
        colour match with the keyframe."""
        if not core.any():
            return 0.0
        ref = float(np.median(self.areas))
        r = float(core.sum()) / max(ref, 1.0)
        like = float(self._likeness(codes)[core].mean()) / self.like_key
        return float(min(r, 1.0 / r) * min(1.0, like))

    def _carry(self, mask: np.ndarray, prev: _Frame, velocity: np.ndarray | None) -> np.ndarray:
        """``mask`` moved from the previous frame to this one by the camera
        and the object's own velocity (a translation, px a frame)."""
        T = np.eye(3)
        if velocity is not None:
            T[:2, 2] = velocity
        h, w = mask.shape
        return cv2.warpPerspective(mask.astype(np.uint8), T @ prev.motion.H, (w, h), flags=cv2.INTER_NEAREST) > 0

    def _predicted(self, prev: _Frame, shape) -> np.ndarray:
        """Where the whole object should be now (it is hidden): its last full
        extent carried by the camera and its own velocity."""
        self.full = self._carry(self.full, prev, self.velocity)
        self.centres.append(_centre(self.full))
        return self.full

    def _redetect(self, codes: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
        """The object found again near its predicted place: a region moving
        against the camera whose colours match the keyframe's and whose
        size matches the recent mask's; None when nothing fits."""
        e = self._evidence()
        n, lab, stats, cents = cv2.connectedComponentsWithStats(e)
        if n < 2:
            return None
        ref = float(np.median(self.areas))
        pc = _centre(pred)
        gy, gx = np.nonzero(self.good)
        reach = 1.5 * max(gx.ptp() + 1, gy.ptp() + 1) if len(gx) else 50.0
        like = self._likeness(codes)
        best, best_score = None, 0.0
        for i in range(1, n):
            area = float(stats[i, cv2.CC_STAT_AREA])
            d = float(np.hypot(*(cents[i] - pc)))
            if area < 0.25 * ref or area > 3.0 * ref or d > reach:
                continue
            comp = lab == i
            lk = float(like[comp].mean()) / self.like_key
            score = min(1.0, lk) * min(1.0, area / ref) * (1.0 - 0.5 * d / reach)
            if lk > 0.75 and score > best_score:
                best, best_score = comp, score
        return best

    def _visible(self, pred: np.ndarray) -> np.ndarray:
        """While the object is hidden: what still moves against the camera
        inside a window around its predicted place (the parts that show on
        either side of the occluder), or the prediction itself when nothing
        there moves enough to stand for the object."""
        if not pred.any():
            return pred
        ys, xs = np.nonzero(pred)
        r = max(self.reach, round(0.25 * max(int(np.ptp(xs)), int(np.ptp(ys)))))
        window = cv2.dilate(pred.astype(np.uint8), _disk(r)) > 0
        vis = self._evidence().astype(bool) & window
        ref = float(np.median(self.areas))
        return vis if vis.sum() >= self.min_visible * ref else pred

    def _object_velocity(self) -> np.ndarray:
        # median: one failed match (the object half behind something) is outvoted
        return np.median(self.vel_hist, axis=0) if self.vel_hist else np.zeros(2)

    def _tight(self, core: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """The part of the mask that overlaps the previous mask most and what
        lies close to it: a far blob (a moving branch, a shadow passing by)
        is not the object."""
        n, lab = cv2.connectedComponents(core.astype(np.uint8))
        if n <= 2:
            return core
        overlap = np.bincount(lab[prior], minlength=n)
        overlap[0] = 0
        if not overlap.any():
            return core
        big = int(np.argmax(overlap))
        ys, xs = np.nonzero(lab == big)
        size = max(int(np.ptp(xs)), int(np.ptp(ys)), 1)
        near = cv2.distanceTransform((lab != big).astype(np.uint8), cv2.DIST_L2, 5) <= max(2 * self.unit, size // 2)
        keep = np.zeros(n, bool)
        keep[np.unique(lab[near])] = True
        keep[0] = False
        return keep[lab]

    def step(self, frame: np.ndarray, anchor: np.ndarray | None = None,
             ahead: list[np.ndarray] | None = None) -> np.ndarray:
        """Track onto ``frame`` (the frame after the previous one). ``ahead``:
        the frames after ``frame`` (a short lookahead). ``anchor`` (optional
        alpha from a model for this frame) re-anchors the mask where given."""
        if len(self.win) - 1 > self.pos:
            self.pos += 1  # ``frame`` is already in the window (it was ahead)
        else:
            self._push(frame)
            self.pos += 1
        self._feed(ahead or [])
        while self.pos > 2 * self.k:
            self.win.popleft()
            self.pos -= 1
        prev, cur = self.win[self.pos - 1], self.win[self.pos]
        codes = _quantise(cur.rgb)
        if self.lost:
            pred = self._predicted(prev, self.core.shape)
            found = self._redetect(codes, pred)
            if found is None:
                self.lost += 1
                self.confidence = 0.0
                self.core = self._visible(pred)
                return self.output()
            self.lost = 0
            self.moving, self.static = found, np.zeros_like(found)
            self.core = found
            self.confidence = self._score(found, codes)
            self.centres.append(_centre(found))
            return self.output()
        flow = self._object_flow(prev, self.core)
        static = self._transport(self.static, flow)
        moving_pred = self._transport(self.moving, flow)
        if not self.use_motion:
            moving = moving_pred
        else:
            moving = self._object_evidence(static | moving_pred)
        if moving.sum() < 0.5 * self.moving.sum():
            moving = moving | moving_pred  # the object (mostly) stopped
        pf, pb = self.fg[codes], self.bg[codes]
        like = np.where(pf + pb < 1e-9, 0.5, pf / np.maximum(pf + pb, 1e-12)).astype(np.float32)
        if static.any():
            edge = static & ~(cv2.erode(static.astype(np.uint8), _disk(1)) > 0)
            band = (cv2.dilate(edge.astype(np.uint8), _disk(self.band)) > 0) & ~moving
            prior = cv2.GaussianBlur(static.astype(np.float32), (0, 0), 1.5)
            score = (1 - self.colour_weight) * prior + self.colour_weight * like
            static = np.where(band, score > 0.5, static)
        core = static | moving
        if anchor is not None:
            core = (0.3 * core + 0.7 * anchor.astype(np.float32)) > 0.5
            moving &= core
            static = core & ~moving
        core = self._tight(fill_holes(core.astype(np.float32), max_hole=0.01, min_island=0.05) > 0.5, self.core)
        self.confidence = self._score(core, codes)
        if self.confidence < 0.35 and len(self.areas) >= 3:
            # hidden (behind something) or lost: from now on predicted by the
            # motion model until it is found again
            self.lost = 1
            self.velocity = self._object_velocity()
            self.core = self._visible(self._predicted(prev, core.shape))
            return self.output()
        self.areas.append(float(core.sum()))
        c = _centre(core)
        fv = self.own_velocity
        self.vel_hist.append(fv if fv is not None else c - _moved(prev.motion.H, self.centres[-1]))
        self.centres.append(c)
        self.good = core
        # a mask that shrank has part of the object out of sight: the whole
        # extent is the last full one, carried along
        full = core.sum() >= self.full_share * float(np.median(self.areas))
        self.full = core if full else self._carry(self.full, prev, fv)
        if self.learn and core.any():
            c8 = core.astype(np.uint8)
            sure_fg = cv2.erode(c8, _disk(3)) > 0
            sure_bg = (cv2.dilate(c8, _disk(6 * self.unit)) > 0) & ~(cv2.dilate(c8, _disk(self.grow + 1)) > 0)
            if sure_fg.sum() > 20:
                self.fg = (1 - self.learn) * self.fg + self.learn * _hist(codes, sure_fg)
            if sure_bg.sum() > 20:
                self.bg = (1 - self.learn) * self.bg + self.learn * _hist(codes, sure_bg)
        self.static, self.moving = static & core, moving & core
        self.core = core
        return self.output()


def track_frames(frames: list[np.ndarray] | Iterator[np.ndarray], key_index: int, key_mask: np.ndarray,
                 frames_before: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Track over an in-memory list of frames (forward and backward from the key)."""
    frames = list(frames)
    k = 2 * LOOKAHEAD
    t = MaskTracker(frames[key_index], key_mask, ahead=frames[key_index + 1:key_index + 1 + k])
    after = [t.output()]
    for i in range(key_index + 1, len(frames)):
        after.append(t.step(frames[i], ahead=frames[i + 1:i + 1 + k]))
    before: list[np.ndarray] = []  # key_index - 1 down to 0
    if key_index:
        rev = frames[:key_index + 1][::-1]
        t = MaskTracker(rev[0], key_mask, ahead=rev[1:1 + k])
        for j in range(1, len(rev)):
            before.append(t.step(rev[j], ahead=rev[j + 1:j + 1 + k]))
    return before[::-1] + after


class TrackMatteSource(MatteSource):
    """A keyframe mask (image) at ``frame`` tracked forward and backward
    through the clip's selected range with flow and colour (no model).
    ``mask``/``frame`` may be lists: several keyframes of the same object,
    tracked from both sides between them (:mod:`vedit.masks.keyframes`).

    Frames before the (first) keyframe are buffered at working resolution to
    be tracked backwards (memory grows with the keyframe index, or with the
    span between two keyframes, not with the clip)."""

    name = "track"
    description = "keyframe mask tracked with optical flow and colour"

    def __init__(self, mask: str | list[str] | None = None, frame: int | list[int] | None = 0, **_):
        from vedit.masks.keyframes import pair_keyframes

        if not mask:
            raise InvalidInputError("the tracked matte needs --mask KEYFRAME_MASK (an image)")
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        frames = None if frame is None else list(frame) if isinstance(frame, (list, tuple)) else [frame]
        self.keys = pair_keyframes(masks, frames)
        self.frame, self.path = self.keys[0]

    def check(self, clip: Clip) -> None:
        from vedit.masks.sources import read_alpha_image

        alphas = []
        for frame, path in self.keys:
            if not os.path.isfile(path):
                raise InvalidInputError(f"--mask {path}: keyframe mask file not found")
            a = read_alpha_image(path)
            if (a.shape[1], a.shape[0]) != (clip.width, clip.height):
                raise InvalidInputError(
                    f"--mask {path} is {a.shape[1]}x{a.shape[0]} but the input is "
                    f"{clip.width}x{clip.height}; the keyframe mask must match the footage size")
            if not (a > 0.5).any():
                raise InvalidInputError(f"--mask {path} is empty (no white pixels): nothing to track")
            if not 0 <= frame < clip.frame_count:
                raise InvalidInputError(f"--frame {frame} is outside the selected range (0..{clip.frame_count - 1})")
            alphas.append(a)
        self.key_alpha = alphas[0]
        self.key_alphas = alphas

    def keyframe_alpha(self, frame: np.ndarray, clip: Clip) -> np.ndarray:
        from vedit.masks.refine import resize_alpha

        return resize_alpha(self.key_alpha, (frame.shape[1], frame.shape[0]))

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not hasattr(self, "key_alphas"):
            self.check(clip)
        if len(self.keys) == 1:
            yield from _track_stream(self, clip)
            return
        from vedit.masks.keyframes import track_keyframes
        from vedit.masks.refine import resize_alpha

        size = work_size(clip.width, clip.height)
        keys = [(f, resize_alpha(a, size)) for (f, _), a in zip(self.keys, self.key_alphas)]
        self.confidence = []
        for f, a, c in track_keyframes(self.work_frames(clip), keys):
            self.confidence.append(c)
            yield f, a
        report_confidence(self.confidence, clip.start, self.confidence_path)


def _track_stream(src, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shared by every keyframe-prompted source: buffer up to the keyframe,
    track backwards, then stream forwards with a short lookahead.
    ``src.confidence`` collects the tracker's confidence per frame (0..1, 1
    on the keyframe; 0 while the object is hidden and only predicted)."""
    k = src.frame
    it = src.work_frames(clip)
    has_anchor = hasattr(src, "anchor")
    before: list[np.ndarray] = []
    for _ in range(k):
        before.append(next(it))
    key = next(it)
    key_alpha = src.keyframe_alpha(key, clip)
    n = 2 * LOOKAHEAD
    ahead: deque[np.ndarray] = deque()

    def fill():
        while len(ahead) < n + 1:
            try:
                ahead.append(next(it))
            except StopIteration:
                return

    if k:
        rev = before[::-1]
        tr = MaskTracker(key, key_alpha, ahead=rev[:n])
        back, back_conf = [], []
        for j, f in enumerate(rev):
            back.append(tr.step(f, anchor=src.anchor(f, tr) if has_anchor else None, ahead=rev[j + 1:j + 1 + n]))
            back_conf.append(tr.confidence)
        src.confidence = list(reversed(back_conf))
        for f, a in zip(before, reversed(back)):
            yield f, a
        before.clear()
        del rev, back
    fill()
    tr = MaskTracker(key, key_alpha, ahead=list(ahead)[:n])
    if not k:
        src.confidence = []
    src.confidence.append(1.0)
    yield key, tr.output()
    while ahead:
        f = ahead.popleft()
        fill()
        a = tr.step(f, anchor=src.anchor(f, tr) if has_anchor else None, ahead=list(ahead)[:n])
        src.confidence.append(tr.confidence)
        yield f, a
    report_confidence(src.confidence, clip.start, src.confidence_path)


LOW_CONFIDENCE = 0.4  # below this a tracked frame is reported (warning line, sidecar)


def low_ranges(confidence: list[float], start: int = 0, threshold: float = LOW_CONFIDENCE) -> list[tuple[int, int]]:
    """The runs of frames (first, last; numbered from ``start``) whose
    confidence is below ``threshold``."""
    low = np.asarray(confidence, np.float32) < threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], low.astype(np.int8), [0]])))
    return [(start + int(a), start + int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def report_confidence(confidence: list[float], start: int = 0, path: str | None = None,
                      threshold: float = LOW_CONFIDENCE) -> list[tuple[int, int]]:
    """Say where a tracked matte is unsure: one warning line on stderr with
    the frame ranges, and (``path``) a JSON sidecar with the per-frame
    confidence, so a panel can show where to add a keyframe."""
    import json
    import sys

    ranges = low_ranges(confidence, start, threshold)
    if ranges:
        text = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in ranges)
        sys.stderr.write(f"warning: the tracked object is uncertain or hidden at frames {text} "
                         f"(confidence < {threshold}); add a keyframe there (--mask KEY.png --frame N)\n")
    if path:
        with open(path, "w") as f:
            json.dump({"start": start, "threshold": threshold, "confidence": [round(float(c), 3) for c in confidence],
                       "low": [list(r) for r in ranges]}, f)
    return ranges
