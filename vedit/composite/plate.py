"""Backgrounds: what goes behind the subject.

``parse_background(spec)`` turns the ``--background`` value into a plate:
an image, a video (looped or trimmed to the shot, timed by fps), a colour
(``#RRGGBB``, ``#RGB``, ``R,G,B`` or a name), ``blur`` (the original
background, blurred like a shallow depth of field) or ``transparent``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError, VeditError

COLOR_NAMES = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "gray": (128, 128, 128),
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255),
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_color(text: str) -> tuple[int, int, int] | None:
    """An RGB triple from ``#RRGGBB``, ``#RGB``, ``R,G,B`` or a colour name; None
    when ``text`` is not a colour."""
    t = text.strip().lower()
    if t in COLOR_NAMES:
        return COLOR_NAMES[t]
    m = _HEX.match(t)
    if m and (t.startswith("#") or not os.path.exists(text)):
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        vals = tuple(int(p) for p in parts)
        if all(0 <= v <= 255 for v in vals):
            return vals
        raise InvalidInputError(f"--background {text!r}: colour components must be 0..255")
    return None


@dataclass
class Background:
    """``kind``: image | video | color | blur | transparent | prompt."""

    kind: str
    spec: str = ""
    color: tuple[int, int, int] | None = None
    image: np.ndarray | None = None  # image plates (RGB)
    clip: object = None  # video plates (vedit.io.Clip)

    @property
    def size(self) -> tuple[int, int] | None:
        if self.image is not None:
            return self.image.shape[1], self.image.shape[0]
        if self.clip is not None:
            return self.clip.width, self.clip.height
        return None

    @property
    def trackable(self) -> bool:
        """Plates with content that should follow the camera."""
        return self.kind in ("image", "video", "prompt")


def parse_background(spec: str) -> Background:
    """Open the ``--background`` value (fails early, before any work)."""
    from vedit.io import open_clip
    from vedit.io.clip import IMAGE_EXTS, is_sequence_path, read_image

    if spec is None or not str(spec).strip():
        raise InvalidInputError("--background is empty; give an image, a video, a colour, blur or transparent")
    spec = str(spec)
    low = spec.strip().lower()
    if low in ("blur", "transparent", "alpha", "none"):
        return Background("transparent" if low in ("alpha", "none") else low, spec)
    col = parse_color(spec)
    if col is not None:
        return Background("color", spec, color=col)
    if not is_sequence_path(spec) and not os.path.exists(spec):
        raise MediaNotFoundError(
            f"--background {spec!r}: no such file; give an image, a video, a folder of frames, "
            "a colour (#RRGGBB, R,G,B or a name), blur or transparent")
    try:
        if os.path.isfile(spec) and spec.lower().endswith(IMAGE_EXTS):
            return Background("image", spec, image=read_image(spec))
        clip = open_clip(spec)
        if clip.kind == "image":
            return Background("image", spec, image=read_image(clip.files[0]))
        return Background("video", spec, clip=clip)
    except VeditError as exc:
        raise MediaError(f"--background {spec!r} cannot be read as an image or video: {exc}") from exc


def video_plate_frames(clip, n: int, fps: Fraction | float, loop: bool = True) -> Iterator[np.ndarray]:
    """``n`` frames of a plate clip timed to the shot's ``fps``: frame t shows
    the plate at time t/fps; past its end it loops (or holds the last frame)."""
    pfps = Fraction(clip.fps)
    fps = Fraction(fps)
    total = clip.frame_count
    it = iter(clip.frames())
    pos, cur = -1, None
    for t in range(n):
        k = int(Fraction(t) * pfps / fps)
        if k >= total:
            k = k % total if loop else total - 1
        if k < pos:  # looped: start reading again
            it, pos = iter(clip.frames()), -1
        while pos < k:
            try:
                cur = next(it)
            except StopIteration:  # the container held fewer frames than it said
                total = max(pos + 1, 1)
                if cur is None:
                    raise MediaError(f"background video {clip.path} yielded no frames") from None
                k = pos
                break
            pos += 1
        yield cur


def blur_background(frame: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    """The frame's own background, blurred like a shallow depth of field, with
    the subject left out of the blur (normalised convolution), so no halo of
    the subject's colours bleeds around it. Runs at reduced resolution."""
    h, w = alpha.shape
    d = max(1, int(sigma // 3))
    sw, sh = max(4, w // d), max(4, h // d)
    inv = cv2.subtract(1.0, alpha.astype(np.float32, copy=False))
    np.clip(inv, 0.0, 1.0, out=inv)
    # premultiply before shrinking, so no subject colour enters the average
    pm = cv2.multiply(np.ascontiguousarray(frame[:, :, :3]), cv2.merge([inv, inv, inv]), dtype=cv2.CV_32F)
    pm = cv2.resize(pm, (sw, sh), interpolation=cv2.INTER_AREA)
    wgt = cv2.resize(inv, (sw, sh), interpolation=cv2.INTER_AREA)
    small = pm / np.maximum(wgt, 1e-6)[:, :, None]
    s = sigma * sw / w
    num = cv2.GaussianBlur(pm, (0, 0), s)
    den = cv2.GaussianBlur(wgt, (0, 0), s)
    # where the subject covers a wide area the kernel sees no background; a
    # much wider pass fills those from further away
    num2 = cv2.GaussianBlur(pm, (0, 0), 4 * s)
    den2 = cv2.GaussianBlur(wgt, (0, 0), 4 * s)
    t = np.clip(den / 0.2, 0, 1)[:, :, None]
    out = t * num / np.maximum(den, 1e-6)[:, :, None] + (1 - t) * (
        num2 / np.maximum(den2, 1e-6)[:, :, None])
    out = np.where(den2[:, :, None] > 1e-6, out, small)
    # to 8 bits at the low resolution, then upsample (the blur is smooth)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
