"""Small synthetic clips for the replace-bg tests (written by the tests)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import read_sequence
from vedit.testing import textured as _textured


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Detailed RGB texture (multi-scale noise)."""
    return _textured(h, w, seed)


def write_seq(folder: Path, frames) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        if f.ndim == 3:
            f = cv2.cvtColor(f, cv2.COLOR_RGBA2BGRA if f.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:05d}.png"), f)
    return folder


read_seq = read_sequence  # the name these tests use


def pan_shot(n=12, h=96, w=128, speed=2, seed=0, subject=True):
    """A camera panning right over a textured world (background moves left by
    ``speed`` px per frame) with a flat-coloured 'subject' box that moves on
    its own, plus its mask per frame."""
    world = texture(h, w + speed * n + 8, seed)
    frames, masks = [], []
    for i in range(n):
        f = np.ascontiguousarray(world[:, i * speed: i * speed + w]).copy()
        m = np.zeros((h, w), np.uint8)
        if subject:
            x = 40 + (i % 5)
            m[30:80, x:x + 30] = 255
            f[m > 0] = (230, 200, 40)
        frames.append(f)
        masks.append(m)
    return frames, masks


@pytest.fixture
def shot(tmp_path):
    frames, masks = pan_shot()
    return write_seq(tmp_path / "in", frames), write_seq(tmp_path / "mask", masks), frames, masks


@pytest.fixture
def plate_png(tmp_path):
    p = tmp_path / "plate.png"
    cv2.imwrite(str(p), cv2.cvtColor(texture(96, 128, seed=7), cv2.COLOR_RGB2BGR))
    return p
