"""Image-to-video diffusion from local weights (never downloaded).

Families, recognised from the model folder's ``model_index.json``:

- ``svd``: ``StableVideoDiffusionPipeline`` (no text; ``motion_bucket``,
  ``noise_aug``, fps conditioning, ``decode_chunk_size``; 14/25 frames at
  576×1024);
- ``ltx``: ``LTXImageToVideoPipeline`` (text; sizes multiple of 32, frames 8k+1);
- ``wan``: ``WanImageToVideoPipeline`` (text; frames 4k+1, sizes multiple of 16);
- ``cogvideox``: ``CogVideoXImageToVideoPipeline`` (text; frames 4k+1, 49 at 720×480).

The pipeline runs at a size the model accepts near the requested one (same
aspect, sides rounded to the family's multiple); frames are resized to the
requested output size afterwards. ``pin_first`` makes frame 0 exactly the
input image. CPU float32 by default; ``offload='model'|'sequential'`` and
``vae_tiling`` for small GPUs.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from vedit.engines.base import AnimateOutput, ProgressCallback, report
from vedit.errors import InvalidInputError, MissingWeightsError, require
from vedit.models.discovery import _snapshot as _hub_snapshot

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@dataclass(frozen=True)
class Family:
    name: str
    pipeline: str          # diffusers class used to load and run
    class_names: tuple     # model_index _class_name values that belong here
    multiple: int          # spatial size multiple
    frames_mod: tuple      # (k, r): valid frame counts are k·n + r
    native: tuple          # (width, height) the model was trained at
    default_frames: int
    default_fps: float
    default_steps: int
    text: bool


FAMILIES = {
    "svd": Family("svd", "StableVideoDiffusionPipeline", ("StableVideoDiffusionPipeline",), 64, (1, 0),
                  (1024, 576), 14, 7.0, 25, False),
    "ltx": Family("ltx", "LTXImageToVideoPipeline", ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
                  32, (8, 1), (704, 480), 121, 24.0, 40, True),
    "wan": Family("wan", "WanImageToVideoPipeline", ("WanImageToVideoPipeline", "WanPipeline"), 16, (4, 1),
                  (832, 480), 81, 16.0, 40, True),
    "cogvideox": Family("cogvideox", "CogVideoXImageToVideoPipeline",
                        ("CogVideoXImageToVideoPipeline", "CogVideoXPipeline"), 16, (4, 1), (720, 480), 49, 8.0,
                        50, True),
}

HOW_TO = ("give --model PATH (a diffusers image-to-video folder with model_index.json, e.g. a local copy of "
          "stabilityai/stable-video-diffusion-img2vid-xt or Lightricks/LTX-Video) or a Hugging Face id already in "
          "the local cache; vedit never downloads weights")


def family_of(class_name: str) -> Family | None:
    for fam in FAMILIES.values():
        if class_name in fam.class_names:
            return fam
    return None


def _hf_cache() -> Path:
    try:
        from vedit.models.discovery import hf_cache_dir

        return hf_cache_dir()
    except ImportError:  # pragma: no cover
        return Path(os.path.expanduser("~/.cache/huggingface/hub"))


def _model_dirs() -> list[Path]:
    try:
        from vedit.models.config import model_dirs

        return list(model_dirs())
    except ImportError:  # pragma: no cover
        return []


def _read_index(folder: Path) -> dict:
    try:
        with open(folder / "model_index.json", encoding="utf-8") as fh:
            d = json.load(fh)
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def find_i2v_models() -> list[tuple[str, Path, Family]]:
    """Image-to-video models found locally: (name, folder, family)."""
    out: list[tuple[str, Path, Family]] = []
    for d in _model_dirs():
        if not d.is_dir():
            continue
        for cand in [d] + sorted(p for p in d.iterdir() if p.is_dir()):
            fam = family_of(str(_read_index(cand).get("_class_name", "")))
            if fam:
                out.append((str(cand), cand, fam))
    cache = _hf_cache()
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            snap = _hub_snapshot(repo)
            if snap is None:
                continue
            fam = family_of(str(_read_index(snap).get("_class_name", "")))
            if fam:
                out.append((repo.name[len("models--"):].replace("--", "/"), snap, fam))
    return out


def resolve_i2v_model(model: str | os.PathLike | None) -> tuple[Path, Family]:
    """The local folder and family of ``model`` (a folder, a name inside a
    model dir, or a cached HF id); None picks the first one found."""
    if model is None or str(model) == "":
        found = find_i2v_models()
        if not found:
            raise MissingWeightsError(f"no image-to-video model found locally; {HOW_TO}")
        return found[0][1], found[0][2]
    text = str(model)
    cands = [Path(text).expanduser()]
    for d in _model_dirs():
        cands += [d / text, d / text.replace("/", "--"), d / text.split("/")[-1]]
    if "/" in text and not text.startswith(("/", ".")):
        repo = _hf_cache() / ("models--" + text.replace("/", "--"))
        snap = _hub_snapshot(repo) if repo.is_dir() else None
        if snap is not None:
            cands.append(snap)
    for c in cands:
        if c.is_dir() and (c / "model_index.json").is_file():
            cls = str(_read_index(c).get("_class_name", ""))
            fam = family_of(cls)
            if fam is None:
                raise MissingWeightsError(f"--model {text!r}: {cls or 'unknown'} is not an image-to-video pipeline; "
                                          f"supported: {', '.join(sorted({n for f in FAMILIES.values() for n in f.class_names}))}")
            return c, fam
    if cands[0].exists():
        raise MissingWeightsError(f"--model {text!r}: {cands[0]} has no model_index.json, so it is not a diffusers "
                                  f"model folder; {HOW_TO}")
    raise MissingWeightsError(f"--model {text!r}: not found locally; {HOW_TO}")


def _round_to(v: float, m: int) -> int:
    return max(m, int(round(v / m)) * m)


def _valid_frames(n: int, mod: tuple) -> int:
    k, r = mod
    if k <= 1:
        return max(1, n)
    return max(r + k, int(math.ceil((n - r) / k)) * k + r)


class DiffusionAnimateEngine:
    """Image-to-video diffusion (local weights).

    ``model``: folder or cached id; ``device``/``dtype``: see
    ``vedit.models.resolve_device`` (CPU float32 by default);
    ``offload``: None, 'model' or 'sequential' (CUDA); ``vae_tiling``: tiled
    VAE decode where the family supports it.
    """

    name = "diffusion"

    def __init__(self, model: str | None = None, device=None, dtype=None, offload: str | None = None,
                 vae_tiling: bool = False, max_side: int | None = None):
        if offload not in (None, "model", "sequential"):
            raise InvalidInputError(f"--offload {offload!r}: choose none, model or sequential")
        self.path, self.family = resolve_i2v_model(model)
        self.model = str(model) if model else str(self.path)
        self.device, self.dtype = device, dtype
        self.offload, self.vae_tiling = offload, vae_tiling
        self.max_side = max_side
        self._pipe = None

    def default_fps(self) -> float:
        return self.family.default_fps

    # -- loading ----------------------------------------------------------------
    def load(self):
        """Load the pipeline offline (``local_files_only``); cached on the engine."""
        if self._pipe is not None:
            return self._pipe
        require("torch", "ml", "the diffusion animate engine")
        diffusers = require("diffusers", "ml", "the diffusion animate engine")
        require("transformers", "ml", "the diffusion animate engine")
        from vedit.models.device import resolve_device

        dev, dt = resolve_device(self.device, self.dtype)
        if self.offload and dev.type != "cuda":
            raise InvalidInputError(f"--offload {self.offload}: CPU offload needs a CUDA device (device here: {dev}); "
                                    "drop --offload")
        diffusers.utils.logging.disable_progress_bar()
        try:
            import transformers

            transformers.utils.logging.disable_progress_bar()
        except (ImportError, AttributeError):  # pragma: no cover
            pass
        cls = getattr(diffusers, self.family.pipeline, None)
        if cls is None:
            raise MissingWeightsError(f"--model {self.model!r}: this diffusers ({diffusers.__version__}) has no "
                                      f"{self.family.pipeline}; upgrade diffusers")
        try:
            try:
                pipe = cls.from_pretrained(str(self.path), dtype=dt, local_files_only=True)
            except TypeError:  # older diffusers spell it torch_dtype
                pipe = cls.from_pretrained(str(self.path), torch_dtype=dt, local_files_only=True)
        except (OSError, ValueError, KeyError, EnvironmentError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MissingWeightsError(f"--model {self.model!r}: cannot load {self.path} offline ({first}); "
                                      f"{HOW_TO}") from None
        pipe.set_progress_bar_config(disable=True)
        if self.offload == "model":
            require("accelerate", "ml", "--offload model")
            pipe.enable_model_cpu_offload(device=dev)
        elif self.offload == "sequential":
            require("accelerate", "ml", "--offload sequential")
            pipe.enable_sequential_cpu_offload(device=dev)
        else:
            pipe.to(dev)
        if self.vae_tiling and hasattr(pipe.vae, "enable_tiling"):
            try:
                pipe.vae.enable_tiling()
            except NotImplementedError:  # the temporal-decoder VAE of SVD cannot tile
                pass
        self._dev = dev
        self._pipe = pipe
        return pipe

    # -- sizes --------------------------------------------------------------------
    def work_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """A size the model accepts: the requested aspect at about the model's
        native area (or ``max_side``), sides rounded to the family's multiple."""
        w, h = size
        nw, nh = self.family.native
        s = math.sqrt(nw * nh / float(w * h))
        if self.max_side:
            s = min(s, self.max_side / max(w, h))
        m = self.family.multiple
        return _round_to(w * s, m), _round_to(h * s, m)

    # -- run ------------------------------------------------------------------------
    def animate(self, image: np.ndarray, *, num_frames: int | None = None, fps: float | None = None, seed: int = 0,
                prompt: str | None = None, negative_prompt: str | None = None, steps: int | None = None,
                guidance: float | None = None, motion_bucket: int = 127, noise_aug: float = 0.02,
                decode_chunk_size: int | None = None, pin_first: bool = False,
                size: tuple[int, int] | None = None, work_size: tuple[int, int] | None = None,
                device=None, dtype=None, chunk_size=None, loop: bool = False,
                callback: ProgressCallback = None) -> AnimateOutput:
        """Generate a clip from ``image`` (HxWx3 uint8 RGB). ``size`` is the
        output (w, h) (default: the image's); ``work_size`` overrides the size
        the model runs at."""
        # 1. check inputs
        fam = self.family
        image = np.ascontiguousarray(image[:, :, :3])
        h0, w0 = image.shape[:2]
        out_w, out_h = size or (w0, h0)
        n_req = int(num_frames) if num_frames else fam.default_frames
        if n_req < 2:
            raise InvalidInputError(f"--frames {num_frames}: image-to-video needs at least 2 frames")
        if not 1 <= int(motion_bucket) <= 255:
            raise InvalidInputError(f"--motion-bucket {motion_bucket}: use 1..255 (127 = the model's default)")
        if not 0 <= float(noise_aug) <= 1:
            raise InvalidInputError(f"--noise-aug {noise_aug}: use 0..1 (0.02 = the model's default)")
        if steps is not None and not 1 <= int(steps) <= 500:
            raise InvalidInputError(f"--steps {steps}: use 1..500")
        if decode_chunk_size is not None and int(decode_chunk_size) < 1:
            raise InvalidInputError(f"--decode-chunk-size {decode_chunk_size}: use 1 or more")
        if loop:
            raise InvalidInputError("--loop is not available with --engine diffusion; use --engine motion or parallax")
        if prompt and not fam.text:
            raise InvalidInputError(f"--prompt: {fam.pipeline} takes no text; drop --prompt or use a "
                                    "text-conditioned model (LTX-Video, Wan, CogVideoX)")
        rate = float(fps) if fps else fam.default_fps
        n_run = _valid_frames(n_req, fam.frames_mod)
        ww, wh = work_size or self.work_size((out_w, out_h))
        if ww % fam.multiple or wh % fam.multiple:
            raise InvalidInputError(f"work size {ww}x{wh}: {fam.pipeline} needs sides divisible by {fam.multiple}")

        # 2. load and prepare
        if device is not None or dtype is not None:
            self.device, self.dtype, self._pipe = device or self.device, dtype or self.dtype, None
        report(callback, 0, n_req, "loading model")
        pipe = self.load()
        import torch
        from PIL import Image

        still = Image.fromarray(cv2.resize(image, (ww, wh), interpolation=cv2.INTER_AREA if ww * wh < w0 * h0
                                           else cv2.INTER_CUBIC))
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        total = int(steps or fam.default_steps)

        def on_step(p, i, t, kw):
            report(callback, 0, n_req, f"denoise {i + 1}/{total}")
            return kw

        kw = dict(image=still, height=wh, width=ww, num_frames=n_run, num_inference_steps=total, generator=gen,
                  output_type="np", callback_on_step_end=on_step)
        # 3. family-specific conditioning
        if fam.name == "svd":
            kw.update(fps=max(1, int(round(rate))),
                      motion_bucket_id=int(motion_bucket), noise_aug_strength=float(noise_aug),
                      decode_chunk_size=int(decode_chunk_size or min(n_run, 8)))
            if guidance is not None:
                kw.update(max_guidance_scale=float(guidance), min_guidance_scale=min(1.0, float(guidance)))
        else:
            kw.update(prompt=prompt or "", negative_prompt=negative_prompt)
            if guidance is not None:
                kw.update(guidance_scale=float(guidance))
            if fam.name == "ltx":
                kw.update(frame_rate=max(1, int(round(rate))))
        # 4. denoise and decode
        with torch.inference_mode():
            result = pipe(**kw)
        video = result.frames
        video = np.asarray(video[0] if isinstance(video, (list, tuple)) or getattr(video, "ndim", 0) == 5
                           else video)
        if video.dtype != np.uint8:
            video = np.clip(video * 255.0 + 0.5, 0, 255).astype(np.uint8)
        video = video[:n_req]
        if len(video) < n_req:
            raise InvalidInputError(f"the model returned {len(video)} frames, fewer than the {n_req} asked for")
        first = image if (w0, h0) == (out_w, out_h) else cv2.resize(image, (out_w, out_h),
                                                                   interpolation=cv2.INTER_AREA)

        def frames() -> Iterator[np.ndarray]:
            for i, fr in enumerate(video):
                if i == 0 and pin_first:
                    out = first
                elif fr.shape[1] != out_w or fr.shape[0] != out_h:
                    out = cv2.resize(fr, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
                else:
                    out = fr
                report(callback, i + 1, n_req, "write")
                yield np.ascontiguousarray(out)

        stats = {"family": fam.name, "model": str(self.path), "work_size": [ww, wh], "frames_run": n_run,
                 "steps": total}
        return AnimateOutput(frames=frames(), frame_count=n_req, fps=rate, stats=stats)
