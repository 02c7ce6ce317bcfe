"""ComfyUI nodes over the vedit ops, run in-process.

Tensors follow ComfyUI: IMAGE is ``[B,H,W,C]`` float 0..1, MASK is ``[B,H,W]``
(or ``[H,W]``) float 0..1, the batch being the frames of a shot. Frames go
through the same ``vedit.ops`` functions as the CLI, on a lossless PNG
sequence in a temporary folder, so results are the CLI's results. Pixels an op
leaves untouched come back bit-identical to the input tensor (not re-quantised).
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from vedit.ops.forms import comfy_input

CATEGORY = "vedit"


# -- tensor <-> frames -------------------------------------------------------------

def _to_numpy(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().to("cpu").float().numpy()
    return np.asarray(t, dtype=np.float32)


def images_to_u8(images) -> tuple[np.ndarray, np.ndarray]:
    """(float frames [B,H,W,3], uint8 frames) from an IMAGE tensor."""
    a = _to_numpy(images)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images: expected an IMAGE tensor [B,H,W,C], got shape {tuple(a.shape)}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    a = a[..., :3]
    return a, np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)


def masks_to_u8(masks, batch: int, size: tuple[int, int], name: str = "masks") -> np.ndarray:
    """uint8 {0,255} masks [B,H,W]; one mask is used for every frame."""
    m = _to_numpy(masks)
    if m.ndim == 4 and m.shape[-1] in (1, 3, 4):  # an IMAGE wired in as a mask
        m = m[..., 0]
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"{name}: expected a MASK tensor [B,H,W], got shape {tuple(m.shape)}")
    if m.shape[1:] != size:
        hint = ("; Load Image gives an empty 64x64 MASK for an image without alpha: load the mask with "
                "Load Image (as Mask), or use a mask image with alpha") if m.shape[1:] == (64, 64) else \
            "; resize the mask to the images' size (or the images to the mask's)"
        raise ValueError(f"{name}: mask size {m.shape[2]}x{m.shape[1]} differs from the images' "
                         f"{size[1]}x{size[0]}{hint}")
    if m.shape[0] not in (1, batch):
        raise ValueError(f"{name}: {m.shape[0]} masks for {batch} frames; give one mask or one per frame")
    if m.shape[0] == 1 and batch > 1:
        m = np.repeat(m, batch, 0)
    return np.where(m > 0.5, 255, 0).astype(np.uint8)


def _write_pngs(folder: str, frames) -> str:
    import cv2

    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(frames):
        img = f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"cannot write a temporary frame in {folder}")
    return folder


def _read_pngs(folder: str, alpha: bool = False) -> list[np.ndarray]:
    from vedit.io import open_clip

    return list(open_clip(folder).frames(alpha=alpha))


def _from_u8(out_u8: np.ndarray, src_f: np.ndarray | None = None, src_u8: np.ndarray | None = None):
    """Float tensor from uint8 results; where the op left a pixel unchanged the
    original float value is returned exactly."""
    import torch

    out = out_u8.astype(np.float32) / 255.0
    if src_f is not None and src_u8 is not None and src_u8.shape == out_u8.shape:
        same = np.all(out_u8 == src_u8, axis=-1, keepdims=True)
        out = np.where(same, src_f, out)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


class _Progress:
    """ComfyUI progress bar + interrupt, as a vedit ``callback(done, total, stage)``."""

    def __init__(self, total: int):
        self.bar = None
        try:
            import comfy.utils  # type: ignore

            self.bar = comfy.utils.ProgressBar(max(1, total))
        except ImportError:
            pass

    def __call__(self, done, total=None, stage=""):
        try:
            import comfy.model_management as mm  # type: ignore

            mm.throw_exception_if_processing_interrupted()
        except ImportError:
            pass
        if self.bar is not None and total:
            self.bar.update_absolute(int(done), int(total))


def _run_op(op: str, input_path: str, output: str, total: int, **params) -> str:
    from vedit.ops import get_op

    params = {k: v for k, v in params.items() if v is not None and v != ""}
    return get_op(op)(input_path, output, callback=_Progress(total), **params)


# -- nodes -------------------------------------------------------------------------

class VeditRemove:
    """Remove what the mask covers; the hole is filled consistently over the batch."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "masks": ("MASK",),
                "engine": comfy_input("remove", "engine"),
                "dilate": comfy_input("remove", "dilate", max=64),
            },
            "optional": {
                "prompt": comfy_input("remove", "prompt", multiline=True),
                "model": comfy_input("remove", "model"),
                "seed": comfy_input("remove", "seed", max=2**31 - 1),
            },
        }

    def run(self, images, masks, engine="propagate", dilate=None, prompt="", model="", seed=0):
        src_f, src_u8 = images_to_u8(images)
        m = masks_to_u8(masks, len(src_u8), src_u8.shape[1:3])
        with tempfile.TemporaryDirectory(prefix="vedit_comfy_") as tmp:
            inp = _write_pngs(os.path.join(tmp, "in"), src_u8)
            mk = _write_pngs(os.path.join(tmp, "mask"), m)
            out = _run_op("remove", inp, os.path.join(tmp, "out") + "/", len(src_u8), mask=mk, engine=engine,
                          dilate=None if dilate is None else int(dilate), prompt=prompt or None, model=model or None,
                          seed=int(seed) if engine == "diffusion" else None)
            res = np.stack(_read_pngs(out))
        return (_from_u8(res, src_f, src_u8),)


class VeditReplaceBackground:
    """Keep the subject (person matte, or the given matte) and replace the background."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "color": ("STRING", {"default": "#00b140"}),
            },
            "optional": {
                "background": ("IMAGE",),
                "matte": ("MASK",),
                "blur": ("BOOLEAN", {"default": False}),
                "light_wrap": comfy_input("replace-bg", "light_wrap", step=0.05),
                "refine_matte": ("BOOLEAN", {"default": False,
                                             "tooltip": "re-refine a given matte's edges (off: use it as is)"}),
            },
        }

    def run(self, images, color="#00b140", background=None, matte=None, blur=False, light_wrap=0.3,
            refine_matte=False):
        src_f, src_u8 = images_to_u8(images)
        n = len(src_u8)
        with tempfile.TemporaryDirectory(prefix="vedit_comfy_") as tmp:
            inp = _write_pngs(os.path.join(tmp, "in"), src_u8)
            bg = "blur" if blur else color
            if background is not None:
                _, bg_u8 = images_to_u8(background)
                if len(bg_u8) == 1:
                    bg = _write_pngs(os.path.join(tmp, "bg"), bg_u8)
                    bg = os.path.join(bg, "00000.png")
                else:
                    bg = _write_pngs(os.path.join(tmp, "bg"), bg_u8)
            mt, extra = "person", {}
            if matte is not None:
                # a MASK wired in is usually already refined (Vedit Matte): keep it as given
                mt = _write_pngs(os.path.join(tmp, "matte"), masks_to_u8(matte, n, src_u8.shape[1:3], "matte"))
                if not refine_matte:
                    extra = {"refine": False, "smooth": False}
            out = _run_op("replace-bg", inp, os.path.join(tmp, "out") + "/", n, background=bg, matte=mt,
                          light_wrap=float(light_wrap), **extra)
            res = np.stack(_read_pngs(out))
        return (_from_u8(res, src_f, src_u8),)


class VeditMatte:
    """Alpha matte of the subject for every frame: person model, or a keyframe
    mask tracked through the batch. A tracked matte also returns how sure the
    tracker is on each frame (``confidence``, a JSON list, and its minimum),
    so a workflow can show where to add a keyframe; a person matte reports 1."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("MASK", "FLOAT", "STRING")
    RETURN_NAMES = ("matte", "min_confidence", "confidence")
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "source": (["person", "track"], {"default": "person",
                                                 "tooltip": "person: the person model; track: follow keyframe_mask"}),
                "frame": comfy_input("matte", "frame", max=100000),
            },
            "optional": {"keyframe_mask": ("MASK",)},
        }

    def run(self, images, source="person", frame=0, keyframe_mask=None):
        import torch

        _, src_u8 = images_to_u8(images)
        n = len(src_u8)
        if frame >= n:
            raise ValueError(f"frame {frame}: the batch has {n} frames (0..{n - 1})")
        with tempfile.TemporaryDirectory(prefix="vedit_comfy_") as tmp:
            inp = _write_pngs(os.path.join(tmp, "in"), src_u8)
            if source == "track":
                if keyframe_mask is None:
                    raise ValueError("source 'track' needs keyframe_mask (the subject at frame `frame`)")
                km = masks_to_u8(keyframe_mask, 1, src_u8.shape[1:3], "keyframe_mask")[0]
                key = os.path.join(_write_pngs(os.path.join(tmp, "key"), [km]), "00000.png")
                out = _run_op("matte", inp, os.path.join(tmp, "out") + "/", n, mask=key, frame=int(frame))
            else:
                out = _run_op("matte", inp, os.path.join(tmp, "out") + "/", n, person=True)
            alphas = []
            for f in _read_pngs(out, alpha=True):
                a = f[..., 3] if f.ndim == 3 and f.shape[-1] == 4 and f[..., 3].min() < 255 else \
                    (f[..., 0] if f.ndim == 3 else f)
                alphas.append(a.astype(np.float32) / 255.0)
            conf = [1.0] * n
            sidecar = out.rstrip("/" + os.sep) + ".confidence.json"
            if os.path.isfile(sidecar):
                with open(sidecar, encoding="utf-8") as f:
                    conf = [float(c) for c in json.load(f).get("confidence", conf)]
        return torch.from_numpy(np.stack(alphas)), float(min(conf)), json.dumps(conf)


class VeditAnimate:
    """Turn a still into frames: parallax camera move or motion-brush loop."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "engine": comfy_input("animate", "engine"),
                "duration": comfy_input("animate", "duration", default=2.0, min=0.1, max=60.0, step=0.1),
                "fps": comfy_input("animate", "fps", default=24.0),
                "camera": comfy_input("animate", "camera"),
                "loop": comfy_input("animate", "loop"),
            },
            "optional": {
                "motion": ("STRING", {"default": "", "tooltip": "arrows X0,Y0,X1,Y1 separated by spaces"}),
                "region": ("MASK",),
            },
        }

    def run(self, image, engine="parallax", duration=2.0, fps=24.0, camera="dolly-in", loop=False,
            motion="", region=None):
        _, src_u8 = images_to_u8(image)
        still = src_u8[:1]
        with tempfile.TemporaryDirectory(prefix="vedit_comfy_") as tmp:
            img = os.path.join(_write_pngs(os.path.join(tmp, "in"), still), "00000.png")
            params = dict(engine=engine, duration=float(duration), fps=float(fps), loop=bool(loop))
            if engine == "parallax":
                params["camera"] = camera
            if motion.strip():
                try:
                    params["motion"] = [[float(v) for v in arrow.split(",")] for arrow in motion.split()]
                except ValueError:
                    raise ValueError(f"motion {motion!r}: expected arrows X0,Y0,X1,Y1 separated by spaces") from None
                if any(len(a) != 4 for a in params["motion"]):
                    raise ValueError(f"motion {motion!r}: each arrow needs 4 numbers X0,Y0,X1,Y1")
            if region is not None:
                rm = masks_to_u8(region, 1, still.shape[1:3], "region")[:1]
                params["region"] = os.path.join(_write_pngs(os.path.join(tmp, "region"), rm), "00000.png")
            n = max(1, int(round(duration * fps)))
            out = _run_op("animate", img, os.path.join(tmp, "out") + "/", n, **params)
            res = np.stack(_read_pngs(out))
        return (_from_u8(res),)


NODE_CLASS_MAPPINGS = {
    "VeditRemove": VeditRemove,
    "VeditReplaceBackground": VeditReplaceBackground,
    "VeditMatte": VeditMatte,
    "VeditAnimate": VeditAnimate,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "VeditRemove": "Vedit Remove",
    "VeditReplaceBackground": "Vedit Replace Background",
    "VeditMatte": "Vedit Matte",
    "VeditAnimate": "Vedit Animate",
}
