"""Every format vedit writes reads back with the source's colours: an 8-bit
R'G'B' PNG sequence goes through each output (an edit painted in the middle)
and comes back through ``open_clip`` within codec loss outside the edit, and
exactly where the output is lossless (FFV1, PNG). A Y'CbCr video written to
FFV1 reads back exactly as the source reads, whatever chroma siting the
decoders report (the H.264 decoder says "left", FFV1 says nothing), in 8 and
10 bit."""
from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from vedit.io import ffmpeg_exe, open_clip, open_writer

W, H, N = 320, 240, 4
BOX = (slice(H // 3, 2 * H // 3), slice(W // 3, 2 * W // 3))


def _frames() -> list[np.ndarray]:
    """Natural-looking 8-bit R'G'B': smooth colour fields, soft shapes, grain, moving."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rng = np.random.default_rng(7)
    out = []
    for i in range(N):
        r = 128 + 90 * np.sin((xx + 3 * i) / 41.0) * np.cos(yy / 57.0)
        g = 120 + 80 * np.cos((xx - yy + 2 * i) / 63.0)
        b = 110 + 100 * np.sin(yy / 33.0 + i / 5.0)
        img = np.stack([r, g, b], axis=2)
        disc = ((xx - 90 - 4 * i) ** 2 + (yy - 70) ** 2) < 40 ** 2
        img[disc] = img[disc] * 0.4 + np.array([230, 60, 40], np.float32) * 0.6
        img = cv2.GaussianBlur(img, (0, 0), 1.2) + rng.normal(0, 1, img.shape).astype(np.float32)
        out.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def png_source(tmp_path_factory):
    d = tmp_path_factory.mktemp("src") / "shot"
    d.mkdir()
    frames = _frames()
    for i, f in enumerate(frames):
        cv2.imwrite(str(d / f"shot.{1001 + i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return str(d), frames


def _write_edited(src: str, out: str, codec: str | None = None) -> np.ndarray:
    """Paint a box into every frame of ``src``, write ``out``; the pixels clear of the box."""
    clip = open_clip(src)
    with open_writer(out, clip.fps, clip.size, like=clip, codec=codec) as wr:
        for f in clip.frames():
            f = f.copy()
            f[BOX] = (40, 200, 90)
            wr.write(f)
    outside = np.ones((clip.height, clip.width), bool)
    outside[BOX[0].start - 8: BOX[0].stop + 8, BOX[1].start - 8: BOX[1].stop + 8] = False
    return outside


def _stats(got: list[np.ndarray], ref: list[np.ndarray], outside: np.ndarray):
    d = np.stack(got).astype(np.float64)[:, outside] - np.stack(ref).astype(np.float64)[:, outside]
    return d.mean(axis=(0, 1)), np.abs(d).mean(axis=(0, 1)), np.abs(d).max()


# (output name, --codec, bound on |mean signed shift| per channel, on mean |difference| per channel)
# lossy: the colour does not move (signed mean within 0.5 levels; it was 1.2
# to 1.7 levels dark); the mean |difference| is the codec's loss on this
# grain, mostly 4:2:0 chroma at half resolution (measured 1.0-1.5 levels;
# ProRes 4:2:2 at 10 bit 0.4-0.75)
FORMATS = [
    ("out.mp4", None, 0.5, 1.7),
    ("out_hevc.mp4", "hevc", 0.5, 1.7),
    ("out.mov", None, 0.5, 0.8),
    ("out.webm", None, 0.5, 1.7),
    ("out.mkv", None, 0.5, 1.7),
    ("out_ffv1.mkv", "ffv1", 0.0, 0.0),
    ("frames/", None, 0.0, 0.0),
]


@pytest.mark.parametrize("name,codec,shift_bound,abs_bound", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_output_reads_back_with_the_source_colours(png_source, tmp_path, name, codec, shift_bound,
                                                         abs_bound):
    src, frames = png_source
    out = str(tmp_path / name) + ("/" if name.endswith("/") else "")
    outside = _write_edited(src, out, codec)
    back = open_clip(out)
    assert (back.width, back.height, back.frame_count) == (W, H, N)
    got = list(back.frames())
    shift, mean_abs, worst = _stats(got, frames, outside)
    assert np.abs(shift).max() <= shift_bound, (name, shift)
    assert mean_abs.max() <= abs_bound, (name, mean_abs)
    if abs_bound == 0:
        assert worst == 0, (name, worst)
    # the edit is there, in its colour
    assert np.abs(np.stack(got)[:, H // 2, W // 2].astype(int) - (40, 200, 90)).max() <= 6


def _ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def _ycbcr_source(path: str, codec_args: list[str]) -> str:
    """testsrc2 (hard colour edges everywhere: chroma siting matters) as BT.709 limited range."""
    _ff("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", str(N), "-vf",
        "scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=bt709:range=tv", *codec_args, path)
    return path


@pytest.mark.parametrize("codec_args,depth", [
    (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "14"], 8),
    (["-c:v", "ffv1", "-pix_fmt", "yuv420p10le"], 16),
    (["-c:v", "ffv1", "-pix_fmt", "yuv422p10le"], 16),
    (["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"], 16),
], ids=["h264-420", "ffv1-420p10", "ffv1-422p10", "prores-422p10"])
def test_ffv1_of_a_ycbcr_video_reads_exactly_as_its_source(tmp_path, codec_args, depth):
    """The FFV1 output stores the source's own samples outside the edit, so
    vedit must decode them to the very same R'G'B' (8 or 16 bit), though the
    source's decoder reports a chroma siting and FFV1's reports none."""
    ext = ".mov" if "prores_ks" in codec_args else (".mkv" if "ffv1" in codec_args else ".mp4")
    src = _ycbcr_source(str(tmp_path / f"src{ext}"), codec_args)
    out = str(tmp_path / "out.mkv")
    outside = _write_edited(src, out, "ffv1")
    a, b = open_clip(src), open_clip(out)
    assert b.video_codec == "ffv1" and b.pix_fmt == a.pix_fmt and b.colour == a.colour
    ra, rb = list(a.frames(depth=depth)), list(b.frames(depth=depth))
    # the chroma of 2x2 (4:2:0) or 2x1 blocks touching the box was re-made; the rest is the source's
    assert all(np.array_equal(x[outside], y[outside]) for x, y in zip(ra, rb))


def _ff_rgb(path: str) -> np.ndarray:
    """ffmpeg's own decode with the same description: BT.709 limited, "left"
    siting, full chroma interpolation, accurate rounding (8 bit)."""
    raw = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", path, "-vf",
                          "scale=in_color_matrix=bt709:in_range=tv:out_range=pc:in_chroma_loc=left:"
                          "flags=bilinear+accurate_rnd+full_chroma_int,format=rgb24", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3)


def test_decode_agrees_with_ffmpeg_and_keeps_flat_colours(tmp_path):
    """vedit's R'G'B' of a Y'CbCr video is ffmpeg's (same matrix, range and
    siting) within rounding and bilinear-vs-swscale interpolation; a flat grey
    comes out at its exact level (swscale's accurate-rounding packed RGB path
    made limited-range Y'=102 into 98 instead of 100)."""
    src = _ycbcr_source(str(tmp_path / "src.mkv"), ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
    got = np.stack(list(open_clip(src).frames())).astype(float)
    ref = _ff_rgb(src).astype(float)
    d = got - ref
    assert np.abs(d.mean(axis=(0, 1, 2))).max() < 0.1 and np.abs(d).mean() < 0.6, (d.mean(), np.abs(d).mean())
    grey = str(tmp_path / "grey.mkv")
    planes = np.concatenate([np.full(W * H, 102, np.uint8), np.full(W * H // 2, 128, np.uint8)])
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                    "-s", f"{W}x{H}", "-colorspace", "bt709", "-color_range", "tv", "-i", "-", "-c:v", "ffv1",
                    grey], input=planes.tobytes(), check=True)
    assert (next(iter(open_clip(grey).frames())) == 100).all()  # 16 + 219 * 100 / 255 = 101.9


@pytest.mark.parametrize("siting", ["left", "center"])
def test_new_pixels_come_back_as_close_as_their_chroma_siting_allows(tmp_path, siting):
    """An edit's new pixels are subsampled by the writer itself (the rest of
    the frame keeps the source's samples). Their chroma is decimated for the
    siting the reader interpolates at: a co-sited ("left") sample with the
    [1 2 1]/4 filter centred on it, a centred one with the pair's mean. Read
    back from a lossless file, a real photo painted over the whole frame is
    closer to what was written than with a plain 2x2 mean everywhere, which
    puts a co-sited sample half a pixel off."""
    from skimage import data as skdata

    from vedit.io.writer import _block_reduce, rgb_to_ycbcr

    photo = np.ascontiguousarray(skdata.astronaut()[100:100 + H, 150:150 + W])
    src = str(tmp_path / "src.mkv")
    _ff("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", "2", "-vf",
        "scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=bt709:range=tv",
        "-c:v", "ffv1", "-pix_fmt", "yuv420p", "-chroma_sample_location", siting, src)
    clip = open_clip(src)
    assert clip.colour.chroma_location == siting
    out = str(tmp_path / "out.mkv")
    with open_writer(out, clip.fps, clip.size, like=clip, codec="ffv1") as wr:
        for _ in clip.frames():
            wr.write(photo)
    back = open_clip(out)
    assert back.pix_fmt == "yuv420p" and back.colour.chroma_location == siting
    got = next(iter(back.frames())).astype(np.float64)

    def psnr(a):
        return 10 * np.log10(255.0 ** 2 / ((a - photo.astype(np.float64)) ** 2).mean())

    # the same picture with every chroma sample a plain 2x2 mean, through the same reader
    from vedit.io.clip import _YCbCrToRGB

    y, cb, cr = rgb_to_ycbcr(photo, clip.colour, 8)
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, _block_reduce(cb, 2, 2, "mean"),
                                                                     _block_reduce(cr, 2, 2, "mean"))]
    import av

    frame = av.VideoFrame(W, H, "yuv420p")
    for plane, arr in zip(frame.planes, planes):
        view = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        view[:, :arr.shape[1]] = arr
    box = _YCbCrToRGB(clip.colour, "rgb24")(frame).astype(np.float64)
    if siting == "left":
        assert psnr(got) > psnr(box) + 0.3
    else:
        assert abs(psnr(got) - psnr(box)) < 0.05
    assert psnr(got) > 36


@pytest.mark.parametrize("off", [0.0, 0.5, 1.0])
def test_sited_chroma_of_a_box_equals_that_of_the_whole_frame(off):
    """The writer converts only the box of changed pixels, with one pixel of
    margin: its chroma samples equal those the whole frame would give there
    (the co-sited filter reaches into the margin), and at the frame edge the
    edge pixel repeats."""
    from vedit.io.writer import _sited_reduce

    v = np.random.default_rng(5).uniform(0, 255, (11, 17)).astype(np.float32)
    whole = _sited_reduce(v, 2, off, 0, 0, axis=1)
    assert whole.shape == (11, 9)
    box = _sited_reduce(v[:, 3:11], 2, off, 1, 1, axis=1)  # columns 4..9, a margin each side
    np.testing.assert_allclose(box, whole[:, 2:5], rtol=1e-6)
    if off == 0.0:
        np.testing.assert_allclose(whole[:, 1], 0.25 * v[:, 1] + 0.5 * v[:, 2] + 0.25 * v[:, 3], rtol=1e-6)
        np.testing.assert_allclose(whole[:, 0], 0.75 * v[:, 0] + 0.25 * v[:, 1], rtol=1e-6)
    if off == 0.5:
        np.testing.assert_allclose(whole[:, -1], v[:, -1], rtol=1e-6)  # the odd last column alone
    np.testing.assert_allclose(_sited_reduce(v, 1, 0.0, 1, 1, axis=0), v[1:-1])
