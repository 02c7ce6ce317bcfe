"""Matte sources, refinement and the matte op on synthetic clips."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError, MediaNotFoundError
from vedit.io import open_clip
from vedit.masks import matte_stream
from vedit.masks.refine import TemporalSmoother, edge_instability, fill_holes, guided_refine, to_alpha


def iou(a, b):
    return float((a & b).sum()) / max(1, float((a | b).sum()))


def test_file_source_keeps_16bit_soft_values(disk_clip, tmp_path):
    seq, _, frames, masks = disk_clip
    ramp = np.tile(np.linspace(0, 65535, 128).astype(np.uint16), (96, 1))
    cv2.imwrite(str(tmp_path / "soft16.png"), ramp)
    out = list(matte_stream(open_clip(str(seq)), "file", mask=str(tmp_path / "soft16.png"),
                            refine=False, smooth=False))
    assert len(out) == len(frames)
    np.testing.assert_allclose(out[3], ramp / 65535.0, atol=1e-4)


def test_file_source_alpha_channel_and_size_mismatch(disk_clip, tmp_path):
    seq, _, frames, masks = disk_clip
    rgba = np.zeros((96, 128, 4), np.uint8)
    rgba[:, :, :3] = 255  # colour says "all white": the alpha channel must win
    rgba[10:30, 10:40, 3] = 255
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    a = next(iter(matte_stream(open_clip(str(seq)), "file", mask=str(tmp_path / "a.png"), refine=False, smooth=False)))
    assert a[20, 20] == 1.0 and a[50, 80] == 0.0
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidInputError, match="must match"):
        matte_stream(open_clip(str(seq)), "file", mask=str(tmp_path / "small.png"))
    with pytest.raises(MediaNotFoundError):
        matte_stream(open_clip(str(seq)), "file", mask=str(tmp_path / "nope.png"))


def test_chroma_key_and_despill(green_clip):
    from vedit.masks.sources import ChromaMatteSource

    seq, frames, masks = green_clip
    out = list(matte_stream(open_clip(str(seq)), "chroma", chroma="green", refine=False, smooth=False))
    for a, m in zip(out, masks):
        inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        outer = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
        assert a[inner].min() > 0.95 and a[outer].max() < 0.05  # evenly keyed despite the lighting ramp
    keyer = ChromaMatteSource(chroma="#1EB43C")
    spill = np.full((4, 4, 3), (120, 200, 110), np.uint8)
    d = keyer.despill(spill)
    # the one despill rule (replace-bg's too): green limited to max(red, blue)
    assert d[0, 0, 1] == 120 and d[0, 0, 0] == 120 and d[0, 0, 2] == 110
    with pytest.raises(InvalidInputError, match="--chroma"):
        ChromaMatteSource(chroma="purple-ish")


def test_grabcut_box_is_tracked(disk_clip):
    seq, _, frames, masks = disk_clip
    out = list(matte_stream(open_clip(str(seq)), "grabcut", box=(18, 26, 46, 46)))
    scores = [iou(a > 0.5, m) for a, m in zip(out, masks)]
    assert min(scores) > 0.75, scores


def test_track_keyframe_mask_forward_and_backward(disk_clip):
    seq, key, frames, masks = disk_clip
    # keyframe in the middle: frames before it are tracked backwards
    mid = 8
    cv2.imwrite(str(key), masks[mid].astype(np.uint8) * 255)
    out = list(matte_stream(open_clip(str(seq)), "track", mask=str(key), frame=mid))
    scores = [iou(a > 0.5, m) for a, m in zip(out, masks)]
    assert len(out) == 16 and min(scores) > 0.8, scores
    with pytest.raises(InvalidInputError, match="--frame"):
        matte_stream(open_clip(str(seq)), "track", mask=str(key), frame=40)


def test_refinement_helpers():
    a = np.zeros((60, 60), np.float32)
    a[10:50, 10:50] = 1
    a[25:30, 25:30] = 0  # small hole
    a[2:4, 55:57] = 1  # speckle
    f = fill_holes(a)
    assert f[27, 27] == 1 and f[3, 56] == 0
    img = np.zeros((60, 60, 3), np.uint8)
    img[10:50, 10:50] = 200
    soft = a.copy()
    soft[10:50, 50:53] = 1  # matte spills 3 px past the image edge
    r = guided_refine(soft, img, radius=4, eps=1e-4)
    assert r[30, 52] < 0.5 and r[30, 45] > 0.9  # snapped back to the image edge
    assert to_alpha(np.full((2, 2), 65535, np.uint16)).max() == 1.0


def test_temporal_smoothing_reduces_boiling(disk_clip):
    seq, _, frames, masks = disk_clip
    rng = np.random.default_rng(0)
    noisy = []
    for m in masks:
        band = (cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & \
               ~(cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
        a = m.astype(np.float32)
        a[band] = np.clip(a[band] + rng.normal(0, 0.3, band.sum()), 0, 1)
        noisy.append(a)
    sm = TemporalSmoother()
    smooth = [sm(a, f) for a, f in zip(noisy, frames)]
    raw = edge_instability(noisy, frames)
    after = edge_instability(smooth, frames)
    assert after < 0.7 * raw, (raw, after)


def test_person_not_found_raises(disk_clip):
    seq, *_ = disk_clip
    with pytest.raises(InvalidInputError, match="no person found"):
        list(matte_stream(open_clip(str(seq)), "person"))
