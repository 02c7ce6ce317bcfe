"""Local diffusion models: discovery, config defaults, device/dtype and
offline loading. Importing this package does not import torch."""
from vedit.models.config import config_path, diffusion_defaults, model_dirs, vedit_home  # noqa: F401
from vedit.models.discovery import ModelInfo, find_models, hf_cache_dir, inspect_model, resolve_model  # noqa: F401


def load_inpaint_pipeline(*args, **kwargs):
    """See ``vedit.models.loading.load_inpaint_pipeline`` (imports torch)."""
    from vedit.models.loading import load_inpaint_pipeline as _load

    return _load(*args, **kwargs)


def resolve_device(device=None, dtype=None):
    """See ``vedit.models.device.resolve_device`` (imports torch)."""
    from vedit.models.device import resolve_device as _rd

    return _rd(device, dtype)
