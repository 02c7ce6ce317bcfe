"""The SAM 2 video predictor engine, run on a random-weight tiny model built
here from a config written by the test (no downloads): chunked propagation,
each chunk re-seeded from the previous one's last mask, frames before the
prompt propagated backwards, output size and count."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.errors import InvalidInputError
from vedit.io import open_clip
from vedit.masks.person import matte_pipeline
from vedit.masks.sam2_video import Sam2MatteSource

from .conftest import texture, write_seq

pytest.importorskip("sam2")
torch = pytest.importorskip("torch")

#: a SAM 2 model small enough to build and run in a second on a CPU: 8-wide
#: Hiera, 32-wide heads, 128 px input, a memory bank of 3 frames
TINY = """
model:
  _target_: sam2.modeling.sam2_base.SAM2Base
  image_encoder:
    _target_: sam2.modeling.backbones.image_encoder.ImageEncoder
    scalp: 1
    trunk:
      _target_: sam2.modeling.backbones.hieradet.Hiera
      embed_dim: 8
      num_heads: 1
      stages: [1, 1, 2, 1]
      global_att_blocks: [3]
      window_spec: [4, 4, 4, 4]
      window_pos_embed_bkg_spatial_size: [4, 4]
    neck:
      _target_: sam2.modeling.backbones.image_encoder.FpnNeck
      position_encoding:
        _target_: sam2.modeling.position_encoding.PositionEmbeddingSine
        num_pos_feats: 32
        normalize: true
        scale: null
        temperature: 10000
      d_model: 32
      backbone_channel_list: [64, 32, 16, 8]
      fpn_top_down_levels: [2, 3]
      fpn_interp_model: nearest
  memory_attention:
    _target_: sam2.modeling.memory_attention.MemoryAttention
    d_model: 32
    pos_enc_at_input: true
    layer:
      _target_: sam2.modeling.memory_attention.MemoryAttentionLayer
      activation: relu
      dim_feedforward: 64
      dropout: 0.0
      pos_enc_at_attn: false
      self_attention:
        _target_: sam2.modeling.sam.transformer.RoPEAttention
        rope_theta: 10000.0
        feat_sizes: [8, 8]
        embedding_dim: 32
        num_heads: 1
        downsample_rate: 1
        dropout: 0.0
      d_model: 32
      pos_enc_at_cross_attn_keys: true
      pos_enc_at_cross_attn_queries: false
      cross_attention:
        _target_: sam2.modeling.sam.transformer.RoPEAttention
        rope_theta: 10000.0
        feat_sizes: [8, 8]
        rope_k_repeat: True
        embedding_dim: 32
        num_heads: 1
        downsample_rate: 1
        dropout: 0.0
        kv_in_dim: 16
    num_layers: 1
  memory_encoder:
    _target_: sam2.modeling.memory_encoder.MemoryEncoder
    out_dim: 16
    position_encoding:
      _target_: sam2.modeling.position_encoding.PositionEmbeddingSine
      num_pos_feats: 16
      normalize: true
      scale: null
      temperature: 10000
    mask_downsampler:
      _target_: sam2.modeling.memory_encoder.MaskDownSampler
      kernel_size: 3
      stride: 2
      padding: 1
      embed_dim: 32
    fuser:
      _target_: sam2.modeling.memory_encoder.Fuser
      layer:
        _target_: sam2.modeling.memory_encoder.CXBlock
        dim: 32
        kernel_size: 7
        padding: 3
        layer_scale_init_value: 1e-6
        use_dwconv: True
      num_layers: 1
    in_dim: 32
  num_maskmem: 3
  image_size: 128
  sigmoid_scale_for_mem_enc: 20.0
  sigmoid_bias_for_mem_enc: -10.0
  use_mask_input_as_output_without_sam: true
  directly_add_no_mem_embed: true
  no_obj_embed_spatial: true
  use_high_res_features_in_sam: true
  multimask_output_in_sam: true
  iou_prediction_use_sigmoid: True
  use_obj_ptrs_in_encoder: true
  add_tpos_enc_to_obj_ptrs: true
  proj_tpos_enc_in_obj_ptrs: true
  use_signed_tpos_enc_to_obj_ptrs: true
  only_obj_ptrs_in_the_past_for_eval: true
  pred_obj_scores: true
  pred_obj_scores_mlp: true
  fixed_no_obj_ptr: true
  multimask_output_for_tracking: true
  use_multimask_token_for_obj_ptr: true
  multimask_min_pt_num: 0
  multimask_max_pt_num: 1
  use_mlp_for_obj_ptr_proj: true
  compile_image_encoder: False
"""


@pytest.fixture(scope="module")
def tiny_sam2(tmp_path_factory):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    d = tmp_path_factory.mktemp("sam2")
    cfg = d / "tiny.yaml"
    cfg.write_text(TINY)
    torch.manual_seed(0)
    model = instantiate(OmegaConf.load(cfg).model, _recursive_=True)
    ckpt = d / "tiny.pt"
    torch.save({"model": model.state_dict()}, ckpt)
    return str(ckpt), str(cfg)


@pytest.fixture
def square_clip(tmp_path):
    """11 frames 96x64: a bright square moving right over texture."""
    bg = texture(64, 96, seed=3)
    frames = []
    for i in range(11):
        f = bg.copy()
        f[20:44, 10 + 4 * i:34 + 4 * i] = (230, 200, 40)
        frames.append(f)
    return write_seq(tmp_path / "sq", frames)


class _Spy:
    """Records what the predictor is given: frames per chunk and the mask
    each chunk is seeded with."""

    def __init__(self, predictor):
        self.p = predictor
        self.chunk_frames: list[int] = []
        self.seeds: list[np.ndarray] = []
        self.outputs: list[list[np.ndarray]] = []

    def __getattr__(self, name):
        return getattr(self.p, name)

    def init_state(self, video_path, **kw):
        import os

        self.chunk_frames.append(len(os.listdir(video_path)))
        self.outputs.append([])
        return self.p.init_state(video_path=video_path, **kw)

    def add_new_mask(self, state, frame_idx, obj_id, mask):
        self.seeds.append(np.array(mask, bool))
        return self.p.add_new_mask(state, frame_idx=frame_idx, obj_id=obj_id, mask=mask)

    def propagate_in_video(self, state, **kw):
        for idx, ids, logits in self.p.propagate_in_video(state, **kw):
            self.outputs[-1].append((logits[0, 0] > 0).cpu().numpy())
            yield idx, ids, logits


def test_sam2_chunks_reseeded_from_last_mask(tiny_sam2, square_clip):
    ckpt, cfg = tiny_sam2
    clip = open_clip(str(square_clip))
    src = Sam2MatteSource(checkpoint=ckpt, config=cfg, box=(10, 20, 24, 24), frame=0, chunk=4)
    src.check(clip)
    spy = src.predictor = _Spy(src.predictor)
    out = list(src.stream(clip))
    assert len(out) == 11
    assert all(f.shape == (64, 96, 3) and a.shape == (64, 96) and a.dtype == np.float32 for f, a in out)
    # 11 frames, chunks of 4 overlapping by one frame: 4 + 3 + 3 + 3 (never more than 4 held)
    assert spy.chunk_frames == [4, 4, 4, 2]
    # every chunk after the first is seeded with the previous chunk's last mask,
    # and the frames yielded are the chunks' masks without the repeated seed frame
    assert len(spy.seeds) == 3
    for prev, seed in zip(spy.outputs, spy.seeds):
        assert np.array_equal(prev[-1], seed)
    expect = spy.outputs[0] + [m for o in spy.outputs[1:] for m in o[1:]]
    assert all(np.array_equal(a > 0.5, m) for (_, a), m in zip(out, expect))


def test_sam2_prompt_mid_shot_goes_both_ways(tiny_sam2, square_clip):
    """A prompt on frame 5: frames 0-4 are propagated backwards from it, 6-10
    forwards; the pipeline writes one matte per frame at the clip's size."""
    ckpt, cfg = tiny_sam2
    clip = open_clip(str(square_clip))
    src = Sam2MatteSource(checkpoint=ckpt, config=cfg, box=(30, 20, 24, 24), frame=5, chunk=3)
    src.check(clip)
    spy = src.predictor = _Spy(src.predictor)
    alphas = list(matte_pipeline(clip, src, refine=False, smooth=False))
    assert len(alphas) == 11 and all(a.shape == (64, 96) for a in alphas)
    # backwards 6 frames (5..0) in chunks of 3: 3 + 3 (overlap) ; forwards 6 frames (5..10): 3 + 3 + 2
    assert spy.chunk_frames == [3, 3, 2, 3, 3, 2]
    assert all(c <= 3 for c in spy.chunk_frames)


def test_sam2_points_prompt_and_errors(tiny_sam2, square_clip):
    ckpt, cfg = tiny_sam2
    clip = open_clip(str(square_clip))
    src = Sam2MatteSource(sam_checkpoint=ckpt, config=cfg, points=[(20, 30)], chunk=6)
    src.check(clip)
    assert len(list(src.stream(clip))) == 11
    with pytest.raises(InvalidInputError, match="file not found"):
        Sam2MatteSource(checkpoint=str(square_clip / "none.pt"), config=cfg, box=(1, 1, 9, 9)).check(clip)
    with pytest.raises(InvalidInputError, match="at least 2"):
        Sam2MatteSource(checkpoint=ckpt, config=cfg, box=(1, 1, 9, 9), chunk=1)
    bad = square_clip.parent / "other.pt"
    torch.save({"model": {"nothing": torch.zeros(1)}}, bad)
    with pytest.raises(InvalidInputError, match="does not match config"):
        Sam2MatteSource(checkpoint=str(bad), config=cfg, box=(1, 1, 9, 9)).check(clip)


def _vedit(*args):
    from click.testing import CliRunner

    from vedit_cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_sam2_engine_from_the_cli(tiny_sam2, square_clip, tmp_path):
    """``vedit matte --engine sam2`` runs the registered engine on the tiny
    model: one grey matte per input frame, at the input's size, the same as
    the Python API gives with the same chunking."""
    import cv2

    from vedit.masks import matte_stream

    ckpt, cfg = tiny_sam2
    out = tmp_path / "matte"
    r = _vedit("matte", square_clip, "--engine", "sam2", "--box", "10,20,24,24", "--sam2-checkpoint", ckpt,
               "--sam2-config", cfg, "--chunk-size", "4", "-q", "-o", f"{out}/")
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("*.png"))
    assert len(files) == 11
    api = matte_stream(open_clip(str(square_clip)), "sam2", box=[10, 20, 24, 24], sam2_checkpoint=ckpt,
                       sam2_config=cfg, chunk_size=4)
    for f, a in zip(files, api):
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        assert img.shape[:2] == (64, 96) and img.dtype == np.uint8
        grey = img if img.ndim == 2 else img[:, :, 0]
        assert np.array_equal(grey, np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8))


def test_sam2_engine_errors_are_one_line(tiny_sam2, square_clip, tmp_path, monkeypatch):
    ckpt, cfg = tiny_sam2
    base = ("matte", square_clip, "--box", "10,20,24,24", "-o", f"{tmp_path / 'm'}/")

    def one_line(r, *words):
        lines = r.output.strip().splitlines()
        assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("ERROR: "), r.output
        assert all(w in lines[0] for w in words), lines[0]
        assert "Traceback" not in r.output

    # no weights: asked for, by name
    one_line(_vedit(*base, "--engine", "sam2"), "--sam2-checkpoint is required")
    one_line(_vedit(*base, "--engine", "sam2", "--sam2-checkpoint", tmp_path / "none.pt"), "--sam2-checkpoint",
             "not found")
    # an unpublished checkpoint name needs its config; a config that is nowhere is refused
    one_line(_vedit(*base, "--engine", "sam2", "--sam2-checkpoint", ckpt), "--sam2-config is needed")
    one_line(_vedit(*base, "--engine", "sam2", "--sam2-checkpoint", ckpt, "--sam2-config", "configs/none.yaml"),
             "--sam2-config configs/none.yaml")
    # the engine's params with another engine
    one_line(_vedit(*base, "--sam2-checkpoint", ckpt), "--sam2-checkpoint applies to engine sam2 only",
             "--engine sam2")
    # without the sam2 package: the registry names the extra to install
    from vedit.engines import get_spec

    monkeypatch.setattr(type(get_spec("matte", "sam2")), "missing", lambda self: ["sam2"] if self.name == "sam2"
                        else [])
    one_line(_vedit(*base, "--engine", "sam2", "--sam2-checkpoint", ckpt, "--sam2-config", cfg),
             'pip install "vedit-toolkit[sam2]"')


def test_sam2_config_from_published_checkpoint_names(tmp_path):
    from vedit.masks.sam2_video import config_for

    assert config_for("/m/sam2.1_hiera_large.pt", None) == "configs/sam2.1/sam2.1_hiera_l.yaml"
    assert config_for("/m/sam2_hiera_base_plus.pt", None) == "configs/sam2/sam2_hiera_b+.yaml"
    assert config_for("/m/any.pt", "configs/sam2.1/sam2.1_hiera_s.yaml") == "configs/sam2.1/sam2.1_hiera_s.yaml"
    with pytest.raises(InvalidInputError, match="--sam2-config is needed"):
        config_for("/m/mine.pt", None)


def test_sam2_job_params_checked_at_submit(tiny_sam2, square_clip):
    """The job server's check (the op's own definition) refuses a sam2 job
    without weights before any work, naming the param."""
    from vedit.ops.matte import OP
    from vedit.ops.params import ParamError

    ckpt, cfg = tiny_sam2
    with pytest.raises(ParamError) as ei:
        OP.resolve({"engine": "sam2", "box": [10, 20, 24, 24]}, job=True)
    assert ei.value.param == "sam2_checkpoint"
    v = OP.resolve({"engine": "sam2", "box": [10, 20, 24, 24], "sam2_checkpoint": ckpt,
                    "sam2_config": "nowhere.yaml"}, job=True)
    with pytest.raises(ParamError) as ei:
        OP.check_inputs(str(square_clip), str(square_clip.parent / "o") + "/", v, job=True)
    assert ei.value.param == "sam2_config" and "params.sam2_config" in str(ei.value)
    v = OP.resolve({"engine": "sam2", "box": [10, 20, 24, 24], "sam2_checkpoint": ckpt, "sam2_config": cfg,
                    "chunk_size": 4}, job=True)
    OP.check_inputs(str(square_clip), str(square_clip.parent / "o") + "/", v, job=True)
