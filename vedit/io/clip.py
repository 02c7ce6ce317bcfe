"""Reading clips: video files (through PyAV/FFmpeg), image sequences (a folder
or a printf pattern such as ``shot.%05d.png``) and single still images.

A clip carries what an editor expects to get back unchanged: the colour
description (primaries, transfer, matrix, range), bit depth, pixel aspect,
field order, the frame timestamps of variable-frame-rate footage, timecode and
the frame numbers of a sequence. Writers read these from the clip they are
given as ``like``.
"""
from __future__ import annotations

import glob
import logging
import os
import re
from collections import deque
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr", ".webp")
DEFAULT_SEQUENCE_FPS = Fraction(25)
_PRINTF = re.compile(r"%0?(\d*)d")
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")

# FFmpeg's enum values (AVColorPrimaries, AVColorTransferCharacteristic,
# AVColorSpace) -> the names its command line takes
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
              9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "jedec-p22"}
_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
              9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
              14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
_MATRICES = {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
             9: "bt2020nc", 10: "bt2020c"}
_FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
# NTSC-family rates: a typed 23.976 means 24000/1001, never 2997/125
_NTSC_BASES = (24, 30, 48, 60, 120, 240)


def exact_fps(fps: float | Fraction | str) -> Fraction:
    """The exact rational rate meant by ``fps``: ``23.976`` -> 24000/1001,
    ``29.97`` -> 30000/1001, ``59.94`` -> 60000/1001; whole and other rates as
    given (a container's averaged rate a hair off a standard one snaps to it)."""
    if isinstance(fps, str):
        fps = Fraction(fps.strip())
    f = Fraction(fps)
    if f <= 0:
        raise InvalidInputError(f"frame rate {fps} must be > 0")
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(f - ntsc) <= Fraction(2, 1000) * base / 24:
            return ntsc
    whole = round(f)
    if whole and abs(f - whole) < Fraction(1, 1000):
        return Fraction(whole)
    return f.limit_denominator(1001)


@dataclass(frozen=True)
class Colour:
    """A video's colour description, in FFmpeg's names (what ``-colorspace``,
    ``-color_primaries``, ``-color_trc`` and ``-color_range`` take).

    ``tagged`` says whether the source stated its matrix; untagged video is
    read the way editing software reads it (BT.709 for HD and larger,
    BT.601 for SD), and outputs always carry explicit tags. The chroma
    siting is a property of the clip, not of each decoded frame, so two
    files holding the same samples decode to the same R'G'B'.
    """

    primaries: str = "bt709"
    transfer: str = "bt709"
    matrix: str = "bt709"
    range: str = "tv"
    tagged: bool = False
    # where the chroma samples of subsampled Y'CbCr sit on the luma grid
    # (FFmpeg's names): "left" is the MPEG-2/H.264/HEVC convention and what
    # editors assume for 4:2:0 and co-sited 4:2:2; JPEG uses "center"
    chroma_location: str = "left"

    @property
    def full_range(self) -> bool:
        return self.range == "pc"

    def swscale_matrix(self) -> str:
        """The matrix name PyAV's reformatter takes."""
        return {"bt709": "itu709", "fcc": "fcc", "smpte240m": "smpte240m",
                "bt2020nc": "bt2020", "bt2020c": "bt2020"}.get(self.matrix, "itu601")

    def filter_matrix(self) -> str:
        """The matrix name FFmpeg's ``scale`` filter takes."""
        return {"bt709": "bt709", "fcc": "fcc", "smpte240m": "smpte240m", "bt2020nc": "bt2020",
                "bt2020c": "bt2020", "bt470bg": "bt470"}.get(self.matrix, "smpte170m")

    def info(self) -> dict[str, Any]:
        return {"primaries": self.primaries, "transfer": self.transfer, "matrix": self.matrix,
                "range": "full" if self.full_range else "limited", "tagged": self.tagged,
                "chroma_location": self.chroma_location}


def default_colour(width: int, height: int) -> Colour:
    """What untagged video means by convention: BT.601 below 720 lines, else BT.709."""
    if height < 720 and width < 1280:
        return Colour(primaries="smpte170m", transfer="bt709", matrix="smpte170m")
    return Colour()


def is_sequence_path(path: str) -> bool:
    """True for a folder or a printf pattern (``name.%05d.png``)."""
    return os.path.isdir(path) or bool(_PRINTF.search(os.path.basename(path)))


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@dataclass
class SequenceFiles:
    """The frames of an image sequence: ``files[i]`` holds frame ``numbers[i]``;
    ``pattern`` is the printf name (``shot.%04d.png``) when the names are
    numbered, else None (frames in natural name order, numbered from 0)."""

    files: list[str]
    numbers: list[int]
    pattern: str | None
    missing: list[int] = field(default_factory=list)


def _numbered(names: list[str]) -> tuple[dict[tuple[str, str], list[tuple[int, str, str]]], list[str]]:
    groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    plain = []
    for n in names:
        m = _NUMBERED.match(n)
        if m:
            groups.setdefault((m.group(1), m.group(3)), []).append((int(m.group(2)), m.group(2), n))
        else:
            plain.append(n)
    return groups, plain


def _pad_of(digits: list[str]) -> int:
    lengths = {len(d) for d in digits}
    return lengths.pop() if len(lengths) == 1 else 0


def scan_sequence(path: str, fill_gaps: str | None = None) -> SequenceFiles:
    """List an image sequence (folder or printf pattern) in frame order.

    A gap in the numbering is an error unless ``fill_gaps="hold"`` (the frame
    before a gap is repeated); a folder holding two differently named
    sequences is an error too (which one is meant is not guessable).
    """
    if fill_gaps not in (None, "none", "hold"):
        raise InvalidInputError(f"--fill-gaps {fill_gaps!r}: use 'hold' (repeat the frame before a gap)")
    if os.path.isdir(path):
        folder = path
        names = [f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTS) and not f.startswith(".")]
        groups, plain = _numbered(names)
        if not names:
            return SequenceFiles([], [], None)
        if plain or len(groups) != 1:
            if len(groups) > 1 and not plain:
                shown = ", ".join(f"{p}%0{_pad_of([d for _, d, _ in g])}d{s} ({len(g)} files)"
                                  for (p, s), g in sorted(groups.items()))
                raise InvalidInputError(
                    f"folder {path} holds more than one image sequence ({shown}); "
                    "give a printf pattern such as DIR/name.%04d.png")
            files = sorted(names, key=_natural_key)
            return SequenceFiles([os.path.join(folder, f) for f in files], list(range(len(files))), None)
        (prefix, suffix), entries = next(iter(groups.items()))
    else:
        folder, base = os.path.split(path)
        m = _PRINTF.search(base)
        assert m is not None
        prefix, suffix = base[: m.start()], base[m.end():]
        rx = re.compile("^" + re.escape(prefix) + r"(\d+)" + re.escape(suffix) + "$")
        entries = []
        for f in glob.glob(os.path.join(glob.escape(folder or "."), "*")):
            mm = rx.match(os.path.basename(f))
            if mm:
                entries.append((int(mm.group(1)), mm.group(1), os.path.basename(f)))
        if not entries:
            return SequenceFiles([], [], None)
    entries.sort()
    numbers = [e[0] for e in entries]
    dup = [a for a, b in zip(numbers, numbers[1:]) if a == b]
    if dup:
        raise InvalidInputError(f"sequence {path}: frame {dup[0]} appears twice (names differ only in padding)")
    pad = _pad_of([e[1] for e in entries])
    pattern = f"{prefix}%0{pad}d{suffix}" if pad > 1 else f"{prefix}%d{suffix}"
    files = [os.path.join(folder, e[2]) if folder else e[2] for e in entries]
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        if fill_gaps != "hold":
            shown = ", ".join(pattern % k for k in missing[:3]) + (" ..." if len(missing) > 3 else "")
            raise InvalidInputError(
                f"sequence {path} has {len(missing)} missing frame(s) ({shown}); "
                "fill them with --fill-gaps hold or supply the frames")
        by_number = dict(zip(numbers, files))
        held, filled = files[0], []
        for k in range(numbers[0], numbers[-1] + 1):
            held = by_number.get(k, held)
            filled.append(held)
        files, numbers = filled, list(range(numbers[0], numbers[-1] + 1))
    return SequenceFiles(files, numbers, pattern, missing)


def list_sequence(path: str) -> list[str]:
    """Files of an image sequence, in frame order."""
    return scan_sequence(path).files


def read_image(path: str, alpha: bool = False, depth: int = 8) -> np.ndarray:
    """Read an image as RGB(A), uint8 (``depth=8``) or uint16 (``depth=16``);
    other sample types are scaled to the depth asked for."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not os.path.exists(path):
            raise MediaNotFoundError(f"image not found: {path}")
        raise MediaError(f"cannot decode image: {path}")
    img = to_uint16(img) if depth > 8 else to_uint8(img)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGBA if alpha else cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if alpha else cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGBA if alpha else cv2.COLOR_BGR2RGB)
    return img


def to_uint8(img: np.ndarray) -> np.ndarray:
    """8-bit samples of any image (16-bit rounds to the nearest 8-bit level)."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_uint16(img: np.ndarray) -> np.ndarray:
    """16-bit samples of any image (8-bit x 257: 255 -> 65535)."""
    if img.dtype == np.uint16:
        return img
    if img.dtype == np.uint8:
        return img.astype(np.uint16) * 257
    return np.clip(img.astype(np.float32) * 65535.0 + 0.5, 0, 65535).astype(np.uint16)


@dataclass
class Clip:
    """A clip: a stream of frames plus its timing, colour and audio facts.

    ``start``/``end`` select a frame range (``end`` exclusive, like a slice);
    ``frame_count`` is the length of the selected range. ``timestamps`` (video
    only) holds every frame's presentation time in seconds from the start of
    the file; ``vfr`` says they are not on a regular grid of ``fps``.
    ``frame_numbers`` are a sequence's own numbers (``shot.1001.png`` is 1001).
    """

    path: str
    kind: str  # "video" | "sequence" | "image"
    width: int
    height: int
    fps: Fraction
    total_frames: int
    has_audio: bool = False
    has_alpha: bool = False
    video_codec: str = ""
    audio_codec: str = ""
    bit_depth: int = 8
    start: int = 0
    end: int | None = None
    files: list[str] = field(default_factory=list, repr=False)
    colour: Colour = field(default_factory=Colour)
    pix_fmt: str = ""
    sar: Fraction = Fraction(1)
    field_order: str = "progressive"
    timestamps: list[float] | None = field(default=None, repr=False)
    vfr: bool = False
    time_base: Fraction | None = None
    timecode: str | None = None
    frame_numbers: list[int] | None = field(default=None, repr=False)
    name_pattern: str | None = None
    missing_frames: list[int] = field(default_factory=list, repr=False)
    count_source: str = "container"

    # -- facts ---------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        end = self.total_frames if self.end is None else min(self.end, self.total_frames)
        return max(0, end - self.start)

    def __len__(self) -> int:
        return self.frame_count

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def frame_time(self, index: int) -> float:
        """Presentation time (seconds from the file's start) of absolute frame ``index``."""
        ts = self.timestamps
        if ts:
            if index < len(ts):
                return ts[index]
            step = (ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) > 1 else float(1 / self.fps)
            return ts[-1] + step * (index - len(ts) + 1)
        return float(index / self.fps)

    @property
    def start_time(self) -> float:
        """Seconds from the file's start to the first selected frame (audio starts there)."""
        return self.frame_time(self.start)

    @property
    def duration(self) -> float:
        """Seconds the selected frames span (the last one shown for its own duration)."""
        if self.timestamps and self.vfr:
            return self.frame_time(self.start + self.frame_count) - self.start_time
        return float(self.frame_count / self.fps)

    def selected_timestamps(self) -> list[float] | None:
        """Timestamps of the selected frames relative to the first one (VFR only)."""
        if not (self.vfr and self.timestamps):
            return None
        t0 = self.start_time
        return [t - t0 for t in self.timestamps[self.start: self.start + self.frame_count]]

    def selected_numbers(self) -> list[int] | None:
        """A numbered sequence's numbers for the selected frames."""
        if self.frame_numbers is None:
            return None
        return self.frame_numbers[self.start: self.start + self.frame_count]

    def subclip(self, start: int | None = None, end: int | None = None) -> Clip:
        """Frame-accurate range relative to this clip (``end`` exclusive)."""
        start = 0 if start is None else int(start)
        n = self.frame_count
        if start < 0 or start >= max(n, 1) and n > 0:
            raise InvalidInputError(f"--start {start} is outside the clip (0..{n - 1})")
        if end is not None:
            end = int(end)
            if end <= start:
                raise InvalidInputError(f"--end {end} must be greater than --start {start}")
            if end > n:
                raise InvalidInputError(f"--end {end} is beyond the clip's {n} frames")
        new_end = None if end is None else self.start + end
        if new_end is None and self.end is not None:
            new_end = self.end
        return replace(self, start=self.start + start, end=new_end)

    def info(self) -> dict:
        out = {
            "path": self.path,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "fps": float(self.fps),
            "fps_rational": f"{self.fps.numerator}/{self.fps.denominator}",
            "vfr": self.vfr,
            "frames": self.frame_count,
            "duration": round(self.duration, 6),
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec or None,
            "video_codec": self.video_codec or None,
            "pix_fmt": self.pix_fmt or None,
            "has_alpha": self.has_alpha,
            "bit_depth": self.bit_depth,
            "sar": f"{self.sar.numerator}:{self.sar.denominator}",
            "field_order": self.field_order,
            "timecode": self.timecode,
        }
        if self.kind == "video":
            out.update({"color_" + k: v for k, v in self.colour.info().items()})
            out["frame_count_from"] = self.count_source
        if self.frame_numbers is not None and self.name_pattern:
            nums = self.selected_numbers() or [0]
            out.update({"name_pattern": self.name_pattern, "first_number": nums[0], "last_number": nums[-1],
                        "missing_frames": len(self.missing_frames)})
        return out

    # -- frames --------------------------------------------------------------
    def frames(self, alpha: bool = False, depth: int = 8, keep: KeptFrames | None = None) -> Iterator[np.ndarray]:
        """Yield the selected frames: RGB (RGBA with ``alpha``), uint8, or
        uint16 with ``depth=16`` (keeps the precision of 10/12/16-bit sources).

        ``keep`` (8-bit RGB of a Y'CbCr video) receives each decoded frame for
        the writer of the edit (see :class:`KeptFrames`); the frames then come
        out read-only."""
        if self.kind == "image":
            img = read_image(self.files[0], alpha, depth)
            for _ in range(self.frame_count):
                yield img
        elif self.kind == "sequence":
            for f in self.files[self.start: self.start + self.frame_count]:
                img = read_image(f, alpha, depth)
                if img.shape[1] != self.width or img.shape[0] != self.height:
                    raise MediaError(
                        f"frame {os.path.basename(f)} is {img.shape[1]}x{img.shape[0]}, "
                        f"the sequence is {self.width}x{self.height}"
                    )
                yield img
        elif keep is not None and not alpha and depth == 8:
            convert = _converter(self, False, 8)
            for frame in video_frames(self):
                rgb = convert(frame)
                rgb.flags.writeable = False
                keep.put(frame, rgb)
                yield rgb
        else:
            yield from _decode_video(self, alpha, depth)

    __iter__ = frames

    def read_all(self, alpha: bool = False) -> list[np.ndarray]:
        """All selected frames in memory (use only for short clips)."""
        return list(self.frames(alpha))


class KeptFrames:
    """The frames a reader decoded, handed on in order to the writer of the
    edit (``Clip.frames(keep=...)``, ``open_writer(..., kept=...)``, the same
    clip for both): each source frame's 8-bit R'G'B' as the op got it and,
    with ``samples``, the decoded Y'CbCr picture it came from.

    The writer compares its output with that R'G'B' to find the pixels the
    op left as they were and sends the source's own Y'CbCr samples out there
    (see :class:`vedit.io.writer.Writer`); without this it decodes and
    converts the source a second time. The R'G'B' arrays are read-only, so an
    op cannot change a source frame in place and hide its edit from that
    comparison. What is kept lives from the reading of a frame to the writing
    of its output: the frames an op holds at once (a chunk), so with
    ``samples`` about half a frame more memory each for 4:2:0. At most
    ``limit`` frames are held: a reader further ahead than that keeps
    nothing more until the writer catches up, and the writer decodes the
    frames it was not handed (the same output, the old cost)."""

    def __init__(self, samples: bool = True, limit: int = 160):
        self.samples = bool(samples)
        self.limit = max(1, int(limit))
        self._q: deque[tuple[int, Any, np.ndarray]] = deque()
        self._read = 0
        self.taken = 0

    def put(self, frame: Any, rgb: np.ndarray) -> None:
        """The reader's next frame (not kept beyond ``limit``)."""
        if len(self._q) < self.limit:
            self._q.append((self._read, frame if self.samples else None, rgb))
        self._read += 1

    def __len__(self) -> int:
        """Frames kept and not yet taken."""
        return len(self._q)

    def take(self, index: int) -> tuple[Any, np.ndarray] | None:
        """Frame ``index``'s (decoded picture or None, R'G'B') and forget it;
        None when it was not kept (or not read yet). Frames before ``index``
        are forgotten too."""
        q = self._q
        while q and q[0][0] < index:
            q.popleft()
        if not q or q[0][0] != index:
            return None
        _, frame, rgb = q.popleft()
        self.taken += 1
        return frame, rgb


def _converter(clip: Clip, alpha: bool, depth: int):
    """VideoFrame -> ndarray with the clip's matrix, range and chroma siting.
    High-bit sources are converted at 16 bit and rounded, so the 8-bit frames
    an op sees are exactly the 16-bit ones rounded (writers rely on it to
    restore precision)."""
    high = clip.bit_depth > 8
    fmt = ("rgba64le" if alpha else "rgb48le") if (high or depth > 8) else ("rgba" if alpha else "rgb24")
    rgb_source = clip.colour.matrix == "rgb" or clip.pix_fmt.startswith(("gbr", "rgb", "bgr", "argb", "abgr", "pal"))
    to_rgb = None if rgb_source else _YCbCrToRGB(
        clip.colour, fmt, compiled=_worth_compiling(clip))

    def convert(frame) -> np.ndarray:
        arr = frame.to_ndarray(format=fmt) if to_rgb is None else to_rgb(frame)
        if depth > 8:
            return to_uint16(arr)
        return to_uint8(arr)

    return convert


# a clip of at least this many pixels (all its frames) is converted by the
# compiled kernel: ~10 ms saved a megapixel against ~1.2 s to import and load
# numba the first time in a process
_COMPILE_PIXELS = 150_000_000


def _worth_compiling(clip: Clip) -> bool:
    """Whether ``clip`` is long enough to repay loading the compiled
    conversion (decided on the file's facts alone, so that a reader and a
    writer of the same clip decide alike)."""
    if clip.width * clip.height * max(clip.total_frames, 0) < _COMPILE_PIXELS:
        return False
    if os.environ.get("VEDIT_NO_JIT", "") not in ("", "0"):
        return False
    from vedit.engines.jit import HAVE_NUMBA

    return HAVE_NUMBA


# planar Y'CbCr formats converted by :class:`_YCbCrToRGB` itself:
# (alpha, chroma subsampling x, y, bits)
_PLANAR_YUV = re.compile(r"yuv(j?)(a?)(444|422|420|440|411|410)p(?:(9|10|12|14|16)le)?")
_SUBSAMPLING = {"444": (1, 1), "422": (2, 1), "420": (2, 2), "440": (1, 2), "411": (4, 1), "410": (4, 4)}
# luma weights (Kr, Kb) of each matrix; anything else is BT.601
KR_KB = {"bt709": (0.2126, 0.0722), "bt2020nc": (0.2627, 0.0593), "bt2020c": (0.2627, 0.0593),
         "smpte240m": (0.212, 0.087), "fcc": (0.30, 0.11)}
# where chroma sample 0 sits on the luma grid (x, y, in luma pixels of a 2x2 block)
_SITING = {"left": (0.0, 0.5), "center": (0.5, 0.5), "topleft": (0.0, 0.0), "top": (0.5, 0.0),
           "bottomleft": (0.0, 1.0), "bottom": (0.5, 1.0)}
# formats repacked (no arithmetic) into a planar one before converting
_REPACK = {"nv12": "yuv420p", "nv21": "yuv420p", "nv16": "yuv422p", "nv24": "yuv444p", "yuyv422": "yuv422p",
           "uyvy422": "yuv422p", "p010le": "yuv420p10le", "p016le": "yuv420p16le", "p210le": "yuv422p10le",
           "p410le": "yuv444p10le", "gray": "yuv444p", "gray10le": "yuv444p10le", "gray12le": "yuv444p12le",
           "gray16le": "yuv444p16le", "ya8": "yuva444p", "yuva420p": "yuva420p"}


class _YCbCrToRGB:
    """Y'CbCr frames -> full-range R'G'B' with the clip's matrix, range and
    chroma siting, computed here (bilinear chroma upsampling at the stated
    siting, then the matrix in float, rounded once).

    Not swscale, for two reasons. A decoded frame carries its own chroma
    siting, which depends on the decoder rather than on the samples
    (FFmpeg's H.264/HEVC decoders report "left", FFV1 and VP9 none, which
    swscale reads as "center"), so identical samples in two files came out in
    different colours wherever the chroma changes. And swscale's accurate-
    rounding conversion to packed RGB without full chroma interpolation is
    biased: limited-range grey Y'=102 (R'G'B' 100) comes out as 98, about 2
    levels dark over the whole frame; other flag sets are biased at 16 bit.
    Here a flat colour comes out within rounding of the exact value.

    ``compiled``: sources without alpha are converted by the numba kernel of
    :mod:`vedit.io.ycc_jit` (the same arithmetic in one pass, ~2.5x faster
    at 8 bit), 8-bit samples to 8-bit R'G'B' and high-bit ones to 16-bit;
    the reader and the writer decide it from the same clip facts,
    so both convert a picture to the same values."""

    def __init__(self, colour: Colour, fmt: str, compiled: bool = False):
        self._colour = colour
        self._compiled = compiled
        self._alpha = fmt in ("rgba", "rgba64le")
        self._top_out = 65535.0 if fmt in ("rgb48le", "rgba64le") else 255.0
        self._dtype = np.uint16 if self._top_out > 255 else np.uint8
        self._key: tuple | None = None
        self._outs: list[np.ndarray] | None = None

    def _setup(self, pix: str, w: int, h: int) -> None:
        m = _PLANAR_YUV.fullmatch(pix)
        assert m is not None
        self._has_alpha = bool(m.group(2))
        sx, sy = _SUBSAMPLING[m.group(3)]
        bits = int(m.group(4) or 8)
        self._bits, self._sub = bits, (sx, sy)
        c = self._colour
        full = c.full_range or bool(m.group(1))
        top = float(2 ** bits - 1)
        if full:
            ys, yo, cs, co = 1.0 / top, 0.0, 1.0 / top, float(2 ** (bits - 1))
        else:
            k = float(2 ** (bits - 8))
            ys, yo, cs, co = 1.0 / (219.0 * k), 16.0 * k, 1.0 / (224.0 * k), 128.0 * k
        kr, kb = KR_KB.get(c.matrix, (0.299, 0.114))
        kg = 1.0 - kr - kb
        # [R G B] = M @ [Y' Cb Cr] on normalised values, then code values in and out
        rgb = np.array([[1.0, 0.0, 2.0 * (1.0 - kr)],
                        [1.0, -2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
                        [1.0, 2.0 * (1.0 - kb), 0.0]])
        scale = rgb * np.array([ys, cs, cs]) * self._top_out
        offset = -scale @ np.array([yo, co, co])
        self._matrix = np.hstack([scale, offset[:, None]]).astype(np.float32)
        self._alpha_scale = self._top_out / top
        hx, vy = _SITING.get(c.chroma_location, _SITING["left"])
        # chroma sample j sits on luma position sub * j + off along each axis
        self._off = (hx * (sx - 1), vy * (sy - 1))
        self._size = (w, h)
        self._bufs: dict[tuple[str, int], np.ndarray] = {}
        self._taps = None
        if self._compiled and not self._alpha and (bits == 8) == (self._dtype == np.uint8):
            from vedit.io.ycc_jit import axis_taps, ycc_to_rgb

            cw, ch = -(-w // sx), -(-h // sy)
            self._kernel = ycc_to_rgb
            self._taps = (*axis_taps(w, cw, sx, self._off[0]), *axis_taps(h, ch, sy, self._off[1]))

    def _buf(self, name: str, plane: int, shape: tuple[int, int]) -> np.ndarray:
        """A float32 work array kept from frame to frame: a frame loop that
        allocated its ~50 MB of 1080p temporaries anew each time had every one
        of them page-faulted in again (fresh heap top, not reused blocks)."""
        b = self._bufs.get((name, plane))
        if b is None or b.shape != shape:
            b = self._bufs[(name, plane)] = np.empty(shape, np.float32)
        return b

    def _upsample(self, plane: np.ndarray, i: int = 1) -> np.ndarray:
        """Chroma plane ``i`` at luma size (float32), bilinear at the siting.
        The result is a work array of this converter, valid until the next frame."""
        p = self._buf("in", i, (plane.shape[0], plane.shape[1]))
        np.copyto(p, plane, casting="unsafe")
        sx, sy = self._sub
        w, h = self._size
        if (sx, sy) == (1, 1):
            return p
        ox, oy = self._off
        if not (ox in (0.0, 0.5) and oy in (0.0, 0.5) and sx <= 2 and sy <= 2):
            warp = np.array([[1.0 / sx, 0.0, -ox / sx], [0.0, 1.0 / sy, -oy / sy]], np.float32)
            return cv2.warpAffine(p, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE)
        # 2x per axis: a sample half way between chroma samples ("center")
        # is what cv2.resize's pixel-centre mapping gives; a co-sited one
        # ("left", "top") takes the chroma sample on even and the mean of
        # its two neighbours on odd positions
        if sx == 2 and ox == 0.0:
            p = _cosited_2x(p, w, axis=1, out=self._buf("x", i, (p.shape[0], w)))
        if sy == 2 and oy == 0.0:
            p = _cosited_2x(p, h, axis=0, out=self._buf("y", i, (h, p.shape[1])))
        if p.shape[1] != w or p.shape[0] != h:
            # exactly 2x, then cropped: an odd luma size (2c - 1 samples over
            # c chroma samples) resized directly would stretch the mapping,
            # half a chroma sample off at the far edge
            tw = w if p.shape[1] == w else 2 * p.shape[1]
            th = h if p.shape[0] == h else 2 * p.shape[0]
            p = cv2.resize(p, (tw, th), dst=self._buf("up", i, (th, tw)), interpolation=cv2.INTER_LINEAR)[:h, :w]
        return p

    def __call__(self, frame) -> np.ndarray:
        pix = frame.format.name
        if not _PLANAR_YUV.fullmatch(pix):
            target = _REPACK.get(pix)
            if target is None:
                bits = max(c.bits for c in frame.format.components)
                target = ("yuva444p" if "a" in pix.replace("yuv", "") else "yuv444p") + (
                    "" if bits <= 8 else "16le")
            frame = frame.reformat(format=target)
            pix = target
        key = (pix, frame.width, frame.height)
        if key != self._key:
            self._setup(pix, frame.width, frame.height)
            self._key = key
        dt = np.dtype(np.uint8) if self._bits <= 8 else np.dtype("<u2")
        planes = []
        for p in frame.planes:
            a = np.frombuffer(memoryview(p), dt).reshape(p.height, p.line_size // dt.itemsize)
            planes.append(a[:, : p.width])
        w, h = self._size
        if self._taps is not None:
            out = np.empty((h, w, 3), self._dtype)
            try:
                self._kernel(planes[0], planes[1], planes[2], *self._taps, self._matrix, self._top_out, out)
                return out
            except Exception as e:  # a numba/llvmlite that cannot compile here (first frame)
                log.warning("vedit: compiled Y'CbCr conversion unavailable (%s); using OpenCV's", e)
                self._taps = None
        y = self._buf("in", 0, (h, w))
        np.copyto(y, planes[0], casting="unsafe")
        cb, cr = self._upsample(planes[1], 1), self._upsample(planes[2], 2)
        m = self._matrix
        depth = cv2.CV_16U if self._dtype == np.uint16 else cv2.CV_8U
        # each channel: a weighted sum of Y' and one or both chroma planes,
        # rounded and saturated into the output type by OpenCV (into arrays
        # kept from frame to frame: only the merged frame is new)
        outs = self._outs
        if outs is None or outs[0].shape != (h, w) or outs[0].dtype != self._dtype:
            outs = self._outs = [np.empty((h, w), self._dtype) for _ in range(3)]
        r = cv2.addWeighted(y, float(m[0, 0]), cr, float(m[0, 2]), float(m[0, 3]), dst=outs[0], dtype=depth)
        gy = cv2.addWeighted(y, float(m[1, 0]), cb, float(m[1, 1]), float(m[1, 3]), dst=self._buf("g", 0, (h, w)))
        g = cv2.addWeighted(gy, 1.0, cr, float(m[1, 2]), 0.0, dst=outs[1], dtype=depth)
        b = cv2.addWeighted(y, float(m[2, 0]), cb, float(m[2, 1]), float(m[2, 3]), dst=outs[2], dtype=depth)
        channels = [r, g, b]
        if self._alpha:
            if self._has_alpha:
                channels.append(cv2.convertScaleAbs(planes[3], alpha=self._alpha_scale) if depth == cv2.CV_8U
                                else (planes[3].astype(np.float32) * self._alpha_scale + 0.5).astype(np.uint16))
            else:
                channels.append(np.full((h, w), self._top_out, self._dtype))
        return cv2.merge(channels)


def _cosited_2x(p: np.ndarray, n: int, axis: int, out: np.ndarray | None = None) -> np.ndarray:
    """Double ``p`` (float32) along ``axis`` to ``n`` samples, the input on
    the even positions and the mean of the neighbours on the odd ones (the
    last odd one repeats the edge); into ``out`` when given."""
    shape = (p.shape[0], n) if axis == 1 else (n, p.shape[1])
    if out is None:
        out = np.empty(shape, np.float32)
    if axis == 1 and n == 2 * p.shape[1] > 2 and out.flags.c_contiguous:
        # the usual case (4:2:x, even width): the means, then both interleaved
        # by one two-channel merge (strided numpy writes cost ~1.5x more)
        mid = np.empty_like(p)
        np.add(p[:, :-1], p[:, 1:], out=mid[:, :-1])
        mid[:, :-1] *= 0.5
        mid[:, -1] = p[:, -1]
        pairs = out.reshape(p.shape[0], p.shape[1], 2)
        got = cv2.merge([np.ascontiguousarray(p), mid], dst=pairs)
        if not np.shares_memory(got, out):
            pairs[...] = got
        return out

    def along(a: np.ndarray, s: slice) -> np.ndarray:
        return a[:, s] if axis == 1 else a[s]

    along(out, slice(0, None, 2))[...] = along(p, slice(0, (n + 1) // 2))
    odd = along(out, slice(1, None, 2))
    k = odd.shape[axis]
    m = min(k, p.shape[axis] - 1)
    head = along(odd, slice(0, m))
    np.add(along(p, slice(0, m)), along(p, slice(1, m + 1)), out=head)
    head *= 0.5
    if k > m:
        along(odd, slice(m, None))[...] = along(p, slice(p.shape[axis] - 1, None))
    return out


def _decode_video(clip: Clip, alpha: bool, depth: int = 8) -> Iterator[np.ndarray]:
    convert = _converter(clip, alpha, depth)
    for frame in video_frames(clip, alpha):
        yield convert(frame)


def video_frames(clip: Clip, alpha: bool = False) -> Iterator[Any]:
    """The selected frames of a video clip as PyAV ``VideoFrame`` objects (their
    own pixel format; writers use the Y'CbCr samples to carry untouched areas)."""
    import av

    n = clip.frame_count
    if n <= 0:
        return
    emitted = 0
    try:
        with av.open(clip.path) as container:
            stream = container.streams.video[0]
            if alpha and _vpx_alpha(stream):
                # FFmpeg's native VP8/VP9 decoders drop the alpha side channel;
                # libvpx keeps it
                ctx = av.CodecContext.create("libvpx-vp9" if stream.codec_context.name == "vp9" else "libvpx", "r")
                idx = 0
                for packet in container.demux(stream):
                    for frame in ctx.decode(packet):
                        if idx >= clip.start:
                            yield frame
                            emitted += 1
                            if emitted >= n:
                                return
                        idx += 1
                return
            stream.thread_type = "AUTO"
            tb = stream.time_base or Fraction(1, 90000)
            index_of = None
            if clip.start > 0:
                if clip.timestamps:
                    # exact: a frame's index is the rank of its timestamp
                    start_s = (container.start_time or 0) / 1e6
                    index_of = {round((t + start_s) / float(tb)): i for i, t in enumerate(clip.timestamps)}
                target = clip.frame_time(clip.start) + (container.start_time or 0) / 1e6
                container.seek(int(max(0.0, target - 1.0) / tb), stream=stream, backward=True, any_frame=False)
            idx = 0
            first_pts = stream.start_time or 0
            for frame in container.decode(stream):
                if clip.start > 0:
                    if frame.pts is None:
                        raise MediaError(f"cannot seek in {clip.path}: frames have no timestamps")
                    if index_of is not None:
                        got = index_of.get(frame.pts)
                        if got is None:  # a timestamp the demuxer did not list: nearest one
                            t = float(frame.pts * tb) - (container.start_time or 0) / 1e6
                            got = int(np.argmin(np.abs(np.asarray(clip.timestamps) - t)))
                        idx = got
                    else:
                        idx = int(round(float((frame.pts - first_pts) * tb * clip.fps)))
                if idx < clip.start:
                    idx += 1
                    continue
                yield frame
                idx += 1
                emitted += 1
                if emitted >= n:
                    break
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode {clip.path}: {exc}") from exc
    if emitted < n:
        raise MediaError(f"{clip.path}: decoded {emitted} of the {n} frames the file announces")


def frame_converter(clip: Clip, alpha: bool = False, depth: int = 8):
    """The function that turns one of :func:`video_frames` into the array
    :meth:`Clip.frames` yields (same matrix, range and rounding)."""
    return _converter(clip, alpha, depth)


def _vpx_alpha(stream) -> bool:
    md = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    return stream.codec_context.name in ("vp8", "vp9") and str(md.get("alpha_mode", "0")) == "1"


def _bit_depth(pix_fmt: str) -> int:
    import av

    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components) if pix_fmt else 8
    except (ValueError, TypeError):
        return 8


def _find_timecode(container, vs) -> str | None:
    for md in [vs.metadata, container.metadata] + [s.metadata for s in container.streams]:
        for k, v in (md or {}).items():
            if k.lower() == "timecode" and v:
                return str(v)
    return None


def _scan_packets(container, vs) -> tuple[list[float], int]:
    """Presentation times (seconds) of every video packet, sorted; packets
    the demuxer marks for discard (before an edit list's start) excluded."""
    tb = vs.time_base
    pts, none = [], 0
    for p in container.demux(vs):
        if p.size == 0 or p.is_discard:
            continue
        if p.pts is None:
            none += 1
        else:
            pts.append(p.pts)
    pts.sort()
    return [float(p * tb) for p in pts], none


def ebml_vint(fh, keep_marker: bool) -> int:
    b = fh.read(1)
    if not b:
        raise EOFError
    first, length, mask = b[0], 1, 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise ValueError("bad EBML number")
    val = first if keep_marker else first & (mask - 1)
    for x in fh.read(length - 1):
        val = val << 8 | x
    if not keep_marker and val == (1 << (7 * length)) - 1:
        return -1  # unknown size
    return val


def ebml_children(fh, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(element id, data start, data end) of the elements in [start, end)."""
    pos = start
    while pos < end:
        fh.seek(pos)
        try:
            eid, size = ebml_vint(fh, True), ebml_vint(fh, False)
        except (EOFError, ValueError):
            return
        data = fh.tell()
        stop = end if size < 0 else min(end, data + size)
        yield eid, data, stop
        pos = stop


# Matroska ChromaSitingHorz/Vert (1: co-sited, 2: half way) -> FFmpeg's names
_MKV_SITING = {(1, 2): "left", (2, 2): "center", (1, 1): "topleft", (2, 1): "top"}


def mkv_video_element(fh) -> tuple[int, int] | None:
    """The byte range of the first video track's Video element of a
    Matroska/WebM file (Segment > Tracks > TrackEntry > Video), else None."""
    end = os.fstat(fh.fileno()).st_size
    for eid, a, b in ebml_children(fh, 0, end):
        if eid != 0x18538067:  # Segment
            continue
        for tid, ta, tb in ebml_children(fh, a, b):
            if tid == 0x1F43B675:  # a Cluster: the tracks come before it
                return None
            if tid != 0x1654AE6B:  # Tracks
                continue
            for xid, xa, xb in ebml_children(fh, ta, tb):
                if xid != 0xAE:  # TrackEntry
                    continue
                for vid, va, vb in ebml_children(fh, xa, xb):
                    if vid == 0xE0:  # Video
                        return va, vb
            return None
    return None


def _mkv_chroma_location(path: str) -> str | None:
    """The chroma siting a Matroska/WebM file states for its first video
    track (Video > Colour > ChromaSitingHorz/Vert), else None."""
    try:
        with open(path, "rb") as fh:
            video = mkv_video_element(fh)
            if video is None:
                return None
            for cid, ca, cb in ebml_children(fh, *video):
                if cid != 0x55B0:  # Colour
                    continue
                siting = {}
                for sid, sa, sb in ebml_children(fh, ca, cb):
                    if sid in (0x55B7, 0x55B8):
                        fh.seek(sa)
                        siting[sid] = int.from_bytes(fh.read(sb - sa), "big")
                return _MKV_SITING.get((siting.get(0x55B7, 0), siting.get(0x55B8, 0)))
    except OSError:
        return None
    return None


def _chroma_location(path: str, codec: str, pix: str) -> str:
    """Where the clip's chroma samples sit: as a Matroska file states it,
    else the codec's convention ("center" for JPEG-family and full-range
    "yuvj" formats, "left" for video codecs: MPEG-2, H.264, HEVC, VP9,
    ProRes, FFV1 without a tag). MP4/MOV have no container field, and what
    an H.264/HEVC stream states in its VUI is not readable through PyAV: a
    stream that states a non-"left" siting is read as "left"."""
    if path.lower().endswith((".mkv", ".webm", ".mka", ".mk3d")):
        stated = _mkv_chroma_location(path)
        if stated:
            return stated
    if pix.startswith("yuvj") or codec in ("mjpeg", "jpegls", "ljpeg", "jpeg2000", "amv"):
        return "center"
    return "left"


def _probe_video(path: str) -> Clip:
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaError(f"cannot read {path}: not a video or image ffmpeg understands ({exc})") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{path} has no video stream")
        vs = container.streams.video[0]
        cc = vs.codec_context
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        if not rate:
            raise MediaError(f"{path}: cannot determine the frame rate")
        fps = exact_fps(Fraction(rate))
        pix = cc.pix_fmt or ""
        w, h = cc.width, cc.height
        colour = default_colour(w, h)
        matrix = _MATRICES.get(int(cc.colorspace or 2))
        prim = _PRIMARIES.get(int(cc.color_primaries or 2))
        trc = _TRANSFERS.get(int(cc.color_trc or 2))
        full = int(cc.color_range or 0) == 2 or pix.startswith("yuvj")
        colour = Colour(primaries=prim or colour.primaries, transfer=trc or colour.transfer,
                        matrix=matrix or colour.matrix, range="pc" if full else "tv", tagged=matrix is not None,
                        chroma_location=_chroma_location(path, cc.name, pix))
        sar = getattr(vs, "sample_aspect_ratio", None) or cc.sample_aspect_ratio
        sar = Fraction(sar) if sar and Fraction(sar) > 0 else Fraction(1)
        timecode = _find_timecode(container, vs)
        audio = container.streams.audio
        container_start = (container.start_time or 0) / 1e6
        # the container's own count is exact only in MP4/MOV; elsewhere (Matroska,
        # WebM, AVI, streams) and for VFR the packets are counted and timed
        times, untimed = _scan_packets(container, vs)
        n = len(times) + untimed
        source = "packets"
        if untimed or not n:
            container.seek(0)
            n = sum(1 for _ in container.decode(vs))
            times, source = [], "decoding"
        times = [t - container_start for t in times]
        vfr = _irregular(times)
        has_alpha = pix.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya")) or _vpx_alpha(vs)
        fo = _FIELD_ORDERS.get(int(cc.field_order or 0), "unknown") if hasattr(cc, "field_order") else "unknown"
        if fo in ("tt", "bb", "tb", "bt"):
            fo = _checked_field_order(path, fo)
        return Clip(
            path=path,
            kind="video",
            width=w,
            height=h,
            fps=fps,
            total_frames=int(n),
            has_audio=bool(audio),
            has_alpha=bool(has_alpha),
            video_codec=cc.name,
            audio_codec=audio[0].codec_context.name if audio else "",
            bit_depth=_bit_depth(pix),
            colour=colour,
            pix_fmt=pix,
            sar=sar,
            field_order=fo,
            timestamps=times or None,
            vfr=vfr,
            time_base=Fraction(vs.time_base) if vs.time_base else None,
            timecode=timecode,
            count_source=source,
        )


def _checked_field_order(path: str, order: str) -> str:
    """``order`` as the container states it, corrected by the first decoded
    frame's own field dominance: H.264 in MP4 has no container field and its
    parser reports "tt" even for bottom-field-first pictures."""
    import subprocess

    from vedit.io.ffmpeg import ffmpeg_exe

    try:
        res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-map", "0:v:0", "-frames:v", "1",
                              "-vf", "showinfo", "-f", "null", "-"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return order
    m = re.search(rb"\bi:([TBP])\b", res.stderr)
    if m is None or m.group(1) == b"P":
        return order
    top_first = m.group(1) == b"T"
    if top_first == (order in ("tt", "tb")):
        return order
    return {"tt": "bb", "tb": "bt", "bb": "tt", "bt": "tb"}[order]


TIMESTAMP_FILE = "timestamps_v2.txt"


def _irregular(times: list[float]) -> bool:
    """Timestamps off the straight line through the first and last one by
    more than a quarter frame (a rate a hair off a nominal one is not VFR)."""
    if len(times) < 3:
        return False
    step = (times[-1] - times[0]) / (len(times) - 1)
    grid = times[0] + np.arange(len(times)) * step
    return bool(np.max(np.abs(np.asarray(times) - grid)) > 0.25 * step)


def _sequence_timestamps(path: str, n: int) -> list[float] | None:
    """A sequence's frame times from the ``timestamps_v2.txt`` (mkvmerge's
    "timestamp format v2", milliseconds) a writer left beside its frames."""
    folder = path if os.path.isdir(path) else (os.path.dirname(path) or ".")
    fn = os.path.join(folder, TIMESTAMP_FILE)
    if not os.path.isfile(fn):
        return None
    try:
        with open(fn) as fh:
            vals = [float(line) / 1000.0 for line in fh if line.strip() and not line.startswith("#")]
    except (OSError, ValueError):
        return None
    return vals if len(vals) == n else None


#: the smallest frame side the ops that measure optical flow work on (DIS
#: needs a few of its patches; OpenCV refuses a frame under 12 px both ways)
MIN_FLOW_SIDE = 16


def require_flow_size(clip: Clip, path: str, what: str) -> None:
    """One clear error when ``clip``'s frames are too small for optical flow
    (``what``: the op, as in "to remove from")."""
    if min(clip.width, clip.height) < MIN_FLOW_SIDE:
        raise InvalidInputError(f"{path}: frames of {clip.width}x{clip.height} are too small {what} "
                                f"(at least {MIN_FLOW_SIDE} px on each side)")


def open_clip(path: str, start: int | None = None, end: int | None = None,
              fps: float | Fraction | None = None, frames: int | None = None,
              fill_gaps: str | None = None) -> Clip:
    """Open a video file, an image sequence (folder / printf pattern) or a still.

    ``fps`` sets the rate of sequences and stills (default 25; ``23.976``
    means 24000/1001); ``frames`` sets how many frames a still image yields
    (default 1); ``fill_gaps="hold"`` repeats the frame before each gap of a
    numbered sequence (a gap is an error otherwise).
    """
    path = os.fspath(path)
    rate = exact_fps(fps) if fps else None
    if is_sequence_path(path):
        seq = scan_sequence(path, fill_gaps)
        files = seq.files
        if not files:
            if not os.path.exists(path) and not os.path.isdir(os.path.dirname(path) or "."):
                raise MediaNotFoundError(f"input not found: {path}")
            raise MediaNotFoundError(f"no image files found for sequence {path}")
        first = cv2.imread(files[0], cv2.IMREAD_UNCHANGED)
        if first is None:
            raise MediaError(f"cannot decode image: {files[0]}")
        clip = Clip(
            path=path, kind="sequence", width=first.shape[1], height=first.shape[0],
            fps=rate or DEFAULT_SEQUENCE_FPS,
            total_frames=len(files), has_alpha=first.ndim == 3 and first.shape[2] == 4,
            video_codec=os.path.splitext(files[0])[1].lstrip(".").lower(),
            bit_depth=8 * first.dtype.itemsize, files=files,
            frame_numbers=seq.numbers, name_pattern=seq.pattern, missing_frames=seq.missing,
            colour=Colour(primaries="bt709", transfer="iec61966-2-1", matrix="rgb", range="pc"),
            count_source="files",
        )
        times = _sequence_timestamps(path, len(files))
        if times is not None and not rate:
            clip.timestamps, clip.vfr = times, _irregular(times)
    elif not os.path.exists(path):
        raise MediaNotFoundError(f"input not found: {path}")
    elif os.path.isfile(path) and path.lower().endswith(IMAGE_EXTS):
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MediaError(f"cannot decode image: {path}")
        clip = Clip(
            path=path, kind="image", width=img.shape[1], height=img.shape[0],
            fps=rate or DEFAULT_SEQUENCE_FPS,
            total_frames=int(frames or 1), has_alpha=img.ndim == 3 and img.shape[2] == 4,
            video_codec=os.path.splitext(path)[1].lstrip(".").lower(),
            bit_depth=8 * img.dtype.itemsize, files=[path],
            colour=Colour(primaries="bt709", transfer="iec61966-2-1", matrix="rgb", range="pc"),
            count_source="image",
        )
    else:
        if not os.access(path, os.R_OK):
            raise MediaError(f"input is not readable: {path}")
        clip = _probe_video(path)
        if rate:
            # an explicit rate reinterprets the frames (timestamps no longer apply)
            clip.fps, clip.vfr, clip.timestamps = rate, False, None
    if clip.total_frames == 0:
        raise MediaError(f"{path} holds no frames")
    if start is not None or end is not None:
        clip = clip.subclip(start, end)
    return clip


def probe(path: str) -> dict:
    """Facts about a clip as a plain dict (what ``vedit probe`` prints)."""
    return open_clip(path).info()
