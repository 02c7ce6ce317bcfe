"""Plain helper functions the test modules import (``from tests.helpers import
psnr``): synthetic clips written by the tests themselves, PNG sequences in and
out, image measures. Fixtures live in the conftest files."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]  # the repository


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (99 when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def gradient_energy(img: np.ndarray, border: int = 8) -> float:
    """Mean Sobel gradient magnitude of the grey image, ``border`` px excluded:
    a sharpness measure (a blurred warp loses it)."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return float(mag[border:-border, border:-border].mean())


def write_rgb(path: Path, img: np.ndarray) -> Path:
    """Write an RGB (or grey) uint8 image with OpenCV; returns the path."""
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img)
    return path


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
    """RGB, RGBA or grey frames as numbered images (00000.png ...) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        img = f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_RGBA2BGRA if f.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:05d}.{ext}"), img)
    return folder


def read_sequence(folder: Path, alpha: bool = False):
    """The PNG frames of ``folder`` in name order, as RGB(A) or grey arrays."""
    out = []
    for p in sorted(Path(folder).glob("*.png")):
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        out.append(img)
    return out
