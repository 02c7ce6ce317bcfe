"""Sources lit differently meet without a step: the flow stage fills a hole
from several frames, and when the light changes between them (exposure, a
cloud) each frame's share is a sheet of its own brightness. One offset per
source frame, fitted on the seams between them, removes the steps."""
import cv2
import numpy as np

import vedit.engines.propagate.engine as engine_mod
from vedit.engines.propagate import PropagateInpaintEngine

N, H, W = 36, 96, 176


def _scene(seed: int = 0):
    """A camera panning 3 px a frame over a textured wall whose light steps
    by 24 grey levels every 4 frames; a static square hole in the middle."""
    rng = np.random.default_rng(seed)
    big = np.clip(128 + cv2.GaussianBlur(rng.normal(0, 30, (H, W + 3 * N)).astype(np.float32), (0, 0), 1.5), 0, 200)
    hole = np.zeros((H, W), bool)
    hole[30:66, 70:106] = True
    frames, truth = [], []
    for t in range(N):
        g = big[:, 3 * t:3 * t + W] + (24.0 if (t // 4) % 2 else 0.0)
        f = np.dstack([g, g * 0.97, g * 0.93]).clip(0, 255).astype(np.uint8)
        truth.append(f.copy())
        frames.append(f)
    return frames, [np.where(hole, 255, 0).astype(np.uint8)] * N, truth, hole


def _steps(img: np.ndarray, hole: np.ndarray) -> float:
    """Mean jump of the 4-px column means across the hole's columns (the
    sheets are vertical bands: the pan is horizontal)."""
    g = img[hole.any(axis=1)][:, hole.any(axis=0)].astype(np.float32).mean(axis=2)
    cols = g.mean(axis=0)
    return float(np.abs(np.diff(cols[::4])).mean())


def _run(frames, masks, offsets: bool, monkeypatch):
    if not offsets:
        monkeypatch.setattr(engine_mod.PropagateInpaintEngine, "_source_offsets", staticmethod(lambda *a: None))
    eng = PropagateInpaintEngine(camera=False, subject=False)
    return list(eng.inpaint(frames, masks).frames)


def test_sources_lit_differently_meet_without_a_step(monkeypatch):
    frames, masks, truth, hole = _scene()
    with monkeypatch.context() as m:
        plain = _run(frames, masks, False, m)
    out = _run(frames, masks, True, monkeypatch)
    ts = range(4, N - 4)
    s_plain = np.mean([_steps(plain[t], hole) for t in ts])
    s_out = np.mean([_steps(out[t], hole) for t in ts])
    s_true = np.mean([_steps(truth[t], hole) for t in ts])
    # without offsets the fill shows the sheets; with them it is about as
    # smooth across as the wall itself
    assert s_plain > s_true + 1.5, (s_plain, s_true)
    assert s_out < s_plain - 1.0 and s_out < s_true + 1.0, (s_out, s_plain, s_true)
    err = lambda o: np.mean([np.abs(o[t][hole].astype(np.float32) - truth[t][hole]).mean() for t in ts])  # noqa: E731
    assert err(out) < err(plain)
    # outside the (grown) hole nothing changes
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    assert all(np.array_equal(o[~grown], f[~grown]) for o, f in zip(out, frames))
