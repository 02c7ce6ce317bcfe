"""Run inside a fresh Python with the ``bpy`` wheel (a subprocess of
test_blender.py): install + enable the extension zip headless, build a
sequencer scene from the JSON config, run ``vedit.process_strip`` against the
live server, pump the polling timer the way Blender's event loop would (call
the registered function after its interval until it returns None), and print
a JSON report."""
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

window_scene = bpy.context.scene
window_scene.render.fps, window_scene.render.fps_base = 24, 1
if cfg.get("sequencer_split"):
    # Blender 5: the workspace's sequencer scene differs from the window's scene
    scene = bpy.data.scenes.new("Edit")
    bpy.context.workspace.sequencer_scene = scene
    assert bpy.context.scene == window_scene and bpy.context.sequencer_scene == scene
else:
    scene = window_scene
scene.render.fps, scene.render.fps_base = cfg["fps"], 1
seq = scene.sequence_editor_create()
strip = seq.strips.new_movie(name="shot", filepath=cfg["clip"], channel=2, frame_start=10)
strip.frame_offset_start = cfg.get("trim_start", 0)
strip.frame_offset_end = cfg.get("trim_end", 0)
if cfg.get("mask_strip"):
    ms = cfg["mask_strip"]
    if ms["kind"] == "image":
        m = seq.strips.new_image(name="mask", filepath=ms["files"][0], channel=4, frame_start=ms["frame_start"])
        for f in ms["files"][1:]:
            m.elements.append(f.rsplit("/", 1)[1])
    else:
        m = seq.strips.new_movie(name="mask", filepath=ms["path"], channel=4, frame_start=ms["frame_start"])
    m.mute = True
seq.active_strip = strip
scene.vedit.server_url = cfg["url"]
scene.vedit.output_dir = cfg["out_dir"]
report["source"] = {"start": strip.frame_final_start, "duration": strip.frame_final_duration, "channel": strip.channel,
                    "strip_fps": strip.fps}
report["poll"] = bpy.ops.vedit.process_strip.poll()
if cfg.get("dump_fields"):
    # what Blender made of the panel's generated properties
    props = scene.vedit.bl_rna.properties
    report["fields"] = {}
    for f in ext.FIELDS:
        p = props[f.prop]
        d = {"type": p.type, "default": p.default if p.type != "STRING" else p.default, "subtype": p.subtype}
        if p.type == "ENUM":
            d["items"] = [i.identifier for i in p.enum_items]
        if p.type in ("INT", "FLOAT"):
            d.update(min=p.hard_min, max=p.hard_max)
        report["fields"][f.prop] = d


class Layout:
    """A recording stand-in for the panel's layout (background mode has no UI
    to draw in): the properties drawn go to ``log``, the operator buttons (with
    the properties set on them) and labels to ``buttons``."""

    def __init__(self, log, buttons=None):
        self.log, self.buttons = log, buttons if buttons is not None else []

    def __getattr__(self, name):
        if name in ("column", "box", "row"):
            return lambda *a, **k: self

        def rec(*a, **k):
            if name in ("prop", "prop_search"):
                getattr(a[0], a[1])  # the property exists
                self.log.append(a[1])
            if name == "label":
                self.buttons.append({"label": k.get("text", "")})
            if name == "operator":
                button = type("Op", (), {})()
                button.idname = a[0]
                self.buttons.append(button.__dict__)
                return button
            return type("Op", (), {})()
        return rec


class Ctx:
    sequencer_scene = scene
    region = None


def draw_panel():
    """What the panel draws now: (properties, buttons and labels)."""
    log, buttons = [], []
    ext.VEDIT_PT_panel.draw(type("P", (), {"layout": Layout(log, buttons)})(), Ctx())
    return log, buttons


if cfg.get("draw_panel"):
    drawn = {}
    for op in ("remove", "replace-bg", "matte"):
        for more in (False, True):
            scene.vedit.op, scene.vedit.show_more = op, more
            drawn[f"{op}:{more}"] = draw_panel()[0]
    scene.vedit.show_more = False
    report["drawn"] = drawn
if cfg.get("ca_file") is not None:
    bpy.context.preferences.addons["bl_ext.user_default.vedit_vse"].preferences.ca_file = cfg["ca_file"]

blocker = None
if cfg.get("blocker"):
    # a job that keeps the server's one worker busy, so the strip's job waits in the queue
    blocker = ext._client(cfg["url"]).submit(cfg["blocker"])

try:
    if cfg.get("panel"):
        # the editor's way: the panel's fields, then the panel's button
        vs = scene.vedit
        vs.op = cfg["op"]
        for k, v in cfg["panel"].items():
            setattr(vs, k, v)
        res = bpy.ops.vedit.process_strip(use_scene_settings=True)
    else:
        res = bpy.ops.vedit.process_strip(op=cfg["op"], mask=cfg.get("mask", ""),
                                          mask_strip=cfg.get("mask_strip_name", ""),
                                          background=cfg.get("background", ""), params=cfg.get("params", ""))
except RuntimeError as exc:  # bpy.ops raises what the operator reported as an error
    res = {"CANCELLED"}
    report["operator_error"] = str(exc)
report["operator"] = sorted(res)
report["state_error"] = ext.STATE["error"]
if cfg.get("draw_after"):
    report["drawn_after"] = draw_panel()[1]
if "FINISHED" in res:
    job = ext.JOBS[-1]
    report["spec"] = job["spec"]
    report["timer_registered"] = bpy.app.timers.is_registered(ext.tick)
    if cfg.get("cancel"):
        # the editor presses the Cancel button the panel draws beside the running job
        buttons = draw_panel()[1]
        report["buttons_running"] = buttons
        cancel = [b for b in buttons if b.get("idname") == "vedit.cancel_jobs"]
        report["cancel_operator"] = sorted(bpy.ops.vedit.cancel_jobs(job_id=cancel[0]["job_id"])) if cancel else None
    # Blender's event loop: wait the interval, call the registered function,
    # drop it when it returns None. Background mode has no event loop, so this
    # loop stands in for it, calling only what the add-on registered.
    calls, interval, progress_seen = 0, ext.POLL_INTERVAL, []
    deadline = time.monotonic() + cfg.get("timeout", 240)
    while bpy.app.timers.is_registered(ext.tick) and time.monotonic() < deadline:
        time.sleep(min(interval, 0.25))
        interval = ext.tick()
        calls += 1
        progress_seen.append((job["status"], job.get("progress")))
        if interval is None:
            bpy.app.timers.unregister(ext.tick)
    report["timer_calls"] = calls
    report["timer_finished"] = interval is None
    report["job"] = {k: job.get(k) for k in ("id", "status", "progress", "output", "error", "placed")}
    report["progress_seen"] = progress_seen[-5:]
    if cfg.get("cancel"):
        report["buttons_after"] = draw_panel()[1]
if blocker is not None:
    ext._client(cfg["url"]).cancel(blocker)
if cfg.get("render_alpha") and report.get("job", {}).get("placed"):
    # what Blender itself shows of the result: render its first frame alone
    # (the source muted) as RGBA over a transparent film
    strip.mute = True
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 64, 48, 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    placed = seq.strips[report["job"]["placed"]]
    scene.frame_set(placed.frame_final_start)
    scene.render.filepath = cfg["render_alpha"]
    bpy.ops.render.render(write_still=True)
    report["render"] = cfg["render_alpha"]
    report["placed_alpha_mode"] = placed.alpha_mode
report["scene"] = scene.name
report["window_scene_strips"] = len(window_scene.sequence_editor.strips) if window_scene.sequence_editor and \
    window_scene != scene else None
report["strips"] = [
    {"name": s.name, "channel": s.channel, "start": s.frame_final_start, "duration": s.frame_final_duration,
     "filepath": bpy.path.abspath(s.filepath) if s.type == "MOVIE" else None, "type": s.type,
     "blend_type": s.blend_type, "mute": s.mute}
    for s in seq.strips
]
print("REPORT " + json.dumps(report))
