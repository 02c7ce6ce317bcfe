"""Frames larger than the working resolution: where the working grid's maps
change (a seam between two sources, the edge of what the second pass
reached, the edge of the recursive blend) the full-resolution output
cross-fades over about a working pixel instead of copying the working grid's
blocks (a staircase of k x k squares at 1080p, k ~ 5)."""
from __future__ import annotations

import numpy as np

from vedit.engines.propagate.engine import PropagateInpaintEngine as Eng


def _steps(row: np.ndarray) -> int:
    """Jumps of more than 50 grey levels between neighbouring pixels."""
    return int((np.abs(np.diff(row.astype(np.int32))) > 50).sum())


def test_fallback_fill_is_cross_faded_on_the_hole_not_stepped():
    # the second pass reached the right half of a hole; the rest takes the
    # first pass's fill (a 4x smaller frame) whose reach ends in blocks
    H, W, k = 64, 96, 4
    dst = np.full((H, W, 3), 40, np.uint8)
    src = np.full((H // k, W // k, 3), 200, np.uint8)
    hole = np.zeros((H, W), bool)
    hole[8:56, 16:80] = True
    where = np.zeros((H, W), bool)
    where[8:56, 16:48] = True
    stepped = dst.copy()
    Eng._fill_from(stepped, src, where)  # no hole: the plain copy (kept for callers that want it)
    soft = dst.copy()
    Eng._fill_from(soft, src, where, hole)
    row_hard, row_soft = stepped[30, :, 0], soft[30, :, 0]
    assert _steps(row_hard[16:80]) == 1 and _steps(row_soft[16:80]) == 0
    # the fallback's own pixels are its fill, and a few pixels on the other
    # side take part of it
    assert np.all(soft[where] == 200)
    assert 40 < int(soft[30, 49, 0]) < 200 and int(soft[30, 54, 0]) == 40
    # nothing outside the hole changes
    assert np.array_equal(soft[~hole], dst[~hole])


def test_soft_seams_blend_the_two_sources_at_their_seam():
    # a 4x working grid whose left half reads source 0, right half source 1;
    # the two sources are flat 50 and 200 in an atlas of two side-by-side boxes
    k = 4
    h, w = 8, 8
    atlas = np.zeros((40, 80, 3), np.uint8)
    atlas[:, :40] = 50
    atlas[:, 40:] = 200
    S = np.zeros((h, w), np.float32)
    S[:, w // 2:] = 1
    has = np.ones((h, w), bool)
    # each working pixel maps to the centre of its own block, in its source's box
    jx = (np.arange(w, dtype=np.float32) + 0.5) * k - 0.5
    jy = (np.arange(h, dtype=np.float32) + 0.5) * k - 0.5
    AX = np.broadcast_to(jx[None, :], (h, w)).astype(np.float32) % 32 + np.where(S > 0, 40, 0)
    AX = AX.astype(np.float32)
    AY = np.broadcast_to(jy[:, None], (h, w)).astype(np.float32).copy()
    col = np.where(np.arange(w * k)[None, :, None] < w * k // 2, 50.0, 200.0) * np.ones((h * k, 1, 3))
    col = col.astype(np.float32)
    seam = np.zeros((h * k, w * k), bool)
    seam[:, 12:20] = True
    before = col.copy()
    Eng._soft_seams(col, seam, atlas, AX, AY, S, has, (0, 0), (0, 0), float(k), float(k))
    row = col[10, :, 0]
    # a monotone ramp across the seam instead of one jump of 150
    assert np.all(np.diff(row[12:20]) >= -1e-3) and row[12] < 60 and row[19] > 190
    assert np.abs(np.diff(row[10:22])).max() < 60
    # pixels away from the seam keep their colour
    assert np.array_equal(col[:, :12], before[:, :12]) and np.array_equal(col[:, 20:], before[:, 20:])


def test_temporal_blend_weight_is_soft_at_the_edge_of_the_consistent_flow():
    # a 4x working grid: the flow is consistent on the left half only
    k = 4
    h, w = 10, 12
    H, W = h * k, w * k
    hole = np.zeros((H, W), bool)
    hole[4:36, 4:44] = True
    ok_small = np.zeros((h, w), bool)
    ok_small[:, : w // 2] = True
    flow = np.zeros((h, w, 2), np.float32)
    prev = np.full((H, W, 3), 0, np.uint8)
    _box, _pw, ok = Eng._warp_prev(prev, hole, flow, ok_small, W, H)
    assert ok.dtype == np.float32 and ok.min() == 0.0 and ok.max() == 1.0
    mid = ok[10]
    assert ((mid > 0.05) & (mid < 0.95)).sum() >= 2  # a ramp, not one step



def _sheets(seed: int = 0):
    """A textured background filled from three source frames lit
    differently (+18, -12 and +5 grey levels, and a colour cast), in vertical
    bands; a strong real edge crosses the middle band."""
    rng = np.random.default_rng(seed)
    H, W = 48, 90
    truth = 120 + rng.normal(0, 6, (H, W, 3)).astype(np.float32)
    truth[:, 40:46] += 70  # a bright stripe (a real edge, kept as it is)
    S = np.zeros((H, W), np.float32)
    S[:, 30:60] = 4
    S[:, 60:] = 9
    light = {0: np.array([18, 18, 18]), 4: np.array([-12, -8, -14]), 9: np.array([5, 9, 2])}
    patch = truth.copy()
    for s, d in light.items():
        patch[S == s] += d
    return truth, patch, S


def test_source_offsets_remove_the_steps_between_differently_lit_sources():
    truth, patch, S = _sheets()
    sel = np.ones(S.shape, bool)
    sel[:, :3] = False  # pixels no source reached stay as they are
    out = patch.copy()
    Eng._source_offsets(out, sel, S)
    assert np.array_equal(out[~sel], patch[~sel])

    def step(img, x):  # mean step across the seam between columns x-1 and x
        return float(np.abs(img[:, x - 3:x].mean((0, 1)) - img[:, x:x + 3].mean((0, 1))).max())

    for x in (30, 60):
        assert step(patch, x) > 15 and step(out, x) < 3, (x, step(patch, x), step(out, x))
    # the sources keep their texture and the real edge inside one of them
    assert np.allclose(np.diff(out[:, 5:29], axis=1), np.diff(patch[:, 5:29], axis=1), atol=1e-3)
    assert float(out[:, 40:46].mean() - out[:, 34:40].mean()) > 60
    # one source only: nothing to match
    one = patch.copy()
    Eng._source_offsets(one, sel, np.zeros_like(S))
    assert np.array_equal(one, patch)


def test_source_offsets_ignore_real_edges_along_a_seam():
    # the seam between two sources runs along a real edge of 80 levels: no
    # pair is counted, the sources keep their colours
    H, W = 40, 60
    patch = np.full((H, W, 3), 60.0, np.float32)
    patch[:, 30:] = 140.0
    S = np.zeros((H, W), np.float32)
    S[:, 30:] = 1
    out = patch.copy()
    Eng._source_offsets(out, np.ones((H, W), bool), S)
    assert np.array_equal(out, patch)
