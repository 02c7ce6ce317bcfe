"""Timeline round trip: run an op on the clips of an editorial timeline and
write a new timeline with the results on a new video track above.

Reads and writes anything OpenTimelineIO has an adapter for (``.otio``, FCP7
``.xml``, CMX 3600 ``.edl``, ``.otioz``...). Each selected clip's *source
range* (the part of its media the edit uses) is processed; the result clip is
placed at the same record time with the same duration, so the new track lines
up frame for frame with the original edit.

    from vedit.timeline import process_timeline
    report = process_timeline("cut.otio", "cut_clean.otio", op="remove",
                              params={"mask": "masks/{name}.png"})
"""
from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from vedit.errors import InvalidInputError, MediaError, MediaNotFoundError, VeditError, require

if TYPE_CHECKING:  # optional dependency (the ``timeline`` extra); only for annotations
    from opentimelineio.opentime import RationalTime
    from opentimelineio.schema import Clip, Timeline

RESULT_FORMATS = (".mp4", ".mov", ".mkv", ".webm")


@dataclass
class TimelineItem:
    """One selected clip: where it sits in the edit and what part of which file it uses."""

    index: int
    name: str
    track: int  # index among the timeline's video tracks, bottom (0) to top
    track_name: str
    media_path: str
    start: int  # first frame in the media file (0-based, inclusive)
    end: int  # exclusive
    record_start: RationalTime  # where the clip sits in the edit
    duration: RationalTime
    clip: Clip | None = field(repr=False, default=None)
    output: str | None = None


@dataclass
class TimelineReport:
    output: str
    track_names: list[str]
    items: list[TimelineItem]


def _otio():
    return require("opentimelineio", "timeline", "vedit timeline")


# -- reading -------------------------------------------------------------------

def read_timeline(path: str, rate: float | None = None) -> Timeline:
    """Read a timeline with the OTIO adapter matching the extension."""
    otio = _otio()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MediaNotFoundError(f"timeline not found: {path}")
    kw = {}
    if path.lower().endswith(".edl") and rate:
        kw["rate"] = float(rate)
    try:
        obj = otio.adapters.read_from_file(path, **kw)
    except otio.exceptions.NoKnownAdapterForExtensionError:
        raise InvalidInputError(
            f"timeline {path!r}: unknown format; use .otio, .xml (FCP7), .edl or another OTIO adapter's extension"
        ) from None
    except Exception as exc:  # adapters raise many unrelated types on bad files
        raise MediaError(f"cannot read timeline {path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(obj, otio.schema.SerializableCollection):
        tls = list(obj.find_children(descended_from_type=otio.schema.Timeline)) if hasattr(obj, "find_children") \
            else [t for t in obj if isinstance(t, otio.schema.Timeline)]
        if not tls:
            raise InvalidInputError(f"timeline {path!r} holds no sequence")
        obj = tls[0]
    if not isinstance(obj, otio.schema.Timeline):
        raise InvalidInputError(f"timeline {path!r} is a {obj.schema_name()}, not a timeline")
    return obj


def media_path_of(clip, base_dir: str) -> str:
    """Local file path of a clip's media reference (file URL or plain path,
    relative paths resolved against the timeline's folder)."""
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if not url:
        raise InvalidInputError(f"clip {clip.name!r} has no media file (missing or generated media reference)")
    if url.startswith("file:"):
        parsed = urllib.parse.urlparse(url)
        path = urllib.request.url2pathname(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            path = "//" + parsed.netloc + path
    elif re.match(r"^[a-z][a-z0-9+.-]+://", url, re.I):
        raise InvalidInputError(f"clip {clip.name!r}: media {url!r} is not a local file")
    else:
        path = url
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(base_dir, path))
    return path


def _color_name(c) -> str:
    if c is None:
        return ""
    return str(getattr(c, "name", c) or "").upper()


def _marker_matches(marker, wanted: set[str]) -> bool:
    return bool({(marker.name or "").upper(), str(marker.color or "").upper()} & wanted)


def _clip_label(clip) -> str:
    # FCP7 XML keeps the colour label in metadata; OTIO >= 0.17 has Item.color
    lab = _color_name(getattr(clip, "color", None))
    if lab:
        return lab
    try:
        return str(clip.metadata["fcp_xml"]["labels"]["label2"]).upper()
    except (KeyError, TypeError):
        return ""


def select_clips(timeline: Timeline, *, tracks=None, markers=None, names=None, base_dir: str = ".",
                 fps_of: Callable[[str], float] | None = None) -> list[TimelineItem]:
    """The video clips to process.

    ``tracks``: video track numbers (1 = bottom, like editors count) or names.
    ``markers``: marker names or colours (``RED``...) on the clip, or on its
    track/the timeline covering the clip; also matches the clip's colour label.
    ``names``: clip names (shell wildcards allowed). All given filters must
    match; none given selects every video clip.
    """
    import fnmatch

    otio = _otio()
    want_tracks = {str(t).upper() for t in (tracks or [])}
    want_markers = {str(m).upper() for m in (markers or [])}
    items: list[TimelineItem] = []
    vtracks = list(timeline.video_tracks())
    if not vtracks:
        raise InvalidInputError("the timeline has no video track")
    stack_markers = list(timeline.tracks.markers)
    for ti, track in enumerate(vtracks):
        if want_tracks and not ({str(ti + 1), (track.name or "").upper()} & want_tracks):
            continue
        for clip in track.find_clips(shallow_search=True) if hasattr(track, "find_clips") else track.each_clip():
            if not clip.enabled:
                continue
            rec = clip.range_in_parent()
            if names and not any(fnmatch.fnmatchcase(clip.name or "", n) for n in names):
                continue
            if want_markers:
                hit = any(_marker_matches(m, want_markers) for m in clip.markers) or _clip_label(clip) in want_markers
                if not hit:
                    for m in list(track.markers) + stack_markers:
                        if _marker_matches(m, want_markers) and _overlaps(m.marked_range, rec):
                            hit = True
                            break
                if not hit:
                    continue
            path = media_path_of(clip, base_dir)
            if not os.path.exists(path):
                raise MediaNotFoundError(f"clip {clip.name!r}: media not found: {path}")
            src = clip.trimmed_range()
            avail = getattr(clip.media_reference, "available_range", None)
            origin = avail.start_time if avail is not None else otio.opentime.RationalTime(0, src.start_time.rate)
            fps = float(fps_of(path)) if fps_of else float(src.start_time.rate)
            offset = (src.start_time - origin.rescaled_to(src.start_time)).to_seconds()
            start = int(round(offset * fps))
            n = max(1, int(round(src.duration.to_seconds() * fps)))
            if start < 0:
                raise InvalidInputError(f"clip {clip.name!r}: source range starts before its media")
            items.append(TimelineItem(
                index=len(items), name=clip.name or f"clip{len(items) + 1}", track=ti,
                track_name=track.name or f"V{ti + 1}", media_path=path, start=start, end=start + n,
                record_start=rec.start_time, duration=rec.duration, clip=clip,
            ))
    return items


def _overlaps(a, b) -> bool:
    if a is None:
        return False
    a0, a1 = a.start_time.to_seconds(), a.end_time_exclusive().to_seconds()
    b0, b1 = b.start_time.to_seconds(), b.end_time_exclusive().to_seconds()
    return a0 < b1 and b0 < a1 or (a.duration.value == 0 and b0 <= a0 < b1)


# -- writing -------------------------------------------------------------------

def _lanes(items: list[TimelineItem]) -> list[list[TimelineItem]]:
    """Spread results over as few new tracks as needed so none overlap."""
    lanes: list[list[TimelineItem]] = []
    for it in sorted(items, key=lambda i: (i.record_start.to_seconds(), i.track)):
        t0 = it.record_start.to_seconds()
        for lane in lanes:
            last = lane[-1]
            if (last.record_start + last.duration).to_seconds() <= t0 + 1e-9:
                lane.append(it)
                break
        else:
            lanes.append([it])
    return lanes


def build_result_timeline(timeline: Timeline, items: list[TimelineItem], op: str,
                          keep_original: bool = True) -> tuple[Timeline, list[str]]:
    """A copy of ``timeline`` with one (or more, where results overlap) new
    video tracks above the others, holding the results at their record times."""
    otio = _otio()
    from vedit.io import open_clip

    new = timeline.deepcopy() if keep_original else otio.schema.Timeline(name=timeline.name)
    if not keep_original:
        new.global_start_time = timeline.global_start_time
    new.name = f"{timeline.name or 'timeline'} (vedit {op})"
    names = []
    lanes = _lanes(items)
    for li, lane in enumerate(lanes):
        name = f"vedit {op}" + (f" {li + 1}" if len(lanes) > 1 else "")
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
        cursor = None
        for it in lane:
            if it.output is None:
                raise InvalidInputError(f"clip {it.name!r} has no result file to place on the timeline")
            rate = it.record_start.rate
            if cursor is None:
                cursor = otio.opentime.RationalTime(0, rate)
            gap = it.record_start - cursor
            if gap.to_seconds() > 1e-9:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, rate), gap.rescaled_to(rate))))
            res = open_clip(it.output)
            rrate = float(res.fps)
            ref = otio.schema.ExternalReference(
                target_url=_file_url(it.output),
                available_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, rrate),
                    otio.opentime.RationalTime(res.frame_count, rrate)),
            )
            clip = otio.schema.Clip(
                name=f"{it.name} (vedit {op})", media_reference=ref,
                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), it.duration),
                metadata={"vedit": {"op": op, "source_clip": it.name, "source_track": it.track_name,
                                    "source_media": it.media_path, "source_frames": [it.start, it.end]}},
            )
            track.append(clip)
            cursor = it.record_start + it.duration
        # video tracks are ordered bottom to top: insert right after the last video track
        vidx = [i for i, t in enumerate(new.tracks) if t.kind == otio.schema.TrackKind.Video]
        new.tracks.insert((vidx[-1] + 1) if vidx else 0, track)
        names.append(name)
    return new, names


def _file_url(path: str) -> str:
    return "file://" + urllib.request.pathname2url(os.path.abspath(path))


def _safe(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return s[:60] or "clip"


def default_media_dir(output: str) -> str:
    stem = os.path.splitext(os.path.abspath(output))[0]
    return stem + "_media"


def process_timeline(timeline_path: str, output: str, *, op: str, params: dict | None = None,
                     tracks=None, markers=None, names=None, media_dir: str | None = None,
                     result_format: str = ".mp4", rate: float | None = None,
                     callback: Callable | None = None, runner: Callable | None = None,
                     dry_run: bool = False) -> TimelineReport:
    """Run ``op`` on the selected clips of a timeline and write a new timeline.

    ``params`` go to the op (``vedit.ops.<op>.run``); string values may use
    ``{name}``, ``{index}`` and ``{track}`` to point at per-clip files (for
    example ``mask="masks/{name}.png"``). A clip's ``metadata["vedit"]["params"]``
    overrides them. Results go to ``media_dir`` (default ``<output>_media/``).
    ``runner`` replaces the op function (same signature), for tests and custom ops.
    """
    otio = _otio()
    from vedit.io import check_output_path, open_clip

    # 1. check inputs
    result_format = result_format if result_format.startswith(".") else "." + result_format
    if result_format.lower() not in RESULT_FORMATS:
        raise InvalidInputError(f"--format {result_format!r}: choose one of {', '.join(RESULT_FORMATS)}")
    out_ext = os.path.splitext(output)[1].lower()
    try:
        otio.adapters.from_filepath(output)
    except Exception:
        raise InvalidInputError(
            f"-o {output!r}: OTIO has no adapter for {out_ext or 'that name'}; use .otio, .xml, .edl"
        ) from None
    if os.path.abspath(output) == os.path.abspath(timeline_path):
        raise InvalidInputError(f"-o {output} is the input timeline; choose another path")
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise MediaError(f"cannot write {output}: folder {parent} does not exist")
    run = runner
    if run is None:
        from vedit.ops import get_op

        run = get_op(op)

    # 2. read and select
    tl = read_timeline(timeline_path, rate=rate)
    base_dir = os.path.dirname(os.path.abspath(timeline_path))
    fps_cache: dict[str, float] = {}

    def fps_of(p: str) -> float:
        if p not in fps_cache:
            fps_cache[p] = float(open_clip(p).fps)
        return fps_cache[p]

    items = select_clips(tl, tracks=tracks, markers=markers, names=names, base_dir=base_dir, fps_of=fps_of)
    if not items:
        raise InvalidInputError("no clip matched the selection (check --track / --marker / --name)")
    media_dir = media_dir or default_media_dir(output)
    if dry_run:
        return TimelineReport(output=output, track_names=[], items=items)
    os.makedirs(media_dir, exist_ok=True)

    # 3. run the op on each clip's source range
    total = sum(it.end - it.start for it in items)
    done_before = 0
    for it in items:
        it.output = os.path.join(media_dir, f"{it.index + 1:03d}_{_safe(it.name)}_{op}{result_format}")
        check_output_path(it.output, [it.media_path])
        p = _clip_params(params or {}, it, base_dir)
        n = it.end - it.start

        def cb(done, tot=None, stage="", _b=done_before, _n=n, _it=it):
            if callback:
                frac = (done / tot) if tot else 0.0
                callback(_b + int(round(min(1.0, frac) * _n)), total, f"{_it.name}: {stage}".strip(": "))

        try:
            it.output = run(it.media_path, it.output, start=it.start, end=it.end, callback=cb, **p) or it.output
        except VeditError as exc:
            raise type(exc)(f"clip {it.name!r} ({it.media_path} frames {it.start}-{it.end}): {exc}") from exc
        done_before += n
        if callback:
            callback(done_before, total, it.name)

    # 4. write the new timeline
    new, track_names = build_result_timeline(tl, items, op, keep_original=not out_ext == ".edl")
    if out_ext == ".edl" and len(track_names) > 1:
        raise InvalidInputError("EDL holds one video track but the results overlap; write .otio or .xml instead")
    tmp = os.path.join(parent, f".{os.path.basename(output)}.tmp{os.getpid()}{out_ext}")
    try:
        otio.adapters.write_to_file(new, tmp)
        os.replace(tmp, output)
    except Exception as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, VeditError):
            raise
        raise MediaError(f"cannot write timeline {output}: {type(exc).__name__}: {exc}") from exc
    return TimelineReport(output=output, track_names=track_names, items=items)


def _clip_params(params: dict, it: TimelineItem, base_dir: str) -> dict:
    out = {}
    fields = {"name": _safe(it.name), "index": it.index + 1, "track": it.track_name}
    meta = {}
    if it.clip is not None:
        try:
            meta = dict(it.clip.metadata["vedit"]["params"])
        except (KeyError, TypeError, AttributeError):
            pass
    for k, v in {**params, **meta}.items():
        if isinstance(v, str) and "{" in v:
            try:
                v = v.format(**fields)
            except (KeyError, IndexError, ValueError):
                raise InvalidInputError(f"option {k}={v!r}: only {{name}}, {{index}} and {{track}} can be filled in") from None
        if isinstance(v, str) and k in ("mask", "background", "matte", "region") and not os.path.isabs(v) \
                and not os.path.exists(v) and os.path.exists(os.path.join(base_dir, v)):
            v = os.path.join(base_dir, v)
        out[k.replace("-", "_")] = v
    return out
