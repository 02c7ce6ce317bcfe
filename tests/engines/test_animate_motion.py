"""Motion brush: frame 0, stillness outside the region, direction, loops."""
import cv2
import numpy as np
import pytest

from tests.helpers import gradient_energy
from vedit.engines.animate_motion import Arrow, MotionAnimateEngine, interpolate_arrows, loop_phases
from vedit.engines.splat import forward_splat, map_density
from vedit.errors import InvalidInputError
from vedit.flow import compute_flow


def _run(img, n=24, **kw):
    out = MotionAnimateEngine(**{k: kw.pop(k) for k in ("render",) if k in kw}).animate(img, num_frames=n, **kw)
    frames = list(out.frames)
    assert len(frames) == n == out.frame_count
    return frames


def _steps(frames):
    return [float(np.abs(frames[i + 1].astype(float) - frames[i]).mean()) for i in range(len(frames) - 1)]


@pytest.mark.parametrize("loop", [False, True])
def test_frame0_exact_and_outside_still(still, loop):
    img, water = still["img"], still["water"]
    frames = _run(img, 24, arrows=["40,120,100,120"], region=water, loop=loop)
    assert np.array_equal(frames[0], img)
    outside = water == 0
    for f in frames:
        assert f.shape == img.shape and f.dtype == np.uint8
        assert np.abs(f.astype(float) - img)[outside].mean() < 1.0
    # and it does move inside
    assert np.abs(frames[12].astype(float) - img)[water > 0].mean() > 3.0


def test_follows_arrow_direction(still):
    img, water = still["img"], still["water"]
    arrow = (60, 120, 100, 100)  # right and up
    frames = _run(img, 30, arrows=[arrow], region=water, speed=2.0)
    inner = cv2.erode(water, np.ones((15, 15), np.uint8)) > 0
    inner[:, :20] = inner[:, -20:] = False
    want = np.degrees(np.arctan2(arrow[3] - arrow[1], arrow[2] - arrow[0]))
    for t in (5, 15, 25):
        fl = compute_flow(frames[t], frames[t + 1], preset="medium", max_side=None)
        v = np.median(fl[inner], axis=0)
        got = np.degrees(np.arctan2(v[1], v[0]))
        assert abs((got - want + 180) % 360 - 180) < 20, (t, got, want)
        assert np.hypot(*v) > 0.3


def test_loop_seam_is_a_normal_step(still):
    img, water = still["img"], still["water"]
    frames = _run(img, 30, arrows=["40,120,90,110"], region=water, loop=True)
    steps = _steps(frames)
    seam = float(np.abs(frames[-1].astype(float) - frames[0]).mean())
    assert seam <= 1.5 * np.median(steps), (seam, np.median(steps))
    # without --loop the last frame is far from the first
    plain = _run(img, 30, arrows=["40,120,90,110"], region=water, loop=False)
    assert np.abs(plain[-1].astype(float) - plain[0]).mean() > 3 * seam


def test_whole_frame_without_region(still):
    img = still["img"]
    frames = _run(img, 10, arrows=["100,80,130,80"], loop=True)
    assert np.array_equal(frames[0], img)
    assert min(_steps(frames)) > 0.1


def test_splat_reference_agrees_with_fast_path(still):
    img = cv2.resize(still["img"], (120, 80), interpolation=cv2.INTER_AREA)
    region = cv2.resize(still["water"], (120, 80), interpolation=cv2.INTER_NEAREST)
    kw = dict(arrows=["30,60,45,60"], region=region, loop=True)
    fast = _run(img, 12, **kw)
    ref = _run(img, 12, render="splat", **kw)
    assert np.array_equal(ref[0], img)
    for a, b in zip(fast, ref):
        assert np.abs(a.astype(float) - b).mean() < 2.0


def test_forward_splat_translation_and_holes():
    img = np.arange(12 * 16, dtype=np.float32).reshape(12, 16)
    flow = np.zeros((12, 16, 2), np.float32)
    flow[:, :, 0] = 2.0
    out, den = forward_splat(img, flow)
    assert np.allclose(out[:, 2:], img[:, :-2])
    assert (den[:, :2] == 0).all() and np.allclose(den[:, 2:], 1.0)
    xs, ys = np.meshgrid(np.arange(16, dtype=np.float32), np.arange(12, dtype=np.float32))
    assert np.allclose(map_density(xs * 0.5, ys)[1:-1, 1:-1], 0.5)


def test_field_is_zero_outside_region_and_interpolates():
    region = np.zeros((50, 80), np.uint8)
    region[10:40, 10:70] = 255
    eng = MotionAnimateEngine(feather=4)
    m = eng.field((50, 80), ["20,25,30,25", "60,25,60,35"], region)
    assert (m[region == 0] == 0).all()
    assert m[25, 20, 0] > 5 and abs(m[25, 20, 1]) < 5   # near arrow 1: to the right
    assert m[25, 60, 1] > 5 and abs(m[25, 60, 0]) < 5   # near arrow 2: down
    f = interpolate_arrows(20, 20, [Arrow(0, 0, 3, 4)])
    assert np.allclose(f[..., 0], 3) and np.allclose(f[..., 1], 4)


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d", (1, 2), "1,2,3,nan"])
def test_bad_arrow(bad):
    with pytest.raises(InvalidInputError, match="--motion"):
        Arrow.parse(bad)


def test_errors(still):
    eng = MotionAnimateEngine()
    with pytest.raises(InvalidInputError, match="empty"):
        eng.animate(still["img"], num_frames=3, arrows=["1,1,2,2"], region=np.zeros((160, 240), np.uint8))
    with pytest.raises(InvalidInputError, match="region"):
        eng.animate(still["img"], num_frames=3, arrows=["1,1,2,2"], region=np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidInputError, match="at least one"):
        eng.animate(still["img"], num_frames=3, arrows=[])


# -- single warps, regions from arrows -------------------------------------------
def _photos():
    """sample_media/still.jpg and two photos shipped inside scikit-image's wheel."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    still = cv2.cvtColor(cv2.imread(str(root / "sample_media" / "still.jpg")), cv2.COLOR_BGR2RGB)
    out = {"still": (still, "100,100,140,100")}
    data = pytest.importorskip("skimage.data")
    out["chelsea"] = (data.chelsea(), "200,150,240,150")
    out["coffee"] = (data.coffee(), "300,200,340,180")
    return out


@pytest.mark.parametrize("name", ["still", "chelsea", "coffee"])
@pytest.mark.parametrize("style", ["bounce", "flow"])
def test_one_arrow_loop_is_a_single_sharp_warp(name, style):
    """No double exposure: every frame keeps >= 95% of the still's gradient
    energy; only the region under the arrow (and a < 40 px band) moves."""
    img, arrow = _photos()[name]
    eng = MotionAnimateEngine(loop_style=style)
    regions = eng.arrow_regions(img, [arrow])
    a = Arrow.parse(arrow)
    assert regions[0].mask[int(a.y0), int(a.x0)]
    out = eng.animate(img, num_frames=30, arrows=[arrow], loop=True, regions=regions)
    frames = list(out.frames)
    assert np.array_equal(frames[0], img)
    e0 = gradient_energy(img)
    ratios = [gradient_energy(f) / e0 for f in frames]
    assert min(ratios) >= 0.95, ratios
    far = cv2.distanceTransform((~regions[0].mask).astype(np.uint8), cv2.DIST_L2, 5) > 40
    for f in frames:
        assert np.abs(f.astype(float) - img)[far].mean() < 1.0
    moved = max(float(np.abs(f.astype(float) - img)[regions[0].mask].mean()) for f in frames)
    assert moved > 3.0
    steps = _steps(frames)
    seam = float(np.abs(frames[-1].astype(float) - frames[0]).mean())
    assert seam <= 1.5 * np.median(steps), (seam, np.median(steps))
    assert out.stats["regions"] and "grabcut" in out.stats["regions"][0]


def _two_objects():
    rng = np.random.default_rng(3)
    h, w = 200, 300
    img = np.clip(cv2.GaussianBlur(rng.normal(128, 40, (h, w, 3)), (0, 0), 1.0), 0, 255)
    img = (0.35 * img + 0.65 * np.array([120, 130, 120])).astype(np.uint8)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (80, 100), 35, 255, -1)
    square = np.zeros((h, w), np.uint8)
    square[50:140, 180:260] = 255
    stripes = ((np.arange(w)[None, :] // 4) % 2).astype(np.float32)[:, :, None]
    red = (np.array([200, 40, 30]) + 40 * stripes).astype(np.uint8)
    blue = (np.array([30, 50, 200]) + 40 * np.transpose(stripes, (1, 0, 2))[:h, :1]).astype(np.uint8)
    img = np.where(disc[:, :, None] > 0, red, img)
    img = np.where(square[:, :, None] > 0, blue, img).astype(np.uint8)
    return img, disc > 0, square > 0


def test_several_arrows_move_their_own_regions():
    img, disc, square = _two_objects()
    arrows = ["80,100,100,100", "220,95,220,115"]  # disc right, square down
    eng = MotionAnimateEngine()
    regions = eng.arrow_regions(img, arrows)
    for r, truth in zip(regions, (disc, square)):
        iou = (r.mask & truth).sum() / (r.mask | truth).sum()
        assert iou > 0.85, iou
    frames = list(eng.animate(img, num_frames=20, arrows=arrows, regions=regions).frames)
    f0, f1 = frames[9], frames[10]
    fl = compute_flow(f0, f1, preset="medium", max_side=None)
    d_in = cv2.erode(disc.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    s_in = cv2.erode(square.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    vd, vs = np.median(fl[d_in], axis=0), np.median(fl[s_in], axis=0)
    assert vd[0] > 0.5 and abs(vd[1]) < 0.3 * vd[0], vd
    assert vs[1] > 0.5 and abs(vs[0]) < 0.3 * vs[1], vs
    away = cv2.distanceTransform((~(regions[0].mask | regions[1].mask)).astype(np.uint8), cv2.DIST_L2, 5) > 40
    assert away.any()
    for f in frames:
        assert np.array_equal(f[away], img[away])


def test_flow_phases_hand_over_briefly():
    n, cycles = 60, 5
    blended = 0
    for t in range(n):
        ph = loop_phases(t, n, True, "flow", cycles, 0.25)
        assert abs(sum(w for _, w in ph) - 1.0) < 1e-9
        if len(ph) > 1:
            blended += 1
            assert abs(ph[0][0] - ph[1][0]) <= 0.5 / cycles + 1e-9  # copies half a cycle apart at most
    assert 0 < blended <= 0.35 * n
    assert loop_phases(0, n, True, "flow", cycles, 0.25) == [(0.0, 1.0)]
    ss = [loop_phases(t, n, True, "bounce", 1, 0.35)[0][0] for t in range(n)]
    assert ss[0] == 0.0 and max(ss) == pytest.approx(1.0) and ss[1] == pytest.approx(ss[-1])


def test_arrow_must_start_inside_without_region(still):
    with pytest.raises(InvalidInputError, match="start inside"):
        MotionAnimateEngine().animate(still["img"], num_frames=3, arrows=["-5,10,20,10"])


def test_flow_maps_compose():
    """Frames continue the previous frame's map; that must match integrating
    from the still (the field is stationary, its flows compose)."""
    h, w = 60, 90
    region = np.zeros((h, w), np.uint8)
    region[10:50, 15:75] = 255
    v = MotionAnimateEngine(feather=8).field((h, w), ["30,30,50,36"], region)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    direct = MotionAnimateEngine.flow_map(v, 0.7, gx, gy)
    stepped = MotionAnimateEngine.flow_map(v, 0.3, gx, gy)
    stepped = MotionAnimateEngine.flow_map(v, 0.4, gx, gy, start=stepped)
    back = MotionAnimateEngine.flow_map(v, -0.7, gx, gy, start=direct)
    assert np.abs(direct).max() > 8
    assert np.abs(stepped - direct).max() < 0.25
    assert np.abs(back).max() < 0.25  # out and back returns to the still


def test_given_masks_pick_regions_and_missing_ones_fall_back():
    """Masks from a segmenter (SAM at the arrow's start) are used where they
    hold the start; otherwise GrabCut picks the region."""
    img, disc, square = _two_objects()
    arrows = ["80,100,100,100", "220,95,220,115"]
    eng = MotionAnimateEngine()
    sam_like = disc.copy()
    sam_like[0:5, 0:5] = True  # a second, unrelated piece: only the one at the start counts
    regions = eng.arrow_regions(img, arrows, [sam_like, np.zeros_like(square)])
    assert regions[0].method == "sam" and np.array_equal(regions[0].mask, disc)
    assert regions[1].method.startswith("grabcut") and "missed" in regions[1].method
    assert (regions[1].mask & square).sum() / (regions[1].mask | square).sum() > 0.85
