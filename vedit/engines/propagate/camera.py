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
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import cv2
import numpy as np

#: longest side of the grey images the camera model is measured on
_TRACK_SIDE = 720
#: inlier share and residual (px) from which a link counts as weak / fully firm
_STRONG_INLIERS = (0.45, 0.75)
_STRONG_RESIDUAL = (0.2, 0.5)
_WIN = (21, 21)
_CRIT = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
_THREADS = max(1, min(2, os.cpu_count() or 1))


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
        w, h = max(8, W // red), max(8, H // red)
        self.sx, self.sy = w / W, h / H
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))

        def grey_valid(i: int) -> tuple[np.ndarray, np.ndarray]:
            g = cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY)
            m = np.ascontiguousarray(holes[i]).view(np.uint8) if holes[i].dtype == bool else holes[i].astype(np.uint8)
            if red > 1:
                g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA)
                m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
            return g, (cv2.dilate(m, grow) == 0).astype(np.uint8) * 255

        self._corners: dict[int, np.ndarray | None] = {}
        self._pairs: dict[tuple[int, int], Link | None] = {}
        n = len(frames)
        # frames and neighbour links in two threads (OpenCV releases the GIL;
        # each link reads only its own frame's corners): the same links as
        # one after the other
        with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="vedit-camera") as pool:
            gv = list(pool.map(grey_valid, range(n)))
            self.grey = [g for g, _ in gv]
            self.valid = [v for _, v in gv]
            links = list(pool.map(lambda t: self._fit(t, t + 1, None), range(n - 1)))
        # chained guess: G[t] maps frame t into frame 0
        self._Ginv: list[np.ndarray] = []
        self.G = [np.eye(3)]
        for t, link in enumerate(links):
            step = link.H if link is not None else np.eye(3)
            self._pairs[(t, t + 1)] = link
            self.G.append(self.G[-1] @ np.linalg.inv(step))

    # -------------------------------------------------------------- public
    def guess(self, t: int, s: int) -> np.ndarray:
        """The chained homography t -> s (full-resolution coordinates)."""
        if len(self._Ginv) != len(self.G):
            self._Ginv = [np.linalg.inv(g) for g in self.G]
        return self._Ginv[s] @ self.G[t]

    def link(self, t: int, s: int) -> Link | None:
        """A directly fitted homography t -> s, or None where the background
        cannot be registered (too few corners follow one homography)."""
        key = (t, s)
        if key not in self._pairs:
            self._pairs[key] = self._fit(t, s, self.guess(t, s))
        return self._pairs[key]

    def strength(self, t: int) -> float:
        """How firmly frame t's background follows one homography, 0..1: the
        share of corners that follow it and how closely (its links to both
        neighbours). A rigid scene under a moving camera is near 1; a scene
        whose corners sit on moving things (a car the camera follows, smoke)
        is near 0."""
        vals = []
        for key in ((t - 1, t), (t, t + 1)):
            if key in self._pairs:
                link = self._pairs[key]
                if link is None:
                    return 0.0
                a = (link.inliers - _STRONG_INLIERS[0]) / (_STRONG_INLIERS[1] - _STRONG_INLIERS[0])
                b = (_STRONG_RESIDUAL[1] - link.residual) / (_STRONG_RESIDUAL[1] - _STRONG_RESIDUAL[0])
                vals.append(min(max(a, 0.0), 1.0) * min(max(b, 0.0), 1.0))
        return float(min(vals)) if vals else 0.0

    def cached(self, t: int, s: int) -> Link | None:
        """The direct fit t -> s if one was made (never fits)."""
        return self._pairs.get((t, s))

    # ------------------------------------------------------------ fitting
    def corners(self, t: int) -> np.ndarray | None:
        c = self._corners.get(t, np.empty(0))
        if c is not None and c.size == 0:
            g = self.grey[t]
            c = cv2.goodFeaturesToTrack(g, maxCorners=300, qualityLevel=0.003, minDistance=7,
                                        mask=self.valid[t], blockSize=7)
            if c is None or len(c) < 12:
                c = None
            self._corners[t] = c
        return c

    def _fit(self, t: int, s: int, guess: np.ndarray | None) -> Link | None:
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
        lv = 4 if guess is None else 2
        g0, g1 = self.grey[t], self.grey[s]
        win = _WIN if guess is None else (15, 15)
        p1, st, _ = cv2.calcOpticalFlowPyrLK(g0, g1, p0, p1, flags=flags, winSize=win, maxLevel=lv, criteria=_CRIT)
        if p1 is None:
            return None
        pb, st2, _ = cv2.calcOpticalFlowPyrLK(g1, g0, p1, p0.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                              winSize=win, maxLevel=lv, criteria=_CRIT)
        ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((pb - p0)[:, 0], axis=1) < 0.5)
        h, w = self.grey[s].shape
        q = p1[:, 0]
        ok &= (q[:, 0] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] >= 0) & (q[:, 1] <= h - 1)
        if ok.sum() < 12:
            return None
        qi = np.clip(np.round(q[ok]).astype(int), 0, [w - 1, h - 1])
        ok_idx = np.nonzero(ok)[0][self.valid[s][qi[:, 1], qi[:, 0]] > 0]
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
