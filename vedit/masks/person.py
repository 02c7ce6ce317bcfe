"""Person mattes from the segmentation models that ship inside the MediaPipe
0.10.14 wheel (no downloads): the selfie segmenter (256x256, close-ups) and the
pose landmarker's segmentation output (much better on full-body shots).

``model='auto'`` picks per shot: the pose model when it sees a body with hips
in frame (full or half body), the selfie model for close-ups or when the pose
detector finds nobody.
"""
from __future__ import annotations

import os
from collections import deque
from typing import Iterator

import numpy as np

from vedit.errors import InvalidInputError, require
from vedit.flow import FlowEstimator, warp
from vedit.io import Clip
from vedit.masks.base import MatteSource

MODELS = ("auto", "pose", "selfie")
_EMPTY = 0.002  # fraction of the frame below which a matte counts as empty


def _mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return require("mediapipe", "person", "the person matte")


class PersonSegmenter:
    """Per-frame person segmentation. ``segment(frame_rgb)`` → float32 HxW in
    [0, 1] at the frame's size (zeros when nobody is found).

    Frames are expected in shot order: the pose model tracks the person from
    frame to frame (faster and steadier than detecting each time). Call
    ``reset()`` between shots.
    """

    def __init__(self, model: str = "auto"):
        if model not in MODELS:
            raise InvalidInputError(f"--person-model {model!r}: choose one of {', '.join(MODELS)}")
        self.requested = model
        self.model = None if model == "auto" else model
        self._mp = _mediapipe()
        self._pose = None
        self._selfie = None
        self._size = None

    # -- models ----------------------------------------------------------------
    def _get_pose(self):
        if self._pose is None:
            self._pose = self._mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=1,  # the only pose model in the wheel
                enable_segmentation=True, smooth_segmentation=False, smooth_landmarks=True)
        return self._pose

    def _get_selfie(self):
        if self._selfie is None:
            self._selfie = self._mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        return self._selfie

    def reset(self) -> None:
        for m in (self._pose, self._selfie):
            if m is not None:
                m.close()
        self._pose = self._selfie = None
        self._size = None
        self.model = None if self.requested == "auto" else self.requested

    def close(self) -> None:
        self.reset()

    def _pose_result(self, frame: np.ndarray):
        res = self._get_pose().process(np.ascontiguousarray(frame[:, :, :3]))
        if res.segmentation_mask is None:
            return None, None
        return np.asarray(res.segmentation_mask, np.float32), res.pose_landmarks

    @staticmethod
    def _is_body_shot(landmarks) -> bool:
        lm = landmarks.landmark
        hips = [lm[i] for i in (23, 24)]
        return any(p.visibility > 0.5 and 0.0 <= p.y <= 1.0 for p in hips)

    # -- API -------------------------------------------------------------------
    def segment(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Person alpha for one RGB uint8 frame."""
        h, w = frame_rgb.shape[:2]
        if self._size is not None and self._size != (w, h):
            # MediaPipe graphs keep per-size state; a new size needs new graphs
            keep = self.model
            self.reset()
            self.model = keep
        self._size = (w, h)
        if self.model is None:  # auto: decide on the first frame with a person
            mask, lms = self._pose_result(frame_rgb)
            if mask is not None and self._is_body_shot(lms):
                self.model = "pose"
                return np.clip(mask, 0, 1)
            if mask is None:
                # the pose detector (face-based) is the person detector: the selfie
                # model paints anything person-like, so it is not trusted to detect
                return np.zeros((h, w), np.float32)
            self.model = "selfie"  # a close-up: pose sees no hips
            return self._selfie_mask(frame_rgb)
        if self.model == "pose":
            mask, _ = self._pose_result(frame_rgb)
            return np.zeros((h, w), np.float32) if mask is None else np.clip(mask, 0, 1)
        return self._selfie_mask(frame_rgb)

    def _selfie_mask(self, frame: np.ndarray) -> np.ndarray:
        res = self._get_selfie().process(np.ascontiguousarray(frame[:, :, :3]))
        m = res.segmentation_mask
        if m is None:
            return np.zeros(frame.shape[:2], np.float32)
        return np.clip(np.asarray(m, np.float32), 0, 1)

    __call__ = segment


class PersonMatteSource(MatteSource):
    """Person matte per frame; frames where the model loses the person are
    filled by carrying the nearest found matte along optical flow, so no
    frame comes out empty. Raises InvalidInputError when nobody is found in
    the whole clip."""

    name = "person"
    description = "person segmentation (MediaPipe pose / selfie models in the wheel)"

    def __init__(self, person_model: str = "auto", max_gap: int = 120, **_):
        if person_model not in MODELS:
            raise InvalidInputError(f"--person-model {person_model!r}: choose one of {', '.join(MODELS)}")
        self.person_model = person_model
        self.max_gap = max_gap
        self.segmenter: PersonSegmenter | None = None
        self.chosen_model: str | None = None

    def stream(self, clip: Clip) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        seg = PersonSegmenter(self.person_model)
        self.segmenter = seg
        flow = FlowEstimator("ultrafast", max_side=320)
        pending: deque = deque()  # leading frames without a person, waiting for one
        last = None  # (frame, alpha) of the last frame with a matte
        found = False
        try:
            for frame in self.work_frames(clip):
                alpha = seg.segment(frame)
                empty = (alpha > 0.5).mean() < _EMPTY
                if not empty:
                    found = True
                    if pending:
                        # carry this matte backwards through the leading empty frames
                        back = [alpha]
                        nxt = frame
                        for pf in reversed(pending):
                            f = flow(pf, nxt)
                            back.append(warp(back[-1], f))
                            nxt = pf
                        for pf, a in zip(pending, reversed(back[1:])):
                            yield pf, a
                        pending.clear()
                    last = (frame, alpha)
                    yield frame, alpha
                elif last is not None:
                    pf, pa = last
                    carried = warp(pa, flow(frame, pf))
                    last = (frame, carried)
                    yield frame, carried
                else:
                    pending.append(frame)
                    if len(pending) > self.max_gap:
                        yield pending.popleft(), np.zeros(frame.shape[:2], np.float32)
            self.chosen_model = seg.model
            if not found:
                raise InvalidInputError(
                    f"no person found in {clip.path} (frames {clip.start}..{clip.start + clip.frame_count - 1}); "
                    "use --mask, --box or --points to say what to matte")
        finally:
            seg.close()
