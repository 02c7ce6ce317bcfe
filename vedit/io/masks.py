"""Mask inputs: one image for every frame, an image sequence, or a video.
White (>127) marks the region to work on. Mask frame i goes with input frame i."""
from __future__ import annotations

import os
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError
from vedit.io.clip import Clip, is_sequence_path, open_clip


def to_mask(img: np.ndarray) -> np.ndarray:
    """Any image (grey, RGB, RGBA; 8/16 bit) → uint8 {0, 255}. An RGBA image
    with a non-trivial alpha uses its alpha channel."""
    if img.ndim == 3:
        if img.shape[2] == 4 and img[:, :, 3].min() < img[:, :, 3].max():
            img = img[:, :, 3]
        else:
            ch = cv2.split(np.ascontiguousarray(img[:, :, :3]))
            img = cv2.max(cv2.max(ch[0], ch[1]), ch[2])  # ~10x faster than ndarray.max(axis=2)
    if img.dtype != np.uint8:
        img = (img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 1.0) * 255.0).astype(np.uint8)
    return cv2.threshold(np.ascontiguousarray(img), 127, 255, cv2.THRESH_BINARY)[1]


def read_mask_image(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not os.path.exists(path):
            raise MediaNotFoundError(f"mask not found: {path}")
        raise MediaError(f"cannot decode mask image: {path}")
    return to_mask(img)


class MaskSource:
    """Streams masks aligned with a clip's selected range."""

    def __init__(self, path: str, clip: Clip, allow_empty: bool = False):
        self.path = os.fspath(path)
        self.clip = clip
        self._still: np.ndarray | None = None
        self._clip: Clip | None = None
        if not is_sequence_path(self.path) and not os.path.exists(self.path):
            raise MediaNotFoundError(f"mask not found: {self.path}")
        if os.path.isfile(self.path) and self.path.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".exr")):
            self._still = read_mask_image(self.path)
            h, w = self._still.shape
            self._check_size(w, h)
            if not allow_empty and not self._still.any():
                raise InvalidInputError(f"mask {self.path} is empty (no white pixels): nothing to do")
        else:
            mc = open_clip(self.path)
            self._check_size(mc.width, mc.height)
            if mc.total_frames == clip.total_frames:
                self._clip = mc.subclip(clip.start, clip.start + clip.frame_count) if (clip.start or clip.end) else mc
            elif mc.total_frames == clip.frame_count:  # masks for the selected range only
                self._clip = mc
            else:
                rng = f" or the {clip.frame_count} of the selected range" if clip.frame_count != clip.total_frames else ""
                raise InvalidInputError(
                    f"mask {self.path} has {mc.total_frames} frames but the input has {clip.total_frames}{rng}; "
                    "give one mask image or a sequence with one mask per frame")
        self.allow_empty = allow_empty

    def _check_size(self, w: int, h: int) -> None:
        if (w, h) != (self.clip.width, self.clip.height):
            raise InvalidInputError(
                f"mask {self.path} is {w}x{h} but the input is {self.clip.width}x{self.clip.height}; "
                "masks must match the footage size")

    @property
    def is_static(self) -> bool:
        return self._still is not None

    def __len__(self) -> int:
        return self.clip.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._still is not None:
            for _ in range(self.clip.frame_count):
                yield self._still
            return
        for f in self._clip.frames():
            yield to_mask(f)


def open_masks(path: str, clip: Clip, allow_empty: bool = False) -> MaskSource:
    return MaskSource(path, clip, allow_empty=allow_empty)
