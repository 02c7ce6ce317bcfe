"""Cross-frame attention for temporally consistent diffusion (after
Text2Video-Zero): the self-attention layers of the UNet also attend to a
reference keyframe's keys and values, so every frame draws its appearance from
the same source.

The reference is denoised first in ``record`` mode: each self-attention layer
stores its keys/values per denoising step. Later frames run in ``attend`` mode:
their keys/values are their own concatenated with the reference's at the same
step (a frame keeps its own context and borrows the reference's appearance).
Cross-attention (text) and the VAE are untouched.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F


class CrossFrameState:
    """Shared by all processors of one UNet: the mode, the current step and
    the recorded reference keys/values ``{(step, layer): (k, v)}``.

    ``cache_dtype`` stores the reference at reduced precision (float16 halves
    the memory of a full-size UNet's cache); ``cache_device`` may be 'cpu' to
    keep it off a small GPU.
    """

    def __init__(self, cache_dtype=torch.float16, cache_device=None):
        self.mode = "off"      # 'off' | 'record' | 'attend'
        self.step = 0
        self.cache: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache_dtype = cache_dtype
        self.cache_device = cache_device

    @property
    def has_reference(self) -> bool:
        return bool(self.cache)

    def clear(self) -> None:
        self.cache.clear()

    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in self.cache.values())

    def put(self, layer: str, k: torch.Tensor, v: torch.Tensor) -> None:
        dev = self.cache_device or k.device
        self.cache[(self.step, layer)] = (k.detach().to(dev, self.cache_dtype), v.detach().to(dev, self.cache_dtype))

    def get(self, layer: str, like: torch.Tensor):
        kv = self.cache.get((self.step, layer))
        if kv is None:
            return None
        k, v = (t.to(like.device, like.dtype) for t in kv)
        b = like.shape[0]
        if k.shape[0] != b:
            if b % k.shape[0]:
                return None
            # classifier-free guidance batches are [uncond]*n + [cond]*n
            k = k.repeat_interleave(b // k.shape[0], dim=0)
            v = v.repeat_interleave(b // v.shape[0], dim=0)
        return k, v


class CrossFrameAttnProcessor:
    """Scaled-dot-product attention that records or borrows a reference
    frame's keys/values in self-attention layers."""

    def __init__(self, state: CrossFrameState, name: str):
        self.state = state
        self.name = name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 *args, **kwargs):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch = hidden_states.shape[0]
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        is_self = encoder_hidden_states is None
        if is_self:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)

        mode = self.state.mode
        if is_self and mode == "record":
            self.state.put(self.name, key, value)
        elif is_self and mode == "attend":
            ref = self.state.get(self.name, key)
            if ref is not None:
                key = torch.cat([key, ref[0]], dim=1)
                value = torch.cat([value, ref[1]], dim=1)
                attention_mask = None  # self-attention in these UNets is unmasked

        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, key.shape[1], batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=0.0,
                                             is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


@contextmanager
def cross_frame_attention(unet, state: CrossFrameState):
    """Install cross-frame processors on the UNet's self-attention layers
    (``...attn1``) for the duration of the block; restore the originals after."""
    original = dict(unet.attn_processors)
    procs = {name: (CrossFrameAttnProcessor(state, name[: -len(".processor")])
                    if name.endswith("attn1.processor") else proc)
             for name, proc in original.items()}
    unet.set_attn_processor(procs)
    try:
        yield state
    finally:
        unet.set_attn_processor(original)
