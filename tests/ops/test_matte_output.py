"""The matte op's video outputs: a grey matte is a new picture (the source's
colour tags, timing and frame count, no second decode of the source to keep
its samples), while the footage with alpha and the preview are the source's
pixels and keep its samples; 8-bit levels are the float matte rounded."""
from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from vedit.io import ffmpeg_exe, open_clip
from vedit.ops import get_op
from vedit.ops.matte import alpha8

W, H = 160, 96


def _green_screen(path, n=8):
    """A red bar on green, 6 px wider a frame, H.264 BT.709 limited range, tagged."""
    frames = []
    for k in range(n):
        f = np.empty((H, W, 3), np.uint8)
        f[:] = (0, 177, 64)
        f[:, : 20 + 6 * k] = (220, 30, 30)
        frames.append(f)
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", "25", "-i", "-", "-vf",
           "scale=out_color_matrix=bt709:out_range=tv,"
           "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10", str(path)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    return str(path)


def _tags(path):
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range)


MATTE = {"chroma": "green", "refine": False, "smooth": False}


def test_grey_matte_video_is_a_new_picture_with_the_source_description(tmp_path, writer_decodes):
    src = _green_screen(tmp_path / "gs.mp4")
    out = get_op("matte")(src, str(tmp_path / "m.mp4"), **MATTE)
    assert writer_decodes == []  # the source was read once, for the matte
    got, clip = open_clip(out), open_clip(src)
    assert _tags(out) == _tags(src) == (1, 1, 1, 1)
    assert got.frame_count == clip.frame_count == 8 and got.fps == clip.fps
    assert got.timestamps == pytest.approx(clip.timestamps, abs=1e-3)
    for k, f in enumerate(got.frames()):
        row = f[H // 2, :, 0].astype(int)
        bar = 20 + 6 * k
        assert row[: bar - 2].min() >= 250 and row[bar + 2:].max() <= 5, k  # the bar is the subject


def test_footage_with_alpha_and_the_preview_keep_the_source(tmp_path, writer_decodes):
    src = _green_screen(tmp_path / "gs.mp4")
    get_op("matte")(src, str(tmp_path / "m.mp4"), preview=str(tmp_path / "p.mp4"), **MATTE)
    assert len(writer_decodes) == 1  # the preview: the footage with a tint
    assert _tags(tmp_path / "p.mp4") == (1, 1, 1, 1)


def test_alpha8_rounds_and_clips():
    a = np.array([[-0.3, 0.0, 0.2 / 255, 0.7 / 255, 0.5, 1.0, 1.4, 200.4 / 255]], np.float32)
    assert alpha8(a).tolist() == [[0, 0, 0, 1, 128, 255, 255, 200]]
    rng = np.random.default_rng(3)
    m = rng.random((64, 80), dtype=np.float32) * 1.2 - 0.1
    want = np.clip(m * 255.0 + 0.5, 0, 255).astype(np.int16)
    got = alpha8(m)
    assert got.dtype == np.uint8 and got.shape == m.shape
    assert np.abs(got - want).max() <= 1  # only an exact half level may round the other way
    assert (got == want).mean() > 0.999
