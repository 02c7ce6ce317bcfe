"""Building blocks of vedit.composite on synthetic pixels."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.composite import (
    CameraTracker,
    ColorMatcher,
    blur_background,
    composite,
    fit_matrix,
    light_wrap,
    parse_color,
    path_bounds,
    suppress_spill,
)
from vedit.errors import InvalidInputError

_spec = importlib.util.spec_from_file_location("composite_conftest", Path(__file__).with_name("conftest.py"))
_cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cf)
texture = _cf.texture


def _edges(T, w, h):
    c = np.array([[[-0.5, -0.5]], [[w - 0.5, h - 0.5]]], np.float64)
    return cv2.perspectiveTransform(c, T).reshape(-1)


@pytest.mark.parametrize("mode,expect", [
    ("cover", (-10.5, -0.5, 109.5, 59.5)),      # 200x100 into 100x60: scale 0.6, crop sides
    ("contain", (-0.5, 4.5, 99.5, 54.5)),        # scale 0.5, bars top/bottom
    ("stretch", (-0.5, -0.5, 99.5, 59.5)),
])
def test_fit_modes_map_plate_edges(mode, expect):
    T = fit_matrix((200, 100), (-0.5, -0.5, 99.5, 59.5), mode)
    np.testing.assert_allclose(_edges(T, 200, 100), expect, atol=1e-6)


def test_fit_rejects_unknown_mode():
    with pytest.raises(InvalidInputError, match="--fit"):
        fit_matrix((10, 10), (0, 0, 5, 5), "zoom")


def test_parse_color():
    assert parse_color("#ff8000") == (255, 128, 0)
    assert parse_color("#0f0") == (0, 255, 0)
    assert parse_color("10,20,30") == (10, 20, 30)
    assert parse_color("white") == (255, 255, 255)
    assert parse_color("beach.jpg") is None
    with pytest.raises(InvalidInputError):
        parse_color("300,0,0")


def _synthetic_camera(n, h=120, w=160, seed=3):
    """Frames of a known camera move (pan + zoom + roll) over a texture; the
    true M_t (frame-0 → frame-t) for each frame."""
    world = texture(500, 600, seed)
    Gs, frames = [], []
    for t in range(n):
        s, ang = 1 + 0.004 * t, 0.002 * t
        c, si = np.cos(ang) * s, np.sin(ang) * s
        G = np.array([[c, -si, 150 + 2.3 * t], [si, c, 120 + 3 * np.sin(t / 4)], [0, 0, 1]])
        frames.append(cv2.warpPerspective(world, G, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP))
        Gs.append(G)
    return frames, [np.linalg.inv(G) @ Gs[0] for G in Gs]


def test_tracker_follows_known_camera_and_ignores_subject():
    frames, truth = _synthetic_camera(16)
    h, w = frames[0].shape[:2]
    tr = CameraTracker(w, h)
    alpha = np.zeros((h, w), np.float32)
    for t, f in enumerate(frames):
        a = alpha.copy()
        a[30:100, 40 + 3 * t: 80 + 3 * t] = 1.0  # a subject moving against the camera
        f = f.copy()
        f[a > 0] = texture(h, w, 99)[a > 0]
        tr.update(f, a)
    ys, xs = np.mgrid[0:h:8, 0:w:8]
    P = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)[:, None, :]
    step_err = []
    for t in range(1, len(frames)):
        true_step = truth[t] @ np.linalg.inv(truth[t - 1])
        d = cv2.perspectiveTransform(P, true_step) - cv2.perspectiveTransform(P, tr.steps[t])
        step_err.append(np.linalg.norm(d, axis=2).mean())
    assert tr.failed == 0
    assert np.mean(step_err) < 0.25, step_err
    # the path's corners, mapped back, stay inside the plate box
    x0, y0, x1, y1 = path_bounds(tr.paths, w, h)
    assert x0 < -0.5 and x1 > w + 2 * 15  # the pan is ~35 px to the right


def test_composite_exact_where_alpha_is_0_or_1():
    fg = texture(40, 50, 1)
    bg = texture(40, 50, 2)
    a = np.zeros((40, 50), np.float32)
    a[10:30, 10:40] = 1.0
    a[10:30, 25] = 0.5
    out = composite(fg, bg, a)
    assert np.array_equal(out[a == 1], fg[a == 1])
    assert np.array_equal(out[a == 0], bg[a == 0])
    mid = out[a == 0.5].astype(int)
    assert np.abs(mid - (fg[a == 0.5].astype(int) + bg[a == 0.5].astype(int)) / 2).max() <= 1


def test_light_wrap_touches_only_the_edge():
    h, w = 120, 160
    fg = np.full((h, w, 3), 40, np.uint8)
    bg = np.full((h, w, 3), 250, np.uint8)
    a = np.zeros((h, w), np.float32)
    a[20:100, 30:130] = 1.0
    out = light_wrap(fg, bg, a, strength=0.5)
    assert np.array_equal(out[50:70, 70:90], fg[50:70, 70:90])  # deep inside: unchanged
    assert out[60, 30].mean() > fg[60, 30].mean() + 10  # edge takes the plate's light


def test_blur_background_keeps_subject_colour_out():
    h, w = 90, 120
    frame = np.full((h, w, 3), (20, 120, 20), np.uint8)
    a = np.zeros((h, w), np.float32)
    a[20:70, 40:80] = 1.0
    frame[a > 0] = (255, 0, 255)  # magenta subject must not bleed into the blur
    bg = blur_background(frame, a, sigma=10)
    assert np.abs(bg.astype(int) - (20, 120, 20)).max() <= 2


def test_spill_suppression_removes_green_cast_only():
    img = np.array([[[120, 200, 100], [200, 100, 90], [90, 90, 220]]], np.uint8)
    out = suppress_spill(img, "green")
    assert tuple(out[0, 0]) == (120, 120, 100)  # green limited to max(r, b)
    assert np.array_equal(out[0, 1:], img[0, 1:])
    out = suppress_spill(img, "blue")
    assert tuple(out[0, 2]) == (90, 90, 90)


def test_color_match_moves_subject_toward_plate():
    fg = np.full((60, 80, 3), (100, 100, 100), np.uint8)
    fg[::2] += 20
    bg = np.full((60, 80, 3), (200, 120, 60), np.uint8)
    a = np.ones((60, 80), np.float32)
    out = ColorMatcher(strength=0.5)(fg, bg, a)
    before = fg.reshape(-1, 3).mean(0)
    after = out.reshape(-1, 3).mean(0)
    assert after[0] > before[0] + 30 and after[2] < before[2] - 15
    with pytest.raises(InvalidInputError):
        ColorMatcher(strength=2.0)


class _PlateClip:
    """A plate whose frame i is filled with i; ``real`` frames are decoded
    although the container claims ``count``."""

    path = "plate.mp4"

    def __init__(self, fps: int, count: int, real: int | None = None):
        self.fps, self.frame_count = fps, count
        self.real = count if real is None else real

    def frames(self):
        for i in range(self.real):
            yield np.full((2, 2, 3), i, np.uint8)


def test_video_plate_frames_timing_loop_and_short_container():
    from vedit.composite.plate import video_plate_frames
    from vedit.errors import MediaError

    def shown(clip, n, loop=True):
        return [int(f[0, 0, 0]) for f in video_plate_frames(clip, n, 20, loop=loop)]

    # a 10 fps plate behind a 20 fps shot: each plate frame shows twice, then loops or holds
    assert shown(_PlateClip(10, 3), 8) == [0, 0, 1, 1, 2, 2, 0, 0]
    assert shown(_PlateClip(10, 3), 8, loop=False) == [0, 0, 1, 1, 2, 2, 2, 2]
    # the container says 4 frames but holds 2: the last real one stands in for
    # the missing one, then time t shows frame t % 2
    assert shown(_PlateClip(20, 4, real=2), 5) == [0, 1, 1, 1, 0]
    with pytest.raises(MediaError, match="yielded no frames"):
        shown(_PlateClip(20, 4, real=0), 3)
