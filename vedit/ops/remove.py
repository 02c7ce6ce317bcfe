"""``remove``: fill a masked region through a shot (object removal)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from vedit.engines import get_spec, names
from vedit.engines.base import ProgressCallback
from vedit.errors import InvalidInputError
from vedit.io import check_output_path, open_clip, open_masks, open_writer, require_flow_size
from vedit.io.clip import KeptFrames
from vedit.ops.params import CODEC, OpDef, Param, ParamError, as_param, final_path, writer_codec
from vedit.ops.progress import OverallProgress

_D = ("diffusion",)

PARAMS = (
    Param("mask", "path", required=True, cli=("-m",),
          help="Mask image (all frames), folder/pattern of masks, or a mask video. White = remove."),
    Param("engine", "str", "propagate", cli=("-e",), choices=lambda: names("inpaint"),
          help="Inpaint engine (see `vedit engines`)."),
    Param("dilate", "int", 3, min=0, max=1024, help="Grow the mask by N pixels."),
    Param("feather", "float", 2.0, min=0, max=1024,
          help="Soften the edge over N px: a blend band outside the grown mask (the propagate engine rounds "
               "it to whole pixels; the diffusion engine blends its own way)."),
    Param("fps", "float", None, min=0.001, max=1000, help="Frame rate of an image-sequence input (default 25)."),
    Param("cfr", "float", None, min=0.001, max=1000,
          help="Write a constant frame rate (frames repeated/dropped by time) instead of keeping a VFR input's timing."),
    Param("fill_gaps", "str", None, choices=("hold",),
          help="Missing frames of a numbered input sequence: hold the frame before each gap (default: error)."),
    CODEC,
    Param("seed", "int", 0, min=0, max=2**32 - 1, help="Random seed."),
    Param("chunk_size", "int", None, min=2, max=100_000, help="Frames processed together (memory bound)."),
    Param("model", "str", None, engines=_D, help="Model folder or Hugging Face cache id."),
    Param("prompt", "str", None, engines=_D, help="Text describing what should fill the region."),
    Param("negative_prompt", "str", None, engines=_D, help="What to avoid."),
    Param("steps", "int", None, min=1, max=1000, engines=_D, help="Denoising steps."),
    Param("guidance", "float", None, min=0, max=100, engines=_D, help="Classifier-free guidance scale."),
    Param("keyframe_every", "int", None, min=1, max=100_000, engines=_D, help="At most K frames between keyframes."),
    Param("refine_strength", "float", None, min=0, max=1, engines=_D, aliases=("refine",),
          help="Strength of the per-frame refine pass (0 = off)."),
    Param("offload", "str", "none", choices=("none", "model"), engines=_D,
          help="Model CPU offload for small GPUs (CUDA)."),
    Param("vae_tiling", "bool", False, engines=_D, help="Tiled VAE decode (less memory)."),
    Param("device", "str", None, engines=_D, help="Torch device: cpu, cuda, mps (default: cpu)."),
    Param("dtype", "str", None, choices=("float32", "float16", "bfloat16"), engines=_D,
          help="Torch dtype (default: float32 on CPU)."),
)

_DIFFUSION_KEYS = tuple(p.name for p in PARAMS if p.engines == _D)


def check_params(v: dict[str, Any]) -> None:
    """Combinations (no media read): nothing beyond the per-param checks yet."""
    if not v.get("mask"):
        raise ParamError("mask", "--mask is required: an image, a folder of masks or a mask video")


def check_inputs(input: str, output: str, v: dict[str, Any], start: int | None = None, end: int | None = None,
                 job: bool = False) -> None:
    """The media, before any work: the input opens with its range, the mask
    matches its size and frame count and is not empty (ParamError ``mask``),
    and the output's container holds the asked codec."""
    writer_codec(output, v["codec"], job=job)
    _open_inputs(input, v, start, end, job)


def _open_inputs(input: str, v: dict[str, Any], start: int | None, end: int | None, job: bool):
    clip = open_clip(input, start, end, fps=v["fps"], fill_gaps=v["fill_gaps"])
    require_flow_size(clip, input, "to remove from")
    with as_param("mask", job):
        masks = open_masks(v["mask"], clip)
        still = masks.still
        if v["engine"] == "propagate" and still is not None and bool(np.all(still > 127)):
            # nothing in any frame is left to fill from: the result would be invented
            raise InvalidInputError(f"mask {v['mask']} covers the whole frame: nothing is left to fill from")
    return clip, masks


def run(input: str, output: str, *, start: int | None = None, end: int | None = None,
        callback: ProgressCallback = None, **params: Any) -> str:
    """Remove what ``mask`` covers in ``input`` and write ``output``.

    ``params``: see :data:`PARAMS` (``vedit remove --help``). Returns the final
    output path (absolute). Pixels outside the mask grown by ``dilate`` +
    ``feather`` are copied unchanged.
    """
    # 1. check inputs before any work
    v = OP.resolve(params)
    engine = v["engine"]
    spec = get_spec("inpaint", engine)
    codec = writer_codec(output, v["codec"])
    clip, masks = _open_inputs(input, v, start, end, False)
    check_output_path(output, [input, v["mask"]], overwrite=v["overwrite"], frames=clip.frame_count)

    # 2. engine
    # the propagate engine blends over whole pixels: round half up (2.5 -> 3)
    kwargs: dict[str, Any] = {"dilate": v["dilate"], "feather": int(math.floor(v["feather"] + 0.5))}
    if v["chunk_size"]:
        kwargs["chunk_size"] = v["chunk_size"]
    if engine == "diffusion":
        extra = {k: v[k] for k in _DIFFUSION_KEYS if v[k] is not None}
        if "refine_strength" in extra:  # the engine's name for it
            extra["refine"] = extra.pop("refine_strength")
        extra["offload"] = v["offload"] != "none"
        kwargs.update(extra)
    eng = spec.load()(**kwargs)

    # 3. stream: masks are checked for content as they pass
    any_mask = [False]

    def mask_iter() -> Iterator[np.ndarray]:
        for m in masks:
            if not any_mask[0] and np.any(np.asarray(m) > 127):
                any_mask[0] = True
            yield m

    n = clip.frame_count
    progress = OverallProgress(callback, n)
    # decoding runs ahead and encoding behind in threads: the engine works in
    # bursts (a chunk is read, then its frames come out together), so both
    # overlap its computation instead of waiting for it
    from vedit.streams import ThreadedWriter, prefetch

    # the writer takes the decoded source from the reader (untouched pixels
    # keep their samples without a second decode)
    kept = KeptFrames()
    out = eng.inpaint(prefetch(clip.frames(keep=kept), depth=8), mask_iter(), seed=v["seed"],
                      callback=progress.part(0, n), total=n)
    with open_writer(output, clip.fps, clip.size, like=clip, overwrite=v["overwrite"], cfr=v["cfr"],
                     codec=codec, kept=kept) as w:
        with ThreadedWriter(w, depth=24) as tw:
            for frame in out.frames:
                tw.write(frame)
        if not any_mask[0]:
            raise InvalidInputError(f"mask {v['mask']} is empty over the selected frames: nothing to remove")
        if w.count != n:
            raise InvalidInputError(f"engine produced {w.count} frames for {n} input frames")
    progress.finish()
    return final_path(output)


OP = OpDef("remove", PARAMS, run=run, check=check_params, media_check=check_inputs, engine_family="inpaint",
           help="Remove what MASK covers in INPUT; fill it consistently through the shot.")
