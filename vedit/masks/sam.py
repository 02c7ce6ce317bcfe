"""Segment Anything (v1) with a user-supplied checkpoint: point/box prompts on a
keyframe, then tracked through the shot with SAM re-prompted on every frame
from the tracked box (drift control).

The architecture is read from the checkpoint itself (embedding width, depth,
heads, which blocks use global attention), so vit_b/vit_l/vit_h checkpoints
and smaller custom ones load through the same code, and a checkpoint that is
not the ``--sam-model`` asked for is reported instead of failing deep inside
``load_state_dict``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

import numpy as np

from vedit.errors import InvalidInputError, MissingWeightsError, require
from vedit.io import Clip
from vedit.masks.base import MatteSource

if TYPE_CHECKING:
    from segment_anything import SamPredictor

KNOWN = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
MODEL_TYPES = ("vit_b", "vit_l", "vit_h")


def _state_dict(path: str):
    torch = require("torch", "ml", "the SAM matte")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise InvalidInputError(f"--sam-checkpoint {path}: not a readable PyTorch checkpoint ({exc})") from None
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    if not isinstance(sd, dict) or "image_encoder.patch_embed.proj.weight" not in sd:
        raise InvalidInputError(
            f"--sam-checkpoint {path}: not a segment-anything checkpoint (no image_encoder weights); "
            "use sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or sam_vit_h_4b8939.pth")
    return sd


def describe_checkpoint(sd: dict) -> dict:
    """Encoder hyper-parameters read from a SAM state dict."""
    dim = int(sd["image_encoder.patch_embed.proj.weight"].shape[0])
    blocks = sorted({int(k.split(".")[2]) for k in sd if k.startswith("image_encoder.blocks.")})
    depth = len(blocks)
    rel = sd.get("image_encoder.blocks.0.attn.rel_pos_h")
    head_dim = int(rel.shape[1]) if rel is not None else 64
    heads = max(1, dim // head_dim)
    glob = [i for i in blocks
            if f"image_encoder.blocks.{i}.attn.rel_pos_h" in sd
            and sd[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0] > 2 * 14 - 1]
    return {"embed_dim": dim, "depth": depth, "heads": heads, "global_attn_indexes": glob,
            "type": KNOWN.get(dim, "custom")}


def load_sam(checkpoint: str, model_type: str = "vit_b", device: str | None = None):
    """Build a SAM model from a local checkpoint (see module doc)."""
    if model_type not in MODEL_TYPES:
        raise InvalidInputError(f"--sam-model {model_type!r}: choose one of {', '.join(MODEL_TYPES)}")
    if not checkpoint:
        raise MissingWeightsError(
            "the SAM matte needs --sam-checkpoint PATH (a segment-anything checkpoint such as sam_vit_b_01ec64.pth)")
    checkpoint = os.fspath(checkpoint)
    if not os.path.isfile(checkpoint):
        raise MissingWeightsError(
            f"--sam-checkpoint {checkpoint}: file not found; download a segment-anything checkpoint "
            "(e.g. sam_vit_b_01ec64.pth) and pass its local path")
    sd = _state_dict(checkpoint)
    info = describe_checkpoint(sd)
    if info["type"] != "custom" and info["type"] != model_type:
        raise InvalidInputError(
            f"--sam-checkpoint {checkpoint} is a {info['type']} checkpoint, not {model_type}; "
            f"pass --sam-model {info['type']}")
    build = require("segment_anything.build_sam", "ml", "the SAM matte")
    sam = build._build_sam(encoder_embed_dim=info["embed_dim"], encoder_depth=info["depth"],
                           encoder_num_heads=info["heads"],
                           encoder_global_attn_indexes=info["global_attn_indexes"], checkpoint=None)
    try:
        sam.load_state_dict(sd)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise InvalidInputError(
            f"--sam-checkpoint {checkpoint}: weights do not fit a {info['type']} SAM "
            f"({first[1].strip() if len(first) > 1 else first[0]})") from None
    sam.eval()
    if device:
        sam.to(device)
    return sam


def parse_points(points, width: int, height: int) -> np.ndarray:
    """"X,Y[,X,Y...]" or a sequence of (x, y) → Nx2 float array, inside the frame."""
    if isinstance(points, str):
        try:
            vals = [float(v) for v in points.replace(" ", "").split(",") if v]
        except ValueError:
            raise InvalidInputError(f"--points {points!r}: expected X,Y[,X,Y...] in pixels") from None
    else:
        vals = [float(v) for p in points for v in (p if isinstance(p, (list, tuple)) else [p])]
    if not vals or len(vals) % 2:
        raise InvalidInputError(f"--points {points!r}: expected pairs X,Y[,X,Y...] in pixels")
    pts = np.asarray(vals, np.float64).reshape(-1, 2)
    bad = (pts[:, 0] < 0) | (pts[:, 0] >= width) | (pts[:, 1] < 0) | (pts[:, 1] >= height)
    if bad.any():
        x, y = pts[bad][0]
        raise InvalidInputError(
            f"--points {x:g},{y:g} is outside the {width}x{height} frame; give points inside the frame")
    return pts


class SamMatteSource(MatteSource):
    """SAM prompted with points and/or a box on keyframe ``frame``; tracked
    through the shot and re-prompted per frame from the tracked box."""

    name = "sam"
    description = "Segment Anything with a user checkpoint"

    @classmethod
    def from_params(cls, **params):
        """``sam_checkpoint``/``sam_model`` (the ops' names) are this source's
        ``checkpoint``/``model_type``."""
        return cls(checkpoint=params.get("sam_checkpoint"), model_type=params.get("sam_model") or "vit_b",
                   frame=params.get("frame") or 0, box=params.get("box"), points=params.get("points"))

    def __init__(self, checkpoint=None, model_type: str = "vit_b", frame: int = 0, box=None, points=None,
                 device: str | None = None, **_):
        if box is None and points is None:
            raise InvalidInputError("the SAM matte needs a prompt: --points X,Y[,X,Y...] and/or --box X,Y,W,H")
        if model_type not in MODEL_TYPES:
            raise InvalidInputError(f"--sam-model {model_type!r}: choose one of {', '.join(MODEL_TYPES)}")
        if not checkpoint:
            raise MissingWeightsError(
                "the SAM matte needs --sam-checkpoint PATH (a segment-anything checkpoint such as sam_vit_b_01ec64.pth)")
        self.checkpoint, self.model_type = checkpoint, model_type
        self.frame, self.box, self.points, self.device = int(frame), box, points, device
        self.predictor: SamPredictor | None = None  # made by check(), which loads the checkpoint

    def check(self, clip: Clip) -> None:
        from vedit.masks.sources import parse_box

        if self.box is not None:
            self.box = parse_box(self.box, clip.width, clip.height)
        if self.points is not None:
            self.points = parse_points(self.points, clip.width, clip.height)
        if not 0 <= self.frame < clip.frame_count:
            raise InvalidInputError(f"--frame {self.frame} is outside the selected range (0..{clip.frame_count - 1})")
        sam = load_sam(self.checkpoint, self.model_type, self.device)
        from segment_anything import SamPredictor

        self.predictor = SamPredictor(sam)

    def _predict(self, frame: np.ndarray, points=None, box=None) -> tuple[np.ndarray, float]:
        import torch

        predictor = self.predictor
        if predictor is None:
            raise RuntimeError("SamMatteSource.check(clip) loads the model; call it before predicting")
        predictor.set_image(np.ascontiguousarray(frame[:, :, :3]))
        kw = {}
        if points is not None and len(points):
            kw["point_coords"] = np.asarray(points, np.float32)
            kw["point_labels"] = np.ones(len(points), np.int32)
        if box is not None:
            kw["box"] = np.asarray(box, np.float32)
        with torch.inference_mode():
            masks, scores, _ = predictor.predict(multimask_output=True, **kw)
        i = int(np.argmax(scores))
        return masks[i].astype(np.float32), float(scores[i])

    def keyframe_alpha(self, frame: np.ndarray, clip: Clip) -> np.ndarray:
        s = frame.shape[1] / clip.width
        pts = None if self.points is None else self.points * s
        box = None
        if self.box is not None:
            x, y, w, h = self.box
            box = np.array([x, y, x + w, y + h], np.float64) * s
        m, _ = self._predict(frame, pts, box)
        if not (m > 0.5).any():
            raise InvalidInputError("SAM found nothing at the given prompt on the keyframe; move the points or the box")
        return m

    def anchor(self, frame: np.ndarray, tracker) -> np.ndarray | None:
        """SAM re-prompted with the box (and centre point) of the tracked object."""
        core = tracker.core
        ys, xs = np.nonzero(core)
        if len(xs) < 10:
            return None
        h, w = core.shape
        pad = 0.05 * max(xs.max() - xs.min(), ys.max() - ys.min()) + 2
        box = np.array([max(0, xs.min() - pad), max(0, ys.min() - pad),
                        min(w - 1, xs.max() + pad), min(h - 1, ys.max() + pad)])
        import cv2

        dist = cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, 3)
        cy, cx = np.unravel_index(int(np.argmax(dist)), dist.shape)
        m, score = self._predict(frame, np.array([[cx, cy]], np.float64), box)
        return m if (m > 0.5).any() else None

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from vedit.masks.track import _track_stream

        if self.predictor is None:
            self.check(clip)
        yield from _track_stream(self, clip)
