"""propagate engine: contract, invariance, reveal quality, occluder rejection,
streaming, and the DESIGN §7 protocol on real footage against per-frame TELEA."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vedit.engines import get_engine, names
from vedit.engines.inpaint_propagate import PropagateInpaintEngine, spatial_fill
from vedit.flow.ops import mask_bbox


def psnr(a, b, m):
    d = (a.astype(np.float64) - b)[m] ** 2
    return 10 * np.log10(255 ** 2 / max(d.mean(), 1e-10))


def test_registry_lists_propagate():
    assert "propagate" in names("inpaint")
    eng = get_engine("inpaint", "propagate")
    assert isinstance(eng, PropagateInpaintEngine)


def test_contract_shape_invariance_determinism(pan_case):
    inp, mask, clean = pan_case
    eng = PropagateInpaintEngine(dilate=2, feather=2)
    out1 = list(eng.inpaint(inp, [mask] * len(inp), seed=0).frames)
    out2 = list(PropagateInpaintEngine(dilate=2, feather=2).inpaint(inp, [mask] * len(inp), seed=0).frames)
    region = eng.region(mask)
    assert len(out1) == len(inp)
    for a, b, o in zip(out1, out2, inp):
        assert a.shape == o.shape and a.dtype == np.uint8
        assert np.array_equal(a, b)  # deterministic
        assert np.array_equal(a[~region], o[~region])  # outside untouched, bit-exact
        assert not (a[region] == (250, 20, 200)).all(axis=1).any()  # nothing of the object left


def test_pan_past_logo_reveals_background(pan_case):
    inp, mask, clean = pan_case
    out = list(PropagateInpaintEngine().inpaint(inp, [mask] * len(inp)).frames)
    m = mask > 0
    scores = [psnr(o, c, m) for o, c in zip(out, clean)]
    assert np.mean(scores) >= 28.0, scores


def _moving_occluder_case():
    n, h, w = 24, 96, 128
    rng = np.random.default_rng(3)
    world = (cv2.resize(rng.random((30, 60, 3)).astype(np.float32), (w + 60, h)) * 200).astype(np.uint8)
    clean, inp = [], []
    mask = np.zeros((h, w), np.uint8)
    mask[30:66, 56:84] = 255
    red_tex = (rng.random((56, 24)) * 50).astype(np.uint8)
    green_tex = (rng.random((56, 24)) * 60).astype(np.uint8)
    for i in range(n):
        f = np.ascontiguousarray(world[:, 2 * i: 2 * i + w])
        x = 104 - 4 * i  # red box travelling left, passing over the hole's area
        f = f.copy()
        # a textured red object (real objects have texture; flow sees them move)
        x0c, x1c = max(0, x), min(w, x + 24)
        if x1c > x0c:
            f[2:26, x0c:x1c, 0] = 215 + red_tex[:24, x0c - x:x1c - x]
            f[2:26, x0c:x1c, 1:] = green_tex[:24, x0c - x:x1c - x, None]
        clean.append(f.copy())
        g = f.copy()
        g[mask > 0] = (0, 255, 0)
        inp.append(g)
    return inp, mask, clean


def test_occluder_rejection():
    """A textured red object moving against the pan just above the hole must not
    be smeared into it (the naive chain's failure on running_car)."""
    inp, mask, clean = _moving_occluder_case()
    out = list(PropagateInpaintEngine().inpaint(inp, [mask] * len(inp)).frames)
    m = mask > 0
    # red pixels may appear only where the red box really is in that frame
    smeared = 0
    for o, c in zip(out, clean):
        red_out = (o[..., 0] > 200) & (o[..., 1] < 70) & (o[..., 2] < 70) & m
        red_true = (c[..., 0] > 200) & (c[..., 1] < 70) & (c[..., 2] < 70)
        red_true = cv2.dilate(red_true.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        smeared += int((red_out & ~red_true).sum())
    assert smeared < 0.01 * m.sum() * len(out), smeared


def test_streaming_bounded_window(pan_case):
    from vedit.engines.propagate.engine import _READ_AHEAD

    inp, mask, clean = pan_case
    frames = inp + inp[::-1]  # the pan goes back: a longer continuous shot
    pulled = [0]

    def src():
        for f in frames:
            pulled[0] += 1
            yield f

    eng = PropagateInpaintEngine(chunk_size=8, overlap=3)
    gen = eng.inpaint(src(), iter([mask] * len(frames)), total=len(frames)).frames
    first = next(gen)
    assert first.shape == inp[0].shape
    # one chunk, plus the bounded read-ahead of the next, before the first
    # frame comes out: never the whole shot
    assert pulled[0] <= 8 + _READ_AHEAD + 1
    assert pulled[0] < len(frames)
    rest = list(gen)
    assert len(rest) + 1 == len(frames)
    assert eng.stats["chunks"] >= 10


@pytest.mark.parametrize("n, chunks", [(20, 1), (21, 2)])
def test_short_tail_joins_the_last_chunk(pan_case, n, chunks):
    """A tail of at most a quarter chunk is filled with the chunk before it
    (not as a chunk of its own that re-processes its context); a longer one
    is a chunk of its own. Every frame comes out, filled."""
    inp, mask, clean = pan_case
    eng = PropagateInpaintEngine(chunk_size=16, overlap=4)
    out = list(eng.inpaint(inp[:n], [mask] * n, total=n).frames)
    assert len(out) == n
    assert eng.stats["chunks"] == chunks
    hole = mask > 0
    for o, c in zip(out[-3:], clean[n - 3:n]):
        err = np.abs(o.astype(np.float32) - c.astype(np.float32))[hole].mean()
        assert err < 6.0, err


def test_spatial_fill_fills_everything():
    img = np.full((60, 80, 3), 90, np.uint8)
    img[20:40, 30:50] = (255, 0, 255)
    hole = np.zeros((60, 80), bool)
    hole[18:42, 28:52] = True
    for method in ("shiftmap", "telea"):
        out = spatial_fill(img, hole, method=method)
        assert np.abs(out[hole].astype(int) - 90).max() < 12, method


def _run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def _case(shared_tools, src, out, seed, static, frames):
    cmd = [sys.executable, str(shared_tools / "make_case.py"), str(src), str(out), "--seed", str(seed),
           "--frames", str(frames)] + (["--static"] if static else [])
    r = _run(cmd)
    assert r.returncode == 0, r.stderr
    return out


def _score(shared_tools, out, case):
    r = _run([sys.executable, str(shared_tools / "score.py"), str(out), str(case / "gt"), str(case / "mask")])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _telea(case, out):
    out.mkdir()
    k = np.ones((7, 7), np.uint8)
    for p in sorted((case / "input").glob("*.png")):
        f = cv2.imread(str(p))
        m = cv2.imread(str(case / "mask" / p.name), 0)
        cv2.imwrite(str(out / p.name), cv2.inpaint(f, cv2.dilate(m, k), 5, cv2.INPAINT_TELEA))


@pytest.mark.parametrize("clip,seed,static,margin", [("bmx-trees", 1, False, 1.0), ("tennis", 4, True, 3.0)])
def test_quality_vs_per_frame_telea(tmp_path, shared_media, shared_tools, clip, seed, static, margin):
    """DESIGN §7 on real footage: beats per-frame TELEA inside the hole and is
    far more stable. (bench/remove.py prints the full table.)"""
    from click.testing import CliRunner

    from vedit_cli.main import main

    case = _case(shared_tools, shared_media / clip, tmp_path / "case", seed, static, 40)
    res = CliRunner().invoke(main, ["remove", str(case / "input"), "--mask", str(case / "mask"),
                                    "-o", str(tmp_path / "ours") + "/", "--quiet"])
    assert res.exit_code == 0, res.output
    ours = _score(shared_tools, tmp_path / "ours", case)
    _telea(case, tmp_path / "telea")
    telea = _score(shared_tools, tmp_path / "telea", case)
    assert ours["frames"] == 40
    # measured on these 40-frame cases: +1.77 dB (bmx) and +6.3 dB (tennis)
    assert ours["psnr_mask"] >= telea["psnr_mask"] + margin, (ours, telea)
    assert ours["flicker"] <= 1.6 and ours["flicker"] < 0.7 * telea["flicker"], (ours, telea)


@pytest.mark.parametrize("work_side", [64, 56])
def test_working_resolution_path(pan_case, work_side):
    """Frames larger than the working resolution (here forced with a small
    ``work_side``; 64 gives an integer scale of 2, 56 a scale of 2.29): the
    first pass runs at working resolution, the second samples full-resolution
    colours through the source atlas, the fallback is upsampled. Outside the
    region stays bit-exact, the logo is gone, and the revealed background is
    still recovered."""
    inp, mask, clean = pan_case
    eng = PropagateInpaintEngine(work_side=work_side)
    out = list(eng.inpaint(inp, [mask] * len(inp)).frames)
    region = eng.region(mask)
    m = mask > 0
    for o, i in zip(out, inp):
        assert np.array_equal(o[~region], i[~region])
        assert not (o[m] == (250, 20, 200)).all(axis=1).any()
    scores = [psnr(o, c, m) for o, c in zip(out, clean)]
    assert np.mean(scores) >= 27.0, scores  # 30.1 measured (36.6 at full working resolution)


def _bilinear_reference(a, gx, gy):
    """Exact bilinear sampling with replicated edges (float64; remap itself
    quantises coordinates to 1/32 px)."""
    h, w = a.shape
    x = np.clip(gx.astype(np.float64), 0, w - 1)
    y = np.clip(gy.astype(np.float64), 0, h - 1)
    x0, y0 = np.minimum(np.floor(x).astype(int), w - 2), np.minimum(np.floor(y).astype(int), h - 2)
    fx, fy = x - x0, y - y0
    return ((1 - fy) * ((1 - fx) * a[y0, x0] + fx * a[y0, x0 + 1])
            + fy * ((1 - fx) * a[y0 + 1, x0] + fx * a[y0 + 1, x0 + 1]))


@pytest.mark.parametrize("scale,origin", [((4.0, 4.0), (0, 0)), ((4.0, 4.0), (3, 5)), ((2.0, 3.0), (1, 0)),
                                          ((2.25, 2.25), (0, 0)), ((1.0, 1.0), (2, 2))])
def test_upsample_box_matches_bilinear(scale, origin):
    """The box upsampling (a windowed resize for integer scales, remap else)
    gives pixel-centre aligned, edge-replicated bilinear values, also for a
    cropped grid and for boxes reaching past the crop; nearest equals remap."""
    from vedit.engines.inpaint_propagate import _coarse_grid, _upsample_box

    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.uniform(-50, 50, (30, 40)).astype(np.float32), (0, 0), 1.5)
    sx, sy = scale
    ox, oy = origin
    H, W = int(round((a.shape[0] + oy) * sy)), int(round((a.shape[1] + ox) * sx))
    inside = (int(oy * sy) + 1, int(oy * sy) + 20, int(ox * sx), int(ox * sx) + 9)
    for box in [(0, H, 0, W), (7, H - 3, 11, W - 1), inside]:
        y0, y1, x0, x1 = box
        gx, gy = _coarse_grid(y0, y1, x0, x1, 1.0 / sx, 1.0 / sy, ox, oy)
        want = _bilinear_reference(a, gx, gy)
        got = _upsample_box(a, box, scale, origin, cv2.INTER_LINEAR)
        assert got.shape == (y1 - y0, x1 - x0)
        # remap's 1/32 px coordinate steps on a gradient of a few levels a pixel
        np.testing.assert_allclose(got, want, atol=0.3)
        exact = float(sx).is_integer() and float(sy).is_integer() and box == inside
        if exact:  # the resize path is exact
            np.testing.assert_allclose(got, want, atol=1e-3)
        near = cv2.remap(a, gx, gy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        np.testing.assert_array_equal(_upsample_box(a, box, scale, origin, cv2.INTER_NEAREST), near)
        # a list of channels gives the same, channel by channel
        got2 = _upsample_box([a, -a], box, scale, origin, cv2.INTER_LINEAR)
        np.testing.assert_allclose(got2[1], -got, atol=1e-5)


def test_atlas_boxes_past_the_edge_replicate():
    """Atlas boxes may reach past the frame: those parts repeat the edge (so a
    remap into the atlas near a border reads what BORDER_REPLICATE would),
    and the offsets map frame coordinates to atlas coordinates."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (40, 60, 3), dtype=np.uint8) for _ in range(3)]
    used = np.array([True, False, True])
    x0, x1 = np.array([-4, 0, 50]), np.array([10, 0, 63])
    y0, y1 = np.array([-2, 0, 30]), np.array([12, 0, 44])
    atlas, offx, offy = PropagateInpaintEngine._atlas(frames, used, x0, x1, y0, y1)
    for s in (0, 2):
        padded = cv2.copyMakeBorder(frames[s], 8, 8, 8, 8, cv2.BORDER_REPLICATE)
        for y in range(y0[s], y1[s] + 1):
            for x in (x0[s], (x0[s] + x1[s]) // 2, x1[s]):
                ay, ax = int(y + offy[s]), int(x + offx[s])
                assert np.array_equal(atlas[ay, ax], padded[y + 8, x + 8]), (s, y, x)


def test_repeated_mask_reuses_hole_work(pan_case, monkeypatch):
    """A still mask (the same array every frame) gives one read-only region
    whose derived work (working holes, blend weights) is reused frame to
    frame; the output is identical to recomputing it all for every frame,
    and a changed mask is never served the previous frame's region."""
    inp, mask, _clean = pan_case
    eng = PropagateInpaintEngine(work_side=64)
    r1, r2 = eng.region(mask), eng.region(mask.copy())
    assert r1 is r2 and not r1.flags.writeable
    moved = np.roll(mask, 3, axis=1)
    r3 = eng.region(moved)
    assert r3 is not r1 and not np.array_equal(r3, r1)
    assert eng.region(mask) is not r3

    reused = list(PropagateInpaintEngine(work_side=64).inpaint(inp, [mask] * len(inp)).frames)
    fresh = PropagateInpaintEngine(work_side=64)
    grow = PropagateInpaintEngine.region
    monkeypatch.setattr(fresh, "region", lambda m: grow(fresh, m).copy())  # writeable: nothing reused
    recomputed = list(fresh.inpaint(inp, [mask] * len(inp)).frames)
    for a, b in zip(reused, recomputed):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160), (1280, 720), (960, 540)])
def test_hole_coverage_over_its_box_equals_the_whole_frame_resize(size):
    """The working-resolution coverage of a hole (what the second pass's flow
    frames blend by) is computed over the hole's blocks only: the same
    float32 values as an INTER_AREA resize of the whole frame, at integer
    scales (1080p, UHD) and, through the plain resize, at others."""
    W, H = size
    eng = PropagateInpaintEngine()
    w, h = eng.work_size(W, H)
    rng = np.random.default_rng(W)
    yy, xx = np.mgrid[:H, :W]
    for _ in range(4):
        cy, cx, r = int(rng.integers(0, H)), int(rng.integers(0, W)), int(rng.integers(5, H // 4))
        hole = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        hole[rng.integers(0, H, 20), rng.integers(0, W, 20)] = True  # stray pixels widen the box
        want = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        x, y, bw, bh = cv2.boundingRect(hole.view(np.uint8))
        got = PropagateInpaintEngine._coverage(hole, (y, y + bh, x, x + bw), w, h)
        assert got.dtype == np.float32 and got.shape == (h, w)
        np.testing.assert_array_equal(got, want)
        assert 0 < got.max() <= 1.0


def _region_reference(eng, m):
    """The region as a full-frame threshold and dilation of the whole mask."""
    m = np.asarray(m)
    b = (m.max(axis=2) if m.ndim == 3 else m)
    b = b if b.dtype == bool else b > 127
    g = eng.dilate + eng.feather
    if g == 0:
        return b
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1))
    return cv2.dilate(b.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def _soft_and_edge_masks():
    """Soft uint8 discs (1..254 on a ring, values on both sides of the
    threshold) and their bool versions, in the middle and at the frame's
    edges, and a faint mask: non-zero, but nothing above the threshold."""
    yy, xx = np.mgrid[:90, :160]
    masks = []
    for cy, cx, r in [(45, 80, 20), (3, 2, 12), (88, 158, 9)]:
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        soft = np.clip(255 * (r + 6 - d) / 12, 0, 255).astype(np.uint8)
        masks += [soft, soft > 127]
    faint = np.zeros((90, 160), np.uint8)
    faint[10:20, 10:20] = 100
    return masks, faint


@pytest.mark.parametrize("dilate,feather", [(3, 2), (0, 0)])
def test_region_of_boxed_masks_equals_full_frame_dilation(dilate, feather):
    """The region is grown around the mask's box only: the same pixels as a
    whole-frame dilation for soft uint8 masks (values on both sides of the
    threshold, some outside the thresholded box), bool masks, masks at the
    frame edge, empty masks and 3-channel masks; and a mask that changed
    only outside the previous mask's box is not served the previous region."""
    eng = PropagateInpaintEngine(dilate=dilate, feather=feather)
    rng = np.random.default_rng(7)
    masks, faint = _soft_and_edge_masks()
    masks += [faint, np.zeros((90, 160), np.uint8), np.zeros((90, 160), bool),
              np.repeat(masks[0][:, :, None], 3, axis=2), (rng.random((90, 160)) > 0.995).astype(np.uint8) * 255]
    for m in masks:
        got = eng.region(m)
        assert got.dtype == bool and got.shape == (90, 160) and not got.flags.writeable
        np.testing.assert_array_equal(got, _region_reference(eng, m))
        # the box the region remembers is the box of its pixels (a copy is scanned)
        assert mask_bbox(got) == mask_bbox(got.copy())
    a = masks[0]
    ra = eng.region(a)
    b = a.copy()
    b[80:85, 5:10] = 255  # outside a's box
    rb = eng.region(b)
    assert rb is not ra and rb[82, 7] and not ra[82, 7]
    np.testing.assert_array_equal(rb, _region_reference(eng, b))
    c = b.copy()
    c[45, 80] = 200  # inside the box, still above the threshold: a different mask all the same
    assert eng.region(c) is not rb and eng.region(c.copy()) is eng.region(c)


def test_telea_in_place_writes_into_the_frame():
    """``in_place`` TELEA fills the given frame itself, with the pixels a
    copying fill returns, and leaves everything outside the hole alone."""
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8), (0, 0), 3)
    hole = np.zeros((120, 200), bool)
    hole[40:70, 60:110] = True
    want = spatial_fill(img, hole, method="telea")
    buf = img.copy()
    got = spatial_fill(buf, hole, method="telea", in_place=True)
    assert got is buf
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[~hole], img[~hole])
    assert np.abs(got[hole].astype(int) - img[hole].astype(int)).max() > 0


def test_frames_without_a_hole_come_back_unchanged(pan_case):
    """Frames whose hole is empty (the carried context of a chunk) are
    returned as they are, and filling the others leaves every input frame
    untouched: the hole-free output is the input frame itself, so nothing
    may write into it."""
    inp, mask, clean = pan_case
    inp = [clean[t] if t < 4 else inp[t] for t in range(12)]  # the context is already filled
    frames = [f.copy() for f in inp]
    eng = PropagateInpaintEngine(work_side=64)
    holes = [np.zeros(mask.shape, bool) if t < 4 else eng.region(mask) for t in range(12)]
    res = eng.fill_chunk(frames, holes, _masks=[None] * 4 + [mask] * 8)
    for t in range(12):
        np.testing.assert_array_equal(frames[t], inp[t])  # inputs never written
    for t in range(4):
        np.testing.assert_array_equal(res.frames[t], inp[t])
    m = mask > 0
    for t in range(4, 12):
        assert not np.array_equal(res.frames[t], inp[t])
        err = np.abs(res.frames[t][m].astype(int) - clean[t][m].astype(int)).mean()
        assert err < np.abs(inp[t][m].astype(int) - clean[t][m].astype(int)).mean() / 4


def _alpha_reference(eng, m, region):
    """The blend weight over the whole frame: 1 on the thresholded mask grown
    by ``dilate``, ramping to 0 over the feather band, 0 outside the region."""
    m = np.asarray(m)
    core = (m > 127).astype(np.uint8)
    if eng.dilate > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * eng.dilate + 1, 2 * eng.dilate + 1))
        core = cv2.dilate(core, k)
    d = cv2.distanceTransform((core == 0).astype(np.uint8), cv2.DIST_L2, 3)
    a = np.clip(1.0 - d / np.float32(eng.feather + 1), 0.0, 1.0).astype(np.float32)
    a[~region] = 0.0
    return a


def test_alpha_and_lazy_alphas_equal_the_whole_frame_weight():
    """The blend weight computed over the box of the mask and region equals
    the whole-frame one for soft masks (values on both sides of the
    threshold), masks at the frame edge, faint masks (nothing above the
    threshold) and bool masks; the camera stage's lazy sequence of them gives
    the same arrays as computing each directly."""
    from vedit.engines.propagate.engine import _Alphas

    eng = PropagateInpaintEngine()
    masks, faint = _soft_and_edge_masks()
    masks.append(faint)
    regions = [eng.region(m) for m in masks]
    # a region wider than the mask's own (a hole grown for another reason)
    wide = np.zeros((90, 160), bool)
    wide[5:60, 30:150] = True
    masks.append(masks[0])
    regions.append(wide | regions[0])
    for m, r in zip(masks, regions):
        np.testing.assert_array_equal(eng._alpha(m, r), _alpha_reference(eng, m, r))
    lazy = _Alphas(eng, masks, regions)
    assert len(lazy) == len(masks)
    for i in range(len(masks)):
        np.testing.assert_array_equal(lazy[i], eng._alpha(masks[i], regions[i]))
    assert [a.shape for a in lazy[1:3]] == [(90, 160)] * 2
