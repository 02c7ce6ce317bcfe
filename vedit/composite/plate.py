"""Backgrounds: what goes behind the subject.

``parse_background(spec)`` turns the ``--background`` value into a plate:
an image, a video (looped or trimmed to the shot, timed by fps), a colour
(``#RRGGBB``, ``#RGB``, ``R,G,B`` or a CSS colour name), ``blur`` (the original
background, blurred like a shallow depth of field) or ``transparent``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError, VeditError

if TYPE_CHECKING:
    from vedit.io import Clip

#: the CSS named colours (CSS Color Module Level 4: 148 names, grey/gray
#: spellings both), as hex; ``parse_color`` and the key-colour parser read them
CSS_COLOURS: dict[str, str] = {
    "aliceblue": "f0f8ff", "antiquewhite": "faebd7", "aqua": "00ffff", "aquamarine": "7fffd4", "azure": "f0ffff",
    "beige": "f5f5dc", "bisque": "ffe4c4", "black": "000000", "blanchedalmond": "ffebcd", "blue": "0000ff",
    "blueviolet": "8a2be2", "brown": "a52a2a", "burlywood": "deb887", "cadetblue": "5f9ea0", "chartreuse": "7fff00",
    "chocolate": "d2691e", "coral": "ff7f50", "cornflowerblue": "6495ed", "cornsilk": "fff8dc", "crimson": "dc143c",
    "cyan": "00ffff", "darkblue": "00008b", "darkcyan": "008b8b", "darkgoldenrod": "b8860b", "darkgray": "a9a9a9",
    "darkgreen": "006400", "darkgrey": "a9a9a9", "darkkhaki": "bdb76b", "darkmagenta": "8b008b",
    "darkolivegreen": "556b2f", "darkorange": "ff8c00", "darkorchid": "9932cc", "darkred": "8b0000",
    "darksalmon": "e9967a", "darkseagreen": "8fbc8f", "darkslateblue": "483d8b", "darkslategray": "2f4f4f",
    "darkslategrey": "2f4f4f", "darkturquoise": "00ced1", "darkviolet": "9400d3", "deeppink": "ff1493",
    "deepskyblue": "00bfff", "dimgray": "696969", "dimgrey": "696969", "dodgerblue": "1e90ff", "firebrick": "b22222",
    "floralwhite": "fffaf0", "forestgreen": "228b22", "fuchsia": "ff00ff", "gainsboro": "dcdcdc",
    "ghostwhite": "f8f8ff", "gold": "ffd700", "goldenrod": "daa520", "gray": "808080", "green": "008000",
    "greenyellow": "adff2f", "grey": "808080", "honeydew": "f0fff0", "hotpink": "ff69b4", "indianred": "cd5c5c",
    "indigo": "4b0082", "ivory": "fffff0", "khaki": "f0e68c", "lavender": "e6e6fa", "lavenderblush": "fff0f5",
    "lawngreen": "7cfc00", "lemonchiffon": "fffacd", "lightblue": "add8e6", "lightcoral": "f08080",
    "lightcyan": "e0ffff", "lightgoldenrodyellow": "fafad2", "lightgray": "d3d3d3", "lightgreen": "90ee90",
    "lightgrey": "d3d3d3", "lightpink": "ffb6c1", "lightsalmon": "ffa07a", "lightseagreen": "20b2aa",
    "lightskyblue": "87cefa", "lightslategray": "778899", "lightslategrey": "778899", "lightsteelblue": "b0c4de",
    "lightyellow": "ffffe0", "lime": "00ff00", "limegreen": "32cd32", "linen": "faf0e6", "magenta": "ff00ff",
    "maroon": "800000", "mediumaquamarine": "66cdaa", "mediumblue": "0000cd", "mediumorchid": "ba55d3",
    "mediumpurple": "9370db", "mediumseagreen": "3cb371", "mediumslateblue": "7b68ee", "mediumspringgreen": "00fa9a",
    "mediumturquoise": "48d1cc", "mediumvioletred": "c71585", "midnightblue": "191970", "mintcream": "f5fffa",
    "mistyrose": "ffe4e1", "moccasin": "ffe4b5", "navajowhite": "ffdead", "navy": "000080", "oldlace": "fdf5e6",
    "olive": "808000", "olivedrab": "6b8e23", "orange": "ffa500", "orangered": "ff4500", "orchid": "da70d6",
    "palegoldenrod": "eee8aa", "palegreen": "98fb98", "paleturquoise": "afeeee", "palevioletred": "db7093",
    "papayawhip": "ffefd5", "peachpuff": "ffdab9", "peru": "cd853f", "pink": "ffc0cb", "plum": "dda0dd",
    "powderblue": "b0e0e6", "purple": "800080", "rebeccapurple": "663399", "red": "ff0000", "rosybrown": "bc8f8f",
    "royalblue": "4169e1", "saddlebrown": "8b4513", "salmon": "fa8072", "sandybrown": "f4a460", "seagreen": "2e8b57",
    "seashell": "fff5ee", "sienna": "a0522d", "silver": "c0c0c0", "skyblue": "87ceeb", "slateblue": "6a5acd",
    "slategray": "708090", "slategrey": "708090", "snow": "fffafa", "springgreen": "00ff7f", "steelblue": "4682b4",
    "tan": "d2b48c", "teal": "008080", "thistle": "d8bfd8", "tomato": "ff6347", "turquoise": "40e0d0",
    "violet": "ee82ee", "wheat": "f5deb3", "white": "ffffff", "whitesmoke": "f5f5f5", "yellow": "ffff00",
    "yellowgreen": "9acd32",
}
COLOR_NAMES: dict[str, tuple[int, int, int]] = {
    n: (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)) for n, h in CSS_COLOURS.items()}
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_color(text: str) -> tuple[int, int, int] | None:
    """An RGB triple from ``#RRGGBB``, ``#RGB``, ``R,G,B`` or a CSS colour name
    (``purple``, ``orange``, ``rebeccapurple`` ...; ``green`` is CSS's #008000,
    ``lime`` is #00FF00); None when ``text`` is not a colour."""
    t = text.strip().lower().replace(" ", "")
    if t in COLOR_NAMES:
        return COLOR_NAMES[t]
    m = _HEX.match(t)
    if m and (t.startswith("#") or not os.path.exists(text)):
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        r, g, b = (int(p) for p in parts)
        if all(0 <= v <= 255 for v in (r, g, b)):
            return r, g, b
        raise InvalidInputError(f"--background {text!r}: colour components must be 0..255")
    return None


@dataclass
class Background:
    """``kind``: image | video | color | blur | transparent | prompt."""

    kind: str
    spec: str = ""
    color: tuple[int, int, int] | None = None
    image: np.ndarray | None = None  # image plates (RGB)
    clip: Clip | None = None  # video plates

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
            "a colour (#RRGGBB, R,G,B or a CSS name such as purple), blur or transparent")
    try:
        if os.path.isfile(spec) and spec.lower().endswith(IMAGE_EXTS):
            return Background("image", spec, image=read_image(spec))
        clip = open_clip(spec)
        if clip.kind == "image":
            return Background("image", spec, image=read_image(clip.files[0]))
        return Background("video", spec, clip=clip)
    except VeditError as exc:
        raise MediaError(f"--background {spec!r} cannot be read as an image or video: {exc}") from exc


def video_plate_frames(clip: Clip, n: int, fps: Fraction | float, loop: bool = True) -> Iterator[np.ndarray]:
    """``n`` frames of a plate clip timed to the shot's ``fps``: frame t shows
    the plate at time t/fps; past its end it loops (or holds the last frame)."""
    pfps = Fraction(clip.fps)
    fps = Fraction(fps)
    total = clip.frame_count
    it = iter(clip.frames())
    pos = -1
    cur: np.ndarray | None = None
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
                k = pos
                break
            pos += 1
        if cur is None:  # the container held no frame at all
            raise MediaError(f"background video {clip.path} yielded no frames")
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
