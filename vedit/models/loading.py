"""Loading diffusers inpainting pipelines strictly offline
(``local_files_only=True``): SD 1.x/2.x (``StableDiffusionInpaintPipeline``)
and SDXL (``StableDiffusionXLInpaintPipeline``). A text-to-image checkpoint
loads into the same class and is used by latent blending."""
from __future__ import annotations

import inspect
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vedit.errors import InvalidInputError, MissingWeightsError, require
from vedit.models.config import config_path
from vedit.models.device import resolve_device
from vedit.models.discovery import HOW_TO, ModelInfo, resolve_model

if TYPE_CHECKING:  # the ``ml`` extra; imported at run time only when a model is loaded
    import torch

# belt and braces: nothing here may reach the network
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class InpaintPipeline(Protocol):
    """What vedit uses of a diffusers (SD or SDXL) inpainting pipeline.

    diffusers registers a pipeline's components at run time
    (``register_modules``), so they are not attributes of its classes for a
    type checker; their own types vary by model family and version."""

    unet: Any
    vae: Any
    scheduler: Any
    config: Any
    device: torch.device
    _execution_device: torch.device

    def encode_prompt(self, *args: Any, **kwargs: Any) -> tuple[Any, ...]: ...

    def set_progress_bar_config(self, **kwargs: Any) -> None: ...


@dataclass
class LoadedModel:
    pipe: InpaintPipeline
    info: ModelInfo
    device: torch.device   # the device the denoiser runs on
    dtype: torch.dtype
    offload: bool

    @property
    def is_xl(self) -> bool:
        return self.info.family == "sdxl"


_CACHE: dict[tuple, LoadedModel] = {}
_LOCK = threading.Lock()


def _from_pretrained(cls, path: str, dtype):
    kw: dict[str, object] = {"local_files_only": True}
    params = inspect.signature(cls.__init__).parameters
    if "safety_checker" in params:
        # removal/background fills are not filtered images; skip loading the checker at all
        kw.update(safety_checker=None, requires_safety_checker=False)
    try:
        return cls.from_pretrained(path, dtype=dtype, **kw)
    except TypeError:  # older diffusers spell it torch_dtype
        return cls.from_pretrained(path, torch_dtype=dtype, **kw)


class _quiet:
    """No loading progress bars or dtype chatter on the user's terminal."""

    def __enter__(self):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self._prev = (dlog.get_verbosity(), tlog.get_verbosity())
        dlog.set_verbosity_error()
        tlog.set_verbosity_error()
        dlog.disable_progress_bar()
        tlog.disable_progress_bar()
        return self

    def __exit__(self, *exc):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        dlog.set_verbosity(self._prev[0])
        tlog.set_verbosity(self._prev[1])
        dlog.enable_progress_bar()
        tlog.enable_progress_bar()
        return False


def load_inpaint_pipeline(model=None, device=None, dtype=None, offload: bool = False,
                          vae_tiling: bool = False, cache: bool = True) -> LoadedModel:
    """Load (or reuse) an inpainting pipeline, offline.

    ``model``: folder, model-dir name or HF id in the local cache (None: the
    configured default); ``device``/``dtype``: see ``resolve_device``;
    ``offload``: model CPU offload (CUDA only); ``vae_tiling``: tiled VAE for
    large processing sizes.
    """
    require("torch", "ml", "the diffusion engine")
    diffusers = require("diffusers", "ml", "the diffusion engine")
    require("transformers", "ml", "the diffusion engine")
    info = resolve_model(model)
    dev, dt = resolve_device(device, dtype)
    if offload and dev.type != "cuda":
        raise InvalidInputError(f"--offload: model CPU offload needs a CUDA device (device here: {dev}); "
                                "drop --offload")
    key = (info.path, str(dev), str(dt), bool(offload), bool(vae_tiling))
    with _LOCK:
        if cache and key in _CACHE:
            return _CACHE[key]
        cls = (diffusers.StableDiffusionXLInpaintPipeline if info.family == "sdxl"
               else diffusers.StableDiffusionInpaintPipeline)
        try:
            with _quiet():
                pipe = _from_pretrained(cls, info.path, dt)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MissingWeightsError(f"--model {info.name!r}: cannot load {info.path} offline ({first}); "
                                      + HOW_TO.format(cfg=config_path())) from None
        pipe.set_progress_bar_config(disable=True)
        with _quiet():
            if offload:
                require("accelerate", "ml", "--offload")
                pipe.enable_model_cpu_offload(device=dev)
            elif dev.type != "cpu":
                pipe.to(dev)
        if vae_tiling:
            # large processing sizes: decode/encode in overlapping tiles
            pipe.vae.enable_tiling()
        loaded = LoadedModel(pipe, info, dev, dt, bool(offload))
        if cache:
            _CACHE.clear()  # one model resident at a time
            _CACHE[key] = loaded
        return loaded
