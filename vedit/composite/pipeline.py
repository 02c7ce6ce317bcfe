"""Fast paths for replace-bg: threads that overlap decode, compositing and
encode, and a person matte that shares one low-resolution optical flow per
frame between matte smoothing and gap filling (and the camera tracker's dense
mode), made beside the model in the decode thread.

    for frame in prefetch(clip.frames()): ...          # decode runs ahead in a thread
    with ThreadedWriter(writer) as wr: wr.write(out)   # encode waits in a thread
    pm = PersonMatter("auto", (640, 360))
    for item in pm.stream(frames):                      # item.alpha, item.grey, item.flow_back
    src = prefetch(frames, fn=lambda f: pm.prepare(None, f))   # grey + flow in the decode thread
    for item in pm.stream(src): ...

OpenCV, PyAV, MediaPipe and pipe writes release the GIL, so on a 2-core
machine decode/encode and the per-frame maths really run side by side.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.streams import ThreadedWriter, prefetch  # noqa: F401 - re-exported (one implementation)


def roi_of(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) box around the True pixels of ``mask`` grown by
    ``margin`` and clipped to the frame; None when nothing is set."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))


def guided_refine_roi(alpha: np.ndarray, frame: np.ndarray, radius: int, eps: float = 1e-3,
                      subsample: int = 1) -> np.ndarray:
    """``vedit.masks.refine.guided_refine`` restricted to the box where the
    matte is not (below half a level) 0: outside it a guided filter of a
    constant 0 stays 0, so the result is the whole-frame filter's (within half
    a level) at a fraction of the cost. ``subsample`` > 1: the fast guided
    filter (``vedit.masks.refine.fast_guided_filter``)."""
    from vedit.masks.refine import guided_refine

    box = roi_of(alpha > (0.5 / 255.0), 2 * radius + 2)
    if box is None:
        return alpha
    y0, y1, x0, x1 = box
    out = np.zeros_like(alpha)
    out[y0:y1, x0:x1] = guided_refine(alpha[y0:y1, x0:x1], frame[y0:y1, x0:x1], radius=radius, eps=eps,
                                      subsample=subsample)
    return out


@dataclass
class Analysed:
    """One frame of the analysis pass."""

    frame: np.ndarray | None  # the frame as given (full resolution), if kept
    work: np.ndarray  # RGB at working resolution
    alpha: np.ndarray  # float32 matte at working resolution
    grey: np.ndarray  # uint8 grey at flow resolution
    flow_back: np.ndarray | None  # flow this frame -> previous at flow resolution


def flow_size(work: tuple[int, int], side: int = 320) -> tuple[int, int]:
    s = min(1.0, side / max(work))
    return max(16, int(round(work[0] * s))), max(16, int(round(work[1] * s)))


class PersonMatter:
    """The person matte of ``vedit.masks`` (MediaPipe pose/selfie models,
    hole filling, guided-filter edges, temporal smoothing along flow, gaps
    carried along flow) computed with one DIS flow per frame pair at
    ``flow_side`` px (which a dense-flow camera tracker can reuse), and the
    guided filter run only around the person (the fast one from 360 px tall
    working frames up).

    ``stream(pairs)`` takes (full frame or None, frame at ``work`` size) pairs
    (or the tuples of :meth:`prepare`, made in another thread, optionally
    passed through :meth:`model` in a third) and yields
    :class:`Analysed` items in order (frames before the first detection are
    held back, at most ``max_gap``, then filled backward along flow). Raises
    InvalidInputError when nobody is found in the whole clip.
    """

    def __init__(self, person_model: str, work: tuple[int, int], refine: bool = True, smooth: bool = True,
                 flow_side: int = 320, flow_preset: str = "fast", keep_frames: bool = False, max_gap: int = 30,
                 strength: float = 0.85, agree: float = 1.0, what: str = "the clip", every: int = 1):
        from vedit.masks.person import PersonSegmenter

        self.seg = PersonSegmenter(person_model)
        self.work = (int(work[0]), int(work[1]))
        self.fsize = flow_size(self.work, flow_side)
        presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                   "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
        self.dis = cv2.DISOpticalFlow_create(presets[flow_preset])
        self._dis_prep = cv2.DISOpticalFlow_create(presets[flow_preset])  # prepare() runs in its own thread
        self._prep_prev: np.ndarray | None = None
        self.refine, self.smooth = bool(refine), bool(smooth)
        self.radius = max(2, round(min(self.work) / 60))
        # the fast guided filter where its coarse grid keeps a window radius
        # of 3 px or more (as vedit.masks.person)
        self.subsample = max(1, self.radius // 3)
        self.keep_frames = keep_frames
        self.max_gap = max_gap
        self.strength, self.agree = float(strength), float(agree)
        self.what = what
        self.every = max(1, int(every))
        self.found = False
        fw, fh = self.fsize
        # identity remap grids (x, y as two channels) at flow and working size
        self._grid_f = np.dstack(np.meshgrid(np.arange(fw, dtype=np.float32), np.arange(fh, dtype=np.float32)))
        self._grid_w = np.dstack(np.meshgrid(np.arange(self.work[0], dtype=np.float32),
                                             np.arange(self.work[1], dtype=np.float32)))

    # -- helpers -----------------------------------------------------------------
    def _to_work(self, flow: np.ndarray) -> np.ndarray:
        """Flow at flow resolution -> a remap grid at working resolution."""
        w, h = self.work
        fw, fh = self.fsize
        f = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.multiply(f, (w / fw, h / fh, 0.0, 0.0))

    def _carry(self, alpha: np.ndarray, flow_work: np.ndarray) -> np.ndarray:
        return cv2.remap(alpha, cv2.add(self._grid_w, flow_work), None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    def _valid(self, grey: np.ndarray, prev_grey: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Where the back-flow is trustworthy: the previous frame, warped by
        it, matches this one (a photometric check, one flow instead of two)."""
        back = cv2.remap(prev_grey, cv2.add(self._grid_f, flow), None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        d = cv2.absdiff(back, grey)
        v = cv2.subtract(1.5, cv2.multiply(d, 1.0 / 12.0, dtype=cv2.CV_32F))  # clipped to [0, 1] below
        cv2.max(v, 0.0, dst=v)
        cv2.min(v, 1.0, dst=v)
        return cv2.resize(v, self.work, interpolation=cv2.INTER_LINEAR)

    def _segment(self, work: np.ndarray, seg=None) -> tuple[np.ndarray, bool]:
        """The model alone (``seg``, default ``self.seg``): matte at working
        size, and whether it is empty."""
        a = (seg or self.seg).segment(work)
        if a.shape != (self.work[1], self.work[0]):
            a = cv2.resize(a, self.work, interpolation=cv2.INTER_LINEAR)
        return a, bool((a > 0.5).mean() < 0.002)

    def _refine_raw(self, a: np.ndarray, empty: bool, work: np.ndarray) -> tuple[np.ndarray, bool]:
        from vedit.masks.refine import fill_holes

        if not empty and self.refine:
            a = guided_refine_roi(fill_holes(a), work, self.radius, subsample=self.subsample)
        return a, empty

    def _raw(self, work: np.ndarray) -> tuple[np.ndarray, bool]:
        return self._refine_raw(*self._segment(work), work)

    def model(self, prepared: tuple) -> tuple:
        """Run the person model on a :meth:`prepare` tuple and append its
        output, so the model can run in a thread of its own ahead of
        ``stream`` (which then does the refinement and smoothing). Only with
        ``every=1`` (with ``every>1`` the model skips frames)."""
        if self.every != 1:
            raise ValueError("PersonMatter.model() needs every=1")
        return prepared + (self._segment(prepared[1]),)

    def models(self, prepared: Iterable[tuple]) -> Iterator[tuple]:
        """:meth:`model` over ``prepared`` in order, on two MediaPipe instances
        on alternating frames, each in a thread of its own (the model is the
        first pass's longest stage and releases the GIL). "auto" chooses the
        model on one instance first; the second runs the same model."""
        it = iter(prepared)
        for p in it:
            yield self.model(p)
            if self.seg.model is not None:
                break
        if self.seg.model is None:
            return
        from vedit.masks.base import alternate
        from vedit.masks.person import PersonSegmenter

        second = PersonSegmenter(self.seg.model)
        try:
            yield from alternate(it, (self.model, lambda p: p + (self._segment(p[1], second),)))
        finally:
            second.close()

    # -- API ---------------------------------------------------------------------
    def prepare(self, frame: np.ndarray | None, work: np.ndarray) -> tuple:
        """The per-frame work that needs no model: the working-size frame, its
        grey copy at flow size and the back-flow to the previous prepared
        frame. Call in frame order (e.g. in the decode thread, so it runs
        beside the model); ``stream`` takes the tuples it returns."""
        if (work.shape[1], work.shape[0]) != self.work:
            work = cv2.resize(work, self.work, interpolation=cv2.INTER_AREA)
        grey = cv2.resize(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY), self.fsize, interpolation=cv2.INTER_AREA)
        flow = None if self._prep_prev is None else self._dis_prep.calc(grey, self._prep_prev, None)
        self._prep_prev = grey
        return frame, work, grey, flow

    def stream(self, pairs: Iterable[tuple]) -> Iterator[Analysed]:
        """``pairs``: (frame or None, frame at working size) pairs, or the
        tuples of :meth:`prepare` (for the whole clip, not mixed)."""
        pending: deque = deque()  # leading frames with nobody found: (item, grey)
        prev_grey = None
        prev_alpha = None  # last output matte (smoothed / carried)
        since = 0  # frames since the model last ran
        try:
            for tup in pairs:
                seg_out = None
                if len(tup) >= 4:
                    frame, work, grey, flow = tup[:4]
                    if len(tup) == 5:
                        seg_out = tup[4]
                    if prev_grey is None:
                        flow = None
                else:
                    frame, work = tup
                    if (work.shape[1], work.shape[0]) != self.work:
                        work = cv2.resize(work, self.work, interpolation=cv2.INTER_AREA)
                    grey = cv2.resize(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY), self.fsize,
                                      interpolation=cv2.INTER_AREA)
                    flow = None if prev_grey is None else self.dis.calc(grey, prev_grey, None)
                since += 1
                if prev_alpha is not None and since < self.every:
                    # between model frames the matte is carried along the flow
                    prev_alpha = self._carry(prev_alpha, self._to_work(flow))
                    prev_grey = grey
                    yield Analysed(frame if self.keep_frames else None, work, prev_alpha, grey, flow)
                    continue
                since = 0
                raw, empty = self._raw(work) if seg_out is None else self._refine_raw(*seg_out, work)
                item = Analysed(frame if self.keep_frames else None, work, raw, grey, flow)
                if empty and prev_alpha is None:
                    pending.append(item)
                    if len(pending) > self.max_gap:
                        old = pending.popleft()
                        old.alpha = np.zeros_like(raw)
                        yield old
                    prev_grey = grey
                    continue
                if empty:
                    fw = self._to_work(flow)
                    item.alpha = self._carry(prev_alpha, fw)
                else:
                    self.found = True
                    if pending:  # carry this matte backwards through the leading empty frames
                        a, nxt = raw, grey
                        back = []
                        for it in reversed(pending):
                            f = self.dis.calc(it.grey, nxt, None)  # it -> next frame
                            a = self._carry(a, self._to_work(f))
                            back.append(a)
                            nxt = it.grey
                        for it, a in zip(pending, reversed(back)):
                            it.alpha = a
                            yield it
                        pending.clear()
                    elif self.smooth and prev_alpha is not None and flow is not None:
                        fw = self._to_work(flow)
                        carried = self._carry(prev_alpha, fw)
                        valid = self._valid(grey, prev_grey, flow)
                        # wgt = strength * valid * exp(-(|raw - carried| / agree)^2)
                        d = cv2.absdiff(raw, carried)
                        wgt = cv2.exp(cv2.multiply(d, d, scale=-1.0 / (self.agree * self.agree)))
                        wgt = cv2.multiply(wgt, valid, scale=self.strength)
                        # alpha = raw + wgt * (carried - raw)
                        item.alpha = cv2.add(raw, cv2.multiply(wgt, cv2.subtract(carried, raw)))
                prev_alpha = item.alpha
                prev_grey = grey
                yield item
            if not self.found:
                raise InvalidInputError(
                    f"no person found in {self.what}; use --matte MASK, --matte grabcut --box X,Y,W,H "
                    "or --matte sam to say what to keep")
        finally:
            close = getattr(pairs, "close", None)
            if close is not None:  # stop a model thread upstream before closing the model
                close()
            self.seg.close()
