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

A small object apart from them (a ball hit away or tossed, the incoming
ball before it reaches them) is not found this way: :mod:`vedit.masks.flight`
tracks such objects and gives one to the person its path leads back or
forward to within a few frames (``flights``, on by default).

Cost: each frame is reduced once (grey at the flow's size, colour at the
analysis size ``max_side``) and kept while it is in the window; steps 2
and 3 run only inside the box the people can reach (their boxes grown by
``reach``), in 8-bit.

The frames ``t + k`` are needed, so :meth:`PropFinder.run` yields ``k``
frames behind its input (and keeps ``2k`` earlier ones); with ``flights``
it holds its output ``lead`` frames more (3), until the objects in flight
of those frames are known to be someone's.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

import cv2
import numpy as np

from vedit.flow import fit_global_motion
from vedit.masks.flight import Flights

Item = tuple[np.ndarray, dict[int, np.ndarray]]


def _disk(r: int) -> np.ndarray:
    r = max(1, int(r))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _box(m: np.ndarray, pad: int, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the nonzero pixels of ``m`` grown by ``pad`` and
    clipped to ``shape``; None when ``m`` is empty."""
    rows = np.flatnonzero(m.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return (max(0, int(rows[0]) - pad), min(shape[0], int(rows[-1]) + pad + 1),
            max(0, int(cols[0]) - pad), min(shape[1], int(cols[-1]) + pad + 1))


class _Reduced:
    """One frame reduced once for every pair it takes part in."""

    __slots__ = ("grey", "small", "blur", "coarse")

    def __init__(self, frame: np.ndarray, flow_size: tuple[int, int], size: tuple[int, int]):
        rgb = np.ascontiguousarray(frame[:, :, :3])
        # bilinear: an area average at a fractional factor costs five times as much
        small = rgb if (rgb.shape[1], rgb.shape[0]) == size else cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        self.small = small
        self.coarse = cv2.resize(small, flow_size, interpolation=cv2.INTER_AREA)  # the flights' grid
        self.grey = cv2.cvtColor(self.coarse, cv2.COLOR_RGB2GRAY)
        # the warped neighbour is smoothed by its bilinear resampling: the
        # frame it is compared with is smoothed alike
        self.blur = cv2.GaussianBlur(small, (3, 3), 0)


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
    may extend;
    ``max_side``: the long side of the grid the motion is compared on (a
    720p working frame is compared at 480x270: the props are upsampled
    with a soft edge, like the person model's);
    ``flow_side``: that of the optical flow the camera motion is fitted to;
    ``flights``: also what flies from or to a person (:class:`Flights`)."""

    def __init__(self, k: int = 2, threshold: float = 16.0, reach: float = 0.45, flow_side: int = 256,
                 touch: float = 1 / 40, link: float = 0.6, max_side: int = 480, flights: bool = True):
        self.k = max(1, int(k))
        self.threshold = float(threshold)
        self.reach = float(reach)
        self.touch = float(touch)
        self.link = float(link)
        self.flow_side = int(flow_side)
        self.max_side = int(max_side)
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._reduced: dict[int, _Reduced] = {}  # shot index -> reduced frame
        self.flights = Flights() if flights else None

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        self._reduced.clear()
        if self.flights is not None:
            self.flights.reset()
        win: deque[Item] = deque()
        first = 0  # shot index of win[0]
        nxt = 0  # shot index of the next item to attach
        held: deque[Item] = deque()  # attached, waiting for the flights' verdict
        lag = 0 if self.flights is None else self.flights.lead
        for item in items:
            win.append(item)
            # frame nxt + k has arrived (nxt + 2k at the start of the shot)
            while nxt + (self.k if nxt >= self.k else 2 * self.k) < first + len(win):
                held.append(self._attach(win, first, nxt))
                nxt += 1
                while first < nxt - 2 * self.k:
                    win.popleft()
                    first += 1
                self._forget(first)
                while len(held) > lag:
                    yield self._flying(held.popleft(), nxt - len(held) - 1)
        while nxt < first + len(win):  # the last frames: only earlier neighbours remain
            held.append(self._attach(win, first, nxt))
            nxt += 1
        while held:
            yield self._flying(held.popleft(), nxt - len(held) - 1)
        self._reduced.clear()
        if self.flights is not None:
            self.flights.reset()

    def _flying(self, item: Item, t: int) -> Item:
        """Frame ``t`` with the flying objects its people own."""
        frame, people = item
        if self.flights is None or not people:
            return item
        H0, W0 = frame.shape[:2]
        _, size, _, _ = self._sizes(H0, W0)
        got = self.flights.take(t, (size[1], size[0]))
        if not got:
            return item
        out = dict(people)
        for pid, m in got.items():
            if pid not in out:
                continue
            a = cv2.GaussianBlur(m.astype(np.float32), (3, 3), 0.8)
            if (size[0], size[1]) != (W0, H0):
                a = cv2.resize(a, (W0, H0), interpolation=cv2.INTER_LINEAR)
            out[pid] = np.maximum(out[pid], a)
        return frame, out

    def _forget(self, first: int) -> None:
        for j in [j for j in self._reduced if j < first]:
            del self._reduced[j]

    def _sizes(self, h: int, w: int) -> tuple[float, tuple[int, int], float, tuple[int, int]]:
        """(scale, size) of the analysis grid and of the flow grid."""
        s = min(1.0, self.max_side / max(h, w))
        size = (max(16, round(w * s)), max(16, round(h * s)))
        f = min(1.0, self.flow_side / max(size))
        return s, size, f, (max(16, round(size[0] * f)), max(16, round(size[1] * f)))

    def _reduce(self, win: deque, first: int, j: int) -> _Reduced:
        r = self._reduced.get(j)
        if r is None:
            frame = win[j - first][0]
            _, size, _, fsize = self._sizes(*frame.shape[:2])
            r = self._reduced[j] = _Reduced(frame, fsize, size)
        return r

    def _homography(self, cur: _Reduced, other: _Reduced, people: np.ndarray) -> np.ndarray | None:
        """Camera motion cur → other on the flow grid, fitted outside ``people``
        (cur's people at the analysis size); None when the fit fails. (Each
        direction is fitted on its own: inverting the fit of the way back
        lost a few percent of the racket on tennis.)"""
        fsize = (cur.grey.shape[1], cur.grey.shape[0])
        flow = self.dis.calc(cur.grey, other.grey, None)
        bg = cv2.resize((~people).astype(np.uint8), fsize, interpolation=cv2.INTER_NEAREST) > 0
        return fit_global_motion(flow, bg)

    def _difference(self, cur: _Reduced, other: _Reduced, H: np.ndarray, f: float,
                    roi: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Inside ``roi`` (analysis grid): the largest channel difference
        between ``cur`` and ``other`` warped onto it by the camera motion
        ``H`` (flow grid, cur → other), uint8; and where ``other`` had no
        pixel (None when it covers all of ``roi``)."""
        y0, y1, x0, x1 = roi
        h, w = other.small.shape[:2]
        # analysis grid of the roi -> flow grid -> other's analysis grid, elementwise
        # (3x3 products through numpy's BLAS cost milliseconds under load)
        scale = np.array([[1.0, 1.0, 1.0 / f], [1.0, 1.0, 1.0 / f], [f, f, 1.0]])
        Hs = H * scale
        M = Hs.copy()
        M[:, 2] = Hs[:, 0] * x0 + Hs[:, 1] * y0 + Hs[:, 2]
        size = (x1 - x0, y1 - y0)
        warped = cv2.warpPerspective(other.small, M, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        c0, c1, c2 = cv2.split(cv2.absdiff(warped, cur.blur[y0:y1, x0:x1]))
        d = cv2.max(cv2.max(c0, c1), c2)
        corners = np.array([[[0, 0]], [[size[0] - 1, 0]], [[0, size[1] - 1]], [[size[0] - 1, size[1] - 1]]],
                           np.float64)
        src = cv2.perspectiveTransform(corners, M).reshape(-1, 2)
        if (src >= -0.5).all() and (src[:, 0] <= w - 0.5).all() and (src[:, 1] <= h - 0.5).all():
            return d, None  # a homography maps the roi to a convex quad: inside when its corners are
        # where it has none, found on the flow grid (a pixel or two of
        # uncertainty at the edge of the frame is no loss)
        fh, fw = other.grey.shape
        ones = np.full((fh, fw), 255, np.uint8)
        cover = cv2.warpPerspective(ones, H, (fw, fh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        cover = cv2.resize(cover, (w, h), interpolation=cv2.INTER_NEAREST)[y0:y1, x0:x1]
        return d, cover == 0

    def _attach(self, win: deque, first: int, t: int) -> Item:
        frame, people = win[t - first]
        if not people:
            return frame, people
        H0, W0 = frame.shape[:2]
        s, size, f, _ = self._sizes(H0, W0)
        h, w = size[1], size[0]
        masks = {}
        for pid, a in people.items():
            small = a if s == 1.0 else cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
            masks[pid] = small > 0.5
        boxes: dict[int, tuple[int, tuple[int, int, int, int]]] = {}
        for pid, m in masks.items():
            rows = np.flatnonzero(m.any(axis=1))
            if len(rows):
                height = int(rows[-1] - rows[0] + 1)
                bb = _box(m, max(3, int(self.reach * height)) + 2, (h, w))
                if bb is not None:  # rows were found, so never None
                    boxes[pid] = (height, bb)
        if not boxes:
            return frame, people
        roi = (min(b[0] for _, b in boxes.values()), max(b[1] for _, b in boxes.values()),
               min(b[2] for _, b in boxes.values()), max(b[3] for _, b in boxes.values()))
        anyone = np.logical_or.reduce(list(masks.values()))
        k, n_win = self.k, first + len(win)
        if t - k >= first and t + k < n_win:
            pick = (t - k, t + k)
        elif t + k < n_win:  # start of the shot: two later frames also cancel the ghost
            pick = (t + k, min(t + 2 * k, n_win - 1))
        else:
            pick = (t - k, max(t - 2 * k, first))
        cur = self._reduce(win, first, t)
        pairs = []  # (other, camera motion cur -> other)
        for j in dict.fromkeys(pick):
            if first <= j < n_win and j != t:
                other = self._reduce(win, first, j)
                H = self._homography(cur, other, anyone)
                if H is not None:
                    pairs.append((other, H))

        def both(box: tuple[int, int, int, int]) -> np.ndarray:
            """The difference from both neighbours inside ``box`` (0 where neither has a pixel)."""
            diffs = [self._difference(cur, other, H, f, box) for other, H in pairs]
            d, gone = diffs[0]
            if len(diffs) == 2:
                d1, gone1 = diffs[1]
                # where one neighbour has no pixel the other one decides
                a = d if gone is None else np.where(gone, d1, d)
                b = d1 if gone1 is None else np.where(gone1, d, d1)
                d = cv2.min(a, b)
                gone = None if gone is None or gone1 is None else gone & gone1
            if gone is not None:
                d[gone] = 0
            return d

        if not pairs:
            if self.flights is not None:
                self.flights.step(t, cur.coarse, [], f, cur.small, both, masks, masks, {})
            return frame, people
        out, held = self._props(people, masks, boxes, roi, both(roi), (h, w), (H0, W0))
        if self.flights is not None:
            self.flights.step(t, cur.coarse, [(o.coarse, H) for o, H in pairs], f, cur.small, both, masks, held,
                              {pid: float(b[0]) for pid, b in boxes.items()})
        return frame, out

    def _props(self, people: dict[int, np.ndarray], masks: dict[int, np.ndarray],
               boxes: dict[int, tuple[int, tuple[int, int, int, int]]], roi: tuple[int, int, int, int],
               d: np.ndarray, shape: tuple[int, int], full_shape: tuple[int, int]
               ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Each person's alpha with their props, and what each holds (their
        mask with the props) on the analysis grid; ``d`` is the difference
        from both neighbours inside ``roi``."""
        h, w = shape
        H0, W0 = full_shape
        y0, y1, x0, x1 = roi
        held = dict(masks)
        moving = (d > self.threshold).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, _disk(1))
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, _disk(2))
        # components are joined through weaker motion (hysteresis): a racket's
        # thin, blurred handle links its head to the hand
        link = (d > self.link * self.threshold).astype(np.uint8) | moving
        n, lab = cv2.connectedComponents(link, connectivity=8)
        if n < 2:
            return people, held
        inroi = {pid: m[y0:y1, x0:x1] for pid, m in masks.items()}
        out = dict(people)
        for pid, (height, (by0, by1, bx0, bx1)) in boxes.items():
            # everything for this person inside their own reach box (roi coordinates)
            sl = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
            m = inroi[pid][sl]
            mv = moving[sl] > 0
            lb = lab[sl]
            touch = cv2.dilate(m.astype(np.uint8), _disk(max(2, round(self.touch * height)))) > 0
            hit = np.zeros(n, bool)
            hit[lb[touch & mv]] = True
            hit[0] = False
            if not hit.any():
                continue
            # within reach of the body (a distance transform: a dilation by a
            # disk this large costs a hundred times more)
            near = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5) <= max(3, int(self.reach * height))
            prop = hit[lb] & mv & near & ~m
            for q, mq in inroi.items():
                if q != pid:
                    prop &= ~mq[sl]
            if prop.any():
                # soft edge like the model's, and the gap to the body closed
                p = cv2.morphologyEx(prop.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2)).astype(np.float32)
                full = np.zeros((h, w), np.float32)
                full[by0:by1, bx0:bx1] = cv2.GaussianBlur(p, (3, 3), 0.8)
                held[pid] = masks[pid] | (full > 0.5)
                if (w, h) != (W0, H0):
                    full = cv2.resize(full, (W0, H0), interpolation=cv2.INTER_LINEAR)
                out[pid] = np.maximum(people[pid], full)
        return out, held
