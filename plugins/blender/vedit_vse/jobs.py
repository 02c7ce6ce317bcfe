"""Plain functions behind the operator: read a strip, resolve the mask the
editor gave, build the job spec, poll a job, place the result. No UI state
here, so tests (and batch scripts) drive them directly; the operator and its
timer are thin wrappers."""
from __future__ import annotations

import os
import re
import time
from typing import Any

OPS = ("remove", "replace-bg", "matte")
TERMINAL = ("done", "failed", "cancelled")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf", ".gif", ".mpg", ".mpeg", ".ts", ".ogv")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp", ".tga", ".dpx")
# a polling error of this kind fails the job at once (a bad token will not heal);
# a server that stops answering is given this many polls first
UNAVAILABLE_POLLS = 10
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")


class StripError(ValueError):
    """A strip (or the mask given for it) that cannot be processed as it is; one line saying why and what to do."""


def abspath(path: str) -> str:
    try:
        import bpy

        path = bpy.path.abspath(path)
    except ImportError:  # outside Blender (tests of the spec builder)
        pass
    return os.path.abspath(os.path.expanduser(path))


def sequencer_scene(context: Any) -> Any:
    """The scene whose strips the Sequencer shows: Blender 5's
    ``context.sequencer_scene`` (the workspace's own sequencer scene, which may
    differ from the window's scene), else ``context.scene``."""
    return getattr(context, "sequencer_scene", None) or getattr(context, "scene", None)


# -- source range ---------------------------------------------------------------------

def _media_range(strip: Any) -> tuple[int, int]:
    """(first media frame shown, frames shown) of a movie/image strip.

    Blender's sequencer plays a strip's media frame by frame: media frame
    ``k`` (counted from the first frame kept by the hold offset
    ``animation_offset_start``) sits on timeline frame ``frame_start + k``,
    whatever the media's own frame rate (a 24 fps clip in a 30 fps scene shows
    its 48 frames on 48 scene frames). Speed changes are made with retiming
    keys; a retimed strip is refused (its key-to-media mapping is not exposed
    to Python), as are strips extended past their media with held frames."""
    name = getattr(strip, "name", "?")
    if len(getattr(strip, "retiming_keys", ()) or ()) > 0:
        raise StripError(f"strip {name!r} is retimed (speed changes): vedit processes media frame for frame; "
                         "reset its retiming (Strip > Retiming > Reset) or process an unretimed copy")
    offset = int(strip.frame_final_start - strip.frame_start)
    count = int(strip.frame_final_duration)
    if offset < 0 or offset + count > int(strip.frame_duration):
        raise StripError(f"strip {name!r} is extended past its media with held frames; "
                         "trim it to its media before processing")
    return int(getattr(strip, "animation_offset_start", 0) or 0) + offset, count


def strip_source(strip: Any, scene: Any) -> dict[str, Any]:
    """File and source range (media frames, end exclusive) of a movie strip,
    with where it sits on the timeline."""
    if getattr(strip, "type", "") != "MOVIE":
        raise StripError(f"strip {getattr(strip, 'name', strip)!r} is not a movie strip; select a movie strip")
    path = abspath(strip.filepath)
    start, count = _media_range(strip)
    return {"path": path, "start": start, "end": start + count, "fps": float(getattr(strip, "fps", 0.0) or 0.0),
            "channel": strip.channel, "frame_final_start": int(strip.frame_final_start),
            "frame_final_duration": count, "name": strip.name,
            "reverse": bool(getattr(strip, "use_reverse_frames", False))}


# -- masks ----------------------------------------------------------------------------

def numbered_sequence(path: str) -> tuple[str, list[str]] | None:
    """The printf pattern and files of the numbered sequence ``path`` belongs
    to (``mask_0007.png`` -> ``mask_%04d.png``), or None when it is alone."""
    folder, name = os.path.split(path)
    m = _NUMBERED.match(name)
    if not m:
        return None
    prefix, _, suffix = m.groups()
    rx = re.compile("^" + re.escape(prefix) + r"(\d+)" + re.escape(suffix) + "$")
    found = sorted(((int(mm.group(1)), mm.group(1), f) for f in os.listdir(folder or ".")
                    if (mm := rx.match(f))), key=lambda t: t[0])
    if len(found) < 2:
        return None
    widths = {len(d) for _, d, _ in found}
    # zero-padded names share one width; unpadded ones (1, 2, ... 10) do not
    pad = widths.pop() if len(widths) == 1 and any(d.startswith("0") for _, d, _ in found) else 0
    pattern = f"{prefix}%0{pad}d{suffix}" if pad > 1 else f"{prefix}%d{suffix}"
    return os.path.join(folder, pattern), [os.path.join(folder, f) for _, _, f in found]


def resolve_mask_file(path: str, sequence: bool = True) -> str:
    """What the server should read for a mask the editor picked: a folder of
    masks, a mask video, a numbered image sequence (any one file of it means
    the whole sequence, which is what a file browser returns) or a single
    still (one mask for every frame). ``sequence=False`` keeps a picked image
    as that one image (a keyframe mask)."""
    path = abspath(path)
    if os.path.isdir(path):
        return path
    if not os.path.isfile(path):
        raise StripError(f"mask not found: {path}")
    low = path.lower()
    if sequence and low.endswith(IMAGE_EXTS):
        seq = numbered_sequence(path)
        if seq is not None:
            return seq[0]
    if not low.endswith(IMAGE_EXTS + VIDEO_EXTS):
        raise StripError(f"mask {path}: not an image, a video or a folder of masks")
    return path


def _strip_media(strip: Any) -> tuple[str, int]:
    """(path the server reads, media frame count) of a movie or image strip."""
    if strip.type == "MOVIE":
        total = int(strip.frame_duration) + int(getattr(strip, "animation_offset_start", 0) or 0) \
            + int(getattr(strip, "animation_offset_end", 0) or 0)
        return abspath(strip.filepath), total
    if strip.type == "IMAGE":
        folder = abspath(strip.directory)
        files = [e.filename for e in strip.elements]
        if len(files) == 1:
            return os.path.join(folder, files[0]), 1
        seq = numbered_sequence(os.path.join(folder, files[0]))
        if seq is None or [os.path.basename(f) for f in seq[1]] != files:
            raise StripError(f"mask strip {strip.name!r}: its images are not one numbered sequence "
                             "(name_0001.png, name_0002.png, ...); render it to one first")
        return seq[0], len(files)
    raise StripError(f"mask strip {strip.name!r} is a {strip.type.lower()} strip; use a movie or image strip")


def resolve_mask_strip(mask_strip: Any, src: dict[str, Any]) -> str:
    """The media of a mask/matte strip in the timeline, checked to line up
    with the source strip: its frames under the source strip's visible frames
    must be either the same media frame numbers as the source's (the mask
    covers the whole source clip) or its frames 0..n-1 (the mask covers just
    the processed range)."""
    path, total = _strip_media(mask_strip)
    if total == 1:
        return path  # a still: one mask for every frame
    if mask_strip.frame_final_start > src["frame_final_start"] or \
            mask_strip.frame_final_end < src["frame_final_start"] + src["frame_final_duration"]:
        raise StripError(f"mask strip {mask_strip.name!r} does not cover the frames of {src['name']!r} "
                         f"({src['frame_final_start']}..{src['frame_final_start'] + src['frame_final_duration'] - 1}); "
                         "extend it or line it up with the source strip")
    if len(getattr(mask_strip, "retiming_keys", ()) or ()) > 0:
        raise StripError(f"mask strip {mask_strip.name!r} is retimed; reset its retiming")
    first = int(src["frame_final_start"] - mask_strip.frame_start) + int(getattr(mask_strip, "animation_offset_start", 0)
                                                                        or 0)
    n = src["end"] - src["start"]
    if first == src["start"] or (first == 0 and total == n):
        return path
    raise StripError(f"mask strip {mask_strip.name!r} is not lined up with {src['name']!r}: under its frames it shows "
                     f"mask frames {first}..{first + n - 1} for source frames {src['start']}..{src['end'] - 1}; "
                     "move it so both strips start on the same frame")


# -- spec and output ------------------------------------------------------------------

def output_path(src: dict[str, Any], op: str, output_dir: str = "", ext: str | None = None) -> str:
    """A fresh output file name next to the source (or in ``output_dir``)."""
    folder = abspath(output_dir) if output_dir else os.path.join(os.path.dirname(src["path"]), "vedit_renders")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src["path"]))[0]
    ext = ext or ".mp4"
    base = f"{stem}_{op}_{src['start']}-{src['end']}"
    path = os.path.join(folder, base + ext)
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(folder, f"{base}_{n}{ext}")
    return path


def build_spec(src: dict[str, Any], op: str, options: dict[str, Any], output: str) -> dict[str, Any]:
    """The DESIGN §5 job spec; ``options`` mirror the CLI options of the op
    (paths already resolved by ``resolve_mask_file``/``resolve_mask_strip``)."""
    if op not in OPS:
        raise StripError(f"op {op!r}: choose one of {', '.join(OPS)}")
    params: dict[str, Any] = {}
    for k, v in options.items():
        # an unset field is None or ""; 0 and False are values the editor chose (dilate 0, smooth off)
        if v is None or (isinstance(v, str) and v == ""):
            continue
        if k in ("mask", "background", "matte") and isinstance(v, str) and v not in ("person", "blur") \
                and not v.startswith("#") and "%" not in v:
            v = abspath(v)
        params[k] = v
    if op == "remove" and "mask" not in params:
        raise StripError("remove needs a mask: pick a mask file, folder or video, or a mask strip, in the vedit panel")
    if op == "replace-bg" and not ("background" in params or "prompt" in params):
        raise StripError("replace-bg needs a background (image, video, colour or 'blur') or a prompt")
    return {"op": op, "input": src["path"], "output": output, "params": params,
            "range": {"start": src["start"], "end": src["end"]}}


# -- polling --------------------------------------------------------------------------

def poll(client: Any, job: dict[str, Any]) -> dict[str, Any]:
    """One polling step for a submitted job (``job`` has ``id``): refreshes
    status/progress/stage/output/error in place and returns it. A refused
    token or a job the server no longer knows fails the job at once; a server
    that stops answering fails it after ``UNAVAILABLE_POLLS`` polls."""
    try:
        info = client.get(job["id"])
    except Exception as exc:
        unavailable = isinstance(exc, ConnectionError) or type(exc).__name__ == "ServerUnavailableError"
        job["error_count"] = job.get("error_count", 0) + 1
        if not unavailable or job["error_count"] >= UNAVAILABLE_POLLS:
            job.update(status="failed", error=str(exc) or type(exc).__name__)
        return job
    job["error_count"] = 0
    for k in ("status", "progress", "stage", "output", "error"):
        if k in info:
            job[k] = info[k]
    return job


def add_result_strip(scene: Any, job: dict[str, Any]) -> Any:
    """Add the finished output as a movie strip one channel above the source,
    starting at the source's first visible frame, as long as the source.

    A matte job's output is the footage with the matte as alpha (ProRes
    4444): it is laid over the source with Alpha Over, so the picture stays as
    it was and muting the source (or putting a plate under it) shows the cut-out."""
    seq = scene.sequence_editor
    path = job.get("output") or job["spec"]["output"]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vedit output not found: {path}")
    channel = min(job["channel"] + 1, 128)
    name = f"{job['name']} vedit {job['spec']['op']}"
    strip = seq.strips.new_movie(name=name, filepath=path, channel=channel,
                                 frame_start=int(job["frame_final_start"]))
    # the output holds exactly the processed range; trim any rounding excess
    if strip.frame_final_duration > int(job["frame_final_duration"]):
        strip.frame_final_duration = int(job["frame_final_duration"])
    if job.get("reverse"):
        strip.use_reverse_frames = True
    if job["spec"]["op"] == "matte":
        strip.blend_type = "ALPHA_OVER"
    return strip


def submit(client: Any, scene: Any, strip: Any, op: str, options: dict[str, Any], output_dir: str = "",
           mask_strip: Any = None) -> dict[str, Any]:
    """Submit a job for ``strip``; returns the job record the poller updates.

    The mask (``options["mask"]`` for remove and matte, ``options["matte"]``
    for replace-bg) is resolved from what the editor picked, or taken from
    ``mask_strip``. A matte job asks for the footage with the matte as alpha
    (ProRes 4444), not a grey matte that would hide the picture."""
    src = strip_source(strip, scene)
    if not os.path.isfile(src["path"]):
        raise StripError(f"strip {strip.name!r}: media not found: {src['path']}")
    options = dict(options)
    key = "matte" if op == "replace-bg" else "mask"
    if mask_strip is not None:
        if op == "matte":
            raise StripError("matte takes a keyframe mask image, not a strip; pick the image file")
        options[key] = resolve_mask_strip(mask_strip, src)
    elif isinstance(options.get(key), str) and options[key] and options[key] != "person":
        options[key] = resolve_mask_file(options[key], sequence=op != "matte")
    ext = None
    if op == "matte":
        ext, options["alpha"] = ".mov", True
    out = output_path(src, op, output_dir, ext)
    spec = build_spec(src, op, options, out)
    job_id = client.submit(spec)
    return {"id": job_id, "spec": spec, "status": "queued", "progress": 0.0, "stage": "queued",
            "output": None, "error": None, "scene": scene.name, "channel": src["channel"],
            "frame_final_start": src["frame_final_start"], "frame_final_duration": src["frame_final_duration"],
            "name": src["name"], "reverse": src["reverse"], "t0": time.monotonic()}


def wait(client: Any, job: dict[str, Any], timeout: float = 600.0, interval: float = 0.25) -> dict[str, Any]:
    """Blocking poll loop (batch scripts, background mode)."""
    end = time.monotonic() + timeout
    while poll(client, job).get("status") not in TERMINAL:
        if time.monotonic() > end:
            raise TimeoutError(f"vedit job {job['id']} not finished after {timeout:.0f}s")
        time.sleep(interval)
    return job
