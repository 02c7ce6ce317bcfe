"""The Y'CbCr -> R'G'B' converter keeps its work arrays from frame to frame:
every frame it returns is its own array and equals what a fresh converter
makes of that frame, for each chroma layout and siting it handles itself."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from vedit.io import ffmpeg_exe, open_clip
from vedit.io.clip import frame_converter, video_frames

W, H, N = 96, 64, 5


@pytest.mark.parametrize("pix,ext,siting", [
    ("yuv420p", ".mp4", None),
    ("yuv422p10le", ".mkv", None),
    ("yuv444p", ".mkv", None),
    ("yuv420p", ".mkv", "center"),
    ("yuv420p", ".mkv", "topleft"),
])
def test_frames_are_independent_and_equal_a_fresh_conversion(tmp_path, pix, ext, siting):
    src = str(tmp_path / f"src{ext}")
    codec = ["-c:v", "libx264", "-crf", "10"] if ext == ".mp4" else ["-c:v", "ffv1"]
    loc = ["-chroma_sample_location", siting] if siting else []
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={W}x{H}:rate=25", "-frames:v", str(N), "-pix_fmt", pix, *codec, *loc, src],
                   check=True)
    clip = open_clip(src)
    for depth in (8, 16):
        got = list(clip.frames(depth=depth))
        fresh = [frame_converter(clip, depth=depth)(f) for f in video_frames(clip)]
        assert len(got) == N and all(np.array_equal(a, b) for a, b in zip(got, fresh))
        assert not any(np.shares_memory(a, b) for a, b in zip(got, got[1:]))
        assert any(not np.array_equal(a, b) for a, b in zip(got, got[1:]))  # the picture moves


@pytest.mark.parametrize("pix,ext,siting,size", [
    ("yuv420p", ".mp4", None, (96, 64)),
    ("yuv420p", ".mkv", "center", (98, 62)),
    ("yuv420p", ".mkv", "topleft", (96, 64)),
    ("yuv420p", ".mkv", "bottom", (96, 64)),
    ("yuv422p", ".mkv", None, (94, 64)),
    ("yuv444p", ".mkv", None, (96, 64)),
    ("yuvj420p", ".mkv", None, (96, 64)),
])
def test_compiled_conversion_matches_the_opencv_one(tmp_path, pix, ext, siting, size):
    """Long 8-bit clips are converted by a numba kernel: the same chroma
    siting, matrix and range as the OpenCV path, within one level on a few
    samples (sums within float rounding of .5), on every layout it takes."""
    from vedit.io.clip import _YCbCrToRGB

    w, h = size
    src = str(tmp_path / f"src{ext}")
    codec = ["-c:v", "libx264", "-crf", "10"] if ext == ".mp4" else ["-c:v", "ffv1"]
    loc = ["-chroma_sample_location", siting] if siting else []
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={w}x{h}:rate=25", "-frames:v", "3", "-vf", "format=" + pix,
                    "-pix_fmt", pix, *codec, *loc, src], check=True)
    clip = open_clip(src)
    plain, compiled = _YCbCrToRGB(clip.colour, "rgb24"), _YCbCrToRGB(clip.colour, "rgb24", compiled=True)
    for f in video_frames(clip):
        a, b = plain(f), compiled(f)
        assert compiled._taps is not None and b.shape == a.shape == (f.height, f.width, 3) and b.dtype == np.uint8
        d = np.abs(a.astype(int) - b)
        assert d.max() <= 1 and (d > 0).mean() < 1e-3
        assert a.std() > 20  # a real picture, not a flat frame


def test_long_clips_take_the_compiled_conversion_and_short_ones_do_not(tmp_path):
    from vedit.io import clip as C

    short = C.Clip(path="x.mp4", kind="video", width=1920, height=1080, fps=C.exact_fps(25), total_frames=20)
    long_ = C.Clip(path="x.mp4", kind="video", width=1920, height=1080, fps=C.exact_fps(25), total_frames=100)
    assert not C._worth_compiling(short) and C._worth_compiling(long_)
