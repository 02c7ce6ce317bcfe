"""Person mattes from the segmentation models that ship inside the MediaPipe
0.10.14 wheel (no downloads): the pose landmarker's segmentation output on a
crop around every person (:class:`PeopleSegmenter`, much better on full-body
shots) and the selfie segmenter (256x256, close-ups).

``model='auto'`` finds every person with the multi-person tracker
(:mod:`vedit.masks.people`) and falls back to the single-person models
(:class:`PersonSegmenter`: pose with hips in frame, else the selfie model)
on frames where it finds nobody, such as a close-up.

One pipeline makes every person matte (:func:`person_mattes`): the people,
gaps carried along optical flow, hole filling, guided-filter edges and
temporal smoothing. The matte ``vedit matte --person`` writes
(:func:`person_matte_stream`) is what an editor removing or isolating a
person needs: the person (hair, limbs: the pose model's mask), what they hold
(``with_props``), their cast shadow on the ground (``include_shadow``, see
:class:`CastShadow`) and a small safety margin (``margin``, see
:func:`default_margin`). ``replace-bg`` composites the same pipeline's matte
without shadow, props or margin.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.flow import FlowEstimator, warp
from vedit.io import Clip
from vedit.masks.base import MatteSource, prefetch, to_work, work_size
from vedit.masks.refine import TemporalSmoother, feather, fill_holes, grow, guided_refine, nonzero_box, resize_alpha
from vedit.runtime import import_mediapipe as _mediapipe  # MediaPipe, its native log lines kept quiet

if TYPE_CHECKING:
    from vedit.masks.people import PeopleTracker

MODELS = ("auto", "pose", "selfie")
__all__ = ["PersonSegmenter", "PersonMatteSource", "CastShadow", "person_matte_stream", "add_shadow",
           "default_margin", "check_margin", "grow_soft", "matte_pipeline", "person_mattes", "refined_mattes",
           "Matted", "MODELS"]
_EMPTY = 0.002  # fraction of the frame below which a matte counts as empty
MARGIN_FRACTION = 0.0125  # default margin: 1.25% of the frame height (3 px at 240p, 9 px at 720p)


def default_margin(height: int) -> float:
    """The default safety margin around a person matte in pixels for a frame
    ``height`` pixels tall: 1.25% of the height (3 px at 240p, 9 px at 720p,
    13.5 px at 1080p; rounded by :func:`check_margin`). The models' masks end
    on the visible edge; a removal or a grade needs the few pixels of motion
    blur and edge colour beyond it."""
    return MARGIN_FRACTION * float(height)


def check_margin(margin, height: int) -> int:
    """``margin`` (whole pixels at the clip's size, ``None`` = default)
    checked: 0 or more, at most a quarter of the frame height."""
    if margin is None:
        return int(round(default_margin(height)))
    try:
        m = float(margin)
    except (TypeError, ValueError):
        raise InvalidInputError(f"--margin {margin!r}: expected a number of pixels (e.g. 4, or 0 for none)") from None
    if not math.isfinite(m) or m < 0 or m > height / 4:
        raise InvalidInputError(
            f"--margin {margin}: must be between 0 and {height / 4:g} px for this {height} px tall clip "
            "(use --dilate/--feather for other edits)")
    if m != int(m):
        raise InvalidInputError(f"--margin {margin}: give whole pixels (e.g. {int(round(m))})")
    return int(m)


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def grow_soft(alpha: np.ndarray, pixels: float) -> np.ndarray:
    """Grow a soft matte by ``pixels`` (fractional allowed): a grey dilation by
    a disk of the whole pixels blended towards one pixel more by the fraction
    (that dilation grown by a 3x3 cross: the next disk but for a few corner
    pixels, at a tenth of its cost), so a margin keeps its size when the
    matte is worked on at a lower resolution. Only the box around the
    non-zero pixels is dilated."""
    if pixels <= 0:
        return alpha
    lo = int(math.floor(pixels))
    frac = pixels - lo
    box = nonzero_box(alpha, lo + 2)
    if box is None:
        return alpha
    y0, y1, x0, x1 = box
    sub = alpha[y0:y1, x0:x1]
    a = cv2.dilate(sub, _disk(lo)) if lo else sub
    if frac > 0.05:
        a = cv2.addWeighted(a, 1.0 - frac, cv2.dilate(a, _CROSS), frac, 0.0)
    out = alpha.copy()
    out[y0:y1, x0:x1] = a
    return out


class PersonSegmenter:
    """Per-frame person segmentation. ``segment(frame_rgb)`` → float32 HxW in
    [0, 1] at the frame's size (zeros when nobody is found).

    Frames are expected in shot order: the pose model tracks the person from
    frame to frame (faster and steadier than detecting each time). Call
    ``reset()`` between shots.
    """

    def __init__(self, model: str = "auto"):
        if model not in MODELS:
            raise InvalidInputError(f"--person-model {model!r}: choose one of {', '.join(MODELS)}")
        self.requested = model
        self.model = None if model == "auto" else model
        self._mp = _mediapipe()
        self._pose = None
        self._selfie = None
        self._size: tuple[int, int] | None = None  # (w, h) the graphs were made for

    # -- models ----------------------------------------------------------------
    def _get_pose(self):
        if self._pose is None:
            self._pose = self._mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=1,  # the only pose model in the wheel
                enable_segmentation=True, smooth_segmentation=False, smooth_landmarks=True)
        return self._pose

    def _get_selfie(self):
        if self._selfie is None:
            self._selfie = self._mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        return self._selfie

    def reset(self) -> None:
        for m in (self._pose, self._selfie):
            if m is not None:
                m.close()
        self._pose = self._selfie = None
        self._size = None
        self.model = None if self.requested == "auto" else self.requested

    def close(self) -> None:
        self.reset()

    def _pose_result(self, frame: np.ndarray):
        res = self._get_pose().process(np.ascontiguousarray(frame[:, :, :3]))
        if res.segmentation_mask is None:
            return None, None
        return np.asarray(res.segmentation_mask, np.float32), res.pose_landmarks

    @staticmethod
    def _is_body_shot(landmarks) -> bool:
        lm = landmarks.landmark
        hips = [lm[i] for i in (23, 24)]
        return any(p.visibility > 0.5 and 0.0 <= p.y <= 1.0 for p in hips)

    # -- API -------------------------------------------------------------------
    def segment(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Person alpha for one RGB uint8 frame."""
        h, w = frame_rgb.shape[:2]
        if self._size is not None and self._size != (w, h):
            # MediaPipe graphs keep per-size state; a new size needs new graphs
            keep = self.model
            self.reset()
            self.model = keep
        self._size = (w, h)
        if self.model is None:  # auto: decide on the first frame with a person
            mask, lms = self._pose_result(frame_rgb)
            if mask is not None and self._is_body_shot(lms):
                self.model = "pose"
                return np.clip(mask, 0, 1)
            if mask is None:
                # the pose detector (face-based) is the person detector: the selfie
                # model paints anything person-like, so it is not trusted to detect
                return np.zeros((h, w), np.float32)
            self.model = "selfie"  # a close-up: pose sees no hips
            return self._selfie_mask(frame_rgb)
        if self.model == "pose":
            mask, _ = self._pose_result(frame_rgb)
            return np.zeros((h, w), np.float32) if mask is None else np.clip(mask, 0, 1)
        return self._selfie_mask(frame_rgb)

    def _selfie_mask(self, frame: np.ndarray) -> np.ndarray:
        res = self._get_selfie().process(np.ascontiguousarray(frame[:, :, :3]))
        m = res.segmentation_mask
        if m is None:
            return np.zeros(frame.shape[:2], np.float32)
        return np.clip(np.asarray(m, np.float32), 0, 1)

    __call__ = segment


class PeopleSegmenter:
    """The person model of every person matte (``vedit matte --person`` and
    replace-bg's): per frame, everybody's alpha by person id.

    ``person_model`` ``auto`` and ``pose``: every person, each segmented on a
    crop around them (:class:`vedit.masks.people.PeopleTracker`), ``auto``
    falling back to the single-person models for a frame where it finds
    nobody (a close-up the pose detector misses); ``selfie``: the selfie
    segmenter alone (one id). Frames must come in shot order (people are
    tracked). ``model`` is the model that found people last."""

    def __init__(self, person_model: str = "auto", person_id: int | None = None, workers: int | None = None):
        if person_model not in MODELS:
            raise InvalidInputError(f"--person-model {person_model!r}: choose one of {', '.join(MODELS)}")
        self.requested = person_model
        self.person_id = person_id
        self.workers = workers
        self.model: str | None = "selfie" if person_model == "selfie" else None
        self._tracker: PeopleTracker | None = None
        self._single: PersonSegmenter | None = None

    def people(self, frame: np.ndarray, size: tuple[int, int], small: np.ndarray | None = None
               ) -> dict[int, np.ndarray]:
        """{person id: float32 alpha at ``size`` (width, height)} for ``frame``
        (RGB uint8, any size: the full frame gives small people more pixels;
        ``small``: the frame already shrunk to ``size``, when the caller has it)."""
        frame = frame[:, :, :3]
        if small is None:
            small = to_work(frame, size)
        if self.requested == "selfie":
            self._single = self._single or PersonSegmenter("selfie")
            return {1: self._single.segment(small)}
        if self._tracker is None:
            from vedit.masks.people import PeopleTracker

            self._tracker = PeopleTracker(workers=self.workers)
        found = self._tracker.step(frame, size, small)
        if found:
            self.model = "pose"
        elif self.requested == "auto" and self.person_id in (None, 1):
            self._single = self._single or PersonSegmenter("auto")
            a = self._single.segment(small)
            if (a > 0.5).mean() >= _EMPTY:
                found = {1: a}
                self.model = self._single.model
        return found

    def segment(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Everybody (or ``person_id``) in one alpha at ``size`` (default the frame's)."""
        size = size or (frame.shape[1], frame.shape[0])
        out = np.zeros((size[1], size[0]), np.float32)
        for pid, a in self.people(frame, size).items():
            if self.person_id is None or pid == self.person_id:
                np.maximum(out, a, out=out)
        return out

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        if self._single is not None:
            self._single.close()
            self._single = None


def _holes(binary: np.ndarray):
    """The 4-connected background components of ``binary`` (uint8 0/1): their
    labels, ``connectedComponentsWithStats`` stats, and a flag per label,
    True for the enclosed ones (not touching the border; label 0, the
    foreground, is False)."""
    _, lab, stats, _ = cv2.connectedComponentsWithStats(1 - binary, connectivity=4)
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    enclosed = (x > 0) & (y > 0) & (x + w < binary.shape[1]) & (y + h < binary.shape[0])
    enclosed[0] = False
    return lab, stats, enclosed


def add_shadow(person: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """``max(person, shadow)`` without new enclosed holes.

    A shadow strip running across both feet closes the gap between the legs;
    hole filling (``refine.fill_holes``) would then matte the ground there. Such
    new holes are opened again by dropping the shadow below them (the columns
    the hole spans, from its top down): the ground between the feet stays
    background, the strip either side of the feet stays shadow."""
    u = np.maximum(person, shadow)
    # holes need both: the box around person and shadow (plus a pixel); none
    # when no shadow pixel is above 0.5 (then no new hole either)
    box = None if nonzero_box(shadow, 1, level=0.5) is None else nonzero_box(u, 1, level=0.5)
    if box is None:
        return u
    y0, y1, x0, x1 = box
    lab, stats, hole = _holes((u[y0:y1, x0:x1] > 0.5).astype(np.uint8))
    if not hole.any():
        return u
    lab_p, _, hole_p = _holes((person[y0:y1, x0:x1] > 0.5).astype(np.uint8))
    cut = shadow
    for i in np.flatnonzero(hole):
        x, y, w = (int(v) for v in stats[i, :3])
        # a hole of the union lies inside one background component of the
        # person alone (the person covers less); it is new when that one is
        # open. The top row of its box holds one of its pixels.
        xi = x + int(np.argmax(lab[y, x:x + w] == i))
        if hole_p[lab_p[y, xi]]:
            continue
        if cut is shadow:
            cut = shadow.copy()
        cut[y0 + y:, x0 + x:x0 + x + w] = 0.0
    return u if cut is shadow else np.maximum(person, cut)


class CastShadow:
    """The cast shadow of a person on the ground, attached to the feet.

    ``shadow(frame_rgb, person_alpha)`` → float32 HxW in [0, 1] (zeros when
    the feet are not in frame or no shadow is found). Frames are expected in
    shot order; call ``reset()`` between shots.

    A shadow pixel is the lit ground darkened: its colour divided by the
    local ground colour (a median over a window a third of the person's height
    wide, which a cast shadow, a thin strip, cannot dominate) is a ratio well
    below 1 and about the same in the three channels (a shadow dims the light,
    it does not recolour the surface; skylight makes it a little bluer, hence
    the tolerance grows with the ratio). Dark regions below the hips that touch
    the feet and hold clearly dark pixels (``strong``) are candidates, grown
    through paler penumbra (``weak``).

    Other shadows and dark patches on the ground often touch the feet too. The
    person's shadow leaves the feet along the light direction, and the light
    does not move within a shot: the dominant direction of the candidates seen
    from the feet is accumulated over the shot, and only a strip from the feet
    along it (as wide as the feet across it, widening slowly) is kept, plus a
    small contact region around the feet. Without a clear direction (overhead
    light) only the contact region is kept.

    Runs on a grid of at most ``max_side`` pixels: a shadow edge is soft, and
    the result is upsampled with bilinear interpolation.
    """

    BINS = 72  # 5 degree bins for the light direction

    def __init__(self, strong: float = 0.68, weak: float = 0.78, max_side: int = 432, memory: float = 0.7):
        if not 0.0 < strong < weak < 1.0:
            raise InvalidInputError(f"shadow thresholds strong={strong}, weak={weak}: need 0 < strong < weak < 1")
        self.strong, self.weak = float(strong), float(weak)
        self.max_side = int(max_side)
        self.memory = float(memory)
        self.hist = np.zeros(self.BINS, np.float32)

    def reset(self) -> None:
        self.hist[:] = 0

    def _update(self, dx: np.ndarray, dy: np.ndarray, weight: np.ndarray) -> None:
        """Add candidate pixels at (dx, dy) from the feet to the shot's
        direction histogram (an exponential average over frames)."""
        nb = self.BINS
        idx = ((np.arctan2(dy, dx) + np.pi) * (nb / (2 * np.pi))).astype(np.int64) % nb
        h = np.bincount(idx, weights=weight, minlength=nb).astype(np.float32)
        total = float(h.sum())
        if total > 0:
            h /= total
            self.hist = (self.memory * self.hist + (1 - self.memory) * h) if self.hist.any() else h

    def direction(self) -> float | None:
        """The light direction so far (radians, image coordinates: 0 = right,
        pi/2 = down), or None when there is no clear one."""
        if not self.hist.any():
            return None
        sm = np.convolve(np.concatenate([self.hist[-2:], self.hist, self.hist[:2]]), np.full(5, 0.2, np.float32),
                         "valid")
        b = int(np.argmax(sm))
        if sm[b] < 4.0 * float(sm.mean()):  # spread all round: no single light direction
            return None
        return (b + 0.5) * (2 * np.pi / self.BINS) - np.pi

    @staticmethod
    def _line(theta: float, length: int) -> np.ndarray:
        """A line structuring element through the centre along ``theta``."""
        r = max(1, length // 2)
        k = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
        dx, dy = r * math.cos(theta), r * math.sin(theta)
        cv2.line(k, (round(r - dx), round(r - dy)), (round(r + dx), round(r + dy)), 1, 1)
        return k

    def _size(self, H: int, W: int) -> tuple[int, int]:
        s = min(1.0, self.max_side / max(H, W))
        return (max(8, round(W * s)), max(8, round(H * s))) if s < 1.0 else (W, H)

    def shrink(self, frame_rgb: np.ndarray) -> np.ndarray:
        """The frame on the grid the shadow is looked for on (to share
        between the people of one frame: see ``__call__``)."""
        H, W = frame_rgb.shape[:2]
        size = self._size(H, W)
        rgb = np.ascontiguousarray(frame_rgb[:, :, :3])
        # bilinear: an area average at a fractional factor costs 8 times
        # as much and found less (tennis upscaled to 720p: recall 0.694 vs 0.709)
        return rgb if size == (W, H) else cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)

    def __call__(self, frame_rgb: np.ndarray, person: np.ndarray, small: np.ndarray | None = None) -> np.ndarray:
        """Shadow alpha for one RGB frame given the person's alpha (same
        size); ``small``: the frame's :meth:`shrink`, when already made."""
        H, W = person.shape
        zero = np.zeros((H, W), np.float32)
        size = self._size(H, W)
        if small is None or (small.shape[1], small.shape[0]) != size:
            small = self.shrink(frame_rgb)
        body = (person if size == (W, H) else cv2.resize(person, size, interpolation=cv2.INTER_LINEAR)) > 0.5
        h, w = body.shape
        rows = np.flatnonzero(body.any(axis=1))
        if len(rows) == 0:
            return zero
        y0, y1 = int(rows[0]), int(rows[-1])
        ph = y1 - y0 + 1
        if ph < 16 or y1 >= h - 2:  # too small, or the feet are below the frame
            return zero
        # 1. the feet: the lowest tenth of the body
        yf = y1 - max(1, int(0.1 * ph))
        fy, fx = np.nonzero(body[yf:y1 + 1])
        fy = fy + yf
        cy, cx = float(fy.mean()), float(fx.mean())
        # 2. darkening ratio against the local ground colour, below the hips only
        top = y0 + int(0.6 * ph)
        k = int(np.clip(ph // 3, 5, 99)) | 1
        ctx = max(0, top - k // 2)
        # the ground colour varies slowly: its median is taken on a half-size grid
        ground = small[ctx:]
        gh, gw = ground.shape[:2]
        half = cv2.resize(ground, (max(1, gw // 2), max(1, gh // 2)), interpolation=cv2.INTER_AREA)
        lit = cv2.resize(cv2.medianBlur(half, max(3, (k // 2) | 1)), (gw, gh), interpolation=cv2.INTER_LINEAR)
        lit = lit[top - ctx:]
        ratio = cv2.divide(cv2.add(small[top:], 1, dtype=cv2.CV_32F), cv2.add(lit, 1, dtype=cv2.CV_32F))
        r, g, b = cv2.split(ratio)
        lum = cv2.transform(ratio, np.full((1, 3), 1.0 / 3.0, np.float32))
        spread = cv2.max(cv2.max(r, g), b) - cv2.min(cv2.min(r, g), b)
        near_body = cv2.dilate(body[top:].astype(np.uint8), _disk(1)) > 0
        weak = ((lum > 0.15) & (lum < self.weak) & (spread < 0.1 + 0.25 * lum) & ~near_body).astype(np.uint8)
        # 3. regions touching the feet that hold clearly dark pixels; a strip
        # broken into dashes (thin shadow, clay texture) is linked along the
        # light direction known from earlier frames
        theta = self.direction()
        link = self._line(theta, max(5, int(0.08 * ph))) if theta is not None else _disk(1)
        linked = cv2.morphologyEx(weak, cv2.MORPH_CLOSE, link)
        feet = np.zeros_like(weak)
        feet[fy - top, fx] = 1
        seed = cv2.dilate(feet, _disk(max(2, ph // 20))) > 0
        n, lab = cv2.connectedComponents(linked, connectivity=8)
        if n < 2:
            return zero
        near = np.zeros(n, bool)
        near[lab[seed]] = True
        dark = np.zeros(n, bool)
        dark[lab[(lum < self.strong) & (weak > 0)]] = True
        keep = near & dark
        keep[0] = False
        if not keep.any():
            return zero
        yy, xx = np.nonzero(keep[lab] & (weak > 0))
        dx = xx.astype(np.float32) - cx
        dy = (yy + top).astype(np.float32) - cy
        # 4. a strip from the feet along the light direction, plus the contact region
        self._update(dx, dy, np.clip(self.weak - lum[yy, xx], 0.0, None))
        theta = self.direction()
        ok = dx * dx + dy * dy < (0.06 * ph) ** 2
        if theta is not None:
            # the histogram's 5 degree bins are too coarse for a long strip:
            # refine with this frame's pixels within two bins of the peak
            ang = np.arctan2(dy, dx)
            near_peak = np.abs(np.angle(np.exp(1j * (ang - theta)))) < 4 * np.pi / self.BINS
            if near_peak.sum() > 5:
                wgt = np.clip(self.weak - lum[yy, xx], 0.0, None)[near_peak] * np.hypot(dx, dy)[near_peak]
                theta = math.atan2(float((wgt * np.sin(ang[near_peak])).sum()),
                                   float((wgt * np.cos(ang[near_peak])).sum()))
            ux, uy = math.cos(theta), math.sin(theta)
            along = dx * ux + dy * uy
            across = dy * ux - dx * uy
            feet_across = (fy - cy) * ux - (fx - cx) * uy
            m = 0.04 * ph + 0.03 * np.maximum(along, 0.0)
            ok |= (along > -0.05 * ph) & (across > feet_across.min() - m) & (across < feet_across.max() + m)
        out = np.zeros((h, w), np.float32)
        out[yy[ok] + top, xx[ok]] = 1.0
        if (h, w) != (H, W):
            out = cv2.resize(out, (W, H), interpolation=cv2.INTER_LINEAR)
        return out


class PersonMatteSource(MatteSource):
    """Person matte per frame: every person in the shot (``person_id``: one of
    them, numbered from 1 in order of appearance), each segmented on a crop
    around them (:class:`vedit.masks.people.PeopleTracker`); frames where the
    model loses everybody are filled by carrying the nearest found matte
    along optical flow, so no frame comes out empty. Raises
    InvalidInputError when nobody is found in the whole clip.

    ``person_model``: ``auto`` and ``pose`` use the multi-person engine
    (``auto`` falls back to the single-person models for a frame where it
    finds nobody: a close-up the pose detector misses); ``selfie`` the
    selfie segmenter alone.
    ``include_shadow`` adds each person's cast shadow (:class:`CastShadow`);
    ``with_props`` what moves with a person and touches them
    (:func:`vedit.masks.props.attach_props`).
    The safety margin (:func:`default_margin`) is not applied here: it belongs
    after edge refinement, which would otherwise pull it back to the image
    edge (:func:`matte_pipeline` grows it).
    """

    name = "person"
    description = "every person (MediaPipe pose models in the wheel, on crops), with cast shadow and held objects"

    def __init__(self, person_model: str = "auto", max_gap: int = 120, include_shadow: bool = True,
                 instances: int | None = None, person_id=None, with_props: bool = False, every: int = 1,
                 hint: str | None = None, **_):
        from vedit.masks.people import check_person_id

        if person_model not in MODELS:
            raise InvalidInputError(f"--person-model {person_model!r}: choose one of {', '.join(MODELS)}")
        self.person_model = person_model
        self.instances = instances
        self.max_gap = max_gap
        self.include_shadow = bool(include_shadow)
        self.person_id = check_person_id(person_id)
        self.with_props = bool(with_props)
        self.every = max(1, int(every))
        # how the error for "nobody found" ends: what the calling op offers instead
        self.hint = hint if hint is not None else "use --mask, --box or --points to say what to matte"
        self.people: dict[int, int] = {}  # person id -> frames found
        self.chosen_model: str | None = None

    def _models(self, clip: Clip, fulls: deque | None) -> Iterator[tuple[np.ndarray, dict[int, np.ndarray]]]:
        """(working frame, {person id: alpha at working size}) per frame (no
        one on the frames ``every`` > 1 skips); each full frame is appended
        to ``fulls`` (when given) in order."""
        wsize = work_size(clip.width, clip.height)
        frames = prefetch(clip.frames(), depth=3)
        seg = PeopleSegmenter(self.person_model, self.person_id, self.instances)
        try:
            for i, f in enumerate(frames):
                f = f[:, :, :3]
                work = to_work(f, wsize)
                found = seg.people(f, wsize, work) if i % self.every == 0 else {}
                self.chosen_model = seg.model
                if fulls is not None:
                    fulls.append(f)
                yield work, found
        finally:
            frames.close()
            seg.close()

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for _, work, alpha in self.items(clip):
            yield work, alpha

    def items(self, clip: Clip, keep_frames: bool = False) -> Iterator[tuple[np.ndarray | None, np.ndarray,
                                                                              np.ndarray]]:
        """(full frame with ``keep_frames``, else None; working frame; raw
        alpha at working size) per frame. Frames where the model finds
        nobody, or that ``every`` > 1 skips, take the last matte carried
        along optical flow; leading ones the first matte carried backwards.
        ``with_props`` needs every frame's people: use it with ``every=1``."""
        shadows: dict[int, CastShadow] = {}
        flow = FlowEstimator("ultrafast", max_side=320)
        pending: deque = deque()  # leading frames without a person, waiting for one
        last = None  # (frame, alpha) of the last frame with a matte
        found = False
        fulls: deque | None = deque() if keep_frames else None  # filled in order by the model thread
        models = prefetch(self._models(clip, fulls), depth=2)  # the models run ahead in their own thread
        items: Iterator[tuple[np.ndarray, dict[int, np.ndarray]]] = models
        if self.with_props:
            from vedit.masks.props import PropFinder

            items = PropFinder().run(models)
        try:
            for frame, people in items:
                full = fulls.popleft() if fulls is not None else None
                if self.person_id is not None:
                    people = {k: v for k, v in people.items() if k == self.person_id}
                for pid in people:
                    self.people[pid] = self.people.get(pid, 0) + 1
                alpha = np.zeros(frame.shape[:2], np.float32)
                small = None  # the frame on the shadow's grid, made once for everybody
                for pid, a in people.items():
                    if self.include_shadow:
                        cast = shadows.setdefault(pid, CastShadow())
                        if small is None:
                            small = cast.shrink(frame)
                        a = add_shadow(a, cast(frame, a, small))
                    np.maximum(alpha, a, out=alpha)
                # nobody (or a frame the model skips): carried from a neighbour
                inside = cv2.countNonZero(cv2.threshold(alpha, 0.5, 1.0, cv2.THRESH_BINARY)[1])
                empty = inside < alpha.size * _EMPTY / max(1, 4 * len(people))
                if not empty:
                    found = True
                    if pending:
                        # carry this matte backwards through the leading empty frames
                        back = [alpha]
                        nxt = frame
                        for pf, _ in reversed(pending):
                            back.append(warp(back[-1], flow(pf, nxt)))
                            nxt = pf
                        for (pf, pfull), a in zip(pending, reversed(back[1:])):
                            yield pfull, pf, a
                        pending.clear()
                    last = (frame, alpha)
                    yield full, frame, alpha
                elif last is not None:
                    pf, pa = last
                    carried = warp(pa, flow(frame, pf))
                    last = (frame, carried)
                    yield full, frame, carried
                else:
                    pending.append((frame, full))
                    if len(pending) > self.max_gap:
                        pf, pfull = pending.popleft()
                        yield pfull, pf, np.zeros(pf.shape[:2], np.float32)
            if not found:
                who = "no person" if self.person_id is None else f"no person {self.person_id}"
                raise InvalidInputError(
                    f"{who} found in {clip.path} (frames {clip.start}..{clip.start + clip.frame_count - 1}); "
                    + ("people found: " + ", ".join(map(str, sorted(self.people))) + "; "
                       if self.people and self.person_id is not None else "")
                    + self.hint)
        finally:
            models.close()  # stops the model thread before its graph is closed


@dataclass
class Matted:
    """One frame of a matte at working resolution, refined and smoothed:
    what every op's person matte comes from (:func:`person_mattes`)."""

    frame: np.ndarray | None  # the decoded frame (full resolution) when asked to keep it
    work: np.ndarray  # RGB uint8 at working resolution
    alpha: np.ndarray  # float32 [0, 1] at working resolution


def person_mattes(clip: Clip, *, person_model: str = "auto", include_shadow: bool = False,
                  with_props: bool = False, person_id=None, refine: bool = True, smooth: bool = True,
                  every: int = 1, keep_frames: bool = False, hint: str | None = None) -> Iterator[Matted]:
    """The one person matte pipeline, before output sizing: every person
    (or ``person_id``) of ``clip``'s selected range, with ``include_shadow``
    their cast shadows and with ``with_props`` what they hold or ride
    (:class:`PersonMatteSource`), hole filling, guided-filter edges and
    temporal smoothing (:func:`refined_mattes`), as :class:`Matted` items at
    working resolution. ``vedit matte --person`` (:func:`person_matte_stream`)
    adds a margin and sizes it to the clip; ``replace-bg`` composites it
    (no shadow, no props: a composite keeps the person's own edge).

    ``every`` > 1 runs the person model on every ``every``-th frame only and
    carries the matte along optical flow between (faster, less exact on fast
    motion). ``keep_frames``: each item also holds the decoded frame (one
    decode serves the matte and the caller). ``hint`` ends the error when
    nobody is found (what the calling op offers instead). Raises
    InvalidInputError for bad parameters before the first frame."""
    if with_props and every > 1:
        raise InvalidInputError("props (what people hold) need the person model on every frame: "
                                "leave out the model frame interval or the props")
    src = PersonMatteSource(person_model=person_model or "auto", include_shadow=include_shadow,
                            person_id=person_id, with_props=with_props, every=every, hint=hint)
    src.check(clip)
    return refined_mattes(clip, src, refine=refine, smooth=smooth, keep_frames=keep_frames)


def refined_mattes(clip: Clip, src: MatteSource, *, refine: bool = True, smooth: bool = True,
                   keep_frames: bool = False) -> Iterator[Matted]:
    """Every matte source's first stage: the source's raw alpha at working
    resolution with ``refine`` hole filling and guided-filter edges (the fast
    guided filter where its coarse grid keeps a window radius of 3 px or
    more, from a 360 px tall working frame up), and with ``smooth`` temporal
    smoothing along optical flow (:class:`vedit.masks.refine.TemporalSmoother`).
    ``keep_frames`` (person source only) keeps the decoded frames. The
    source runs in a thread of its own ahead of the refinement (OpenCV and
    MediaPipe release the GIL)."""
    wsize = work_size(clip.width, clip.height)
    radius = max(2, round(min(wsize) / 60))
    subsample = max(1, radius // 3)
    if isinstance(src, PersonMatteSource):
        raw: Iterator = src.items(clip, keep_frames)
    elif keep_frames:
        raise ValueError("keep_frames: only the person source keeps frames")
    else:
        raw = ((None, w, a) for w, a in src.stream(clip))
    smoother = TemporalSmoother() if smooth else None
    for full, wf, alpha in prefetch(raw, depth=3):
        alpha = resize_alpha(alpha, wsize)
        if refine or smooth:
            wf = to_work(wf, wsize)
            if refine:
                alpha = guided_refine(fill_holes(alpha), wf, radius=radius, subsample=subsample)
            if smoother is not None:
                alpha = smoother(alpha, wf)
        yield Matted(full, wf, alpha)


def person_matte_stream(clip: Clip, *, person_model: str = "auto", include_shadow: bool = True, margin=None,
                        refine: bool = True, smooth: bool = True, dilate: int = 0, feather_px: float = 0,
                        person_id=None, with_props: bool = True, add_mask=None, subtract_mask=None,
                        callback=None) -> Iterator[np.ndarray]:
    """The person matte ``vedit matte --person`` writes: one float32 HxW alpha
    in [0, 1] per frame of ``clip``'s selected range, at the clip's size.

    1. :func:`person_mattes`: every person (or ``person_id``), with
       ``include_shadow`` their cast shadows and with ``with_props`` what
       they hold or ride, refined and smoothed;
    2. :func:`matte_pipeline`'s sizing: ``margin`` pixels of safety margin
       (``None``: :func:`default_margin`, 1.25% of the frame height; 0: the
       refined edge), ``dilate`` and ``feather_px``;
    3. ``add_mask`` / ``subtract_mask`` (paths) joined to / taken from it
       (:func:`vedit.masks.keyframes.edit_mattes`).

    Parameters are checked before the first frame.
    """
    from vedit.masks.keyframes import edit_mattes, open_edit_masks

    m = check_margin(margin, clip.height)
    mattes = person_mattes(clip, person_model=person_model, include_shadow=include_shadow, person_id=person_id,
                           with_props=with_props, refine=bool(refine), smooth=bool(smooth))
    adds, subs = open_edit_masks(clip, add_mask, subtract_mask)
    return edit_mattes(_sized(clip, mattes, margin=m, dilate=int(dilate or 0), feather_px=float(feather_px or 0),
                              callback=callback), adds, subs)


def matte_pipeline(clip: Clip, src: MatteSource, *, margin: float = 0, refine: bool = True, smooth: bool = True,
                   dilate: int = 0, feather_px: float = 0, callback=None) -> Iterator[np.ndarray]:
    """The one matte pipeline every source goes through (``matte_stream`` and,
    through :func:`person_mattes`, :func:`person_matte_stream`):
    :func:`refined_mattes`, then

    1. ``margin`` pixels (at the clip's size) grown at working resolution
       (fractional pixels, :func:`grow_soft`) after the refinement, which
       would otherwise pull it back to the image edge;
    2. upsampling to the clip's size, ``dilate`` (px, negative erodes) and
       ``feather_px``.

    Stages run in overlapping threads: decoding, the model, refinement and
    upsampling, and the caller (OpenCV and MediaPipe release the GIL).
    """
    return _sized(clip, refined_mattes(clip, src, refine=refine, smooth=smooth), margin=margin, dilate=dilate,
                  feather_px=feather_px, callback=callback)


def _sized(clip: Clip, mattes: Iterator[Matted], *, margin: float, dilate: int, feather_px: float,
           callback) -> Iterator[np.ndarray]:
    full = (clip.width, clip.height)
    margin_work = float(margin) * work_size(*full)[1] / full[1]
    n = clip.frame_count

    def sized():
        for m in mattes:
            alpha = resize_alpha(grow_soft(m.alpha, margin_work), full)
            yield feather(grow(alpha, dilate), feather_px)

    for i, alpha in enumerate(prefetch(sized(), depth=3)):
        if callback is not None:
            callback(i + 1, n, "matte")
        yield np.ascontiguousarray(alpha, dtype=np.float32)
