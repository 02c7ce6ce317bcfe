"""SAM 2 video predictor as a matte source, when the ``sam2`` package is
installed and the user has a local checkpoint (nothing is downloaded).

A point/box prompt on any frame of the selected range is propagated through
the shot in chunks of ``chunk`` frames: each chunk is written as JPEG frames
to a temporary folder (the predictor's input), prompted with the previous
chunk's last mask (the first with the user's prompt) and propagated, so
memory stays bounded on long shots. Frames before the prompt frame are
propagated backwards the same way.

This engine is not exercised by the test suite here: the ``sam2`` package
could not be installed in this environment (it would replace the pinned
torch build).
"""
from __future__ import annotations

import os
import tempfile
from typing import Iterator

import cv2
import numpy as np

from vedit.errors import InvalidInputError, require
from vedit.io import Clip
from vedit.masks.base import MatteSource


def load_video_predictor(checkpoint: str, config: str, device: str | None = None):
    """The SAM 2 video predictor from a local ``checkpoint`` (.pt) and its
    model ``config`` (e.g. ``configs/sam2.1/sam2.1_hiera_t.yaml``)."""
    require("sam2", "sam2", "the SAM 2 matte")
    torch = require("torch", "ml", "the SAM 2 matte")
    from sam2.build_sam import build_sam2_video_predictor

    if not checkpoint or not os.path.isfile(checkpoint):
        raise InvalidInputError(f"--sam2-checkpoint {checkpoint}: file not found (a local SAM 2 .pt checkpoint)")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return build_sam2_video_predictor(config, checkpoint, device=dev)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise InvalidInputError(f"--sam2-checkpoint {checkpoint} does not match config {config}: {exc}") from None


class Sam2MatteSource(MatteSource):
    """``box`` (x, y, w, h) and/or ``points`` [(x, y), ...] at ``frame``,
    propagated with the SAM 2 video predictor in chunks."""

    name = "sam2"
    description = "SAM 2 video predictor (local checkpoint), propagated in chunks"

    def __init__(self, checkpoint=None, config: str = "configs/sam2.1/sam2.1_hiera_t.yaml", frame: int = 0,
                 box=None, points=None, chunk: int = 64, **_):
        if box is None and points is None:
            raise InvalidInputError("the SAM 2 matte needs a prompt: --box X,Y,W,H or --points X,Y")
        self.checkpoint, self.config = checkpoint, config
        self.frame, self.box, self.points = int(frame), box, points
        self.chunk = max(2, int(chunk))

    def check(self, clip: Clip) -> None:
        if not 0 <= self.frame < clip.frame_count:
            raise InvalidInputError(f"--frame {self.frame} is outside the selected range (0..{clip.frame_count - 1})")
        self.predictor = load_video_predictor(self.checkpoint, self.config)

    def _propagate(self, frames: list[np.ndarray], prompt, reverse: bool = False) -> list[np.ndarray]:
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

    def _chunks(self, frames: list[np.ndarray], prompt) -> Iterator[np.ndarray]:
        last = prompt
        i = 0
        while i < len(frames):
            part = frames[i:i + self.chunk] if i == 0 else frames[i - 1:i - 1 + self.chunk]
            masks = self._propagate(part, last)
            yield from (masks if i == 0 else masks[1:])
            i += len(part) if i == 0 else len(part) - 1
            last = masks[-1]

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        frames = list(self.work_frames(clip))  # working resolution keeps the JPEG chunks small
        s = frames[0].shape[1] / clip.width
        box = None if self.box is None else tuple(v * s for v in self.box)
        pts = None if self.points is None else [(x * s, y * s) for x, y in self.points]
        k = self.frame
        fwd = list(self._chunks(frames[k:], (box, pts)))
        back = list(self._chunks(frames[:k + 1][::-1], (box, pts)))[1:][::-1] if k else []
        for f, m in zip(frames, back + fwd):
            yield f, m.astype(np.float32)
