"""vedit for DaVinci Resolve: Workspace > Scripts > vedit_resolve.

Takes the current video item of the current timeline (the clip under the
playhead on the highest enabled track; a vedit result found there is skipped
for the source clip under it), sends its file and source range to the local
``vedit serve``, waits for the job, imports the result into the media pool and
places it on the timeline's "vedit" video track (made once, then reused) at
the same record frame, or adds it as a take of the item (``"mode": "take"``).

Settings (op, params, mode, url, token, ca_file, output_dir) come from
``vedit_resolve.json`` beside this script, then ``$VEDIT_HOME/resolve.json``,
then the ``[resolve]`` table of vedit's own config file
(``$VEDIT_HOME/config.toml``), so the script runs from the menu without a
dialog and without environment variables (a Resolve started from the macOS
Dock sees none); ``VEDIT_RESOLVE_*`` variables still override them. The
params are checked against the op definitions before anything is submitted
(``ops_schema.json`` beside this script, or the server's ``GET /ops``): an
unknown name, a wrong type or a value outside the choices stops the script with
one line naming the param and what it accepts. ``vedit_resolve.example.jsonc``
lists every setting and param with its default and help; the settings files
may carry ``//`` comments like it.
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
    """An environment variable's text for a param: a repeatable one's values
    separated by ';'; the check against the op schema types it."""
    if schema.get("type") == "array":
        return [t for t in text.split(";") if t]
    return text


HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS_NAME = "vedit_resolve.json"
CANCEL_NAME = "vedit_resolve.cancel"
JOB_NAME = "vedit_resolve.job"
RESULT_TRACK = "vedit"


def config_file() -> str:
    """vedit's own config file (``$VEDIT_CONFIG``, default
    ``$VEDIT_HOME/config.toml``): its ``[resolve]`` table holds settings too."""
    return os.path.expanduser(os.environ.get("VEDIT_CONFIG") or os.path.join(vedit_home(), "config.toml"))


def settings_files() -> list[str]:
    """Where settings are read, lowest priority first: the ``[resolve]`` table
    of vedit's config file, ``resolve.json`` in vedit's config folder, then the
    file beside this script."""
    return [config_file(), os.path.join(vedit_home(), "resolve.json"), os.path.join(HERE, SETTINGS_NAME)]


def read_settings_file(path: str) -> dict:
    """The settings one file holds: a ``.toml`` file's ``[resolve]`` table
    (vedit's config file; {} without one), else the file's JSON (comments
    allowed, see ``parse_settings``). Raises ValueError naming the file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not path.endswith(".toml"):
        try:
            return parse_settings(text)
        except ValueError as exc:
            raise ValueError(f"settings file {path}: not valid JSON ({exc})") from None
    try:
        import tomllib
    except ImportError:  # Resolve's Python older than 3.11
        if re.search(r"^\s*\[\s*resolve[\].]", text, re.M):
            raise ValueError(f"{path}: reading its [resolve] table needs Python 3.11 or later in Resolve; "
                             f"put these settings in {SETTINGS_NAME} beside the script instead") from None
        return {}
    try:
        data = tomllib.loads(text).get("resolve", {})
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: [resolve] must be a table")
    return data


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


# -- settings and their check against the op definitions ---------------------------

SCHEMA_NAME = "ops_schema.json"
EXAMPLE_NAME = "vedit_resolve.example.jsonc"
# the settings file's own keys: default and what it is (the example file shows them)
SETTINGS = {
    "op": ("matte", " | ".join(OPS)),
    "mode": ("track", 'track: the result goes on the timeline\'s "vedit" video track; take: a take of the clip'),
    "url": ("", "the vedit server; empty: $VEDIT_URL or http://127.0.0.1:8765"),
    "token": ("", "empty: the token file vedit serve writes ($VEDIT_HOME/token)"),
    "ca_file": ("", "certificate to trust for an https:// url with a self-signed one (vedit serve --make-cert "
                    "writes ~/.config/vedit/tls/cert.pem); relative: from the scripts folder"),
    "output_dir": ("", "folder for results; empty: a vedit_renders folder beside the source media"),
    "params": ({}, "the params of \"op\", named as in `vedit OP --help` with underscores"),
}


def load_schema(path: str | None = None) -> dict:
    """The op definitions this script ships with (``ops_schema.json`` beside it,
    written by ``plugins/make_ops_schema.py``): ``{op: GET /ops entry}``."""
    path = path or os.path.join(HERE, SCHEMA_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["ops"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{path} is missing or damaged: copy {SCHEMA_NAME} from plugins/resolve "
                         "beside this script") from None


_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(?=\s*[}\]])')


def parse_settings(text: str) -> dict:
    """A settings file's JSON, allowing ``//`` and ``/* */`` comments and a
    comma before a closing bracket (what is left after un-commenting one line
    of the example). Raises ValueError."""
    def keep_strings(m):
        t = m.group(0)
        return t if t.startswith('"') else "\n" * t.count("\n")

    text = _STRING_OR_COMMENT.sub(keep_strings, text)
    text = _STRING_OR_TRAILING_COMMA.sub(keep_strings, text)
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected an object {...}")
    return data


def _num(v) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _range(s: dict) -> str:
    lo, hi = s.get("minimum"), s.get("maximum")
    if lo is not None and hi is not None:
        return f" from {_num(lo)} to {_num(hi)}"
    if lo is not None:
        return f" of at least {_num(lo)}"
    return f" of at most {_num(hi)}" if hi is not None else ""


def describe(s: dict) -> str:
    """What a param accepts, in words (for messages and the example file)."""
    if "anyOf" in s:
        return " or ".join(describe(sub) for sub in s["anyOf"])
    if "enum" in s:
        return "one of " + ", ".join(json.dumps(v) for v in s["enum"])
    kind = s.get("type")
    if kind == "array":
        items = s.get("items") or {}
        if s.get("x-repeat"):
            return f"{describe(items)}, or a list of them"
        n = s.get("minItems")
        count = f"{n} " if n is not None and n == s.get("maxItems") else ""
        return f"a list of {count}" + ("numbers" if items.get("type") == "number" else f"({describe(items)})")
    if kind == "integer":
        return "a whole number" + _range(s)
    if kind == "number":
        return "a number" + _range(s)
    if kind == "boolean":
        return "true or false"
    if "pattern" in s:
        return '"x,y,..." text'
    return "a path" if s.get("format") == "path" else "text"


_SWITCH_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False,
                 "off": False}


def _fits(value, s: dict):
    """``value`` as schema ``s`` takes it, or raise ValueError."""
    if "anyOf" in s:
        for sub in s["anyOf"]:
            try:
                return _fits(value, sub)
            except ValueError:
                pass
        raise ValueError
    kind = s.get("type")
    if kind == "array":
        items = s.get("items") or {}
        nested = any(sub.get("type") == "array" for sub in items.get("anyOf", ()))
        if not isinstance(value, list) or (nested and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            value = [value]  # one value of a repeatable param
        if not (s.get("minItems", 0) <= len(value) <= s.get("maxItems", len(value))):
            raise ValueError
        return [_fits(v, items) for v in value]
    # text for a number or a switch is taken as vedit's own check takes it
    if kind == "integer":
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value.strip()) < 20:
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        if isinstance(value, str) and len(value) < 64:
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
            and abs(value) != float("inf")
    elif kind == "boolean":
        if isinstance(value, str) and value.lower() in _SWITCH_WORDS:
            value = _SWITCH_WORDS[value.lower()]
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str) and (value != "" or s.get("format") != "path") and \
            ("pattern" not in s or re.search(s["pattern"], value) is not None)
    if not ok or ("enum" in s and value not in s["enum"]):
        raise ValueError
    if kind in ("integer", "number") and not (s.get("minimum", value) <= value <= s.get("maximum", value)):
        raise ValueError
    return float(value) if kind == "number" else value


def _engine_param(params: dict) -> str | None:
    """The param choosing the op's engine: the choice that lists every engine
    some param is limited to."""
    needed = {e for s in params.values() for e in s.get("x-engines", ())}
    for name, s in params.items():
        if needed and "enum" in s and needed <= set(s["enum"]):
            return name
    return None


def check_params(op: str, params: dict, ops: dict, origin=None) -> dict:
    """The params given for ``op`` checked against its definition in ``ops``
    (``{op: GET /ops entry}``): every name known, every value of the param's
    type and within its choices and range, required ones present, engine-only
    ones only with that engine (the op's default engine when none is set).
    Returns the given params (a single value of a repeatable param as a list;
    None dropped: the op's default applies). Raises ValueError with one line
    naming where the param was set (``origin``: ``{param: file or variable}``
    or one such name), the param and what it accepts."""
    schema = ops[op]["params"]

    def where(name: str) -> str:
        o = origin.get(name) if isinstance(origin, dict) else origin
        return f"{o}: " if o else ""

    out = {}
    for name, value in params.items():
        if name not in schema:
            import difflib

            near = difflib.get_close_matches(name, list(schema), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"{where(name)}params.{name}: not a param of {op}{hint}; "
                             f"known: {', '.join(schema)}")
        if value is None:
            continue
        try:
            out[name] = _fits(value, schema[name])
        except ValueError:
            shown = json.dumps(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ValueError(f"{where(name)}params.{name} = {shown}: expected {describe(schema[name])}") from None
    for name in ops[op].get("required") or ():
        if out.get(name) in (None, "", []):
            raise ValueError(f"params.{name} is required for {op}: {schema[name].get('description', '')}")
    engine_key = _engine_param(schema)
    if engine_key:
        engine = out.get(engine_key, schema[engine_key].get("default"))
        for name, value in out.items():
            engines = schema[name].get("x-engines")
            if engines and engine is not None and engine not in engines and \
                    value not in (False, "", [], schema[name].get("default")):
                raise ValueError(f"{where(name)}params.{name} applies to {engine_key} {' or '.join(engines)} only "
                                 f"({engine_key} here: {engine}); set \"{engine_key}\": \"{engines[0]}\"")
    return out


def effective_params(op: str, params: dict, ops: dict) -> dict:
    """Every param of ``op`` with the value the job runs with: the given ones,
    the definition's defaults for the rest."""
    out = {name: s.get("default") for name, s in ops[op]["params"].items()}
    out.update(params)
    return out


def load_options(env=None, ops: dict | None = None, files: list[str] | None = None) -> dict:
    """Options from the settings files (``settings_files()``) and
    ``VEDIT_RESOLVE_*`` variables (``_OP``, ``_MODE`` and one per param of the
    op), checked against the op definitions: ``ops`` is the server's
    ``GET /ops`` where at hand, else the copy shipped beside this script. An
    unknown setting or param, a value of the wrong type or outside the
    param's choices or range stops here with one line naming the file (or
    variable), the param and what it accepts: before anything is submitted."""
    env = os.environ if env is None else env
    shipped = load_schema()
    defs = ops or shipped
    opts: dict = {k: v[0] for k, v in SETTINGS.items() if v[0] != ""}
    opts["params"] = {}
    origin: dict = {}
    for path in settings_files() if files is None else files:
        if not os.path.isfile(path):
            continue
        data = read_settings_file(path)
        where = f"{path} [resolve]" if path.endswith(".toml") else path
        unknown = [k for k in data if k not in SETTINGS]
        if unknown:
            raise ValueError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}")
        given = data.get("params") or {}
        if not isinstance(given, dict):
            raise ValueError(f"{where}: \"params\" must be an object {{\"name\": value, ...}}")
        for key in ("op", "mode", "url", "token", "ca_file", "output_dir"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"{where}: \"{key}\" = {json.dumps(data[key])}: expected text")
        origin.update(dict.fromkeys(given, where))
        params = dict(opts["params"], **given)
        opts.update(data)
        opts["params"] = params
    for key, name in (("op", "VEDIT_RESOLVE_OP"), ("mode", "VEDIT_RESOLVE_MODE")):
        if env.get(name):
            opts[key] = env[name]
    allowed = list(OPS) + [o for o in (ops or {}) if o not in OPS and o not in shipped]  # + a server's own ops
    if opts["op"] not in allowed or opts["op"] not in defs:
        raise ValueError(f"op {opts['op']!r}: choose one of {', '.join(o for o in allowed if o in defs)}")
    for key, schema in defs[opts["op"]]["params"].items():
        var = f"VEDIT_RESOLVE_{key.upper()}"
        text = env.get(var)
        if text:
            opts["params"][key] = _env_value(text, schema)
            origin[key] = var
    if opts["mode"] not in ("track", "take"):
        raise ValueError(f"mode {opts['mode']!r}: use 'track' (the \"vedit\" track) or 'take'")
    opts["params"] = check_params(opts["op"], opts["params"], defs, origin)
    return opts


def example_settings(ops: dict) -> str:
    """A commented settings file listing every setting and every param of the
    ops this script runs, with its default, what it accepts and its help
    (``vedit_resolve.example.jsonc``, written by ``plugins/make_ops_schema.py``)."""
    import textwrap

    def comment(text: str, indent: str) -> list[str]:
        return textwrap.wrap(text, 112 - len(indent), initial_indent=indent + "// ",
                             subsequent_indent=indent + "//   ")

    lines = [
        "// Settings for vedit_resolve (DaVinci Resolve: Workspace > Scripts > vedit_resolve).",
        "// Save a copy as vedit_resolve.json beside the script (or as resolve.json in vedit's config folder,",
        "// ~/.config/vedit/) and remove the // in front of each line you set; the values shown are the defaults.",
        "// The same keys may sit in a [resolve] table (params in [resolve.params]) of ~/.config/vedit/config.toml.",
        "// \"params\" are the params of \"op\": the script refuses an unknown name, a value of the wrong type or",
        "// one outside the allowed values before it submits anything.",
        "// Generated by plugins/make_ops_schema.py from vedit's op definitions; do not edit this copy.",
        "{",
    ]
    for key, (default, help_) in SETTINGS.items():
        if key == "params":
            continue
        lines += comment(help_, "  ")
        lines.append(f"  {'' if key in ('op', 'mode') else '// '}{json.dumps(key)}: {json.dumps(default)},")
    lines += comment(SETTINGS["params"][1], "  ")
    lines.append('  "params": {')
    for op in OPS:
        lines.append("")
        lines += comment(f"---- {op}: {ops[op]['help']}", "    ")
        for name, s in ops[op]["params"].items():
            if s.get("x-kind") == "path_out":
                continue  # the script names the outputs
            notes = [describe(s)]
            if s.get("x-required"):
                notes.insert(0, "required")
            if s.get("x-engines"):
                notes.append(f"with engine {' or '.join(s['x-engines'])} only")
            if s.get("default") is None and not s.get("x-required"):
                notes.append("default: the op decides")
            lines += comment(f"{name} ({'; '.join(notes)}): {s.get('description', '')}", "    ")
            lines.append(f"    // {json.dumps(name)}: {json.dumps(s.get('default'))},")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


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
        else:  # given by a caller: checked like a settings file
            defs = load_schema()
            if options.get("op", "matte") in defs:
                options = dict(options, params=check_params(options.get("op", "matte"),
                                                            dict(options.get("params") or {}), defs))
        server = server or make_client(options)
    except RuntimeError as exc:
        raise _tls_hint(exc) from None
    project, timeline, item, mpi = current_item(resolve, options.get("output_dir"))
    src = source_range(timeline, item, mpi)
    op = options.get("op", "matte")
    params = dict(options.get("params") or {})
    if op == "matte" and not any(params.get(k) for k in ("mask", "box", "points", "chroma", "source")):
        params.setdefault("person", True)  # nothing says what to matte: the people in the shot
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
    defs = load_schema()
    if op in defs:
        result["params"] = effective_params(op, params, defs)  # what the job ran with (given + defaults)
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
