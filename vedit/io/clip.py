"""Reading clips: video files (through PyAV/FFmpeg), image sequences (a folder
or a printf pattern such as ``shot.%05d.png``) and single still images."""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr", ".webp")
DEFAULT_SEQUENCE_FPS = Fraction(25)
_PRINTF = re.compile(r"%0?(\d*)d")


def is_sequence_path(path: str) -> bool:
    """True for a folder or a printf pattern (``name.%05d.png``)."""
    return os.path.isdir(path) or bool(_PRINTF.search(os.path.basename(path)))


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_sequence(path: str) -> list[str]:
    """Files of an image sequence, in frame order."""
    if os.path.isdir(path):
        files = [
            os.path.join(path, f)
            for f in os.listdir(path)
            if f.lower().endswith(IMAGE_EXTS) and not f.startswith(".")
        ]
        return sorted(files, key=lambda p: _natural_key(os.path.basename(p)))
    folder, base = os.path.split(path)
    m = _PRINTF.search(base)
    rx = re.compile(
        "^" + re.escape(base[: m.start()]) + r"(\d+)" + re.escape(base[m.end():]) + "$"
    )
    found = []
    for f in glob.glob(os.path.join(glob.escape(folder or "."), "*")):
        mm = rx.match(os.path.basename(f))
        if mm:
            found.append((int(mm.group(1)), f))
    return [f for _, f in sorted(found)]


def read_image(path: str, alpha: bool = False) -> np.ndarray:
    """Read an image as RGB(A) uint8; 16-bit and float images are scaled to 8 bit."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not os.path.exists(path):
            raise MediaNotFoundError(f"image not found: {path}")
        raise MediaError(f"cannot decode image: {path}")
    img = to_uint8(img)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGBA if alpha else cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if alpha else cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGBA if alpha else cv2.COLOR_BGR2RGB)
    return img


def to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Clip:
    """A clip: a stream of frames plus its timing and audio facts.

    ``start``/``end`` select a frame range (``end`` exclusive, like a slice);
    ``frame_count`` is the length of the selected range.
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

    @property
    def duration(self) -> float:
        return float(self.frame_count / self.fps)

    @property
    def start_time(self) -> float:
        return float(self.start / self.fps)

    def subclip(self, start: int | None = None, end: int | None = None) -> "Clip":
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
        return {
            "path": self.path,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "fps": float(self.fps),
            "fps_rational": f"{self.fps.numerator}/{self.fps.denominator}",
            "frames": self.frame_count,
            "duration": round(self.duration, 6),
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec or None,
            "video_codec": self.video_codec or None,
            "has_alpha": self.has_alpha,
            "bit_depth": self.bit_depth,
        }

    # -- frames --------------------------------------------------------------
    def frames(self, alpha: bool = False) -> Iterator[np.ndarray]:
        """Yield the selected frames (RGB uint8, or RGBA with ``alpha``)."""
        if self.kind == "image":
            img = read_image(self.files[0], alpha)
            for _ in range(self.frame_count):
                yield img
        elif self.kind == "sequence":
            for f in self.files[self.start : self.start + self.frame_count]:
                img = read_image(f, alpha)
                if img.shape[1] != self.width or img.shape[0] != self.height:
                    raise MediaError(
                        f"frame {os.path.basename(f)} is {img.shape[1]}x{img.shape[0]}, "
                        f"the sequence is {self.width}x{self.height}"
                    )
                yield img
        else:
            yield from _decode_video(self, alpha)

    __iter__ = frames

    def read_all(self, alpha: bool = False) -> list[np.ndarray]:
        """All selected frames in memory (use only for short clips)."""
        return list(self.frames(alpha))


def _decode_video(clip: Clip, alpha: bool) -> Iterator[np.ndarray]:
    import av

    fmt = "rgba" if alpha else "rgb24"
    n = clip.frame_count
    try:
        with av.open(clip.path) as container:
            stream = container.streams.video[0]
            if alpha and _vpx_alpha(stream):
                # FFmpeg's native VP8/VP9 decoders drop the alpha side channel;
                # libvpx keeps it
                ctx = av.CodecContext.create("libvpx-vp9" if stream.codec_context.name == "vp9" else "libvpx", "r")
                idx = emitted = 0
                for packet in container.demux(stream):
                    for frame in ctx.decode(packet):
                        if idx >= clip.start:
                            yield frame.to_ndarray(format=fmt)
                            emitted += 1
                            if emitted >= n:
                                return
                        idx += 1
                return
            stream.thread_type = "AUTO"
            idx = 0
            emitted = 0
            if clip.start > 0:
                # seek to a keyframe before the start time, then count frames by pts
                tb = stream.time_base
                target = clip.start / clip.fps
                first_pts = stream.start_time or 0
                container.seek(int(first_pts + max(0.0, float(target) - 1.0) / tb), stream=stream,
                               backward=True, any_frame=False)
            for frame in container.decode(stream):
                if clip.start > 0:
                    if frame.pts is None:
                        raise MediaError(f"cannot seek in {clip.path}: frames have no timestamps")
                    idx = int(round(float((frame.pts - (stream.start_time or 0)) * stream.time_base * clip.fps)))
                if idx < clip.start:
                    idx += 1
                    continue
                yield frame.to_ndarray(format=fmt)
                idx += 1
                emitted += 1
                if emitted >= n:
                    break
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise MediaError(f"cannot decode {clip.path}: {exc}") from exc


def _vpx_alpha(stream) -> bool:
    md = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    return stream.codec_context.name in ("vp8", "vp9") and str(md.get("alpha_mode", "0")) == "1"


def _probe_video(path: str) -> Clip:
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, ValueError) as exc:  # type: ignore[attr-defined]
        raise MediaError(f"cannot read {path}: not a video or image ffmpeg understands ({exc})") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{path} has no video stream")
        vs = container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        if not rate:
            raise MediaError(f"{path}: cannot determine the frame rate")
        fps = Fraction(rate).limit_denominator(1001)
        n = vs.frames
        if not n:
            if vs.duration is not None:
                n = int(round(float(vs.duration * vs.time_base * fps)))
            elif container.duration:
                n = int(round(container.duration / 1e6 * float(fps)))
        if not n:
            n = sum(1 for _ in container.decode(vs))
        pix = vs.codec_context.pix_fmt or ""
        has_alpha = pix.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya")) or _vpx_alpha(vs)
        audio = container.streams.audio
        depth = 16 if any(t in pix for t in ("10", "12", "16")) else 8
        return Clip(
            path=path,
            kind="video",
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            fps=fps,
            total_frames=int(n),
            has_audio=bool(audio),
            has_alpha=bool(has_alpha),
            video_codec=vs.codec_context.name,
            audio_codec=audio[0].codec_context.name if audio else "",
            bit_depth=depth,
        )


def open_clip(path: str, start: int | None = None, end: int | None = None,
              fps: float | Fraction | None = None, frames: int | None = None) -> Clip:
    """Open a video file, an image sequence (folder / printf pattern) or a still.

    ``fps`` sets the rate of sequences and stills (default 25); ``frames`` sets
    how many frames a still image yields (default 1).
    """
    path = os.fspath(path)
    if is_sequence_path(path):
        files = list_sequence(path)
        if not files:
            if not os.path.exists(path) and not os.path.isdir(os.path.dirname(path) or "."):
                raise MediaNotFoundError(f"input not found: {path}")
            raise MediaNotFoundError(f"no image files found for sequence {path}")
        first = cv2.imread(files[0], cv2.IMREAD_UNCHANGED)
        if first is None:
            raise MediaError(f"cannot decode image: {files[0]}")
        clip = Clip(
            path=path, kind="sequence", width=first.shape[1], height=first.shape[0],
            fps=Fraction(fps).limit_denominator(1001) if fps else DEFAULT_SEQUENCE_FPS,
            total_frames=len(files), has_alpha=first.ndim == 3 and first.shape[2] == 4,
            video_codec=os.path.splitext(files[0])[1].lstrip(".").lower(),
            bit_depth=8 * first.dtype.itemsize, files=files,
        )
    elif not os.path.exists(path):
        raise MediaNotFoundError(f"input not found: {path}")
    elif os.path.isfile(path) and path.lower().endswith(IMAGE_EXTS):
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MediaError(f"cannot decode image: {path}")
        clip = Clip(
            path=path, kind="image", width=img.shape[1], height=img.shape[0],
            fps=Fraction(fps).limit_denominator(1001) if fps else DEFAULT_SEQUENCE_FPS,
            total_frames=int(frames or 1), has_alpha=img.ndim == 3 and img.shape[2] == 4,
            video_codec=os.path.splitext(path)[1].lstrip(".").lower(),
            bit_depth=8 * img.dtype.itemsize, files=[path],
        )
    else:
        if not os.access(path, os.R_OK):
            raise MediaError(f"input is not readable: {path}")
        clip = _probe_video(path)
        if fps:
            clip.fps = Fraction(fps).limit_denominator(1001)
    if clip.total_frames == 0:
        raise MediaError(f"{path} holds no frames")
    if start is not None or end is not None:
        clip = clip.subclip(start, end)
    return clip


def probe(path: str) -> dict:
    """Facts about a clip as a plain dict (what ``vedit probe`` prints)."""
    return open_clip(path).info()
