"""The diffusion engine on real pixels with a tiny random model."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vedit.engines.inpaint_diffusion import DiffusionInpaintEngine, naive_per_frame
from vedit.errors import InvalidInputError, MissingWeightsError
from vedit.testing import textured

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
# no user model dirs or config; tiny models on one torch thread
pytestmark = pytest.mark.usefixtures("isolated_home", "one_torch_thread")

STEPS = 3


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


def run(model, frames, masks, seed=0, **kw):
    eng = DiffusionInpaintEngine(str(model), steps=kw.pop("steps", STEPS), **kw)
    out = eng.inpaint(frames, masks, seed=seed)
    res = list(out.frames)
    return res, out.stats


def region(mask, grow=5):
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate((mask > 127).astype(np.uint8), k) > 0


class UnetCounter:
    """Counts real UNet forward calls (one per denoising step and frame)."""

    def __init__(self, unet):
        self.calls = 0
        self.h = unet.register_forward_hook(self)

    def __call__(self, *a):
        self.calls += 1

    def close(self):
        self.h.remove()


def test_shape_and_outside_invariance(tiny_model_dir, pan_clip):
    frames, masks = pan_clip
    out, stats = run(tiny_model_dir, frames, masks)
    assert len(out) == len(frames) and stats["frames"] == len(frames)
    for f, o, m in zip(frames, out, masks):
        assert o.shape == f.shape and o.dtype == np.uint8
        outside = ~region(m)
        assert np.array_equal(o[outside], f[outside])
    # the hole was filled with the background seen in other frames, not left as input
    assert any(not np.array_equal(o[m > 127], f[m > 127]) for o, f, m in zip(out, frames, masks))
    # a pan reveals everything: any generation is limited to keyframes
    assert stats["unet_evals"] <= stats["keyframes"] * STEPS < len(frames) * STEPS


def test_static_shot_generates_one_keyframe(tiny_model_dir):
    """Static camera + static mask: nothing is ever revealed, so the model
    runs on exactly one keyframe and every frame shows the same fill."""
    from vedit.models import load_inpaint_pipeline

    rng = np.random.default_rng(1)
    base = cv2.resize(rng.integers(0, 255, (12, 16, 3)).astype(np.uint8), (128, 96), interpolation=cv2.INTER_CUBIC)
    frames = [base.copy() for _ in range(10)]
    mask = np.zeros((96, 128), np.uint8)
    mask[28:64, 40:84] = 255
    for f in frames:
        f[mask > 0] = (255, 0, 255)  # the object to remove
    counter = UnetCounter(load_inpaint_pipeline(str(tiny_model_dir)).pipe.unet)
    try:
        out, stats = run(tiny_model_dir, frames, [mask] * 10)
    finally:
        counter.close()
    assert stats["keyframes"] == 1
    assert counter.calls == stats["unet_evals"] == STEPS  # vs 10 * STEPS for per-frame inpainting
    inside = mask > 0
    assert not np.any(np.all(out[0][inside] == (255, 0, 255), axis=-1))  # object gone
    for o in out[1:]:
        assert np.abs(o.astype(int) - out[0].astype(int))[inside].max() <= 1  # no flicker at all


def test_determinism_and_seed(tiny_model_dir, pan_clip):
    frames, masks = pan_clip
    frames, masks = frames[:6], masks[:6]
    a, _ = run(tiny_model_dir, frames, masks, seed=7, use_prior=False)
    b, _ = run(tiny_model_dir, frames, masks, seed=7, use_prior=False)
    c, _ = run(tiny_model_dir, frames, masks, seed=8, use_prior=False)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_naive_mode_counts_every_frame(tiny_model_dir, pan_clip):
    frames, masks = pan_clip
    frames, masks = frames[:5], masks[:5]
    out, stats = run(tiny_model_dir, frames, masks, use_prior=False, warped_noise=False,
                     cross_frame_attention=False)
    assert stats["unet_evals"] == len(frames) * STEPS
    for f, o, m in zip(frames, out, masks):
        assert np.array_equal(o[~region(m)], f[~region(m)])


def test_refine_pass(tiny_model_dir, pan_clip):
    frames, masks = pan_clip
    frames, masks = frames[:6], masks[:6]
    base, s0 = run(tiny_model_dir, frames, masks, steps=4)
    ref, s1 = run(tiny_model_dir, frames, masks, steps=4, refine=0.5)
    assert s1["unet_evals"] == s0["unet_evals"] + len(frames) * 2
    for b, r, m in zip(base, ref, masks):
        assert np.array_equal(b[~region(m)], r[~region(m)])
    assert any(not np.array_equal(b, r) for b, r in zip(base, ref))


def test_bad_arguments(tiny_model_dir):
    with pytest.raises(InvalidInputError, match="--steps"):
        DiffusionInpaintEngine(str(tiny_model_dir), steps=0)
    with pytest.raises(InvalidInputError, match="--refine"):
        DiffusionInpaintEngine(str(tiny_model_dir), refine=1.5)
    with pytest.raises(InvalidInputError, match="--keyframe-every"):
        DiffusionInpaintEngine(str(tiny_model_dir), keyframe_every=0)
    with pytest.raises(MissingWeightsError, match="not found locally"):
        DiffusionInpaintEngine("acme/missing-model")


def test_registry_builds_engine(tiny_model_dir):
    from vedit.engines import get_engine

    eng = get_engine("inpaint", "diffusion", model=str(tiny_model_dir), steps=2)
    assert isinstance(eng, DiffusionInpaintEngine)


def test_cross_frame_attention_processor():
    from diffusers.models.attention_processor import Attention

    from vedit.engines.attention import CrossFrameAttnProcessor, CrossFrameState

    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8)
    state = CrossFrameState(cache_dtype=torch.float32)
    proc = CrossFrameAttnProcessor(state, "x")
    a, b = torch.randn(1, 10, 16), torch.randn(1, 10, 16)
    plain = attn.processor(attn, a)
    state.mode = "record"
    rec = proc(attn, a)
    assert torch.allclose(rec, plain, atol=1e-5)  # recording does not change the frame
    state.mode = "attend"
    # attending to a copy of itself is the same attention (duplicated keys)
    assert torch.allclose(proc(attn, a), plain, atol=1e-5)
    # attending to another frame borrows its values
    assert not torch.allclose(proc(attn, b), attn.processor(attn, b), atol=1e-3)
    # cross-attention (text) is untouched
    state.mode = "attend"
    ctx = torch.randn(1, 5, 16)
    assert torch.allclose(proc(attn, b, encoder_hidden_states=ctx), attn.processor(attn, b, encoder_hidden_states=ctx),
                          atol=1e-5)


def test_warped_noise_follows_motion():
    from vedit.engines.noise import WarpedNoise

    wn = WarpedNoise(3, 4, (128, 96), cell=8.0)
    base = wn.sample((16, 16, 80, 80), (8, 8))
    assert abs(float(base.std()) - 1.0) < 0.3
    # this frame is the reference shifted right by one cell: x_ref = x + 8
    H = np.array([[1, 0, 8.0], [0, 1, 0], [0, 0, 1]])
    moved = wn.sample((16, 16, 80, 80), (8, 8), H)
    assert torch.equal(moved[..., :, :-1], base[..., :, 1:])
    assert torch.equal(wn.sample((16, 16, 80, 80), (8, 8)), base)  # deterministic


def _score(tools, out_dir, gt_dir, mask_dir):
    r = subprocess.run([sys.executable, str(tools / "score.py"), str(out_dir), str(gt_dir), str(mask_dir)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_flicker_far_below_per_frame_on_real_clip(tiny_model_dir, shared_media, shared_tools, tmp_path):
    """Keyframes + propagation vs the diffusers pipeline on every frame, same
    tiny model, scored by the shared score.py on a make_case.py case."""
    from vedit.models import load_inpaint_pipeline

    n = 16
    case = tmp_path / "case"
    subprocess.run([sys.executable, str(shared_tools / "make_case.py"), str(shared_media / "bmx-trees"),
                    str(case), "--seed", "3", "--frames", str(n)], check=True, capture_output=True)
    read = lambda d: [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((case / d).glob("*.png"))]  # noqa: E731
    frames = read("input")
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((case / "mask").glob("*.png"))]

    def save(name, outs):
        d = tmp_path / name
        d.mkdir()
        for i, o in enumerate(outs):
            cv2.imwrite(str(d / f"{i:05d}.png"), cv2.cvtColor(o, cv2.COLOR_RGB2BGR))
        return d

    ours, stats = run(tiny_model_dir, frames, masks, steps=2)
    pipe = load_inpaint_pipeline(str(tiny_model_dir)).pipe
    naive = list(naive_per_frame(pipe, frames, masks, steps=2, seed=0))
    s_ours = _score(shared_tools, save("ours", ours), case / "gt", case / "mask")
    s_naive = _score(shared_tools, save("naive", naive), case / "gt", case / "mask")
    print("flicker ours", s_ours, "naive", s_naive, "unet evals", stats["unet_evals"], "vs", n * 2)
    assert s_ours["flicker"] < 0.5 * s_naive["flicker"]
    assert stats["unet_evals"] <= n * 2 / 2  # at least 2x fewer even on 16 frames (80 frames: ~11x, bench)


def test_progress_and_cancel_during_generation(tiny_model_dir):
    from vedit.errors import JobCancelled

    frames = [np.full((64, 64, 3), 100, np.uint8) for _ in range(4)]
    mask = np.zeros((64, 64), np.uint8)
    mask[20:44, 20:44] = 255
    seen = []

    def cb(done, total, stage):
        seen.append(stage)
        if stage.startswith("keyframe step 2"):
            raise JobCancelled("cancelled")

    eng = DiffusionInpaintEngine(str(tiny_model_dir), steps=4)
    with pytest.raises(JobCancelled):
        list(eng.inpaint(frames, [mask] * 4, callback=cb).frames)
    assert "keyframe step 1/4" in seen and eng.stats["unet_evals"] == 2
