"""What goes in comes out: colour, bit depth, pixel aspect, timing (VFR,
exact rates, timecode), frame counts, odd sizes, sequence numbering, and
never replacing an existing render. Every input is built here with the
static ffmpeg of the imageio-ffmpeg wheel."""
from __future__ import annotations

import os
import subprocess
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError, OutputExistsError
from vedit.io import check_output_path, exact_fps, ffmpeg_exe, offset_timecode, open_clip, open_masks, open_writer, probe

FF = ffmpeg_exe()


def _ff(*args: str) -> None:
    subprocess.run([FF, "-y", "-loglevel", "error", *args], check=True)


def _tagged_source(path, size, matrix, codec_args, n=6, rate="30000/1001"):
    """testsrc2 encoded with ``matrix`` ("bt709" or "smpte170m") and tagged with it throughout."""
    w, h = size
    conv = "bt709" if matrix == "bt709" else "bt601"
    _ff("-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={rate}", "-frames:v", str(n),
        "-vf", f"scale=out_color_matrix={conv}:out_range=tv,"
               f"setparams=color_primaries={matrix}:color_trc={matrix}:colorspace={matrix}:range=tv",
        *codec_args, str(path))
    return str(path)


def _ff_rgb(path, matrix, size):
    """ffmpeg's own decode to RGB with an explicit matrix (how an NLE reads the file)."""
    w, h = size
    out = subprocess.run([FF, "-loglevel", "error", "-i", str(path), "-vf",
                          f"scale=in_color_matrix={matrix}:in_range=tv:out_range=pc,format=rgb24",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, h, w, 3).astype(np.float64)


def _edit_and_write(src, out, **kw):
    """Paint a box (an 'edit') into every frame and write with the source as ``like``."""
    clip = open_clip(str(src))
    h, w = clip.height, clip.width
    with open_writer(str(out), clip.fps, clip.size, like=clip, **kw) as wr:
        for f in clip.frames():
            f = f.copy()
            f[h // 4: h // 2, w // 4: w // 2] = (255, 0, 255)
            wr.write(f)
    outside = np.ones((h, w), bool)
    outside[h // 4 - 16: h // 2 + 16, w // 4 - 16: w // 2 + 16] = False
    return clip, outside


def _tags(path):
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range), cc.pix_fmt


@pytest.mark.parametrize("size,matrix,ff_matrix", [((1280, 720), "bt709", "bt709"),
                                                    ((720, 480), "smpte170m", "bt601")])
def test_colour_kept_outside_the_edit(tmp_path, size, matrix, ff_matrix):
    src = _tagged_source(tmp_path / "src.mp4", size, matrix, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12"])
    out = tmp_path / "out.mp4"
    _, outside = _edit_and_write(src, out)
    code = 1 if matrix == "bt709" else 6
    assert _tags(out)[:4] == (code, code, code, 1)
    a, b = _ff_rgb(src, ff_matrix, size), _ff_rgb(out, ff_matrix, size)
    shift = (b - a)[:, outside].mean(axis=(0, 1))
    assert np.abs(shift).max() < 0.5, shift  # the colour does not move (was up to 5.9 levels)
    # and the error is the codec's own: what a plain ffmpeg re-encode at the same quality loses
    _ff("-i", src, "-c:v", "libx264", "-crf", "16", "-preset", "veryfast", str(tmp_path / "plain.mp4"))
    plain = np.abs(_ff_rgb(tmp_path / "plain.mp4", ff_matrix, size) - a)[:, outside].mean(axis=(0, 1))
    ours = np.abs(b - a)[:, outside].mean(axis=(0, 1))
    assert (ours <= plain * 1.1 + 0.05).all(), (ours, plain)
    # the edit itself is there, in the right colour
    h, w = size[1], size[0]
    assert np.abs(b[:, h * 3 // 8, w * 3 // 8] - (255, 0, 255)).max() < 12


def test_prores_10bit_stays_10bit(tmp_path):
    src = _tagged_source(tmp_path / "src.mov", (640, 360), "bt709",
                         ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"])
    assert probe(src)["bit_depth"] == 10
    out = tmp_path / "out.mov"
    _, outside = _edit_and_write(src, out)
    info = probe(str(out))
    assert info["bit_depth"] == 10 and info["pix_fmt"] == "yuv422p10le" and info["color_matrix"] == "bt709"
    # compared at 16 bit: the untouched area keeps its 10-bit samples (within ProRes loss)
    def rgb48(p):
        raw = subprocess.run([FF, "-loglevel", "error", "-i", str(p), "-vf",
                              "scale=in_color_matrix=bt709:in_range=tv:out_range=pc,format=rgb48le",
                              "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, "<u2").reshape(-1, 360, 640, 3).astype(np.float64) / 257.0
    diff = np.abs(rgb48(src) - rgb48(out))[:, outside].mean(axis=(0, 1))
    assert diff.max() < 0.1, diff  # an 8-bit round trip alone is ~0.25


def test_16bit_png_sequence_outside_edit_bit_identical(tmp_path):
    seq = tmp_path / "in"
    seq.mkdir()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 65536, (40, 48, 3), dtype=np.uint16) for _ in range(3)]
    for i, f in enumerate(frames):
        cv2.imwrite(str(seq / f"plate.{i + 1:04d}.png"), f)
    clip = open_clip(str(seq))
    assert clip.bit_depth == 16
    with open_writer(str(tmp_path / "out") + "/", clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            f = f.copy()
            f[:10, :10] = 0
            w.write(f)
    for i, f in enumerate(frames):
        got = cv2.imread(str(tmp_path / "out" / f"plate.{i + 1:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert got.dtype == np.uint16
        assert np.array_equal(got[10:], f[10:]) and not got[:10, :10].any()


def test_sar_and_timecode_carried(tmp_path):
    src = tmp_path / "src.mov"
    _ff("-f", "lavfi", "-i", "testsrc2=size=720x480:rate=30000/1001", "-frames:v", "12", "-vf", "setsar=10/11",
        "-c:v", "prores_ks", "-timecode", "01:00:00;00", str(src))
    clip = open_clip(str(src), start=4)
    assert clip.sar == Fraction(10, 11) and clip.timecode == "01:00:00;00"
    out = tmp_path / "out.mov"
    with open_writer(str(out), clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    info = probe(str(out))
    assert info["sar"] == "10:11" and info["timecode"] == "01:00:00;04"
    # Matroska carries it as a tag
    mkv = tmp_path / "src.mkv"
    _ff("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "12", "-c:v", "libx264",
        "-timecode", "10:00:00:00", str(mkv))
    clip = open_clip(str(mkv), start=3)
    assert clip.timecode == "10:00:00:00"
    with open_writer(str(tmp_path / "out.mkv"), clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    assert probe(str(tmp_path / "out.mkv"))["timecode"] == "10:00:00:03"
    assert offset_timecode("00:59:59;29", 1, Fraction(30000, 1001)) == "01:00:00;00"
    assert offset_timecode("00:00:59;29", 1, Fraction(30000, 1001)) == "00:01:00;02"
    assert offset_timecode("10:00:00:00", 25, Fraction(25)) == "10:00:01:00"


def _vfr_source(path):
    """40 frames: 30 fps, a 0.3 s hole, 30 fps, then 60 fps; a beep at 1.0-1.1 s."""
    _ff("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-f", "lavfi", "-i",
        "aevalsrc='if(between(t,1.0,1.1),sin(2*PI*440*t),0)':s=48000:d=3", "-frames:v", "40",
        "-vf", "setpts='if(lt(N,10),N/30,if(lt(N,20),N/30+0.3,0.3+20/30+(N-20)/60))/TB'",
        "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-video_track_timescale", "90000", str(path))
    return str(path)


def _beep_time(path):
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        t0, parts = None, []
        for fr in c.decode(a):
            if t0 is None:
                t0 = float(fr.pts * fr.time_base)
            x = fr.to_ndarray()
            parts.append(x.mean(axis=0) if x.ndim > 1 else x)
        x = np.concatenate(parts)
        return t0 + int(np.argmax(np.abs(x) > 0.1)) / a.rate


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_vfr_timestamps_and_audio_kept(tmp_path, ext):
    src = _vfr_source(tmp_path / "vfr.mp4")
    clip = open_clip(src)
    assert clip.vfr and clip.total_frames == 40 and probe(src)["vfr"] is True
    sub = clip.subclip(5, 35)
    out = tmp_path / f"out{ext}"
    with open_writer(str(out), sub.fps, sub.size, like=sub) as w:
        for f in sub.frames():
            w.write(f)
    got = open_clip(str(out))
    assert got.total_frames == 30 and got.vfr
    want = np.array(sub.selected_timestamps())
    have = np.array(got.timestamps) - got.timestamps[0]
    assert np.abs(have - want).max() < 0.002
    # the beep sits at the same place relative to the first frame
    assert abs((_beep_time(out) - got.timestamps[0]) - (_beep_time(src) - clip.timestamps[5])) < 0.015


def test_vfr_sequence_records_its_timestamps(tmp_path):
    clip = open_clip(_vfr_source(tmp_path / "vfr.mp4"), start=3, end=25)
    out = str(tmp_path / "seq") + "/"
    with open_writer(out, clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    back = open_clip(out)
    assert back.frame_count == 22 and back.vfr
    assert np.abs(np.array(back.timestamps) - np.array(clip.selected_timestamps())).max() < 0.001
    # and a video written from the sequence keeps them
    with open_writer(str(tmp_path / "v.mkv"), back.fps, back.size, like=back) as w:
        for f in back.frames():
            w.write(f)
    again = open_clip(str(tmp_path / "v.mkv"))
    assert again.vfr and np.abs(np.array(again.timestamps) - np.array(back.timestamps)).max() < 0.002


def test_cfr_conversion_only_when_asked(tmp_path):
    src = _vfr_source(tmp_path / "vfr.mp4")
    clip = open_clip(src)
    out = tmp_path / "cfr.mp4"
    with open_writer(str(out), clip.fps, clip.size, like=clip, cfr=25) as w:
        for f in clip.frames():
            w.write(f)
    got = open_clip(str(out))
    assert not got.vfr and got.fps == 25
    # the clip's span kept (frames repeated/dropped by time, not retimed)
    assert abs(got.total_frames / 25 - clip.duration) < 0.1


def test_exact_rates():
    assert exact_fps(23.976) == Fraction(24000, 1001)
    assert exact_fps("29.97") == Fraction(30000, 1001)
    assert exact_fps(59.94) == Fraction(60000, 1001)
    assert exact_fps(25) == 25 and exact_fps(12.5) == Fraction(25, 2)


def test_exact_rate_through_writer(tmp_path):
    out = tmp_path / "r.mp4"
    with open_writer(str(out), 23.976, (32, 32)) as w:
        for _ in range(3):
            w.write(np.zeros((32, 32, 3), np.uint8))
    assert probe(str(out))["fps_rational"] == "24000/1001"


def test_matroska_with_audio_counts_decoded_frames(tmp_path):
    src = tmp_path / "a.mkv"
    _ff("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-f", "lavfi", "-i", "sine=d=5", "-frames:v", "48",
        "-c:v", "libx264", "-c:a", "libopus", str(src))
    clip = open_clip(str(src))
    decoded = sum(1 for _ in av.open(str(src)).decode(video=0))
    assert clip.total_frames == decoded == 48
    assert len(clip.read_all()) == 48


@pytest.mark.parametrize("target", ["o.mp4", "o.mov", "o.webm", "o.mkv", "o.gif", "o_seq/", "o.m4v"])
def test_rereads_its_own_outputs_with_audio(tmp_path, target):
    src = tmp_path / "src.mkv"
    _ff("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24000/1001", "-f", "lavfi", "-i", "sine=d=5",
        "-frames:v", "17", "-c:v", "libx264", "-c:a", "aac", str(src))
    clip = open_clip(str(src))
    assert clip.total_frames == 17 and clip.fps == Fraction(24000, 1001)
    out = str(tmp_path / target) + ("/" if target.endswith("/") else "")
    with open_writer(out, clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    back = open_clip(out)
    assert back.frame_count == 17 and len(back.read_all()) == 17
    if not target.endswith(("/", ".gif")):
        assert back.fps == Fraction(24000, 1001)


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mkv", ".mov"])
def test_odd_size_kept_exactly(tmp_path, ext):
    frame = np.zeros((405, 721, 3), np.uint8)
    frame[:, -1] = 255  # the last column and row must survive, not become padding
    frame[-1, :] = 255
    out = tmp_path / f"odd{ext}"
    with open_writer(str(out), 25, (721, 405)) as w:
        for _ in range(3):
            w.write(frame)
    clip = open_clip(str(out))
    assert clip.size == (721, 405)
    got = clip.read_all()[1]
    assert got[200, -1].min() > 200 and got[-1, 360].min() > 200 and got[200, -3].max() < 40


def _numbered_sequence(folder, first=1001, n=10, skip=()):
    folder.mkdir()
    for k in range(first, first + n):
        if k not in skip:
            cv2.imwrite(str(folder / f"shot.{k:04d}.png"), np.full((16, 24, 3), k - first, np.uint8))
    return folder


def test_sequence_numbering_follows_source(tmp_path):
    seq = _numbered_sequence(tmp_path / "in")
    clip = open_clip(str(seq), start=2, end=8)
    assert clip.selected_numbers() == list(range(1003, 1009))
    with open_writer(str(tmp_path / "out") + "/", clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    assert sorted(os.listdir(tmp_path / "out")) == [f"shot.{k}.png" for k in range(1003, 1009)]
    assert cv2.imread(str(tmp_path / "out" / "shot.1005.png"))[0, 0, 0] == 4
    # a user pattern keeps the source numbers with the user's name
    with open_writer(str(tmp_path / "p" / "x.%06d.png"), clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    assert sorted(os.listdir(tmp_path / "p"))[0] == "x.001003.png"
    assert probe(str(seq))["name_pattern"] == "shot.%04d.png"


def test_sequence_gap_is_an_error_or_held(tmp_path):
    seq = _numbered_sequence(tmp_path / "in", skip=(1004,))
    with pytest.raises(InvalidInputError, match="missing frame.*shot.1004.png.*--fill-gaps"):
        open_clip(str(seq))
    clip = open_clip(str(seq), fill_gaps="hold")
    vals = [int(f[0, 0, 0]) for f in clip.frames()]
    assert clip.total_frames == 10 and vals[:5] == [0, 1, 2, 2, 4]


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        open_writer(str(out), 25, (32, 32))
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output_path(str(out), overwrite=False)
    assert out.read_bytes() == b"precious"
    with open_writer(str(out), 25, (32, 32), overwrite=True) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
    assert open_clip(str(out)).frame_count == 1


def test_overwritten_folder_loses_old_frames(tmp_path):
    seq = _numbered_sequence(tmp_path / "in")
    out = str(tmp_path / "out") + "/"
    for start, end, overwrite in ((0, 10, False), (2, 5, True)):
        clip = open_clip(str(seq), start=start, end=end)
        with open_writer(out, clip.fps, clip.size, like=clip, overwrite=overwrite) as w:
            for f in clip.frames():
                w.write(f)
    assert sorted(os.listdir(out)) == ["shot.1003.png", "shot.1004.png", "shot.1005.png"]
    with pytest.raises(OutputExistsError, match="not empty.*--overwrite"):
        open_writer(out, 25, (24, 16))


def test_single_image_output_for_a_clip_is_refused(tmp_path):
    seq = _numbered_sequence(tmp_path / "in", n=3)
    clip = open_clip(str(seq))
    with pytest.raises(InvalidInputError, match="single image.*3 frames.*folder"):
        open_writer(str(tmp_path / "out.png"), clip.fps, clip.size, like=clip)
    with pytest.raises(InvalidInputError, match="single image"):
        check_output_path(str(tmp_path / "out.png"), frames=3)
    w = open_writer(str(tmp_path / "one.png"), 25, clip.size)
    w.write(np.zeros((16, 24, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="single image"):
        w.write(np.zeros((16, 24, 3), np.uint8))
    w.abort()
    assert not os.path.exists(tmp_path / "out.png")


def test_mask_sequence_as_long_as_the_range(tmp_path):
    seq = _numbered_sequence(tmp_path / "in")
    clip = open_clip(str(seq), start=2, end=6)
    masks = tmp_path / "m"
    masks.mkdir()
    for i in range(4):
        m = np.zeros((16, 24), np.uint8)
        m[i, :] = 255
        cv2.imwrite(str(masks / f"{i:03d}.png"), m)
    got = list(open_masks(str(masks), clip))
    assert len(got) == 4 and [int(np.argmax(m[:, 0])) for m in got] == [0, 1, 2, 3]


def test_probe_reports_the_truth(tmp_path):
    src = tmp_path / "p.mov"
    _ff("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "5", "-vf",
        "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=tv",
        "-c:v", "prores_ks", "-pix_fmt", "yuv422p10le", str(src))
    info = probe(str(src))
    assert info["bit_depth"] == 10 and info["frames"] == 5 and info["vfr"] is False
    assert (info["color_primaries"], info["color_transfer"], info["color_matrix"], info["color_range"]) == \
        ("bt2020", "smpte2084", "bt2020nc", "limited")
    full = tmp_path / "full.mp4"
    _ff("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-frames:v", "3", "-vf",
        "scale=out_range=pc,setparams=range=pc:colorspace=bt709", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(full))
    info = probe(str(full))
    assert info["color_range"] == "full" and info["bit_depth"] == 8 and info["color_tagged"]


def test_changed_pixels_rule_matches_any_channel():
    """The writer's fast changed-pixel test equals 'any channel differs', 8 and 16 bit."""
    from vedit.io.writer import _changed
    rng = np.random.default_rng(0)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        a = rng.integers(0, top, (40, 50, 3)).astype(dtype)
        b = a.copy()
        b[3, 4, 2] = a[3, 4, 2] ^ 1
        b[10, 20, 0] = top - a[10, 20, 0]
        assert np.array_equal(_changed(a, b), np.any(a != b, axis=2))
