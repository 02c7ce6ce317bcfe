"""Tracking a keyframe mask through a shot with optical flow and colour.

Plain chained warping of a mask drifts and tears within a few dozen frames:
the flow around an object's edge is the background's, so a mask with a
margin (most hand-made and dataset masks are dilated) is smeared by the
background while the object moves elsewhere. The tracker instead

1. splits the keyframe mask into the object (``core``, found by GrabCut
   inside the mask) and the margin around it (its width ``r`` is measured);
2. moves the core with the object's own motion: the flow measured inside
   the core, extended smoothly outward (normalised convolution), so the
   margin travels with the object and not with the background;
3. corrects drift every frame with colour: foreground and background colour
   histograms (learnt at the keyframe, slowly updated) decide the pixels in
   a thin band around the predicted edge;
4. outputs the core grown back by the measured margin.
"""
from __future__ import annotations

import os
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.flow import FlowEstimator, fb_consistency, warp
from vedit.io import Clip
from vedit.masks.base import MatteSource
from vedit.masks.refine import fill_holes

_BINS = 16


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


def object_core(frame: np.ndarray, mask: np.ndarray, iters: int = 3) -> tuple[np.ndarray, int]:
    """The object inside a (possibly dilated) mask, and the margin width in
    pixels, by GrabCut restricted to the mask."""
    m = mask.astype(bool)
    if m.sum() < 50:
        return m, 0
    gc = np.where(m, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    inner = cv2.erode(m.astype(np.uint8), _disk(max(2, int(np.sqrt(m.sum()) * 0.08)))) > 0
    gc[inner] = cv2.GC_PR_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(frame[:, :, :3]), gc, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return m, 0
    core = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)) & m
    core = fill_holes(core.astype(np.float32), max_hole=0.01, min_island=0.05) > 0.5
    if core.sum() < 0.3 * m.sum():
        return m, 0  # GrabCut disagreed with the mask: trust the mask as drawn
    # margin: how far the mask boundary lies from the object, typically
    dist = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 3)
    edge = m & ~(cv2.erode(m.astype(np.uint8), _disk(1)) > 0)
    r = int(round(np.percentile(dist[edge], 50))) if edge.any() else 0
    if r <= 1:
        return m, 0
    return core, min(r, 25)


def _extend_flow(flow: np.ndarray, known: np.ndarray, sigma: float) -> np.ndarray:
    """Extend flow from ``known`` pixels outward (normalised Gaussian convolution);
    far from any known pixel it tends to the median known flow."""
    k = known.astype(np.float32)
    if k.sum() < 5:
        return flow
    med = np.median(flow[known], axis=0)
    num = cv2.GaussianBlur(flow * k[:, :, None], (0, 0), sigma)
    den = cv2.GaussianBlur(k, (0, 0), sigma)[:, :, None]
    wgt = np.clip(den * 8.0, 0, 1)
    ext = num / np.maximum(den, 1e-6)
    ext = wgt * ext + (1 - wgt) * med[None, None, :]
    return np.where(known[:, :, None], flow, ext).astype(np.float32)


class MaskTracker:
    """Carries a mask from frame to frame. ``step(frame)`` → float32 alpha."""

    def __init__(self, frame: np.ndarray, mask: np.ndarray, band: int | None = None,
                 colour_weight: float = 0.6, learn: float = 0.05):
        self.flow = FlowEstimator("fast", max_side=480)
        self.core, self.margin = object_core(frame, mask > 0.5)
        h, w = self.core.shape
        self.band = band or max(2, round(min(h, w) / 80))
        self.colour_weight = colour_weight
        self.learn = learn
        codes = _quantise(frame)
        ring = (cv2.dilate(self.core.astype(np.uint8), _disk(self.margin + 4 * self.band + 6)) > 0) & (mask <= 0.5)
        if ring.sum() < 50:
            ring = ~self.core
        self.fg = _hist(codes, self.core)
        self.bg = _hist(codes, ring)
        self.prev = frame
        self.prev_grey = self.flow.prepare(frame)

    def output(self) -> np.ndarray:
        c = self.core.astype(np.uint8)
        if self.margin:
            c = cv2.dilate(c, _disk(self.margin))
        return c.astype(np.float32)

    def step(self, frame: np.ndarray, anchor: np.ndarray | None = None) -> np.ndarray:
        """Track onto ``frame``. ``anchor`` (optional alpha from a model for this
        frame) replaces the colour evidence where given."""
        h, w = self.core.shape
        grey = self.flow.prepare(frame)
        fwd = self.flow(self.prev_grey, grey, size=(w, h), prepared=True)  # prev → cur
        bwd = self.flow(grey, self.prev_grey, size=(w, h), prepared=True)  # cur → prev
        ok = fb_consistency(fwd, bwd)
        known = (cv2.erode(self.core.astype(np.uint8), _disk(self.band)) > 0) & ok
        if known.sum() < 20:
            known = self.core & ok
        obj = _extend_flow(fwd, known, sigma=max(4.0, 3.0 * self.band + self.margin))
        # backward map for the object motion: out(x) = core(x − g(x − g(x)))
        back = -obj
        back = -warp(obj, back)
        prior = warp(self.core.astype(np.float32), back)
        prior = cv2.GaussianBlur(prior, (0, 0), 1.0)
        codes = _quantise(frame)
        pf, pb = self.fg[codes], self.bg[codes]
        like = pf / np.maximum(pf + pb, 1e-12)
        like = np.where(pf + pb < 1e-9, 0.5, like).astype(np.float32)
        if anchor is not None:
            # a model's answer for this frame re-anchors the whole mask (drift control)
            score = 0.3 * prior + 0.7 * anchor.astype(np.float32)
        else:
            edge = (prior > 0.02) & (prior < 0.98)
            band = cv2.dilate(edge.astype(np.uint8), _disk(self.band)) > 0
            score = np.where(band, (1 - self.colour_weight) * prior + self.colour_weight * like, prior)
        core = score > 0.5
        core = fill_holes(core.astype(np.float32), max_hole=0.01, min_island=0.05) > 0.5
        # keep the object from collapsing or exploding in one step
        area0, area1 = self.core.sum(), core.sum()
        if anchor is None and area0 and not (0.7 * area0 <= area1 <= 1.4 * area0):
            core = prior > 0.5
        # slowly learn colours from confident pixels
        if self.learn and core.any():
            sure_fg = cv2.erode(core.astype(np.uint8), _disk(self.band)) > 0
            sure_bg = (cv2.dilate(core.astype(np.uint8), _disk(self.margin + 3 * self.band)) == 0) & \
                      (cv2.dilate(core.astype(np.uint8), _disk(self.margin + 8 * self.band + 6)) > 0)
            if sure_fg.sum() > 20:
                self.fg = (1 - self.learn) * self.fg + self.learn * _hist(codes, sure_fg)
            if sure_bg.sum() > 20:
                self.bg = (1 - self.learn) * self.bg + self.learn * _hist(codes, sure_bg)
        self.core = core
        self.prev, self.prev_grey = frame, grey
        return self.output()


def track_frames(frames: list[np.ndarray] | Iterator[np.ndarray], key_index: int, key_mask: np.ndarray,
                 frames_before: list[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Helper for tests: track over an in-memory list of frames."""
    frames = list(frames)
    out: list[np.ndarray | None] = [None] * len(frames)
    t = MaskTracker(frames[key_index], key_mask)
    out[key_index] = t.output()
    for i in range(key_index + 1, len(frames)):
        out[i] = t.step(frames[i])
    t = MaskTracker(frames[key_index], key_mask)
    for i in range(key_index - 1, -1, -1):
        out[i] = t.step(frames[i])
    return out


class TrackMatteSource(MatteSource):
    """A keyframe mask (image) at ``frame`` tracked forward and backward
    through the clip's selected range with flow and colour (no model).

    Frames before the keyframe are buffered at working resolution to be
    tracked backwards (memory grows with the keyframe index, not the clip)."""

    name = "track"
    description = "keyframe mask tracked with optical flow and colour"

    def __init__(self, mask: str | None = None, frame: int = 0, **_):
        if not mask:
            raise InvalidInputError("the tracked matte needs --mask KEYFRAME_MASK (an image)")
        self.path = os.fspath(mask)
        self.frame = int(frame)

    def check(self, clip: Clip) -> None:
        from vedit.masks.sources import read_alpha_image

        if not os.path.isfile(self.path):
            raise InvalidInputError(f"--mask {self.path}: keyframe mask file not found")
        a = read_alpha_image(self.path)
        if (a.shape[1], a.shape[0]) != (clip.width, clip.height):
            raise InvalidInputError(
                f"--mask {self.path} is {a.shape[1]}x{a.shape[0]} but the input is "
                f"{clip.width}x{clip.height}; the keyframe mask must match the footage size")
        if not (a > 0.5).any():
            raise InvalidInputError(f"--mask {self.path} is empty (no white pixels): nothing to track")
        if not 0 <= self.frame < clip.frame_count:
            raise InvalidInputError(f"--frame {self.frame} is outside the selected range (0..{clip.frame_count - 1})")
        self.key_alpha = a

    def keyframe_alpha(self, frame: np.ndarray, clip: Clip) -> np.ndarray:
        from vedit.masks.refine import resize_alpha

        return resize_alpha(self.key_alpha, (frame.shape[1], frame.shape[0]))

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not hasattr(self, "key_alpha") and hasattr(self, "path"):
            self.check(clip)
        yield from _track_stream(self, clip)


def _track_stream(src, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shared by every keyframe-prompted source: buffer up to the keyframe,
    track backwards, then stream forwards."""
    k = src.frame
    it = src.work_frames(clip)
    before: list[np.ndarray] = []
    for _ in range(k):
        before.append(next(it))
    key = next(it)
    key_alpha = src.keyframe_alpha(key, clip)
    if k:
        tr = MaskTracker(key, key_alpha)
        back = []
        for f in reversed(before):
            back.append(tr.step(f, anchor=src.anchor(f, tr) if hasattr(src, "anchor") else None))
        for f, a in zip(before, reversed(back)):
            yield f, a
        before.clear()
    tr = MaskTracker(key, key_alpha)
    yield key, tr.output()
    for f in it:
        yield f, tr.step(f, anchor=src.anchor(f, tr) if hasattr(src, "anchor") else None)
