"""The flow stage of ``propagate`` keeps independently moving subjects out of
the background's sources (a player the camera follows is no view of the wall
behind him)."""
import cv2
import numpy as np
import pytest

import vedit.engines.propagate.engine as engine_mod
from vedit.engines.propagate import PropagateInpaintEngine

from .conftest import texture

N, H, W, V = 30, 96, 128, 3  # frames, size, pan speed (px/frame)


def _clip(with_subject: bool = True, v: int = V, x0: int = 76):
    """A camera panning over a texture (``v`` px/frame); a textured subject
    holds still in the frame right of a static hole (columns from ``x0``,
    so it moves against the background), the way a followed subject does."""
    world = texture(H, W + v * N + 4, 1)
    clean = [np.ascontiguousarray(world[:, v * i: v * i + W]) for i in range(N)]
    subject = texture(40, 24, 7)
    mask = np.zeros((H, W), np.uint8)
    mask[30:66, 40:70] = 255
    frames = []
    for c in clean:
        f = c.copy()
        if with_subject:
            f[28:68, x0:x0 + 24] = subject
        f[mask > 0] = (250, 20, 200)
        frames.append(f)
    return frames, mask, clean


def _moving(eng, frames, mask):
    w, h = eng.work_size(W, H)
    hw = eng._work_holes([eng.region(mask)] * len(frames), w, h)
    fh = [eng._flow_hole(x) for x in hw]
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    dis = eng._dis()
    n = len(frames)
    raw = [eng._moving_one(dis.calc(grey[t], grey[t + 1], None), fh[t], grey[t], grey[t + 1]) for t in range(n - 1)]
    raw.append(eng._moving_one(dis.calc(grey[-1], grey[-2], None), fh[-1], grey[-1], grey[-2]))
    return eng._persistent(raw, fh)


def test_moving_subject_found_and_nothing_on_a_plain_pan():
    eng = PropagateInpaintEngine()
    frames, mask, _ = _clip()
    mov = _moving(eng, frames, mask)
    assert mov is not None
    box = np.zeros((H, W), bool)
    box[28:68, 76:100] = True
    for m in mov[2:-2]:
        assert (m & box).sum() / box.sum() > 0.75  # the subject (less the hole's flow band)
        # little beyond it (DIS flow bleeds a few pixels past an edge)
        assert (m & ~cv2.dilate(box.view(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)).sum() < 0.1 * box.sum()
    plain, mask, _ = _clip(with_subject=False)
    assert _moving(eng, plain, mask) is None  # background alone: nothing moves


@pytest.fixture
def no_exclusion(monkeypatch):
    monkeypatch.setattr(engine_mod, "_MOVING", False)


def _hole_error(frames, mask, clean):
    out = list(PropagateInpaintEngine().inpaint(frames, [mask] * len(frames), total=len(frames)).frames)
    hole = mask > 0
    return float(np.mean([np.abs(o.astype(np.int16) - c.astype(np.int16))[hole].mean()
                          for o, c in zip(out[3:], clean[3:])]))


def test_followed_subject_leaves_no_ghost_in_the_fill(request):
    frames, mask, clean = _clip()
    err = _hole_error(frames, mask, clean)
    request.getfixturevalue("no_exclusion")
    err_without = _hole_error(frames, mask, clean)
    # without the exclusion the subject's pixels are copied into the hole
    assert err < 0.85 * err_without, (err, err_without)


def test_moving_region_away_from_the_hole_leaves_the_holes_flow_alone():
    """In a refinement pass (flow measured on the previous fill) a moving
    region far from the hole (content entering at a frame edge) gets the
    background's motion but leaves the hole's measured flow alone; a subject
    beside the hole is completed with the hole, so its motion does not enter
    the hole's flow."""
    eng = PropagateInpaintEngine()
    frames, mask, clean = _clip()
    w, h = eng.work_size(W, H)
    fh = eng._flow_hole(eng._work_holes([eng.region(mask)], w, h)[0])
    # the previous fill, as good as it gets: the clean frames with the subject
    prev = [c.copy() for c in clean[10:12]]
    for p, f in zip(prev, frames[10:12]):
        p[mask == 0] = f[mask == 0]
    g0, g1 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in prev)
    measured = eng._dis().calc(g0, g1, None)
    far = np.zeros((H, W), bool)
    far[2:16, 112:126] = True  # a region at the frame's right edge, away from the hole
    raw = measured.copy()
    raw[far] = (4.0, -3.0)  # moving unlike the background (-V px/frame)
    out = eng._recomplete(raw, raw, fh, far, True)
    np.testing.assert_array_equal(out[fh], measured[fh])
    assert np.abs(out[far] - (-V, 0.0)).max() < 0.5
    # the subject right of the hole, as the moving rule finds it
    mov = _moving(eng, frames, mask)[10]
    assert (mov & ~engine_mod._near_hole(mov, fh)).sum() == 0  # all of it near the hole
    for refine in (True, False):  # the first pass completes hole and subject together
        out = eng._recomplete(measured, measured, fh, mov, refine)
        assert np.abs(out[fh] - (-V, 0.0)).max() < 0.5
        assert np.abs(out[mov] - (-V, 0.0)).max() < 0.5


def _fast_clip():
    """A faster pan (8 px/frame) with the subject 8 px right of the hole: the
    background's motion carries hole pixels onto the subject in the frame
    before."""
    return _clip(v=8, x0=78)


def test_temporal_blend_takes_nothing_from_a_followed_subject(monkeypatch):
    """Where the blend reads the previous frame as it is (a context frame at
    a chunk's start carries no hole), it skips what lands on the subject."""
    frames, mask, clean = _fast_clip()
    blend = PropagateInpaintEngine._temporal_blend
    monkeypatch.setattr(PropagateInpaintEngine, "_temporal_blend",
                        lambda self, *a, prev_hole=None, **k: blend(self, *a, **k))
    err = _hole_error(frames, mask, clean)
    # blending from wherever the background's motion lands smears the
    # subject into the hole, one shifted copy per frame
    monkeypatch.setattr(engine_mod, "_off_subject", lambda ok, flow, mov: ok)
    err_blended = _hole_error(frames, mask, clean)
    assert err < 0.7 * err_blended, (err, err_blended)


def test_temporal_blend_mixes_in_only_the_previous_fill(monkeypatch):
    """Even where the moving-subject check misses the subject (a racket, a
    motion-blurred arm), the blend takes nothing from the previous frame's
    real pixels: only its fill is mixed in, so no ghost enters the recursion."""
    frames, mask, clean = _fast_clip()
    monkeypatch.setattr(engine_mod, "_off_subject", lambda ok, flow, mov: ok)  # the check misses it
    err = _hole_error(frames, mask, clean)
    blend = PropagateInpaintEngine._temporal_blend
    monkeypatch.setattr(PropagateInpaintEngine, "_temporal_blend",
                        lambda self, *a, prev_hole=None, **k: blend(self, *a, **k))
    err_real = _hole_error(frames, mask, clean)
    assert err < 0.7 * err_real, (err, err_real)


def test_near_hole_keeps_the_regions_within_reach_wherever_the_hole_is():
    """``_near_hole`` keeps a whole moving region when any pixel of it comes
    within ``_MOV_NEAR`` px (a disc) of the flow hole, and drops the others:
    also for a hole at a frame corner, whose grown box is clipped there."""
    near = engine_mod._MOV_NEAR
    for hy, hx in ((0, 0), (100, 180), (190, 350)):  # corner, middle, other corner
        fh = np.zeros((213, 384), bool)
        fh[hy:hy + 23, hx:hx + 34] = True
        ys, xs = np.nonzero(fh)
        # a region whose nearest pixel is `near` px below the hole's bottom
        # row (inside the disc), one at near + 2 (outside), each 6 rows tall,
        # placed above the hole where there is no room below
        down = hy + 23 < 213 - near - 10
        base = ys.max() if down else ys.min()
        step = 1 if down else -1
        mov = np.zeros_like(fh)
        inside = base + step * near
        outside = base + step * (near + 2)
        cols = slice(xs.min() + 5, xs.min() + 15)
        left = slice(xs.min() + 20, xs.min() + 30)
        mov[min(inside, inside + 5 * step):max(inside, inside + 5 * step) + 1, cols] = True
        mov[min(outside, outside + 5 * step):max(outside, outside + 5 * step) + 1, left] = True
        got = engine_mod._near_hole(mov, fh)
        assert got[:, cols].any() and got[:, cols].sum() == mov[:, cols].sum()
        assert not got[:, left].any()
        # a region that reaches within range comes whole, also its far end
        # (a tail running 10 px further away from the hole)
        mov2 = mov.copy()
        end = inside + 15 * step
        tail = slice(min(inside, end), max(inside, end) + 1)
        mov2[tail, cols.start] = True
        got2 = engine_mod._near_hole(mov2, fh)
        assert got2[tail, cols.start].all() and got2[end, cols.start]
