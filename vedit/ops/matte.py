"""``matte`` op: build a matte for a clip and write it as a grey matte (PNG
sequence 8/16-bit or video) or as the footage with alpha (ProRes 4444 .mov,
PNG RGBA sequence, VP9 .webm), optionally with a preview video."""
from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from vedit.engines import names
from vedit.errors import InvalidInputError, MediaError
from vedit.io import Clip, Writer, check_output_path, open_clip, open_masks, open_writer, require_flow_size
from vedit.io.clip import IMAGE_EXTS
from vedit.io.writer import output_kind
from vedit.ops.params import CODEC, OpDef, Param, ParamError, as_param, final_path, writer_codec
from vedit.ops.progress import OverallProgress


def choose_source(source=None, person=False, mask=None, box=None, points=None, chroma=None,
                  sam_checkpoint=None) -> str:
    """Which matte source the given options ask for."""
    if source:
        return source
    asked = [n for n, v in (("--person", person), ("--chroma", chroma), ("--mask", mask)) if v]
    if len(asked) > 1:
        raise InvalidInputError(f"give only one of {', '.join(asked)}")
    if person:
        return "person"
    if chroma:
        return "chroma"
    if sam_checkpoint:
        if points is None and box is None:
            raise InvalidInputError("--sam-checkpoint needs a prompt: --points X,Y[,X,Y...] or --box X,Y,W,H")
        return "sam"
    if points is not None:
        raise InvalidInputError("--points prompts SAM: add --sam-checkpoint PATH (or use --box for GrabCut)")
    if box is not None:
        return "grabcut"
    if mask:
        masks = [os.fspath(m) for m in (mask if isinstance(mask, (list, tuple)) else [mask])]
        still = [os.path.isfile(m) and m.lower().endswith(IMAGE_EXTS) for m in masks]
        if len(masks) > 1 and not all(still):
            bad = next(m for m, s in zip(masks, still) if not s)
            raise InvalidInputError(f"--mask {bad}: several --mask keyframes must each be one image "
                                    "(a mask sequence or video is used alone, frame for frame)")
        return "track" if still[0] else "file"
    raise InvalidInputError("say what to matte: --person, --mask PATH, --box X,Y,W,H, --points X,Y or --chroma COLOUR")


class _Png16Sequence(Writer):
    """16-bit grey PNG sequence: the vedit.io writer (atomic placement, the
    source's names and numbers, ``overwrite`` rules, timestamps beside VFR
    frames) with each matte written as one 16-bit grey channel."""

    def write(self, frame: np.ndarray) -> None:
        if self.closed:
            raise MediaError("writer already closed")
        alpha = np.asarray(frame, np.float32)
        img = np.clip(alpha * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
        number = self._numbers[self.count] if self._numbers and self.count < len(self._numbers) else self.count
        name = os.path.join(self._tmp, self._pattern % number)
        if not cv2.imwrite(name, img):
            raise MediaError(f"cannot write {name}")
        self.count += 1


def alpha8(alpha: np.ndarray) -> np.ndarray:
    """A float matte (0..1) as 8-bit levels, rounded to nearest (a value
    exactly halfway between two levels may go to either) and clipped, in one
    OpenCV pass (NumPy's scale, add, clip and cast make four)."""
    a = np.asarray(alpha, np.float32)
    return cv2.convertScaleAbs(cv2.max(a, 0.0), alpha=255.0)


def _checker(h: int, w: int, cell: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    c = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)
    return (c * 60 + 140)[:, :, None].repeat(3, axis=2)


def preview_frame(frame: np.ndarray, alpha: np.ndarray, style: str = "overlay", checker=None) -> np.ndarray:
    """Checkerboard composite, or the footage with a red tint outside the matte."""
    a = alpha[:, :, None]
    f = frame[:, :, :3].astype(np.float32)
    if style == "checker":
        bg = checker if checker is not None else _checker(*alpha.shape)
        out = a * f + (1 - a) * bg
    else:
        red = np.array([255, 0, 0], np.float32)
        out = f * (0.5 + 0.5 * a) + (1 - a) * 0.5 * red
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


PARAMS = (
    Param("source", "str", None, choices=lambda: names("matte"), cli=("--engine",), aliases=("engine",),
          help="Matte engine (see `vedit engines`); default: chosen from --person/--mask/--box/--points/--chroma."),
    Param("person", "bool", False, help="Matte people (MediaPipe models in the wheel, no downloads)."),
    Param("person_model", "str", "auto", choices=("auto", "pose", "selfie"),
          help="pose: full/half body; selfie: close-ups; auto picks per shot."),
    Param("include_shadow", "bool", True, cli_off="--no-shadow",
          help="--person: also matte the person's cast shadow on the ground (what a removal needs; "
               "--no-shadow for the person alone, e.g. to composite)."),
    Param("margin", "int", None, min=0, max=1024,
          help="--person: grow the refined matte by N px (default 1.25% of the frame height: 3 px at 240p, "
               "9 px at 720p, 14 px at 1080p; 0 = the model's edge). Added to --dilate."),
    Param("person_id", "int", None, min=1, max=10_000,
          help="--person: only person N (numbered from 1 in order of appearance); default everybody."),
    Param("with_props", "bool", True, cli_off="--no-props",
          help="--person: also matte what a person holds or rides (found from motion and contact: racket, "
               "ball, bag, bicycle); --no-props for the person alone."),
    Param("mask", "path", None, repeat=True,
          help="Keyframe mask image at --frame (tracked through the shot), or a mask sequence/video (used as is). "
               "Several keyframes of the object: --mask A.png --frame 0 --mask B.png --frame 60 (tracked from "
               "both sides between them)."),
    Param("frame", "int", None, min=0, max=10_000_000, repeat=True,
          help="Keyframe for --mask/--box/--points (from --start; default 0); one after each --mask."),
    Param("add_mask", "path", None, repeat=True,
          help="Join this mask to the matte: an image (the same region on every frame) or a mask sequence/video "
               "(frame for frame, e.g. an object matted with --box). Repeatable."),
    Param("subtract_mask", "path", None, repeat=True,
          help="Take this mask out of the matte (image, sequence or video, like --add-mask). Repeatable."),
    Param("box", "nums", None, count=4, metavar="X,Y,W,H",
          help="Box around the object on --frame (GrabCut, or SAM prompt)."),
    Param("points", "nums", None, metavar="X,Y[,X,Y...]", help="Points on the object on --frame (SAM prompt)."),
    Param("sam_checkpoint", "path", None, help="segment-anything checkpoint (local file)."),
    Param("sam_model", "str", "vit_b", choices=("vit_b", "vit_l", "vit_h"), help="Segment Anything model size."),
    Param("sam2_checkpoint", "path", None, engines=("sam2",), help="SAM 2 / 2.1 checkpoint (local .pt file)."),
    Param("sam2_config", "str", None, engines=("sam2",),
          help="SAM 2 model config: a name in the sam2 package (configs/sam2.1/sam2.1_hiera_t.yaml) or a YAML "
               "file; default: from a published checkpoint's file name."),
    Param("chunk_size", "int", None, min=2, max=100_000, engines=("sam2",),
          help="Frames propagated together, each chunk seeded from the last one's mask (memory bound; default 64)."),
    Param("chroma", "str", None, help="Chroma key: green, blue (screen colours), a CSS colour name or #RRGGBB."),
    Param("tolerance", "float", None, min=0, max=1, help="Chroma key tolerance 0..1 (default 0.18)."),
    Param("refine", "bool", True, help="Hole filling + guided-filter edges."),
    Param("smooth", "bool", True, help="Temporal smoothing along optical flow."),
    Param("dilate", "int", 0, min=-1024, max=1024, help="Grow (px) or shrink (negative) the matte."),
    Param("feather", "float", 0.0, min=0, max=1024, help="Soften the edge over N px."),
    Param("alpha", "bool", False,
          help="Write the footage with the matte as alpha (.mov ProRes 4444, .webm, folder/)."),
    Param("despill", "bool", True, help="With --alpha and --chroma: suppress the key colour's spill."),
    Param("bit_depth", "int", 8, choices=(8, 16), help="PNG matte bit depth (16 for a grey PNG folder only)."),
    CODEC,
    Param("preview", "path_out", None, help="Also write a preview video here."),
    Param("preview_style", "str", "overlay", choices=("overlay", "checker"), help="Preview look."),
    Param("cfr", "float", None, min=0.001, max=1000,
          help="Write a constant frame rate (frames repeated/dropped by time) instead of keeping a VFR input's timing."),
    Param("fill_gaps", "str", None, choices=("hold",),
          help="Missing frames of a numbered input sequence: hold the frame before each gap (default: error)."),
)


def check_params(v: dict[str, Any]) -> None:
    """Combinations, before any work (no media read)."""
    if v["points"] is not None and len(v["points"]) % 2:
        raise ParamError("points", f"--points {v['points']}: expected X,Y pairs")
    try:
        if not v["source"]:
            choose_source(None, v["person"], v["mask"], v["box"], v["points"], v["chroma"], v["sam_checkpoint"])
    except InvalidInputError as exc:
        raise ParamError("source", str(exc)) from None
    if v["source"] == "sam2":
        if not v["sam2_checkpoint"]:
            raise ParamError("sam2_checkpoint", "--sam2-checkpoint is required with --engine sam2: a local SAM 2 "
                                                "checkpoint (.pt)")
        if v["box"] is None and v["points"] is None:
            raise ParamError("box", "--engine sam2 needs a prompt: --box X,Y,W,H or --points X,Y[,X,Y...]")
    if v["margin"] is not None and (v["source"] or ("person" if v["person"] else None)) != "person":
        raise ParamError("margin", "--margin applies to --person only; use --dilate to grow other mattes")
    if v["bit_depth"] == 16 and v["alpha"]:
        raise ParamError("bit_depth", "--bit-depth 16 needs a grey matte written as a PNG folder (output ending in /)")


def check_source(clip: Clip, src: str, *, mask: Any, frame: Any, box: Any, points: Any, margin: Any = None,
                 mask_param: str = "mask", job: bool = False) -> None:
    """A matte source's params against the clip, before any work and without
    loading a model: keyframes inside the range, mask files of the clip's size
    and frame count, a box and points inside the frame. ``mask_param``: the
    param that holds the mask (``matte`` in replace-bg)."""
    from vedit.masks import make_source
    from vedit.masks.person import check_margin
    from vedit.masks.sam import parse_points
    from vedit.masks.sources import parse_box

    n = clip.frame_count
    frames = [] if frame is None else list(frame) if isinstance(frame, (list, tuple)) else [frame]
    for f in frames:
        if not 0 <= int(f) < n:
            raise ParamError("frame", f"{'params.frame' if job else '--frame'} {f} is outside the selected range "
                                      f"(0..{n - 1})")
    masks = [] if not mask else list(mask) if isinstance(mask, (list, tuple)) else [mask]
    with as_param(mask_param, job):
        if src == "file" and masks:
            open_masks(os.fspath(masks[0]), clip, allow_empty=True, soft=True)
        elif src == "track" and masks:
            make_source("track", mask=masks, frame=frame).check(clip)
    if src in ("grabcut", "sam", "sam2") and box is not None:
        with as_param("box", job):
            parse_box(box, clip.width, clip.height)
    if src in ("sam", "sam2") and points is not None:
        with as_param("points", job):
            parse_points(points, clip.width, clip.height)
    if src == "person" and margin is not None:
        with as_param("margin", job):
            check_margin(margin, clip.height)


def check_edit_masks(clip: Clip, add: Any, subtract: Any, job: bool = False) -> None:
    """``add_mask`` / ``subtract_mask`` files against the clip (size, frame count)."""
    from vedit.masks.keyframes import open_edit_masks

    with as_param("add_mask", job):
        open_edit_masks(clip, add, None)
    with as_param("subtract_mask", job):
        open_edit_masks(clip, None, subtract)


def check_inputs(input: str, output: str, v: dict[str, Any], start: int | None = None, end: int | None = None,
                 job: bool = False) -> Clip:
    """The media and the outputs' kinds, before any work: the input opens with
    its range, the source's masks, box, points and keyframes fit it, the output
    can carry what is asked (alpha, 16 bits), the preview is a video. Returns
    the clip."""
    src = choose_source(v["source"], v["person"], v["mask"], v["box"], v["points"], v["chroma"],
                        v["sam_checkpoint"])
    clip = open_clip(input, start=start, end=end, fill_gaps=v["fill_gaps"])
    require_flow_size(clip, input, "to matte")
    kind = output_kind(output)
    if v["preview"] and output_kind(v["preview"]) in ("sequence", "image"):
        raise ParamError("preview", f"{'params.preview' if job else '--preview'} {v['preview']}: give a video "
                                    "path (.mp4, .mov, .webm)")
    if int(v["bit_depth"]) == 16 and (kind != "sequence" or v["alpha"]):
        raise ParamError("bit_depth", f"{'params.bit_depth' if job else '--bit-depth'} 16 needs a grey matte "
                                      "written as a PNG folder (output ending in /)")
    if v["alpha"] and kind in (".mp4", ".m4v", ".gif"):
        raise ParamError("alpha", f"{'params.alpha' if job else '--alpha'}: output {output} is {kind}, which "
                                  "cannot carry alpha; use .mov (ProRes 4444), .webm or a folder/")
    writer_codec(output, v["codec"], alpha=bool(v["alpha"]), job=job)
    check_source(clip, src, mask=v["mask"], frame=v["frame"], box=v["box"], points=v["points"], margin=v["margin"],
                 job=job)
    if src == "sam2":
        from vedit.masks.sam2_video import config_for

        with as_param("sam2_config", job):
            config_for(v["sam2_checkpoint"], v["sam2_config"])
    check_edit_masks(clip, v["add_mask"], v["subtract_mask"], job)
    return clip


def run(input: str, output: str, *, start: int | None = None, end: int | None = None, callback: Any = None,
        **params: Any) -> str:
    """Build a matte of ``input`` (see ``vedit.masks.matte_stream``; the person
    matte is ``vedit.masks.person.person_matte_stream``, with
    ``include_shadow`` and ``margin``) and write it to ``output``. ``alpha=True`` writes the footage
    with the matte as alpha (``.mov`` ProRes 4444, ``.webm`` VP9, folder = PNG
    RGBA); otherwise a grey matte (folder = PNG, ``bit_depth`` 8 or 16; or a
    video). ``preview`` adds a preview video (``preview_style`` ``overlay`` or
    ``checker``). Returns the final output path (absolute)."""
    v = OP.resolve(params)
    source, person, mask, frame, box, points = v["source"], v["person"], v["mask"], v["frame"], v["box"], v["points"]
    chroma, tolerance, person_model = v["chroma"], v["tolerance"], v["person_model"]
    sam_checkpoint, sam_model, refine, smooth = v["sam_checkpoint"], v["sam_model"], v["refine"], v["smooth"]
    dilate, feather, alpha, bit_depth = v["dilate"], v["feather"], v["alpha"], v["bit_depth"]
    preview, preview_style, despill = v["preview"], v["preview_style"], v["despill"]
    include_shadow, margin = v["include_shadow"], v["margin"]
    from vedit.masks import matte_stream

    # 1. check inputs before any work
    src = choose_source(source, person, mask, box, points, chroma, sam_checkpoint)
    clip = check_inputs(input, output, v, start, end)
    inputs = [input] + list(mask or []) + list(v["add_mask"] or []) + list(v["subtract_mask"] or [])
    check_output_path(output, inputs, overwrite=v["overwrite"], frames=clip.frame_count)
    if preview:
        check_output_path(preview, [input, output], overwrite=v["overwrite"])

    # 2. the matte stream (raises on bad prompts before the first frame)
    n = clip.frame_count
    progress = OverallProgress(callback, n)
    callback = progress.part(0, n)
    if src == "person":
        from vedit.masks.person import person_matte_stream

        alphas = person_matte_stream(clip, person_model=person_model, include_shadow=include_shadow, margin=margin,
                                     refine=refine, smooth=smooth, dilate=dilate, feather_px=feather,
                                     person_id=v["person_id"], with_props=v["with_props"],
                                     add_mask=v["add_mask"], subtract_mask=v["subtract_mask"], callback=callback)
    else:
        alphas = matte_stream(clip, src, mask=mask, frame=frame, box=box, points=points, chroma=chroma,
                              tolerance=tolerance, person_model=person_model, sam_checkpoint=sam_checkpoint,
                              sam_model=sam_model, sam2_checkpoint=v["sam2_checkpoint"],
                              sam2_config=v["sam2_config"], chunk_size=v["chunk_size"], refine=refine, smooth=smooth,
                              dilate=dilate, feather=feather,
                              confidence_path=output.rstrip("/" + os.sep) + ".confidence.json",
                              add_mask=v["add_mask"], subtract_mask=v["subtract_mask"], callback=callback)
    need_frames = bool(alpha or preview)
    keyer = None
    if alpha and src == "chroma" and despill:
        from vedit.masks.sources import ChromaMatteSource

        keyer = ChromaMatteSource(chroma=chroma, tolerance=tolerance)

    # 3. write
    size = (clip.width, clip.height)
    out_ctx: Any
    # like=clip: the source's sequence names and numbers, timing, timecode and
    # colour tags; a grey matte is 8-bit data (or the 16-bit PNG below), so it
    # never takes the footage's own high-bit samples (bit_depth=8), and it is
    # a new picture, not an edit of the footage: the writer does not decode
    # the source again to keep its samples where they are unchanged
    # (keep_source=False). The footage with alpha, and the preview (the
    # footage tinted outside the matte), are the source's pixels: they keep it.
    if int(bit_depth) == 16:
        out_ctx = _Png16Sequence(output, clip.fps, size, like=clip, overwrite=v["overwrite"], cfr=v["cfr"],
                                 bit_depth=8, keep_source=False)
    else:
        out_ctx = open_writer(output, clip.fps, size, alpha=bool(alpha), like=clip, overwrite=v["overwrite"],
                              cfr=v["cfr"], bit_depth=None if alpha else 8, keep_source=bool(alpha),
                              codec=writer_codec(output, v["codec"], alpha=bool(alpha)))
    prev_ctx = (open_writer(preview, clip.fps, size, like=clip, overwrite=v["overwrite"], cfr=v["cfr"])
                if preview else None)
    checker = _checker(clip.height, clip.width) if preview and preview_style == "checker" else None
    frames = clip.frames() if need_frames else None
    try:
        with out_ctx as w:
            for a in alphas:
                f: Any = next(frames) if frames is not None else None
                if isinstance(w, _Png16Sequence):
                    w.write(a)
                elif alpha:
                    rgb = keyer.despill(f) if keyer is not None else f[:, :, :3]
                    w.write(np.dstack([rgb, alpha8(a)]))
                else:
                    w.write(alpha8(a))
                if prev_ctx is not None:
                    prev_ctx.write(preview_frame(f, a, preview_style, checker))
        if prev_ctx is not None:
            prev_ctx.close()
    except BaseException:
        if prev_ctx is not None:
            prev_ctx.abort()
        raise
    progress.finish()
    return final_path(output)


OP = OpDef("matte", PARAMS, run=run, check=check_params, media_check=check_inputs, engine_family="matte",
           engine_param="source",
           help="Build a matte of INPUT: a person, a tracked keyframe mask, a box (GrabCut), SAM points/box, "
                "or a chroma key.")
