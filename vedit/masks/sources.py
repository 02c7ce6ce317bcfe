"""Matte sources that need no model: a mask file, a GrabCut box, a chroma key."""
from __future__ import annotations

import os
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.io import Clip
from vedit.io.masks import MaskSource, open_masks, read_mask_image
from vedit.masks.base import MatteSource


def read_alpha_image(path: str) -> np.ndarray:
    """A mask image (8/16-bit, grey, RGB or with alpha) as float32 [0, 1]."""
    return read_mask_image(path, soft=True)


class FileMatteSource(MatteSource):
    """A matte from a file: one image for every frame, an image sequence, or a
    video (grey, RGB, or with an alpha channel; 8 or 16 bit). Soft values are
    kept. Frame i of the file goes with frame i of the clip (or of its
    selected range). Read by ``vedit.io.masks``, the one mask reader."""

    name = "file"
    description = "mask image, sequence or video"

    def __init__(self, mask: str | None = None, **_):
        if not mask:
            raise InvalidInputError("the file matte needs --mask PATH (an image, a folder of images or a video)")
        self.path = os.fspath(mask)
        self._masks: MaskSource | None = None

    def check(self, clip: Clip) -> None:
        self._masks = open_masks(self.path, clip, allow_empty=True, soft=True)

    def alphas(self) -> Iterator[np.ndarray]:
        assert self._masks is not None
        yield from self._masks

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._masks is None:
            self.check(clip)
        yield from zip(self.work_frames(clip), self.alphas())


def parse_box(box, width: int, height: int, name: str = "--box") -> tuple[int, int, int, int]:
    """(x, y, w, h) from a tuple/list or "X,Y,W,H", checked against the frame."""
    if isinstance(box, str):
        try:
            box = [int(round(float(v))) for v in box.split(",")]
        except ValueError:
            raise InvalidInputError(f"{name} {box!r}: expected X,Y,W,H in pixels") from None
    if box is None or len(box) != 4:
        raise InvalidInputError(f"{name} {box!r}: expected X,Y,W,H in pixels")
    x, y, w, h = (int(v) for v in box)
    if w <= 1 or h <= 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise InvalidInputError(
            f"{name} {x},{y},{w},{h} is outside the {width}x{height} frame (or empty); "
            "give X,Y,W,H with the box inside the frame")
    return x, y, w, h


class GrabCutMatteSource(MatteSource):
    """A box around the object on keyframe ``frame``, segmented with GrabCut,
    then tracked through the shot with flow and colour."""

    name = "grabcut"
    description = "box prompt segmented with GrabCut, tracked by flow"

    def __init__(self, box=None, frame: int = 0, **_):
        if box is None:
            raise InvalidInputError("the box matte needs --box X,Y,W,H")
        self.box = box
        self.frame = int(frame)

    def check(self, clip: Clip) -> None:
        self.box = parse_box(self.box, clip.width, clip.height)
        if not 0 <= self.frame < clip.frame_count:
            raise InvalidInputError(f"--frame {self.frame} is outside the selected range (0..{clip.frame_count - 1})")

    def keyframe_alpha(self, frame: np.ndarray, clip: Clip) -> np.ndarray:
        h, w = frame.shape[:2]
        s = w / clip.width
        x, y, bw, bh = (int(round(v * s)) for v in self.box)
        x, y = min(x, w - 2), min(y, h - 2)
        bw, bh = max(2, min(bw, w - x)), max(2, min(bh, h - y))
        gc = np.zeros((h, w), np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        if bw >= w - 1 and bh >= h - 1:
            raise InvalidInputError(f"--box {self.box} covers the whole frame; draw it around the object")
        cv2.grabCut(np.ascontiguousarray(frame[:, :, :3]), gc, (x, y, bw, bh), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
        m = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
        if not m.any():
            raise InvalidInputError(f"--box {self.box}: GrabCut found no object inside the box; draw it tighter")
        return m

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from vedit.masks.track import _track_stream

        yield from _track_stream(self, clip)


#: the one key-colour table: the backing colours of real green and blue screens
KEY_COLOURS = {"green": (0, 177, 64), "blue": (0, 71, 187)}
CHROMA_COLOURS = KEY_COLOURS


def parse_colour(text: object, name: str = "--chroma") -> tuple[int, int, int]:
    """A key colour: green or blue (the screen colours of KEY_COLOURS), another
    CSS colour name (``lime``, ``purple`` ...), #RRGGBB or an (R, G, B) tuple."""
    if isinstance(text, (tuple, list)) and len(text) == 3:
        return tuple(int(v) for v in text)  # type: ignore[return-value]
    t = str(text).strip().lower()
    if t in KEY_COLOURS:
        return KEY_COLOURS[t]
    if t.startswith("#") and len(t) == 7:
        try:
            return tuple(int(t[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    from vedit.composite.plate import COLOR_NAMES  # here: vedit.composite imports this module

    if t.replace(" ", "") in COLOR_NAMES:
        return COLOR_NAMES[t.replace(" ", "")]
    raise InvalidInputError(f"{name} {text!r}: use green, blue, a CSS colour name (e.g. lime) or #RRGGBB")


def despill(frame: np.ndarray, key: object = "green", amount: float = 1.0, name: str = "--chroma") -> np.ndarray:
    """The one despill rule: limit the key colour's dominant channel to the
    larger of the other two (the classic despill), which removes the green or
    blue cast reflected onto a subject while leaving colours that are not
    key-tinted unchanged. ``amount`` < 1 blends toward the original."""
    c = int(np.argmax(parse_colour(key, name)))
    o1, o2 = [i for i in range(3) if i != c]
    out = np.array(frame[:, :, :3], copy=True)
    limit = np.maximum(out[:, :, o1], out[:, :, o2])
    if amount >= 1.0:
        np.minimum(out[:, :, c], limit, out=out[:, :, c])
    else:
        k = out[:, :, c].astype(np.float32)
        lim = np.minimum(k, limit.astype(np.float32))
        out[:, :, c] = np.clip(k + amount * (lim - k) + 0.5, 0, 255).astype(np.uint8)
    return out


class ChromaMatteSource(MatteSource):
    """Chroma key: the matte is 1 on the subject and 0 on the backing colour.

    Distance is measured in the CbCr plane (brightness-independent, so
    uneven lighting on the screen keys evenly); ``tolerance`` (0..1, default
    0.18) is the distance below which a pixel is fully backing, with a soft
    ramp of the same width above it. ``despill`` returns the frame with the
    backing colour's spill removed (for compositing the keyed footage)."""

    name = "chroma"
    description = "chroma key (green, blue, a CSS colour name or #RRGGBB) with tolerance and spill suppression"

    def __init__(self, chroma=None, tolerance=None, **_):
        if chroma is None:
            raise InvalidInputError("the chroma matte needs --chroma green, blue, a CSS colour name (e.g. purple) or #RRGGBB")
        self.rgb = parse_colour(chroma)
        self.tolerance = 0.18 if tolerance is None else float(tolerance)
        if not 0.0 < self.tolerance < 1.0:
            raise InvalidInputError(f"--tolerance {tolerance}: must be between 0 and 1 (e.g. 0.18)")
        ycc = cv2.cvtColor(np.array([[self.rgb]], np.uint8), cv2.COLOR_RGB2YCrCb)[0, 0].astype(np.float32)
        self.key_crcb = ycc[1:] / 255.0
        if np.hypot(*(self.key_crcb - 0.5)) < 0.05:
            raise InvalidInputError(f"--chroma {chroma}: a grey/neutral colour cannot be keyed; pick a saturated colour")

    def key(self, frame: np.ndarray) -> np.ndarray:
        ycc = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255.0
        d = np.hypot(ycc[:, :, 1] - self.key_crcb[0], ycc[:, :, 2] - self.key_crcb[1])
        t = self.tolerance
        return np.clip((d - t) / t, 0.0, 1.0).astype(np.float32)

    def despill(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the backing colour's spill removed (:func:`despill`)."""
        return despill(frame, self.rgb)

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for f in clip.frames():
            yield f, self.key(f)
