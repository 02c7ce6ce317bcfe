"""Run inside a fresh Python with the ``bpy`` wheel (a subprocess of
test_blender.py): install + enable the extension zip headless, build a
sequencer strip, run ``vedit.process_strip`` against the live server through
the same timer callback the UI uses, and print a JSON report."""
import json
import sys
import time

cfg = json.loads(sys.argv[1])

import bpy  # noqa: E402

report = {}
r = bpy.ops.extensions.package_install_files(filepath=cfg["zip"], repo="user_default", enable_on_install=True)
report["install"] = sorted(r)
report["enabled"] = "bl_ext.user_default.vedit_vse" in bpy.context.preferences.addons.keys()
report["has_operator"] = hasattr(bpy.ops.vedit, "process_strip")

import importlib  # noqa: E402

ext = importlib.import_module("bl_ext.user_default.vedit_vse")

scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = cfg["fps"], 1
seq = scene.sequence_editor_create()
strip = seq.strips.new_movie(name="shot", filepath=cfg["clip"], channel=2, frame_start=10)
strip.frame_offset_start = cfg["trim_start"]
strip.frame_offset_end = cfg["trim_end"]
seq.active_strip = strip
scene.vedit.server_url = cfg["url"]
scene.vedit.output_dir = cfg["out_dir"]
report["source"] = {"start": strip.frame_final_start, "duration": strip.frame_final_duration, "channel": strip.channel}

res = bpy.ops.vedit.process_strip(op=cfg["op"], mask=cfg.get("mask", ""), background=cfg.get("background", ""))
report["operator"] = sorted(res)
job = ext.JOBS[-1]
report["spec"] = job["spec"]
# the UI registers ext.tick with bpy.app.timers; timers do not fire in a
# background process, so drive the very same callback here
report["timer_registered"] = bpy.app.timers.is_registered(ext.tick)
progress_seen = []
deadline = time.monotonic() + cfg.get("timeout", 240)
while time.monotonic() < deadline:
    nxt = ext.tick()
    progress_seen.append((job["status"], job.get("progress")))
    if nxt is None:
        break
    time.sleep(0.2)
report["job"] = {k: job.get(k) for k in ("id", "status", "progress", "output", "error", "placed")}
report["progress_seen"] = progress_seen[-5:]
report["strips"] = [
    {"name": s.name, "channel": s.channel, "start": s.frame_final_start, "duration": s.frame_final_duration,
     "filepath": bpy.path.abspath(s.filepath) if s.type == "MOVIE" else None, "type": s.type}
    for s in seq.strips
]
print("REPORT " + json.dumps(report))
