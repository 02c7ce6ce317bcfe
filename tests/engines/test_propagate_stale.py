"""What a static hole showed while a subject rushed past it is not carried into
the frames after the subject has left (a frozen ghost of the subject), and
what it shows while the subject is there stays the subject."""
import cv2
import numpy as np
import pytest

import vedit.engines.propagate.engine as engine_mod
from vedit.engines.propagate import PropagateInpaintEngine

N, H, W, R = 40, 112, 192, 18  # frames, size, hole radius
LEAVES = 20  # the subject is gone from this frame on


def _scene(step: int, seed: int = 0):
    """A still camera over a light, finely textured ground; a dark textured
    subject (250 px long) crosses the frame at ``step`` px a frame and is
    gone from frame LEAVES; a static disc hole in the middle."""
    rng = np.random.default_rng(seed)
    g = np.clip(200 + cv2.GaussianBlur(rng.normal(0, 12, (H, W)).astype(np.float32), (0, 0), 2), 0, 255)
    ground = np.dstack([g * 0.95, g * 0.97, g]).astype(np.uint8)
    body = cv2.GaussianBlur(rng.integers(0, 90, (H, 400, 3)).astype(np.uint8), (0, 0), 1.5)
    body[..., 2] = np.clip(body[..., 2].astype(int) + 100, 0, 255)
    yy, xx = np.mgrid[0:H, 0:W]
    hole = (yy - H / 2) ** 2 + (xx - W / 2) ** 2 < R ** 2
    frames = []
    for t in range(N):
        f = ground.copy()
        x0 = -260 + t * step if t < LEAVES else 10 ** 6
        xs = np.arange(W) - x0
        cols = np.nonzero((xs >= 0) & (xs < 250))[0]
        if len(cols):
            f[8:H - 8, cols] = body[8:H - 8, xs[cols] % 400]
        frames.append(f)
    mask = np.where(hole, 255, 0).astype(np.uint8)
    return frames, [mask] * N, ground, hole


def _run(frames, masks, monkeypatch, check: bool):
    if not check:
        monkeypatch.setattr(engine_mod, "_RING_RES_MAX", None)
    eng = PropagateInpaintEngine(camera=False, subject=False)
    return list(eng.inpaint(frames, masks).frames)


@pytest.mark.parametrize("step", [12, 18])
def test_no_frozen_ghost_of_a_subject_that_has_left(step, monkeypatch):
    frames, masks, ground, hole = _scene(step)
    out = _run(frames, masks, monkeypatch, check=True)
    for t in range(LEAVES, N):
        err = np.abs(out[t][hole].astype(np.int16) - ground[hole]).mean()
        dark = (out[t][hole].mean(axis=1) < 150).mean()
        assert err < 6.0 and dark < 0.01, (t, err, dark)
    # while the subject covers the hole the fill continues the subject
    for t in range(LEAVES - 6, LEAVES - 2):
        assert np.abs(out[t][hole].astype(np.int16) - frames[t][hole]).mean() < 15.0


def test_without_the_check_the_ghost_stays(monkeypatch):
    """The failure the check removes (so the test above can fail): chains
    carry the subject's pixels from before it left through the still hole."""
    frames, masks, ground, hole = _scene(12)
    out = _run(frames, masks, monkeypatch, check=False)
    late = [(out[t][hole].mean(axis=1) < 150).mean() for t in range(LEAVES, N)]
    assert min(late) > 0.3


def test_ring_residual_tells_a_change_from_a_motion():
    """The link test: the ring around the hole explained by the flow (a pan)
    against a ring whose content changes (a subject leaving)."""
    frames, masks, ground, hole = _scene(12)
    eng = PropagateInpaintEngine()
    fh = eng._flow_hole(hole)
    dis = eng._dis()
    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    calm = engine_mod._ring_residual(dis.calc(g[30], g[31], None), fh, g[30], g[31])
    leave = engine_mod._ring_residual(dis.calc(g[LEAVES - 1], g[LEAVES], None), fh, g[LEAVES - 1], g[LEAVES])
    pan = np.roll(g[30], 5, axis=1)
    panned = engine_mod._ring_residual(dis.calc(g[30], pan, None), fh, g[30], pan)
    assert calm < 3.0 and panned < 5.0
    assert leave > engine_mod._RING_RES_MAX
