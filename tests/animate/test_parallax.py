"""Parallax: exact first frame, no holes, depth-ordered motion, loops."""
import numpy as np
import pytest

from vedit.engines.animate_parallax import CAMERAS, ParallaxAnimateEngine
from vedit.errors import InvalidInputError
from vedit.flow import compute_flow


def _frames(img, mattes, n=12, **kw):
    out = ParallaxAnimateEngine().animate(img, num_frames=n, mattes=mattes, **kw)
    frames = list(out.frames)
    assert len(frames) == n
    return frames, out.stats


@pytest.mark.parametrize("camera", CAMERAS)
def test_first_frame_equals_input_and_no_holes(still, helpers, camera):
    img = still["img"]
    frames, stats = _frames(img, [still["subj"]], camera=camera, strength=1.5)
    assert stats["layers"] == 1
    assert helpers.psnr(frames[0], img) >= 45
    for f in frames:
        assert f.shape == img.shape
        # the still has no pixel darker than 10: a hole (unfilled pixel) would be 0
        assert f.min() >= 5
    assert np.abs(frames[-1].astype(float) - img).mean() > 2.0  # the camera did move


def test_near_layer_moves_more_than_background(still):
    img, subj = still["img"], still["subj"]
    frames, _ = _frames(img, [subj], n=10, camera="pan-left", strength=2.0)
    fl = compute_flow(frames[4], frames[5], preset="medium", max_side=None)
    inner = np.zeros_like(subj, bool)
    inner[60:90, 105:135] = True  # inside the disc
    far = np.zeros_like(subj, bool)
    far[10:40, 10:60] = True      # background, away from the disc
    v_near = np.median(fl[inner], axis=0)
    v_far = np.median(fl[far], axis=0)
    assert v_near[0] > 0 and v_far[0] > 0          # camera to the left: the scene shifts right
    assert v_near[0] > 2.0 * v_far[0]              # parallax: near moves more (depth ratio 3)


def test_background_is_filled_behind_the_subject(still):
    img, subj = still["img"], still["subj"]
    eng = ParallaxAnimateEngine()
    stack = eng.build_layers(img, [subj])
    inside = subj > 0
    # the disc's texture must not remain in the background plate
    fg_like = np.abs(stack.background.astype(float) - img)[inside].mean()
    assert fg_like > 10
    assert stack.stats["rest_error"] < 0.05


def test_two_layers_and_loop(still, helpers):
    img = still["img"]
    second = np.zeros_like(still["subj"])
    second[20:140, 10:70] = 255
    frames, stats = _frames(img, [still["subj"], second], n=20, camera="orbit", loop=True)
    assert stats["layers"] == 2
    assert helpers.psnr(frames[0], img) >= 45
    steps = [np.abs(frames[i + 1].astype(float) - frames[i]).mean() for i in range(19)]
    seam = np.abs(frames[-1].astype(float) - frames[0]).mean()
    assert seam <= 1.5 * np.median(steps)


def test_flat_move_without_mattes(still, helpers):
    frames, stats = _frames(still["img"], [], n=8, camera="zoom")
    assert stats["layers"] == 0
    assert helpers.psnr(frames[0], still["img"]) >= 45
    assert np.abs(frames[-1].astype(float) - still["img"]).mean() > 2


def test_errors(still):
    eng = ParallaxAnimateEngine()
    with pytest.raises(InvalidInputError, match="--camera"):
        eng.animate(still["img"], num_frames=3, camera="spin")
    with pytest.raises(InvalidInputError, match="--strength"):
        eng.animate(still["img"], num_frames=3, strength=-1)
    with pytest.raises(InvalidInputError, match="empty"):
        list(eng.animate(still["img"], num_frames=3, mattes=[np.zeros((160, 240), np.uint8)]).frames)
    with pytest.raises(InvalidInputError, match="matte 0"):
        list(eng.animate(still["img"], num_frames=3, mattes=[np.zeros((16, 24), np.uint8)]).frames)
