"""Writing clips: H.264/H.265 mp4, ProRes 422 HQ / 4444 mov, VP9 webm, mkv, gif
and PNG sequences. Files are written under a temporary name and renamed into
place only when complete, so a failed or cancelled job leaves nothing behind."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from fractions import Fraction

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError
from vedit.io.ffmpeg import ffmpeg_exe

VIDEO_EXTS = (".mp4", ".mov", ".webm", ".mkv", ".gif", ".m4v")


def output_kind(path: str) -> str:
    """``"sequence"`` for a folder (trailing slash or existing dir) or a printf
    PNG pattern, else the container extension."""
    p = os.fspath(path)
    if p.endswith(("/", os.sep)) or os.path.isdir(p):
        return "sequence"
    if "%" in os.path.basename(p) and p.lower().endswith((".png", ".tif", ".tiff")):
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


def check_output_path(output: str, inputs: list[str] | tuple[str, ...] = ()) -> str:
    """Validate an output path before any work: not an input, parent writable."""
    output = os.fspath(output)
    kind = output_kind(output)
    for i in inputs:
        if i and (os.path.exists(output) and _same_file(output, i) or os.path.abspath(output.rstrip("/")) == os.path.abspath(i.rstrip("/"))):
            raise InvalidInputError(f"output {output} is the same as input {i}; choose another output path")
    target = output.rstrip("/") if kind == "sequence" else output
    if kind == "sequence" and "%" in os.path.basename(target):
        target = os.path.dirname(target) or "."
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise MediaError(f"cannot write {output}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise MediaError(f"cannot write {output}: folder {parent} is not writable")
    return kind


class Writer:
    """Streams frames into a file. Use as a context manager: on an exception the
    temporary output is removed and the target is left untouched."""

    def __init__(self, path: str, fps: Fraction | float, size: tuple[int, int], alpha: bool = False,
                 audio_from: str | None = None, audio_start: float = 0.0, audio_duration: float | None = None,
                 codec: str | None = None, crf: int = 16, png_compression: int = 1):
        self.path = os.fspath(path)
        self.kind = output_kind(self.path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.width, self.height = int(size[0]), int(size[1])
        self.alpha = alpha
        self.count = 0
        self.closed = False
        self._proc: subprocess.Popen | None = None
        self._png_compression = png_compression
        if self.kind == "sequence":
            base = self.path.rstrip("/")
            if "%" in os.path.basename(base):
                self._pattern = os.path.basename(base)
                base = os.path.dirname(base) or "."
            else:
                self._pattern = "%05d.png"
            self._final_dir = base
            self._tmp = os.path.join(os.path.dirname(os.path.abspath(base)),
                                     f".{os.path.basename(base)}.vedit-tmp-{uuid.uuid4().hex[:8]}")
            os.makedirs(self._tmp)
        elif self.kind == "image":
            self._tmp = self._tmp_name()
        else:
            self._tmp = self._tmp_name()
            self._start_ffmpeg(codec, crf, audio_from, audio_start, audio_duration)

    def _tmp_name(self) -> str:
        d, b = os.path.split(os.path.abspath(self.path))
        stem, ext = os.path.splitext(b)
        return os.path.join(d, f".{stem}.vedit-tmp-{uuid.uuid4().hex[:8]}{ext}")

    # -- encoder -------------------------------------------------------------
    def _codec_args(self, codec: str | None, crf: int) -> list[str]:
        k = self.kind
        if k == ".mov":
            if self.alpha or codec in ("prores4444", "prores_4444"):
                return ["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le", "-vendor", "apl0"]
            return ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-vendor", "apl0"]
        if k == ".webm":
            return ["-c:v", "libvpx-vp9", "-crf", str(max(crf, 20)), "-b:v", "0", "-row-mt", "1",
                    "-deadline", "realtime", "-cpu-used", "8",
                    "-pix_fmt", "yuva420p" if self.alpha else "yuv420p"]
        if k == ".gif":
            return ["-filter_complex", "[0:v]split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer[out]"]
        if codec in ("h265", "hevc", "libx265"):
            return ["-c:v", "libx265", "-crf", str(crf), "-preset", "fast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1"]
        if self.alpha and k == ".mkv":
            return ["-c:v", "ffv1", "-pix_fmt", "yuva420p"]
        return ["-c:v", "libx264", "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-movflags", "+faststart"] if k in (".mp4", ".m4v") else \
               ["-c:v", "libx264", "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", "yuv420p"]

    def _start_ffmpeg(self, codec, crf, audio_from, audio_start, audio_duration):
        pix_in = "rgba" if self.alpha else "rgb24"
        fps = f"{self.fps.numerator}/{self.fps.denominator}"
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", pix_in, "-s", f"{self.width}x{self.height}", "-r", fps, "-i", "-"]
        has_audio = bool(audio_from) and self.kind != ".gif"
        if has_audio:
            if audio_start > 0:
                cmd += ["-ss", f"{audio_start:.6f}"]
            if audio_duration is not None:
                cmd += ["-t", f"{audio_duration:.6f}"]
            cmd += ["-i", audio_from]
        args = self._codec_args(codec, crf)
        needs_even = self.kind in (".mp4", ".m4v", ".mkv", ".webm") and "ffv1" not in args
        if needs_even and (self.width % 2 or self.height % 2):
            # 4:2:0 needs even sizes: pad one edge pixel rather than resample
            cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0"]
        cmd += ["-map", "[out]" if self.kind == ".gif" else "0:v:0"]
        if has_audio:
            cmd += ["-map", "1:a:0?"]
            acodec = {".webm": "libopus", ".mov": "pcm_s16le"}.get(self.kind, "aac")
            cmd += ["-c:a", acodec] + (["-b:a", "192k"] if acodec != "pcm_s16le" else [])
            cmd += ["-shortest"] if audio_duration is None else []
        cmd += args + ["-r", fps, self._tmp]
        self._cmd = cmd
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._stderr)

    # -- API -----------------------------------------------------------------
    def write(self, frame: np.ndarray) -> None:
        if self.closed:
            raise MediaError("writer already closed")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
        if frame.shape[0] != self.height or frame.shape[1] != self.width:
            raise InvalidInputError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, the writer expects {self.width}x{self.height}")
        ch = 4 if self.alpha else 3
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.shape[2] != ch:
            if ch == 4:
                frame = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
            else:
                frame = frame[:, :, :3]
        if self.kind == "sequence":
            code = cv2.COLOR_RGBA2BGRA if ch == 4 else cv2.COLOR_RGB2BGR
            name = os.path.join(self._tmp, self._pattern % self.count)
            if not cv2.imwrite(name, cv2.cvtColor(frame, code),
                               [cv2.IMWRITE_PNG_COMPRESSION, self._png_compression]):
                raise MediaError(f"cannot write {name}")
        elif self.kind == "image":
            code = cv2.COLOR_RGBA2BGRA if ch == 4 else cv2.COLOR_RGB2BGR
            if self.count == 0 and not cv2.imwrite(self._tmp, cv2.cvtColor(frame, code)):
                raise MediaError(f"cannot write {self.path}")
        else:
            try:
                self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            except (BrokenPipeError, OSError) as exc:
                raise MediaError(f"encoder failed writing {self.path}: {self._err_text()}") from exc
        self.count += 1

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
            self._proc.stdin.close()
            rc = self._proc.wait()
            if rc != 0:
                err = self._err_text()
                self._cleanup()
                raise MediaError(f"encoder failed for {self.path}: {err}")
            self._stderr.close()
        if self.kind == "sequence":
            final = self._final_dir
            if os.path.isdir(final):
                for f in sorted(os.listdir(self._tmp)):
                    os.replace(os.path.join(self._tmp, f), os.path.join(final, f))
                os.rmdir(self._tmp)
            else:
                os.replace(self._tmp, final)
            return final
        os.replace(self._tmp, self.path)
        return self.path

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


def open_writer(path: str, fps, size, alpha: bool = False, like=None, **kw) -> Writer:
    """Open a writer. ``like`` (a Clip) carries its audio for the same range."""
    if like is not None and getattr(like, "has_audio", False) and "audio_from" not in kw:
        kw["audio_from"] = like.path
        kw["audio_start"] = like.start_time
        kw["audio_duration"] = like.duration
    return Writer(path, fps, size, alpha=alpha, **kw)
