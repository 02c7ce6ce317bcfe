"""``replace-bg``: keep the subject, replace everything behind it.

    from vedit.ops import replace_bg
    replace_bg.run("shot.mp4", "out.mp4", background="beach.jpg")            # person matte
    replace_bg.run("shot/", "out/", background="#202830", matte="mask.png")  # a mask file
    replace_bg.run("shot.mp4", "out.mov", background="transparent")         # alpha output
    replace_bg.run("shot.mp4", "out.mp4", prompt="a misty forest", model="/models/sd-inpaint")

Steps: 1. check inputs (clip, output, background, engine) before any work;
2. (plates that follow the camera) first pass: matte + camera tracking, the
matte cached compressed on disk; fit the plate to cover the whole camera path;
generate the plate for ``prompt``; 3. composite pass: plate warped by the
camera path, edge-aware alpha, light wrap, colour match, spill, written
atomically with the input's fps and audio for the range.

Speed: decode, matting, compositing and encoding run in a chain of threads
(vedit.streams). The person matte is the one of ``vedit matte --person``
(vedit.masks.person.person_mattes: every person, without cast shadow or
props), its decoded frames reused for compositing. The camera tracker follows
sparse corners (a few ms a frame). With a plate that follows the camera, the
first pass also does the compositor's plate-independent half (matte
upsampling around the subject, edge refinement; cached compressed) and keeps
decoded frames in memory up to FRAME_CACHE_BYTES, so the second pass mostly
just warps the plate, blends and encodes.
"""
from __future__ import annotations

import os
import sys
import tempfile
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np

from vedit.engines import names
from vedit.errors import InvalidInputError, MediaError
from vedit.ops.params import CODEC, OpDef, Param, ParamError, as_param, final_path, writer_codec
from vedit.runtime import release_memory

ALPHA_OUTPUTS = (".mov", ".webm", ".mkv", "sequence", "image")
# camera tracking on a 320 px grey copy (plenty for a homography); with
# track_refine 'lk' (default) sparse corner tracks, with a DIS preset dense
# flow sampled at up to 1500 background points
TRACKER_SETTINGS: dict[str, Any] = dict(max_side=320, max_points=1500)
# plates that follow the camera take two passes (the plate's fit needs the
# whole camera path first); the first pass keeps up to this many bytes of
# decoded frames in memory so the second pass need not decode them again
# (beyond the budget the rest is decoded again). VEDIT_FRAME_CACHE_MB overrides.
FRAME_CACHE_BYTES = 1024 << 20


def _frame_budget() -> int:
    env = os.environ.get("VEDIT_FRAME_CACHE_MB")
    if env is not None:
        try:
            return max(0, int(float(env) * (1 << 20)))
        except ValueError:
            raise InvalidInputError(f"VEDIT_FRAME_CACHE_MB={env!r}: use a number of megabytes") from None
    return FRAME_CACHE_BYTES


_D = ("diffusion",)
_MATTES = ("person", "chroma", "sam", "grabcut")

PARAMS = (
    Param("background", "path_or_word", None, cli=("-b",), words=("blur", "transparent"),
          help="IMAGE, VIDEO, folder of frames, a colour (#RRGGBB, R,G,B, CSS name), 'blur' or 'transparent'."),
    Param("prompt", "str", None, help="Generate the new background from this text (needs a diffusion model)."),
    Param("negative_prompt", "str", "", help="What the generated background should not show."),
    Param("model", "str", None, help="Local diffusers inpainting model (path or cached id) for --prompt."),
    Param("engine", "str", "diffusion", choices=lambda: names("inpaint"),
          help="Inpaint engine that generates --prompt plates."),
    Param("steps", "int", 20, min=1, max=1000, help="Denoising steps for --prompt."),
    Param("guidance", "float", 7.5, min=0, max=100, help="Guidance scale for --prompt."),
    Param("seed", "int", 0, min=0, max=2**32 - 1, help="Seed for --prompt."),
    Param("device", "str", None, help="Torch device for --prompt (cpu, cuda, mps; default cpu)."),
    Param("dtype", "str", None, choices=("float32", "float16", "bfloat16"),
          help="Torch dtype for --prompt (default float32 on CPU)."),
    Param("matte", "path_or_word", "person", words=_MATTES,
          help="person | chroma | sam | grabcut | MASK (image, folder, pattern or video; white = subject)."),
    Param("frame", "int", None, min=0, max=10_000_000,
          help="With --matte MASK: it is a keyframe mask at this frame, tracked through the shot; "
               "with sam/grabcut: the prompt frame."),
    Param("add_mask", "path", None, repeat=True,
          help="Keep this too: a mask joined to the subject matte (an image: the same region on every frame; "
               "a mask sequence/video: frame for frame, e.g. `vedit matte --box` of something the subject "
               "holds). Repeatable."),
    Param("subtract_mask", "path", None, repeat=True,
          help="Do not keep this: a mask taken out of the subject matte (image, sequence or video, like "
               "--add-mask). Repeatable."),
    Param("box", "nums", None, count=4, metavar="X,Y,W,H", help="Subject box for --matte sam|grabcut."),
    Param("points", "nums", None, metavar="X,Y[,X,Y...]", help="Subject points for --matte sam."),
    Param("sam_checkpoint", "path", None, help="Segment Anything checkpoint for --matte sam."),
    Param("sam_model", "str", "vit_b", choices=("vit_b", "vit_l", "vit_h"), help="Segment Anything model size."),
    Param("person_model", "str", "auto", choices=("auto", "selfie", "pose"),
          help="pose: full/half body; selfie: close-ups; auto picks per shot."),
    Param("person_every", "int", 1, min=1, max=8,
          help="Run the person model every N frames and carry the matte along optical flow between "
               "(faster, slightly looser edges on fast motion)."),
    Param("chroma", "str", None, cli=("--key",), aliases=("key",),
          help="Chroma key colour: green, blue (screen colours), a CSS colour name or #RRGGBB; keys the subject "
               "off a screen (as in matte; "
               "implies --matte chroma unless --matte names a mask or another source). Default green "
               "with --matte chroma."),
    Param("tolerance", "float", None, min=0, max=1, help="Chroma key tolerance 0..1."),
    Param("refine", "bool", True, help="Edge-aware matte refinement."),
    Param("smooth", "bool", None, help="Temporal smoothing of the matte (default: on, except for a --matte MASK file)."),
    Param("dilate", "int", 0, min=-1024, max=1024, help="Grow (px) or shrink (negative) the matte."),
    Param("feather", "float", 0.0, min=0, max=1024, help="Soften the matte edge over this many pixels."),
    Param("fit", "str", "cover", choices=("cover", "contain", "stretch"),
          help="How the plate fills the frame (or the whole camera path)."),
    Param("static_plate", "bool", False, help="Do not move the plate with the camera."),
    Param("plate_loop", "bool", True, cli_off="--plate-hold",
          help="A video plate shorter than the shot loops, or holds its last frame."),
    Param("light_wrap", "float", 0.3, min=0, max=1, help="Plate light over the subject edge (0 = off)."),
    Param("match_color", "bool", False, help="Grade the subject toward the new plate's colours."),
    Param("match_strength", "float", 0.5, min=0, max=1, help="0..1 for --match-color."),
    Param("spill", "bool", None, help="Key-colour spill suppression (default: on for --matte chroma)."),
    Param("blur_radius", "float", None, min=0.01, max=1000, aliases=("blur",),
          help="Blur size in px for --background blur."),
    Param("draft", "bool", False, help="Fast low-resolution draft: the output is made at --draft-size."),
    Param("draft_size", "int", 640, min=64, max=16384, help="Long side of the --draft output."),
    Param("track_model", "str", "homography", choices=("homography", "similarity"),
          help="Camera model the plate follows."),
    Param("track_refine", "str", "lk", choices=("lk", "fast", "medium"),
          help="Keyframe residual of the camera tracker: lk (sparse Lucas-Kanade) or a DIS preset."),
    Param("plate_size", "int", 768, min=64, max=8192, help="Long side of a generated (--prompt) plate."),
    Param("cfr", "float", None, min=0.001, max=1000,
          help="Write a constant frame rate (frames repeated/dropped by time) instead of keeping a VFR input's timing."),
    Param("fill_gaps", "str", None, choices=("hold",),
          help="Missing frames of a numbered input sequence: hold the frame before each gap (default: error)."),
    CODEC,
)


def check_params(v: dict[str, Any]) -> None:
    """Combinations, before any work (no media read)."""
    if bool(v["background"]) == bool(v["prompt"]):
        raise ParamError("background", "replace-bg needs exactly one of --background (image, video, colour, "
                                       "blur, transparent) or --prompt TEXT")
    if v["blur_radius"] is not None and v["background"] != "blur":
        raise ParamError("blur_radius", "--blur-radius applies to --background blur only")
    if v["matte"] == "track":
        raise ParamError("matte", "--matte track: give the keyframe mask path as --matte MASK with --frame N")
    if v["matte"] == "sam2":
        raise ParamError("matte", "--matte sam2: the SAM 2 video matte is made by `vedit matte --engine sam2`; "
                                  "give its output here as --matte MATTE")
    if v["matte"] == "sam" and not v["sam_checkpoint"]:
        raise ParamError("sam_checkpoint", "--matte sam needs --sam-checkpoint PATH and --points or --box")


@dataclass
class _Opts:
    """The resolved params as attributes (what the rest of this module reads)."""

    background: str | None = None
    prompt: str | None = None
    negative_prompt: str = ""
    model: str | None = None
    engine: str = "diffusion"
    steps: int = 20
    guidance: float = 7.5
    seed: int = 0
    device: str | None = None
    dtype: str | None = None
    matte: str = "person"
    person_model: str = "auto"
    person_every: int = 1  # run the person model every N frames, carry the matte along flow between
    chroma: str | None = None
    tolerance: float | None = None
    box: object = None
    points: object = None
    frame: int | None = None
    add_mask: list[str] | None = None
    subtract_mask: list[str] | None = None
    sam_checkpoint: str | None = None
    sam_model: str = "vit_b"
    refine: bool = True
    smooth: bool | None = None  # None: on for model mattes, off for a given mask file
    dilate: int = 0
    feather: float = 0.0
    fit: str = "cover"
    static_plate: bool = False
    plate_loop: bool = True
    light_wrap: float = 0.3
    match_color: bool = False
    match_strength: float = 0.5
    spill: bool | None = None
    blur: float | None = None
    draft: bool = False
    draft_size: int = 640
    track_model: str = "homography"
    track_refine: str = "lk"  # keyframe residual: lk (sparse Lucas-Kanade) or a DIS preset (fast|medium)
    plate_size: int = 768
    cfr: float | None = None
    fill_gaps: str | None = None
    codec: str = "auto"
    overwrite: bool = False


def _options(v: dict[str, Any]) -> _Opts:
    """The resolved params (``OP.resolve``) as attributes."""
    v = dict(v)
    v["blur"] = v.pop("blur_radius")
    return _Opts(**v)


def check_inputs(input: str, output: str, v: dict[str, Any], start: int | None = None, end: int | None = None,
                 job: bool = False) -> tuple[Any, Any]:
    """The media, before any work: the input opens with its range; the background
    is a readable image, video or frames (or a colour, blur, transparent — then
    into an output that keeps alpha); the matte's mask, box, points and keyframe
    fit the clip; ``add_mask``/``subtract_mask`` match its size and frame count.
    Returns (clip, background or None)."""
    from vedit.composite import parse_background
    from vedit.io import open_clip, require_flow_size
    from vedit.io.writer import output_kind
    from vedit.ops.matte import check_edit_masks, check_source

    o = _options(v)
    clip = open_clip(input, start, end, fill_gaps=o.fill_gaps)
    require_flow_size(clip, input, "to replace the background of")
    bg = None
    if o.background:
        with as_param("background", job):
            bg = parse_background(o.background)
    if bg is not None and bg.kind == "transparent" and output_kind(output) not in ALPHA_OUTPUTS:
        raise ParamError("background", f"{'params.background' if job else '--background'} transparent needs an "
                                       f"output that keeps alpha: {output!r} does not; use .mov (ProRes 4444), "
                                       ".webm (VP9), .mkv or a folder/ of PNG frames")
    writer_codec(output, v["codec"], alpha=bg is not None and bg.kind == "transparent", job=job)
    with as_param("matte", job):
        source, mkw = _matte_args(o)
    check_source(clip, source, mask=mkw.get("mask"), frame=mkw.get("frame"), box=mkw.get("box"),
                 points=mkw.get("points"), mask_param="matte", job=job)
    check_edit_masks(clip, o.add_mask, o.subtract_mask, job)
    return clip, bg


def _registered_source(m: str) -> bool:
    """``--matte`` names a matte source of the engine registry (a plugin's, say)
    rather than a mask file: a registered name that is no file or folder here.
    ``file`` and ``track`` are what a MASK path (with ``--frame``) selects."""
    from vedit.ops.params import looks_like_path

    return (m not in ("file", "track") and not looks_like_path(m) and m in names("matte")
            and not os.path.exists(m))


def _matte_args(o: _Opts) -> tuple[str, dict]:
    """``--matte`` value → (matte_stream source, keyword arguments)."""
    m = str(o.matte or "person")
    if o.chroma and m == "person":
        m = "chroma"  # --chroma COLOUR keys, as in matte
    kw: dict = {}
    if m in _MATTES or _registered_source(m):
        source = m
    elif m == "track":
        raise InvalidInputError("--matte track: give the keyframe mask path as --matte MASK with --frame N")
    else:
        source = "track" if o.frame is not None else "file"
        kw["mask"] = m
    if source == "chroma":
        kw["chroma"] = o.chroma or "green"
        if o.tolerance is not None:
            kw["tolerance"] = o.tolerance
    if source in ("sam", "grabcut"):
        kw.update(box=o.box, points=o.points, sam_checkpoint=o.sam_checkpoint, sam_model=o.sam_model)
    if o.frame is not None:
        kw["frame"] = int(o.frame)
    smooth = o.smooth if o.smooth is not None else source not in ("file",)
    kw.update(person_model=o.person_model, refine=o.refine, smooth=smooth, dilate=o.dilate,
              feather=o.feather)
    return source, kw


def _edited(items: Iterator[Any], adds: list, subs: list) -> Iterator[Any]:
    """The person matter's items with ``--add-mask``/``--subtract-mask``
    applied to their (working-size) mattes."""
    from vedit.masks.keyframes import MatteEdit

    edit = MatteEdit(adds, subs)
    for it in items:
        it.alpha = edit(it.alpha)
        yield it


def _work_size(clip, o: _Opts) -> tuple[int, int]:
    w, h = clip.width, clip.height
    if not o.draft:
        return w, h
    s = min(1.0, int(o.draft_size) / max(w, h))
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


class _AlphaCache:
    """Mattes from the first pass, zlib-compressed in an anonymous temp file
    (mattes compress ~40x), so the second pass needs no second matting run and
    memory stays flat however long the clip."""

    def __init__(self):
        self._f = tempfile.TemporaryFile(prefix="vedit-matte-")
        self._index: list[tuple[int, int, tuple[int, ...]]] = []

    def append(self, alpha: np.ndarray) -> None:
        q = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        data = zlib.compress(q.tobytes(), 1)
        pos = self._f.seek(0, os.SEEK_END)
        self._f.write(data)
        self._index.append((pos, len(data), q.shape))

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for pos, size, shape in self._index:
            self._f.seek(pos)
            q = np.frombuffer(zlib.decompress(self._f.read(size)), np.uint8).reshape(shape)
            yield q.astype(np.float32) * (1.0 / 255.0)

    def close(self) -> None:
        self._f.close()


class _PreparedCache(_AlphaCache):
    """Like _AlphaCache, for the compositor's plate-independent half
    (vedit.composite.Prepared: a box and the edge-refined uint8 matte in it),
    so the second pass only warps the plate, blends and encodes."""

    def __init__(self):
        super().__init__()
        self._boxes: list = []

    def append(self, prep: Any) -> None:
        self._boxes.append(prep.box)
        if prep.box is None:
            self._index.append((0, 0, (0, 0)))
            return
        q = np.ascontiguousarray(prep.alpha8)
        data = zlib.compress(q.tobytes(), 1)
        pos = self._f.seek(0, os.SEEK_END)
        self._f.write(data)
        self._index.append((pos, len(data), q.shape))

    def __iter__(self):
        from vedit.composite import Prepared

        for box, (pos, size, shape) in zip(self._boxes, self._index):
            if box is None:
                yield Prepared(None, None)
                continue
            self._f.seek(pos)
            yield Prepared(box, np.frombuffer(zlib.decompress(self._f.read(size)), np.uint8).reshape(shape))


class _FrameCache:
    """Decoded frames of the first pass kept in memory, in order, up to
    ``budget`` bytes; ``take()`` hands them back once (freeing each as it
    goes) and says how many there were, so the second pass decodes only the
    rest."""

    def __init__(self, budget: int):
        self.budget = int(budget)
        self.used = 0
        self.full = self.budget <= 0
        self._frames: deque = deque()

    def add(self, frame: np.ndarray) -> None:
        if self.full:
            return
        if self.used + frame.nbytes > self.budget:
            self.full = True
            return
        self._frames.append(frame)
        self.used += frame.nbytes

    def __len__(self) -> int:
        return len(self._frames)

    def take(self) -> Iterator[np.ndarray]:
        while self._frames:
            yield self._frames.popleft()

    def clear(self) -> None:
        self._frames.clear()


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (img.shape[1], img.shape[0]) == size:
        return img
    interp = cv2.INTER_AREA if size[0] < img.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def _aligned(frames: Iterator[np.ndarray], alphas: Iterator[np.ndarray], n: int, what: str):
    """Zip frames with mattes, failing loudly if one stream runs short."""
    fi, ai = iter(frames), iter(alphas)
    for i in range(n):
        try:
            f = next(fi)
        except StopIteration:
            raise MediaError(f"the input yielded only {i} of its {n} frames") from None
        try:
            a = next(ai)
        except StopIteration:
            raise MediaError(f"the {what} yielded only {i} of {n} mattes") from None
        yield f, a


def plate_upscale(bg: Any, box: tuple[float, float, float, float], fit: str) -> float:
    """How many times the plate's pixels are enlarged to fill ``box`` (the
    frame, or the area the whole camera path sees); 0 for plates without
    pixels of their own (colour, blur, transparent)."""
    from vedit.composite.fit import fit_matrix

    if bg.size is None:
        return 0.0
    F = fit_matrix(bg.size, box, fit)
    return float(max(F[0, 0], F[1, 1]))


def _warn_upscale(bg: Any, box: tuple[float, float, float, float], fit: str, generated: bool) -> None:
    """One stderr line when the plate is enlarged more than 2x (it will look
    soft next to the subject), as animate does for a small still."""
    s = plate_upscale(bg, box, fit)
    if s > 2.0:
        w, h = bg.size
        bw, bh = box[2] - box[0], box[3] - box[1]
        hint = "raise --plate-size" if generated else "use a larger plate"
        sys.stderr.write(f"warning: the {w}x{h} background plate is upscaled {s:.1f}x to cover "
                         f"{bw:.0f}x{bh:.0f}; it will look soft ({hint})\n")


def run(input: str, output: str, *, start: int | None = None, end: int | None = None,
        callback: Any = None, **params: Any) -> str:
    """Replace the background of ``input`` (frames ``start``..``end``) and
    write ``output``; returns the output path. ``params`` mirror the CLI
    options (see ``vedit replace-bg --help``)."""
    from vedit.composite import Compositor, PlateRenderer
    from vedit.composite.track import CameraTracker, path_bounds
    from vedit.io import check_output_path, open_writer
    from vedit.masks import matte_stream
    from vedit.streams import ThreadedWriter, prefetch

    # 1. check inputs: everything that can be wrong fails here, before work
    v = OP.resolve(params)
    o = _options(v)
    clip, bg = check_inputs(input, output, v, start, end)
    inputs = [input] + ([o.background] if o.background and bg is not None and bg.kind in ("image", "video") else [])
    inputs += list(o.add_mask or []) + list(o.subtract_mask or [])
    check_output_path(output, inputs, overwrite=o.overwrite, frames=clip.frame_count)
    from vedit.masks.keyframes import edit_mattes, open_edit_masks

    adds, subs = open_edit_masks(clip, o.add_mask, o.subtract_mask)
    transparent = bg is not None and bg.kind == "transparent"
    source, mkw = _matte_args(o)
    engine = None
    if o.prompt:
        from vedit.composite.generate import make_engine

        engine = make_engine(o)
    n = clip.frame_count
    size = _work_size(clip, o)
    w, h = size
    spill = o.spill if o.spill is not None else source == "chroma"
    comp = Compositor(
        light_wrap=0.0 if transparent else float(o.light_wrap),
        match_strength=float(o.match_strength) if (o.match_color and not transparent) else 0.0,
        spill_key=(o.chroma or "green") if spill else None,
        edge_refine=bool(o.refine), transparent=transparent)

    def report(done: int, total: int, stage: str) -> None:
        if callback is not None:
            callback(done, total, stage)

    person = source == "person"

    def decoded():
        """Decoded frames, read ahead in a thread."""
        return prefetch(clip.frames(), depth=4)

    def mattes() -> Iterator[np.ndarray]:
        yield from edit_mattes(matte_stream(clip, source, **mkw), adds, subs)

    def person_items(keep: bool):
        """The person matte of ``vedit matte --person`` (everybody; no cast
        shadow, no props: a composite keeps the person's own edge) with the
        decoded frames: decode | person model | gaps | refinement and
        smoothing | caller, each in a thread of its own."""
        from vedit.masks.person import person_mattes

        items: Iterator[Any] = person_mattes(
            clip, person_model=o.person_model, refine=bool(mkw["refine"]), smooth=bool(mkw["smooth"]),
            every=int(o.person_every), keep_frames=keep,
            hint="use --matte MASK, --matte grabcut --box X,Y,W,H or --matte sam to say what to keep")
        if adds or subs:
            items = _edited(items, adds, subs)
        return prefetch(items, depth=3)

    shape_matte = person and bool(o.dilate or o.feather)  # matte_stream does these for the other sources
    # the compositor takes the matte at any size and upsamples only the box
    # around the subject; the blur plate and matte shaping need it full size
    full_alpha = shape_matte or (bg is not None and bg.kind == "blur")

    def finish_alpha(a: np.ndarray) -> np.ndarray:
        if not full_alpha:
            return a
        a = _resize(a, size)
        if shape_matte:
            from vedit.masks.refine import feather, grow

            a = feather(grow(a, int(o.dilate)), float(o.feather))
        return a

    follow = (o.prompt is not None or (bg is not None and bg.trackable)) and not o.static_plate
    cache: Any = None
    frames_kept: Any = None
    paths = None
    try:
        # 2. first pass: matte + camera path, when the plate follows the camera
        total = 2 * n if follow else n
        done = 0
        if follow:
            # the compositor's plate-independent half (matte upsampling, edge
            # refinement) runs in this pass, beside the person model
            prep = comp.can_prepare
            cache = _PreparedCache() if prep else _AlphaCache()
            frames_kept = _FrameCache(_frame_budget())
            tracker = CameraTracker(w, h, **TRACKER_SETTINGS, refine_preset=o.track_refine, model=o.track_model)
            if person:
                k = 0
                for it in person_items(True):
                    tracker.update(it.work, it.alpha)
                    cache.append(comp.prepare(_resize(it.frame, size), finish_alpha(it.alpha)) if prep else it.alpha)
                    frames_kept.add(it.frame)
                    it.frame = None
                    k += 1
                    done += 1
                    report(done, total, "matte + camera")
                if k != n:
                    raise MediaError(f"the input yielded only {k} of its {n} frames")
            else:
                for f, a in _aligned(decoded(), mattes(), n, f"--matte {o.matte}"):
                    frames_kept.add(f)
                    f = _resize(f, size)
                    tracker.update(f, _resize(a, size))
                    cache.append(comp.prepare(f, finish_alpha(a)) if prep else a)
                    done += 1
                    report(done, total, "matte + camera")
            paths = tracker.paths
            box = path_bounds(paths, w, h)
        else:
            box = (-0.5, -0.5, w - 0.5, h - 0.5)
        if o.prompt:
            from vedit.composite.generate import generate_plate

            plate_img = generate_plate(engine, box, o, callback=lambda d, t, s: report(done, total, "generating plate"))
            from vedit.composite.plate import Background

            bg = Background("prompt", o.prompt, image=plate_img)
        assert bg is not None
        _warn_upscale(bg, box, o.fit, o.prompt is not None)
        renderer = PlateRenderer(bg, size, clip.fps, n, fit=o.fit, box=box, paths=paths,
                                 loop=o.plate_loop, blur=o.blur)

        # 3. composite pass: decode, matte resize and plate render run in a
        # thread, compositing here, encoding in another thread
        def second_pass_frames():
            """The kept frames, then the rest decoded (in a thread)."""
            k = len(frames_kept)
            yield from frames_kept.take()
            if k < n:
                rest = clip.subclip(k)
                yield from prefetch(rest.frames(), depth=4)

        def pairs():
            if cache is not None:
                yield from _aligned(second_pass_frames(), iter(cache), n, f"--matte {o.matte}")
            elif person:
                k = 0
                for it in person_items(True):
                    k += 1
                    yield it.frame, it.alpha
                if k != n:
                    raise MediaError(f"the input yielded only {k} of its {n} frames")
            else:
                yield from _aligned(clip.frames(), mattes(), n, f"--matte {o.matte}")

        from vedit.composite import Prepared

        def prepared():
            for t, (f, a) in enumerate(pairs()):
                f = _resize(f, size)
                if isinstance(a, Prepared):  # made in the first pass
                    yield f, a, renderer(t, f, None), renderer.fresh
                    continue
                a = finish_alpha(a)
                plate = renderer(t, f, a)
                yield f, a, plate, renderer.fresh

        with open_writer(output, clip.fps, size, alpha=transparent, like=clip, overwrite=o.overwrite,
                         cfr=o.cfr, codec=writer_codec(output, o.codec, alpha=transparent)) as wr0:
            with ThreadedWriter(wr0) as wr:
                for f, a, plate, fresh in prefetch(prepared(), depth=3):
                    if isinstance(a, Prepared):
                        wr.write(comp(f, None, plate, reuse_plate=fresh, prepared=a))
                    else:
                        wr.write(comp(f, a, plate, reuse_plate=fresh))
                    done += 1
                    report(done, total, "compositing")
                    if done % 250 == 0:
                        release_memory()  # long shots: keep the peak flat (see vedit.runtime)
        report(total, total, "done")
        return final_path(output)
    finally:
        if cache is not None:
            cache.close()
        if frames_kept is not None:
            frames_kept.clear()


OP = OpDef("replace-bg", PARAMS, run=run, check=check_params, media_check=check_inputs, engine_family="inpaint",
           help="Keep the subject of INPUT, replace everything behind it: a plate (image or video, fitted "
                "to the frame and moved with the camera), a colour, a blur of the original, transparency, "
                "or a scene generated from --prompt.")
