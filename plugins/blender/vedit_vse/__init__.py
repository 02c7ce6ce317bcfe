"""vedit in Blender's Video Sequencer: a sidebar panel and the operator
``vedit.process_strip`` that sends the active movie strip's source range to the
local ``vedit serve`` and adds the result one channel above when it is done.

Polling runs from ``bpy.app.timers`` so the UI never blocks; the work itself
lives in the plain functions of ``jobs.py``. The scene used is the
Sequencer's own (Blender 5's ``context.sequencer_scene``), which may differ
from the window's scene."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import client as vclient
from . import forms, jobs

OP_LABELS = {"remove": "Remove", "replace-bg": "Replace background", "matte": "Matte"}
# the option fields, from the op definitions (ops_schema.json, see forms.py)
SCHEMA = forms.load_schema()
FIELDS = forms.fields(SCHEMA)
OP_ITEMS = [(op, OP_LABELS.get(op, op), (SCHEMA.get(op) or {}).get("help", "")) for op in forms.PANEL_OPS]
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


def ca_file() -> str:
    """The add-on preference "CA file" (a certificate to trust for an
    https:// server with a self-signed certificate), or ""."""
    try:
        prefs = bpy.context.preferences.addons[__package__].preferences
    except (KeyError, AttributeError):
        return ""
    return jobs.abspath(prefs.ca_file) if getattr(prefs, "ca_file", "") else ""


def _client(url: str | None = None, cafile: str | None = None):
    """vedit's client for ``url``; ``cafile`` (default: the add-on preference,
    then ``$VEDIT_CA_FILE``) verifies an https:// server."""
    return vclient.Client(url or None, cafile=(ca_file() if cafile is None else cafile) or None)


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
        jobs.poll(client or _client(job.get("url"), job.get("cafile")), job)
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


_PROPS = {"bool": BoolProperty, "int": IntProperty, "float": FloatProperty, "enum": EnumProperty,
          "text": StringProperty}


def _settings_class() -> type:
    """The scene's ``vedit`` property group: the add-on's own fields (op, mask
    picker, output folder, server) and one property per op param from
    ``FIELDS`` (``remove__dilate``...), with the definition's default,
    choices, range and help."""
    ann = {
        "op": EnumProperty(name="Operation", items=OP_ITEMS, default="matte"),
        "mask_source": EnumProperty(name="Mask from", items=MASK_SOURCE_ITEMS, default="FILE"),
        "mask": StringProperty(name="Mask", subtype="FILE_PATH",
                               description="Mask image (any one image of a numbered sequence means the sequence), "
                                           "folder of masks or mask video; white = region"),
        "mask_strip": StringProperty(name="Mask strip", description="A mask/matte strip in the timeline"),
        "output_dir": StringProperty(name="Output folder", subtype="DIR_PATH",
                                     description="Where results go (default: vedit_renders next to the media)"),
        "server_url": StringProperty(name="Server", default="http://127.0.0.1:8765"),
        "show_more": BoolProperty(name="More options", default=False),
    }
    for f in FIELDS:
        ann[f.prop] = _PROPS[f.kind](**f.bpy_kwargs())
    return type("VeditSettings", (bpy.types.PropertyGroup,), {"__annotations__": ann})


VeditSettings = _settings_class()


class VeditPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    ca_file: StringProperty(
        name="CA file", subtype="FILE_PATH",
        description="Certificate to trust for an https:// server with a self-signed certificate "
                    "(vedit serve --make-cert writes ~/.config/vedit/tls/cert.pem); empty = $VEDIT_CA_FILE or "
                    "the system's trusted certificates")

    def draw(self, context):
        self.layout.prop(self, "ca_file")


def engine_of(s, op: str) -> str | None:
    """The engine chosen in the panel for ``op`` (the definition's default when unset)."""
    f = next((f for f in FIELDS if f.op == op and f.param == "engine"), None)
    if f is None:
        return None
    v = getattr(s, f.prop)
    return f.schema.get("default") if v == forms.DEFAULT_ITEM else v


def _options(op: str, s) -> dict:
    """Job params from the panel: the fields the editor changed from the op's
    defaults, plus the mask picked (file; a strip is resolved by ``jobs.submit``)."""
    opts = forms.params_from(lambda prop: getattr(s, prop), op, flist=FIELDS)
    mask = s.mask if s.mask_source == "FILE" else ""
    if op == "remove":
        opts["mask"] = mask
    elif op == "replace-bg":
        if mask:
            opts["matte"] = mask
    elif mask:
        opts["mask"] = mask
    elif not opts.get("source") and not opts.get("person"):
        opts["person"] = True  # no keyframe mask and no other source: the person matte
    return opts


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
    params: StringProperty(name="Params", default="",
                           description="Other job params as JSON, e.g. {\"dilate\": 5} (names as on GET /ops)")
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
            if self.params:
                import json

                try:
                    extra = json.loads(self.params)
                except ValueError as exc:
                    return self._fail(f"params is not JSON: {exc}")
                if not isinstance(extra, dict):
                    return self._fail("params must be a JSON object ({\"name\": value, ...})")
                opts.update(extra)
        mask_strip = None
        if strip_name:
            mask_strip = seq.strips.get(strip_name)
            if mask_strip is None:
                return self._fail(f"mask strip {strip_name!r} is not in the timeline of scene {scene.name!r}")
        try:
            cl = _client(s.server_url)
            job = jobs.submit(cl, scene, strip, op, opts, s.output_dir, mask_strip=mask_strip)
        except Exception as exc:
            msg = str(exc) or type(exc).__name__
            if msg.startswith("TLS to "):
                msg += " (in Blender: Edit > Preferences > Add-ons > vedit > CA file)"
            return self._fail(msg)
        STATE["error"] = ""
        job["url"], job["cafile"] = cl.url, getattr(cl, "cafile", None) or ""
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
                _client(job.get("url"), job.get("cafile")).cancel(job["id"])
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
            mask_row("Matte (empty = person)")
        else:
            col.prop(s, "mask", text="Keyframe mask (empty = person)")
        engine = engine_of(s, s.op)
        mine = [f for f in FIELDS if f.op == s.op and forms.applies(f, engine)]
        for f in mine:
            if f.main:
                col.prop(s, f.prop)
        more = col.box()
        more.prop(s, "show_more", icon="TRIA_DOWN" if s.show_more else "TRIA_RIGHT", emboss=False)
        if s.show_more:
            for f in mine:
                if not f.main:
                    more.prop(s, f.prop)
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


CLASSES = (VeditSettings, VeditPreferences, VEDIT_OT_process_strip, VEDIT_OT_cancel_jobs, VEDIT_PT_panel)


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
