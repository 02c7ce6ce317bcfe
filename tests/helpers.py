"""Small image helpers the test modules import (``from tests.helpers import
psnr``); fixtures live in the conftest files, these are plain functions."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


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
