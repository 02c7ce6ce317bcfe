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
(vedit.composite.pipeline). The person matte is computed here with the
vedit.masks models and refinement (PersonMatter): one low-resolution flow per
frame serves matte smoothing, gap filling and the camera tracker.
"""
from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, MediaError

ALPHA_OUTPUTS = (".mov", ".webm", ".mkv", "sequence", "image")
# camera tracking: flow at 320 px (plenty for a homography), 1500 sampled
# background points; keyframe residual flow preset is the track_refine option
TRACKER_SETTINGS = dict(max_side=320, max_points=1500)


@dataclass
class _Opts:
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
    key: str | None = None
    tolerance: float | None = None
    box: object = None
    points: object = None
    frame: int | None = None
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
    preview: bool = False
    preview_size: int = 640
    track_model: str = "homography"
    track_refine: str = "lk"  # keyframe residual: lk (sparse Lucas-Kanade) or a DIS preset (fast|medium)
    plate_size: int = 768


def _options(params: dict) -> _Opts:
    known = set(_Opts.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidInputError(
            f"replace-bg: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    o = _Opts(**{k: v for k, v in params.items() if v is not None})
    if bool(o.background) == bool(o.prompt):
        raise InvalidInputError("replace-bg needs exactly one of --background (image, video, colour, "
                                "blur, transparent) or --prompt TEXT")
    if not 0.0 <= float(o.light_wrap) <= 1.0:
        raise InvalidInputError(f"--light-wrap {o.light_wrap}: use a value between 0 and 1 (0 = off)")
    if o.blur is not None and float(o.blur) <= 0:
        raise InvalidInputError(f"--blur-radius {o.blur}: use a positive number of pixels")
    if not isinstance(o.person_every, (int, np.integer)) or not 1 <= int(o.person_every) <= 8:
        raise InvalidInputError(f"--person-every {o.person_every!r}: use a whole number from 1 to 8")
    if o.track_refine not in ("lk", "fast", "medium"):
        raise InvalidInputError(f"track_refine {o.track_refine!r}: use lk, fast or medium")
    if o.track_model not in ("homography", "similarity"):
        raise InvalidInputError(f"track_model {o.track_model!r}: use homography or similarity")
    if int(o.preview_size) < 64:
        raise InvalidInputError(f"--preview-size {o.preview_size}: use at least 64")
    return o


def _matte_args(o: _Opts) -> tuple[str, dict]:
    """``--matte`` value → (matte_stream source, keyword arguments)."""
    m = str(o.matte or "person")
    kw: dict = {}
    if m in ("person", "chroma", "sam", "grabcut"):
        source = m
    elif m == "track":
        raise InvalidInputError("--matte track: give the keyframe mask path as --matte MASK with --frame N")
    else:
        source = "track" if o.frame is not None else "file"
        kw["mask"] = m
    if source == "chroma":
        kw["chroma"] = o.key or "green"
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


def _work_size(clip, o: _Opts) -> tuple[int, int]:
    w, h = clip.width, clip.height
    if not o.preview:
        return w, h
    s = min(1.0, int(o.preview_size) / max(w, h))
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


class _AlphaCache:
    """Mattes from the first pass, zlib-compressed in an anonymous temp file
    (mattes compress ~40x), so the second pass needs no second matting run and
    memory stays flat however long the clip."""

    def __init__(self):
        self._f = tempfile.TemporaryFile(prefix="vedit-matte-")
        self._index: list[tuple[int, int, tuple[int, int]]] = []

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


def run(input: str, output: str, *, start=None, end=None, callback=None, **params) -> str:
    """Replace the background of ``input`` (frames ``start``..``end``) and
    write ``output``; returns the output path. ``params`` mirror the CLI
    options (see ``vedit replace-bg --help``)."""
    from vedit.composite import Compositor, PlateRenderer, parse_background
    from vedit.composite.pipeline import ThreadedWriter, prefetch
    from vedit.composite.track import CameraTracker, path_bounds
    from vedit.io import check_output_path, open_clip, open_writer
    from vedit.masks import matte_stream

    # 1. check inputs: everything that can be wrong fails here, before work
    o = _options(params)
    clip = open_clip(input, start, end)
    bg = parse_background(o.background) if o.background else None
    inputs = [input] + ([o.background] if bg is not None and bg.kind in ("image", "video") else [])
    kind = check_output_path(output, inputs)
    transparent = bg is not None and bg.kind == "transparent"
    if transparent and kind not in ALPHA_OUTPUTS:
        raise InvalidInputError(
            f"--background transparent needs an output that keeps alpha: {output!r} does not; "
            "use .mov (ProRes 4444), .webm (VP9), .mkv or a folder/ of PNG frames")
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
        spill_key=(o.key or "green") if spill else None,
        edge_refine=bool(o.refine), transparent=transparent)

    def report(done, total, stage):
        if callback is not None:
            callback(done, total, stage)

    person = source == "person"
    what = f"{input} (frames {clip.start}..{clip.start + n - 1})"
    if person:
        from vedit.composite.pipeline import PersonMatter
        from vedit.masks.base import work_size

        work = work_size(clip.width, clip.height)

    def decoded(to_work: bool):
        """Decoded frames, read ahead in a thread; with ``to_work`` also the
        frame at the matte's working size (resized in that thread)."""
        def prep(f):
            return (f, _resize(f, work)) if to_work else f
        return prefetch(clip.frames(), depth=4, fn=prep)

    def mattes() -> Iterator[np.ndarray]:
        for a in matte_stream(clip, source, **mkw):
            yield a

    def person_items(keep: bool):
        pm = PersonMatter(o.person_model, work, refine=bool(mkw["refine"]), smooth=bool(mkw["smooth"]),
                          keep_frames=keep, what=what, every=int(o.person_every))
        # decode | person model + smoothing | caller: three threads in a row
        return prefetch(pm.stream((f if keep else None, wf) for f, wf in decoded(True)), depth=3)

    def finish_alpha(a: np.ndarray) -> np.ndarray:
        a = _resize(a, size)
        if person and (o.dilate or o.feather):  # matte_stream does these for the other sources
            from vedit.masks.refine import feather, grow

            a = feather(grow(a, int(o.dilate)), float(o.feather))
        return a

    follow = (o.prompt is not None or bg.trackable) and not o.static_plate
    cache = None
    paths = None
    try:
        # 2. first pass: matte + camera path, when the plate follows the camera
        total = 2 * n if follow else n
        done = 0
        if follow:
            cache = _AlphaCache()
            tracker = CameraTracker(w, h, **TRACKER_SETTINGS, refine_preset=o.track_refine, model=o.track_model)
            if person:
                k = 0
                for it in person_items(False):
                    tracker.update(it.work, it.alpha, grey=it.grey, flow_back=it.flow_back)
                    cache.append(it.alpha)
                    k += 1
                    done += 1
                    report(done, total, "matte + camera")
                if k != n:
                    raise MediaError(f"the input yielded only {k} of its {n} frames")
            else:
                for f, a in _aligned(decoded(False), mattes(), n, f"--matte {o.matte}"):
                    f = _resize(f, size)
                    tracker.update(f, _resize(a, size))
                    cache.append(a)
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
        renderer = PlateRenderer(bg, size, clip.fps, n, fit=o.fit, box=box, paths=paths,
                                 loop=o.plate_loop, blur=o.blur)

        # 3. composite pass: decode, matte resize and plate render run in a
        # thread, compositing here, encoding in another thread
        def pairs():
            if cache is not None:
                yield from _aligned(decoded(False), iter(cache), n, f"--matte {o.matte}")
            elif person:
                k = 0
                for it in person_items(True):
                    k += 1
                    yield it.frame, it.alpha
                if k != n:
                    raise MediaError(f"the input yielded only {k} of its {n} frames")
            else:
                yield from _aligned(clip.frames(), mattes(), n, f"--matte {o.matte}")

        def prepared():
            for t, (f, a) in enumerate(pairs()):
                f = _resize(f, size)
                a = finish_alpha(a)
                yield f, a, renderer(t, f, a)

        with open_writer(output, clip.fps, size, alpha=transparent, like=clip) as wr0:
            with ThreadedWriter(wr0) as wr:
                for f, a, plate in prefetch(prepared(), depth=3):
                    wr.write(comp(f, a, plate))
                    done += 1
                    report(done, total, "compositing")
        return output
    finally:
        if cache is not None:
            cache.close()
