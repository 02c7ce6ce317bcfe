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
