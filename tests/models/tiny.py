"""Tiny random models built by the tests themselves (no hub, no download):
image-to-video pipelines (SVD, LTX-Video) and a SAM checkpoint, each saved to
a folder and loaded back through vedit's real loading code. The tiny SD / SDXL
inpainting pipelines come from ``vedit.models.dummy`` (the benchmarks use them
too). Built once per session by the fixtures in ``tests/conftest.py``."""
from __future__ import annotations

from pathlib import Path


def build_tiny_svd(folder: Path) -> Path:
    """A Stable-Video-Diffusion-shaped pipeline with random weights: UNet
    (32, 64) channels, a 4-block temporal-decoder VAE (latents 1/8 of the
    image), a tiny CLIP vision encoder."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32)
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32, 32, 32], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, latent_channels=4, layers_per_block=1)
    torch.manual_seed(0)
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32))
    fe = CLIPImageProcessor(crop_size={"height": 224, "width": 224}, size={"shortest_edge": 224})
    sched = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                   interpolation_type="linear", num_train_timesteps=1000,
                                   prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
                                   steps_offset=1, timestep_spacing="leading", timestep_type="continuous",
                                   use_karras_sigmas=True)
    pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=enc, unet=unet, scheduler=sched, feature_extractor=fe)
    pipe.save_pretrained(str(folder))
    return folder


def build_tiny_ltx(folder: Path) -> Path:
    """An LTX-Video image-to-video pipeline with random weights and a tiny
    T5 (tokenizer built from an in-memory unigram vocabulary)."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -2.0) for c in "abcdefghijklmnopqrstuvwxyz▁"]
    tok = T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=64)
    torch.manual_seed(0)
    enc = T5EncoderModel(T5Config(vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4,
                                  decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=32)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
                                decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
                                decoder_layers_per_block=(1, 1, 1, 1, 1),
                                spatio_temporal_scaling=(True, True, False, False),
                                decoder_spatio_temporal_scaling=(True, True, False, False),
                                decoder_inject_noise=(False, False, False, False, False),
                                upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
                                timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True,
                                decoder_causal=False)
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    pipe = LTXImageToVideoPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=enc,
                                   tokenizer=tok, transformer=transformer)
    pipe.save_pretrained(str(folder))
    return folder


def build_tiny_sam(path: Path) -> Path:
    """A SAM ViT checkpoint with random weights: 32-wide image encoder, two
    blocks, two heads (the plumbing, not segmentation quality)."""
    import torch
    from segment_anything.build_sam import _build_sam

    torch.manual_seed(0)
    sam = _build_sam(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1])
    torch.save(sam.state_dict(), path)
    return path
