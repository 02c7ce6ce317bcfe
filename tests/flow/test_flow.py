import cv2
import numpy as np

from vedit.flow import FlowEstimator, complete_flow, fb_consistency, warp


def _tex(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    n = cv2.resize(rng.random((h // 4, w // 4, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return (n * 255).astype(np.uint8)


def test_flow_recovers_translation_and_warp_aligns():
    world = _tex(140, 200)
    a, b = world[10:130, 10:170], world[10:130, 13:173]  # b is a shifted left by 3 px
    f = FlowEstimator("medium")(a, b)
    assert abs(np.median(f[..., 0]) + 3) < 0.3 and abs(np.median(f[..., 1])) < 0.3
    aligned = warp(b, f)
    assert np.abs(aligned[10:-10, 10:-10].astype(int) - a[10:-10, 10:-10]).mean() < 6


def test_fb_consistency_flags_occlusion():
    f = np.zeros((50, 50, 2), np.float32)
    f[..., 0] = 2
    b = -f.copy()
    ok = fb_consistency(f, b)
    assert ok[:, :40].all()
    b[:, 20:30] = 5  # backward flow disagrees there
    ok = fb_consistency(f, b)
    assert not ok[:, 19:27].any()


def test_complete_flow_ignores_object_motion():
    f = np.zeros((100, 100, 2), np.float32)
    f[..., 0] = 1.5
    hole = np.zeros((100, 100), bool)
    hole[40:60, 40:60] = True
    f[hole] = (9.0, -4.0)  # the removed object's own motion
    for method in ("auto", "smooth", "homography"):
        c = complete_flow(f, hole, method)
        assert np.abs(c[hole] - (1.5, 0.0)).max() < 0.3, method


def test_complete_flow_auto_uses_background_motion_in_a_noisy_ring():
    """Most of the ring (62 %) holds unreliable flow (smoke, motion blur, a
    moving neighbour: running_car), the rest follows the camera all around
    the hole: "auto" fills the hole with the camera's motion (a zoom + pan),
    where the old rule (median residual < 1 px) fell back to a smooth fill of
    the noisy ring."""
    h, w = 120, 160
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.dstack([1.0 + 0.01 * (xs - 80), -0.5 + 0.01 * (ys - 60)]).astype(np.float32)
    f = bg.copy()
    hole = np.zeros((h, w), bool)
    hole[45:75, 60:100] = True
    rng = np.random.default_rng(0)
    noisy = cv2.resize((rng.random((12, 16)) < 0.6).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    f[noisy] += rng.normal(0, 4, (int(noisy.sum()), 2)).astype(np.float32)
    f[hole] = (9.0, -4.0)
    err = np.linalg.norm(complete_flow(f, hole, "auto")[hole] - bg[hole], axis=1).mean()
    assert err < 0.1, err
    smooth = np.linalg.norm(complete_flow(f, hole, "smooth")[hole] - bg[hole], axis=1).mean()
    assert smooth > 0.3, smooth  # what "auto" avoids



def test_membrane_fill_smooth_fills_a_hole_at_any_level_count():
    from vedit.flow.ops import _membrane_fill

    # a linear ramp outside the hole: the fill must continue it smoothly and leave known pixels alone
    h, w = 96, 128
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.dstack([xs * 0.05, ys * -0.03]).astype(np.float32)
    hole = np.zeros((h, w), bool)
    hole[30:60, 40:80] = True
    holed = flow.copy()
    holed[hole] = 50.0
    edge = hole & ~cv2.erode(hole.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    for levels in (6, 0, -1):  # levels < 0: full size only (used to crash on an unset accumulator)
        out = _membrane_fill(holed, hole, levels=levels, smooth=True)
        assert np.array_equal(out[~hole], flow[~hole])
        assert np.abs(out[edge] - flow[edge]).max() < 0.2  # continues the ramp at the hole's border
    # with the pyramid, the middle of the hole is reached too
    assert np.abs(_membrane_fill(holed, hole, levels=6, smooth=True)[hole] - flow[hole]).max() < 2.0
    assert np.array_equal(_membrane_fill(holed, hole, levels=-1, smooth=True),
                          _membrane_fill(holed, hole, levels=0, smooth=True))


def test_mask_bbox_remembers_only_masks_that_cannot_change():
    """A read-only mask's box is remembered while the mask lives; a writeable
    mask edited in place, and a new mask (possibly at a freed one's address),
    get their own boxes."""
    import gc

    import numpy as np

    from vedit.flow.ops import _bbox_memo, mask_bbox

    m = np.zeros((90, 160), bool)
    m[10:20, 30:50] = True
    assert mask_bbox(m) == (10, 20, 30, 50)
    m[60:70, 100:120] = True  # writeable: looked at again
    assert mask_bbox(m) == (10, 70, 30, 120)
    assert mask_bbox(np.zeros((90, 160), np.uint8)) is None
    for k in range(20):
        f = np.zeros((90, 160), bool)
        f[k: k + 5, 2 * k: 2 * k + 7] = True
        f.flags.writeable = False
        assert mask_bbox(f) == (k, k + 5, 2 * k, 2 * k + 7)
        assert mask_bbox(f) == (k, k + 5, 2 * k, 2 * k + 7) and id(f) in _bbox_memo
        del f
        gc.collect()
    assert len(_bbox_memo) <= 1  # entries go with their masks
    view = np.zeros((90, 160), bool)[::2]  # read-only views may share memory with a writeable array
    view.flags.writeable = False
    mask_bbox(view)
    assert id(view) not in _bbox_memo


def test_homography_residual_equals_the_norm_of_the_difference():
    """The residual of a measured flow against a homography: the same float32
    values as the norm of the stacked difference field, on a real DIS flow of
    a zoomed, shifted texture (so most pixels follow the homography and a
    pasted patch does not)."""
    from vedit.flow.ops import fit_global_motion, homography_flow, homography_residual

    rng = np.random.default_rng(5)
    a = cv2.GaussianBlur(rng.integers(0, 255, (216, 384), dtype=np.uint8), (0, 0), 2)
    H = np.array([[1.02, 0.01, -3.0], [-0.01, 1.02, 2.0], [0.0, 0.0, 1.0]])
    b = cv2.warpPerspective(a, H, (384, 216), borderMode=cv2.BORDER_REFLECT)
    b[80:120, 150:200] = 255 - b[80:120, 150:200]
    flow = FlowEstimator("fast", max_side=None)(a, b)
    Hf = fit_global_motion(flow, np.ones((216, 384), bool))
    assert Hf is not None
    want = np.linalg.norm(flow - homography_flow(Hf, 216, 384), axis=2)
    got = homography_residual(flow, Hf)
    assert got.dtype == np.float32 and got.shape == (216, 384)
    np.testing.assert_array_equal(got, want)
    assert np.median(got) < 1.0 and got[90:110, 165:185].mean() > np.median(got)
