"""vedit in Blender's Video Sequencer: a sidebar panel and the operator
``vedit.process_strip`` that sends the active movie strip's source range to the
local ``vedit serve`` and adds the result one channel above when it is done.

Polling runs from ``bpy.app.timers`` so the UI never blocks; the work itself
lives in the plain functions of ``jobs.py``. The scene used is the
Sequencer's own (Blender 5's ``context.sequencer_scene``), which may differ
from the window's scene."""
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
MASK_SOURCE_ITEMS = [
    ("FILE", "File", "A mask image (one picked image of a numbered sequence means the whole sequence), "
                     "a folder of masks or a mask video"),
    ("STRIP", "Strip", "A mask or matte strip already in the timeline, lined up with the source strip"),
]
POLL_INTERVAL = 0.5

# job records being polled (plain dicts, see jobs.submit); finished ones stay
# for the panel to show until the next submit
JOBS: list[dict] = []
# the last error raised before a job existed (submit refused, server down...),
# shown in the panel until the next successful submit
STATE: dict = {"error": ""}


def _client(url: str | None = None):
    return vclient.Client(url or None)


def _redraw():
    wm = getattr(bpy.context, "window_manager", None)
    for win in getattr(wm, "windows", []) or []:
        for area in win.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


def _step(client=None) -> bool:
    """Poll every running job once and place finished results; True while any is running."""
    pending = False
    for job in JOBS:
        if job["status"] in jobs.TERMINAL and job.get("placed") is not None:
            continue
        jobs.poll(client or _client(job.get("url")), job)
        if job["status"] == "done" and job.get("placed") is None:
            scene = bpy.data.scenes.get(job["scene"])
            try:
                if scene is None:
                    raise jobs.StripError(f"scene {job['scene']!r} is gone; the result is {job.get('output')}")
                strip = jobs.add_result_strip(scene, job)
                job["placed"] = strip.name
            except Exception as exc:  # shown in the panel, never raised into the timer
                job.update(status="failed", error=f"could not add the result strip: {exc}", placed="")
        elif job["status"] in ("failed", "cancelled"):
            job["placed"] = ""
        else:
            pending = True
    return pending


def tick(client=None) -> float | None:
    """The ``bpy.app.timers`` callback: poll every running job once; add
    finished results. Returns the next interval, or None (Blender then drops
    the timer) when nothing is left to poll. It never raises: Blender would
    silently drop a timer that raises, and the panel would wait forever."""
    try:
        pending = _step(client)
    except Exception as exc:
        for job in JOBS:
            if job["status"] not in jobs.TERMINAL:
                job.update(status="failed", error=f"polling failed: {exc}", placed="")
        pending = False
    _redraw()
    return POLL_INTERVAL if pending else None


def start_polling() -> None:
    """Make sure the timer runs (persistent: it survives loading another file)."""
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=POLL_INTERVAL, persistent=True)


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (the whole message, wrapped)."""
    import textwrap

    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        lines.extend(textwrap.wrap(para, max(12, width), break_long_words=True, break_on_hyphens=False) or [""])
    return lines


class VeditSettings(bpy.types.PropertyGroup):
    op: EnumProperty(name="Operation", items=OP_ITEMS, default="matte")
    mask_source: EnumProperty(name="Mask from", items=MASK_SOURCE_ITEMS, default="FILE")
    mask: StringProperty(name="Mask", subtype="FILE_PATH",
                         description="Mask image (any one image of a numbered sequence means the sequence), "
                                     "folder of masks or mask video; white = region")
    mask_strip: StringProperty(name="Mask strip", description="A mask/matte strip in the timeline")
    background: StringProperty(name="Background", description="Image, video, colour (#rrggbb) or 'blur'")
    bg_file: StringProperty(name="Background file", subtype="FILE_PATH")
    prompt: StringProperty(name="Prompt", description="Generate the background from text")
    person: BoolProperty(name="Person matte", default=True, description="Find the person automatically")
    engine: StringProperty(name="Engine", description="Engine name (empty = default)")
    output_dir: StringProperty(name="Output folder", subtype="DIR_PATH",
                               description="Where results go (default: vedit_renders next to the media)")
    server_url: StringProperty(name="Server", default="http://127.0.0.1:8765")


def _options(op: str, s) -> dict:
    mask = s.mask if s.mask_source == "FILE" else ""
    if op == "remove":
        return {"mask": mask, "engine": s.engine}
    if op == "replace-bg":
        bg = s.bg_file or s.background
        return {"background": bg, "prompt": s.prompt, "matte": mask or "person", "engine": s.engine}
    return {"mask": mask} if mask else {"person": s.person}


class VEDIT_OT_process_strip(bpy.types.Operator):
    """Send the active movie strip to vedit and add the result one channel up"""

    bl_idname = "vedit.process_strip"
    bl_label = "Process strip with vedit"
    bl_options = {"REGISTER"}

    op: EnumProperty(name="Operation", items=OP_ITEMS, default="matte")
    mask: StringProperty(name="Mask", subtype="FILE_PATH")
    mask_strip: StringProperty(name="Mask strip", description="Name of a mask/matte strip in the timeline")
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
        scene = jobs.sequencer_scene(context)
        seq = scene.sequence_editor if scene else None
        return bool(seq and seq.active_strip and seq.active_strip.type == "MOVIE")

    def _fail(self, message: str) -> set:
        STATE["error"] = message
        self.report({"ERROR"}, f"vedit: {message}")
        _redraw()
        return {"CANCELLED"}

    def execute(self, context):
        scene = jobs.sequencer_scene(context)
        s = scene.vedit
        seq = scene.sequence_editor
        strip = seq.active_strip
        if self.use_scene_settings:
            op, opts = s.op, _options(s.op, s)
            strip_name = s.mask_strip if s.mask_source == "STRIP" else ""
        else:
            op, strip_name = self.op, self.mask_strip
            if op == "remove":
                opts = {"mask": self.mask, "engine": self.engine}
            elif op == "replace-bg":
                opts = {"background": self.background, "prompt": self.prompt,
                        "matte": self.mask or "person", "engine": self.engine}
            else:
                opts = {"mask": self.mask} if self.mask else {"person": self.person}
        mask_strip = None
        if strip_name:
            mask_strip = seq.strips.get(strip_name)
            if mask_strip is None:
                return self._fail(f"mask strip {strip_name!r} is not in the timeline of scene {scene.name!r}")
        try:
            cl = _client(s.server_url)
            job = jobs.submit(cl, scene, strip, op, opts, s.output_dir, mask_strip=mask_strip)
        except Exception as exc:
            return self._fail(str(exc) or type(exc).__name__)
        STATE["error"] = ""
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
        start_polling()
        self.report({"INFO"}, f"vedit job {job['id']} submitted")
        return {"FINISHED"}


class VEDIT_OT_cancel_jobs(bpy.types.Operator):
    """Cancel a running vedit job (all running jobs when no id is given)"""

    bl_idname = "vedit.cancel_jobs"
    bl_label = "Cancel"

    job_id: StringProperty(name="Job id", default="")

    def execute(self, context):
        for job in JOBS:
            if job["status"] in jobs.TERMINAL or (self.job_id and job["id"] != self.job_id):
                continue
            try:
                _client(job.get("url")).cancel(job["id"])
                job["stage"] = "cancelling"
            except Exception as exc:
                job.update(status="failed", error=f"cancel failed: {exc}", placed="")
                self.report({"WARNING"}, f"vedit: {exc}")
        _redraw()
        return {"FINISHED"}


def _error_box(layout, text: str, width_px: int) -> None:
    box = layout.box()
    lines = wrap(text, int(width_px / 7) - 4)
    for i, line in enumerate(lines):
        box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


class VEDIT_PT_panel(bpy.types.Panel):
    bl_label = "vedit"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "vedit"

    def draw(self, context):
        scene = jobs.sequencer_scene(context)
        if scene is None:
            self.layout.label(text="No sequencer scene")
            return
        s = scene.vedit
        col = self.layout.column()
        col.prop(s, "op")

        def mask_row(text):
            col.prop(s, "mask_source", expand=True)
            if s.mask_source == "STRIP" and scene.sequence_editor:
                col.prop_search(s, "mask_strip", scene.sequence_editor, "strips", text=text)
            else:
                col.prop(s, "mask", text=text)

        if s.op == "remove":
            mask_row("Mask")
        elif s.op == "replace-bg":
            col.prop(s, "background")
            col.prop(s, "bg_file")
            col.prop(s, "prompt")
            mask_row("Matte (empty = person)")
        else:
            col.prop(s, "person")
            col.prop(s, "mask", text="Keyframe mask")
        col.prop(s, "engine")
        col.prop(s, "output_dir")
        col.prop(s, "server_url")
        col.operator(VEDIT_OT_process_strip.bl_idname, text="Process active strip").use_scene_settings = True
        width = getattr(getattr(context, "region", None), "width", 280) or 280
        if STATE["error"]:
            _error_box(col, STATE["error"], width)
        for job in JOBS[-3:]:
            box = col.box()
            box.label(text=f"{job['name']}: {job['spec']['op']} {job['status']}")
            if job["status"] not in jobs.TERMINAL:
                row = box.row()
                row.progress(factor=float(job.get("progress") or 0.0), text=job.get("stage") or "")
                row.operator(VEDIT_OT_cancel_jobs.bl_idname, text="", icon="CANCEL").job_id = job["id"]
            elif job.get("error"):
                _error_box(box, job["error"], width)


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
