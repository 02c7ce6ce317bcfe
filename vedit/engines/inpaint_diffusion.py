"""``diffusion``: temporally consistent latent inpainting (DESIGN §4).

1. The ``propagate`` engine fills everything another frame saw and asks for a
   fill only on keyframes (largest never-seen area, at least every K frames).
2. Keyframes are inpainted in latent space by a diffusers model at its native
   size on a crop around the hole, with one shared noise field warped along
   the motion between keyframes (``vedit.engines.noise``) and cross-frame
   attention to the first keyframe (``vedit.engines.attention``).
3. The propagate engine carries keyframe fills to every frame and blends.
4. Optional refine pass: low-strength denoising of the hole per frame with the
   same warped noise and cross-frame attention, blended at the hole edge.
5. Only the masked region changes.

Each consistency device is a switch (``use_prior``, ``warped_noise``,
``cross_frame_attention``) so its effect can be measured; with all three off
this is plain per-frame inpainting. ``stats['unet_evals']`` counts UNet
evaluations per frame latent (a classifier-free-guidance pair counts once,
as it does for the diffusers pipelines).
"""
from __future__ import annotations

import inspect
import math
from collections import deque
from collections.abc import Sized
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TypedDict

import cv2
import numpy as np

from vedit.engines.base import InpaintOutput, ProgressCallback, report
from vedit.errors import InvalidInputError

if TYPE_CHECKING:  # torch and the engines built on it are imported when a run starts
    import torch

    from vedit.engines.noise import WarpedNoise
    from vedit.flow import FlowEstimator


class _PropagateKw(TypedDict):
    """What this engine passes on to the ``propagate`` engine."""

    chunk_size: int
    overlap: int
    flow_preset: str
    dilate: int
    refine: int
    max_keyframes: int


@dataclass
class _Canvas:
    """Generated pixels so far, in the reference keyframe's coordinates plus
    a margin (``T`` maps reference coordinates into the canvas)."""

    img: np.ndarray    # HxWx3 uint8
    known: np.ndarray  # HxW uint8, 1 where a keyframe wrote
    T: np.ndarray      # 3x3 float64


class DiffusionInpaintEngine:
    """Latent diffusion inpainting on keyframes, propagated through the shot.

    Args:
        model: diffusers model folder, model-dir name or cached HF id (None:
            config default / VEDIT_MODEL_DIR / first local inpainting model),
            or an already-built diffusers inpainting pipeline object.
        prompt, negative_prompt: text; '' removes (fills with background).
        steps: denoising steps per generated frame.
        guidance: classifier-free guidance scale (<= 1 turns it off).
        keyframe_every: K; a keyframe's fill travels at most K frames.
        refine: strength of the per-frame refine pass (0 = off, 0.2-0.4 typical).
        offload: model CPU offload (CUDA only).
        device, dtype: None = CPU float32, or CUDA/MPS fp16 when present.
        warped_noise, cross_frame_attention, use_prior: consistency switches.
        resolution: processing side (None: the model's native size).
        context: crop margin around the hole as a fraction of its size.
        keyframe_strength: denoising strength of a later keyframe whose hole
            earlier keyframes' fills (kept in the reference keyframe's
            coordinates, warped onto it) fully cover: it starts from them, so
            keyframes agree; strength rises to 1 as that coverage falls.
        min_area: keyframe holes smaller than this (pixels; 64 = one latent
            cell) after the first keyframe are filled from earlier keyframes'
            fills or spatially, without the model.
        chain_motion: map keyframes to the reference through homographies
            chained frame to frame (else one direct flow per keyframe).
        chunk_size, overlap, flow_preset, dilate: passed to the propagate engine.
    """

    name = "diffusion"
    family = "inpaint"

    def __init__(self, model=None, prompt: str = "", negative_prompt: str = "", steps: int = 20,
                 guidance: float = 7.5, keyframe_every: int = 10, refine: float = 0.0, offload: bool = False,
                 device=None, dtype=None, warped_noise: bool = True, cross_frame_attention: bool = True,
                 use_prior: bool = True, resolution: int | None = None, context: float = 0.5,
                 chunk_size: int = 80, overlap: int = 10, flow_preset: str = "fast", dilate: int = 3,
                 vae_tiling: bool | None = None, keyframe_strength: float = 0.5, min_area: int = 64,
                 chain_motion: bool = True, **_ignored):
        # 1. check inputs (cheap, before any model is touched)
        if not isinstance(prompt, str) or not isinstance(negative_prompt, str):
            raise InvalidInputError("--prompt/--negative-prompt must be text")
        if int(steps) != steps or steps < 1 or steps > 1000:
            raise InvalidInputError(f"--steps {steps!r}: must be an integer in 1..1000")
        if not (0.0 <= float(guidance) <= 50.0):
            raise InvalidInputError(f"--guidance {guidance!r}: must be in 0..50 (7.5 is typical)")
        if int(keyframe_every) != keyframe_every or keyframe_every < 1:
            raise InvalidInputError(f"--keyframe-every {keyframe_every!r}: must be a positive integer")
        if not (0.0 <= float(refine) <= 1.0):
            raise InvalidInputError(f"--refine {refine!r}: must be in 0..1 (0 turns it off; 0.3 is typical)")
        if resolution is not None and (int(resolution) != resolution or resolution < 32):
            raise InvalidInputError(f"resolution {resolution!r}: must be an integer >= 32")
        if not (0.0 < float(keyframe_strength) <= 1.0):
            raise InvalidInputError(f"keyframe_strength {keyframe_strength!r}: must be in (0, 1]")
        if not (0.0 <= float(context) <= 4.0):
            raise InvalidInputError(f"context {context!r}: must be in 0..4")
        from vedit.models import diffusion_defaults, resolve_model

        cfg = diffusion_defaults()
        self.pipe_obj = None
        if model is not None and hasattr(model, "unet") and hasattr(model, "vae"):
            # an already-built diffusers pipeline (in-process hosts, benchmarks)
            self.pipe_obj, self.model_info = model, _describe(model)
        else:
            # fail fast (one line, no torch import) when no weights are available
            self.model_info = resolve_model(model)
        self.model = model
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.steps, self.guidance = int(steps), float(guidance)
        self.keyframe_every, self.refine = int(keyframe_every), float(refine)
        self.offload = bool(offload or cfg.get("offload", False))
        self.device = device if device is not None else cfg.get("device")
        self.dtype = dtype if dtype is not None else cfg.get("dtype")
        self.warped_noise, self.cross_frame_attention, self.use_prior = warped_noise, cross_frame_attention, use_prior
        self.resolution, self.context = resolution, float(context)
        self.vae_tiling = vae_tiling
        self.keyframe_strength = float(keyframe_strength)
        self.min_area = max(0, int(min_area))
        self.chain_motion = bool(chain_motion)
        self.propagate_kw = _PropagateKw(chunk_size=int(chunk_size), overlap=int(overlap), flow_preset=flow_preset,
                                         dilate=int(dilate), refine=0, max_keyframes=2)
        self.stats: dict[str, Any] = {}

    # ------------------------------------------------------------------ API
    def inpaint(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], seed: int = 0, device=None,
                dtype=None, chunk_size: int | None = None, callback: ProgressCallback = None,
                total: int | None = None) -> InpaintOutput:
        """Stream-fill ``frames`` (RGB uint8) where ``masks`` (uint8/bool,
        white = regenerate). Returns an InpaintOutput whose ``stats`` fill in
        as frames are consumed (``unet_evals``, ``keyframes``, ``frames``)."""
        from vedit.engines.propagate import PropagateInpaintEngine

        run = _Run(self, seed, device if device is not None else self.device,
                   dtype if dtype is not None else self.dtype)
        self.stats = run.stats
        n_total = total if total is not None else (len(frames) if isinstance(frames, Sized) else 0)
        run.progress = [0, n_total]

        def progress(done, tot, stage):
            run.progress = [done, tot]
            report(callback, done, tot, stage)

        run.callback = callback
        prop = PropagateInpaintEngine(**self.propagate_kw)
        if self.use_prior:
            pending: deque = deque()

            def tee(ms):
                for m in ms:
                    pending.append(m)
                    yield m

            out = prop.inpaint(frames, tee(masks), seed=seed, chunk_size=chunk_size, callback=progress,
                               keyframe_fill=run.keyframe_fill, keyframe_every=self.keyframe_every, total=n_total)
            stream = run.finish(out.frames, pending, prop, callback, n_total)
        else:
            stream = run.per_frame(frames, masks, prop, callback, n_total)
        return InpaintOutput(frames=stream, frame_count=n_total, stats=run.stats)

    def fill_keyframe(self, frame: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
        """Inpaint one frame's ``hole`` (bool) with the model; the rest is
        returned unchanged. Handy for stills and for checking a model."""
        run = _Run(self, seed, self.device, self.dtype)
        out = run.generate(frame, np.asarray(hole, bool), 0)
        self.stats = run.stats
        return out


def _describe(pipe):
    from vedit.models.discovery import ModelInfo

    cls = type(pipe).__name__
    vf = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    sample = pipe.unet.config.sample_size
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return ModelInfo(cls, "", cls, "sdxl" if "XL" in cls else "sd", pipe.unet.config.in_channels == 9,
                     int(sample) * vf, "object")


class _Run:
    """State of one ``inpaint`` call: the loaded model, text embeddings, the
    reference keyframe (noise field, attention cache, image) and counters."""

    def __init__(self, eng: DiffusionInpaintEngine, seed: int, device, dtype):
        import torch

        from vedit.engines.attention import CrossFrameState
        from vedit.models import load_inpaint_pipeline

        self.torch = torch
        self.eng = eng
        self.seed = int(seed)
        tiling = eng.vae_tiling if eng.vae_tiling is not None else bool(eng.resolution and eng.resolution > 1024)
        if eng.pipe_obj is not None:
            from vedit.models.loading import LoadedModel

            p = eng.pipe_obj
            p.set_progress_bar_config(disable=True)
            self.m = LoadedModel(p, eng.model_info, torch.device(p.device), p.unet.dtype, False)
        else:
            self.m = load_inpaint_pipeline(eng.model_info.path, device=device, dtype=dtype, offload=eng.offload,
                                           vae_tiling=tiling)
        pipe = self.m.pipe
        self.pipe, self.unet, self.vae = pipe, pipe.unet, pipe.vae
        self.dev = torch.device(pipe._execution_device) if eng.offload else self.m.device
        self.dt = self.m.dtype
        self.vae_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.multiple = self.vae_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)
        self.native = int(eng.resolution or self.m.info.native_size)
        self.inpainting_unet = self.unet.config.in_channels == 9
        self.cfg = eng.guidance > 1.0
        # the reference's keys/values for every step: float16 on CPU (half the memory), off the GPU
        # when offloading (it is the memory-starved case)
        self.state = CrossFrameState(cache_dtype=torch.float16 if self.dev.type == "cpu" else self.dt,
                                     cache_device="cpu" if eng.offload else None)
        self.callback: ProgressCallback = None  # may raise JobCancelled
        self.progress = [0, 0]
        self.noise: WarpedNoise | None = None        # anchored on the reference keyframe
        self.ref_img: np.ndarray | None = None       # reference keyframe (filled), for motion to it
        self.ref_hole: np.ndarray | None = None
        self.canvas: _Canvas | None = None           # generated pixels so far
        self.ref_crop: tuple[int, int] | None = None  # (w, h) of the reference crop, reused for scale consistency
        # a report for the caller (InpaintOutput.stats): counters, names, per-keyframe coverage
        self.stats: dict[str, Any] = {
            "unet_evals": 0, "keyframes": 0, "refined": 0, "frames": 0,
            "model": self.m.info.name, "device": str(self.dev), "dtype": str(self.dt).replace("torch.", "")}
        self._emb: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._flow: FlowEstimator | None = None
        # per chunk: homographies frame -> the chunk's first frame, that frame, and the map into the reference
        self._chain: list[np.ndarray] | None = None
        self._chain_first: np.ndarray | None = None
        self._chain_base: np.ndarray | None = None

    # ------------------------------------------------------------ helpers
    def _embeddings(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._emb is not None:
            return self._emb
        torch, pipe, eng = self.torch, self.pipe, self.eng
        with torch.no_grad():
            if self.m.is_xl:
                pe, npe, pp, npp = pipe.encode_prompt(prompt=eng.prompt, device=self.dev, num_images_per_prompt=1,
                                                      do_classifier_free_guidance=self.cfg,
                                                      negative_prompt=eng.negative_prompt or None)
                emb = torch.cat([npe, pe]) if self.cfg else pe
                pooled = torch.cat([npp, pp]) if self.cfg else pp
            else:
                pe, npe = pipe.encode_prompt(eng.prompt, self.dev, 1, self.cfg, eng.negative_prompt or None)
                emb = torch.cat([npe, pe]) if self.cfg else pe
                pooled = None
        self._emb = (emb.to(self.dt), pooled.to(self.dt) if pooled is not None else None)
        return self._emb

    def _added_cond(self, hm: int, wm: int):
        if not self.m.is_xl:
            return None
        torch = self.torch
        _, pooled = self._embeddings()
        if getattr(self.pipe.config, "requires_aesthetics_score", False):
            pos, neg = [hm, wm, 0, 0, 6.0], [hm, wm, 0, 0, 2.5]
        else:
            pos = neg = [hm, wm, 0, 0, hm, wm]
        ids = torch.tensor([neg, pos] if self.cfg else [pos], dtype=self.dt, device=self.dev)
        return {"text_embeds": pooled, "time_ids": ids}

    def _model_size(self, cw: int, ch: int) -> tuple[int, int]:
        """Processing size: about native² pixels, the crop's aspect, sides a
        multiple of what the VAE + UNet need."""
        a = cw / max(ch, 1)
        m = self.multiple
        wm = max(m, int(round(self.native * math.sqrt(a) / m)) * m)
        hm = max(m, int(round(self.native / math.sqrt(a) / m)) * m)
        return wm, hm

    def _crop_box(self, hole: np.ndarray) -> tuple[int, int, int, int]:
        H, W = hole.shape
        ys, xs = np.nonzero(hole)
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        bw, bh = x1 - x0, y1 - y0
        pad = max(8, int(self.eng.context * max(bw, bh)))
        cw, ch = bw + 2 * pad, bh + 2 * pad
        side_min = min(self.native // 2, W, H)
        cw, ch = max(cw, side_min), max(ch, side_min)
        if self.ref_crop is not None:  # same scale as the reference keyframe where possible
            cw, ch = max(cw, self.ref_crop[0]), max(ch, self.ref_crop[1])
        cw, ch = min(cw, W), min(ch, H)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        bx0 = int(round(min(max(cx - cw / 2, 0), W - cw)))
        by0 = int(round(min(max(cy - ch / 2, 0), H - ch)))
        return bx0, by0, bx0 + cw, by0 + ch

    def _to_ref(self, img: np.ndarray, hole: np.ndarray):
        """Homography mapping this frame's coordinates to the reference
        keyframe's, from flow on the background (None = identity)."""
        if self.ref_img is None or img is self.ref_img:
            return None
        from vedit.flow import FlowEstimator, fit_global_motion

        if self._flow is None:
            self._flow = FlowEstimator("fast", max_side=320)
        flow = self._flow(img, self.ref_img)
        k = np.ones((9, 9), np.uint8)
        bad = cv2.dilate(hole.astype(np.uint8), k) > 0
        if self.ref_hole is not None:
            from vedit.flow import warp_mask

            bad |= warp_mask(cv2.dilate(self.ref_hole.astype(np.uint8), k) > 0, flow)
        valid = ~bad
        if valid.mean() < 0.05:
            return None
        Hm = fit_global_motion(flow, valid, step=4)
        return Hm

    @staticmethod
    def _motion(a: np.ndarray, b: np.ndarray, ha: np.ndarray, hb: np.ndarray, side: int = 320):
        """Homography a→b from DIS flow on a reduced copy, holes excluded."""
        from vedit.flow import fit_global_motion
        from vedit.flow.dense import _grey

        Hh, Ww = ha.shape
        s = min(1.0, side / max(Hh, Ww))
        size = (max(8, int(round(Ww * s))), max(8, int(round(Hh * s))))
        ga, gb = (cv2.resize(_grey(x), size, interpolation=cv2.INTER_AREA) for x in (a, b))
        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        flow = dis.calc(ga, gb, None)
        bad = cv2.resize((ha | hb).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        valid = cv2.dilate(bad, np.ones((7, 7), np.uint8)) == 0
        if valid.mean() < 0.05:
            return None
        Hs = fit_global_motion(flow, valid, step=2)
        if Hs is None:
            return None
        S = np.diag([size[0] / Ww, size[1] / Hh, 1.0])
        return np.linalg.inv(S) @ Hs @ S

    def _chunk_chain(self, context: dict):
        """Per chunk: homographies G[k] from frame k to the chunk's first
        frame, chained through neighbours (reliable where direct flow between
        distant frames is not), and linked to the previous chunk through the
        overlap frames so every chunk maps into the reference keyframe."""
        frames, holes = context.get("frames"), context.get("holes")
        if not frames or holes is None or len(holes) != len(frames):
            return None
        if self._chain is not None and frames[0] is self._chain_first and len(frames) == len(self._chain):
            return self._chain
        G = [np.eye(3)]
        for t in range(1, len(frames)):
            Hm = self._motion(frames[t], frames[t - 1], np.asarray(holes[t], bool), np.asarray(holes[t - 1], bool))
            G.append(G[-1] @ (Hm if Hm is not None else np.eye(3)))
        base = None
        ov = self.eng.propagate_kw["overlap"]
        if self._chain is not None and self._chain_base is not None and 0 < ov < len(self._chain):
            # the propagate engine's next chunk starts with the last `overlap` frames of this one
            base = self._chain_base @ self._chain[len(self._chain) - ov]
        self._chain, self._chain_first, self._chain_base = G, frames[0], base
        return G

    def _timesteps(self):
        sched = type(self.pipe.scheduler).from_config(self.pipe.scheduler.config)
        sched.set_timesteps(self.eng.steps, device=self.dev)
        return sched

    def _encode(self, x):
        torch, vae = self.torch, self.vae
        up = self.dt == torch.float16 and getattr(vae.config, "force_upcast", False)
        with torch.no_grad():
            if up:  # fp16 VAEs that overflow: run the VAE in float32
                vae.to(torch.float32)
                lat = vae.encode(x.float()).latent_dist.mode()
                vae.to(self.dt)
            else:
                lat = vae.encode(x.to(self.dt)).latent_dist.mode()
        return (lat * vae.config.scaling_factor).to(self.dt)

    def _decode(self, lat):
        torch = self.torch
        vae = self.vae
        up = self.dt == torch.float16 and getattr(vae.config, "force_upcast", False)
        with torch.no_grad():
            if up:
                vae.to(torch.float32)
                img = vae.decode(lat.float() / vae.config.scaling_factor).sample
                vae.to(self.dt)
            else:
                img = vae.decode(lat / vae.config.scaling_factor).sample
        img = ((img.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return img[0].permute(1, 2, 0).cpu().numpy()

    # -------------------------------------------------------- generation
    def _canvas_prior(self, frame: np.ndarray, hole: np.ndarray, to_ref):
        """Everything generated so far (kept in the reference keyframe's
        coordinates) warped onto this frame, and the fraction of the hole it
        covers. Uncovered hole pixels get a smooth spatial fill."""
        canvas = self.canvas
        if canvas is None:
            return None, 0.0
        H, W = hole.shape
        M = canvas.T @ (np.eye(3) if to_ref is None else np.asarray(to_ref, np.float64))
        flags = cv2.WARP_INVERSE_MAP
        warped = cv2.warpPerspective(canvas.img, M, (W, H), flags=flags | cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        cover = cv2.warpPerspective(canvas.known, M, (W, H), flags=flags | cv2.INTER_NEAREST,
                                    borderMode=cv2.BORDER_CONSTANT) > 0
        cover &= hole
        frac = float(cover.sum()) / max(1, int(hole.sum()))
        if frac <= 0.0:
            return None, 0.0
        from vedit.engines.propagate import spatial_fill

        prior = frame.copy()
        prior[cover] = warped[cover]
        rest = hole & ~cover
        return (spatial_fill(prior, rest) if rest.any() else prior), frac

    def _remember(self, out: np.ndarray, hole: np.ndarray, to_ref) -> None:
        """Add a keyframe's generated pixels to the canvas (first writer wins,
        so later keyframes agree with earlier ones)."""
        H, W = hole.shape
        canvas = self.canvas
        if canvas is None:
            mx, my = W // 2, H // 2
            canvas = self.canvas = _Canvas(img=np.zeros((H + 2 * my, W + 2 * mx, 3), np.uint8),
                                           known=np.zeros((H + 2 * my, W + 2 * mx), np.uint8),
                                           T=np.array([[1, 0, mx], [0, 1, my], [0, 0, 1]], np.float64))
        M = canvas.T @ (np.eye(3) if to_ref is None else np.asarray(to_ref, np.float64))
        size = (canvas.img.shape[1], canvas.img.shape[0])
        img = cv2.warpPerspective(out, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        got = cv2.warpPerspective(cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)), M, size,
                                  flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT) > 0
        new = got & (canvas.known == 0)
        canvas.img[new] = img[new]
        canvas.known[new] = 1

    def generate(self, frame: np.ndarray, hole: np.ndarray, index: int, strength: float = 1.0,
                 blend_edge: int = 0, keyframe: bool = False, to_ref="flow") -> np.ndarray:
        """Denoise the crop around ``hole`` and paste the result inside it.
        strength 1 = full generation (keyframes), < 1 = refine."""
        torch, eng = self.torch, self.eng
        if not hole.any():
            return frame
        H, W = hole.shape
        x0, y0, x1, y1 = self._crop_box(hole)
        cw, ch = x1 - x0, y1 - y0
        wm, hm = self._model_size(cw, ch)
        hl, wl = hm // self.vae_factor, wm // self.vae_factor
        interp = cv2.INTER_AREA if cw > wm else cv2.INTER_CUBIC
        crop = cv2.resize(frame[y0:y1, x0:x1], (wm, hm), interpolation=interp)
        hcrop = hole[y0:y1, x0:x1].astype(np.float32)
        mpx = cv2.resize(hcrop, (wm, hm), interpolation=cv2.INTER_LINEAR) > 0
        mlat = cv2.resize(hcrop, (wl, hl), interpolation=cv2.INTER_AREA) > 0

        is_ref = self.ref_img is None
        if is_ref:
            to_ref = None
        elif isinstance(to_ref, str):
            to_ref = self._to_ref(frame, hole)
        init = frame
        if keyframe and not is_ref and eng.keyframe_strength < 1.0:
            prior, frac = self._canvas_prior(frame, hole, to_ref)
            if prior is not None:
                # the more of the hole earlier keyframes already generated, the less is regenerated
                init = prior
                strength = eng.keyframe_strength + (1.0 - eng.keyframe_strength) * (1.0 - frac)
                self.stats["keyframes_from_canvas"] = self.stats.get("keyframes_from_canvas", 0) + 1
            self.stats.setdefault("keyframe_coverage", []).append((int(index), round(frac, 3), int(hole.sum())))
        if eng.warped_noise:
            if self.noise is None:
                from vedit.engines.noise import WarpedNoise

                self.noise = WarpedNoise(self.seed, 4, (W, H), cell=cw / wl)
            noise = self.noise.sample((x0, y0, x1, y1), (hl, wl), to_ref)
        else:
            from vedit.engines.noise import independent_noise

            noise = independent_noise(self.seed * 1000003 + index, 4, (hl, wl))
        noise = noise.to(self.dev, self.dt)

        img_t = torch.from_numpy(crop).to(self.dev).permute(2, 0, 1)[None].to(self.dt) / 127.5 - 1.0
        m_px = torch.from_numpy(mpx).to(self.dev, self.dt)[None, None]
        m_lat = torch.from_numpy(mlat).to(self.dev, self.dt)[None, None]
        sched = self._timesteps()
        ts = sched.timesteps
        start = 0 if strength >= 1.0 else max(0, len(ts) - max(1, int(math.ceil(strength * len(ts)))))
        if hasattr(sched, "set_begin_index"):
            sched.set_begin_index(start)
        emb, _ = self._embeddings()
        added = self._added_cond(hm, wm)
        need_known = (not self.inpainting_unet) or start > 0
        if need_known and init is not frame:
            init_crop = cv2.resize(init[y0:y1, x0:x1], (wm, hm), interpolation=interp)
            init_t = torch.from_numpy(init_crop).to(self.dev).permute(2, 0, 1)[None].to(self.dt) / 127.5 - 1.0
            known_lat = self._encode(init_t)
        else:
            known_lat = self._encode(img_t) if need_known else None
        if self.inpainting_unet:
            masked_lat = self._encode(img_t * (1 - m_px))
            cond_extra = torch.cat([m_lat, masked_lat], dim=1)
            if self.cfg:
                cond_extra = torch.cat([cond_extra] * 2)
        if start == 0:
            lat = noise * sched.init_noise_sigma
        else:
            lat = sched.add_noise(known_lat, noise, ts[start:start + 1])
        step_kw = {}
        if "generator" in inspect.signature(sched.step).parameters:
            step_kw["generator"] = torch.Generator(device="cpu").manual_seed(self.seed + index)

        use_attn = eng.cross_frame_attention
        ctx: AbstractContextManager[object] = nullcontext()
        if use_attn:
            from vedit.engines.attention import cross_frame_attention

            ctx = cross_frame_attention(self.unet, self.state)
            self.state.mode = "record" if is_ref else "attend"
        with ctx, torch.no_grad():
            for i in range(start, len(ts)):
                t = ts[i]
                self.state.step = i
                x = torch.cat([lat] * 2) if self.cfg else lat
                x = sched.scale_model_input(x, t)
                if self.inpainting_unet:
                    x = torch.cat([x, cond_extra], dim=1)
                kw = {"added_cond_kwargs": added} if added is not None else {}
                eps = self.unet(x, t, encoder_hidden_states=emb, return_dict=False, **kw)[0]
                self.stats["unet_evals"] += 1
                if self.callback is not None:  # keeps the bar alive and lets a job cancel mid-keyframe
                    report(self.callback, self.progress[0], self.progress[1],
                           f"{'refine' if strength < 1 and not keyframe else 'keyframe'} step {i + 1}/{len(ts)}")
                if self.cfg:
                    eu, ec = eps.chunk(2)
                    eps = eu + eng.guidance * (ec - eu)
                lat = sched.step(eps, t, lat, return_dict=False, **step_kw)[0]
                if not self.inpainting_unet:
                    # text-to-image model: keep the known region on its own noisy trajectory
                    if i + 1 < len(ts):
                        keep = sched.add_noise(known_lat, noise, ts[i + 1:i + 2])
                    else:
                        keep = known_lat
                    lat = m_lat * lat + (1 - m_lat) * keep
            self.state.mode = "off"
        gen = self._decode(lat)
        gen = cv2.resize(gen, (cw, ch), interpolation=cv2.INTER_AREA if wm > cw else cv2.INTER_CUBIC)
        out = frame.copy()
        region = hole[y0:y1, x0:x1]
        if blend_edge > 0:
            d = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
            a = np.clip(d / float(blend_edge), 0, 1)[:, :, None]
            patch = out[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] = np.round(patch * (1 - a) + gen.astype(np.float32) * a).astype(np.uint8)
        else:
            out[y0:y1, x0:x1][region] = gen[region]
        if is_ref and (use_attn or eng.warped_noise or keyframe):
            self.ref_img, self.ref_hole, self.ref_crop = out.copy(), hole.copy(), (cw, ch)
        if keyframe:
            self._remember(out, hole, to_ref)
        return out

    # ----------------------------------------------------------- drivers
    def keyframe_fill(self, frame: np.ndarray, hole: np.ndarray, index: int, context: dict) -> np.ndarray:
        hole = np.asarray(hole, bool)
        G = self._chunk_chain(context or {}) if self.eng.chain_motion else None
        if self.ref_img is None:
            if G is not None:
                self._chain_base = np.linalg.inv(G[index])
            to_ref = None
        elif G is not None and self._chain_base is not None:
            to_ref = self._chain_base @ G[index]
        else:
            to_ref = self._to_ref(frame, hole)
        if self.ref_img is not None and hole.sum() < self.eng.min_area:
            # smaller than about one latent cell: the model cannot draw it; take what earlier
            # keyframes generated there (else a spatial fill) at no UNet cost
            prior, _ = self._canvas_prior(frame, hole, to_ref)
            if prior is None:
                from vedit.engines.propagate import spatial_fill

                prior = spatial_fill(frame, hole)
            self.stats["small_fills"] = self.stats.get("small_fills", 0) + 1
            return prior
        self.stats["keyframes"] += 1
        return self.generate(frame, hole, index, keyframe=True, to_ref=to_ref)

    def finish(self, frames: Iterator[np.ndarray], pending: deque, prop, callback, n_total) -> Iterator[np.ndarray]:
        """Pass the propagated frames through, refining them when asked."""
        for i, f in enumerate(frames):
            m = pending.popleft() if pending else None
            if self.eng.refine > 0 and m is not None:
                region = prop.region(m)
                f = self.generate(f, region, i, strength=self.eng.refine, blend_edge=4)
                self.stats["refined"] += 1
                report(callback, i + 1, n_total, "refine")
            self.stats["frames"] += 1
            yield f

    def per_frame(self, frames, masks, prop, callback, n_total) -> Iterator[np.ndarray]:
        """No propagation prior: every frame's whole hole is generated."""
        for i, (f, m) in enumerate(zip(frames, masks)):
            f = np.ascontiguousarray(np.asarray(f)[:, :, :3])
            region = prop.region(m)
            out = self.generate(f, region, i)
            if self.eng.refine > 0:
                out = self.generate(out, region, i, strength=self.eng.refine, blend_edge=4)
                self.stats["refined"] += 1
            self.stats["frames"] += 1
            self.stats["keyframes"] += 1
            report(callback, i + 1, n_total, "diffusion")
            yield out


def naive_per_frame(pipe, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], prompt: str = "",
                    negative_prompt: str = "", steps: int = 20, guidance: float = 7.5, seed: int = 0,
                    resolution: int | None = None, dilate: int = 3, context: float = 0.5) -> Iterator[np.ndarray]:
    """The baseline we measure against: the diffusers inpainting pipeline
    called independently on every frame (same crop rule, same seed each
    frame, same compositing). Not used by the engine."""
    import torch
    from PIL import Image

    vf = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    mult = vf * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    sample = pipe.unet.config.sample_size
    native = int(resolution or (sample[0] if isinstance(sample, (list, tuple)) else sample) * vf)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1,) * 2)
    for f, m in zip(frames, masks):
        f = np.ascontiguousarray(np.asarray(f)[:, :, :3])
        m = np.asarray(m)
        hole = cv2.dilate(((m.max(axis=2) if m.ndim == 3 else m) > 127).astype(np.uint8), k) > 0
        if not hole.any():
            yield f
            continue
        H, W = hole.shape
        ys, xs = np.nonzero(hole)
        bw, bh = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
        pad = max(8, int(context * max(bw, bh)))
        cw, ch = min(W, max(bw + 2 * pad, min(native // 2, W, H))), min(H, max(bh + 2 * pad, min(native // 2, W, H)))
        cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
        x0 = int(round(min(max(cx - cw / 2, 0), W - cw)))
        y0 = int(round(min(max(cy - ch / 2, 0), H - ch)))
        a = cw / ch
        wm = max(mult, int(round(native * math.sqrt(a) / mult)) * mult)
        hm = max(mult, int(round(native / math.sqrt(a) / mult)) * mult)
        crop = cv2.resize(f[y0:y0 + ch, x0:x0 + cw], (wm, hm), interpolation=cv2.INTER_CUBIC)
        mc = cv2.resize(hole[y0:y0 + ch, x0:x0 + cw].astype(np.uint8) * 255, (wm, hm), interpolation=cv2.INTER_NEAREST)
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        img = pipe(prompt=prompt, negative_prompt=negative_prompt or None, image=Image.fromarray(crop),
                   mask_image=Image.fromarray(mc), height=hm, width=wm, num_inference_steps=steps,
                   guidance_scale=guidance, generator=g, output_type="np").images[0]
        gen = cv2.resize((img * 255).round().astype(np.uint8), (cw, ch), interpolation=cv2.INTER_AREA)
        out = f.copy()
        region = hole[y0:y0 + ch, x0:x0 + cw]
        out[y0:y0 + ch, x0:x0 + cw][region] = gen[region]
        yield out
