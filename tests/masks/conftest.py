"""Small synthetic clips for the matte tests (written by the tests)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (4, 16):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w]
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 120 + 60).astype(np.uint8)


def write_seq(folder: Path, frames) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def disk_masks(n, h, w, r=18, x0=40, y0=48, dx=3.0):
    out = []
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        cx = x0 + dx * i
        out.append(((xx - cx) ** 2 + (yy - y0) ** 2) <= r * r)
    return out


@pytest.fixture
def disk_clip(tmp_path):
    """16 frames 128x96: a bright striped disk moving right over a dark texture."""
    n, h, w = 16, 96, 128
    bg = texture(h, w)
    masks = disk_masks(n, h, w)
    frames = []
    stripes = np.zeros((h, w, 3), np.uint8)
    stripes[:, :, 0] = 230
    stripes[:, :, 1] = np.where((np.arange(w) // 4) % 2, 220, 160)[None, :]
    stripes[:, :, 2] = 40
    for i, m in enumerate(masks):
        shifted = np.roll(stripes, 3 * i, axis=1)
        frames.append(np.where(m[:, :, None], shifted, bg))
    seq = write_seq(tmp_path / "disk", frames)
    key = tmp_path / "key.png"
    cv2.imwrite(str(key), masks[0].astype(np.uint8) * 255)
    return seq, key, frames, masks


@pytest.fixture
def green_clip(tmp_path):
    """6 frames of a red/grey object over an unevenly lit green screen."""
    h, w = 80, 120
    frames, masks = [], []
    shade = np.linspace(0.7, 1.0, w, dtype=np.float32)[None, :, None]
    for i in range(6):
        img = (np.array([30, 180, 60], np.float32)[None, None, :] * shade).repeat(h, 0).astype(np.uint8)
        m = np.zeros((h, w), bool)
        m[20:60, 30 + 2 * i:70 + 2 * i] = True
        img[m] = (200, 90, 80)
        frames.append(img)
        masks.append(m)
    return write_seq(tmp_path / "green", frames), frames, masks


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, float((a | b).sum()))
