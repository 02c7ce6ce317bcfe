"""User defaults for models: ``$VEDIT_HOME/config.toml`` (VEDIT_HOME defaults
to ``${XDG_CONFIG_HOME:-~/.config}/vedit``), e.g.::

    [diffusion]
    model = "runwayml/stable-diffusion-inpainting"   # or a local folder
    model_dirs = ["/data/models"]                    # extra folders to search
    device = "auto"
    dtype = "float16"
    offload = false
    steps = 20

``VEDIT_MODEL_DIR`` (one or more folders, ``os.pathsep``-separated) adds
search folders and, when it is itself a model folder, is the default model.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from vedit.errors import InvalidInputError


def vedit_home() -> Path:
    """The vedit config folder (the one lookup: ``vedit.server.client.vedit_home``)."""
    from vedit.server.client import vedit_home as home

    return Path(home())


def config_path() -> Path:
    return Path(os.environ.get("VEDIT_CONFIG", vedit_home() / "config.toml")).expanduser()


def load_config() -> dict:
    """The whole config file as a dict ({} when there is none)."""
    p = config_path()
    if not p.is_file():
        return {}
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"config file {p}: cannot be read ({exc}); fix or remove it") from None


def diffusion_defaults() -> dict:
    """The ``[diffusion]`` table of the config file."""
    sec = load_config().get("diffusion", {})
    if not isinstance(sec, dict):
        raise InvalidInputError(f"config file {config_path()}: [diffusion] must be a table")
    return sec


def model_dirs() -> list[Path]:
    """Folders searched for local models, in order: VEDIT_MODEL_DIR entries,
    the config's ``model_dirs``, then ``$VEDIT_HOME/models``."""
    out: list[Path] = []
    for entry in os.environ.get("VEDIT_MODEL_DIR", "").split(os.pathsep):
        if entry.strip():
            out.append(Path(entry).expanduser())
    for entry in diffusion_defaults().get("model_dirs", []) or []:
        out.append(Path(str(entry)).expanduser())
    out.append(vedit_home() / "models")
    seen: set[str] = set()
    uniq: list[Path] = []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            uniq.append(p)
    return uniq
