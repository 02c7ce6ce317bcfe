"""High bit depth and HDR through the writers, and interlaced field order.

10-bit PQ/HLG (BT.2020) sources keep their tags and their 10-bit samples in
every 10-bit-capable output (ProRes, H.264 10-bit, VP9 profile 2, FFV1, 16-bit
PNG); lossless outputs keep the untouched samples exactly. Interlaced sources
keep their field order (container tag and the coded fields). Every input is
built here with the static ffmpeg of the imageio-ffmpeg wheel."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vedit.io import ffmpeg_exe, open_clip, open_writer, probe

FF = ffmpeg_exe()
W, H = 160, 96
BOX = (slice(32, 64), slice(48, 96))  # the 'edit' every test paints


def _ff(*args: str) -> None:
    subprocess.run([FF, "-y", "-loglevel", "error", *args], check=True)


def _hdr_source(path, transfer: str, pix: str, codec: list[str]) -> str:
    """A moving BT.2020 pattern with real 10-bit detail (not 8-bit levels shifted
    up), tagged with ``transfer`` (smpte2084 = PQ, arib-std-b67 = HLG)."""
    _ff("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", "5", "-vf",
        f"format={pix},geq=lum='clip(lum(X,Y)+mod(X+2*Y+N,4),64,940)':cb='cb(X,Y)':cr='cr(X,Y)',"
        f"setparams=color_primaries=bt2020:color_trc={transfer}:colorspace=bt2020nc:range=tv",
        *codec, str(path))
    return str(path)


def _edit(src, out, **kw):
    clip = open_clip(src)
    with open_writer(str(out), clip.fps, clip.size, like=clip, **kw) as w:
        for f in clip.frames():
            f = f.copy()
            f[BOX] = (255, 0, 255)
            w.write(f)
    outside = np.ones((H, W), bool)
    outside[BOX[0].start - 4: BOX[0].stop + 4, BOX[1].start - 4: BOX[1].stop + 4] = False
    return clip, outside


def _planes(path):
    """Every frame's Y'CbCr planes as decoded, at their own sample width."""
    out = []
    with av.open(str(path)) as c:
        for fr in c.decode(video=0):
            dt = np.dtype("<u2") if "10" in fr.format.name else np.dtype(np.uint8)
            out.append([np.frombuffer(memoryview(p), dt).reshape(p.height, -1)[:, : p.width].copy()
                        for p in fr.planes])
    return out


def _rgb48(path, transfer_free_matrix="bt2020"):
    """ffmpeg's own 16-bit RGB decode with the BT.2020 matrix (no tone mapping), in 8-bit levels."""
    raw = subprocess.run([FF, "-loglevel", "error", "-i", str(path), "-vf",
                          f"scale=in_color_matrix={transfer_free_matrix}:in_range=tv:out_range=pc,format=rgb48le",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<u2").reshape(-1, H, W, 3).astype(np.float64) / 257.0


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_hdr_ffv1_keeps_tags_and_samples_exactly(tmp_path, transfer):
    src = _hdr_source(tmp_path / "src.mkv", transfer, "yuv420p10le", ["-c:v", "ffv1", "-level", "3"])
    out = tmp_path / "out.mkv"
    _, outside = _edit(src, out, codec="ffv1")
    info = probe(str(out))
    assert (info["pix_fmt"], info["bit_depth"]) == ("yuv420p10le", 10)
    assert (info["color_primaries"], info["color_transfer"], info["color_matrix"], info["color_range"]) == \
        ("bt2020", transfer, "bt2020nc", "limited")
    a, b = _planes(src), _planes(out)
    assert len(a) == len(b) == 5
    for pa, pb in zip(a, b):
        assert np.array_equal(pa[0][outside], pb[0][outside])  # luma: every 10-bit sample
        for ca, cb in zip(pa[1:], pb[1:]):
            assert np.array_equal(ca[outside[::2, ::2]], cb[outside[::2, ::2]])
        # the edit is there, and is not the source
        assert not np.array_equal(pa[0][BOX], pb[0][BOX])
    # the untouched samples use all 10 bits (not 8-bit values shifted up)
    assert (b[0][0][outside] % 4 != 0).mean() > 0.2


def test_hdr_to_16bit_png_keeps_the_source_samples(tmp_path):
    src = _hdr_source(tmp_path / "src.mov", "smpte2084", "yuv422p10le", ["-c:v", "prores_ks", "-profile:v", "3"])
    out = str(tmp_path / "seq") + "/"
    clip, outside = _edit(src, out)
    want = list(clip.frames(depth=16))
    got = [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
           for p in sorted((tmp_path / "seq").glob("*.png"))]
    assert len(got) == 5 and got[0].dtype == np.uint16
    for g, w in zip(got, want):
        assert np.array_equal(g[outside], w[outside])
        assert (g[BOX] == (65535, 0, 65535)).all()
    # 16-bit samples of a 10-bit source, not 8-bit levels x 257
    assert (got[0][outside] % 257 != 0).mean() > 0.5


@pytest.mark.parametrize("ext,pix", [(".mov", "yuv422p10le"), (".mp4", "yuv420p10le"), (".webm", "yuv420p10le"),
                                     (".mkv", "yuv420p10le")])
def test_hdr_lossy_outputs_stay_10bit_and_tagged(tmp_path, ext, pix):
    src = _hdr_source(tmp_path / "src.mov", "arib-std-b67", "yuv422p10le", ["-c:v", "prores_ks", "-profile:v", "3"])
    out = tmp_path / f"out{ext}"
    _, outside = _edit(src, out)
    info = probe(str(out))
    assert (info["pix_fmt"], info["bit_depth"]) == (pix, 10)
    assert (info["color_primaries"], info["color_transfer"], info["color_matrix"]) == \
        ("bt2020", "arib-std-b67", "bt2020nc")
    a = _rgb48(src)
    ours = np.abs(_rgb48(out) - a)[:, outside].mean(axis=(0, 1))
    # within codec loss: no worse than a plain ffmpeg 10-bit re-encode with the writer's own settings
    from vedit.io.writer import Writer

    probe_writer = Writer(str(tmp_path / f"args{ext}"), 25, (W, H), bit_depth=10)
    args = probe_writer._codec_args(None, 16)[0]
    probe_writer.abort()
    plain = tmp_path / f"plain{ext}"
    _ff("-i", src, *args, str(plain))
    ref = np.abs(_rgb48(plain) - a)[:, outside].mean(axis=(0, 1))
    assert (ours <= ref * 1.1 + 0.05).all(), (ours, ref)


def test_vp9_webm_10bit_from_an_8bit_source_stays_8bit(tmp_path):
    src = tmp_path / "src.mp4"
    _ff("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", "3", "-c:v", "libx264",
        "-pix_fmt", "yuv420p", str(src))
    out = tmp_path / "out.webm"
    _edit(str(src), out)
    assert probe(str(out))["pix_fmt"] == "yuv420p"


def _field_info(path):
    """(container field order, first frame's coded dominance T/B/P)."""
    order = probe(str(path))["field_order"]
    err = subprocess.run([FF, "-hide_banner", "-i", str(path), "-vf", "showinfo", "-frames:v", "1", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    m = re.search(r"\bi:([TBP])\b", err)
    return order, m.group(1) if m else None


def _interlaced_source(path, order, codec):
    _ff("-f", "lavfi", "-i", "testsrc2=size=720x480:rate=30000/1001", "-frames:v", "4",
        "-vf", f"setfield={order}", "-flags", "+ildct+ilme", *codec, str(path))
    return str(path)


@pytest.mark.parametrize("order", ["tff", "bff"])
@pytest.mark.parametrize("src_ext,codec", [(".mov", ["-c:v", "prores_ks", "-pix_fmt", "yuv422p10le"]),
                                           (".mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])])
def test_field_order_carried(tmp_path, order, src_ext, codec):
    src = _interlaced_source(tmp_path / f"src{src_ext}", order, codec)
    src_order, src_dom = _field_info(src)
    assert src_dom == order[0].upper()
    # H.264 in MP4 has no container field: the decoded pictures say which field is first
    assert src_order in (("tt", "tb") if order == "tff" else ("bb", "bt"))
    clip = open_clip(src)
    for ext in (".mov", ".mkv", ".mp4"):
        out = tmp_path / f"out{ext}"
        with open_writer(str(out), clip.fps, clip.size, like=clip) as w:
            for f in clip.frames():
                w.write(f)
        got_order, got_dom = _field_info(out)
        assert got_dom == src_dom, (ext, got_dom)  # the coded fields, first one as in the source
        if ext != ".mp4":  # .mp4 H.264 is probed from its pictures (tt/bb)
            assert got_order == src_order, (ext, got_order, src_order)


def test_set_field_order_rewrites_only_the_tag(tmp_path):
    from vedit.io.writer import set_field_order

    src = _interlaced_source(tmp_path / "a.mov", "tff", ["-c:v", "prores_ks"])
    before = open(src, "rb").read()
    assert probe(src)["field_order"] == "tb"  # what FFmpeg's command line writes for top-first
    assert set_field_order(src, "tt")
    after = open(src, "rb").read()
    assert probe(src)["field_order"] == "tt" and len(after) == len(before)
    assert sum(x != y for x, y in zip(before, after)) == 1
    assert np.array_equal(next(iter(open_clip(src).frames())), next(iter(open_clip(src).frames())))


def test_remove_on_pq_10bit_keeps_samples_outside_the_grown_mask(tmp_path):
    """Through the op (8-bit engine core): only the grown mask is 8-bit-derived;
    the 16-bit PNG output holds the source's own 10-bit-derived samples
    everywhere else, and a ProRes output stays 10-bit BT.2020 PQ."""
    from vedit.ops import remove

    src = _hdr_source(tmp_path / "src.mov", "smpte2084", "yuv422p10le", ["-c:v", "prores_ks", "-profile:v", "3"])
    m = np.zeros((H, W), np.uint8)
    m[BOX] = 255
    cv2.imwrite(str(tmp_path / "m.png"), m)
    grown = cv2.dilate(m, np.ones((2 * 8 + 1, 2 * 8 + 1), np.uint8)) > 0  # dilate 3 + feather 2, with margin
    seq = remove.run(src, str(tmp_path / "seq") + "/", mask=str(tmp_path / "m.png"))
    want = list(open_clip(src).frames(depth=16))
    got = [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
           for p in sorted(Path(seq).glob("*.png"))]
    assert len(got) == 5 and got[0].dtype == np.uint16
    for g, w in zip(got, want):
        assert np.array_equal(g[~grown], w[~grown])
    assert np.mean([np.abs(g[BOX].astype(int) - w[BOX]).mean() for g, w in zip(got, want)]) > 257  # filled
    mov = remove.run(src, str(tmp_path / "out.mov"), mask=str(tmp_path / "m.png"))
    info = probe(mov)
    assert (info["pix_fmt"], info["color_primaries"], info["color_transfer"], info["color_matrix"]) == \
        ("yuv422p10le", "bt2020", "smpte2084", "bt2020nc")
