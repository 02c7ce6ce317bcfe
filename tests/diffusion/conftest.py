"""Tiny random diffusers pipelines, built and saved by the tests themselves
(diffusers' get_dummy_components style), loaded back through vedit.models."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vedit.testing import textured as _textured

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A seeded tiny SD inpainting pipeline (UNet (32, 64), 4-block VAE,
    2-layer CLIP text model, local-vocabulary tokenizer) saved with
    save_pretrained; native size 64 px."""
    from vedit.models.dummy import save_dummy

    return save_dummy(tmp_path_factory.mktemp("models") / "tiny-sd-inpaint", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_xl_dir(tmp_path_factory):
    from vedit.models.dummy import save_dummy

    return save_dummy(tmp_path_factory.mktemp("models-xl") / "tiny-sdxl-inpaint", size="tiny", seed=0, xl=True)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No user config, model dirs or hub cache leak into the tests."""
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "vedit-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("VEDIT_MODEL_DIR", raising=False)
    monkeypatch.delenv("VEDIT_CONFIG", raising=False)
    return tmp_path / "vedit-home"


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Detailed RGB texture (multi-scale noise)."""
    return _textured(h, w, seed)


@pytest.fixture
def pan_clip():
    """16 frames of a 2 px/frame pan over a texture with a moving square hole."""
    n, h, w = 16, 96, 128
    world = textured(h, w + 2 * n + 8)
    frames = [np.ascontiguousarray(world[:, 2 * i: 2 * i + w]) for i in range(n)]
    masks = []
    for i in range(n):
        m = np.zeros((h, w), np.uint8)
        m[30:62, 40 + i:72 + i] = 255
        masks.append(m)
    return frames, masks


@pytest.fixture
def shared_tools_dir():
    d = Path(os.environ.get("VEDIT_SHARED_TOOLS", SHARED / "tools"))
    if not (d / "score.py").is_file():
        pytest.skip(f"shared tools not found at {d}")
    return d


@pytest.fixture
def shared_media_dir():
    d = Path(os.environ.get("VEDIT_SHARED_MEDIA", SHARED / "media"))
    if not d.is_dir():
        pytest.skip(f"shared media not found at {d}")
    return d


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core machine: a second intra-op thread only
    spin-waits (measured 10 ms vs 1.9 s per tiny UNet call under load).
    Restored after each test so other suites keep their setting."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
