"""What a person holds or rides (a racket, a ball in hand, a bag, a bicycle):
found from motion and contact, not from a list of object classes.

A person model paints the body; a racket swung at arm's length, a ball
leaving the hand or the bicycle under a rider are not in its mask, and a
removal that leaves them floating in the clean plate is useless. What such
objects share is that they move against the background together with the
person and touch them. So, per frame ``t``:

1. the camera's motion to the frames ``t - k`` and ``t + k`` (a homography
   fitted to low-resolution optical flow outside the people);
2. the pixels that differ from *both* camera-aligned neighbours (the
   minimum of the two differences cancels the ghost a moving object leaves
   where it was, as in :mod:`vedit.masks.track`);
   (at the ends of the shot two neighbours on the same side do it);
3. the connected moving regions that touch a person's mask are that
   person's props, kept within a reach of the person's size (so a passer-by
   moving behind them is not taken) and never inside another person.

The frames ``t + k`` are needed, so :meth:`PropFinder.run` yields ``k``
frames behind its input (and keeps ``2k`` earlier ones).
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

import cv2
import numpy as np

from vedit.flow import fit_global_motion

Item = tuple[np.ndarray, dict[int, np.ndarray]]


def _disk(r: int) -> np.ndarray:
    r = max(1, int(r))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


class PropFinder:
    """Adds props to per-person mattes. ``run(items)``: (frame RGB uint8,
    {person id: float32 alpha}) pairs in shot order → the same pairs with
    each person's props added, ``k`` frames behind.

    ``threshold``: colour difference (0-255) that counts as motion;
    ``touch``: how near (a fraction of the person's height) a moving region
    must come to the person to be theirs;
    ``link``: the fraction of it through which moving regions connect
    (hysteresis: a racket's thin, blurred handle joins its head to the hand);
    ``reach``: how far from the person (a fraction of their height) a prop
    may extend."""

    def __init__(self, k: int = 2, threshold: float = 16.0, reach: float = 0.45, flow_side: int = 256,
                 touch: float = 1 / 40, link: float = 0.6):
        self.k = max(1, int(k))
        self.threshold = float(threshold)
        self.reach = float(reach)
        self.touch = float(touch)
        self.link = float(link)
        self.flow_side = int(flow_side)
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        win: deque[Item] = deque()
        first = 0  # shot index of win[0]
        nxt = 0  # shot index of the next item to yield
        for item in items:
            win.append(item)
            # frame nxt + k has arrived (nxt + 2k at the start of the shot)
            while nxt + (self.k if nxt >= self.k else 2 * self.k) < first + len(win):
                yield self._attach(win, nxt - first)
                nxt += 1
                while first < nxt - 2 * self.k:
                    win.popleft()
                    first += 1
        while nxt < first + len(win):  # the last frames: only earlier neighbours remain
            yield self._attach(win, nxt - first)
            nxt += 1

    def _aligned(self, cur: np.ndarray, other: np.ndarray, people: np.ndarray) -> np.ndarray | None:
        """``other`` warped onto ``cur`` by the camera's motion (float32; pixels
        from outside ``other`` are NaN), or None when the fit fails."""
        h, w = cur.shape[:2]
        s = min(1.0, self.flow_side / max(h, w))
        size = (max(16, round(w * s)), max(16, round(h * s)))
        g0 = cv2.resize(cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        g1 = cv2.resize(cv2.cvtColor(other, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        flow = self.dis.calc(g0, g1, None)
        bg = cv2.resize((~people).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        H = fit_global_motion(flow, bg)
        if H is None:
            return None
        S = np.diag([s, s, 1.0])
        Hf = np.linalg.inv(S) @ H @ S  # cur -> other, full resolution
        out = cv2.warpPerspective(other.astype(np.float32), Hf, (w, h),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=(np.nan, np.nan, np.nan))
        return out

    def _attach(self, win: deque, i: int) -> Item:
        frame, people = win[i]
        if not people:
            return frame, people
        cur = np.ascontiguousarray(frame[:, :, :3])
        masks = {pid: a > 0.5 for pid, a in people.items()}
        anyone = np.logical_or.reduce(list(masks.values()))
        diffs = []
        k, n_win = self.k, len(win)
        if i - k >= 0 and i + k < n_win:
            pick = (i - k, i + k)
        elif i + k < n_win:  # start of the shot: two later frames also cancel the ghost
            pick = (i + k, min(i + 2 * k, n_win - 1))
        else:
            pick = (i - k, max(i - 2 * k, 0))
        blur = cv2.GaussianBlur(cur, (3, 3), 0).astype(np.float32)
        for j in dict.fromkeys(pick):
            if 0 <= j < n_win and j != i:
                nb = self._aligned(cur, np.ascontiguousarray(win[j][0][:, :, :3]), anyone)
                if nb is not None:
                    c0, c1, c2 = cv2.split(cv2.absdiff(nb, blur))  # NaN outside stays NaN
                    diffs.append(cv2.max(cv2.max(c0, c1), c2))
        if not diffs:
            return frame, people
        d = diffs[0] if len(diffs) == 1 else np.fmin(diffs[0], diffs[1])
        d = np.nan_to_num(d, nan=0.0)
        moving = (d > self.threshold).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, _disk(1))
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, _disk(2))
        # components are joined through weaker motion (hysteresis): a racket's
        # thin, blurred handle links its head to the hand
        link = (d > self.link * self.threshold).astype(np.uint8) | moving
        n, lab = cv2.connectedComponents(link, connectivity=8)
        if n < 2:
            return frame, people
        out = dict(people)
        for pid, m in masks.items():
            rows = np.flatnonzero(m.any(axis=1))
            if not len(rows):
                continue
            height = rows[-1] - rows[0] + 1
            touch = cv2.dilate(m.astype(np.uint8), _disk(max(2, round(self.touch * height)))) > 0
            hit = np.zeros(n, bool)
            hit[lab[touch & (moving > 0)]] = True
            hit[0] = False
            if not hit.any():
                continue
            # within reach of the body (a distance transform: a dilation by a
            # disk this large costs a hundred times more)
            near = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5) <= max(3, int(self.reach * height))
            others = np.zeros_like(m)
            for q, mq in masks.items():
                if q != pid:
                    others |= mq
            prop = hit[lab] & (moving > 0) & near & ~others & ~m
            if prop.any():
                # soft edge like the model's, and the gap to the body closed
                p = cv2.morphologyEx(prop.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2)).astype(np.float32)
                out[pid] = np.maximum(people[pid], cv2.GaussianBlur(p, (3, 3), 0.8))
        return frame, out
