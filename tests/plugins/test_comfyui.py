"""ComfyUI nodes called directly with tensors: shapes, dtypes, and pixels the
op must not touch come back exactly as given."""
from __future__ import annotations

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def nodes():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "plugins" / "comfyui"
    spec = importlib.util.spec_from_file_location("vedit_comfy_nodes_pkg", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # the package path ComfyUI uses: __init__ -> .nodes
    assert mod.NODE_CLASS_MAPPINGS
    return sys.modules[spec.name + ".nodes"]


def pan_batch(n=10, h=64, w=96, seed=0):
    """A textured pan as an IMAGE tensor with float values that are not
    multiples of 1/255 (so re-quantisation would show)."""
    rng = np.random.default_rng(seed)
    world = cv2.resize(rng.random((h // 4, (w + 2 * n) // 4, 3)).astype(np.float32), (w + 2 * n, h),
                       interpolation=cv2.INTER_CUBIC)
    world = np.clip(world, 0.0, 1.0) * 0.9 + 0.013
    frames = np.stack([world[:, 2 * i: 2 * i + w] for i in range(n)])
    return torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))


def test_mappings(nodes):
    assert set(nodes.NODE_CLASS_MAPPINGS) == {"VeditRemove", "VeditReplaceBackground", "VeditMatte", "VeditAnimate"}
    for cls in nodes.NODE_CLASS_MAPPINGS.values():
        it = cls.INPUT_TYPES()
        assert "required" in it and cls.FUNCTION == "run" and len(cls.RETURN_TYPES) >= 1
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS["VeditReplaceBackground"] == "Vedit Replace Background"


def test_bad_tensors_are_clear(nodes):
    imgs = pan_batch(4)
    with pytest.raises(ValueError, match="mask size 10x10 differs from the images' 96x64; resize"):
        nodes.VeditRemove().run(imgs, torch.zeros(4, 10, 10))
    # Load Image's MASK of an opaque image is an empty 64x64 mask: the message names the fix
    with pytest.raises(ValueError, match=r"64x64 .*Load Image \(as Mask\)"):
        nodes.VeditRemove().run(imgs, torch.zeros(1, 64, 64))
    with pytest.raises(ValueError, match="3 masks for 4 frames"):
        nodes.VeditRemove().run(imgs, torch.zeros(3, 64, 96))
    with pytest.raises(ValueError, match="IMAGE"):
        nodes.VeditRemove().run(torch.zeros(64, 96), torch.zeros(64, 96))


def test_remove_shapes_and_untouched_pixels(nodes):
    imgs = pan_batch(10)
    mask = torch.zeros(1, 64, 96)
    mask[0, 24:44, 36:60] = 1.0
    (out,) = nodes.VeditRemove().run(imgs, mask, engine="propagate", dilate=2)
    assert out.shape == imgs.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    far = np.ones((64, 96), bool)
    far[14:54, 26:70] = False  # well outside the dilated, feathered hole
    o, i = out.numpy(), imgs.numpy()
    assert np.array_equal(o[:, far], i[:, far])
    # the hole is filled with the pan's texture: where another frame saw the
    # spot (the pan moves the world 2 px a frame) it is copied back exactly;
    # the strip no frame saw is a plausible guess
    inside = (mask[0].numpy() > 0)
    err = np.abs(o - i).mean(-1)
    xs = np.arange(96)
    seen = np.zeros((10, 96), bool)
    for t in range(10):
        for s in range(10):
            x = xs + 2 * (t - s)  # where frame s shows what frame t shows at xs
            seen[t] |= ((x < 32) | (x >= 64)) & (x >= 0) & (x < 96)
    rev = inside[None] & seen[:, None, :]
    assert rev.sum() > 500
    assert err[rev].mean() < 0.02
    assert err[:, inside].mean() < 0.2


def test_replace_background_with_matte(nodes):
    imgs = pan_batch(6)
    matte = torch.zeros(6, 64, 96)
    matte[:, 16:56, 30:70] = 1.0
    (out,) = nodes.VeditReplaceBackground().run(imgs, color="#ff0000", matte=matte, light_wrap=0.0)
    assert out.shape == imgs.shape and out.dtype == torch.float32
    o, i = out.numpy(), imgs.numpy()
    core = np.zeros((64, 96), bool)
    core[18:54, 32:68] = True  # the subject (given matte, used as is): exact input floats, not re-quantised
    assert np.array_equal(o[:, core], i[:, core])
    bgpix = np.ones((64, 96), bool)
    bgpix[8:62, 22:78] = False
    red = o[:, bgpix]
    assert red[..., 0].mean() > 0.9 and red[..., 1].mean() < 0.1 and red[..., 2].mean() < 0.1


def test_matte_track_shapes(nodes):
    n, h, w = 8, 64, 96
    base = pan_batch(1, h, w, seed=3).numpy()[0] * 0.3
    frames = np.repeat(base[None], n, 0)
    for t in range(n):  # a bright square moving right over a static background
        frames[t, 20:44, 10 + 3 * t: 34 + 3 * t] = 0.95
    key = torch.zeros(h, w)
    key[20:44, 10:34] = 1.0
    m, low, conf = nodes.VeditMatte().run(torch.from_numpy(frames), source="track", frame=0, keyframe_mask=key)
    assert tuple(m.shape) == (n, h, w) and m.dtype == torch.float32
    # the tracker's per-frame confidence comes out with the matte (a keyframe is sure of itself)
    conf = json.loads(conf)
    assert len(conf) == n and conf[0] == 1.0 and low == min(conf) and all(0.0 <= c <= 1.0 for c in conf)
    last = m[-1].numpy()
    assert last[26:38, 10 + 3 * 7 + 4: 34 + 3 * 7 - 4].mean() > 0.8  # follows the square
    assert last[26:38, 0:8].mean() < 0.2


def test_animate_parallax_shapes(nodes):
    img = pan_batch(1, 64, 96)
    (frames,) = nodes.VeditAnimate().run(img, engine="parallax", duration=0.5, fps=12.0, camera="pan-left")
    assert tuple(frames.shape) == (6, 64, 96, 3) and frames.dtype == torch.float32
    assert torch.isfinite(frames).all()
    assert (frames[-1] - frames[0]).abs().mean() > 1e-3  # the camera moved


def test_forms_follow_the_op_definitions(nodes):
    """The node widgets are generated from the ops' params: same choices,
    defaults and ranges as the CLI."""
    from vedit.engines import names
    from vedit.ops import get_def

    remove = nodes.VeditRemove.INPUT_TYPES()["required"]
    assert remove["engine"][0] == list(names("inpaint"))
    assert remove["dilate"] == ("INT", {"tooltip": get_def("remove")["dilate"].help, "default": 3, "min": 0, "max": 64})
    animate = nodes.VeditAnimate.INPUT_TYPES()["required"]
    assert animate["camera"][0] == list(get_def("animate")["camera"].choices)
    assert {"pan-up", "pan-down"} <= set(animate["camera"][0])
    wrap = nodes.VeditReplaceBackground.INPUT_TYPES()["optional"]["light_wrap"][1]
    assert (wrap["default"], wrap["min"], wrap["max"]) == (0.3, 0, 1)
