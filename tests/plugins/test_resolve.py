"""DaVinci Resolve script against a stand-in implementing exactly the
documented API calls it uses (strict: any other call fails the test)."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest


def load_script(helpers):
    spec = importlib.util.spec_from_file_location("vedit_resolve", helpers.root / "plugins/resolve/vedit_resolve.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Strict:
    """Records calls; an undocumented method name raises AttributeError."""

    def __init__(self, log, name):
        self._log, self._name = log, name

    def _rec(self, method, *args):
        self._log.append((self._name, method, args))


class MediaPoolItem(Strict):
    def __init__(self, log, name, props):
        super().__init__(log, f"MediaPoolItem:{name}")
        self.props, self.name = props, name

    def GetClipProperty(self, key=None):
        self._rec("GetClipProperty", key)
        return self.props if key is None else self.props.get(key, "")

    def GetName(self):
        return self.name


class TimelineItem(Strict):
    def __init__(self, log, mpi, left, dur, start, src_in=None, src_span=None, name="TimelineItem"):
        super().__init__(log, name)
        self.mpi, self.left, self.dur, self.start, self.takes = mpi, left, dur, start, []
        # source in-point (media frames from the clip's "Start") and span; the head
        # handle GetLeftOffset reports is deliberately different
        self.src_in = left if src_in is None else src_in
        self.src_span = dur if src_span is None else src_span

    def GetSourceStartFrame(self):
        self._rec("GetSourceStartFrame")
        return self.src_in

    def GetSourceEndFrame(self):
        self._rec("GetSourceEndFrame")
        return self.src_in + self.src_span

    def GetEnd(self):
        self._rec("GetEnd")
        return self.start + self.dur

    def GetMediaPoolItem(self):
        self._rec("GetMediaPoolItem")
        return self.mpi

    def GetName(self):
        return "shot"

    def GetLeftOffset(self):
        self._rec("GetLeftOffset")
        return self.left

    def GetDuration(self):
        self._rec("GetDuration")
        return self.dur

    def GetStart(self):
        self._rec("GetStart")
        return self.start

    def AddTake(self, mpi, start, end):
        self._rec("AddTake", mpi, start, end)
        self.takes.append((mpi, start, end))
        return True

    def GetTakesCount(self):
        self._rec("GetTakesCount")
        return len(self.takes) + 1

    def SelectTakeByIndex(self, i):
        self._rec("SelectTakeByIndex", i)
        return True


class Timeline(Strict):
    def __init__(self, log, item, fps="24"):
        super().__init__(log, "Timeline")
        self.item, self.fps, self.tracks = item, fps, 1
        self.names = {1: "Video 1"}
        self.items = {1: [item]}  # track -> items

    def GetCurrentVideoItem(self):
        # the clip under the playhead on the highest track
        self._rec("GetCurrentVideoItem")
        for t in sorted(self.items, reverse=True):
            if self.items[t]:
                return self.items[t][-1]
        return None

    def GetItemListInTrack(self, kind, index):
        self._rec("GetItemListInTrack", kind, index)
        return list(self.items.get(index, []))

    def GetTrackName(self, kind, index):
        self._rec("GetTrackName", kind, index)
        return self.names.get(index, f"Video {index}")

    def SetTrackName(self, kind, index, name):
        self._rec("SetTrackName", kind, index, name)
        self.names[index] = name
        return True

    def GetSetting(self, key):
        self._rec("GetSetting", key)
        return {"timelineFrameRate": self.fps}[key]

    def AddTrack(self, kind):
        self._rec("AddTrack", kind)
        self.tracks += 1
        self.items[self.tracks] = []
        return True

    def GetTrackCount(self, kind):
        self._rec("GetTrackCount", kind)
        return self.tracks


class MediaPool(Strict):
    def __init__(self, log, timeline):
        super().__init__(log, "MediaPool")
        self.log, self.timeline = log, timeline

    def ImportMedia(self, paths):
        self._rec("ImportMedia", list(paths))
        return [MediaPoolItem(self.log, os.path.basename(p), {"File Path": p}) for p in paths]

    def AppendToTimeline(self, infos):
        self._rec("AppendToTimeline", infos)
        out = []
        for d in infos:  # the placed clip now covers the source on its track
            n = d["endFrame"] - d["startFrame"] + 1
            it = TimelineItem(self.log, d["mediaPoolItem"], 0, n, d["recordFrame"], name="ResultItem")
            self.timeline.items.setdefault(d["trackIndex"], []).append(it)
            out.append(it)
        return out


class Project(Strict):
    def __init__(self, log, timeline):
        super().__init__(log, "Project")
        self.timeline, self.pool = timeline, MediaPool(log, timeline)

    def GetCurrentTimeline(self):
        self._rec("GetCurrentTimeline")
        return self.timeline

    def GetMediaPool(self):
        self._rec("GetMediaPool")
        return self.pool


class Resolve(Strict):
    def __init__(self, log, project):
        super().__init__(log, "Resolve")
        self.project = project

    def GetProjectManager(self):
        self._rec("GetProjectManager")
        pm = Strict(self._log, "ProjectManager")
        pm.GetCurrentProject = lambda: (self._log.append(("ProjectManager", "GetCurrentProject", ())), self.project)[1]
        return pm


DOCUMENTED = {"GetProjectManager", "GetCurrentProject", "GetCurrentTimeline", "GetCurrentVideoItem",
              "GetMediaPoolItem", "GetClipProperty", "GetSourceStartFrame", "GetSourceEndFrame", "GetDuration",
              "GetStart", "GetEnd", "GetSetting", "GetMediaPool", "ImportMedia", "GetTrackCount", "GetTrackName",
              "SetTrackName", "GetItemListInTrack", "AddTrack", "AppendToTimeline", "AddTake", "SelectTakeByIndex",
              "GetTakesCount"}


def build(tmp_path, helpers, clip_fps="24", tl_fps="24", left=4, dur=10, src_in=None, src_span=None, first=0):
    log = []
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    mpi = MediaPoolItem(log, "shot.mp4", {"File Path": str(clip), "FPS": clip_fps, "Start": str(first)})
    item = TimelineItem(log, mpi, left=left, dur=dur, start=86400 + 50, src_in=src_in, src_span=src_span)
    tl = Timeline(log, item, fps=tl_fps)
    proj = Project(log, tl)
    return log, Resolve(log, proj), clip


class FakeServer:
    """Stands in for the job server in the unit test: runs a real decode/encode
    of the requested range so the placed file is genuine."""

    def __init__(self):
        self.specs = []
        self.polls = 0
        self.cancelled = []

    def cancel(self, job_id):
        self.cancelled.append(job_id)
        return {"id": job_id, "status": "cancelled"}

    def submit(self, spec):
        self.specs.append(spec)
        from vedit.io import open_clip, open_writer

        c = open_clip(spec["input"], start=spec["range"]["start"], end=spec["range"]["end"])
        with open_writer(spec["output"], c.fps, c.size) as w:
            for f in c.frames():
                w.write(f)
        return "job1"

    def get(self, job_id):
        self.polls += 1
        if self.polls < 3:
            return {"id": job_id, "status": "running", "progress": 0.5 * self.polls, "stage": "work"}
        return {"id": job_id, "status": "done", "progress": 1.0, "output": self.specs[-1]["output"]}


def test_new_track_calls_and_arguments(tmp_path, helpers):
    mod = load_script(helpers)
    # the head handle (GetLeftOffset) is 99 frames: the in-point comes from GetSourceStartFrame
    log, resolve, clip = build(tmp_path, helpers, left=99, src_in=86404, first=86400)
    srv = FakeServer()
    res = mod.run(resolve, {"op": "remove", "mode": "track", "params": {"mask": "/m.png"}}, server=srv,
                  poll_interval=0.01, log=lambda *_: None, state_dir=str(tmp_path))
    assert {c[1] for c in log} <= DOCUMENTED
    spec = srv.specs[0]
    assert spec["input"] == str(clip) and spec["op"] == "remove" and spec["params"] == {"mask": "/m.png"}
    assert spec["range"] == {"start": 4, "end": 14}
    calls = [(c[0], c[1]) for c in log]
    assert ("MediaPoolItem:shot.mp4", "GetClipProperty") in calls
    assert ("MediaPoolItem:shot.mp4", "GetClipProperty", ("File Path",)) in log
    imp = [c for c in log if c[1] == "ImportMedia"][0]
    assert imp[2][0] == [spec["output"]]
    assert calls.index(("Timeline", "AddTrack")) < calls.index(("MediaPool", "AppendToTimeline"))
    assert ("Timeline", "AddTrack", ("video",)) in log
    info = [c for c in log if c[1] == "AppendToTimeline"][0][2][0]
    assert len(info) == 1
    d = info[0]
    assert d["trackIndex"] == 2 and d["recordFrame"] == 86450 and d["startFrame"] == 0 and d["endFrame"] == 9
    assert d["mediaPoolItem"].props["File Path"] == spec["output"]
    from vedit.io import open_clip

    frames = open_clip(spec["output"]).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(4, 14))
    assert res["track"] == 2


def test_take_mode_and_fps_conversion(tmp_path, helpers):
    mod = load_script(helpers)
    # 24 fps media on a 12 fps timeline: 1 timeline frame = 2 media frames
    log, resolve, clip = build(tmp_path, helpers, clip_fps="24.000", tl_fps="12", left=3, dur=6, src_in=6, src_span=12)
    srv = FakeServer()
    mod.run(resolve, {"op": "matte", "mode": "take"}, server=srv, poll_interval=0.01, log=lambda *_: None,
            state_dir=str(tmp_path))
    assert srv.specs[0]["range"] == {"start": 6, "end": 18}
    assert srv.specs[0]["params"] == {"person": True}
    assert not any(c[1] in ("AddTrack", "AppendToTimeline") for c in log)
    take = [c for c in log if c[1] == "AddTake"][0]
    assert take[2][1:] == (0, 11)
    assert ("TimelineItem", "SelectTakeByIndex", (2,)) in log


def test_clear_errors(tmp_path, helpers, monkeypatch):
    mod = load_script(helpers)
    log, resolve, _ = build(tmp_path, helpers)
    resolve.project.timeline.items = {1: []}
    with pytest.raises(RuntimeError, match="playhead"):
        mod.run(resolve, {"op": "matte"}, server=FakeServer(), log=lambda *_: None, state_dir=str(tmp_path))
    monkeypatch.setenv("VEDIT_RESOLVE_OP", "explode")
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="explode"):
        mod.load_options()


def test_against_live_server(tmp_path, helpers, live_server):
    url, token, _ = live_server
    mod = load_script(helpers)
    log, resolve, clip = build(tmp_path, helpers)
    res = mod.run(resolve, {"op": "replace-bg", "mode": "track",
                            "params": {"matte": str(_mask(tmp_path)), "background": "#00ff00"}},
                  server=mod.VeditServer(url, token), poll_interval=0.2, timeout=240, log=lambda *_: None,
                  state_dir=str(tmp_path))
    assert res["job"]["status"] == "done"
    from vedit.io import open_clip

    out = [c for c in log if c[1] == "ImportMedia"][0][2][0][0]
    frames = open_clip(out).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(4, 14))


def _mask(tmp_path):
    import cv2
    import numpy as np

    m = np.zeros((48, 64), np.uint8)
    m[:24] = 255  # keep the top half (the frame-number band)
    cv2.imwrite(str(tmp_path / "mask.png"), m)
    return tmp_path / "mask.png"


def test_options_follow_the_op_definitions(tmp_path, helpers, monkeypatch):
    """Every param of the op can be set from the environment, typed as the op
    defines it: from the server's GET /ops, or from the copy shipped beside the
    script when the server's list is not at hand."""
    from vedit.jobs import op_schema

    mod = load_script(helpers)
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path))
    env = {"VEDIT_RESOLVE_OP": "remove", "VEDIT_RESOLVE_MASK": "/shots/m.png", "VEDIT_RESOLVE_DILATE": "5",
           "VEDIT_RESOLVE_ENGINE": "diffusion", "VEDIT_RESOLVE_VAE_TILING": "true", "VEDIT_RESOLVE_GUIDANCE": "6.5"}
    want = {"mask": "/shots/m.png", "dilate": 5, "engine": "diffusion", "vae_tiling": True, "guidance": 6.5}
    assert mod.load_options(env, ops=op_schema())["params"] == want
    assert mod.load_options(env)["params"] == want
    with pytest.raises(ValueError, match=r'^VEDIT_RESOLVE_DILATE: params.dilate = "lots": expected a whole number '
                                         r"from 0 to 1024$"):
        mod.load_options({**env, "VEDIT_RESOLVE_DILATE": "lots"}, ops=op_schema())
    # guidance is a diffusion-engine param: refused with the op's default engine, as the server would
    del env["VEDIT_RESOLVE_ENGINE"]
    with pytest.raises(ValueError, match=r'params.guidance applies to engine diffusion only \(engine here: '
                                         r'propagate\); set "engine": "diffusion"'):
        mod.load_options(env)


def _settings(tmp_path, data) -> list[str]:
    path = tmp_path / "vedit_resolve.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return [str(path)]


# (op, params, the script's message or None) -- the server's own check must agree on each
SETTINGS_CASES = [
    ("remove", {"mask": "MASK", "dilat": 4},
     r"params.dilat: not a param of remove \(did you mean 'dilate'\?\); known: mask, engine, dilate, "),
    ("remove", {"mask": "MASK", "dilate": "four"}, r'params.dilate = "four": expected a whole number from 0 to '
                                                   r"1024$"),
    ("remove", {"mask": "MASK", "dilate": 2000}, r"params.dilate = 2000: expected a whole number from 0 to 1024$"),
    ("remove", {"mask": "MASK", "dilate": 2.5}, r"params.dilate = 2.5: expected a whole number from 0 to 1024$"),
    ("remove", {"mask": "MASK", "engine": "fast"}, r'params.engine = "fast": expected one of "diffusion", '
                                                   r'"propagate"$'),
    ("remove", {"mask": "MASK", "steps": 30}, r"params.steps applies to engine diffusion only"),
    ("remove", {"dilate": 3}, r"params.mask is required for remove: Mask image"),
    ("replace-bg", {"refine": "maybe"}, r'params.refine = "maybe": expected true or false$'),
    ("replace-bg", {"light_wrap": 1.5}, r"params.light_wrap = 1.5: expected a number from 0 to 1$"),
    ("replace-bg", {"fit": "crop"}, r'params.fit = "crop": expected one of "cover", "contain", "stretch"$'),
    ("matte", {"bit_depth": 12}, r"params.bit_depth = 12: expected one of 8, 16$"),
    ("matte", {"box": [1, 2, 3]}, r'params.box = \[1, 2, 3\]: expected a list of 4 numbers or "x,y,..." text$'),
    ("matte", {"frame": [-1]}, r"params.frame = \[-1\]: expected a whole number from 0 to 10000000, or a list"),
    ("remove", {"mask": "MASK", "engine": "diffusion", "steps": "30", "dilate": 0, "fill_gaps": "hold"}, None),
    ("replace-bg", {"background": "#00ff00", "refine": False, "light_wrap": 0.5, "box": "1,2,30,40"}, None),
    ("matte", {"mask": "MASK", "frame": 3, "box": [1, 2, 30, 40], "bit_depth": 16, "feather": 2}, None),
]


@pytest.mark.parametrize("op,params,message", SETTINGS_CASES)
def test_settings_params_are_checked_against_the_op_definitions(tmp_path, helpers, op, params, message):
    """A settings file's params are checked before anything is submitted, with
    one line naming the file, the param and what it accepts -- and the script
    refuses exactly what vedit's own definition (the server's check) refuses."""
    from vedit.ops import get_def
    from vedit.ops.params import ParamError

    mod = load_script(helpers)
    mask = _mask(tmp_path)
    params = {k: (str(mask) if v == "MASK" else v) for k, v in params.items()}
    files = _settings(tmp_path, {"op": op, "params": params})
    if message is None:
        opts = mod.load_options({}, files=files)
        assert opts["op"] == op
        assert get_def(op).resolve(opts["params"], job=True)  # what the script sends, the server takes
        resolved = get_def(op).resolve(params, job=True)
        for k in params:  # numbers and switches typed as the definition types them
            if isinstance(resolved[k], (bool, int, float)):
                assert (opts["params"][k], type(opts["params"][k])) == (resolved[k], type(resolved[k])), k
        return
    with pytest.raises(ValueError, match=f"^{tmp_path / 'vedit_resolve.json'}: " * ("required" not in message)
                       + message) as exc:
        mod.load_options({}, files=files)
    assert "\n" not in str(exc.value)
    with pytest.raises(ParamError):
        get_def(op).resolve(params, job=True)


def test_a_bad_param_submits_nothing(tmp_path, helpers):
    mod = load_script(helpers)
    log, resolve, _ = build(tmp_path, helpers)
    srv = FakeServer()
    with pytest.raises(ValueError, match=r"^params.dilate = -1: expected a whole number from 0 to 1024$"):
        mod.run(resolve, {"op": "remove", "params": {"mask": "/m.png", "dilate": -1}}, server=srv,
                log=lambda *_: None, state_dir=str(tmp_path))
    assert srv.specs == [] and log == []


def test_settings_keys_values_and_forms(tmp_path, helpers):
    """Unknown settings are named; a repeatable param takes one value or a
    list; the files may carry comments and a trailing comma."""
    mod = load_script(helpers)
    files = _settings(tmp_path, {"op": "matte", "parms": {}})
    with pytest.raises(ValueError, match=r"vedit_resolve.json: unknown setting 'parms'; known: op, mode, url"):
        mod.load_options({}, files=files)
    with pytest.raises(ValueError, match=r"op 'animate': choose one of remove, replace-bg, matte$"):
        mod.load_options({}, files=_settings(tmp_path, {"op": "animate"}))
    with pytest.raises(ValueError, match=r'"token" = 5: expected text'):
        mod.load_options({}, files=_settings(tmp_path, {"token": 5}))
    opts = mod.load_options({}, files=_settings(tmp_path, """// mine
        {"op": "matte", /* block
        comment */ "url": "https://127.0.0.1:8765//x",  // a URL keeps its //
         "params": {"add_mask": "/a.png", "points": [1, 2], "smooth": false,},
        }"""))
    assert opts["url"] == "https://127.0.0.1:8765//x"
    assert opts["params"] == {"add_mask": ["/a.png"], "points": [1, 2], "smooth": False}
    with pytest.raises(ValueError, match=r"vedit_resolve.json: not valid JSON \(.*line 3"):
        mod.load_options({}, files=_settings(tmp_path, '// one\n/* two */\n{"op": }'))


def test_example_settings_file_lists_every_param_with_its_default(tmp_path, helpers, monkeypatch):
    """vedit_resolve.example.jsonc is generated from the op definitions (kept
    current by make_ops_schema --check, with ops_schema.json): as shipped it is
    a valid settings file of defaults, and un-commenting any one param line of
    an op gives that param its default."""
    import re

    from vedit.ops import get_def

    mod = load_script(helpers)
    spec = importlib.util.spec_from_file_location("make_ops_schema", helpers.root / "plugins/make_ops_schema.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    rendered = maker.render()
    here = helpers.root / "plugins" / "resolve"
    assert {str(here / "ops_schema.json"), str(here / mod.EXAMPLE_NAME)} <= set(rendered)
    assert mod.load_schema() == maker.schema()["ops"]
    text = (here / mod.EXAMPLE_NAME).read_text()
    assert text == rendered[str(here / mod.EXAMPLE_NAME)]
    assert mod.parse_settings(text) == {"op": "matte", "mode": "track", "params": {}}
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path))
    sections = re.split(r"\n    // ---- ", text)[1:]
    assert len(sections) == len(mod.OPS)
    for op, section in zip(mod.OPS, sections):
        d = get_def(op)
        lines = re.findall(r'^    // ("(\w+)": .*),$', section, re.M)
        shown = {name for _, name in lines}
        assert shown == {p.name for p in d.params if p.type != "path_out"}, op
        for line, name in lines:
            assert json.loads("{" + line + "}")[name] == d[name].default
            edited = text.replace('"op": "matte"', json.dumps({"op": op})[1:-1]).replace(
                f"// ---- {op}:", "// ----").replace(f"    // {line},", f"    {line},", 1)
            env = {"VEDIT_RESOLVE_MASK": str(_mask(tmp_path))} if op == "remove" else {}
            want = {} if d[name].default is None else {name: d[name].default}
            if op == "remove" and name != "mask":
                want["mask"] = env["VEDIT_RESOLVE_MASK"]
            elif op == "remove":
                want = {"mask": env["VEDIT_RESOLVE_MASK"]}  # the variable wins over the file
            got = mod.load_options(env, files=_settings(tmp_path, edited))["params"]
            assert {k: v for k, v in got.items()} == want, (op, name)


def test_second_run_processes_the_source_not_the_result_and_reuses_the_track(tmp_path, helpers):
    """After a first run the topmost clip under the playhead is vedit's result:
    the script takes the source under it and places the new result on the same
    "vedit" track instead of adding another."""
    mod = load_script(helpers)
    log, resolve, clip = build(tmp_path, helpers)
    quiet = {"poll_interval": 0.01, "log": lambda *_: None, "state_dir": str(tmp_path)}
    first = mod.run(resolve, {"op": "remove", "params": {"mask": "/m.png"}}, server=FakeServer(), **quiet)
    srv = FakeServer()
    second = mod.run(resolve, {"op": "remove", "params": {"mask": "/m.png"}}, server=srv, **quiet)
    assert srv.specs[0]["input"] == str(clip) and srv.specs[0]["range"] == {"start": 4, "end": 14}
    assert first["track"] == second["track"] == 2
    assert [c for c in log if c[1] == "AddTrack"] == [("Timeline", "AddTrack", ("video",))]
    assert ("Timeline", "SetTrackName", ("video", 2, "vedit")) in log
    assert srv.specs[0]["output"] != first["spec"]["output"]  # a new file, the first result kept
    assert {c[1] for c in log} <= DOCUMENTED


def test_speed_changed_clip_is_refused(tmp_path, helpers):
    mod = load_script(helpers)
    # 20 source frames played over 10 timeline frames: 200 %
    log, resolve, _ = build(tmp_path, helpers, src_in=0, src_span=20, dur=10)
    srv = FakeServer()
    with pytest.raises(RuntimeError, match="20 source frames over 10 timeline frames.*100% speed"):
        mod.run(resolve, {"op": "matte"}, server=srv, log=lambda *_: None, state_dir=str(tmp_path))
    assert srv.specs == []


def test_settings_files_beside_the_script_and_in_the_config_folder(tmp_path, helpers, monkeypatch):
    mod = load_script(helpers)
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VEDIT_CONFIG", raising=False)
    files = mod.settings_files()
    assert files == [str(tmp_path / "home" / "config.toml"), str(tmp_path / "home" / "resolve.json"),
                     str(helpers.root / "plugins" / "resolve" / "vedit_resolve.json")]
    home_file, script_file = tmp_path / "home.json", tmp_path / "script.json"
    home_file.write_text('{"op": "remove", "params": {"mask": "/a.png", "dilate": 4}, "url": "http://127.0.0.1:9"}')
    script_file.write_text('{"params": {"mask": "/b.png"}, "token": "tok", "mode": "take"}')
    opts = mod.load_options({}, files=[str(home_file), str(script_file)])
    # the file beside the script wins; params merge
    assert opts["op"] == "remove" and opts["mode"] == "take" and opts["token"] == "tok"
    assert opts["params"] == {"mask": "/b.png", "dilate": 4} and opts["url"] == "http://127.0.0.1:9"
    script_file.write_text("{not json")
    with pytest.raises(ValueError, match="script.json: not valid JSON"):
        mod.load_options({}, files=[str(script_file)])


def test_settings_in_the_resolve_table_of_vedits_config_file(tmp_path, helpers, monkeypatch):
    """vedit's own config file (``$VEDIT_HOME/config.toml``, the one its model
    defaults live in) may hold the script's settings in a ``[resolve]`` table:
    read first, so resolve.json and the file beside the script win over it; a
    config file without the table changes nothing; a bad value is named with
    the file and the table; the cancel script finds the token there too."""
    mod = load_script(helpers)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("VEDIT_HOME", str(home))
    monkeypatch.delenv("VEDIT_CONFIG", raising=False)
    config = home / "config.toml"
    config.write_text('[diffusion]\nsteps = 20\n\n[resolve]\nop = "remove"\nurl = "http://127.0.0.1:9"\n'
                      'token = "from-config"\n\n[resolve.params]\nmask = "/a.png"\ndilate = 5\n')
    script_file = tmp_path / "script.json"
    script_file.write_text('{"params": {"dilate": 7}, "mode": "take"}')
    files = [str(config), str(home / "resolve.json"), str(script_file)]
    opts = mod.load_options({}, files=files)
    assert opts["op"] == "remove" and opts["url"] == "http://127.0.0.1:9" and opts["token"] == "from-config"
    assert opts["mode"] == "take" and opts["params"] == {"mask": "/a.png", "dilate": 7}
    (home / "resolve.json").write_text('{"op": "matte", "params": {}}')
    assert mod.load_options({}, files=[str(config), str(home / "resolve.json")])["op"] == "matte"

    config.write_text('[diffusion]\nsteps = 20\n')
    (home / "resolve.json").unlink()
    assert mod.load_options({}, files=[str(config)])["op"] == mod.SETTINGS["op"][0]
    config.write_text('[resolve]\nmode = "stack"\n')
    with pytest.raises(ValueError, match="mode 'stack'"):
        mod.load_options({}, files=[str(config)])
    config.write_text('[resolve]\nop = "remove"\n[resolve.params]\nmask = "/a.png"\ndilate = "wide"\n')
    with pytest.raises(ValueError, match=r"config.toml \[resolve\]: params.dilate"):
        mod.load_options({}, files=[str(config)])
    config.write_text('[resolve]\nport = 8765\n')
    with pytest.raises(ValueError, match=r"config.toml \[resolve\]: unknown setting 'port'"):
        mod.load_options({}, files=[str(config)])
    config.write_text('[resolve\n')
    with pytest.raises(ValueError, match="config.toml: not valid TOML"):
        mod.load_options({}, files=[str(config)])

    # the cancel script reads the token from the same table
    config.write_text('[resolve]\ntoken = "cancel-token"\n')
    spec = importlib.util.spec_from_file_location("vedit_resolve_cancel_t",
                                                  helpers.root / "plugins" / "resolve" / "vedit_resolve_cancel.py")
    cancel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cancel)
    assert cancel.settings_token() == "cancel-token"


def test_cancel_from_the_cancel_script(tmp_path, helpers):
    """vedit_resolve_cancel leaves a request the waiting script sees on its
    next poll: the job is cancelled on the server and nothing is placed."""
    mod = load_script(helpers)
    log, resolve, _ = build(tmp_path, helpers)

    class SlowServer(FakeServer):
        def get(self, job_id):
            self.polls += 1
            if self.cancelled:
                return {"id": job_id, "status": "cancelled", "progress": 0.2}
            if self.polls == 2:  # the editor runs the cancel script meanwhile
                mod.request_cancel(str(tmp_path))
            return {"id": job_id, "status": "running", "progress": 0.1 * self.polls}

    srv = SlowServer()
    with pytest.raises(RuntimeError, match="job1 cancelled"):
        mod.run(resolve, {"op": "matte"}, server=srv, poll_interval=0.01, log=lambda *_: None,
                state_dir=str(tmp_path))
    assert srv.cancelled == ["job1"]
    assert not any(c[1] in ("ImportMedia", "AppendToTimeline") for c in log)
    assert not (tmp_path / mod.CANCEL_NAME).exists() and not (tmp_path / mod.JOB_NAME).exists()


@pytest.mark.parametrize("server_tls", [True])
def test_ca_file_setting_for_a_self_signed_https_server(tmp_path, helpers, live_server, server_tls, monkeypatch):
    """``ca_file`` in the settings file makes the script trust the server's
    self-signed certificate; without it the run stops with one line naming
    the setting."""
    monkeypatch.delenv("VEDIT_CA_FILE", raising=False)
    url, token, home = live_server
    mod = load_script(helpers)
    settings = tmp_path / "vedit_resolve.json"
    settings.write_text(json.dumps({"op": "matte", "url": url, "token": token}))
    opts = mod.load_options({}, files=[str(settings)])
    log, resolve, _ = build(tmp_path, helpers)
    with pytest.raises(RuntimeError, match=r"^TLS to https://127\.0\.0\.1:\d+ failed .*set \"ca_file\" in vedit_resolve"):
        mod.run(resolve, opts, log=lambda *_: None, state_dir=str(tmp_path))
    with pytest.raises(ValueError, match="ca_file in vedit_resolve.json: CA file .* not found"):
        mod.make_client(dict(opts, ca_file=str(tmp_path / "nope.pem")))

    settings.write_text(json.dumps({"op": "matte", "url": url, "token": token,
                                    "ca_file": str(home / "tls" / "cert.pem")}))
    opts = mod.load_options({}, files=[str(settings)])
    client = mod.make_client(opts)
    assert client.health()["ok"] is True
    assert "remove" in client.ops()  # an authenticated request over the verified TLS connection


@pytest.mark.parametrize("server_tls", [True])
def test_cancel_script_reaches_an_https_server_with_the_ca_file(tmp_path, helpers, live_server, server_tls):
    """The cancel script, installed beside vedit_resolve, cancels the job the
    waiting script wrote down, over HTTPS to a self-signed server: it trusts
    the ``ca_file`` the waiting script was set up with (kept in
    vedit_resolve.job); without it, it says it could not reach the server and
    leaves the request the waiting script acts on."""
    import shutil
    import subprocess
    import sys
    import threading
    import time

    url, token, home = live_server
    cert = home / "tls" / "cert.pem"
    mod = load_script(helpers)
    env = {k: v for k, v in os.environ.items() if k not in ("VEDIT_CA_FILE", "VEDIT_URL")}
    env["VEDIT_HOME"] = str(home)  # the token from vedit's config folder, as by default
    client = mod.make_client({"url": url, "token": token, "ca_file": str(cert)})
    # a long job keeps the server's one worker busy, so the jobs below wait in the queue
    long_clip = helpers.write_numbered_clip(tmp_path / "long.mp4", n=240, h=240, w=320)
    import cv2
    import numpy as np

    big_mask = np.zeros((240, 320), np.uint8)
    big_mask[100:180, 120:220] = 255
    cv2.imwrite(str(tmp_path / "big_mask.png"), big_mask)
    busy = client.submit(op="remove", input=str(long_clip), output=str(tmp_path / "busy.mp4"),
                         params={"mask": str(tmp_path / "big_mask.png")})

    def cancel_script(folder, env=env):
        shutil.copy(helpers.root / "plugins/resolve/vedit_resolve_cancel.py", folder)
        return subprocess.run([sys.executable, str(folder / "vedit_resolve_cancel.py")], env=env,
                              capture_output=True, text=True, timeout=60)

    # a job file without the certificate: TLS fails, the request file stays for the waiting script
    bare = tmp_path / "bare"
    bare.mkdir()
    queued = client.submit(op="matte", input=str(long_clip), output=str(tmp_path / "q.mov"),
                           params={"person": True})
    (bare / mod.JOB_NAME).write_text(json.dumps({"id": queued, "url": url}))
    out = cancel_script(bare)
    assert out.returncode == 0, out.stderr
    assert "could not reach the server (TLS to https://127.0.0.1" in out.stdout
    assert (bare / mod.CANCEL_NAME).exists()
    assert client.get(queued)["status"] in ("queued", "running")  # not cancelled
    client.cancel(queued)

    # the real round trip: the script waits on a job over HTTPS with ca_file, the cancel script cancels it;
    # both installed in one folder with the settings file (url, token, ca_file) and no token in vedit's folder
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(helpers.root / "plugins/resolve/vedit_resolve.py", scripts)
    settings = _settings(scripts, {"op": "remove", "url": url, "token": token, "ca_file": str(cert),
                                   "params": {"mask": str(_mask(tmp_path))}})
    opts = mod.load_options({}, files=settings)
    (tmp_path / "empty_home").mkdir()
    env_no_token = dict(env, VEDIT_HOME=str(tmp_path / "empty_home"))
    log, resolve, _ = build(tmp_path, helpers)
    waiting: dict = {}

    def wait():
        try:
            mod.run(resolve, opts, server=mod.make_client(opts), poll_interval=5.0, timeout=120,
                    log=lambda *_: None, state_dir=str(scripts))
        except RuntimeError as exc:
            waiting["error"] = str(exc)

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.monotonic() + 30
    while not (scripts / mod.JOB_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    job = json.loads((scripts / mod.JOB_NAME).read_text())
    assert job["cafile"] == str(cert) and job["url"] == url
    out = cancel_script(scripts, env_no_token)  # within the waiting script's 5 s between polls
    assert out.returncode == 0 and out.stdout.strip() == f"vedit: cancelled job {job['id']}", out.stdout
    t.join(60)
    assert not t.is_alive()
    assert client.get(job["id"])["status"] == "cancelled"
    assert waiting["error"].startswith(f"vedit job {job['id']} cancelled")
    assert not any(c[1] in ("ImportMedia", "AppendToTimeline") for c in log)
    assert not (scripts / mod.JOB_NAME).exists()
    assert client.get(busy)["status"] in ("running", "done")
    client.cancel(busy)
