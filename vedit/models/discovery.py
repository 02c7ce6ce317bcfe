"""Finding diffusers models on disk (never on the network): explicit folders,
VEDIT_MODEL_DIR / config ``model_dirs`` / ``$VEDIT_HOME/models``, and the
Hugging Face hub cache (``models--org--name/snapshots/REV``)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from vedit.errors import MissingWeightsError
from vedit.models.config import config_path, diffusion_defaults, model_dirs

HOW_TO = ("give --model PATH (a diffusers folder with model_index.json) or a Hugging Face id already in the "
          "local cache, set VEDIT_MODEL_DIR, or set `model = ...` under [diffusion] in {cfg}; "
          "weights are never downloaded by vedit (fetch once with `huggingface-cli download "
          "runwayml/stable-diffusion-inpainting`)")


@dataclass
class ModelInfo:
    name: str          # what the user can pass to --model
    path: str          # the folder holding model_index.json
    pipeline: str      # _class_name in model_index.json
    family: str        # 'sd' or 'sdxl' (or 'other')
    inpainting: bool   # UNet takes mask + masked image (9 input channels)
    native_size: int   # model's native image side in pixels
    source: str        # 'path', 'dir' or 'hf-cache'

    @property
    def can(self) -> str:
        if self.family == "other":
            return "not supported (only SD 1.x/2.x and SDXL pipelines)"
        if self.inpainting:
            return "inpaint (remove, replace-bg --prompt)"
        return "inpaint by latent blending (text-to-image model; weaker at hole edges)"

    @property
    def usable(self) -> bool:
        return self.family != "other"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["can"] = self.can
        return d


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "huggingface" / "hub"


def _read_json(p: Path) -> dict:
    try:
        with open(p, encoding="utf-8") as fh:
            d = json.load(fh)
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def inspect_model(path: Path, name: str | None = None, source: str = "path") -> ModelInfo | None:
    """Describe a diffusers model folder, or None when it is not one."""
    path = Path(path)
    index = _read_json(path / "model_index.json")
    if not index:
        return None
    cls = str(index.get("_class_name", ""))
    unet = _read_json(path / "unet" / "config.json")
    vae = _read_json(path / "vae" / "config.json")
    if "XL" in cls:
        family = "sdxl"
    elif cls.startswith("StableDiffusion") and "unet" in index and unet:
        family = "sd"
    else:
        family = "other"
    inpainting = int(unet.get("in_channels", 4)) == 9
    vae_factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
    sample = unet.get("sample_size", 64)
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    native = int(sample) * vae_factor
    return ModelInfo(name or str(path), str(path), cls, family, inpainting, native, source)


def _snapshot(repo_dir: Path) -> Path | None:
    """The cached snapshot of a hub repo folder: refs/main, else the newest."""
    snaps = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        p = snaps / ref.read_text().strip()
        if (p / "model_index.json").is_file():
            return p
    cands = [p for p in snaps.glob("*") if (p / "model_index.json").is_file()] if snaps.is_dir() else []
    return max(cands, key=lambda p: p.stat().st_mtime) if cands else None


def find_models() -> list[ModelInfo]:
    """Every diffusers model found locally (model folders and the hub cache)."""
    out: list[ModelInfo] = []
    seen: set[str] = set()

    def add(info):
        if info is not None and info.path not in seen:
            seen.add(info.path)
            out.append(info)

    for d in model_dirs():
        if not d.is_dir():
            continue
        add(inspect_model(d, str(d), "dir"))
        for sub in sorted(d.iterdir()):
            if sub.is_dir():
                add(inspect_model(sub, str(sub), "dir"))
    cache = hf_cache_dir()
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            snap = _snapshot(repo)
            if snap is not None:
                add(inspect_model(snap, repo.name[len("models--"):].replace("--", "/"), "hf-cache"))
    return out


def resolve_model(model: str | os.PathLike | None = None) -> ModelInfo:
    """Find the model to load, offline. ``model``: a folder, a name inside a
    model dir, or a Hugging Face id in the local cache; None uses the config
    default, then VEDIT_MODEL_DIR, then the first inpainting model found.
    Raises MissingWeightsError naming what was looked for and how to fix it."""
    how = HOW_TO.format(cfg=config_path())
    if model is None or str(model) == "":
        model = diffusion_defaults().get("model") or None
    if model is None:
        found = [m for m in find_models() if m.usable]
        found.sort(key=lambda m: (not m.inpainting,))
        if found:
            return found[0]
        dirs = ", ".join(str(d) for d in model_dirs())
        raise MissingWeightsError(f"no diffusion model found (searched {dirs} and the Hugging Face cache "
                                  f"{hf_cache_dir()}); {how}")
    text = str(model)
    p = Path(text).expanduser()
    looked: list[str] = []
    if p.exists():
        info = inspect_model(p, text, "path")
        if info is None:
            raise MissingWeightsError(f"--model {text!r}: {p} has no model_index.json, so it is not a diffusers "
                                      f"model folder; {how}")
        return _usable(info, how)
    looked.append(str(p))
    for d in model_dirs():
        for cand in (d / text, d / text.replace("/", "--"), d / text.split("/")[-1]):
            looked.append(str(cand))
            info = inspect_model(cand, text, "dir") if cand.is_dir() else None
            if info is not None:
                return _usable(info, how)
    if "/" in text and not text.startswith(("/", ".")):
        repo = hf_cache_dir() / ("models--" + text.replace("/", "--"))
        looked.append(str(repo))
        snap = _snapshot(repo) if repo.is_dir() else None
        if snap is not None:
            info = inspect_model(snap, text, "hf-cache")
            if info is None:  # model_index.json is there but is not a JSON object
                raise MissingWeightsError(f"--model {text!r}: {snap / 'model_index.json'} in the Hugging Face "
                                          f"cache cannot be read; fetch the model again; {how}")
            return _usable(info, how)
    raise MissingWeightsError(f"--model {text!r}: not found locally (looked in {', '.join(looked[:6])}"
                              f"{' ...' if len(looked) > 6 else ''}); {how}")


def _usable(info: ModelInfo, how: str) -> ModelInfo:
    if not info.usable:
        raise MissingWeightsError(f"--model {info.name!r}: {info.pipeline or 'unknown'} pipeline is not supported; "
                                  f"use a Stable Diffusion 1.x/2.x or SDXL (inpainting) model; {how}")
    return info
