"""DaVinci Resolve script against a stand-in implementing exactly the
documented API calls it uses (strict: any other call fails the test)."""
from __future__ import annotations

import importlib.util
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
    def __init__(self, log, mpi, left, dur, start):
        super().__init__(log, "TimelineItem")
        self.mpi, self.left, self.dur, self.start, self.takes = mpi, left, dur, start, []

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

    def GetCurrentVideoItem(self):
        self._rec("GetCurrentVideoItem")
        return self.item

    def GetSetting(self, key):
        self._rec("GetSetting", key)
        return {"timelineFrameRate": self.fps}[key]

    def AddTrack(self, kind):
        self._rec("AddTrack", kind)
        self.tracks += 1
        return True

    def GetTrackCount(self, kind):
        self._rec("GetTrackCount", kind)
        return self.tracks


class MediaPool(Strict):
    def __init__(self, log):
        super().__init__(log, "MediaPool")
        self.log = log

    def ImportMedia(self, paths):
        self._rec("ImportMedia", list(paths))
        return [MediaPoolItem(self.log, os.path.basename(p), {"File Path": p}) for p in paths]

    def AppendToTimeline(self, infos):
        self._rec("AppendToTimeline", infos)
        return [object() for _ in infos]


class Project(Strict):
    def __init__(self, log, timeline):
        super().__init__(log, "Project")
        self.timeline, self.pool = timeline, MediaPool(log)

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
              "GetMediaPoolItem", "GetClipProperty", "GetLeftOffset", "GetDuration", "GetStart", "GetSetting",
              "GetMediaPool", "ImportMedia", "GetTrackCount", "AddTrack", "AppendToTimeline", "AddTake",
              "SelectTakeByIndex", "GetTakesCount"}


def build(tmp_path, helpers, clip_fps="24", tl_fps="24", left=4, dur=10):
    log = []
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    mpi = MediaPoolItem(log, "shot.mp4", {"File Path": str(clip), "FPS": clip_fps})
    item = TimelineItem(log, mpi, left=left, dur=dur, start=86400 + 50)
    tl = Timeline(log, item, fps=tl_fps)
    proj = Project(log, tl)
    return log, Resolve(log, proj), clip


class FakeServer:
    """Stands in for the job server in the unit test: runs a real decode/encode
    of the requested range so the placed file is genuine."""

    def __init__(self):
        self.specs = []
        self.polls = 0

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
    log, resolve, clip = build(tmp_path, helpers)
    srv = FakeServer()
    res = mod.run(resolve, {"op": "remove", "mode": "track", "params": {"mask": "/m.png"}}, server=srv,
                  poll_interval=0.01, log=lambda *_: None)
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
    log, resolve, clip = build(tmp_path, helpers, clip_fps="24.000", tl_fps="12", left=3, dur=6)
    srv = FakeServer()
    mod.run(resolve, {"op": "matte", "mode": "take"}, server=srv, poll_interval=0.01, log=lambda *_: None)
    assert srv.specs[0]["range"] == {"start": 6, "end": 18}
    assert srv.specs[0]["params"] == {"person": True}
    assert not any(c[1] in ("AddTrack", "AppendToTimeline") for c in log)
    take = [c for c in log if c[1] == "AddTake"][0]
    assert take[2][1:] == (0, 11)
    assert ("TimelineItem", "SelectTakeByIndex", (2,)) in log


def test_clear_errors(tmp_path, helpers, monkeypatch):
    mod = load_script(helpers)
    log, resolve, _ = build(tmp_path, helpers)
    resolve.project.timeline.item = None
    with pytest.raises(RuntimeError, match="playhead"):
        mod.run(resolve, {"op": "matte"}, server=FakeServer(), log=lambda *_: None)
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
                  server=mod.VeditServer(url, token), poll_interval=0.2, timeout=240, log=lambda *_: None)
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
