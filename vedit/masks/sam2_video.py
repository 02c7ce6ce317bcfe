"""SAM 2 video predictor as a matte source, when the ``sam2`` package is
installed (``pip install "vedit-toolkit[sam2]"``) and the user has a local
checkpoint (nothing is downloaded).

A point/box prompt on any frame of the selected range is propagated through
the shot in chunks of ``chunk`` frames: each chunk is written as JPEG frames
to a temporary folder (the predictor's input), prompted with the previous
chunk's last mask (the first with the user's prompt) and propagated, so the
predictor never holds more than ``chunk`` frames and their memory bank.
Frames after the prompt are read as they are needed; the frames before it
are held (at working resolution) to be propagated backwards the same way.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import re
import tempfile
from typing import Any, Iterable, Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, require
from vedit.io import Clip
from vedit.masks.base import MatteSource

#: what ``build_sam2_video_predictor`` sets on top of a model config: the
#: video predictor class and its published post-processing
_VIDEO_OVERRIDES = {
    "_target_": "sam2.sam2_video_predictor.SAM2VideoPredictor",
    "binarize_mask_from_pts_for_mem_enc": True,
    "fill_hole_area": 8,
}
_DECODER_OVERRIDES = {
    "dynamic_multimask_via_stability": True,
    "dynamic_multimask_stability_delta": 0.05,
    "dynamic_multimask_stability_thresh": 0.98,
}


def _from_yaml(config: str):
    """The video predictor model from a config file of the user's own (the
    published configs are found by name inside the ``sam2`` package; a
    file is read here, with the same overrides)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(config)
    model = cfg.model
    for k, v in _VIDEO_OVERRIDES.items():
        model[k] = v
    try:  # hole filling needs the package's compiled extension (a CUDA build)
        import sam2._C  # noqa: F401
    except ImportError:
        model["fill_hole_area"] = 0
    extra = model.get("sam_mask_decoder_extra_args") or {}
    model["sam_mask_decoder_extra_args"] = {**extra, **_DECODER_OVERRIDES}
    OmegaConf.resolve(cfg)
    return instantiate(cfg.model, _recursive_=True)


#: the published checkpoints' names -> their model configs in the ``sam2`` package
_CKPT_NAME = re.compile(r"(sam2(?:\.1)?)_hiera_(tiny|small|base_plus|large)")
_SIZE = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


def _package_config(name: str) -> str | None:
    """The file of config ``name`` inside the installed ``sam2`` package (found
    without importing it), or None."""
    spec = importlib.util.find_spec("sam2")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    return None


def config_for(checkpoint: str | None, config: str | None) -> str:
    """The model config to build ``checkpoint`` with: ``config`` when given (a
    YAML file, or a config name inside the ``sam2`` package), else the
    published config of a published checkpoint's file name
    (``sam2.1_hiera_large.pt`` -> ``configs/sam2.1/sam2.1_hiera_l.yaml``).
    Checked without building anything, so a job is refused at submit."""
    if config:
        if os.path.isfile(config) or _package_config(config) or importlib.util.find_spec("sam2") is None:
            return config
        raise InvalidInputError(f"--sam2-config {config}: neither a YAML file nor a config of the sam2 package "
                                "(e.g. configs/sam2.1/sam2.1_hiera_t.yaml)")
    m = _CKPT_NAME.search(os.path.basename(checkpoint or ""))
    if m is None:
        raise InvalidInputError(f"--sam2-config is needed: {os.path.basename(checkpoint or '')} is not a published "
                                "checkpoint name (give the model's config, e.g. configs/sam2.1/sam2.1_hiera_t.yaml "
                                "or a YAML file)")
    version, size = m.groups()
    return f"configs/{version}/{version}_hiera_{_SIZE[size]}.yaml"


def load_video_predictor(checkpoint: str, config: str, device: str | None = None):
    """The SAM 2 video predictor from a local ``checkpoint`` (.pt) and its
    model ``config``: a config name inside the ``sam2`` package (e.g.
    ``configs/sam2.1/sam2.1_hiera_t.yaml``) or a YAML file of your own."""
    require("sam2", "sam2", "the SAM 2 matte")
    torch = require("torch", "ml", "the SAM 2 matte")

    if not checkpoint or not os.path.isfile(checkpoint):
        raise InvalidInputError(f"--sam2-checkpoint {checkpoint}: file not found (a local SAM 2 .pt checkpoint)")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if os.path.isfile(config):
            model = _from_yaml(config)
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"] if "model" in state else state)
            return model.to(dev).eval()
        from sam2.build_sam import build_sam2_video_predictor

        return build_sam2_video_predictor(config, checkpoint, device=dev)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"--sam2-checkpoint {checkpoint} does not match config {config}: {first}") from None


class Sam2MatteSource(MatteSource):
    """``box`` (x, y, w, h) and/or ``points`` [(x, y), ...] at ``frame``,
    propagated with the SAM 2 video predictor in chunks."""

    name = "sam2"
    description = "SAM 2 video predictor (local checkpoint), propagated in chunks"

    def __init__(self, checkpoint=None, config: str | None = None, frame: int = 0,
                 box=None, points=None, chunk: int = 64, sam_checkpoint=None, **_):
        if box is None and points is None:
            raise InvalidInputError("the SAM 2 matte needs a prompt: --box X,Y,W,H or --points X,Y")
        self.checkpoint = checkpoint or sam_checkpoint
        if not self.checkpoint:
            raise InvalidInputError("the SAM 2 matte needs a local checkpoint: --sam2-checkpoint PATH (.pt)")
        self.config = config_for(self.checkpoint, config)
        self.frame, self.box, self.points = int(frame), box, points
        if int(chunk) < 2:
            raise InvalidInputError(f"chunk {chunk}: SAM 2 propagates at least 2 frames a chunk")
        self.chunk = int(chunk)

    @classmethod
    def from_params(cls, **params: Any) -> Sam2MatteSource:
        """From ``matte_stream``'s names (``sam2_checkpoint``, ``sam2_config``,
        ``chunk_size``)."""
        names = {"sam2_checkpoint": "checkpoint", "sam2_config": "config", "chunk_size": "chunk"}
        return cls(**{names.get(k, k): v for k, v in params.items()})

    def check(self, clip: Clip) -> None:
        if not 0 <= self.frame < clip.frame_count:
            raise InvalidInputError(f"--frame {self.frame} is outside the selected range (0..{clip.frame_count - 1})")
        self.predictor = load_video_predictor(self.checkpoint, self.config)

    def _propagate(self, frames: list[np.ndarray], prompt) -> list[np.ndarray]:
        """Masks for ``frames`` (frame 0 carries ``prompt``: a bool mask, or
        the user's box/points in ``frames[0]``'s pixels)."""
        import torch

        p = self.predictor
        out: list[np.ndarray] = [np.zeros(frames[0].shape[:2], bool)] * len(frames)
        with tempfile.TemporaryDirectory(prefix="vedit-sam2-") as tmp:
            for i, f in enumerate(frames):
                cv2.imwrite(os.path.join(tmp, f"{i:05d}.jpg"), cv2.cvtColor(f[:, :, :3], cv2.COLOR_RGB2BGR))
            with torch.inference_mode():
                state = p.init_state(video_path=tmp)
                if isinstance(prompt, np.ndarray):
                    p.add_new_mask(state, frame_idx=0, obj_id=1, mask=prompt)
                else:
                    box, pts = prompt
                    kw = {}
                    if box is not None:
                        x, y, w, h = box
                        kw["box"] = np.array([x, y, x + w, y + h], np.float32)
                    if pts is not None:
                        kw["points"] = np.asarray(pts, np.float32)
                        kw["labels"] = np.ones(len(pts), np.int32)
                    p.add_new_points_or_box(state, frame_idx=0, obj_id=1, **kw)
                for idx, _, logits in p.propagate_in_video(state):
                    out[idx] = (logits[0, 0] > 0).cpu().numpy()
                p.reset_state(state)
        return out

    def _chunks(self, frames: Iterable[np.ndarray], prompt) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(frame, mask)`` for ``frames`` (read lazily), ``chunk`` frames
        at a time: each chunk starts on the previous chunk's last frame,
        prompted with its mask."""
        it = iter(frames)
        part = list(itertools.islice(it, self.chunk))
        last = prompt
        first = True
        while part:
            masks = self._propagate(part, last)
            skip = 0 if first else 1
            yield from zip(part[skip:], masks[skip:])
            more = list(itertools.islice(it, self.chunk - 1))
            if not more:
                return
            part, last, first = [part[-1]] + more, masks[-1], False

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        it = self.work_frames(clip)  # working resolution keeps the JPEG chunks small
        k = self.frame
        before = list(itertools.islice(it, k + 1))  # up to and including the prompt frame
        s = before[0].shape[1] / clip.width
        box = None if self.box is None else tuple(v * s for v in self.box)
        pts = None if self.points is None else [(x * s, y * s) for x, y in self.points]
        prompt = (box, pts)
        if k:
            back = [m for _, m in self._chunks(before[::-1], prompt)][::-1]
            for f, m in zip(before[:k], back[:k]):
                yield f, m.astype(np.float32)
            del back
        key = before[-1]
        before.clear()
        for f, m in self._chunks(itertools.chain([key], it), prompt):
            yield f, m.astype(np.float32)
