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
    """With the server's GET /ops, every param of the op can be set from the
    environment, typed as the op defines it."""
    from vedit.jobs import op_schema

    mod = load_script(helpers)
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path))
    env = {"VEDIT_RESOLVE_OP": "remove", "VEDIT_RESOLVE_MASK": "/shots/m.png", "VEDIT_RESOLVE_DILATE": "5",
           "VEDIT_RESOLVE_VAE_TILING": "true", "VEDIT_RESOLVE_GUIDANCE": "6.5"}
    opts = mod.load_options(env, ops=op_schema())
    assert opts["params"] == {"mask": "/shots/m.png", "dilate": 5, "vae_tiling": True, "guidance": 6.5}
    with pytest.raises(ValueError, match="VEDIT_RESOLVE_DILATE='lots': expected integer"):
        mod.load_options({**env, "VEDIT_RESOLVE_DILATE": "lots"}, ops=op_schema())
    # without the server's list: the common params only
    assert mod.load_options(env)["params"] == {"mask": "/shots/m.png"}


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
    files = mod.settings_files()
    assert files == [str(tmp_path / "home" / "resolve.json"),
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
