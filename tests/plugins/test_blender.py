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


def test_process_strip_against_live_server(tmp_path, live_server, helpers):
    url, token, home = live_server
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    # replace-bg with a file matte keeping the top half (the frame-number band)
    matte = np.zeros((48, 64), np.uint8)
    matte[:24] = 255
    cv2.imwrite(str(tmp_path / "matte.png"), matte)
    zip_path = subprocess.run([sys.executable, str(helpers.root / "plugins/blender/build_extension.py"), "-o",
                               str(tmp_path / "dist")], capture_output=True, text=True, check=True).stdout.strip()
    rep = run_blender({"zip": zip_path, "clip": str(clip), "fps": 24, "trim_start": 3, "trim_end": 2,
                       "url": url, "out_dir": str(tmp_path / "renders"), "op": "replace-bg",
                       "mask": str(tmp_path / "matte.png"), "background": "#00ff00"}, tmp_path, home)
    assert rep["install"] == ["FINISHED"] and rep["enabled"] and rep["has_operator"]
    assert rep["operator"] == ["FINISHED"]
    assert rep["timer_registered"]
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
