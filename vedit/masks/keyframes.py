"""Several keyframes for one tracked object, and masks added to or taken
from a matte.

Several keyframes (``--mask A.png --frame 0 --mask B.png --frame 60``)
constrain the track from both sides: every frame between two keyframes is
tracked forwards from the earlier one and backwards from the later one, and
the two mattes are blended with weights that fall with the distance to each
keyframe and with the tracker's confidence. A drift or a loss behind an
occluder on one side is then outweighed by the other side as the next
keyframe comes closer, and each keyframe frame is the drawn mask itself.
Frames before the first keyframe are tracked backwards from it, frames after
the last forwards from it.

Memory: the frames of one span between keyframes are held at working
resolution (with its two mattes), not the whole shot.

``--add-mask`` / ``--subtract-mask`` (:func:`edit_mattes`) are applied last,
at the clip's size: a mask image is the same region on every frame, a mask
sequence or video goes frame for frame (e.g. another ``vedit matte``
output: a racket tracked with ``--box``, added to ``--person``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.io import Clip
from vedit.io.masks import MaskSource, open_masks
from vedit.masks.track import LOOKAHEAD, MaskTracker

Anchor = Callable[[np.ndarray, MaskTracker], np.ndarray | None]


def pair_keyframes(masks: Sequence[str], frames: Sequence[int] | None) -> list[tuple[int, str]]:
    """``--mask``/``--frame`` given several times, paired in order and sorted
    by frame. One mask may go without ``--frame`` (frame 0)."""
    masks = [os.fspath(m) for m in masks]
    fr = [int(f) for f in (frames or [])]
    if len(masks) == 1 and len(fr) <= 1:
        return [(fr[0] if fr else 0, masks[0])]
    if len(fr) != len(masks):
        raise InvalidInputError(f"{len(masks)} --mask keyframes but {len(fr)} --frame values: give one --frame N "
                                "after each --mask (--mask A.png --frame 0 --mask B.png --frame 60)")
    if len(set(fr)) != len(fr):
        raise InvalidInputError(f"--frame {', '.join(map(str, fr))}: two keyframe masks on the same frame")
    return sorted(zip(fr, masks))


def _track_span(tracker: MaskTracker, frames: list[np.ndarray], anchor: Anchor | None,
                tail: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[float]]:
    """Step ``tracker`` over ``frames`` (the frames after its keyframe, in
    tracking order); ``tail`` are the frames that follow them (lookahead)."""
    n = 2 * LOOKAHEAD
    seq = list(frames) + list(tail)[:n]
    alphas, conf = [], []
    for j, f in enumerate(frames):
        a = anchor(f, tracker) if anchor is not None else None
        alphas.append(tracker.step(f, anchor=a, ahead=seq[j + 1:j + 1 + n]))
        conf.append(float(tracker.confidence))
    return alphas, conf


def blend(fwd: np.ndarray, cf: float, bwd: np.ndarray, cb: float, t: float) -> tuple[np.ndarray, float]:
    """The matte at fraction ``t`` (0..1) of a span, from the track forwards
    from its start (``fwd``, confidence ``cf``) and backwards from its end
    (``bwd``, ``cb``): each weighted by its nearness and the cube of its
    confidence (a track that slid onto another object keeps a middling
    confidence; the cube lets a confident track outweigh it from afar)."""
    wf, wb = (1.0 - t) * (cf ** 3 + 1e-3), t * (cb ** 3 + 1e-3)
    a = (wf * fwd + wb * bwd) / (wf + wb)
    return a.astype(np.float32), float((wf * cf + wb * cb) / (wf + wb))


def track_keyframes(frames: Iterable[np.ndarray], keys: Sequence[tuple[int, np.ndarray]],
                    anchor: Anchor | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """``(frame, alpha, confidence)`` for every frame of ``frames``, tracked
    from the keyframe alphas ``keys`` (``(index, alpha)``, sorted, at the
    frames' size): see the module docstring."""
    n = 2 * LOOKAHEAD
    it = iter(frames)
    buf: list[np.ndarray] = []   # frames read but not yet yielded, starting at index ``base``
    base = 0

    def upto(i: int) -> None:
        """Read frames until index ``i`` (inclusive) is buffered, if the clip has it."""
        while base + len(buf) <= i:
            try:
                buf.append(next(it))
            except StopIteration:
                return

    # before the first keyframe: backwards from it
    k0, a0 = keys[0]
    upto(k0)
    if k0 >= len(buf):
        raise InvalidInputError(f"--frame {k0} is past the end of the clip ({len(buf)} frames)")
    if k0:
        rev = buf[:k0][::-1]
        tr = MaskTracker(buf[k0], a0, ahead=rev[:n])
        back, conf = _track_span(tr, rev, anchor)
        for f, a, c in zip(buf[:k0], back[::-1], conf[::-1]):
            yield f, a, c
        del buf[:k0]
        base = k0
    # between keyframes: both ways, blended
    for (ka, aa), (kb, ab) in zip(keys, keys[1:]):
        upto(kb + n)
        if kb - base >= len(buf):
            raise InvalidInputError(f"--frame {kb} is past the end of the clip ({base + len(buf)} frames)")
        span = buf[1:kb - base]
        yield buf[0], (aa > 0.5).astype(np.float32), 1.0
        fw_tr = MaskTracker(buf[0], aa, ahead=buf[1:1 + n])
        fwd, cf = _track_span(fw_tr, span, anchor, tail=buf[kb - base:])
        bw_tr = MaskTracker(buf[kb - base], ab, ahead=span[::-1][:n])
        bwd, cb = _track_span(bw_tr, span[::-1], anchor)
        bwd, cb = bwd[::-1], cb[::-1]
        m = kb - ka
        for j, f in enumerate(span):
            a, c = blend(fwd[j], cf[j], bwd[j], cb[j], (j + 1) / m)
            yield f, a, c
        del buf[:kb - base]
        base = kb
    # after the last keyframe: forwards from it
    kl, al = keys[-1]
    upto(kl + n)
    tr = MaskTracker(buf[0], al, ahead=buf[1:1 + n])
    yield buf[0], tr.output(), 1.0
    rest = buf[1:]
    buf.clear()

    def fill() -> None:
        while len(rest) < n + 1:
            try:
                rest.append(next(it))
            except StopIteration:
                return

    fill()
    while rest:
        f = rest.pop(0)
        fill()
        hint = anchor(f, tr) if anchor is not None else None
        yield f, tr.step(f, anchor=hint, ahead=rest[:n]), float(tr.confidence)


def open_edit_masks(clip: Clip, add: Sequence[str] | None, subtract: Sequence[str] | None
                    ) -> tuple[list[MaskSource], list[MaskSource]]:
    """The ``--add-mask`` and ``--subtract-mask`` files opened and checked
    against ``clip`` (size, frame count) before any work."""
    def one(paths: Sequence[str] | None, flag: str) -> list[MaskSource]:
        out = []
        for p in paths or []:
            try:
                out.append(open_masks(os.fspath(p), clip, allow_empty=True, soft=True))
            except InvalidInputError as exc:
                raise InvalidInputError(f"{flag} {p}: {exc}") from None
        return out

    return one(add, "--add-mask"), one(subtract, "--subtract-mask")


class MatteEdit:
    """``--add-mask`` / ``--subtract-mask`` applied one frame at a time:
    ``edit(alpha)`` for each frame of the clip in order → the matte with the
    ``add`` masks joined (maximum) and the ``subtract`` masks taken out
    (multiplied by 1 - mask). A matte at another size than the masks (a
    working-size matte) gets them resized."""

    def __init__(self, add: Sequence[MaskSource], subtract: Sequence[MaskSource]):
        self._add = [iter(m) for m in add]
        self._sub = [iter(m) for m in subtract]

    def __bool__(self) -> bool:
        return bool(self._add or self._sub)

    @staticmethod
    def _fit(m: np.ndarray, a: np.ndarray) -> np.ndarray:
        if m.shape == a.shape:
            return m
        return cv2.resize(m, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        out = alpha
        for it in self._add:
            out = np.maximum(out, self._fit(next(it), alpha))
        for it in self._sub:
            out = out * (1.0 - self._fit(next(it), alpha))
        return np.ascontiguousarray(out, dtype=np.float32)


def edit_mattes(alphas: Iterable[np.ndarray], add: Sequence[MaskSource],
                subtract: Sequence[MaskSource]) -> Iterator[np.ndarray]:
    """:class:`MatteEdit` over a stream of mattes."""
    edit = MatteEdit(add, subtract)
    if not edit:
        yield from alphas
        return
    for a in alphas:
        yield edit(a)
