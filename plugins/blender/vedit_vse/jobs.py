"""Plain functions behind the operator: read a strip, build the job spec,
poll a job, place the result. No UI state here, so tests (and batch scripts)
drive them directly; the operator and its timer are thin wrappers."""
from __future__ import annotations

import os
import time

OPS = ("remove", "replace-bg", "matte")
TERMINAL = ("done", "failed", "cancelled")


def abspath(path: str) -> str:
    try:
        import bpy

        path = bpy.path.abspath(path)
    except ImportError:  # outside Blender (tests of the spec builder)
        pass
    return os.path.abspath(os.path.expanduser(path))


def strip_source(strip, scene) -> dict:
    """File and source range (media frames, end exclusive) of a movie strip.

    Blender 5: ``frame_start`` is where frame 0 of the media sits on the
    timeline; ``frame_offset_start``/``frame_offset_end`` trim the ends (in
    scene frames); ``frame_final_start``/``frame_final_duration`` is the part
    that plays. Media frames are converted from scene frames by the fps ratio.
    """
    if getattr(strip, "type", "") != "MOVIE":
        raise ValueError(f"strip {getattr(strip, 'name', strip)!r} is not a movie strip; select a movie strip")
    path = abspath(strip.filepath)
    scene_fps = scene.render.fps / scene.render.fps_base
    media_fps = float(getattr(strip, "fps", 0.0) or scene_fps)
    ratio = media_fps / scene_fps
    start = int(round((strip.frame_final_start - strip.frame_start) * ratio))
    count = int(round(strip.frame_final_duration * ratio))
    return {"path": path, "start": max(0, start), "end": max(0, start) + max(1, count),
            "channel": strip.channel, "frame_final_start": strip.frame_final_start,
            "frame_final_duration": strip.frame_final_duration, "name": strip.name}


def output_path(src: dict, op: str, output_dir: str = "") -> str:
    """A fresh output file name next to the source (or in ``output_dir``)."""
    folder = abspath(output_dir) if output_dir else os.path.join(os.path.dirname(src["path"]), "vedit_renders")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src["path"]))[0]
    ext = ".mov" if op == "matte" else ".mp4"  # mattes carry alpha (ProRes 4444)
    base = f"{stem}_{op}_{src['start']}-{src['end']}"
    path = os.path.join(folder, base + ext)
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(folder, f"{base}_{n}{ext}")
    return path


def build_spec(src: dict, op: str, options: dict, output: str) -> dict:
    """The DESIGN §5 job spec; ``options`` mirror the CLI options of the op."""
    if op not in OPS:
        raise ValueError(f"op {op!r}: choose one of {', '.join(OPS)}")
    params = {}
    for k, v in options.items():
        if v in (None, "", False):
            continue
        if k in ("mask", "background", "matte") and isinstance(v, str) and v not in ("person", "blur") \
                and not v.startswith("#"):
            v = abspath(v)
        params[k] = v
    if op == "remove" and "mask" not in params:
        raise ValueError("remove needs a mask: set the mask path in the vedit panel")
    if op == "replace-bg" and not ("background" in params or "prompt" in params):
        raise ValueError("replace-bg needs a background (image, video, colour or 'blur') or a prompt")
    return {"op": op, "input": src["path"], "output": output, "params": params,
            "range": {"start": src["start"], "end": src["end"]}}


def poll(client, job: dict) -> dict:
    """One polling step for a submitted job (``job`` has ``id``): refreshes
    status/progress/stage/output/error in place and returns it."""
    try:
        info = client.get(job["id"])
    except Exception as exc:  # keep polling through short network hiccups
        job["error_count"] = job.get("error_count", 0) + 1
        if job["error_count"] >= 20:
            job.update(status="failed", error=str(exc))
        return job
    job["error_count"] = 0
    for k in ("status", "progress", "stage", "output", "error"):
        if k in info:
            job[k] = info[k]
    return job


def add_result_strip(scene, job: dict):
    """Add the finished output as a movie strip one channel above the source,
    starting at the source's first visible frame."""
    seq = scene.sequence_editor
    path = job.get("output") or job["spec"]["output"]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vedit output not found: {path}")
    channel = min(job["channel"] + 1, 128)
    name = f"{job['name']} vedit {job['spec']['op']}"
    strip = seq.strips.new_movie(name=name, filepath=path, channel=channel,
                                 frame_start=int(job["frame_final_start"]))
    # the output holds exactly the processed range; trim any rounding excess
    extra = strip.frame_final_duration - int(job["frame_final_duration"])
    if extra > 0:
        strip.frame_final_duration = int(job["frame_final_duration"])
    return strip


def submit(client, scene, strip, op: str, options: dict, output_dir: str = "") -> dict:
    """Submit a job for ``strip``; returns the job record the poller updates."""
    src = strip_source(strip, scene)
    if not os.path.isfile(src["path"]):
        raise FileNotFoundError(f"strip {strip.name!r}: media not found: {src['path']}")
    out = output_path(src, op, output_dir)
    spec = build_spec(src, op, options, out)
    job_id = client.submit(spec)
    return {"id": job_id, "spec": spec, "status": "queued", "progress": 0.0, "stage": "queued",
            "output": None, "error": None, "scene": scene.name, "channel": src["channel"],
            "frame_final_start": src["frame_final_start"], "frame_final_duration": src["frame_final_duration"],
            "name": src["name"], "t0": time.monotonic()}


def wait(client, job: dict, timeout: float = 600.0, interval: float = 0.25) -> dict:
    """Blocking poll loop (batch scripts, background mode)."""
    end = time.monotonic() + timeout
    while poll(client, job).get("status") not in TERMINAL:
        if time.monotonic() > end:
            raise TimeoutError(f"vedit job {job['id']} not finished after {timeout:.0f}s")
        time.sleep(interval)
    return job
