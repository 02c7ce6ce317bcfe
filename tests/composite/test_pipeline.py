"""The fast paths of replace-bg: threads, region-limited compositing, camera tracking."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.composite import Compositor, _affine_within
from vedit.composite.blend import composite, fast_guided_alpha, light_wrap, roi_of
from vedit.composite.track import CameraTracker

_spec = importlib.util.spec_from_file_location("composite_conftest", Path(__file__).with_name("conftest.py"))
_cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cf)
texture = _cf.texture


def _blob(h, w, cx, cy, r):
    ys, xs = np.mgrid[0:h, 0:w]
    d = np.hypot(xs - cx, ys - cy)
    return np.clip((r - d) / 6.0, 0, 1).astype(np.float32)  # soft edge 6 px wide


def test_roi_filters_match_whole_frame():
    h, w = 240, 320
    a = _blob(h, w, 120, 110, 50)
    assert roi_of(a > 0, 0) == (61, 160, 71, 170)  # d < 50 px from (120, 110)
    assert roi_of(np.zeros((4, 4), bool), 3) is None
    # the compositor works in a box around the subject: same pixels as the
    # whole-frame chain (guided edges + light wrap + blend), rest = plate
    big_h, big_w = 720, 1280
    frame = texture(big_h, big_w, 3)
    plate = texture(big_h, big_w, 4)
    a = _blob(big_h, big_w, 500, 400, 120)
    out = Compositor(light_wrap=0.3)(frame, a, plate)
    ref_a = fast_guided_alpha(a, frame, radius=8)
    ref = composite(light_wrap(frame, plate, ref_a, 0.3, radius=max(2.0, 0.008 * (big_w + big_h))), plate, ref_a)
    d = np.abs(out.astype(int) - ref.astype(int))
    assert d.max() <= 3 and d.mean() < 0.05
    far = a == 0
    far[250:550, 350:650] = False  # the blob (rows 280-520, cols 380-620) and its refined edge
    assert np.array_equal(out[far], plate[far])
    deep = _blob(big_h, big_w, 500, 400, 50) == 1  # well inside: beyond the light wrap's reach
    assert np.array_equal(out[deep], frame[deep])


def test_affine_shortcut_only_when_exact():
    A = _affine_within(np.array([[1.01, 0.01, -20], [-0.01, 1.0, -15], [1e-9, 0, 1]]), 1280, 720)
    assert A is not None and A.shape == (2, 3)
    assert _affine_within(np.array([[1.0, 0, 0], [0, 1.0, 0], [1e-5, 2e-5, 1]]), 1280, 720) is None


def test_tracker_with_shared_back_flow():
    """Given the back-flow (this frame -> previous) the tracker skips its own
    prediction flow and still follows a known pan."""
    world = texture(200, 400, 7)
    frames = [np.ascontiguousarray(world[:, 3 * t: 3 * t + 160]) for t in range(10)]  # 160x200, 3 px/frame
    tr = CameraTracker(160, 200, max_side=320)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    prev = None
    for f in frames:
        g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        tr.update(f, None, grey=g, flow_back=None if prev is None else dis.calc(g, prev, None))
        prev = g
    dx = [s[0, 2] for s in tr.steps[1:]]
    assert np.allclose(dx, -3.0, atol=0.1), dx


@pytest.mark.parametrize("static", [False, True])
def test_cancel_mid_composite_stops_threads_and_writes_nothing(tmp_path, static):
    import threading

    from vedit.errors import JobCancelled
    from vedit.ops.replace_bg import run

    frames, masks = _cf.pan_shot(n=12)
    seq = _cf.write_seq(tmp_path / "in", frames)
    mdir = _cf.write_seq(tmp_path / "m", masks)
    before = threading.active_count()

    def cb(done, total, stage):
        if stage == "compositing" and done >= 3:
            raise JobCancelled("cancelled")

    plate = tmp_path / "plate.png"
    cv2.imwrite(str(plate), texture(120, 160, 9))
    with pytest.raises(JobCancelled):  # a colour: one pass; a plate that follows the camera: two
        run(str(seq), str(tmp_path / "o.mp4"), background="#203040" if static else str(plate),
            matte=str(mdir), callback=cb)
    assert not [p for p in os.listdir(tmp_path) if p.startswith((".o", "o."))]
    import time

    for _ in range(50):
        if threading.active_count() <= before:
            break
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_upsample_box_matches_whole_frame_resize():
    from vedit.composite import upsample_box

    rng = np.random.default_rng(1)
    for (wl, hl, w, h) in [(64, 36, 128, 72), (50, 30, 160, 90)]:  # whole-number and other factors
        a = rng.random((hl, wl)).astype(np.float32)
        full = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        for box in [(0, h, 0, w), (3, h - 5, 7, w - 1), (10, 20, 11, 13)]:
            y0, y1, x0, x1 = box
            got = upsample_box(a, (w, h), box)
            assert got.shape == (y1 - y0, x1 - x0)
            tol = 1e-6 if w % wl == 0 else 0.02  # warpAffine's 1/32 px weights otherwise
            assert np.abs(got - full[y0:y1, x0:x1]).max() <= tol


def test_compositor_takes_low_res_matte_and_plate_in_place():
    """A matte at half size gives the output of the same matte upsampled to
    the frame; writing into the plate (reuse_plate) changes nothing else."""
    h, w = 720, 1280
    frame, plate = texture(h, w, 3), texture(h, w, 4)
    low = cv2.resize(_blob(h, w, 500, 400, 120), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    full = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)
    comp = Compositor(light_wrap=0.3)
    ref = comp(frame, full, plate)
    p2 = plate.copy()
    out = comp(frame, low, p2, reuse_plate=True)
    assert out is p2
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    assert not np.array_equal(out, plate)  # the subject is there
    u8 = np.clip(low * 255 + 0.5, 0, 255).astype(np.uint8)  # a uint8 matte works the same
    assert np.abs(comp(frame, u8, plate).astype(int) - ref.astype(int)).max() <= 2
    empty = comp(frame, np.zeros((h // 2, w // 2), np.float32), plate)
    assert np.array_equal(empty, plate) and empty is not plate
    # split in two (the first pass prepares, the second blends on the plate):
    # the same pixels, up to the prepared matte's 8 bits
    prep = comp.prepare(frame, low)
    split = comp(frame, None, plate, prepared=prep)
    assert np.abs(split.astype(int) - ref.astype(int)).max() <= 2
    assert np.abs(split.astype(int) - ref.astype(int)).mean() < 0.01
    nobody = comp.prepare(frame, np.zeros((h // 2, w // 2), np.float32))
    assert nobody.box is None and np.array_equal(comp(frame, None, plate, prepared=nobody), plate)


def test_sparse_tracker_rekeys_through_a_long_pan():
    """Corners leave the frame on a long pan: the tracker detects new ones at
    keyframes and the per-frame motion stays exact."""
    world = texture(200, 1400, 5)
    frames = [np.ascontiguousarray(world[:, 5 * t: 5 * t + 240]) for t in range(60)]  # 240 px wide, 5 px/frame
    tr = CameraTracker(240, 200, max_side=320, key_every=20)
    for f in frames:
        tr.update(f, None)
    dx = np.array([s[0, 2] for s in tr.steps[1:]])
    assert tr.failed == 0
    assert np.abs(dx + 5.0).max() < 0.1, dx
    assert abs(tr.paths[-1][0, 2] + 5.0 * 59) < 1.0  # no drift over 295 px


def test_follow_mode_same_output_with_or_without_frame_cache(tmp_path, monkeypatch):
    """The second pass of a camera-following plate takes kept frames from
    memory, then decodes the rest: the output does not depend on where the
    memory budget ends."""
    from vedit.ops.replace_bg import run

    frames, masks = _cf.pan_shot(n=10)
    seq = _cf.write_seq(tmp_path / "in", frames)
    mdir = _cf.write_seq(tmp_path / "m", masks)
    plate = tmp_path / "plate.png"
    cv2.imwrite(str(plate), texture(96, 128, 9))
    outs = []
    for mb in ("1000", str(4 * frames[0].nbytes / (1 << 20)), "0"):  # all kept, 4 kept, none kept
        monkeypatch.setenv("VEDIT_FRAME_CACHE_MB", mb)
        outs.append(_cf.read_seq(run(str(seq), str(tmp_path / f"o{len(outs)}") + "/", background=str(plate),
                                     matte=str(mdir))))
    assert len(outs[0]) == 10
    for o in outs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outs[0], o))
    # and the kept frames are the input: inside the subject the output is the input
    inside = cv2.erode(masks[3], np.ones((13, 13), np.uint8)) > 0
    assert np.abs(outs[0][3][inside].astype(int) - frames[3][inside].astype(int)).max() <= 2
