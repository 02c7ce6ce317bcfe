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
    ("yuv420p10le", ".mkv", None, (96, 64)),
    ("yuv422p10le", ".mkv", "center", (94, 62)),
    ("yuv420p", ".mkv", "center", (98, 62)),
    ("yuv420p", ".mkv", "topleft", (96, 64)),
    ("yuv420p", ".mkv", "bottom", (96, 64)),
    ("yuv422p", ".mkv", None, (94, 64)),
    ("yuv444p", ".mkv", None, (96, 64)),
    ("yuvj420p", ".mkv", None, (96, 64)),
])
def test_compiled_conversion_matches_the_opencv_one(tmp_path, pix, ext, siting, size):
    """Long clips are converted by a numba kernel: the same chroma siting,
    matrix and range as the OpenCV path, within one level on a few samples
    (sums within float rounding of .5), on every layout it takes, 8-bit
    samples to 8-bit R'G'B' and 10-bit ones to 16-bit."""
    from vedit.io.clip import _YCbCrToRGB

    w, h = size
    src = str(tmp_path / f"src{ext}")
    codec = ["-c:v", "libx264", "-crf", "10"] if ext == ".mp4" else ["-c:v", "ffv1"]
    loc = ["-chroma_sample_location", siting] if siting else []
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={w}x{h}:rate=25", "-frames:v", "3", "-vf", "format=" + pix,
                    "-pix_fmt", pix, *codec, *loc, src], check=True)
    clip = open_clip(src)
    fmt, dt = ("rgb48le", np.uint16) if pix.endswith("10le") else ("rgb24", np.uint8)
    plain, compiled = _YCbCrToRGB(clip.colour, fmt), _YCbCrToRGB(clip.colour, fmt, compiled=True)
    for f in video_frames(clip):
        a, b = plain(f), compiled(f)
        assert compiled._taps is not None and b.shape == a.shape == (f.height, f.width, 3) and b.dtype == dt
        d = np.abs(a.astype(int) - b)
        # (at 16 bit a float32 sum lands within rounding of .5 more often: 1 in 65535 on ~0.1 %)
        assert d.max() <= 1 and (d > 0).mean() < (5e-3 if dt == np.uint16 else 1e-3)
        assert a.std() > 20 * (257 if dt == np.uint16 else 1)  # a real picture, not a flat frame


def test_long_clips_take_the_compiled_conversion_and_short_ones_do_not(tmp_path):
    from vedit.io import clip as C

    short = C.Clip(path="x.mp4", kind="video", width=1920, height=1080, fps=C.exact_fps(25), total_frames=20)
    long_ = C.Clip(path="x.mp4", kind="video", width=1920, height=1080, fps=C.exact_fps(25), total_frames=100)
    assert not C._worth_compiling(short) and C._worth_compiling(long_)


def _y4m(path, w, h, tag, rng):
    """A one-frame Y4M of random chroma (the harshest test of where each
    chroma sample lands) over a grey luma; odd sizes allowed."""
    cw = (w + 1) // 2
    ch = (h + 1) // 2 if tag.startswith("C420") else h
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {tag}\nFRAME\n".encode())
        f.write(rng.integers(16, 236, (h, w), dtype=np.uint8).tobytes())
        f.write(rng.integers(16, 241, (ch, cw), dtype=np.uint8).tobytes())
        f.write(rng.integers(16, 241, (ch, cw), dtype=np.uint8).tobytes())


@pytest.mark.parametrize("size", [(96, 62), (97, 63), (96, 63), (97, 62)])
@pytest.mark.parametrize("tag", ["C420mpeg2", "C422"])
@pytest.mark.parametrize("siting", ["left", "center", "topleft", "top"])
def test_chroma_lands_where_its_siting_says_at_any_size(tmp_path, size, tag, siting):
    """Each chroma sample is interpolated at its stated position on the luma
    grid (bilinear, edges clamped) by both converters, for even and odd frame
    sizes: an odd 4:2:0 height once stretched the vertical mapping, half a
    chroma row off at the bottom (errors up to 200 levels on this chroma)."""
    from dataclasses import replace

    from vedit.io.clip import _SITING, _YCbCrToRGB

    w, h = size
    _y4m(str(tmp_path / "c.y4m"), w, h, tag, np.random.default_rng(w * h))
    clip = open_clip(str(tmp_path / "c.y4m"))
    assert (clip.width, clip.height) == (w, h)
    colour = replace(clip.colour, chroma_location=siting)
    frame = next(iter(video_frames(clip)))
    planes = [np.frombuffer(memoryview(p), np.uint8).reshape(p.height, p.line_size)[:, :p.width].astype(np.float64)
              for p in frame.planes]
    plain, compiled = _YCbCrToRGB(colour, "rgb24"), _YCbCrToRGB(colour, "rgb24", compiled=True)
    got = [plain(frame), compiled(frame)]
    # the reference: exact bilinear interpolation at the siting, the matrix in float64
    sx, sy = (2, 2) if tag.startswith("C420") else (2, 1)
    hx, vy = _SITING[siting]
    ch, cw = planes[1].shape

    def taps(n, c, sub, off):
        u = np.clip((np.arange(n) - off * (sub - 1)) / sub, 0, c - 1)
        j0 = np.floor(u).astype(int)
        return j0, np.minimum(j0 + 1, c - 1), u - j0

    x0, x1, fx = taps(w, cw, sx, hx)
    y0, y1, fy = taps(h, ch, sy, vy)

    def up(p):
        rows = p[y0] * (1 - fy)[:, None] + p[y1] * fy[:, None]
        return rows[:, x0] * (1 - fx) + rows[:, x1] * fx

    m = plain._matrix.astype(np.float64)
    ycc = np.stack([planes[0], up(planes[1]), up(planes[2]), np.ones((h, w))], axis=-1)
    ref = np.clip(np.rint(ycc @ m.T), 0, 255)
    for out in got:
        assert out.shape == (h, w, 3)
        assert np.abs(out - ref).max() <= 1


def test_a_kernel_that_cannot_compile_falls_back_to_opencv(tmp_path, monkeypatch):
    """An install whose numba cannot compile the kernel still reads long
    clips (OpenCV's conversion, same values), and VEDIT_NO_JIT=1 turns the
    kernel off like the engine's."""
    from vedit.io import clip as C
    from vedit.io import ycc_jit

    src = str(tmp_path / "src.mp4")
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={W}x{H}:rate=25", "-frames:v", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    src], check=True)
    clip = open_clip(src)
    frame = next(iter(video_frames(clip)))
    want = C._YCbCrToRGB(clip.colour, "rgb24")(frame)

    def broken(*_a):
        raise RuntimeError("no LLVM here")

    monkeypatch.setattr(ycc_jit, "ycc_to_rgb", broken)
    conv = C._YCbCrToRGB(clip.colour, "rgb24", compiled=True)
    assert np.array_equal(conv(frame), want) and conv._taps is None
    big = C.Clip(path="x.mp4", kind="video", width=1920, height=1080, fps=C.exact_fps(25), total_frames=100)
    monkeypatch.setenv("VEDIT_NO_JIT", "1")
    assert not C._worth_compiling(big)
