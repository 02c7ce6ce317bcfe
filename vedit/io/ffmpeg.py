"""Locating the ffmpeg binary: the system one or the static build shipped in
the imageio-ffmpeg wheel (so a bare pip install can encode H.264/ProRes/VP9)."""
from __future__ import annotations

import functools
import os
import shutil

from vedit.errors import MissingDependencyError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    env = os.environ.get("VEDIT_FFMPEG")
    if env:
        return env
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - fall back to PATH
        exe = shutil.which("ffmpeg")
        if exe:
            return exe
    raise MissingDependencyError("imageio-ffmpeg", "all", "video encoding")
