"""``animate``: a still image in, a short clip out.

Engines: ``parallax`` (2.5D camera move over layers from mattes), ``motion``
(motion brush, seamless loops) and ``diffusion`` (image-to-video models,
local weights). Output size, aspect, fps, duration and format are handled
here, the same for every engine.
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any

import cv2
import numpy as np

from vedit.engines import get_spec, names
from vedit.engines.base import report
from vedit.errors import InvalidInputError
from vedit.ops.params import CODEC, OpDef, Param, ParamError, as_param, final_path, writer_codec
from vedit.ops.progress import OverallProgress
from vedit.runtime import info

DEFAULT_DURATION = 3.0
DEFAULT_FPS = 25.0


# -- output geometry ------------------------------------------------------------
def parse_size(size, image_size: tuple[int, int]) -> tuple[int, int] | None:
    """'WxH', 'W' (height from the image's aspect), (w, h) or None."""
    if size is None or size == "":
        return None
    w0, h0 = image_size
    w: int | None
    h: int | None
    if isinstance(size, str):
        txt = size.lower().replace(" ", "")
        try:
            if "x" in txt:
                a, b = txt.split("x", 1)
                w = int(a) if a else None
                h = int(b) if b else None
            else:
                w, h = int(txt), None
        except ValueError:
            raise InvalidInputError(f"--size {size!r}: expected WxH (e.g. 1280x720) or a width") from None
    else:
        try:
            w, h = (int(v) for v in size)
        except (TypeError, ValueError):
            raise InvalidInputError(f"--size {size!r}: expected (width, height)") from None
    if w is None and h is None:
        raise InvalidInputError(f"--size {size!r}: expected WxH (e.g. 1280x720) or a width")
    if w is None:
        assert h is not None
        w = max(2, round(h * w0 / h0))
    if h is None:
        h = max(2, round(w * h0 / w0))
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise InvalidInputError(f"--size {size!r}: width and height must be between 16 and 8192")
    return int(w), int(h)


def parse_aspect(aspect) -> float | None:
    if aspect is None or aspect == "":
        return None
    txt = str(aspect).replace(" ", "")
    try:
        if ":" in txt or "/" in txt:
            a, b = txt.replace("/", ":").split(":", 1)
            val = float(a) / float(b)
        else:
            val = float(txt)
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"--aspect {aspect!r}: expected W:H such as 16:9, 9:16, 1:1 or a ratio") from None
    if not (0.1 <= val <= 10):
        raise InvalidInputError(f"--aspect {aspect!r}: ratio must be between 1:10 and 10:1")
    return val


def target_size(image_size: tuple[int, int], size=None, aspect=None, fit: str = "crop") -> tuple[int, int]:
    """Output (w, h) from --size and --aspect. An aspect alone keeps the
    image's scale: ``crop`` trims a side, ``pad`` extends one."""
    w0, h0 = image_size
    s = parse_size(size, image_size)
    ar = parse_aspect(aspect)
    if s is not None and ar is not None and isinstance(size, str) and "x" in size.lower() \
            and all(size.lower().split("x")):
        raise InvalidInputError("give either --size WxH or --aspect (with an optional --size width), not both")
    if s is None:
        if ar is None:
            return w0, h0
        wider = w0 / h0 > ar
        if (fit == "pad") == wider:
            return w0, max(2, round(w0 / ar))
        return max(2, round(h0 * ar)), h0
    if ar is not None:
        return s[0], max(2, round(s[0] / ar))
    return s


def fit_geometry(src: tuple[int, int], dst: tuple[int, int], fit: str = "crop"):
    """(sx, sy, ox, oy): image point (x, y) lands at (x·sx + ox, y·sy + oy)."""
    w0, h0 = src
    w, h = dst
    if fit not in ("crop", "pad", "stretch"):
        raise InvalidInputError(f"--fit {fit!r}: choose crop, pad or stretch")
    if fit == "stretch" or (w0, h0) == (w, h):
        return w / w0, h / h0, 0.0, 0.0
    s = max(w / w0, h / h0) if fit == "crop" else min(w / w0, h / h0)
    rw, rh = max(1, round(w0 * s)), max(1, round(h0 * s))
    if fit == "crop":
        return rw / w0, rh / h0, -float((rw - w) // 2), -float((rh - h) // 2)
    return rw / w0, rh / h0, float((w - rw) // 2), float((h - rh) // 2)


def fit_image(img: np.ndarray, size: tuple[int, int], fit: str = "crop", is_mask: bool = False) -> np.ndarray:
    """Resize to ``size`` keeping the aspect: ``crop`` fills and trims the
    centre, ``pad`` fits inside and fills the bars (a dimmed, blurred mirror
    of the image; 0 for masks), ``stretch`` ignores the aspect."""
    h0, w0 = img.shape[:2]
    w, h = size
    sx, sy, ox, oy = fit_geometry((w0, h0), (w, h), fit)
    if (w0, h0) == (w, h):
        return img
    rw, rh = max(1, round(w0 * sx)), max(1, round(h0 * sy))
    down = rw * rh < w0 * h0
    interp = cv2.INTER_LINEAR if is_mask else (cv2.INTER_AREA if down else cv2.INTER_CUBIC)
    r = cv2.resize(img, (rw, rh), interpolation=interp)
    if fit != "pad":
        x0, y0 = int(-ox), int(-oy)
        return np.ascontiguousarray(r[y0:y0 + h, x0:x0 + w])
    x0, y0 = int(ox), int(oy)
    border = (y0, h - rh - y0, x0, w - rw - x0)
    if is_mask:
        return cv2.copyMakeBorder(r, *border, cv2.BORDER_CONSTANT, value=0)
    out = cv2.copyMakeBorder(r, *border, cv2.BORDER_REFLECT_101)
    blur = cv2.GaussianBlur(out, (0, 0), max(2.0, 0.03 * max(w, h)))
    keep = np.zeros((h, w), bool)
    keep[y0:y0 + rh, x0:x0 + rw] = True
    return np.where(keep[:, :, None], out, (blur * 0.6).astype(np.uint8))


# -- inputs ---------------------------------------------------------------------
def load_still(input: str, start: int | None = None):
    """The image to animate (RGB uint8) and its Clip. A video or sequence
    gives its frame ``start`` (default 0)."""
    from vedit.io import open_clip

    clip = open_clip(input)
    idx = int(start or 0)
    if idx < 0 or idx >= clip.frame_count:
        raise InvalidInputError(f"--start {start}: {input} has {clip.frame_count} frame(s); pick 0..{clip.frame_count - 1}")
    one = clip.subclip(idx, idx + 1) if clip.frame_count > 1 else clip
    img = next(iter(one.frames()))
    return np.ascontiguousarray(img[:, :, :3]), one


def _as_list(v) -> list:
    if v is None or v == "":
        return []
    if isinstance(v, (str, bytes, os.PathLike)):
        return [v]
    return list(v)


def load_regions(paths, size: tuple[int, int]) -> list[np.ndarray]:
    """Region masks (uint8 {0, 255}) at the input image's size."""
    from vedit.io.masks import read_mask_image

    out = []
    w, h = size
    for p in _as_list(paths):
        m = read_mask_image(os.fspath(p))
        if m.shape != (h, w):
            raise InvalidInputError(f"--region {p}: mask is {m.shape[1]}x{m.shape[0]}, the image is {w}x{h}; "
                                    "give a mask of the image's size")
        if not m.any():
            raise InvalidInputError(f"--region {p}: the mask is empty (no white pixels)")
        out.append(m)
    return out


def person_matte(image: np.ndarray, model: str = "auto") -> np.ndarray | None:
    """Soft person matte of a still, or None when nobody is found."""
    from vedit.masks.person import PersonSegmenter

    seg = PersonSegmenter(model=model)
    try:
        a = seg.segment(image)
    finally:
        close = getattr(seg, "close", None)
        if close:
            close()
    if a is None or float((a > 0.5).mean()) < 0.002:
        return None
    try:
        from vedit.masks.refine import guided_refine

        a = guided_refine(a, image)
    except ImportError:  # pragma: no cover
        pass
    return np.clip(a, 0, 1).astype(np.float32)


def sam_matte(clip, points=None, box=None, sam_checkpoint=None, sam_model="vit_b") -> np.ndarray:
    from vedit.masks import matte_stream

    return next(iter(matte_stream(clip, "sam", points=points, box=box, sam_checkpoint=sam_checkpoint,
                                  sam_model=sam_model, smooth=False)))


def parse_arrows(motion) -> list:
    from vedit.engines.animate_motion import Arrow

    items = _as_list(motion)
    if len(items) == 4 and all(isinstance(v, (int, float)) for v in items):
        items = [items]  # one arrow given as four numbers
    return [Arrow.parse(a) for a in items]


# -- op -------------------------------------------------------------------------
CAMERAS = ("dolly-in", "dolly-out", "pan-left", "pan-right", "pan-up", "pan-down", "orbit", "zoom")
_P, _M, _D = ("parallax",), ("motion",), ("diffusion",)

PARAMS = (
    Param("engine", "str", "parallax", choices=lambda: names("animate"), help="parallax | motion | diffusion."),
    Param("duration", "float", None, min=0.001, max=120, help="Seconds (default 3; diffusion: the model's length)."),
    Param("fps", "float", None, min=1, max=120, help="Frame rate (default 25; diffusion: the model's rate)."),
    Param("frames", "int", None, min=1, max=10_000, help="Exact frame count (overrides --duration)."),
    Param("loop", "bool", False, help="Seamless loop: the last frame leads back into the first."),
    Param("size", "str", None, metavar="WxH",
          help="Output WxH (e.g. 1280x720) or a width; the image is fitted by --fit."),
    Param("aspect", "str", None, metavar="W:H",
          help="Output aspect such as 16:9, 9:16, 1:1 (with an optional --size width)."),
    Param("fit", "str", "cover", choices=("cover", "contain", "stretch"), value_aliases=(("crop", "cover"), ("pad", "contain")),
          help="How the image fills a new size or aspect: cover (fill, trim the centre), contain (fit inside, "
               "pad the bars) or stretch; as in replace-bg (crop/pad are accepted for cover/contain)."),
    Param("seed", "int", 0, min=0, max=2**32 - 1, help="Random seed."),
    CODEC,
    Param("camera", "str", "dolly-in", choices=CAMERAS, engines=_P, help="Parallax camera move."),
    Param("strength", "float", 1.0, min=0, max=4, engines=_P, help="Size of the camera move (0..4)."),
    Param("subject", "str", "auto", choices=("auto", "person", "none"), engines=_P,
          help="Parallax subject layer: a person matte (auto: when no --region/SAM prompt is given and a "
               "person is found), or none (one flat plane)."),
    Param("person_model", "str", "auto", choices=("auto", "selfie", "pose"),
          help="pose: full/half body; selfie: close-ups; auto picks per image."),
    Param("region", "path", None, repeat=True,
          help="Mask image (white = area). Parallax: one layer per mask, near to far; motion: where it moves."),
    Param("points", "nums", None, metavar="X,Y[,X,Y...]", engines=_P, help="SAM prompt for a parallax subject layer."),
    Param("box", "nums", None, count=4, metavar="X,Y,W,H", engines=_P, help="SAM prompt for a parallax subject layer."),
    Param("sam_checkpoint", "path", None, engines=("parallax", "motion"),
          help="Segment Anything checkpoint: parallax --points/--box layers; motion: the region under each arrow."),
    Param("sam_model", "str", "vit_b", choices=("vit_b", "vit_l", "vit_h"), help="Segment Anything model size."),
    Param("depth_ratio", "float", 3.0, min=1.0, max=100, engines=_P,
          help="Background depth relative to the nearest subject (more = stronger parallax)."),
    Param("motion", "nums", None, repeat=True, count=4, metavar="X0,Y0,X1,Y1", engines=_M,
          help="Motion-brush arrow (repeatable): material at X0,Y0 travels to X1,Y1 over the clip."),
    Param("speed", "float", 1.0, min=0, max=100, engines=_M, help="Scales the --motion arrows."),
    Param("loop_style", "str", "bounce", choices=("bounce", "flow"), engines=_M,
          help="Motion --loop: bounce (out along the arrows and back; objects) or flow (texture keeps "
               "moving; water, smoke, clouds)."),
    Param("save_regions", "path_out", None, engines=_M,
          help="Motion without --region: also write the areas the arrows picked (white = moves) to this PNG."),
    Param("model", "str", None, engines=_D, help="Local image-to-video model folder or cached HF id."),
    Param("prompt", "str", None, engines=_D, help="Text for text-conditioned models (Wan, LTX, CogVideoX)."),
    Param("negative_prompt", "str", None, engines=_D, help="What the video should not show."),
    Param("steps", "int", None, min=1, max=1000, engines=_D, help="Denoising steps (default: the family's)."),
    Param("guidance", "float", None, min=0, max=100, engines=_D, help="Guidance scale (SVD: the maximum)."),
    Param("motion_bucket", "int", 127, min=1, max=255, engines=_D, help="SVD: amount of motion (1..255)."),
    Param("noise_aug", "float", 0.02, min=0, max=1, engines=_D, help="SVD: noise added to the image."),
    Param("decode_chunk_size", "int", None, min=1, max=10_000, engines=_D, help="Frames decoded at once (less memory)."),
    Param("pin_first", "bool", False, engines=_D, help="Frame 0 is exactly the input image."),
    Param("device", "str", None, engines=_D, help="Torch device (auto, cpu, cuda, mps)."),
    Param("dtype", "str", None, choices=("float32", "float16", "bfloat16"), engines=_D, help="Torch dtype."),
    Param("offload", "str", "none", choices=("none", "model", "sequential"), engines=_D,
          help="CPU offload for small GPUs."),
    Param("vae_tiling", "bool", False, engines=_D, help="Tiled VAE decode (less memory)."),
    Param("max_side", "int", None, min=64, max=4096, engines=_D,
          help="Cap the size the model runs at (default: the model's native area)."),
)


def check_params(v: dict[str, Any]) -> None:
    """Combinations, before any work (no media read)."""
    if v["engine"] == "motion" and not v["motion"]:
        raise ParamError("motion", "--engine motion needs at least one --motion X0,Y0,X1,Y1 arrow")
    if v["engine"] == "diffusion" and v["loop"]:
        raise ParamError("loop", "--loop is not available with --engine diffusion; use --engine motion or parallax")
    if v["points"] is not None and len(v["points"]) % 2:
        raise ParamError("points", f"--points {v['points']}: expected X,Y pairs")
    if (v["points"] is not None or v["box"] is not None) and not v["sam_checkpoint"]:
        raise ParamError("sam_checkpoint", "--points/--box select a layer with Segment Anything: add "
                                           "--sam-checkpoint PATH (sam_vit_b_01ec64.pth or similar)")


def run(input: str, output: str, *, start: int | None = None, end: int | None = None, callback: Any = None,
        **params: Any) -> str:
    """Animate the still ``input`` into ``output``; returns the final output
    path (absolute). ``params``: see :data:`PARAMS` (``vedit animate --help``).

    ``start`` picks the frame of a video/sequence input; ``end`` does not
    apply (the output length is ``frames`` or ``duration`` × ``fps``).
    """
    if end is not None:
        raise InvalidInputError("animate: --end does not apply (the input is one still); set the length with "
                                "--duration or --frames")
    v = OP.resolve(params)
    check_inputs(input, output, v, start, end)
    v["fit"] = {"cover": "crop", "contain": "pad"}.get(v["fit"], v["fit"])  # the geometry's own names
    return _animate(input, output, start, callback, **v)


def check_inputs(input: str, output: str, v: dict[str, Any], start: int | None = None, end: int | None = None,
                 job: bool = False) -> None:
    """The media, before any work: the still opens (frame ``start`` of a video),
    the output size and aspect apply to it, each region mask matches its size
    and is not empty, the arrows parse, a SAM box and points fall inside the
    output frame they select on; the output's container holds the asked codec."""
    from vedit.masks.sam import parse_points
    from vedit.masks.sources import parse_box

    writer_codec(output, v["codec"], job=job)
    image, _ = load_still(input, start)
    h0, w0 = image.shape[:2]
    with as_param("size", job):
        w, h = target_size((w0, h0), v["size"], v["aspect"], {"cover": "crop", "contain": "pad"}.get(v["fit"],
                                                                                                    v["fit"]))
    with as_param("region", job):
        load_regions(v["region"], (w0, h0))
    with as_param("motion", job):
        parse_arrows(v["motion"])
    if v["box"] is not None:
        with as_param("box", job):
            parse_box(v["box"], w, h)
    if v["points"] is not None:
        with as_param("points", job):
            parse_points(v["points"], w, h)


def _animate(input: str, output: str, start: int | None, callback: Any, *, engine: str,
             duration: float | None, fps: float | None, frames: int | None, loop: bool, seed: int,
             size: Any, aspect: Any, fit: str, camera: str, strength: float, subject: str,
             person_model: str, region: Any, points: Any, box: Any, sam_checkpoint: str | None,
             sam_model: str, depth_ratio: float, motion: Any, speed: float, model: str | None,
             prompt: str | None, negative_prompt: str | None, steps: int | None, guidance: float | None,
             motion_bucket: int, noise_aug: float, decode_chunk_size: int | None, pin_first: bool,
             device: str | None, dtype: str | None, offload: str, vae_tiling: bool, max_side: int | None,
             overwrite: bool, codec: str = "auto", loop_style: str = "bounce",
             save_regions: str | None = None) -> str:
    from vedit.io import check_output_path, open_writer

    # 1. check inputs (before any work)
    offload_kind = None if offload == "none" else offload
    spec = get_spec("animate", engine)
    check_output_path(output, [input], overwrite=overwrite)
    if fps is not None and not (math.isfinite(float(fps)) and 1 <= float(fps) <= 120):
        raise InvalidInputError(f"--fps {fps!r}: use a rate between 1 and 120")
    if duration is not None and not (math.isfinite(float(duration)) and 0 < float(duration) <= 120):
        raise InvalidInputError(f"--duration {duration!r}: use seconds between 0 and 120")
    if frames is not None and not (1 <= int(frames) <= 10000):
        raise InvalidInputError(f"--frames {frames!r}: use 1..10000")
    image, clip = load_still(input, start)
    h0, w0 = image.shape[:2]
    size_out = target_size((w0, h0), size, aspect, fit)
    arrows = parse_arrows(motion)
    regions = load_regions(region, (w0, h0))
    if engine == "motion" and not arrows:
        raise InvalidInputError("--engine motion needs at least one --motion X0,Y0,X1,Y1 arrow")
    if engine != "motion" and arrows:
        raise InvalidInputError(f"--motion arrows are for --engine motion (engine here: {engine})")

    # 2. output geometry and timing
    image_f = fit_image(image, size_out, fit)
    regions_f = [(fit_image(m, size_out, fit, is_mask=True) > 127).astype(np.uint8) * 255 for m in regions]
    sx, sy, ox, oy = fit_geometry((w0, h0), size_out, fit)
    if max(sx, sy) > 2.0:
        sys.stderr.write(f"warning: the {w0}x{h0} still is upscaled {max(sx, sy):.1f}x to {size_out[0]}x"
                         f"{size_out[1]}; the clip has only the still's detail\n")
    arrows_f = [a.__class__(a.x0 * sx + ox, a.y0 * sy + oy, a.x1 * sx + ox, a.y1 * sy + oy) for a in arrows]

    if engine == "diffusion":
        dprog = OverallProgress(callback, 1000)
        return _run_diffusion(image_f, output, clip, size_out, dprog.part(0, 1000), fps=fps, duration=duration,
                              frames=frames, seed=seed, model=model, prompt=prompt,
                              negative_prompt=negative_prompt, steps=steps, guidance=guidance,
                              motion_bucket=motion_bucket, noise_aug=noise_aug,
                              decode_chunk_size=decode_chunk_size, pin_first=pin_first, device=device,
                              dtype=dtype, offload=offload_kind, vae_tiling=vae_tiling, loop=loop,
                              max_side=max_side, overwrite=overwrite, codec=codec)

    rate = float(fps) if fps is not None else DEFAULT_FPS
    n = int(frames) if frames is not None else max(1, int(round((duration or DEFAULT_DURATION) * rate)))
    progress = OverallProgress(callback, n)
    callback = progress.part(0, n)

    # 3. engine
    if engine == "parallax":
        mattes = list(regions_f)
        if points is not None or box is not None or sam_checkpoint:
            if not sam_checkpoint:
                raise InvalidInputError("--points/--box select a layer with Segment Anything: add "
                                        "--sam-checkpoint PATH (sam_vit_b_01ec64.pth or similar)")
            from vedit.io import open_clip as _oc  # a 1-frame clip of the fitted image for SAM

            mattes.insert(0, _sam_on_image(image_f, points, box, sam_checkpoint, sam_model, _oc))
        if subject not in ("auto", "person", "none"):
            raise InvalidInputError(f"--subject {subject!r}: choose auto, person or none")
        if subject == "person" or (subject == "auto" and not mattes):
            report(callback, 0, n, "person matte")
            pm = person_matte(image_f, person_model)
            if pm is None and subject == "person":
                raise InvalidInputError("--subject person: no person found in the image; give --region MASK "
                                        "or SAM prompts for the subject, or --subject none")
            if pm is not None:
                mattes.insert(0, pm)
        eng = spec.load()(depth_ratio=depth_ratio)
        result = eng.animate(image_f, num_frames=n, fps=rate, mattes=mattes, camera=camera, strength=strength,
                             loop=loop, seed=seed, callback=callback)
    elif engine == "motion":
        reg = None
        if regions_f:
            reg = np.maximum.reduce(regions_f) if len(regions_f) > 1 else regions_f[0]
        eng = spec.load()(loop_style=loop_style)
        found = None
        if reg is None:
            masks = None
            if sam_checkpoint:
                from vedit.io import open_clip as _oc

                masks = [_sam_on_image(image_f, [a.x0, a.y0], None, sam_checkpoint, sam_model, _oc)
                         for a in arrows_f]
            found = eng.arrow_regions(image_f, arrows_f, masks)  # printed before any progress line is drawn
            for i, r in enumerate(found):
                info(f"motion region {i + 1}: {r.describe()}")
            if save_regions:
                area = np.maximum.reduce([r.weight for r in found])
                if not cv2.imwrite(os.fspath(save_regions), np.clip(area * 255 + 0.5, 0, 255).astype(np.uint8)):
                    raise InvalidInputError(f"--save-regions {save_regions}: cannot write it; use a .png path "
                                            "in an existing folder")
        result = eng.animate(image_f, num_frames=n, fps=rate, arrows=arrows_f, region=reg, loop=loop,
                             speed=speed, seed=seed, callback=callback, regions=found)
    else:
        # a third-party animate engine: the shared call signature
        eng = spec.load()()
        result = eng.animate(image_f, num_frames=n, fps=rate, seed=seed, loop=loop, callback=callback)

    # 4. write (temp name, renamed on success)
    with open_writer(output, rate, size_out, overwrite=overwrite, codec=writer_codec(output, codec)) as wr:
        for fr in result.frames:
            wr.write(fr)
    progress.finish()
    return final_path(output)


def _sam_on_image(image, points, box, checkpoint, sam_model, open_clip):
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vedit-sam-") as d:
        p = os.path.join(d, "still.png")
        cv2.imwrite(p, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        clip = open_clip(p)
        return sam_matte(clip, points=points, box=box, sam_checkpoint=checkpoint, sam_model=sam_model)


def _run_diffusion(image, output, clip, size_out, callback, *, fps, duration, frames, seed, model, prompt,
                   negative_prompt, steps, guidance, motion_bucket, noise_aug, decode_chunk_size, pin_first,
                   device, dtype, offload, vae_tiling, loop, max_side, overwrite=False, codec="auto"):
    from vedit.engines.animate_diffusion import DiffusionAnimateEngine
    from vedit.io import open_writer

    if loop:
        raise InvalidInputError("--loop is not available with --engine diffusion; use --engine motion or parallax")
    if max_side is not None and not 64 <= int(max_side) <= 4096:
        raise InvalidInputError(f"--max-side {max_side}: use 64..4096 pixels")
    eng = DiffusionAnimateEngine(model=model, device=device, dtype=dtype, offload=offload, vae_tiling=vae_tiling,
                                 max_side=max_side)
    rate = float(fps) if fps is not None else eng.default_fps()
    n = int(frames) if frames is not None else (int(round(duration * rate)) if duration else None)
    result = eng.animate(image, num_frames=n, fps=rate, seed=seed, prompt=prompt, negative_prompt=negative_prompt,
                         steps=steps, guidance=guidance, motion_bucket=motion_bucket, noise_aug=noise_aug,
                         decode_chunk_size=decode_chunk_size, pin_first=pin_first, size=size_out,
                         callback=callback)
    with open_writer(output, result.fps, size_out, overwrite=overwrite, codec=writer_codec(output, codec)) as wr:
        for fr in result.frames:
            wr.write(fr)
    if callback is not None:
        callback(1, 1, "done")
    return final_path(output)


OP = OpDef("animate", PARAMS, run=run, check=check_params, media_check=check_inputs, still_input=True,
           engine_family="animate",
           help="Turn the still IMAGE into a clip: a parallax camera move, a motion-brush animation "
                "(seamless with --loop) or an image-to-video diffusion model.")
