"""Fixtures for the animate tests: small stills, masks and a tiny SVD model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.testing import textured as _textured

HERE = Path(__file__).resolve().parent


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Texture with no pure black: a hole would show as 0."""
    return _textured(h, w, seed, lo=10, hi=245)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def gradient_energy(img: np.ndarray, border: int = 8) -> float:
    """Mean Sobel gradient magnitude of the grey image, ``border`` px excluded."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return float(mag[border:-border, border:-border].mean())


def write_rgb(path: Path, img: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img)
    return path


@pytest.fixture
def still(tmp_path):
    """A 160x240 still: textured background with a differently textured disc
    (the subject), the disc's mask and a 'water' mask on the lower half."""
    h, w = 160, 240
    bg = textured(h, w, 1)
    fg = textured(h, w, 7)[:, :, ::-1]
    subj = np.zeros((h, w), np.uint8)
    cv2.circle(subj, (120, 75), 40, 255, -1)
    img = np.where(subj[:, :, None] > 0, fg, bg).astype(np.uint8)
    water = np.zeros((h, w), np.uint8)
    water[90:, :] = 255
    return {"img": img, "subj": subj, "water": water,
            "img_path": write_rgb(tmp_path / "still.png", img),
            "subj_path": write_rgb(tmp_path / "subj.png", subj),
            "water_path": write_rgb(tmp_path / "water.png", water)}


def _tiny_models():
    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("torch/diffusers not installed")
    spec = importlib.util.spec_from_file_location("animate_tiny_models", HERE / "tiny_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def tiny_ltx(tmp_path_factory):
    """A tiny random LTX-Video image-to-video pipeline (text-conditioned) on disk."""
    return _tiny_models().build_tiny_ltx(tmp_path_factory.mktemp("tiny_ltx"))


@pytest.fixture(scope="session")
def tiny_svd(tmp_path_factory):
    """A tiny random SVD pipeline saved to disk (loaded back through the real code)."""
    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("torch/diffusers not installed")
    spec = importlib.util.spec_from_file_location("animate_tiny_models", HERE / "tiny_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))


@pytest.fixture
def helpers():
    """Small helpers for test modules (importlib mode forbids importing conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(textured=textured, psnr=psnr, write_rgb=write_rgb, gradient_energy=gradient_energy)
