"""vedit for DaVinci Resolve: Workspace > Scripts > vedit_resolve.

Takes the current video item of the current timeline (the clip under the
playhead on the highest enabled track; a vedit result found there is skipped
for the source clip under it), sends its file and source range to the local
``vedit serve``, waits for the job, imports the result into the media pool and
places it on the timeline's "vedit" video track (made once, then reused) at
the same record frame, or adds it as a take of the item (``"mode": "take"``).

Settings (op, params, mode, url, token, ca_file, output_dir) come from
``vedit_resolve.json`` beside this script, then ``$VEDIT_HOME/resolve.json``
(the config folder vedit reads), so the script runs from the menu without a
dialog and without environment variables (a Resolve started from the macOS
Dock sees none); ``VEDIT_RESOLVE_*`` variables still override them.
Cancel a running job with Workspace > Scripts > vedit_resolve_cancel (or by
creating ``vedit_resolve.cancel`` beside this script, or `vedit jobs cancel ID`).

Only documented Resolve API calls are used (see the README of Resolve's
Developer/Scripting folder): GetProjectManager, GetCurrentProject,
GetCurrentTimeline, GetCurrentVideoItem, GetMediaPoolItem, GetClipProperty,
GetSourceStartFrame, GetSourceEndFrame (Resolve 19+: the clip's source in/out;
GetLeftOffset is the head handle, not the in-point), GetDuration, GetStart,
GetEnd, GetSetting, GetTrackCount, GetTrackName, SetTrackName,
GetItemListInTrack, GetMediaPool, ImportMedia, AddTrack, AppendToTimeline,
AddTake, SelectTakeByIndex, GetTakesCount.
"""
from __future__ import annotations

import json
import os
import re
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


HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS_NAME = "vedit_resolve.json"
CANCEL_NAME = "vedit_resolve.cancel"
JOB_NAME = "vedit_resolve.job"
RESULT_TRACK = "vedit"


def settings_files() -> list[str]:
    """Where settings are read, lowest priority first: the config folder vedit
    reads, then the file beside this script."""
    return [os.path.join(vedit_home(), "resolve.json"), os.path.join(HERE, SETTINGS_NAME)]


def make_client(options: dict):
    """vedit's client from the settings: ``url``, ``token`` and ``ca_file`` (the
    certificate to trust for an https:// server with a self-signed one, e.g.
    ``~/.config/vedit/tls/cert.pem`` from ``vedit serve --make-cert``; empty:
    ``$VEDIT_CA_FILE`` or the system's trusted certificates). A relative
    ``ca_file`` is taken from the folder of this script."""
    ca = options.get("ca_file") or None
    if ca:
        ca = os.path.join(HERE, os.path.expanduser(ca))
    try:
        return VeditServer(options.get("url") or None, options.get("token") or None, cafile=ca)
    except ValueError as exc:  # a CA file that is not there
        raise ValueError(f"ca_file in {SETTINGS_NAME}: {exc}") from None


def _tls_hint(exc: Exception) -> Exception:
    if str(exc).startswith("TLS to "):
        return RuntimeError(f"{exc} (Resolve: set \"ca_file\" in {SETTINGS_NAME} beside this script)")
    return exc


def load_options(env=None, ops: dict | None = None, files: list[str] | None = None) -> dict:
    """Options from the settings files (``settings_files()``) and
    ``VEDIT_RESOLVE_*`` variables: ``_OP``, ``_MODE`` and one per param of the op.
    ``ops`` is the server's ``GET /ops``: with it every param of the op
    (``VEDIT_RESOLVE_DILATE``...) is read and typed from the op's definition;
    without it the common ones."""
    env = os.environ if env is None else env
    opts: dict = {"op": "matte", "mode": "track", "params": {}}
    for path in settings_files() if files is None else files:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                try:
                    data = json.load(f)
                except ValueError as exc:
                    raise ValueError(f"settings file {path}: not valid JSON ({exc})") from None
            params = dict(opts["params"], **(data.get("params") or {}))
            opts.update(data)
            opts["params"] = params
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


_RESULT_NAME = re.compile(r"_(remove|replace-bg|matte|animate)_\d+-\d+(_\d+)?\.(mp4|mov|mkv|webm)$", re.I)


def is_vedit_result(path: str, output_dir: str | None = None) -> bool:
    """True for a file this script (or the Blender add-on) wrote: it sits in a
    ``vedit_renders`` folder or the configured output folder and carries the
    ``_<op>_<start>-<end>`` name vedit gives results."""
    if not path:
        return False
    folder = os.path.normcase(os.path.abspath(os.path.dirname(path)))
    dirs = [d for d in (output_dir,) if d]
    in_dir = os.path.basename(folder) == "vedit_renders" or any(
        folder == os.path.normcase(os.path.abspath(d)) for d in dirs)
    return in_dir and bool(_RESULT_NAME.search(os.path.basename(path)))


def _media_path(item) -> str:
    mpi = item.GetMediaPoolItem() if item else None
    return (mpi.GetClipProperty("File Path") or "") if mpi else ""


def current_item(resolve, output_dir: str | None = None):
    """(project, timeline, item, media pool item) for the clip under the
    playhead. ``GetCurrentVideoItem`` answers with the topmost clip, which after
    a first run is vedit's own result: then the clip under it (the highest
    track holding a non-result clip at that record frame) is the source."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise RuntimeError("no project is open")
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise RuntimeError("no timeline is open")
    item = timeline.GetCurrentVideoItem()
    if not item:
        raise RuntimeError("no video clip under the playhead; move the playhead over a clip")
    if is_vedit_result(_media_path(item), output_dir):
        at = int(item.GetStart())
        below = None
        for track in range(int(timeline.GetTrackCount("video")), 0, -1):
            for cand in timeline.GetItemListInTrack("video", track) or []:
                if int(cand.GetStart()) <= at < int(cand.GetEnd()) and \
                        not is_vedit_result(_media_path(cand), output_dir) and cand.GetMediaPoolItem():
                    below = cand
                    break
            if below is not None:
                break
        if below is None:
            raise RuntimeError(f"the clip under the playhead ({item.GetName()!r}) is a vedit result and no source "
                               "clip lies under it; move the playhead over the clip to process")
        item = below
    mpi = item.GetMediaPoolItem()
    if not mpi:
        raise RuntimeError(f"timeline item {item.GetName()!r} has no media (generator or title?)")
    return project, timeline, item, mpi


def source_range(timeline, item, mpi) -> dict:
    """File path and source range in media frames (end exclusive).

    The in-point is ``GetSourceStartFrame`` (the clip's first source frame,
    counted from the media's first frame number, its clip property "Start");
    ``GetLeftOffset`` is the head handle, which differs. The frame count is
    the timeline duration in the media's own frame rate; a clip whose source
    span disagrees with it (a speed change) is refused."""
    path = mpi.GetClipProperty("File Path")
    if not path:
        raise RuntimeError(f"clip {mpi.GetName()!r} has no file path")
    if not hasattr(item, "GetSourceStartFrame"):
        raise RuntimeError("this Resolve has no TimelineItem.GetSourceStartFrame (DaVinci Resolve 19 or later "
                           "is needed to read the clip's source in-point)")
    tl_fps = _fps(timeline.GetSetting("timelineFrameRate"), 24.0)
    clip_fps = _fps(mpi.GetClipProperty("FPS"), tl_fps)
    ratio = clip_fps / tl_fps
    try:
        first = int(float(mpi.GetClipProperty("Start") or 0))
    except ValueError:
        first = 0
    src_in = int(item.GetSourceStartFrame())
    start = src_in - first if src_in >= first else src_in
    dur = int(item.GetDuration())
    count = max(1, int(round(dur * ratio)))
    span = int(item.GetSourceEndFrame()) - src_in
    if abs(abs(span) - count) > 1 or span < 0:
        raise RuntimeError(f"clip {item.GetName()!r} plays {abs(span)} source frames over {dur} timeline frames "
                           "(a speed change): vedit processes clips at 100% speed; reset its speed and run again")
    return {"path": path, "start": start, "end": start + count,
            "record": int(item.GetStart()), "duration": dur, "name": item.GetName()}


def output_path(src: dict, op: str, out_dir: str | None = None) -> str:
    folder = out_dir or os.path.join(os.path.dirname(src["path"]), "vedit_renders")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src["path"]))[0]
    ext = ".mov" if op == "matte" else ".mp4"
    base = os.path.join(folder, f"{stem}_{op}_{src['start']}-{src['end']}")
    path, n = base + ext, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}_{n}{ext}"
    return path


def result_track(timeline) -> int:
    """Index of the timeline's "vedit" video track, made (and named) the first time."""
    count = int(timeline.GetTrackCount("video"))
    for i in range(count, 0, -1):
        if timeline.GetTrackName("video", i) == RESULT_TRACK:
            return i
    if not timeline.AddTrack("video"):
        raise RuntimeError("Resolve refused to add a video track")
    track = int(timeline.GetTrackCount("video"))
    timeline.SetTrackName("video", track, RESULT_TRACK)
    return track


def place_result(project, timeline, item, src: dict, path: str, mode: str = "track") -> dict:
    """Import ``path`` and put it on the "vedit" track or add it as a take."""
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
    track = result_track(timeline)
    placed = pool.AppendToTimeline([{
        "mediaPoolItem": new_mpi, "startFrame": 0, "endFrame": src["end"] - src["start"] - 1,
        "mediaType": 1, "trackIndex": track, "recordFrame": src["record"],
    }])
    if not placed:
        raise RuntimeError("Resolve refused AppendToTimeline")
    return {"mode": "track", "track": track, "timeline_item": placed[0], "media_pool_item": new_mpi}


def request_cancel(folder: str = HERE) -> str:
    """Ask the running script to cancel its job (what vedit_resolve_cancel does)."""
    path = os.path.join(folder, CANCEL_NAME)
    with open(path, "w", encoding="utf-8") as f:
        f.write("cancel\n")
    return path


def run(resolve, options: dict | None = None, server=None, poll_interval: float = 0.5,
        timeout: float = 3600.0, log=print, state_dir: str = HERE) -> dict:
    """The whole round trip; returns what was placed (for scripts and tests).

    While it waits, ``vedit_resolve.cancel`` appearing in ``state_dir`` (or
    Ctrl+C in the console) cancels the job on the server."""
    try:
        if options is None:
            base = load_options()
            server = server or make_client(base)
            options = load_options(ops=server.ops() if hasattr(server, "ops") else None)
        server = server or make_client(options)
    except RuntimeError as exc:
        raise _tls_hint(exc) from None
    project, timeline, item, mpi = current_item(resolve, options.get("output_dir"))
    src = source_range(timeline, item, mpi)
    op = options.get("op", "matte")
    params = dict(options.get("params") or {})
    if op == "matte" and not params.get("mask"):
        params.setdefault("person", True)
    spec = {"op": op, "input": src["path"], "output": output_path(src, op, options.get("output_dir")),
            "params": params, "range": {"start": src["start"], "end": src["end"]}}
    cancel_file = os.path.join(state_dir, CANCEL_NAME)
    if os.path.exists(cancel_file):
        os.remove(cancel_file)  # a request left from an earlier run
    try:
        job_id = server.submit(spec)
    except RuntimeError as exc:
        raise _tls_hint(exc) from None
    job_file = os.path.join(state_dir, JOB_NAME)
    try:
        with open(job_file, "w", encoding="utf-8") as f:
            json.dump({"id": job_id, "url": getattr(server, "url", None), "cafile": getattr(server, "cafile", None)}, f)
    except OSError:
        job_file = ""
    log(f"vedit: job {job_id} {op} {os.path.basename(src['path'])} [{src['start']}, {src['end']}); "
        "cancel with Workspace > Scripts > vedit_resolve_cancel")
    end = time.monotonic() + timeout
    last = -1
    try:
        while True:
            job = server.get(job_id)
            pct = int(100 * float(job.get("progress") or 0))
            if pct != last:
                log(f"vedit: {job.get('status')} {pct}% {job.get('stage') or ''}")
                last = pct
            if job.get("status") in ("done", "failed", "cancelled"):
                break
            if os.path.exists(cancel_file):
                os.remove(cancel_file)
                server.cancel(job_id)
                log(f"vedit: cancelling job {job_id}")
            if time.monotonic() > end:
                server.cancel(job_id)
                raise RuntimeError(f"vedit job {job_id} not finished after {timeout:.0f}s; cancelled it")
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        server.cancel(job_id)
        raise RuntimeError(f"vedit job {job_id} cancelled") from None
    finally:
        if job_file and os.path.exists(job_file):
            os.remove(job_file)
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
