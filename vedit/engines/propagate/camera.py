"""The camera model of a shot: how the background moves between any two frames.

Pans, zooms, rolls and camera turns move a distant (or planar) background by a
homography. Neighbouring frames are linked by homographies fitted on corners
tracked outside the hole (pyramidal Lucas-Kanade, forward-backward checked,
MAGSAC); the chain gives a first guess for any pair of frames, and every pair
actually used for sampling is re-fitted directly (corners of one frame tracked
into the other from the chained guess), so long chains do not drift. Each link
carries how well the model explains the background (inlier share and
residual), which the source selection uses to decide where the model holds.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import cv2
import numpy as np

from vedit.flow.ops import mask_bbox

#: longest side of the grey images the camera model is measured on
_TRACK_SIDE = 720
#: inlier share and residual (px) from which a link counts as weak / fully firm
_STRONG_INLIERS = (0.45, 0.75)
_STRONG_RESIDUAL = (0.2, 0.5)
_WIN = (21, 21)
#: the window of a refinement from a close guess (:meth:`CameraModel.refine`)
_FINE_WIN = (9, 9)
_CRIT = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
_THREADS = max(1, min(2, os.cpu_count() or 1))
#: growth of the hole before corners are taken (the object's edge moves with it)
_GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))


class Link(NamedTuple):
    """A homography mapping frame ``t`` pixel coordinates into frame ``s``."""

    H: np.ndarray       # 3x3, full-resolution coordinates, t -> s
    inliers: float      # share of tracked background corners that follow it
    residual: float     # median reprojection error of the inliers (full-res px)


class CameraModel:
    """Homographies between the frames of one chunk.

    Args:
        frames: full-resolution RGB uint8 frames.
        holes: bool masks of the region to fill (the corners are taken
            outside them, grown by a margin: the object's edge moves with it).
    """

    def __init__(self, frames: list[np.ndarray], holes: list[np.ndarray]):
        H, W = frames[0].shape[:2]
        self.size = (W, H)
        # an integer reduction (OpenCV's area resize is exact and fast there)
        red = max(1, int(round(max(W, H) / _TRACK_SIDE)))
        self._red = red
        self._work = (max(8, W // red), max(8, H // red))
        self.sx, self.sy = self._work[0] / W, self._work[1] / H
        self._frames, self._holes = frames, holes
        self.n = len(frames)
        # everything is measured when first needed (a stage that only asks
        # how firm the camera is, or for the chain over a few frames, fits
        # only the links that answer it); every value is the same whichever
        # order the links are fitted in
        self._gv: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._corners: dict[int, np.ndarray | None] = {}
        self._pairs: dict[tuple[int, int], Link | None] = {}
        # chained guess: G[t] maps frame t into frame 0 (extended on demand,
        # under the lock: the stages' threads share it)
        self._Ginv: list[np.ndarray] = []
        self.G = [np.eye(3)]
        self._guesses: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def _grey_valid(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame i in grey at the tracking size, and where corners may be
        taken (outside its hole grown by a margin: the object's edge moves
        with it)."""
        gv = self._gv.get(i)
        if gv is None:
            g = cv2.cvtColor(self._frames[i], cv2.COLOR_RGB2GRAY)
            m = self._small_hole(self._holes[i])
            if self._red > 1:
                g = cv2.resize(g, self._work, interpolation=cv2.INTER_AREA)
            gv = self._gv[i] = (g, (cv2.dilate(m, _GROW) == 0).astype(np.uint8) * 255)
        return gv

    def _small_hole(self, hole: np.ndarray) -> np.ndarray:
        """``hole`` as uint8 at the tracking size: its nearest-neighbour
        resize. At an exact integer reduction that is every ``red``-th pixel
        of every ``red``-th row, and only those over the hole's box are read
        (the rest of a full-frame hole is zero pages that a resize of the
        whole frame would fault in)."""
        def u8(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a).view(np.uint8) if a.dtype == bool else a.astype(np.uint8)

        red, (w, h) = self._red, self._work
        if red == 1:
            return u8(hole)
        if (w * red, h * red) != self.size:
            return cv2.resize(u8(hole), self._work, interpolation=cv2.INTER_NEAREST)
        small = np.zeros((h, w), np.uint8)
        bb = mask_bbox(hole)
        if bb is not None:
            y0, y1, x0, x1 = (-(-v // red) for v in bb)  # the sampled rows and columns inside the box
            small[y0:y1, x0:x1] = u8(hole[y0 * red:y1 * red:red, x0 * red:x1 * red:red])
        return small

    def fit_neighbours(self, ts: Iterable[int]) -> None:
        """Fit the neighbour links (t, t + 1) of ``ts`` not fitted yet, in
        two threads (OpenCV releases the GIL; each link reads only its own
        frame's corners): the same links as one after the other."""
        todo = sorted({t for t in ts if 0 <= t < self.n - 1 and (t, t + 1) not in self._pairs})
        if not todo:
            return
        frames = sorted({u for t in todo for u in (t, t + 1) if u not in self._gv})
        with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="vedit-camera") as pool:
            list(pool.map(self._grey_valid, frames))
            links = list(pool.map(lambda t: self._fit(t, t + 1, None), todo))
        for t, link in zip(todo, links):
            self._pairs[(t, t + 1)] = link

    def _neighbour(self, t: int) -> Link | None:
        """The neighbour link (t, t + 1), fitted if not yet."""
        if (t, t + 1) not in self._pairs:
            self.fit_neighbours([t])
        return self._pairs[(t, t + 1)]

    def _chain(self, k: int) -> None:
        """Extend the chained guess (and its inverses) to frame k."""
        if len(self._Ginv) > k:
            return
        with self._lock:
            self.fit_neighbours(range(len(self.G) - 1, k))
            while len(self.G) <= k:
                link = self._pairs[(len(self.G) - 1, len(self.G))]
                step = link.H if link is not None else np.eye(3)
                self.G.append(self.G[-1] @ np.linalg.inv(step))
            while len(self._Ginv) <= k:
                self._Ginv.append(np.linalg.inv(self.G[len(self._Ginv)]))

    # -------------------------------------------------------------- public
    def guess(self, t: int, s: int) -> np.ndarray:
        """The chained homography t -> s (full-resolution coordinates;
        read-only, kept: the stages ask for the same pairs many times)."""
        g = self._guesses.get((t, s))
        if g is None:
            self._chain(max(t, s))
            g = self._Ginv[s] @ self.G[t]
            g.flags.writeable = False
            self._guesses[(t, s)] = g
        return g

    def link(self, t: int, s: int) -> Link | None:
        """A directly fitted homography t -> s, or None where the background
        cannot be registered (too few corners follow one homography)."""
        key = (t, s)
        if key not in self._pairs:
            self._pairs[key] = self._fit(t, s, self.guess(t, s))
        return self._pairs[key]

    def refine(self, t: int, s: int) -> Link | None:
        """The chained guess t -> s re-fitted directly where it is already
        close: the corners are tracked from it with a small window and no
        pyramid (a fraction of :meth:`link`'s cost, as accurate from a guess
        within a pixel or two). Not kept; :meth:`link`'s fit where one was
        made."""
        return self._pairs[(t, s)] if (t, s) in self._pairs else self._fit(t, s, self.guess(t, s), fine=True)

    def strength(self, t: int) -> float:
        """How firmly frame t's background follows one homography, 0..1: the
        share of corners that follow it and how closely (its links to both
        neighbours). A rigid scene under a moving camera is near 1; a scene
        whose corners sit on moving things (a car the camera follows, smoke)
        is near 0."""
        vals = []
        for u in (t - 1, t):
            if 0 <= u < self.n - 1:
                v = _firmness(self._neighbour(u))
                if v is None:
                    return 0.0
                vals.append(v)
        return float(min(vals)) if vals else 0.0

    def weak(self, ts: Sequence[int], below: float) -> bool:
        """Whether the median :meth:`strength` of frames ``ts`` is below
        ``below``. The links are fitted a few at a time, every other one
        first (each then speaks for two frames), and the answer is yes as
        soon as more than half of the frames are known to be weak (one of
        their links is): a shot the camera model cannot explain is told
        after a quarter of its links. Otherwise every link is fitted and the
        median taken."""
        ts = list(ts)
        if not ts:
            return False
        lo, hi = max(0, min(ts) - 1), min(self.n - 2, max(ts))
        order = list(range(lo, hi + 1, 2)) + list(range(lo + 1, hi + 1, 2))
        weak: set[int] = set()
        for i in range(0, len(order), 4 * _THREADS):
            batch = order[i:i + 4 * _THREADS]
            self.fit_neighbours(batch)
            for u in batch:
                v = _firmness(self._pairs[(u, u + 1)])
                if (0.0 if v is None else v) < below:
                    weak.update((u, u + 1))
            if 2 * len(weak.intersection(ts)) > len(ts):
                return True
        return float(np.median([self.strength(t) for t in ts])) < below

    def neighbours(self) -> list[Link | None]:
        """Every neighbour link (t, t + 1) of the chunk, fitted if not yet."""
        self.fit_neighbours(range(self.n - 1))
        return [self._pairs[(t, t + 1)] for t in range(self.n - 1)]

    def cached(self, t: int, s: int) -> Link | None:
        """The direct fit t -> s if one was made (never fits a direct one;
        a neighbour link is fitted if not yet)."""
        if s == t + 1:
            return self._neighbour(t)
        return self._pairs.get((t, s))

    # ------------------------------------------------------------ fitting
    def corners(self, t: int) -> np.ndarray | None:
        c = self._corners.get(t, np.empty(0))
        if c is not None and c.size == 0:
            g, valid = self._grey_valid(t)
            c = cv2.goodFeaturesToTrack(g, maxCorners=300, qualityLevel=0.003, minDistance=7,
                                        mask=valid, blockSize=7)
            if c is None or len(c) < 12:
                c = None
            self._corners[t] = c
        return c

    def _fit(self, t: int, s: int, guess: np.ndarray | None, fine: bool = False) -> Link | None:
        p0 = self.corners(t)
        if p0 is None:
            return None
        S = np.diag([self.sx, self.sy, 1.0])
        Si = np.diag([1.0 / self.sx, 1.0 / self.sy, 1.0])
        flags = 0
        p1 = None
        if guess is not None:
            Hs = S @ guess @ Si
            p1 = cv2.perspectiveTransform(p0, Hs).astype(np.float32)
            flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        # neighbours may move far (pyramid of 4 levels); a direct fit starts
        # from the chained guess, which is within a pixel or two
        lv = 4 if guess is None else (0 if fine else 2)
        (g0, _), (g1, valid1) = self._grey_valid(t), self._grey_valid(s)
        win = _WIN if guess is None else (_FINE_WIN if fine else (15, 15))
        p1, st, _ = cv2.calcOpticalFlowPyrLK(g0, g1, p0, p1, flags=flags, winSize=win, maxLevel=lv, criteria=_CRIT)
        if p1 is None:
            return None
        pb, st2, _ = cv2.calcOpticalFlowPyrLK(g1, g0, p1, p0.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                              winSize=win, maxLevel=lv, criteria=_CRIT)
        ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((pb - p0)[:, 0], axis=1) < 0.5)
        h, w = g1.shape
        q = p1[:, 0]
        ok &= (q[:, 0] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] >= 0) & (q[:, 1] <= h - 1)
        if ok.sum() < 12:
            return None
        qi = np.clip(np.round(q[ok]).astype(int), 0, [w - 1, h - 1])
        ok_idx = np.nonzero(ok)[0][valid1[qi[:, 1], qi[:, 0]] > 0]
        if len(ok_idx) < 12:
            return None
        a = p0[ok_idx, 0] / np.array([self.sx, self.sy], np.float32)
        b = p1[ok_idx, 0] / np.array([self.sx, self.sy], np.float32)
        Hm, inl = cv2.findHomography(a, b, cv2.USAC_MAGSAC, 1.0 / min(self.sx, self.sy), maxIters=2000,
                                     confidence=0.999)
        if Hm is None or inl is None:
            return None
        inl = inl[:, 0] > 0
        if inl.sum() < 10:
            return None
        # a final least-squares fit on the inliers (MAGSAC's model is already
        # weighted; this only polishes it)
        Hm2, _ = cv2.findHomography(a[inl], b[inl], 0)
        if Hm2 is not None:
            Hm = Hm2
        proj = cv2.perspectiveTransform(a[inl][:, None], Hm)[:, 0]
        res = float(np.median(np.linalg.norm(proj - b[inl], axis=1)))
        return Link(Hm, float(inl.sum() / max(1, len(p0))), res)


def _firmness(link: Link | None) -> float | None:
    """How firmly a neighbour link registers its frames, 0..1 (see
    :meth:`CameraModel.strength`); None for a failed link."""
    if link is None:
        return None
    a = (link.inliers - _STRONG_INLIERS[0]) / (_STRONG_INLIERS[1] - _STRONG_INLIERS[0])
    b = (_STRONG_RESIDUAL[1] - link.residual) / (_STRONG_RESIDUAL[1] - _STRONG_RESIDUAL[0])
    return min(max(a, 0.0), 1.0) * min(max(b, 0.0), 1.0)
