"""Plate fitting: where a plate of any size and aspect lands in the frame.

All transforms are 3x3 matrices in pixel-centre coordinates (pixel (0, 0) is
the centre of the top-left pixel, so an image of width w spans [-0.5, w-0.5]).
"""
from __future__ import annotations

import cv2
import numpy as np

from vedit.errors import InvalidInputError

FIT_MODES = ("cover", "contain", "stretch")


def fit_matrix(src_size: tuple[int, int], box: tuple[float, float, float, float],
               mode: str = "cover") -> np.ndarray:
    """Matrix mapping source pixels into ``box`` = (x0, y0, x1, y1) (edges, in
    target pixel-centre coordinates).

    ``cover`` fills the box and crops the overflow (centred), ``contain`` fits
    inside the box (bars show), ``stretch`` fills it exactly, changing aspect.
    """
    if mode not in FIT_MODES:
        raise InvalidInputError(f"--fit {mode!r}: choose one of {', '.join(FIT_MODES)}")
    sw, sh = float(src_size[0]), float(src_size[1])
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = x1 - x0, y1 - y0
    if sw <= 0 or sh <= 0 or bw <= 0 or bh <= 0:
        raise InvalidInputError(f"cannot fit a {sw:g}x{sh:g} plate into a {bw:g}x{bh:g} box")
    if mode == "stretch":
        sx, sy = bw / sw, bh / sh
    else:
        s = max(bw / sw, bh / sh) if mode == "cover" else min(bw / sw, bh / sh)
        sx = sy = s
    # source edge -0.5 .. sw-0.5 maps to the box centred: x = sx * (p + 0.5) + ox
    ox = (x0 + x1) / 2.0 - sx * sw / 2.0
    oy = (y0 + y1) / 2.0 - sy * sh / 2.0
    return np.array([[sx, 0.0, ox + 0.5 * sx], [0.0, sy, oy + 0.5 * sy], [0.0, 0.0, 1.0]])


def frame_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The edges of a width x height frame in pixel-centre coordinates."""
    return (-0.5, -0.5, width - 0.5, height - 0.5)


def prescale(img: np.ndarray, T: np.ndarray, max_scale: float = 1.0):
    """Shrink ``img`` once (area filter) when ``T`` shrinks it by more than
    ``max_scale``, so later per-frame warps never alias (aliasing shimmers
    when the plate moves). Returns the new image and the adjusted transform."""
    sx = float(np.hypot(T[0, 0], T[1, 0]))
    sy = float(np.hypot(T[0, 1], T[1, 1]))
    s = max(sx, sy)
    if s >= max_scale * 0.999:
        return img, T
    h, w = img.shape[:2]
    nw, nh = max(2, int(round(w * s))), max(2, int(round(h * s)))
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    # map small pixel centres back to original pixel centres, then apply T
    back = np.array([[w / nw, 0.0, 0.5 * w / nw - 0.5], [0.0, h / nh, 0.5 * h / nh - 0.5], [0.0, 0.0, 1.0]])
    return small, T @ back


def scale_matrix(sx: float, sy: float) -> np.ndarray:
    """Pixel-centre scaling: maps pixels of an image to one sx, sy times larger."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
