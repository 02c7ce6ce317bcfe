"""vedit in Blender's Video Sequencer: a sidebar panel and the operator
``vedit.process_strip`` that sends the active movie strip's source range to the
local ``vedit serve`` and adds the result one channel above when it is done.

Polling runs from ``bpy.app.timers`` so the UI never blocks; the work itself
lives in the plain functions of ``jobs.py``."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

from . import client as vclient
from . import jobs

OP_ITEMS = [
    ("remove", "Remove", "Remove what the mask covers and fill it through the shot"),
    ("replace-bg", "Replace background", "Keep the subject, replace the background"),
    ("matte", "Matte", "Build an alpha matte of the subject"),
]
POLL_INTERVAL = 0.5

# job records being polled (plain dicts, see jobs.submit); finished ones stay
# for the panel to show until the next submit
JOBS: list[dict] = []


def _client(context=None):
    url = ""
    if context is not None and getattr(context, "scene", None) is not None:
        url = context.scene.vedit.server_url
    return vclient.Client(url or None)


def _redraw():
    wm = getattr(bpy.context, "window_manager", None)
    for win in getattr(wm, "windows", []) or []:
        for area in win.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


def tick(client=None) -> float | None:
    """Timer callback: poll every running job once; add finished results.
    Returns the next interval, or None when nothing is left to poll."""
    pending = False
    for job in JOBS:
        if job["status"] in jobs.TERMINAL and job.get("placed") is not None:
            continue
        jobs.poll(client or vclient.Client(job.get("url")), job)
        if job["status"] == "done" and job.get("placed") is None:
            scene = bpy.data.scenes.get(job["scene"])
            try:
                strip = jobs.add_result_strip(scene, job)
                job["placed"] = strip.name
            except Exception as exc:  # shown in the panel, never raised into the timer
                job.update(status="failed", error=f"could not add the result strip: {exc}", placed="")
        elif job["status"] in ("failed", "cancelled"):
            job["placed"] = ""
        else:
            pending = True
    _redraw()
    return POLL_INTERVAL if pending else None


class VeditSettings(bpy.types.PropertyGroup):
    op: EnumProperty(name="Operation", items=OP_ITEMS, default="matte")
    mask: StringProperty(name="Mask", subtype="FILE_PATH", description="Mask image/sequence/video (white = region)")
    background: StringProperty(name="Background", description="Image, video, colour (#rrggbb) or 'blur'")
    bg_file: StringProperty(name="Background file", subtype="FILE_PATH")
    prompt: StringProperty(name="Prompt", description="Generate the background from text")
    person: BoolProperty(name="Person matte", default=True, description="Find the person automatically")
    engine: StringProperty(name="Engine", description="Engine name (empty = default)")
    output_dir: StringProperty(name="Output folder", subtype="DIR_PATH",
                               description="Where results go (default: vedit_renders next to the media)")
    server_url: StringProperty(name="Server", default="http://127.0.0.1:8765")


def _options(op: str, s) -> dict:
    if op == "remove":
        return {"mask": s.mask, "engine": s.engine}
    if op == "replace-bg":
        bg = s.bg_file or s.background
        return {"background": bg, "prompt": s.prompt, "matte": s.mask or "person", "engine": s.engine}
    return {"mask": s.mask} if s.mask else {"person": True}


class VEDIT_OT_process_strip(bpy.types.Operator):
    """Send the active movie strip to vedit and add the result one channel up"""

    bl_idname = "vedit.process_strip"
    bl_label = "Process strip with vedit"
    bl_options = {"REGISTER"}

    op: EnumProperty(name="Operation", items=OP_ITEMS, default="matte")
    mask: StringProperty(name="Mask", subtype="FILE_PATH")
    background: StringProperty(name="Background")
    prompt: StringProperty(name="Prompt")
    person: BoolProperty(name="Person matte", default=True)
    engine: StringProperty(name="Engine")
    use_scene_settings: BoolProperty(name="Use panel settings", default=False,
                                     description="Take the options from the vedit panel")
    wait: BoolProperty(name="Wait", default=False,
                       description="Block until the job is done (batch scripts, background mode)")
    timeout: IntProperty(name="Timeout", default=3600, min=1)

    @classmethod
    def poll(cls, context):
        seq = context.scene.sequence_editor if context.scene else None
        return bool(seq and seq.active_strip and seq.active_strip.type == "MOVIE")

    def execute(self, context):
        scene = context.scene
        s = scene.vedit
        strip = scene.sequence_editor.active_strip
        if self.use_scene_settings:
            op, opts = s.op, _options(s.op, s)
        else:
            op = self.op
            if op == "remove":
                opts = {"mask": self.mask, "engine": self.engine}
            elif op == "replace-bg":
                opts = {"background": self.background, "prompt": self.prompt,
                        "matte": self.mask or "person", "engine": self.engine}
            else:
                opts = {"mask": self.mask} if self.mask else {"person": self.person}
        cl = _client(context)
        try:
            job = jobs.submit(cl, scene, strip, op, opts, s.output_dir)
        except Exception as exc:
            self.report({"ERROR"}, f"vedit: {exc}")
            return {"CANCELLED"}
        job["url"] = cl.url
        JOBS[:] = [j for j in JOBS if j["status"] not in jobs.TERMINAL]
        JOBS.append(job)
        if self.wait:
            jobs.wait(cl, job, timeout=self.timeout)
            tick(cl)
            if job["status"] != "done" or not job.get("placed"):
                self.report({"ERROR"}, f"vedit job {job['id']} {job['status']}: {job.get('error')}")
                return {"CANCELLED"}
            self.report({"INFO"}, f"vedit: added {job['placed']}")
            return {"FINISHED"}
        if not bpy.app.timers.is_registered(tick):
            bpy.app.timers.register(tick, first_interval=POLL_INTERVAL)
        self.report({"INFO"}, f"vedit job {job['id']} submitted")
        return {"FINISHED"}


class VEDIT_OT_cancel_jobs(bpy.types.Operator):
    """Cancel the running vedit jobs"""

    bl_idname = "vedit.cancel_jobs"
    bl_label = "Cancel vedit jobs"

    def execute(self, context):
        for job in JOBS:
            if job["status"] not in jobs.TERMINAL:
                try:
                    vclient.Client(job.get("url")).cancel(job["id"])
                except Exception as exc:
                    self.report({"WARNING"}, f"vedit: {exc}")
        return {"FINISHED"}


class VEDIT_PT_panel(bpy.types.Panel):
    bl_label = "vedit"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "vedit"

    def draw(self, context):
        s = context.scene.vedit
        col = self.layout.column()
        col.prop(s, "op")
        if s.op == "remove":
            col.prop(s, "mask")
        elif s.op == "replace-bg":
            col.prop(s, "background")
            col.prop(s, "bg_file")
            col.prop(s, "prompt")
            col.prop(s, "mask", text="Matte (empty = person)")
        else:
            col.prop(s, "person")
            col.prop(s, "mask", text="Keyframe mask")
        col.prop(s, "engine")
        col.prop(s, "output_dir")
        col.prop(s, "server_url")
        row = col.row()
        row.operator(VEDIT_OT_process_strip.bl_idname, text="Process active strip").use_scene_settings = True
        for job in JOBS[-3:]:
            box = col.box()
            box.label(text=f"{job['name']}: {job['spec']['op']} {job['status']}")
            if job["status"] not in jobs.TERMINAL:
                box.progress(factor=float(job.get("progress") or 0.0), text=job.get("stage") or "")
            elif job.get("error"):
                box.label(text=str(job["error"])[:120], icon="ERROR")
        if any(j["status"] not in jobs.TERMINAL for j in JOBS):
            col.operator(VEDIT_OT_cancel_jobs.bl_idname, icon="CANCEL")


CLASSES = (VeditSettings, VEDIT_OT_process_strip, VEDIT_OT_cancel_jobs, VEDIT_PT_panel)


def register():
    for c in CLASSES:
        bpy.utils.register_class(c)
    bpy.types.Scene.vedit = PointerProperty(type=VeditSettings)


def unregister():
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    del bpy.types.Scene.vedit
    for c in reversed(CLASSES):
        bpy.utils.unregister_class(c)
