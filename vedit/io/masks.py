"""Mask inputs: one image for every frame, an image sequence, or a video.
White (>127) marks the region to work on. Mask frame i goes with input frame i.

The one mask reader: ``remove``'s binary masks and the matte sources' soft
mattes (``soft=True``: float32 [0, 1], 16-bit and alpha channels kept) read
files the same way, with the same checks (size, frame count, range)."""
from __future__ import annotations

import os
import struct
import types
import zlib
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError
from vedit.flow.ops import freeze_boxed
from vedit.io.clip import IMAGE_EXTS, Clip, is_sequence_path, open_clip, to_uint8

_inflate_lib: types.ModuleType
try:  # zlib-ng inflates a mask's runs of zeros ~30x faster than zlib (the same bytes)
    from zlib_ng import zlib_ng as _inflate_lib
except ImportError:  # pragma: no cover - zlib-ng is a dependency; zlib is the fallback
    _inflate_lib = zlib


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


def to_alpha(img: np.ndarray) -> np.ndarray:
    """Any mask image (grey, RGB, RGBA; uint8, uint16 or float) → float32 [0, 1].
    An image with a non-trivial alpha channel uses its alpha."""
    if img.ndim == 3:
        if img.shape[2] == 4 and img[:, :, 3].min() < img[:, :, 3].max():
            img = img[:, :, 3]
        elif img.shape[2] == 2:  # grey + alpha
            img = img[:, :, 1] if img[:, :, 1].min() < img[:, :, 1].max() else img[:, :, 0]
        else:
            img = img[:, :, :3].max(axis=2)
    if img.dtype == np.uint8:
        return img.astype(np.float32) * (1.0 / 255.0)
    if img.dtype == np.uint16:
        return img.astype(np.float32) * (1.0 / 65535.0)
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def read_mask_image(path: str, soft: bool = False) -> np.ndarray:
    """A mask image file: uint8 {0, 255}, or with ``soft`` float32 [0, 1]."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not os.path.exists(path):
            raise MediaNotFoundError(f"mask not found: {path}")
        raise MediaError(f"cannot decode mask image: {path}")
    return to_alpha(img) if soft else to_mask(img)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: chunks that say nothing about the pixel values (OpenCV ignores them too);
#: a file with any other chunk (transparency, gamma, palette...) is OpenCV's
_PNG_INERT = frozenset((b"IHDR", b"IDAT", b"IEND", b"pHYs", b"tEXt", b"zTXt", b"iTXt", b"tIME"))
#: bytes of rows inflated at a time by the direct mask decoder
_PIECE_BYTES = 64 << 10


def _grey_png_mask(path: str, width: int, height: int) -> np.ndarray | None:
    """The mask (uint8 {0, 255}, read-only) of an 8-bit grey, non-interlaced
    PNG whose rows are stored with the None, Sub or Up filter — what OpenCV
    (libpng) writes for a mask — or None for any other file (and for a
    damaged one: OpenCV then reads it and reports the error).

    The same values as decoding with OpenCV and thresholding, at about half
    the cost: a mask is mostly empty rows, and libpng undoes the filter of
    every row byte by byte, where here only the rows from the first non-zero
    stored byte on are touched (a Sub row is a running sum, mod 256, of its
    stored bytes, an Up row the sum of its bytes and the row above, a None
    row its bytes; past the last non-zero byte only Up rows can carry
    anything, a copy of the row above). The box of the white pixels is
    found inside the decoded rows and remembered for ``mask_bbox``: the rest
    of the frame is never written, and a scan of it would fault in every
    zero page of the fresh array."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if len(data) < 33 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    w, h, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if (w, h) != (width, height) or depth != 8 or colour != 0 or method or filt or interlace:
        return None
    idat, pos, end = [], 8, False
    while pos + 12 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind not in _PNG_INERT or len(body) != n \
                or zlib.crc32(kind + body) != int.from_bytes(data[pos + 8 + n:pos + 12 + n], "big"):
            return None
        if kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
        if kind == b"IEND":
            end = True
            break
    if not end or not idat:
        return None
    row = w + 1
    size = h * row
    filters = np.empty(h, np.uint8)
    # the rows are inflated a piece at a time, and only pieces with a
    # non-zero stored byte are kept: a buffer of the whole image would be a
    # fresh 2 MB (1080p) a frame, page-faulted in each time
    step = max(1, _PIECE_BYTES // row) * row
    kept: list[tuple[int, np.ndarray]] = []  # (first row, rows) of the pieces kept
    x0, y0, x1, y1 = w, h, 0, 0  # box of the non-zero stored bytes
    got, tail = 0, b"".join(idat)
    try:
        d = _inflate_lib.decompressobj()
        while got < size:
            piece = d.decompress(tail, min(step, size - got))
            tail = d.unconsumed_tail
            if not piece or len(piece) % row:
                return None
            rows = np.frombuffer(piece, np.uint8).reshape(-1, row)
            r0 = got // row
            filters[r0:r0 + len(rows)] = rows[:, 0]
            bx, by, bw, bh = cv2.boundingRect(rows[:, 1:])
            if bw:
                kept.append((r0, rows))
                x0, x1 = min(x0, bx), max(x1, bx + bw)
                y0, y1 = min(y0, r0 + by), max(y1, r0 + by + bh)
            got += len(piece)
    except _inflate_lib.error:
        return None
    if not d.eof:
        return None
    if int(filters.max()) > 2:  # Average or Paeth rows: libpng's job
        return None
    out = np.zeros((h, w), np.uint8)
    if x1 == 0:  # every stored byte zero: so is every pixel
        return freeze_boxed(out, 0, 0, 0, 0)
    bh = y1 - y0
    # the stored bytes of the rows y0..y1 from column x0 (1 + x0 in a row)
    stored = np.zeros((bh, w - x0), np.uint8)
    for r0, rows in kept:
        a, b = max(r0, y0), min(r0 + len(rows), y1)
        if a < b:
            stored[a - y0:b - y0] = rows[a - r0:b - r0, 1 + x0:]
    # rows above y0 and columns left of x0 decode to zero; below the last
    # non-zero stored row a run of Up rows repeats that row
    up_after = np.flatnonzero(filters[y1:] != 2)
    y2 = y1 + (int(up_after[0]) if len(up_after) else h - y1)
    vals = np.empty((y2 - y0, w - x0), np.uint8)
    starts = np.flatnonzero(np.diff(filters[y0:y1].astype(np.int16))) + 1
    for a, b in zip(np.r_[0, starts], np.r_[starts, bh]):
        seg, f = stored[a:b], int(filters[y0 + a])
        if f == 0:
            vals[a:b] = seg
        elif f == 1:
            np.cumsum(seg, axis=1, dtype=np.uint8, out=vals[a:b])
        else:
            np.cumsum(seg, axis=0, dtype=np.uint8, out=vals[a:b])
            if a > 0:
                vals[a:b] += vals[a - 1]
    vals[bh:] = vals[bh - 1]
    cv2.threshold(vals, 127, 255, cv2.THRESH_BINARY, dst=out[y0:y2, x0:])
    return freeze_boxed(out, y0, y2, x0, w)


def _binary_frame(path: str, width: int, height: int) -> np.ndarray:
    """One file of a mask sequence as uint8 {0, 255}, read-only: the same
    values as ``to_mask`` of the RGB frame ``Clip.frames`` reads (any alpha
    channel dropped, 16-bit rounded to 8), without building that frame."""
    if path.lower().endswith(".png"):
        fast = _grey_png_mask(path, width, height)
        if fast is not None:
            return fast
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not os.path.exists(path):
            raise MediaNotFoundError(f"image not found: {path}")
        raise MediaError(f"cannot decode image: {path}")
    if img.shape[1] != width or img.shape[0] != height:
        raise MediaError(f"frame {os.path.basename(path)} is {img.shape[1]}x{img.shape[0]}, "
                         f"the sequence is {width}x{height}")
    img = to_uint8(img)
    if img.ndim == 3:
        ch = cv2.split(np.ascontiguousarray(img[:, :, :3]))
        img = cv2.max(cv2.max(ch[0], ch[1]), ch[2])
    out = cv2.threshold(np.ascontiguousarray(img), 127, 255, cv2.THRESH_BINARY)[1]
    out.flags.writeable = False
    return out


class MaskSource:
    """Streams masks aligned with a clip's selected range: uint8 {0, 255}, or
    with ``soft`` float32 [0, 1] mattes.

    Binary masks are read-only: a consumer that wants to change one copies
    it, and ``vedit.flow.ops.mask_bbox`` remembers a mask's box (the decoder
    of a PNG mask sequence knows it without a scan of the frame)."""

    @property
    def still(self) -> np.ndarray | None:
        """The one mask every frame gets (a single image), else None (read-only)."""
        return self._still

    def __init__(self, path: str, clip: Clip, allow_empty: bool = False, soft: bool = False):
        self.path = os.fspath(path)
        self.clip = clip
        self.soft = soft
        self._still: np.ndarray | None = None
        self._clip: Clip | None = None
        if not is_sequence_path(self.path) and not os.path.exists(self.path):
            raise MediaNotFoundError(f"mask not found: {self.path}")
        if os.path.isfile(self.path) and self.path.lower().endswith(IMAGE_EXTS):
            self._still = read_mask_image(self.path, soft)
            h, w = self._still.shape
            self._check_size(w, h)
            if not allow_empty and not self._still.any():
                raise InvalidInputError(f"mask {self.path} is empty (no white pixels): nothing to do")
            if not soft:
                self._still.flags.writeable = False
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
        mc = self._clip
        assert mc is not None
        if not self.soft and mc.kind == "sequence":
            # the files themselves, without the RGB expansion of a frame read
            # (a grey 1080p mask took ~12 ms that way, ~4 ms this way)
            for p in mc.files[mc.start: mc.start + mc.frame_count]:
                yield _binary_frame(p, mc.width, mc.height)
        elif not self.soft:
            for f in mc.frames():
                m = to_mask(f)
                m.flags.writeable = False
                yield m
        elif mc.kind == "sequence":  # read the files themselves: 16-bit and alpha kept
            for p in mc.files[mc.start: mc.start + mc.frame_count]:
                yield read_mask_image(p, soft=True)
        else:
            for f in mc.frames(alpha=mc.has_alpha):
                yield to_alpha(f)


def open_masks(path: str, clip: Clip, allow_empty: bool = False, soft: bool = False) -> MaskSource:
    return MaskSource(path, clip, allow_empty=allow_empty, soft=soft)
