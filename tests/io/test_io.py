"""vedit.io: round trips through every writer, fps/audio carry-over, ranges,
alpha, atomic writes."""
from __future__ import annotations

import os
import subprocess
from fractions import Fraction

import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError
from vedit.io import check_output_path, ffmpeg_exe, open_clip, open_masks, open_writer, probe


def _frames(n=12, h=64, w=96):
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
        f[:, :, 1] = (i * 20) % 256
        cv2.rectangle(f, (4 + 3 * i, 10), (20 + 3 * i, 30), (255, 255, 255), -1)
        out.append(f)
    return out


def _video_with_audio(path, n=30, fps="30000/1001", size=(96, 64)):
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
           f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000", "-frames:v", str(n), "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".webm", ".mkv"])
def test_roundtrip_containers(tmp_path, ext):
    frames = _frames()
    out = tmp_path / f"clip{ext}"
    with open_writer(str(out), Fraction(24000, 1001), (96, 64)) as w:
        for f in frames:
            w.write(f)
    clip = open_clip(str(out))
    assert clip.frame_count == len(frames)
    assert clip.fps == Fraction(24000, 1001)
    got = clip.read_all()
    assert len(got) == len(frames)
    # lossy codecs: close, not equal
    assert np.abs(got[5].astype(int) - frames[5]).mean() < 8
    assert not [p for p in os.listdir(tmp_path) if "vedit-tmp" in p]


def test_png_sequence_lossless_and_pattern(tmp_path):
    frames = _frames(5)
    with open_writer(str(tmp_path / "seq") + "/", 25, (96, 64)) as w:
        for f in frames:
            w.write(f)
    assert sorted(os.listdir(tmp_path / "seq")) == [f"{i:05d}.png" for i in range(5)]
    clip = open_clip(str(tmp_path / "seq" / "%05d.png"))
    assert clip.frame_count == 5
    for a, b in zip(clip.frames(), frames):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("target", ["alpha.mov", "alpha.webm", "alpha_png/"])
def test_alpha_survives(tmp_path, target):
    frames = _frames(4)
    alpha = np.zeros((64, 96), np.uint8)
    alpha[16:48, 24:72] = 255
    out = str(tmp_path / target) + ("/" if target.endswith("/") else "")
    with open_writer(out, 25, (96, 64), alpha=True) as w:
        for f in frames:
            w.write(np.dstack([f, alpha]))
    clip = open_clip(out)
    assert clip.frame_count == 4
    got = clip.read_all(alpha=True)[2]
    assert got.shape[2] == 4
    assert got[32, 48, 3] > 240 and got[2, 2, 3] < 15


def test_fps_and_audio_carried(tmp_path):
    src = _video_with_audio(tmp_path / "src.mp4", n=30)
    clip = open_clip(str(src))
    assert clip.fps == Fraction(30000, 1001) and clip.has_audio and clip.frame_count == 30
    sub = clip.subclip(10, 25)
    out = tmp_path / "out.mp4"
    with open_writer(str(out), sub.fps, sub.size, like=sub) as w:
        for f in sub.frames():
            w.write(f)
    info = probe(str(out))
    assert info["frames"] == 15 and info["has_audio"]
    assert info["fps_rational"] == "30000/1001"
    assert abs(info["duration"] - 15 * 1001 / 30000) < 0.01


def test_range_is_frame_accurate(tmp_path):
    # frames carry their index in the green channel (lossless ffv1 in mkv)
    out = tmp_path / "idx.mkv"
    frames = [np.full((32, 32, 3), i * 10, np.uint8) for i in range(20)]
    with open_writer(str(out), 25, (32, 32), codec="ffv1") as w:
        for f in frames:
            w.write(f)
    clip = open_clip(str(out), start=7, end=12)
    vals = [int(round(f.mean() / 10)) for f in clip.frames()]
    assert vals == [7, 8, 9, 10, 11]
    seq = tmp_path / "seq"
    seq.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(seq / f"{i:05d}.png"), f)
    assert [int(f.mean() / 10) for f in open_clip(str(seq), 3, 6).frames()] == [3, 4, 5]


def test_errors(tmp_path):
    with pytest.raises(MediaNotFoundError):
        open_clip(str(tmp_path / "nope.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError):
        open_clip(str(bad))
    seq = tmp_path / "s"
    seq.mkdir()
    for i in range(3):
        cv2.imwrite(str(seq / f"{i}.png"), np.zeros((10, 12, 3), np.uint8))
    clip = open_clip(str(seq))
    with pytest.raises(InvalidInputError):
        clip.subclip(2, 1)
    with pytest.raises(InvalidInputError):
        clip.subclip(0, 9)
    cv2.imwrite(str(tmp_path / "m.png"), np.zeros((11, 12), np.uint8))
    with pytest.raises(InvalidInputError, match="masks must match"):
        open_masks(str(tmp_path / "m.png"), clip)
    with pytest.raises(InvalidInputError, match="same as input"):
        check_output_path(str(seq), [str(seq)])
    with pytest.raises(MediaError, match="does not exist"):
        check_output_path(str(tmp_path / "no" / "x.mp4"))


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with open_writer(str(out), 25, (32, 32)) as w:
            w.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_odd_size_h264(tmp_path):
    out = tmp_path / "odd.mp4"
    with open_writer(str(out), 25, (33, 17)) as w:
        for _ in range(3):
            w.write(np.full((17, 33, 3), 128, np.uint8))
    assert open_clip(str(out)).frame_count == 3
