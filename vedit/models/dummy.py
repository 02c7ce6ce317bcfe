"""Random-weight pipelines for tests and benchmarks (no download): the tiny
configuration diffusers' own tests use, with a four-block VAE so latents are
1/8 of the image as in real models, a tiny CLIP text model and a tokenizer
written from a small local vocabulary; and a full-size SD 1.5 inpainting UNet
+ VAE configuration (random weights) to measure real compute cost."""
from __future__ import annotations

import json
import string
from pathlib import Path


def _tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    toks = ["<|startoftext|>", "<|endoftext|>", "!", ",", ".", "'"]
    for c in string.ascii_lowercase + string.digits:
        toks += [c, c + "</w>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(toks)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def _text_encoder(hidden: int, layers: int, projection: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=hidden,
                         intermediate_size=hidden * 2, num_attention_heads=4, num_hidden_layers=layers,
                         layer_norm_eps=1e-5, vocab_size=100, hidden_act="gelu",
                         projection_dim=projection or hidden)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def build_pipeline(size: str = "tiny", seed: int = 0, xl: bool = False, in_channels: int = 9,
                   sample_size: int = 8, workdir: str | Path | None = None):
    """A random-weight inpainting pipeline. ``size``: 'tiny' (UNet (32, 64)
    channels; native image side = ``sample_size`` * 8) or 'sd15' (the SD 1.5
    UNet/VAE configuration at 512, with a one-layer 768-wide text encoder:
    the text encoder runs once per prompt so it does not change the cost).
    ``workdir`` holds the tokenizer files (a temp dir when None)."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline, UNet2DConditionModel

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="vedit-tok-"))
    torch.manual_seed(seed)
    if size == "tiny":
        unet_kw = dict(block_out_channels=(32, 64), layers_per_block=1, sample_size=sample_size,
                       down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                       up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), norm_num_groups=8,
                       attention_head_dim=(2, 4))
        vae_kw = dict(block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=8,
                      sample_size=sample_size * 8)
        hidden = 32
    elif size == "sd15":
        unet_kw = dict(sample_size=64, attention_head_dim=8)
        vae_kw = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512)
        hidden = 768
    else:
        raise ValueError(f"size {size!r}: choose tiny or sd15")
    if xl:
        unet_kw.update(addition_embed_type="text_time", addition_time_embed_dim=8,
                       projection_class_embeddings_input_dim=6 * 8 + hidden,
                       transformer_layers_per_block=(1, 2) if size == "tiny" else 1,
                       use_linear_projection=True)
        cross = 2 * hidden
    else:
        cross = hidden
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(in_channels=in_channels, out_channels=4, cross_attention_dim=cross, **unet_kw)
    torch.manual_seed(seed)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        **vae_kw)
    torch.manual_seed(seed)
    tok = _tokenizer(work / "tokenizer")
    if xl:
        te1 = _text_encoder(hidden, 2)
        torch.manual_seed(seed + 1)
        te2 = _text_encoder(hidden, 2, projection=hidden)
        return StableDiffusionXLInpaintPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok,
                                                tokenizer_2=tok, unet=unet, scheduler=_scheduler(),
                                                requires_aesthetics_score=False, force_zeros_for_empty_prompt=True)
    te = _text_encoder(hidden, 2 if size == "tiny" else 1)
    return StableDiffusionInpaintPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=_scheduler(),
                                          safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)


def save_dummy(path: str | Path, **kwargs) -> Path:
    """Build a random pipeline and ``save_pretrained`` it to ``path``."""
    path = Path(path)
    pipe = build_pipeline(workdir=path.parent / (path.name + "-tok"), **kwargs)
    pipe.save_pretrained(str(path))
    return path
