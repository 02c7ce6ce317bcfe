"""``keep_source=False``: a new picture (a grey matte) written ``like`` a
clip takes the clip's description (colour tags, timing, frame count) but not
its samples, and never decodes the clip a second time; the default (an edit)
still keeps the source's samples where the frame is unchanged."""
from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from vedit.io import ffmpeg_exe, open_clip, open_writer
from vedit.io.clip import KeptFrames

FF = ffmpeg_exe()
W, H = 320, 180


def _vfr_bt709(path):
    """12 frames of testsrc2, BT.709 limited range, tagged; a 0.2 s hole after frame 5."""
    subprocess.run([FF, "-y", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25",
                    "-frames:v", "12", "-vf",
                    "scale=out_color_matrix=bt709:out_range=tv,"
                    "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,"
                    "setpts='if(lt(N,6),N/25,N/25+0.2)/TB'",
                    "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12",
                    "-video_track_timescale", "90000", str(path)], check=True)
    return str(path)


def _tags(path):
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range), cc.pix_fmt


def _mattes(n):
    """Grey pictures unlike the footage: a bar 10 px wider each frame on black."""
    out = []
    for k in range(n):
        m = np.zeros((H, W), np.uint8)
        m[:, : 20 + 10 * k] = 255
        m[: H // 2, : 10] = 128
        out.append(m)
    return out


@pytest.mark.parametrize("keep", [False, True])
def test_new_picture_takes_the_description_not_the_samples(tmp_path, writer_decodes, keep):
    src = _vfr_bt709(tmp_path / "src.mp4")
    clip = open_clip(src)
    assert clip.vfr and clip.frame_count == 12
    decodes = writer_decodes
    out = tmp_path / "matte.mp4"
    mattes = _mattes(clip.frame_count)
    with open_writer(str(out), clip.fps, clip.size, like=clip, bit_depth=8, keep_source=keep) as w:
        for m in mattes:
            w.write(m)
    # the source is read again only for an edit
    assert len(decodes) == (1 if keep else 0)
    got = open_clip(str(out))
    assert _tags(out) == _tags(src) == (1, 1, 1, 1, "yuv420p")
    assert got.frame_count == 12 and got.vfr
    assert np.abs(np.array(got.timestamps) - got.timestamps[0] - np.array(clip.selected_timestamps())).max() < 0.002
    for m, f in zip(mattes, got.frames()):
        grey = f[:, :, :3].astype(np.int16)
        assert np.abs(grey - m[:, :, None]).mean() < 1.5  # the matte, not the footage
        assert np.abs(grey[H // 2 + 5:, 5] - 128).max() > 100  # the black and white are the matte's
        assert np.abs(grey[: H // 2 - 4, 4] - 128).max() <= 3


@pytest.mark.parametrize("kept", [None, "samples", "rgb", "limit"])
def test_edit_still_keeps_untouched_samples(tmp_path, writer_decodes, kept):
    """The default, for an op that edits the footage: where a frame equals the
    source's, the source's own Y'CbCr samples go out (unchanged luma bits).
    The same when the reader hands its decoded frames on (``KeptFrames``):
    with their samples the writer decodes nothing, with the R'G'B' only it
    decodes but does not convert again, and past the frames a reader far
    ahead could keep ("limit") it decodes the rest itself."""
    src = _vfr_bt709(tmp_path / "src.mp4")
    clip = open_clip(src)
    out, plain = tmp_path / "edit.mkv", tmp_path / "plain.mkv"
    for path, keep in ((out, True), (plain, False)):
        k = None
        if kept and keep:
            k = KeptFrames(samples=kept != "rgb", limit=3 if kept == "limit" else 160)
        frames = clip.frames(keep=k)
        if k is not None and kept == "limit":
            frames = list(frames)  # all read before the first is written
            assert len(k) == 3
        with open_writer(str(path), clip.fps, clip.size, like=clip, codec="ffv1", keep_source=keep, kept=k) as w:
            for f in frames:
                assert k is None or not f.flags.writeable  # an op cannot edit a kept frame in place
                f = f.copy()
                f[:40, :40] = (255, 0, 255)
                w.write(f)
        if k is not None:
            assert k.taken == (3 if kept == "limit" else clip.frame_count) and len(k) == 0
    assert len(writer_decodes) == {None: 1, "samples": 0, "rgb": 1, "limit": 1}[kept]

    def luma(path):
        with av.open(str(path)) as c:
            return [np.asarray(fr.to_ndarray(format="gray")) for fr in c.decode(video=0)]

    s, e, p = luma(src), luma(out), luma(plain)
    outside = np.ones((H, W), bool)
    outside[:48, :48] = False
    assert all(np.array_equal(a[outside], b[outside]) for a, b in zip(s, e))  # exact outside the edit
    # without the restore the 8-bit RGB round trip moves some samples
    assert any(not np.array_equal(a[outside], b[outside]) for a, b in zip(s, p))


def test_kept_frames_are_consumed_by_any_writer(tmp_path):
    """A writer that has no use for the kept frames (a PNG sequence: R'G'B'
    out) still takes one per frame written, so none pile up in memory."""
    clip = open_clip(_vfr_bt709(tmp_path / "src.mp4"))
    k = KeptFrames()
    with open_writer(str(tmp_path / "seq") + "/", clip.fps, clip.size, like=clip, kept=k) as w:
        for i, f in enumerate(clip.frames(keep=k)):
            assert len(k) == 1  # the reader is at most one frame ahead here
            w.write(f)
    assert k.taken == clip.frame_count and len(k) == 0
    assert len(open_clip(str(tmp_path / "seq")).read_all()) == clip.frame_count
