"""Writing clips: H.264/H.265 mp4, ProRes 422 HQ / 4444 mov, VP9 webm, mkv, gif
and PNG sequences. Files are written under a temporary name and renamed into
place only when complete, so a failed or cancelled job leaves nothing behind,
and an existing output is replaced only when the caller says ``overwrite``.

Given the clip the frames came from (``like``), a writer carries what the
editor's timeline expects back: colour description (the frames are encoded
with the source's matrix and range, and tagged), bit depth, pixel aspect,
field order, every frame's timestamp (variable frame rate), timecode offset by
the range start, audio for the range, and a sequence's names and numbers.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from fractions import Fraction
from typing import Any, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, OutputExistsError
from vedit.io.clip import (
    _SITING,
    KR_KB,
    TIMESTAMP_FILE,
    Clip,
    Colour,
    KeptFrames,
    default_colour,
    ebml_children,
    exact_fps,
    frame_converter,
    mkv_video_element,
    to_uint8,
    to_uint16,
    video_frames,
)
from vedit.io.ffmpeg import ffmpeg_exe

VIDEO_EXTS = (".mp4", ".mov", ".webm", ".mkv", ".gif", ".m4v")
SEQUENCE_EXTS = (".png", ".tif", ".tiff")


def output_kind(path: str) -> str:
    """``"sequence"`` for a folder (trailing slash or existing dir) or a printf
    PNG/TIFF pattern, ``"image"`` for a single image, else the container extension."""
    p = os.fspath(path)
    if p.endswith(("/", os.sep)) or os.path.isdir(p):
        return "sequence"
    if "%" in os.path.basename(p) and p.lower().endswith(SEQUENCE_EXTS):
        return "sequence"
    ext = os.path.splitext(p)[1].lower()
    if ext in VIDEO_EXTS:
        return ext
    if ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        return "image"
    raise InvalidInputError(
        f"output {p!r}: unknown format; use .mp4, .mov, .webm, .mkv, .gif or a folder/ for PNG frames"
    )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _sequence_target(output: str) -> tuple[str, str | None]:
    """(folder, printf pattern or None) of a sequence output path."""
    base = output.rstrip("/" + os.sep) or output
    if "%" in os.path.basename(base):
        return os.path.dirname(base) or ".", os.path.basename(base)
    return base, None


def _visible_entries(folder: str) -> list[str]:
    try:
        return [f for f in os.listdir(folder) if not f.startswith(".")]
    except OSError:
        return []


def _exists_error(output: str, what: str) -> OutputExistsError:
    return OutputExistsError(f"output {output} {what}; add --overwrite (-y) to replace it, or choose another path")


def _single_image_error(output: str, frames: int) -> InvalidInputError:
    stem = os.path.splitext(output)[0]
    return InvalidInputError(
        f"output {output} is a single image but the clip has {frames} frames; "
        f"give a folder ({stem}/) or a pattern ({stem}.%05d.png)")


def check_output_path(output: str, inputs: list[str] | tuple[str, ...] = (), *,
                      overwrite: bool | None = None, frames: int | None = None) -> str:
    """Validate an output path before any work: not an input, parent writable;
    with ``overwrite=False`` also not an existing file or non-empty folder
    (``None`` leaves that check to the writer), and with ``frames`` > 1 not a
    single-image path. Returns :func:`output_kind`."""
    output = os.fspath(output)
    kind = output_kind(output)
    for i in inputs:
        same = os.path.exists(output) and _same_file(output, i)
        if i and (same or os.path.abspath(output.rstrip("/")) == os.path.abspath(i.rstrip("/"))):
            raise InvalidInputError(f"output {output} is the same as input {i}; choose another output path")
    if kind == "sequence":
        target = _sequence_target(output)[0]
    else:
        target = output
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise MediaError(f"cannot write {output}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise MediaError(f"cannot write {output}: folder {parent} is not writable")
    if kind == "image" and frames is not None and frames > 1:
        raise _single_image_error(output, frames)
    if overwrite is False:
        _refuse_existing(output, kind)
    return kind


def _refuse_existing(output: str, kind: str) -> None:
    if kind == "sequence":
        folder = _sequence_target(output)[0]
        if os.path.isdir(folder) and _visible_entries(folder):
            raise _exists_error(output, "is a folder that is not empty")
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise _exists_error(output, "exists and is not a folder")
    elif os.path.lexists(output):
        raise _exists_error(output, "already exists")


def offset_timecode(tc: str, frames: int, fps: Fraction) -> str:
    """SMPTE timecode ``tc`` moved by ``frames`` frames at ``fps`` (drop-frame
    timecode, written with ``;``, counts the way NTSC drop-frame does)."""
    parts = re.split(r"[:;.,]", tc.strip())
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return tc
    h, m, s, f = (int(p) for p in parts)
    base = max(1, round(fps))
    drop = (";" in tc or "," in tc or "." in tc) and base % 30 == 0
    if not drop:
        total = ((h * 60 + m) * 60 + s) * base + f + frames
        total %= 24 * 3600 * base
        return f"{total // (3600 * base):02d}:{total // (60 * base) % 60:02d}:{total // base % 60:02d}:{total % base:02d}"
    d = 2 * base // 30  # numbers skipped each minute but every tenth
    minutes = 60 * h + m
    fn = ((h * 60 + m) * 60 + s) * base + f - d * (minutes - minutes // 10) + frames
    per10, per1 = base * 600 - d * 9, base * 60 - d
    tens, rem = divmod(fn, per10)
    fn += d * 9 * tens + (d * ((rem - d) // per1) if rem > d else 0)
    return f"{fn // (3600 * base) % 24:02d}:{fn // (60 * base) % 60:02d}:{fn // base % 60:02d};{fn % base:02d}"


# the planar Y'CbCr formats FFV1 stores as they are
_FFV1_YUV = {f"yuv{c}p{b}" for c in ("420", "422", "444") for b in ("", "9le", "10le", "12le", "14le", "16le")}
# chroma subsampling (x, y) of the planar Y'CbCr formats the writer passes through
_SUBSAMPLING = {"420": (2, 2), "422": (2, 1), "444": (1, 1)}


def _planar_layout(pix_fmt: str) -> tuple[int, int, int] | None:
    """(x subsampling, y subsampling, bits) of a planar Y'CbCr format, else None."""
    m = re.fullmatch(r"yuvj?(420|422|444)p(?:(9|10|12|14|16)le)?", pix_fmt or "")
    if not m:
        return None
    sx, sy = _SUBSAMPLING[m.group(1)]
    return sx, sy, int(m.group(2) or 8)


def rgb_to_ycbcr(rgb: np.ndarray, colour: Colour, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R'G'B' (uint8/uint16) -> Y', Cb, Cr code values (float32) with the
    colour's matrix and range at ``bits`` bits."""
    x = rgb.astype(np.float32) / float(np.iinfo(rgb.dtype).max)
    kr, kb = KR_KB.get(colour.matrix, (0.299, 0.114))
    y = kr * x[..., 0] + (1.0 - kr - kb) * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - y) / (2.0 * (1.0 - kb))
    cr = (x[..., 0] - y) / (2.0 * (1.0 - kr))
    if colour.full_range:
        top, mid = float(2 ** bits - 1), float(2 ** (bits - 1))
        return y * top, cb * top + mid, cr * top + mid
    k = float(2 ** (bits - 8))
    return (16.0 + 219.0 * y) * k, (128.0 + 224.0 * cb) * k, (128.0 + 224.0 * cr) * k


def _planes(frame: Any, bits: int) -> list[np.ndarray]:
    dt = np.dtype(np.uint8) if bits <= 8 else np.dtype("<u2")
    out = []
    for p in frame.planes:
        a = np.frombuffer(memoryview(p), dt).reshape(p.height, p.line_size // dt.itemsize)
        out.append(a[:, : p.width].copy())
    return out


def _block_reduce(a: np.ndarray, sy: int, sx: int, fn: str) -> np.ndarray:
    """Mean (or any) over sy x sx blocks, the last partial block padded by its edge."""
    if sy == sx == 1:
        return a
    h, w = a.shape
    ph, pw = -h % sy, -w % sx
    if ph or pw:
        a = np.pad(a, ((0, ph), (0, pw)), mode="edge")
    b = a.reshape(a.shape[0] // sy, sy, a.shape[1] // sx, sx)
    return b.any(axis=(1, 3)) if fn == "any" else b.mean(axis=(1, 3), dtype=np.float32)


def _sited_reduce(v: np.ndarray, sub: int, off: float, before: int, after: int, axis: int) -> np.ndarray:
    """Chroma values ``v`` (float32, at luma resolution) decimated by ``sub``
    along ``axis`` for chroma samples sited ``off`` luma pixels into each
    block. A sample on a luma pixel (co-sited: ``off`` 0, or 1 of 2) is the
    [1 2 1]/4 average centred there, one between two (``off`` 0.5) their
    mean: each the filter whose result the reader's bilinear upsampling at
    that siting turns back into the closest picture (a plain block mean puts
    a co-sited sample half a pixel off: about 0.5-0.9 dB lower R'G'B' round
    trip on photos). ``v`` holds ``before``/``after`` (0 or 1) samples beyond
    the blocks on each side; at a frame edge the edge sample repeats. Other
    subsamplings take the block mean."""
    v = np.moveaxis(v, axis, 0)
    core = v[before: v.shape[0] - after]
    if sub == 1:
        return np.moveaxis(core, 0, axis)
    n = core.shape[0]
    c = -(-n // sub)
    if sub != 2 or off == 0.5:
        return np.moveaxis(_block_reduce(core, sub, 1, "mean"), 0, axis)
    # p[k] = core[k - 1]: one sample before the blocks, then enough after them
    lead = v[:1] if before else core[:1]
    tail = v[v.shape[0] - 1:] if after else core[-1:]
    p = np.concatenate([lead, core, np.repeat(tail, 2 * c + 2 - n - 1, axis=0)])
    k = 1 if off == 1.0 else 0
    out = 0.25 * p[k: k + 2 * c: 2] + 0.5 * p[k + 1: k + 1 + 2 * c: 2] + 0.25 * p[k + 2: k + 2 + 2 * c: 2]
    return np.moveaxis(out.astype(np.float32), 0, axis)


class Writer:
    """Streams frames into a file. Use as a context manager: on an exception the
    temporary output is removed and the target is left untouched.

    Frames are RGB(A) uint8, or uint16 for more than 8 bits. ``like`` is the
    clip the frames come from (see the module docstring for what it carries);
    ``overwrite`` allows replacing an existing file, or a non-empty folder
    whose old frames of the same name pattern are removed when the new ones
    move in; ``cfr`` converts variable-frame-rate timing to that constant rate
    (frames repeated or dropped by timestamp) instead of keeping it.
    ``keep_source`` (default) treats the frames as an edit of ``like``'s:
    where they equal the source's pixels, the source's own samples go out
    (its Y'CbCr, or its high-bit values), which costs decoding it again and a
    comparison a frame; ``keep_source=False`` is for a new picture (a grey
    matte) that only takes the source's description (colour, timing, names).
    ``kept`` holds what the reader of ``like`` already decoded (see
    :class:`vedit.io.clip.KeptFrames`): the source is then neither decoded
    nor converted again; one kept frame is consumed per frame written.
    """

    def __init__(self, path: str, fps: Fraction | float, size: tuple[int, int], alpha: bool = False,
                 audio_from: str | None = None, audio_start: float = 0.0, audio_duration: float | None = None,
                 codec: str | None = None, crf: int = 16, png_compression: int = 1, *,
                 like: Clip | None = None, overwrite: bool = False, frames: int | None = None,
                 cfr: float | Fraction | str | None = None, colour: Colour | None = None,
                 timestamps: list[float] | None = None, timecode: str | None = None,
                 bit_depth: int | None = None, keep_source: bool = True, kept: KeptFrames | None = None):
        self.path = os.fspath(path)
        self.kind = output_kind(self.path)
        self.fps = exact_fps(fps)
        self.width, self.height = int(size[0]), int(size[1])
        self.alpha = alpha
        self.count = 0
        self.closed = False
        self.overwrite = bool(overwrite)
        self._proc: subprocess.Popen | None = None
        self._mux: Any = None
        self._png_compression = png_compression
        same_frames = like is not None and (like.width, like.height) == (self.width, self.height)
        self.expected = frames if frames is not None else (like.frame_count if like is not None else None)
        # 1. what must not be lost
        if self.kind == "image" and self.expected is not None and self.expected > 1:
            raise _single_image_error(self.path, self.expected)
        if not self.overwrite:
            _refuse_existing(self.path, self.kind)
        # 2. what the source says
        video = like if like is not None and like.kind == "video" else None
        self.colour = colour or (video.colour if video is not None and video.colour.matrix != "rgb" else
                                 default_colour(self.width, self.height))
        self.sar = like.sar if like is not None and same_frames else Fraction(1)
        self.field_order = video.field_order if video is not None and same_frames else "progressive"
        self.cfr = exact_fps(cfr) if cfr else None
        if timestamps is None and like is not None and self.expected == like.frame_count:
            timestamps = like.selected_timestamps()
        if self.cfr is not None and timestamps is None:
            timestamps = [float(i / self.fps) for i in range(self.expected or 0)] if self.expected else None
            if self.cfr == self.fps:
                timestamps = None
        self.timestamps = timestamps
        if self.cfr is not None and timestamps is not None and like is not None and like.vfr:
            print(f"note: variable frame rate converted to {float(self.cfr):.6g} fps (--cfr); "
                  "frames are repeated or dropped by timestamp", file=sys.stderr)
        self.time_base = Fraction(1, 90000)
        if like is not None and like.time_base and like.time_base.denominator <= 10**6:
            self.time_base = Fraction(1, like.time_base.denominator)
        if timecode is None and like is not None and like.timecode:
            timecode = offset_timecode(like.timecode, like.start, like.fps)
        self.timecode = timecode
        src_depth = bit_depth or (like.bit_depth if like is not None else 8)
        # 10-bit-capable outputs keep more than 8 bits (ProRes, H.264/H.265 10-bit,
        # VP9 profile 2, FFV1, 16-bit PNG/TIFF); GIF and JPEG are 8-bit, and so
        # is VP9 with alpha (its alpha side channel is 8-bit)
        self.high_bit = src_depth > 8 and (
            self.kind in (".mov", ".mp4", ".m4v", ".mkv", "sequence")
            or self.kind == ".webm" and not alpha
            or self.kind == "image" and self.path.lower().endswith(SEQUENCE_EXTS))
        # an op hands 8-bit frames; where they equal the source rounded to 8
        # bit (everything it did not touch) the source's own samples go out
        self._restore: Iterator[np.ndarray] | None = None
        self._like = like if (keep_source and self.high_bit and like is not None and like.bit_depth > 8 and same_frames
                              and like.kind in ("video", "sequence")) else None
        # a video source whose Y'CbCr layout the output shares: untouched pixels
        # keep their own Y'CbCr samples (no second chroma subsampling or rounding)
        self._yuv_like = video if (video is not None and same_frames and not alpha and video.colour.matrix != "rgb"
                                   and colour is None) else None
        self._keep_source = bool(keep_source)
        self._kept = kept
        self._restore_at = 0  # the index of the frame self._restore yields next
        self._yuv: tuple[int, int, int] | None = None
        self._src_sub = (1, 1)  # the source's chroma subsampling (x, y) when _yuv is set
        self._numbers: list[int] | None = None
        if self.kind == "sequence":
            folder, pattern = _sequence_target(self.path)
            numbers = like.selected_numbers() if like is not None and like.kind == "sequence" else None
            if numbers is not None and len(numbers) != self.expected:
                numbers = None
            if pattern is None:
                src = like.name_pattern if like is not None and like.kind == "sequence" and numbers else None
                if src and os.path.splitext(src)[1].lower() in SEQUENCE_EXTS:
                    pattern = src
                elif src:
                    pattern = os.path.splitext(src)[0] + ".png"
                else:
                    pattern = "%05d.png"
            self._pattern = pattern
            self._numbers = numbers
            self._final_dir = folder
            self._tmp = os.path.join(os.path.dirname(os.path.abspath(folder)),
                                     f".{os.path.basename(os.path.abspath(folder))}.vedit-tmp-{uuid.uuid4().hex[:8]}")
            os.makedirs(self._tmp)
        elif self.kind == "image":
            self._tmp = self._tmp_name()
        else:
            if self.cfr is not None and self.timestamps is not None:
                self.fps = self.cfr
            self._tmp = self._tmp_name()
            self._start_ffmpeg(codec, crf, audio_from, audio_start, audio_duration)

    def _tmp_name(self) -> str:
        d, b = os.path.split(os.path.abspath(self.path))
        stem, ext = os.path.splitext(b)
        return os.path.join(d, f".{stem}.vedit-tmp-{uuid.uuid4().hex[:8]}{ext}")

    # -- encoder -------------------------------------------------------------
    def _codec_args(self, codec: str | None, crf: int) -> tuple[list[str], bool]:
        """Encoder arguments and whether the output is Y'CbCr (needs the matrix)."""
        k = self.kind
        odd = self.width % 2 or self.height % 2
        ten = self.high_bit
        interlaced = self.field_order in ("tt", "bb", "tb", "bt")
        if codec == "ffv1":
            like = self._yuv_like
            src_pix = like.pix_fmt.replace("yuvj", "yuv") if like is not None else ""
            if _planar_layout(src_pix) is not None and src_pix in _FFV1_YUV:
                # the source's own Y'CbCr layout: untouched samples stored exactly
                return ["-c:v", "ffv1", "-level", "3", "-pix_fmt", src_pix], True
            return ["-c:v", "ffv1", "-level", "3"], False  # lossless RGB: samples kept exactly
        if k == ".mov":
            # interlaced ProRes is coded as two fields (the frame header then
            # says which comes first); progressive coding would lose the fields
            ildct = ["-flags", "+ildct"] if interlaced else []
            # 4444 for alpha, and for odd widths (4:2:2 ProRes gets the last column's colour wrong)
            if self.alpha or codec in ("prores4444", "prores_4444") or self.width % 2:
                pix = "yuva444p10le" if self.alpha else "yuv444p10le"
                return ["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", pix, "-vendor", "apl0"] + ildct, True
            return ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-vendor", "apl0"] + ildct, True
        if k == ".webm":
            # VP9 profile 2 carries 10-bit 4:2:0
            pix = "yuva420p" if self.alpha else ("yuv420p10le" if ten else "yuv420p")
            profile = ["-profile:v", "2"] if pix.endswith("10le") else []
            return ["-c:v", "libvpx-vp9", "-crf", str(max(crf, 20)), "-b:v", "0", "-row-mt", "1",
                    "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", pix] + profile, True
        if k == ".gif":
            return ["-filter_complex",
                    "[0:v]split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer[out]"], False
        # H.264/H.265 4:2:0 needs even sizes: odd ones get 4:4:4 (exact size, no padding)
        chroma = "yuv444p" if odd else "yuv420p"
        pix = chroma + ("10le" if ten else "")
        if codec in ("h265", "hevc", "libx265"):
            return ["-c:v", "libx265", "-crf", str(crf), "-preset", "fast", "-pix_fmt", pix, "-tag:v", "hvc1",
                    "-x265-params", "log-level=error"], True
        if self.alpha and k == ".mkv":
            return ["-c:v", "ffv1", "-level", "3", "-pix_fmt", "yuva444p" if odd else "yuva420p"], True
        args = ["-c:v", "libx264", "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", pix]
        if interlaced:
            args += ["-flags", "+ildct+ilme"]
        return args + (["-movflags", "+faststart"] if k in (".mp4", ".m4v") else []), True

    def _pix_in(self) -> str:
        if self._yuv is not None:
            return self._out_pix
        if self.high_bit:
            return "rgba64le" if self.alpha else "rgb48le"
        return "rgba" if self.alpha else "rgb24"

    def _start_ffmpeg(self, codec, crf, audio_from, audio_start, audio_duration):
        args, ycbcr = self._codec_args(codec, crf)
        self._out_pix = args[args.index("-pix_fmt") + 1] if "-pix_fmt" in args else ""
        like = self._yuv_like
        src_layout = _planar_layout(like.pix_fmt) if like is not None else None
        out_layout = _planar_layout(self._out_pix)
        # the same sample width and a chroma grid the source's divides (4:2:2
        # -> 4:2:0, 4:4:4 -> 4:2:x): the source's planes go out as they are,
        # their chroma averaged down once, the way a plain re-encode does it
        if (self._keep_source and ycbcr and src_layout is not None and out_layout is not None
                and src_layout[2] == out_layout[2]
                and out_layout[0] % src_layout[0] == 0 and out_layout[1] % src_layout[1] == 0):
            assert like is not None
            self._yuv = out_layout
            self._src_sub = src_layout[:2]
            self._convert8 = frame_converter(like, depth=8)
            self._convert16 = frame_converter(like, depth=16)
            self._like = None  # the Y'CbCr samples carry the full precision
        pix_in = self._pix_in()
        c = self.colour
        fps = f"{self.fps.numerator}/{self.fps.denominator}"
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
        if self._yuv is not None:
            cmd += ["-colorspace", c.matrix, "-color_range", c.range]
        if self.timestamps is not None:
            # frames go in with their own timestamps (NUT carries them), so
            # variable frame rate survives; -r alone would retime them
            cmd += ["-f", "nut", "-i", "-"]
        else:
            cmd += ["-f", "rawvideo", "-pix_fmt", pix_in, "-s", f"{self.width}x{self.height}", "-r", fps, "-i", "-"]
        has_audio = bool(audio_from) and self.kind != ".gif"
        if has_audio:
            if audio_start > 0:
                cmd += ["-ss", f"{audio_start:.6f}"]
            if audio_duration is not None:
                cmd += ["-t", f"{audio_duration:.6f}"]
            cmd += ["-i", audio_from]
        filters = []
        if ycbcr and self._yuv is None:
            # chroma subsampled at the siting the reader assumes (see Colour.chroma_location)
            filters.append(f"scale=out_color_matrix={c.filter_matrix()}:out_range={c.range}:"
                           f"out_chroma_loc={c.chroma_location}:flags=accurate_rnd")
        if ycbcr:
            # frames carry their colour description to the encoder (options
            # alone are overridden by the frames' own, unspecified, properties)
            filters.append(f"setparams=color_primaries={c.primaries}:color_trc={c.transfer}:"
                           f"colorspace={c.matrix}:range={c.range}:chroma_location={c.chroma_location}")
        if self.sar != 1 and self.kind != ".gif":
            filters.append(f"setsar={self.sar.numerator}/{self.sar.denominator}")
        if self.field_order in ("tt", "tb", "bb", "bt") and ycbcr:
            filters.append("setfield=" + ("tff" if self.field_order in ("tt", "tb") else "bff"))
        if filters and self.kind != ".gif":
            cmd += ["-vf", ",".join(filters)]
        cmd += ["-map", "[out]" if self.kind == ".gif" else "0:v:0"]
        if has_audio:
            cmd += ["-map", "1:a:0?"]
            acodec = {".webm": "libopus", ".mov": "pcm_s16le"}.get(self.kind, "aac")
            cmd += ["-c:a", acodec] + (["-b:a", "192k"] if acodec != "pcm_s16le" else [])
            cmd += ["-shortest"] if audio_duration is None else []
        cmd += args
        if ycbcr:
            cmd += ["-colorspace", c.matrix, "-color_primaries", c.primaries, "-color_trc", c.transfer,
                    "-color_range", c.range, "-chroma_sample_location", c.chroma_location]
        if self.timecode and self.kind in (".mov", ".mp4", ".m4v", ".mkv"):
            cmd += ["-timecode", self.timecode]
        if self.timestamps is not None and self.cfr is None:
            cmd += ["-fps_mode", "passthrough", "-enc_time_base", f"1/{self.time_base.denominator}"]
            if self.kind in (".mp4", ".m4v", ".mov"):
                cmd += ["-video_track_timescale", str(self.time_base.denominator)]
        else:
            cmd += ["-r", fps]
            if self.timestamps is not None:
                cmd += ["-fps_mode", "cfr"]
        cmd += [self._tmp]
        self._cmd = cmd
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._stderr)
        if self.timestamps is not None:
            import av

            self._mux = av.open(self._proc.stdin, mode="w", format="nut")
            st = self._mux.add_stream("rawvideo", rate=self.fps)
            st.width, st.height, st.pix_fmt = self.width, self.height, pix_in
            st.time_base = self.time_base
            st.codec_context.time_base = self.time_base
            self._stream = st
            self._last_pts = -1

    # -- API -----------------------------------------------------------------
    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.dtype not in (np.uint8, np.uint16):
            frame = np.clip(frame, 0, 255).astype(np.uint8)
        if frame.shape[0] != self.height or frame.shape[1] != self.width:
            raise InvalidInputError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, the writer expects {self.width}x{self.height}")
        ch = 4 if self.alpha else 3
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.shape[2] != ch:
            if ch == 4:
                full = np.iinfo(frame.dtype).max
                frame = np.concatenate([frame, np.full(frame.shape[:2] + (1,), full, frame.dtype)], axis=2)
            else:
                frame = frame[:, :, :3]
        if self._yuv is not None:
            return frame
        if not self.high_bit:
            return to_uint8(frame)
        src = self._source_frame()
        if frame.dtype == np.uint8 and src is not None:
            # untouched pixels (equal to the source rounded to 8 bit) keep the source's samples
            same = np.all(to_uint8(src) == frame[:, :, :3], axis=2)
            out = to_uint16(frame)
            out[:, :, :3][same] = src[same]
            return out
        return to_uint16(frame)

    def _yuv_planes(self, frame: np.ndarray) -> list[np.ndarray]:
        """The output frame as planes of the source's own Y'CbCr format: the
        source's samples where the op left the pixels as it got them, the new
        pixels converted with the source's matrix and range."""
        assert self._yuv is not None and self._yuv_like is not None
        kept = self._kept.take(self.count) if self._kept is not None else None
        src = kept[0] if kept is not None else None
        if src is None:
            src = self._decoded(self.count)
        sx, sy, bits = self._yuv
        planes = _planes(src, bits)
        fx, fy = sx // self._src_sub[0], sy // self._src_sub[1]
        if fx > 1 or fy > 1:
            top = 2 ** bits - 1
            planes[1:] = [np.clip(np.rint(_block_reduce(p, fy, fx, "mean")), 0, top).astype(p.dtype)
                          for p in planes[1:]]
        rgb = frame[:, :, :3]
        if kept is not None and rgb.dtype == np.uint8:
            seen = kept[1]  # the reader's conversion of this very picture
        else:
            seen = (self._convert8 if rgb.dtype == np.uint8 else self._convert16)(src)
        changed = _changed(seen, rgb)
        bx, by, bw, bh = cv2.boundingRect(changed.view(np.uint8))
        if bw == 0 or bh == 0:
            return planes
        y0, y1 = by // sy * sy, min(self.height, -(-(by + bh) // sy) * sy)
        x0, x1 = bx // sx * sx, min(self.width, -(-(bx + bw) // sx) * sx)
        ch = changed[y0:y1, x0:x1]
        # converted with one pixel of margin: a co-sited chroma sample also
        # weighs the luma pixels beside its block (_sited_reduce)
        ey0, ey1, ex0, ex1 = max(0, y0 - 1), min(self.height, y1 + 1), max(0, x0 - 1), min(self.width, x1 + 1)
        yy, cb, cr = rgb_to_ycbcr(rgb[ey0:ey1, ex0:ex1], self.colour, bits)
        yy = yy[y0 - ey0: y1 - ey0, x0 - ex0: x1 - ex0]
        top = 2 ** bits - 1
        planes[0][y0:y1, x0:x1][ch] = np.clip(np.rint(yy[ch]), 0, top).astype(planes[0].dtype)
        cblock = _block_reduce(ch, sy, sx, "any")
        cy0, cx0 = y0 // sy, x0 // sx
        hx, vy = _SITING.get(self.colour.chroma_location, _SITING["left"])
        for plane, val in ((planes[1], cb), (planes[2], cr)):
            val = _sited_reduce(val, sx, hx * (sx - 1), x0 - ex0, ex1 - x1, axis=1)
            val = _sited_reduce(val, sy, vy * (sy - 1), y0 - ey0, ey1 - y1, axis=0)
            red = np.clip(np.rint(val), 0, top).astype(plane.dtype)
            view = plane[cy0: cy0 + red.shape[0], cx0: cx0 + red.shape[1]]
            view[cblock[: view.shape[0], : view.shape[1]]] = red[: view.shape[0], : view.shape[1]][
                cblock[: view.shape[0], : view.shape[1]]]
        return planes

    def _decoded(self, index: int) -> Any:
        """The source's decoded picture ``index`` (frames come in order;
        any a kept frame already supplied are decoded and passed over)."""
        assert self._yuv_like is not None
        if self._restore is None:
            self._restore = iter(video_frames(self._yuv_like))
        src = None
        while self._restore_at <= index:
            src = next(self._restore, None)
            self._restore_at += 1
            if src is None:
                break
        if src is None:
            raise MediaError(f"{self.path}: more frames written than the source clip has")
        return src

    def _source_frame(self) -> np.ndarray | None:
        if self._like is None:
            return None
        if self._restore is None:
            self._restore = iter(self._like.frames(depth=16))
        return next(self._restore, None)

    def write(self, frame: np.ndarray) -> None:
        if self.closed:
            raise MediaError("writer already closed")
        if self.kind == "image" and self.count >= 1:
            raise _single_image_error(self.path, self.count + 1)
        if self._kept is not None and self._yuv is None:
            self._kept.take(self.count)  # not needed here: dropped in step with the frames
        frame = self._prepare(frame)
        if self.kind in ("sequence", "image"):
            code = cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR
            if self.kind == "sequence":
                number = self._numbers[self.count] if self._numbers and self.count < len(self._numbers) else self.count
                name = os.path.join(self._tmp, self._pattern % number)
            else:
                name = self._tmp
            params = [cv2.IMWRITE_PNG_COMPRESSION, self._png_compression] if name.lower().endswith(".png") else []
            if not cv2.imwrite(name, cv2.cvtColor(frame, code), params):
                raise MediaError(f"cannot write {name}")
        elif self._mux is not None:
            self._write_timed(frame)
        else:
            assert self._proc is not None and self._proc.stdin is not None
            try:
                # the arrays' own memory goes to the pipe (no bytes copy of each)
                if self._yuv is not None:
                    for plane in self._yuv_planes(frame):
                        self._proc.stdin.write(np.ascontiguousarray(plane).data.cast("B"))
                else:
                    self._proc.stdin.write(np.ascontiguousarray(frame).data.cast("B"))
            except (BrokenPipeError, OSError) as exc:
                raise MediaError(f"encoder failed writing {self.path}: {self._err_text()}") from exc
        self.count += 1

    def _write_timed(self, frame: np.ndarray) -> None:
        import av

        ts = self.timestamps
        assert ts is not None
        if self.count < len(ts):
            t = ts[self.count]
        else:  # more frames than timestamps: continue at the last spacing
            step = (ts[-1] - ts[-2]) if len(ts) > 1 else float(1 / self.fps)
            t = ts[-1] + step * (self.count - len(ts) + 1)
        pts = max(int(round(t / self.time_base)), self._last_pts + 1)
        self._last_pts = pts
        if self._yuv is not None:
            vf = av.VideoFrame(self.width, self.height, self._out_pix)
            for plane, data in zip(vf.planes, self._yuv_planes(frame)):
                dst = np.frombuffer(memoryview(plane), data.dtype).reshape(plane.height, -1)
                dst[:, : data.shape[1]] = data
        else:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=self._pix_in())
        vf.pts = pts
        vf.time_base = self.time_base
        try:
            for packet in self._stream.encode(vf):
                self._mux.mux(packet)
        except (BrokenPipeError, OSError, av.error.FFmpegError) as exc:
            raise MediaError(f"encoder failed writing {self.path}: {self._err_text()}") from exc

    def _err_text(self) -> str:
        try:
            self._stderr.seek(0)
            txt = self._stderr.read().decode(errors="replace").strip().splitlines()
            return txt[-1] if txt else "unknown error"
        except Exception:  # noqa: BLE001
            return "unknown error"

    def close(self) -> str:
        """Finish the file and move it into place; returns the final path."""
        if self.closed:
            return self.path
        self.closed = True
        if self.count == 0:
            self.abort()
            raise MediaError(f"no frames were written to {self.path}")
        if self._proc is not None:
            try:
                if self._mux is not None:
                    for packet in self._stream.encode(None):
                        self._mux.mux(packet)
                    self._mux.close()
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            rc = self._proc.wait()
            if rc != 0:
                err = self._err_text()
                self._cleanup()
                raise MediaError(f"encoder failed for {self.path}: {err}")
            self._stderr.close()
        if self.kind == "sequence":
            return self._place_sequence()
        if self.kind in (".mov", ".mkv") and self.field_order in _FIELD_CODES:
            set_field_order(self._tmp, self.field_order)
        if not self.overwrite and os.path.lexists(self.path):  # appeared while rendering
            self._cleanup()
            raise _exists_error(self.path, "appeared while rendering")
        os.replace(self._tmp, self.path)
        return self.path

    def _place_sequence(self) -> str:
        final = self._final_dir
        if self.timestamps is not None:
            with open(os.path.join(self._tmp, TIMESTAMP_FILE), "w") as fh:
                fh.write("# timestamp format v2\n")
                fh.writelines(f"{t * 1000:.3f}\n" for t in self.timestamps[: self.count])
        if os.path.isdir(final):
            if self.overwrite:
                self._clear_old_frames(final)
            elif _visible_entries(final):
                self._cleanup()
                raise _exists_error(final, "is a folder that is not empty")
            for f in sorted(os.listdir(self._tmp)):
                os.replace(os.path.join(self._tmp, f), os.path.join(final, f))
            os.rmdir(self._tmp)
        else:
            os.replace(self._tmp, final)
        return final

    def _clear_old_frames(self, folder: str) -> None:
        """Remove the frames of this output's name pattern (any number) and its
        timestamp file, so a shorter render does not leave old frames behind."""
        m = re.search(r"%0?(\d*)d", self._pattern)
        assert m is not None
        rx = re.compile("^" + re.escape(self._pattern[: m.start()]) + r"\d+" + re.escape(self._pattern[m.end():]) + "$")
        for f in os.listdir(folder):
            if rx.match(f) or f == TIMESTAMP_FILE:
                os.remove(os.path.join(folder, f))

    def _cleanup(self):
        if os.path.isdir(self._tmp):
            shutil.rmtree(self._tmp, ignore_errors=True)
        elif os.path.exists(self._tmp):
            os.remove(self._tmp)

    def abort(self) -> None:
        """Stop and delete the partial output."""
        self.closed = True
        if self._proc is not None and self._proc.poll() is None:
            try:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            except OSError:
                pass
            self._proc.kill()
            self._proc.wait()
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.close()
        else:
            self.abort()
        return False


# field order codes shared by the QuickTime 'fiel' atom and Matroska's FieldOrder
_FIELD_CODES = {"tt": 1, "bb": 6, "tb": 9, "bt": 14}


def set_field_order(path: str, order: str) -> bool:
    """Write ``order`` (FFmpeg's tt/bb/tb/bt) into a finished .mov's 'fiel'
    atom or .mkv's FieldOrder element, in place. FFmpeg's command line
    records every top-field-first frame as "tb" and every bottom-first one as
    "bt" whatever the source said; an editor reads those codes as the other
    display order, so the source's own code is put back. Returns whether a
    field was found and set."""
    code = _FIELD_CODES[order]
    with open(path, "r+b") as fh:
        if path.lower().endswith(".mkv") or path.lower().endswith(".webm"):
            off = _mkv_field_order_offset(fh)
            if off is None:
                return False
            fh.seek(off)
            fh.write(bytes([code]))
            return True
        off = _mov_fiel_offset(fh)
        if off is None:
            return False
        fh.seek(off)
        fh.write(bytes([2, code]))  # two fields, then their order
        return True


def _mov_fiel_offset(fh) -> int | None:
    """File offset of the 'fiel' atom's payload inside the movie header."""
    end = os.fstat(fh.fileno()).st_size
    pos = 0
    while pos + 8 <= end:
        fh.seek(pos)
        head = fh.read(16)
        size, typ, hdr = int.from_bytes(head[:4], "big"), head[4:8], 8
        if size == 1:
            size, hdr = int.from_bytes(head[8:16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < hdr:
            return None
        if typ == b"moov":
            fh.seek(pos + hdr)
            body = fh.read(size - hdr)
            # a 10-byte box: size, 'fiel', field count, order (nothing else in
            # the sample tables can look like it: the size field would be 10)
            i = body.find(b"\x00\x00\x00\x0afiel")
            return None if i < 0 else pos + hdr + i + 8
        pos += size
    return None


def _mkv_field_order_offset(fh) -> int | None:
    """File offset of the first video track's FieldOrder value (Video >
    FieldOrder)."""
    video = mkv_video_element(fh)
    if video is None:
        return None
    for fid, fa, fb in ebml_children(fh, *video):
        if fid == 0x9D and fb - fa == 1:  # FieldOrder
            return fa
    return None


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels (bool HxW) where two HxWx3 images differ in any channel; OpenCV
    per-element ops (a NumPy ``any`` over the channel axis is ~20x slower).
    The comparison gives 255 per differing channel, and the grey of any
    0/255 triple but black is at least 29 (the smallest luma weight, 0.114,
    times 255): one fast colour conversion does the "any"."""
    ne = cv2.compare(np.ascontiguousarray(a), np.ascontiguousarray(b), cv2.CMP_NE)
    return cv2.cvtColor(ne, cv2.COLOR_RGB2GRAY) > 0


def open_writer(path: str, fps, size, alpha: bool = False, like: Clip | None = None, *,
                overwrite: bool = False, **kw) -> Writer:
    """Open a writer. ``like`` (a Clip) carries its audio for the same range,
    and its colour, timing, timecode and numbering (see :class:`Writer`)."""
    if like is not None and getattr(like, "has_audio", False) and "audio_from" not in kw:
        kw["audio_from"] = like.path
        kw["audio_start"] = like.start_time
        kw["audio_duration"] = like.duration
    return Writer(path, fps, size, alpha=alpha, like=like, overwrite=overwrite, **kw)
