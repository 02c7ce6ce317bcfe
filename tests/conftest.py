"""Shared fixtures: small synthetic clips and stills written by the tests
themselves, tiny random models built once per session (``tests/models/tiny.py``,
``vedit.models.dummy``), and paths to the shared real footage (skipped when
absent). Plain helper functions (clips, sequences, image measures) are in
``tests/helpers.py``."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, make_pan_clip, write_rgb, write_sequence
from vedit.testing import textured

SHARED_MEDIA = Path(os.environ.get("VEDIT_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
SHARED_TOOLS = Path(os.environ.get("VEDIT_SHARED_TOOLS", ROOT.parent / "shared" / "tools"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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


@pytest.fixture
def still(tmp_path):
    """A 160x240 still for the animate engines and op: a textured background
    (no pure black, so a hole would show as 0) with a differently textured
    disc (the subject), the disc's mask and a 'water' mask on the lower half;
    arrays and their PNG paths."""
    h, w = 160, 240
    bg = textured(h, w, 1, lo=10, hi=245)
    fg = textured(h, w, 7, lo=10, hi=245)[:, :, ::-1]
    subj = np.zeros((h, w), np.uint8)
    cv2.circle(subj, (120, 75), 40, 255, -1)
    img = np.where(subj[:, :, None] > 0, fg, bg).astype(np.uint8)
    water = np.zeros((h, w), np.uint8)
    water[90:, :] = 255
    return {"img": img, "subj": subj, "water": water,
            "img_path": write_rgb(tmp_path / "still.png", img),
            "subj_path": write_rgb(tmp_path / "subj.png", subj),
            "water_path": write_rgb(tmp_path / "water.png", water)}


# --- tiny random models (torch/diffusers are the optional `ml` extra) ---

@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A seeded tiny SD inpainting pipeline (UNet (32, 64), 4-block VAE,
    2-layer CLIP text model, local-vocabulary tokenizer) saved with
    save_pretrained; native size 64 px."""
    pytest.importorskip("diffusers")
    from vedit.models.dummy import save_dummy

    return save_dummy(tmp_path_factory.mktemp("models") / "tiny-sd-inpaint", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_xl_dir(tmp_path_factory):
    """The SDXL-shaped counterpart of ``tiny_model_dir`` (two text encoders)."""
    pytest.importorskip("diffusers")
    from vedit.models.dummy import save_dummy

    return save_dummy(tmp_path_factory.mktemp("models-xl") / "tiny-sdxl-inpaint", size="tiny", seed=0, xl=True)


@pytest.fixture(scope="session")
def tiny_svd(tmp_path_factory):
    """A tiny random Stable Video Diffusion pipeline on disk."""
    pytest.importorskip("diffusers")
    from tests.models.tiny import build_tiny_svd

    return build_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))


@pytest.fixture(scope="session")
def tiny_ltx(tmp_path_factory):
    """A tiny random LTX-Video image-to-video pipeline (text-conditioned) on disk."""
    pytest.importorskip("diffusers")
    from tests.models.tiny import build_tiny_ltx

    return build_tiny_ltx(tmp_path_factory.mktemp("tiny_ltx"))


@pytest.fixture(scope="session")
def tiny_sam(tmp_path_factory):
    """A tiny random SAM checkpoint (.pth) on disk."""
    pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    from tests.models.tiny import build_tiny_sam

    return build_tiny_sam(tmp_path_factory.mktemp("sam") / "tiny_sam.pth")


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """No user config, model dirs or hub cache leak into a test: $VEDIT_HOME
    and the HF cache point into tmp_path (model discovery reads both)."""
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "vedit-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("VEDIT_MODEL_DIR", raising=False)
    monkeypatch.delenv("VEDIT_CONFIG", raising=False)
    return tmp_path / "vedit-home"


@pytest.fixture
def one_torch_thread():
    """Tiny models on a small shared machine: a second intra-op thread only
    spin-waits, so the tiny-model tests run torch on one thread (restored
    after the test so other suites keep their setting)."""
    torch = pytest.importorskip("torch")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


_LEFTHALF_PLUGIN = '''
import numpy as np
from vedit.masks.base import MatteSource


class LeftHalfMatteSource(MatteSource):
    """The subject is the left half of the frame, plus ``shift`` columns."""

    name = "lefthalf"

    def __init__(self, shift: int = 0):
        self.shift = shift

    def stream(self, clip):
        for f in clip.frames():
            a = np.zeros(f.shape[:2], np.float32)
            a[:, : f.shape[1] // 2 + self.shift] = 1.0
            yield f, a
'''


@pytest.fixture
def lefthalf(tmp_path, monkeypatch):
    """A matte source registered the way a third-party package would (an
    ``EngineSpec`` of family ``matte`` naming a module on the path): the
    subject is the left half of the frame. Yields its name."""
    import sys

    from vedit.engines import _REGISTRY, EngineSpec, register

    (tmp_path / "vedit_test_lefthalf.py").write_text(_LEFTHALF_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    register(EngineSpec("lefthalf", "matte", "vedit_test_lefthalf:LeftHalfMatteSource", "test source"))
    yield "lefthalf"
    _REGISTRY.pop(("matte", "lefthalf"), None)
    sys.modules.pop("vedit_test_lefthalf", None)


@pytest.fixture
def writer_decodes(monkeypatch):
    """Second decodes of a source by the writer (to keep its samples): one
    entry per decode, counted while the test runs."""
    from vedit.io import writer as writer_mod

    calls: list[int] = []
    real = writer_mod.video_frames

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(writer_mod, "video_frames", counted)
    return calls
