"""A small object in flight to or from a person (a ball hit, tossed or
caught, something thrown) belongs to that person's removal matte.

:mod:`vedit.masks.props` takes what moves *and touches* a person. A ball
hit away leaves the racket in a frame or two and then flies free; the
incoming ball is free until it reaches the player. Left out, it floats
through the clean plate. What makes it theirs is its path: it moves on its
own (against the camera-aligned background), stays small, compact and of
one colour, and its path, followed back or forward a few frames, meets what
the person holds (their matte and props). Not a list of classes.

Per frame ``t`` (:meth:`Flights.step`):

1. **detection**: the pixels that differ from both camera-aligned
   neighbours on the small grid the camera motion is fitted on (the
   same both-neighbours test as the props, over the whole frame at that
   size, about a millisecond); its compact connected parts no wider
   than ``max_size`` of the nearest person's height, apart from every
   person and their props, are candidates;
2. **tracks**: each track predicts its next centre (constant velocity, or
   constant acceleration after three detections) and takes the nearest
   candidate inside a gate around the prediction whose size and colour
   match its last detection. A track with one detection has no velocity:
   its gate is ``reach`` of the person's height (a hit ball moves about a
   body height a frame). Unmatched candidates within ``watch`` of a person
   start tracks;
3. **ownership**: a track of two or more detections that moves on its own
   belongs to the person whose held region its path meets within ``lead``
   frames: extrapolated back before its first detection (left the hand or
   racket) or forward after its last (reached them). The tolerance grows
   with speed and with the frames extrapolated. The track must be moving
   away from them after leaving, toward them before arriving. Never a
   track that overlaps another person;
4. **bounds**: a track is dropped when its prediction leaves the frame,
   after ``misses`` frames without a detection, or when it grows beyond
   three times its first size.

Ownership is decided up to ``lead`` frames after a detection (the incoming
ball reaches the player two frames after it is first seen), so
:class:`vedit.masks.props.PropFinder` holds its output that many frames.
A detected blob's matte is its moving pixels on the props' colour grid
(the both-neighbours difference again, in a small box), grown by a pixel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # y0, y1, x0, x1


@dataclass
class _Blob:
    t: int
    c: np.ndarray  # centre (x, y) on the analysis grid
    area: float  # pixels on the analysis grid
    colour: np.ndarray  # mean RGB
    box: Box  # analysis grid
    mask: np.ndarray  # bool, box-sized


@dataclass
class _Track:
    blobs: list[_Blob]
    height: float  # of the nearest person when it started
    owner: int | None = None
    dead: bool = False
    misses: list[int] = field(default_factory=list)  # frames predicted but not found

    @property
    def last(self) -> _Blob:
        return self.blobs[-1]

    def velocity(self) -> np.ndarray | None:
        if len(self.blobs) < 2:
            return None
        a, b = self.blobs[-2], self.blobs[-1]
        return (b.c - a.c) / (b.t - a.t)

    def predict(self, t: int) -> np.ndarray:
        v = self.velocity()
        if v is None:
            return self.last.c
        dt = t - self.last.t
        p = self.last.c + v * dt
        if len(self.blobs) >= 3:
            a, b, c = self.blobs[-3:]
            acc = (c.c - b.c) / (c.t - b.t) - (b.c - a.c) / (b.t - a.t)
            acc = acc / max(1.0, (c.t - a.t) / 2)
            p = p + 0.5 * acc * dt * dt
        return p


def _dist(mask: np.ndarray, p: np.ndarray, r: float) -> float:
    """Distance from ``p`` (x, y) to the nearest pixel of ``mask`` within
    ``r`` (inf beyond)."""
    h, w = mask.shape
    x, y = float(p[0]), float(p[1])
    ri = int(math.ceil(r))
    x0, x1 = max(0, int(x) - ri), min(w, int(x) + ri + 2)
    y0, y1 = max(0, int(y) - ri), min(h, int(y) + ri + 2)
    if x0 >= x1 or y0 >= y1:
        return math.inf
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    if not len(xs):
        return math.inf
    d = float(np.sqrt(((xs + x0 - x) ** 2 + (ys + y0 - y) ** 2).min()))
    return d if d <= r else math.inf


class Flights:
    """Tracks small objects flying to or from people (see the module).

    ``watch``: how far from a person (a fraction of their height) a track may
    start; ``reach``: the farthest a track with one detection may move in a
    frame (same unit); ``near``: the base tolerance for a path to meet a
    held region (same unit); ``lead``: the frames a path is followed back or
    forward; ``misses``: frames a track survives undetected; ``max_size``:
    the largest blob (its longer side, a fraction of the height);
    ``threshold``: colour difference (0-255) that counts as motion."""

    def __init__(self, watch: float = 1.0, reach: float = 1.3, near: float = 0.12, lead: int = 3,
                 misses: int = 2, max_size: float = 0.3, threshold: float = 16.0):
        self.watch = float(watch)
        self.reach = float(reach)
        self.near = float(near)
        self.lead = max(1, int(lead))
        self.misses = max(1, int(misses))
        self.max_size = float(max_size)
        self.threshold = float(threshold)
        self._win = np.ones((5, 5), np.uint8)
        self.reset()

    def reset(self) -> None:
        self.tracks: list[_Track] = []
        self.holds: dict[int, dict[int, tuple[np.ndarray, float]]] = {}  # t -> pid -> (held, height)

    # -- detection ---------------------------------------------------------

    def _moving(self, img: np.ndarray, others: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Both-neighbours colour difference on the flow grid (uint8 0/1): the
        largest channel's, as a ball as bright as the wall behind it still
        differs in colour."""
        fh, fw = img.shape[:2]
        cur = cv2.GaussianBlur(img, (3, 3), 0)
        ds = []
        for other, H in others:
            warped = cv2.warpPerspective(other, H, (fw, fh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            cover = cv2.warpPerspective(np.full((fh, fw), 255, np.uint8), H, (fw, fh),
                                        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            # against the darkest and brightest of the neighbour's pixels a
            # step around: texture the camera fit misplaces by a pixel or two
            # does not count, an object that moves its own size does
            lo, hi = cv2.erode(warped, self._win), cv2.dilate(warped, self._win)
            c0, c1, c2 = cv2.split(cv2.max(cv2.subtract(cur, hi), cv2.subtract(lo, cur)))
            ds.append((cv2.max(cv2.max(c0, c1), c2), cover > 0))
        d, ok = ds[0]
        if len(ds) == 2:
            d1, ok1 = ds[1]
            d = cv2.min(np.where(ok1, d1, d), np.where(ok, d, d1))
            ok = ok | ok1
        d[~ok] = 0
        return (d > self.threshold).astype(np.uint8)

    def step(self, t: int, coarse: np.ndarray, others: list[tuple[np.ndarray, np.ndarray]], f: float,
             small: np.ndarray, fine: Callable[[Box], np.ndarray], people: dict[int, np.ndarray],
             holds: dict[int, np.ndarray], heights: dict[int, float]) -> None:
        """Frame ``t``: ``coarse`` the frame on the flow grid (RGB), ``others``
        its neighbours' (coarse, homography cur → other) on that grid, ``f`` the
        flow grid's scale from the analysis grid, ``small`` the analysis-grid
        RGB frame, ``fine(box)`` the both-neighbours colour difference there,
        ``people`` / ``holds`` each person's matte / matte with props on the
        analysis grid, ``heights`` their heights (same grid)."""
        self.holds[t] = {pid: (holds[pid], heights[pid]) for pid in holds if pid in heights}
        for old in [j for j in self.holds if j < t - self.lead - 1]:
            del self.holds[old]
        live = [tr for tr in self.tracks if not tr.dead]
        h, w = small.shape[:2]
        if not others or not heights:
            for tr in live:
                self._missed(tr, t, (h, w))
            return
        mv = self._moving(coarse, others)
        mv = cv2.morphologyEx(mv, cv2.MORPH_CLOSE, np.ones((2, 2), np.uint8))
        n, _, stats, cents = cv2.connectedComponentsWithStats(mv, connectivity=8)
        tall = max(heights.values())
        anyone = np.logical_or.reduce([m for m in holds.values()] + [m for m in people.values()])
        cands: list[_Blob] = []
        if n > 1:
            st = stats[1:]
            side = np.maximum(st[:, 2], st[:, 3]) / f  # on the analysis grid
            fill = st[:, 4] / (st[:, 2] * st[:, 3])
            ok = (st[:, 4] >= 2) & (side <= self.max_size * tall) & (fill >= 0.3) & \
                 (np.maximum(st[:, 2], st[:, 3]) <= 5 * np.minimum(st[:, 2], st[:, 3]))
            for i in np.flatnonzero(ok):
                b = self._blob(t, stats[i + 1], f, small, fine, anyone, (h, w))
                if b is not None:
                    cands.append(b)
        # tracks take their nearest matching candidate (the most certain tracks first)
        taken = np.zeros(len(cands), bool)
        for tr in sorted(live, key=lambda tr: -len(tr.blobs)):
            p = tr.predict(t)
            v = tr.velocity()
            r_obj = math.sqrt(tr.last.area / math.pi)
            if v is None:
                gate = self.reach * tr.height * (t - tr.last.t)
            else:
                gate = 2 * r_obj + self.near * tr.height + 0.35 * float(np.hypot(*v)) * (t - tr.last.t)
            best, bd = -1, math.inf
            for i, b in enumerate(cands):
                if taken[i]:
                    continue
                d = float(np.hypot(*(b.c - p)))
                ratio = b.area / tr.last.area
                if d <= gate and d < bd and 1 / 3 <= ratio <= 3 and \
                        float(np.abs(b.colour - tr.last.colour).max()) <= 60:
                    best, bd = i, d
            if best >= 0:
                taken[best] = True
                tr.blobs.append(cands[best])
                if cands[best].area > 3 * tr.blobs[0].area:
                    tr.dead = True
            else:
                self._missed(tr, t, (h, w))
        # new tracks near someone
        for i, b in enumerate(cands):
            if taken[i]:
                continue
            best_h = None
            for pid, (held, ph) in self.holds[t].items():
                if _dist(held, b.c, self.watch * ph) < math.inf:
                    best_h = ph if best_h is None else max(best_h, ph)
            if best_h is not None:
                self.tracks.append(_Track([b], best_h))
        for tr in self.tracks:
            if tr.owner is None and not tr.dead and len(tr.blobs) >= 2:
                tr.owner = self._owner_back(tr)
        # forget tracks whose detections are all older than any frame still held
        self.tracks = [tr for tr in self.tracks if tr.last.t >= t - self.lead - 1 or not tr.dead]

    def _blob(self, t: int, st: np.ndarray, f: float, small: np.ndarray, fine: Callable[[Box], np.ndarray],
              anyone: np.ndarray, shape: tuple[int, int]) -> _Blob | None:
        """The candidate of one flow-grid component: its moving pixels on the
        analysis grid, None when it touches someone or is no compact blob there."""
        h, w = shape
        x, y, bw, bh = (int(v) for v in st[:4])
        pad = 2
        box = (max(0, int((y - 1) / f) - pad), min(h, int((y + bh + 1) / f) + pad + 1),
               max(0, int((x - 1) / f) - pad), min(w, int((x + bw + 1) / f) + pad + 1))
        y0, y1, x0, x1 = box
        if y1 - y0 < 2 or x1 - x0 < 2 or anyone[y0:y1, x0:x1].any():
            return None
        m = fine(box) > self.threshold
        if m.sum() < 3:
            return None
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
        ys, xs = np.nonzero(m)
        c = np.array([xs.mean() + x0, ys.mean() + y0])
        colour = small[y0:y1, x0:x1][m].reshape(-1, 3).mean(axis=0)
        return _Blob(t, c, float(m.sum()), colour, box, m)

    def _missed(self, tr: _Track, t: int, shape: tuple[int, int]) -> None:
        """``tr`` not found at ``t``: it may have reached someone (ownership
        from ahead) and is dropped when lost too long or out of the frame."""
        tr.misses.append(t)
        p = tr.predict(t)
        h, w = shape
        if tr.owner is None and len(tr.blobs) >= 2 and t in self.holds:
            v = tr.velocity()
            speed = float(np.hypot(*v)) if v is not None else 0.0
            j = t - tr.last.t
            if speed >= 1 + 0.02 * tr.height and j <= self.lead:
                for pid, (held, ph) in self.holds[t].items():
                    tol = self.near * ph + math.sqrt(tr.last.area / math.pi) + 0.35 * speed * j
                    before = _dist(self.holds[tr.last.t][pid][0], tr.last.c, self.reach * ph) \
                        if pid in self.holds.get(tr.last.t, {}) else math.inf
                    now = _dist(held, p, tol)
                    if now < math.inf and now < before:  # moving toward them, and reached them
                        tr.owner = pid
                        break
        # one detection has no velocity to follow: it must be found again at once
        if len(tr.blobs) == 1 or t - tr.last.t >= self.misses or not (0 <= p[0] < w and 0 <= p[1] < h):
            tr.dead = True

    def _owner_back(self, tr: _Track) -> int | None:
        """The person whose held region the track's path, followed back from
        its first detection, meets within ``lead`` frames (None)."""
        v = tr.velocity()
        if v is None:
            return None
        speed = float(np.hypot(*v))
        first = tr.blobs[0]
        if speed < 1 + 0.02 * tr.height:
            return None
        # the first two detections: moving away from whoever it left
        v0 = (tr.blobs[1].c - first.c) / (tr.blobs[1].t - first.t)
        for j in range(1, self.lead + 1):
            held_then = self.holds.get(first.t - j)
            if not held_then:
                continue
            p = first.c - v0 * j
            for pid, (held, ph) in held_then.items():
                tol = self.near * ph + math.sqrt(first.area / math.pi) + 0.35 * speed * j
                if _dist(held, p, tol) == math.inf:
                    continue
                later = self.holds.get(tr.blobs[1].t, {}).get(pid)
                d0 = _dist(self.holds[first.t][pid][0], first.c, self.reach * ph) if pid in self.holds.get(
                    first.t, {}) else math.inf
                d1 = _dist(later[0], tr.blobs[1].c, 3 * self.reach * ph) if later is not None else math.inf
                if d1 > d0 or d0 == math.inf:
                    return pid
        return None

    def take(self, t: int, shape: tuple[int, int]) -> dict[int, np.ndarray]:
        """Frame ``t``'s flying objects, per owner: bool masks on the analysis
        grid (``shape``), each detection grown by a pixel."""
        out: dict[int, np.ndarray] = {}
        for tr in self.tracks:
            if tr.owner is None:
                continue
            for b in tr.blobs:
                if b.t != t:
                    continue
                m = out.setdefault(tr.owner, np.zeros(shape, bool))
                y0, y1, x0, x1 = b.box
                m[y0:y1, x0:x1] |= cv2.dilate(b.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        return out
