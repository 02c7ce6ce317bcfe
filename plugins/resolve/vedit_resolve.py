"""vedit for DaVinci Resolve: Workspace > Scripts > vedit_resolve.

Takes the current video item of the current timeline (the clip under the
playhead on the highest enabled track), sends its file and source range to
the local ``vedit serve``, waits for the job, imports the result into the
media pool and places it on a new video track at the same record frame (or
adds it as a take of the item with ``VEDIT_RESOLVE_MODE=take``).

Options come from ``$VEDIT_HOME/resolve.json`` or environment variables
(``VEDIT_RESOLVE_OP``, ``VEDIT_RESOLVE_MASK``, ``VEDIT_RESOLVE_BACKGROUND``,
``VEDIT_RESOLVE_MODE``), so the script runs from the menu without a dialog.
Only documented Resolve API calls are used (see the README of Resolve's
Developer/Scripting folder): GetProjectManager, GetCurrentProject,
GetCurrentTimeline, GetCurrentVideoItem, GetMediaPoolItem, GetClipProperty,
GetLeftOffset, GetDuration, GetStart, GetSetting, GetMediaPool, ImportMedia,
GetTrackCount, AddTrack, AppendToTimeline, AddTake, SelectTakeByIndex,
GetTakesCount.
"""
from __future__ import annotations

import json
import os
import sys
import time

OPS = ("remove", "replace-bg", "matte")
# read from the environment when the server's op list is not at hand
COMMON_PARAMS = ("mask", "background", "matte", "prompt", "engine")


# -- server client: vedit's one client (vedit/server/client.py, stdlib only) ------
# Resolve runs the user's system Python: with vedit installed there it is
# imported; otherwise a copy of that file saved beside this script as
# vedit_client.py is used (plugins/README.md).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from vedit.server.client import VeditClient, vedit_home
except ImportError:  # pragma: no cover - a Resolve without vedit installed
    from vedit_client import VeditClient, vedit_home  # type: ignore[no-redef]
finally:
    sys.path.pop(0)

VeditServer = VeditClient  # the name this script used before


# -- options ---------------------------------------------------------------------

def _env_value(text: str, schema: dict):
    """An environment variable's text as the param's type (from ``GET /ops``)."""
    kind = schema.get("type")
    if kind == "array":
        return [t for t in text.split(";") if t]  # repeatable: values separated by ';'
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text.strip().lower() in ("1", "true", "yes", "on")
    return text


def load_options(env=None, ops: dict | None = None) -> dict:
    """Options from ``$VEDIT_HOME/resolve.json`` and ``VEDIT_RESOLVE_*``
    variables: ``_OP``, ``_MODE`` and one per param of the op. ``ops`` is the
    server's ``GET /ops``: with it every param of the op (``VEDIT_RESOLVE_DILATE``...)
    is read and typed from the op's definition; without it the common ones."""
    env = os.environ if env is None else env
    opts = {"op": "matte", "mode": "track", "params": {}}
    path = os.path.join(vedit_home(), "resolve.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            opts.update(json.load(f))
    for key, name in (("op", "VEDIT_RESOLVE_OP"), ("mode", "VEDIT_RESOLVE_MODE")):
        if env.get(name):
            opts[key] = env[name]
    if opts["op"] not in (ops or OPS):
        raise ValueError(f"op {opts['op']!r}: choose one of {', '.join(ops or OPS)}")
    params = (ops or {}).get(opts["op"], {}).get("params") or {k: {} for k in COMMON_PARAMS}
    for key, schema in params.items():
        text = env.get(f"VEDIT_RESOLVE_{key.upper()}")
        if text:
            try:
                opts["params"][key] = _env_value(text, schema)
            except ValueError:
                raise ValueError(f"VEDIT_RESOLVE_{key.upper()}={text!r}: expected {schema.get('type')}") from None
    if opts["mode"] not in ("track", "take"):
        raise ValueError(f"mode {opts['mode']!r}: use 'track' (new track above) or 'take'")
    return opts


# -- Resolve side -----------------------------------------------------------------

def _fps(value, fallback: float) -> float:
    try:
        return float(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return fallback


def current_item(resolve):
    """(project, timeline, item, media pool item) for the current video item."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise RuntimeError("no project is open")
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise RuntimeError("no timeline is open")
    item = timeline.GetCurrentVideoItem()
    if not item:
        raise RuntimeError("no video clip under the playhead; move the playhead over a clip")
    mpi = item.GetMediaPoolItem()
    if not mpi:
        raise RuntimeError(f"timeline item {item.GetName()!r} has no media (generator or title?)")
    return project, timeline, item, mpi


def source_range(timeline, item, mpi) -> dict:
    """File path and source range in media frames (end exclusive).

    GetLeftOffset/GetDuration count timeline frames; media frames follow from
    the clip's own FPS when it differs from the timeline's."""
    path = mpi.GetClipProperty("File Path")
    if not path:
        raise RuntimeError(f"clip {mpi.GetName()!r} has no file path")
    tl_fps = _fps(timeline.GetSetting("timelineFrameRate"), 24.0)
    clip_fps = _fps(mpi.GetClipProperty("FPS"), tl_fps)
    ratio = clip_fps / tl_fps
    start = int(round(item.GetLeftOffset() * ratio))
    dur = int(item.GetDuration())
    return {"path": path, "start": start, "end": start + max(1, int(round(dur * ratio))),
            "record": int(item.GetStart()), "duration": dur, "name": item.GetName()}


def output_path(src: dict, op: str, out_dir: str | None = None) -> str:
    folder = out_dir or os.path.join(os.path.dirname(src["path"]), "vedit_renders")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src["path"]))[0]
    ext = ".mov" if op == "matte" else ".mp4"
    return os.path.join(folder, f"{stem}_{op}_{src['start']}-{src['end']}{ext}")


def place_result(project, timeline, item, src: dict, path: str, mode: str = "track") -> dict:
    """Import ``path`` and put it above the item (new track) or add it as a take."""
    pool = project.GetMediaPool()
    imported = pool.ImportMedia([path])
    if not imported:
        raise RuntimeError(f"Resolve could not import {path}")
    new_mpi = imported[0]
    if mode == "take":
        if not item.AddTake(new_mpi, 0, src["end"] - src["start"] - 1):  # frames inclusive
            raise RuntimeError("Resolve refused AddTake")
        item.SelectTakeByIndex(item.GetTakesCount())
        return {"mode": "take", "media_pool_item": new_mpi}
    if not timeline.AddTrack("video"):
        raise RuntimeError("Resolve refused to add a video track")
    track = int(timeline.GetTrackCount("video"))
    placed = pool.AppendToTimeline([{
        "mediaPoolItem": new_mpi, "startFrame": 0, "endFrame": src["end"] - src["start"] - 1,
        "mediaType": 1, "trackIndex": track, "recordFrame": src["record"],
    }])
    if not placed:
        raise RuntimeError("Resolve refused AppendToTimeline")
    return {"mode": "track", "track": track, "timeline_item": placed[0], "media_pool_item": new_mpi}


def run(resolve, options: dict | None = None, server=None, poll_interval: float = 0.5,
        timeout: float = 3600.0, log=print) -> dict:
    """The whole round trip; returns what was placed (for scripts and tests)."""
    if options is None:
        server = server or VeditServer()
        options = load_options(ops=server.ops() if hasattr(server, "ops") else None)
    server = server or VeditServer(options.get("url"))
    project, timeline, item, mpi = current_item(resolve)
    src = source_range(timeline, item, mpi)
    op = options.get("op", "matte")
    params = dict(options.get("params") or {})
    if op == "matte" and not params.get("mask"):
        params.setdefault("person", True)
    spec = {"op": op, "input": src["path"], "output": output_path(src, op, options.get("output_dir")),
            "params": params, "range": {"start": src["start"], "end": src["end"]}}
    job_id = server.submit(spec)
    log(f"vedit: job {job_id} {op} {os.path.basename(src['path'])} [{src['start']}, {src['end']})")
    end = time.monotonic() + timeout
    last = -1
    while True:
        job = server.get(job_id)
        pct = int(100 * float(job.get("progress") or 0))
        if pct != last:
            log(f"vedit: {job.get('status')} {pct}% {job.get('stage') or ''}")
            last = pct
        if job.get("status") in ("done", "failed", "cancelled"):
            break
        if time.monotonic() > end:
            raise RuntimeError(f"vedit job {job_id} not finished after {timeout:.0f}s")
        time.sleep(poll_interval)
    if job["status"] != "done":
        raise RuntimeError(f"vedit job {job_id} {job['status']}: {job.get('error')}")
    out = job.get("output") or spec["output"]
    result = place_result(project, timeline, item, src, out, options.get("mode", "track"))
    result.update(job=job, spec=spec)
    log(f"vedit: placed {out}")
    return result


def _resolve_app():
    g = globals()
    if g.get("resolve"):
        return g["resolve"]
    if g.get("bmd"):
        return g["bmd"].scriptapp("Resolve")
    try:
        import DaVinciResolveScript as dvr  # type: ignore

        return dvr.scriptapp("Resolve")
    except ImportError:
        return None


if __name__ == "__main__":
    app = _resolve_app()
    if app is None:
        print("ERROR: run this from DaVinci Resolve (Workspace > Scripts) or with its scripting module on PYTHONPATH")
        sys.exit(1)
    try:
        run(app)
    except (RuntimeError, ValueError) as exc:
        print(f"ERROR: {exc}")
        sys.exit(1)
