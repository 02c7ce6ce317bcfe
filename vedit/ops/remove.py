"""``remove``: fill a masked region through a shot (object removal)."""
from __future__ import annotations

import os

import numpy as np

from vedit.engines import get_spec
from vedit.engines.base import ProgressCallback
from vedit.errors import InvalidInputError
from vedit.io import check_output_path, open_clip, open_masks, open_writer

#: params accepted besides input/output/range (the job server validates these)
PARAMS = {
    "mask": "path", "engine": "str", "dilate": "int", "feather": "int", "seed": "int",
    "chunk_size": "int", "fps": "float",
    # diffusion engine
    "model": "str", "prompt": "str", "negative_prompt": "str", "steps": "int", "guidance": "float",
    "keyframe_every": "int", "refine": "float", "offload": "bool", "device": "str", "dtype": "str",
}

_DIFFUSION_KEYS = ("model", "prompt", "negative_prompt", "steps", "guidance", "keyframe_every", "refine",
                   "offload", "device", "dtype")


def run(input: str, output: str, *, mask: str, start: int | None = None, end: int | None = None,
        callback: ProgressCallback = None, engine: str = "propagate", dilate: int = 3, feather: int = 2,
        seed: int = 0, chunk_size: int | None = None, fps: float | None = None, **params) -> str:
    """Remove what ``mask`` covers in ``input`` and write ``output``.

    Returns the final output path. Pixels outside the mask grown by
    ``dilate`` + ``feather`` are copied unchanged.
    """
    # 1. check inputs before any work
    if not mask:
        raise InvalidInputError("--mask is required: an image, a folder of masks or a mask video")
    if dilate < 0 or feather < 0:
        raise InvalidInputError(f"--dilate {dilate} / --feather {feather} must be >= 0")
    unknown = set(params) - set(_DIFFUSION_KEYS)
    if unknown:
        raise InvalidInputError(f"unknown option(s) for remove: {', '.join(sorted(unknown))}")
    spec = get_spec("inpaint", engine)
    clip = open_clip(input, start, end, fps=fps)
    check_output_path(output, [input, mask])
    masks = open_masks(mask, clip)
    if engine != "diffusion":
        given = [k for k, v in params.items() if v not in (None, "", False)]
        if given:
            raise InvalidInputError(
                f"option(s) {', '.join('--' + g.replace('_', '-') for g in given)} need --engine diffusion")

    # 2. engine
    kwargs = {"dilate": dilate, "feather": feather}
    if chunk_size:
        kwargs["chunk_size"] = chunk_size
    if engine == "diffusion":
        kwargs.update({k: v for k, v in params.items() if v is not None})
    eng = spec.load()(**kwargs)

    # 3. stream: masks are checked for content as they pass
    any_mask = [False]

    def mask_iter():
        for m in masks:
            if not any_mask[0] and np.any(np.asarray(m) > 127):
                any_mask[0] = True
            yield m

    n = clip.frame_count
    # decoding runs ahead and encoding behind in threads: the engine works in
    # bursts (a chunk is read, then its frames come out together), so both
    # overlap its computation instead of waiting for it
    from vedit.composite.pipeline import ThreadedWriter, prefetch

    out = eng.inpaint(prefetch(clip.frames(), depth=8), mask_iter(), seed=seed, callback=callback, total=n)
    with open_writer(output, clip.fps, clip.size, like=clip) as w:
        with ThreadedWriter(w, depth=24) as tw:
            for frame in out.frames:
                tw.write(frame)
        if not any_mask[0]:
            raise InvalidInputError(f"mask {mask} is empty over the selected frames: nothing to remove")
        if w.count != n:
            raise InvalidInputError(f"engine produced {w.count} frames for {n} input frames")
    if callback:
        callback(n, n, "done")
    return os.path.abspath(output.rstrip("/")) if output.endswith("/") else os.path.abspath(output)
