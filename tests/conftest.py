"""Shared fixtures: small synthetic clips written by the tests themselves, and
paths to the shared real footage (skipped when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = Path(os.environ.get("VEDIT_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
SHARED_TOOLS = Path(os.environ.get("VEDIT_SHARED_TOOLS", ROOT.parent / "shared" / "tools"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def textured_background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth-but-detailed RGB texture (multi-scale noise + gradients)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (4, 16, 64):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] * (s / 84.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img[:, :, 0] += xx / w * 0.5
    img[:, :, 2] += yy / h * 0.5
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def make_pan_clip(n: int = 24, h: int = 96, w: int = 128, speed: float = 2.0, seed: int = 0):
    """Frames of a camera panning over a texture, and the clean world image."""
    world = textured_background(h, w + int(speed * n) + 8, seed)
    frames = [np.ascontiguousarray(world[:, int(round(i * speed)): int(round(i * speed)) + w]) for i in range(n)]
    return frames, world


def write_sequence(folder: Path, frames, ext: str = "png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        img = f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_RGBA2BGRA if f.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:05d}.{ext}"), img)
    return folder


def read_sequence(folder: Path, alpha: bool = False):
    out = []
    for p in sorted(Path(folder).glob("*.png")):
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        out.append(img)
    return out


@pytest.fixture
def pan_sequence(tmp_path):
    """A 24-frame PNG sequence of a textured pan, plus a static square mask."""
    frames, world = make_pan_clip()
    seq = write_sequence(tmp_path / "pan", frames)
    mask = np.zeros(frames[0].shape[:2], np.uint8)
    mask[30:60, 50:80] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    return seq, tmp_path / "mask.png", frames


@pytest.fixture
def shared_media():
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"shared media not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


@pytest.fixture
def shared_tools():
    if not SHARED_TOOLS.is_dir():
        pytest.skip(f"shared tools not found at {SHARED_TOOLS}")
    return SHARED_TOOLS
