"""``--codec``: an editor asks for lossless FFV1 .mkv through the op's params
(CLI, job, Python alike); every sample outside the grown mask comes back
exactly (from RGB frames: the pixels; from a Y'CbCr video: its samples); a codec its container
cannot hold is refused naming the param."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vedit.io import open_clip, open_writer
from vedit.ops import get_def, get_op
from vedit.ops.params import ParamError


def _outside(mask_path, grow: int) -> np.ndarray:
    """Pixels farther than ``grow`` px from the mask (``dilate`` + ``feather`` + a margin)."""
    m = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate(m.astype(np.uint8), k) == 0


def _frames(path):
    return list(open_clip(str(path)).frames())


def test_ffv1_keeps_every_sample_outside_the_mask(pan_sequence, tmp_path):
    seq, mask, frames = pan_sequence
    remove = get_op("remove")
    out = remove(str(seq), str(tmp_path / "clean.mkv"), mask=str(mask), dilate=3, feather=2, codec="ffv1")
    clip = open_clip(out)
    assert clip.video_codec == "ffv1" and clip.frame_count == len(frames)
    outside = _outside(mask, 3 + 2 + 1)
    got = _frames(out)
    assert all(np.array_equal(g[outside], f[outside]) for g, f in zip(got, frames))
    assert any(not np.array_equal(g, f) for g, f in zip(got, frames))  # the hole was filled
    # the container's default (H.264) is not exact: the comparison can fail
    lossy = _frames(remove(str(seq), str(tmp_path / "clean_h264.mkv"), mask=str(mask), dilate=3, feather=2))
    assert any(not np.array_equal(g[outside], f[outside]) for g, f in zip(lossy, frames))


def _ycbcr(path) -> list[tuple[str, list[np.ndarray]]]:
    """Every frame's pixel format and Y, Cb, Cr planes as stored (PyAV)."""
    import av

    with av.open(str(path)) as c:
        out = []
        for fr in c.decode(video=0):
            planes = [np.frombuffer(bytes(p), np.uint8).reshape(-1, p.line_size)[:, :p.width] for p in fr.planes]
            out.append((fr.format.name, [p[:h] for p, h in zip(planes, (fr.height, fr.height // 2, fr.height // 2))]))
        return out


def test_ffv1_from_a_ycbcr_video_keeps_its_samples(pan_sequence, tmp_path):
    """An H.264 (4:2:0) input: the FFV1 output stores the source's own Y'CbCr
    samples outside the edit (luma and the chroma blocks clear of it)."""
    seq, mask, frames = pan_sequence
    src = tmp_path / "pan.mp4"
    with open_writer(str(src), 25, (frames[0].shape[1], frames[0].shape[0])) as w:
        for f in frames:
            w.write(f)
    out = get_op("remove")(str(src), str(tmp_path / "clean.mkv"), mask=str(mask), dilate=3, feather=2,
                           codec="ffv1")
    outside = _outside(mask, 3 + 2 + 1)
    chroma_outside = outside.reshape(outside.shape[0] // 2, 2, outside.shape[1] // 2, 2).all(axis=(1, 3))
    before, after = _ycbcr(src), _ycbcr(out)
    assert len(after) == len(before) == len(frames)
    changed = 0
    for (fa, pa), (fb, pb) in zip(after, before):
        assert fa == fb == "yuv420p"
        assert np.array_equal(pa[0][outside], pb[0][outside])
        assert all(np.array_equal(a[chroma_outside], b[chroma_outside]) for a, b in zip(pa[1:], pb[1:]))
        changed += int(not np.array_equal(pa[0], pb[0]))
    assert changed == len(frames)  # the hole was filled in every frame


@pytest.mark.parametrize("op, output, params, words", [
    ("remove", "out.mp4", {"codec": "ffv1"}, "ffv1 is written to .mkv"),
    ("remove", "frames/", {"codec": "hevc"}, "a frame sequence"),
    ("matte", "m.mkv", {"codec": "h264", "alpha": True}, "cannot carry alpha"),
    ("animate", "a.webm", {"codec": "prores"}, "prores is written to .mov"),
    ("replace-bg", "r.mkv", {"background": "transparent", "codec": "hevc"}, "cannot carry alpha"),
])
def test_codec_the_container_cannot_hold_is_refused(pan_sequence, tmp_path, op, output, params, words):
    seq, mask, frames = pan_sequence
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    extra = {"remove": {"mask": str(mask)}, "matte": {"mask": str(mask)}, "animate": {},
             "replace-bg": {"matte": str(mask)}}[op]
    d = get_def(op)
    v = d.resolve({**extra, **params}, job=True)
    with pytest.raises(ParamError) as ei:
        d.check_inputs(str(still if op == "animate" else seq), f"{tmp_path}/{output}", v, job=True)
    assert ei.value.param == "codec" and words in str(ei.value) and "params.codec" in str(ei.value)


def test_every_op_that_writes_video_takes_the_codec(pan_sequence, tmp_path):
    """matte and replace-bg write FFV1 when asked (the grey matte and the
    composite come back exactly: the matte's values, the untouched subject)."""
    seq, mask, frames = pan_sequence
    m = get_op("matte")(str(seq), str(tmp_path / "m.mkv"), source="file", mask=str(mask), refine=False, smooth=False,
                        codec="ffv1")
    assert open_clip(m).video_codec == "ffv1"
    inside = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127
    grey = [f[:, :, 0] for f in _frames(m)]
    assert len(grey) == len(frames) and all(np.all(g[inside] == 255) and np.all(g[~inside] == 0) for g in grey)
    r = get_op("replace-bg")(str(seq), str(tmp_path / "r.mkv"), matte=str(mask), background="#102030",
                             refine=False, light_wrap=0, codec="ffv1")
    assert open_clip(r).video_codec == "ffv1"
    core = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    far = _outside(mask, 4)
    for got, f in zip(_frames(r), frames):
        assert np.array_equal(got[core], f[core])
        assert np.all(got[far] == (0x10, 0x20, 0x30))
