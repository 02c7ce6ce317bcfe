"""Blender VSE extension with the real bpy wheel, headless, against a live
``vedit serve``: install + enable, process the active strip, find the result
one channel up with the right length and decodable frames of the right range."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

pytest.importorskip("bpy", reason="the bpy wheel (Blender as a module) is not installed")


def run_blender(cfg, tmp_path, home):
    # an isolated Blender user folder (extensions repo) and the server's VEDIT_HOME,
    # from which the extension reads the token like a user's install would
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"), VEDIT_HOME=str(home))
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "blender_driver.py"),
                        json.dumps(cfg)], capture_output=True, text=True, timeout=300, env=env)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"driver failed rc={p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return json.loads(lines[-1][7:])


def test_build_zip_layout(tmp_path, helpers):
    import zipfile

    out = subprocess.run([sys.executable, str(helpers.root / "plugins/blender/build_extension.py"), "-o",
                          str(tmp_path)], capture_output=True, text=True, check=True).stdout.strip()
    names = zipfile.ZipFile(out).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert not any("__pycache__" in n for n in names)


def build_zip(tmp_path, helpers) -> str:
    return subprocess.run([sys.executable, str(helpers.root / "plugins/blender/build_extension.py"), "-o",
                           str(tmp_path / "dist")], capture_output=True, text=True, check=True).stdout.strip()


def test_process_strip_against_live_server(tmp_path, live_server, helpers):
    url, token, home = live_server
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    # replace-bg with a file matte keeping the top half (the frame-number band)
    matte = np.zeros((48, 64), np.uint8)
    matte[:24] = 255
    cv2.imwrite(str(tmp_path / "matte.png"), matte)
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "trim_start": 3,
                       "trim_end": 2, "url": url, "out_dir": str(tmp_path / "renders"), "op": "replace-bg",
                       "mask": str(tmp_path / "matte.png"), "background": "#00ff00"}, tmp_path, home)
    assert rep["install"] == ["FINISHED"] and rep["enabled"] and rep["has_operator"]
    assert rep["operator"] == ["FINISHED"]
    # the timer the UI registered was called by the (stand-in) event loop until it returned None
    assert rep["timer_registered"] and rep["timer_finished"] and rep["timer_calls"] >= 1
    assert rep["spec"]["range"] == {"start": 3, "end": 18}
    assert rep["spec"]["op"] == "replace-bg"
    assert rep["spec"]["params"] == {"matte": str(tmp_path / "matte.png"), "background": "#00ff00"}
    assert rep["job"]["status"] == "done", rep["job"]
    src = rep["source"]
    new = [s for s in rep["strips"] if s["name"] != "shot"]
    assert len(new) == 1
    s = new[0]
    assert s["type"] == "MOVIE"
    assert s["channel"] == src["channel"] + 1
    assert s["start"] == src["start"] and s["duration"] == src["duration"] == 15
    from vedit.io import open_clip

    frames = open_clip(s["filepath"]).read_all()
    assert len(frames) == 15
    assert [helpers.frame_number(f) for f in frames] == list(range(3, 18))
    # the background (bottom rows) became the green plate
    bottom = np.stack(frames)[:, 34:, :].reshape(-1, 3).mean(0)
    assert bottom[1] > 200 and bottom[0] < 60 and bottom[2] < 60


# -- a white square moving right over numbered frames, and its masks -----------------

def square_x(i: int) -> int:
    return 4 + i


def write_square_clip(path, n, fps, helpers, band=True):
    """Numbered frames (the top band encodes the frame number) with a white
    8x8 square at x = 4 + i on a flat grey band: a removal must take it out,
    and any part of it a mask misses stays bright (``band=False``: on the
    texture, which a tracker can follow)."""
    from vedit.io import open_writer

    with open_writer(str(path), fps, (64, 48)) as wr:
        for i in range(n):
            f = helpers.numbered_frame(i)
            if band:
                f[26:42] = 128
            f[30:38, square_x(i): square_x(i) + 8] = 255
            wr.write(f)
    return path


# the masks as drawn (not grown): a mask of a frame 3 or more frames off leaves part of the square
NO_GROWTH = '{"dilate": 0, "feather": 0}'


def square_mask(i: int) -> np.ndarray:
    m = np.zeros((48, 64), np.uint8)
    m[28:40, square_x(i) - 2: square_x(i) + 10] = 255
    return m


def assert_square_removed(path, first: int, count: int, helpers, band=True):
    """Every result frame comes from source frame first+k and has the square
    removed, all of it (the flat band it sat on is grey, any part left is
    bright); ``band=False``: on the texture, the square's middle is no longer white."""
    from vedit.io import open_clip

    frames = open_clip(str(path)).read_all()
    assert len(frames) == count
    # the band's grey level is 8 * frame number modulo 256
    assert [helpers.frame_number(f) % 32 for f in frames] == [i % 32 for i in range(first, first + count)]
    if not band:
        left = [float(f[31:37, square_x(first + k) + 1: square_x(first + k) + 7].mean()) for k, f in enumerate(frames)]
        assert max(left) < 200, f"square still there in result frames {[k for k, v in enumerate(left) if v >= 200]}"
        return
    left = [int(f[30:38, square_x(first + k): square_x(first + k) + 8].max()) for k, f in enumerate(frames)]
    assert max(left) < 170, f"square (or part of it) left in result frames {[k for k, v in enumerate(left) if v >= 170]}"


def test_fps_mismatch_strip_with_one_picked_png_of_a_sequence(tmp_path, live_server, helpers):
    """A 24 fps clip in a 30 fps scene shows its 48 frames on 48 scene frames:
    all of them (less the trims) are processed. The mask is what a file browser
    returns for a per-frame sequence: one of its PNGs; every frame's own mask
    must be used (the square moves)."""
    url, token, home = live_server
    clip = write_square_clip(tmp_path / "shot.mp4", 48, 24, helpers)
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(48):
        cv2.imwrite(str(masks / f"mask_{i:04d}.png"), square_mask(i))
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 30, "trim_start": 3,
                       "trim_end": 2, "url": url, "out_dir": str(tmp_path / "renders"), "op": "remove",
                       "mask": str(masks / "mask_0007.png"), "params": NO_GROWTH}, tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["source"]["strip_fps"] == 24 and rep["source"]["duration"] == 43
    assert rep["spec"]["range"] == {"start": 3, "end": 46}
    assert rep["spec"]["params"]["mask"] == str(masks / "mask_%04d.png")
    assert rep["timer_finished"] and rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] != "shot"]
    assert len(new) == 1 and new[0]["start"] == rep["source"]["start"] and new[0]["duration"] == 43
    assert new[0]["channel"] == rep["source"]["channel"] + 1
    assert_square_removed(new[0]["filepath"], 3, 43, helpers)


def test_video_mask_in_a_sequencer_scene_split(tmp_path, live_server, helpers):
    """Blender 5: the workspace's sequencer scene ("Edit") is not the window's
    scene; the operator works on the sequencer scene's strip (it is not greyed
    out) and the result lands there. The mask is a video."""
    from vedit.io import open_writer

    url, token, home = live_server
    clip = write_square_clip(tmp_path / "shot.mp4", 20, 24, helpers)
    with open_writer(str(tmp_path / "mask.mp4"), 24, (64, 48)) as wr:
        for i in range(20):
            wr.write(cv2.cvtColor(square_mask(i), cv2.COLOR_GRAY2BGR))
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "trim_start": 2,
                       "url": url, "out_dir": str(tmp_path / "renders"), "op": "remove",
                       "mask": str(tmp_path / "mask.mp4"), "params": NO_GROWTH, "sequencer_split": True},
                      tmp_path, home)
    assert rep["poll"] is True
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["scene"] == "Edit" and rep["window_scene_strips"] in (None, 0)
    assert rep["spec"]["params"]["mask"] == str(tmp_path / "mask.mp4")
    assert rep["spec"]["range"] == {"start": 2, "end": 20}
    assert rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] != "shot"]
    assert len(new) == 1 and new[0]["start"] == rep["source"]["start"] == 12 and new[0]["duration"] == 18
    assert_square_removed(new[0]["filepath"], 2, 18, helpers)


def test_mask_strip_and_matte_as_alpha(tmp_path, live_server, helpers):
    """A mask strip already in the timeline (an image sequence lined up with
    the source) drives a removal; then a matte comes back as the footage with
    alpha, laid over the source with Alpha Over (not an opaque grey matte)."""
    url, token, home = live_server
    clip = write_square_clip(tmp_path / "shot.mp4", 16, 24, helpers)
    masks = tmp_path / "masks"
    masks.mkdir()
    files = []
    for i in range(16):
        cv2.imwrite(str(masks / f"m{i:03d}.png"), square_mask(i))
        files.append(str(masks / f"m{i:03d}.png"))
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "trim_start": 1,
                       "url": url, "out_dir": str(tmp_path / "renders"), "op": "remove",
                       "mask_strip": {"kind": "image", "files": files, "frame_start": 10},
                       "mask_strip_name": "mask"}, tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["spec"]["params"]["mask"] == str(masks / "m%03d.png")
    assert rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] not in ("shot", "mask")]
    assert len(new) == 1 and new[0]["start"] == 11 and new[0]["duration"] == 15
    assert_square_removed(new[0]["filepath"], 1, 15, helpers)

    key = tmp_path / "key.png"
    cv2.imwrite(str(key), square_mask(0))
    clip = write_square_clip(tmp_path / "subject.mp4", 16, 24, helpers, band=False)
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "url": url,
                       "out_dir": str(tmp_path / "renders"), "op": "matte", "mask": str(key),
                       "render_alpha": str(tmp_path / "blender_frame.png")}, tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["spec"]["params"] == {"mask": str(key), "alpha": True} and rep["spec"]["output"].endswith(".mov")
    assert rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] != "shot"]
    assert len(new) == 1 and new[0]["blend_type"] == "ALPHA_OVER" and new[0]["duration"] == 16
    from vedit.io import open_clip

    frames = list(open_clip(new[0]["filepath"]).frames(alpha=True))
    assert len(frames) == 16 and frames[0].shape[-1] == 4
    for i, f in enumerate(frames):
        a = f[..., 3]
        # mostly opaque on the square (the subject; tracking quality is the matte op's),
        # transparent far from it: the source shows through there
        assert a[32:36, square_x(i) + 2: square_x(i) + 6].mean() > (200 if i == 0 else 120), i
        assert a[20:28, 40:].mean() < 30 if square_x(i) < 30 else a[20:28, :10].mean() < 30, i
        # the colour kept is the footage's (white square), not a grey matte
        assert f[32:36, square_x(i) + 2: square_x(i) + 6, :3].mean() > 200
    # Blender reads that alpha (straight): its render of the result strip alone,
    # the source muted, is transparent around the subject and shows the footage on it
    assert rep["placed_alpha_mode"] == "STRAIGHT"
    shown = cv2.imread(rep["render"], cv2.IMREAD_UNCHANGED)
    assert shown.shape == (48, 64, 4)
    assert shown[32:36, square_x(0) + 2: square_x(0) + 6, 3].min() > 200
    assert shown[20:28, 40:, 3].max() < 30 and shown[:10, :, 3].max() < 30
    assert shown[32:36, square_x(0) + 2: square_x(0) + 6, :3].mean() > 180


def test_movie_mask_strip_holding_just_the_shown_frames(tmp_path, live_server, helpers):
    """A mask movie strip made for the trimmed range only (its frame 0 is the
    first frame the source strip shows), starting where the source strip
    starts: every shown frame gets its own mask. The square jumps 3 px a
    frame, so a mask off by a frame or more leaves it in the picture."""
    from vedit.io import open_clip, open_writer

    def x(i):
        return 2 + 3 * i

    def mask(i):
        m = np.zeros((48, 64), np.uint8)
        m[29:39, max(0, x(i) - 1): x(i) + 9] = 255
        return m

    url, token, home = live_server
    with open_writer(str(tmp_path / "shot.mp4"), 24, (64, 48)) as wr:
        for i in range(20):
            f = helpers.numbered_frame(i)
            f[26:42] = 128  # a flat band: whatever fills the hole, a missed bit of the square shows
            f[30:38, x(i): x(i) + 8] = 255
            wr.write(f)
    with open_writer(str(tmp_path / "range_mask.mp4"), 24, (64, 48)) as wr:
        for i in range(4, 18):  # the source strip shows media frames 4..17
            wr.write(cv2.cvtColor(mask(i), cv2.COLOR_GRAY2BGR))
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(tmp_path / "shot.mp4"), "fps": 24,
                       "trim_start": 4, "trim_end": 2, "url": url, "out_dir": str(tmp_path / "renders"),
                       "op": "remove", "params": '{"dilate": 0, "feather": 0}',
                       "mask_strip": {"kind": "movie", "path": str(tmp_path / "range_mask.mp4"), "frame_start": 14},
                       "mask_strip_name": "mask"}, tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["source"]["start"] == 14 and rep["source"]["duration"] == 14
    assert rep["spec"]["params"] == {"mask": str(tmp_path / "range_mask.mp4"), "dilate": 0, "feather": 0}
    assert rep["spec"]["range"] == {"start": 4, "end": 18}
    assert rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] not in ("shot", "mask")]
    assert len(new) == 1 and new[0]["start"] == 14 and new[0]["duration"] == 14
    frames = open_clip(new[0]["filepath"]).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(4, 18))
    for k, f in enumerate(frames):
        assert f[30:38, x(4 + k): x(4 + k) + 8].max() < 170, f"square (or part of it) left in result frame {k}"


def test_submit_errors_are_kept_for_the_panel(tmp_path, helpers):
    """A server that is not there: the operator is cancelled and the panel's
    error holds the whole message (wrapped when drawn), not the last 'done'."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("x" * 32)
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=6, fps=24)
    cv2.imwrite(str(tmp_path / "m.png"), square_mask(0))
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24,
                       "url": f"http://127.0.0.1:{port}", "out_dir": str(tmp_path / "renders"), "op": "remove",
                       "mask": str(tmp_path / "m.png"), "draw_after": True}, tmp_path, home)
    assert rep["operator"] == ["CANCELLED"] and "no vedit server at" in rep["operator_error"]
    assert "no vedit server at" in rep["state_error"] and rep["state_error"].endswith("or pass --url")
    # the panel draws it whole, in lines that fit its width (280 px: at most 36 characters)
    lines = [b["label"] for b in rep["drawn_after"] if "label" in b]
    assert len(lines) > 2 and max(map(len, lines)) <= 36
    assert " ".join(lines).split() == rep["state_error"].split()


def test_cancel_button_stops_the_job_and_places_nothing(tmp_path, live_server, helpers):
    """The panel draws a Cancel button beside a running job; pressing it
    cancels the job on the server, the timer stops polling, the panel shows the
    job as cancelled (no Cancel button any more) and no result strip is added.
    The server's one worker is kept busy by another job, so the strip's job is
    still waiting when Cancel is pressed."""
    url, token, home = live_server
    clip = write_square_clip(tmp_path / "shot.mp4", 24, 24, helpers)
    cv2.imwrite(str(tmp_path / "m.png"), square_mask(0))
    busy = helpers.write_numbered_clip(tmp_path / "busy.mp4", n=120, fps=24, h=120, w=160)
    busy_mask = np.zeros((120, 160), np.uint8)
    busy_mask[40:80, 60:100] = 255
    cv2.imwrite(str(tmp_path / "busy_mask.png"), busy_mask)
    blocker = {"op": "remove", "input": str(busy), "output": str(tmp_path / "busy_removed.mp4"),
               "params": {"mask": str(tmp_path / "busy_mask.png")}}
    rep = run_blender({"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "url": url,
                       "out_dir": str(tmp_path / "renders"), "op": "remove", "mask": str(tmp_path / "m.png"),
                       "blocker": blocker, "cancel": True}, tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    job_id = rep["job"]["id"]
    assert {"idname": "vedit.cancel_jobs", "job_id": job_id} in rep["buttons_running"]
    assert rep["cancel_operator"] == ["FINISHED"]
    assert rep["timer_finished"] and rep["job"]["status"] == "cancelled", rep["job"]
    assert rep["job"]["placed"] == "" and not os.path.exists(rep["spec"]["output"])
    assert [s["name"] for s in rep["strips"]] == ["shot"]  # nothing placed
    assert not any(b.get("idname") == "vedit.cancel_jobs" for b in rep["buttons_after"])
    assert {"label": "shot: remove cancelled"} in rep["buttons_after"]
    from vedit.server.client import Client

    assert Client(url, token=token).get(job_id)["status"] == "cancelled"


def _jobs_module(helpers):
    import importlib.util

    spec = importlib.util.spec_from_file_location("vedit_vse_jobs", helpers.root / "plugins/blender/vedit_vse/jobs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mask_file_resolution(tmp_path, helpers):
    """A folder, a video, a still and any one image of a numbered sequence
    (padded or not) resolve to what the server reads."""
    jobs = _jobs_module(helpers)
    m = square_mask(0)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"a.{i:05d}.png"), m)
        cv2.imwrite(str(tmp_path / f"b{i + 8}.png"), m)
    cv2.imwrite(str(tmp_path / "still.png"), m)
    (tmp_path / "clip.mov").write_bytes(b"")
    assert jobs.resolve_mask_file(str(tmp_path / "a.00001.png")) == str(tmp_path / "a.%05d.png")
    assert jobs.resolve_mask_file(str(tmp_path / "b9.png")) == str(tmp_path / "b%d.png")
    assert jobs.resolve_mask_file(str(tmp_path / "a.00001.png"), sequence=False) == str(tmp_path / "a.00001.png")
    assert jobs.resolve_mask_file(str(tmp_path / "still.png")) == str(tmp_path / "still.png")
    assert jobs.resolve_mask_file(str(tmp_path / "clip.mov")) == str(tmp_path / "clip.mov")
    assert jobs.resolve_mask_file(str(tmp_path)) == str(tmp_path)
    with pytest.raises(jobs.StripError, match="mask not found"):
        jobs.resolve_mask_file(str(tmp_path / "nope.png"))


def test_zero_and_off_are_sent_unset_fields_are_not(helpers):
    """dilate 0 or an option switched off are the editor's choices and reach
    the server; an empty field is not sent (the server's default applies)."""
    jobs = _jobs_module(helpers)
    src = {"path": "/m/shot.mp4", "start": 2, "end": 9}
    spec = jobs.build_spec(src, "remove", {"mask": "/m/mask.png", "dilate": 0, "feather": 0, "smooth": False,
                                           "engine": "", "prompt": None}, "/m/out.mp4")
    assert spec["params"] == {"mask": "/m/mask.png", "dilate": 0, "feather": 0, "smooth": False}


def test_retimed_or_extended_strips_are_refused(helpers):
    jobs = _jobs_module(helpers)

    class Strip:
        type, name, filepath, channel, fps = "MOVIE", "shot", "/x/shot.mp4", 1, 24.0
        frame_start, frame_final_start, frame_final_duration, frame_duration = 10, 13, 40, 48
        animation_offset_start = 2
        retiming_keys: tuple = ()

    src = jobs.strip_source(Strip(), None)
    assert (src["start"], src["end"]) == (5, 45)  # hold offset 2 + trim 3
    retimed = Strip()
    retimed.retiming_keys = (object(), object())
    with pytest.raises(jobs.StripError, match="retimed"):
        jobs.strip_source(retimed, None)
    held = Strip()
    held.frame_final_start = 8
    with pytest.raises(jobs.StripError, match="held frames"):
        jobs.strip_source(held, None)


def test_polling_fails_at_once_on_a_refused_token(helpers):
    """A token refused while polling fails the job on that poll with the
    server's whole message; a server that stops answering gets a few polls."""
    jobs = _jobs_module(helpers)

    class AuthError(PermissionError):
        pass

    class ServerUnavailableError(ConnectionError):
        pass

    msg = "invalid or missing token: read it from /home/editor/.config/vedit/token " + "x" * 150

    class Client:
        def __init__(self, exc):
            self.exc = exc

        def get(self, job_id):
            raise self.exc

    job = jobs.poll(Client(AuthError(msg)), {"id": "j1", "status": "running"})
    assert job["status"] == "failed" and job["error"] == msg
    job = {"id": "j2", "status": "running"}
    for _ in range(jobs.UNAVAILABLE_POLLS - 1):
        jobs.poll(Client(ServerUnavailableError("no vedit server")), job)
        assert job["status"] == "running"
    jobs.poll(Client(ServerUnavailableError("no vedit server")), job)
    assert job["status"] == "failed" and "no vedit server" in job["error"]


@pytest.mark.parametrize("server_tls", [True])
def test_panel_fields_and_the_ca_file_preference(tmp_path, live_server, helpers, server_tls, monkeypatch):
    """The editor's route: the panel's fields (generated from the op
    definitions: Blender holds the definitions' defaults and choices) and its
    button, against an https:// server with a self-signed certificate. Without
    the add-on's CA-file preference the submit is refused with the fix named;
    with it the job runs, sending only the field the editor changed."""
    monkeypatch.delenv("VEDIT_CA_FILE", raising=False)
    url, token, home = live_server
    # the still mask covers the square's whole path: what it hid is never seen, the fill is a guess
    clip = write_square_clip(tmp_path / "shot.mp4", 12, 24, helpers, band=False)
    still = np.zeros((48, 64), np.uint8)
    still[28:40, 2:34] = 255  # covers the square's whole path
    cv2.imwrite(str(tmp_path / "still.png"), still)
    cfg = {"zip": build_zip(tmp_path, helpers), "clip": str(clip), "fps": 24, "url": url,
           "out_dir": str(tmp_path / "renders"), "op": "remove", "dump_fields": True, "draw_panel": True,
           "panel": {"mask": str(tmp_path / "still.png"), "remove__dilate": 6}}
    rep = run_blender(dict(cfg, ca_file=""), tmp_path, home)
    assert rep["operator"] == ["CANCELLED"], rep
    assert rep["state_error"].startswith(f"TLS to {url} failed") and "CA file" in rep["state_error"]

    rep = run_blender(dict(cfg, ca_file=str(home / "tls" / "cert.pem")), tmp_path, home)
    assert rep["operator"] == ["FINISHED"], rep
    assert rep["spec"]["params"] == {"mask": str(tmp_path / "still.png"), "dilate": 6}
    assert rep["job"]["status"] == "done", rep["job"]
    new = [s for s in rep["strips"] if s["name"] != "shot"]
    assert len(new) == 1 and new[0]["duration"] == 12
    assert_square_removed(new[0]["filepath"], 0, 12, helpers, band=False)

    # what Blender registered for each field is the op definition's
    from vedit.ops import get_def

    forms = _forms_module(helpers)
    fields = forms.fields()
    assert set(rep["fields"]) == {f.prop for f in fields}
    for f in fields:
        got, p = rep["fields"][f.prop], get_def(f.op)[f.param]
        choices = p.choice_values()
        if choices is not None:
            assert got["type"] == "ENUM", f.prop
            assert [i for i in got["items"] if i != forms.DEFAULT_ITEM] == [str(c) for c in choices], f.prop
            assert got["default"] == (forms.DEFAULT_ITEM if p.default is None else str(p.default)), f.prop
        elif p.type in ("int", "float") and p.default is not None:
            assert got["type"] == p.type.upper() and got["default"] == pytest.approx(p.default), f.prop
            if p.min is not None:
                assert got["min"] == pytest.approx(p.min), f.prop
        elif p.type == "bool" and p.default is not None:
            assert got["type"] == "BOOLEAN" and got["default"] is p.default, f.prop
        else:
            assert got["type"] in ("STRING", "ENUM"), f.prop
    assert rep["fields"]["remove__engine"]["default"] == "propagate"
    # the panel draws the op's main fields, and every other one (of the chosen engine) under More options
    drawn = rep["drawn"]
    assert drawn["remove:False"][:5] == ["op", "mask_source", "mask", "remove__engine", "remove__dilate"]
    assert "remove__fill_gaps" not in drawn["remove:False"] and "remove__fill_gaps" in drawn["remove:True"]
    assert "remove__steps" not in drawn["remove:True"]  # a diffusion-engine param, engine propagate
    for op in ("remove", "replace-bg", "matte"):
        mine = {f.prop for f in fields if f.op == op and forms.applies(f, get_def(op).defaults().get("engine"))}
        assert mine <= set(drawn[f"{op}:True"]), op


def _forms_module(helpers):
    import importlib.util

    spec = importlib.util.spec_from_file_location("vedit_vse_forms_b", helpers.root / "plugins/blender/vedit_vse/forms.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
