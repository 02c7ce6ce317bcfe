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
