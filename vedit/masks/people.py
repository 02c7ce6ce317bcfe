"""Every person in the shot, each as an identity of its own, from the models
inside the MediaPipe 0.10.14 wheel (no downloads).

The wheel's pose detector and pose landmark model (with its segmentation
output) are bundled at run time into the MediaPipe Tasks pose landmarker,
which returns several people per image. The detector sees a 224 px square,
so people far from the camera vanish in a whole-frame view; it therefore
also scans overlapping tiles at two smaller scales (a person ~50 px tall in
a 720p frame is ~47 px tall in the smallest tile's detector input).

Each found person becomes a track with a landmarker of its own: every frame
it runs on a square crop around the track's predicted box (constant-velocity
motion; the crop stays put while the person keeps well inside it). For
people taller than the model's input it runs in video mode: while it keeps
the person it follows them from its own last landmarks, so the pose
detector does not run again (one model run per person and frame); smaller
people, which video mode loses, are detected in their crop every frame. The
segmentation is computed at crop scale,
not at the frame's, so small people get the model's full 256 px; a crop the
model's input shrinks more than the working frame is read from that frame
(its corners lie on its grid), with the same pixels for a fraction of the work. The tile
scan runs fully on the first frame (the whole frame, then each smaller scale
with the people found so far greyed out) and then one window every third
frame: the whole frame every fourth time, else the next tile of a round
robin; people already followed are greyed out, so the detector looks only
for somebody new and the landmark model does not run on them again. A
person who walks in is picked up within a second (large) to a few seconds
(the smallest), at a fixed cost per frame.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np

from vedit.errors import InvalidInputError
from vedit.runtime import import_mediapipe as _mediapipe  # MediaPipe, its native log lines kept quiet

CROP_SIDE = 256  # the landmark model's input: crops larger than this are shrunk first
_OVERLAP_NEW = 0.3  # a detection overlapping a track's box by this much (IoU or containment) is that track


_BUNDLE: bytes | None = None
_BUNDLE_LOCK = threading.Lock()
# (name in the bundle, model file in the wheel, input mean, input std, outputs)
_SOURCES = (("pose_detector.tflite", "pose_detection/pose_detection.tflite", 127.5, 127.5, 2),
            ("pose_landmarks_detector.tflite", "pose_landmark/pose_landmark_full.tflite", 0.0, 255.0, 5))
_BUNDLE_FORMAT = 1  # part of the cache key: raise it when what goes into the bundle changes


def pose_bundle() -> bytes:
    """The wheel's pose detector and landmark model as a Tasks bundle (bytes):
    the Tasks API needs each model's input normalisation in its metadata,
    which the legacy models lack, so it is written here ([-1, 1] for the
    detector, [0, 1] for the landmark model). Written once per MediaPipe
    install and kept under ``$VEDIT_HOME/cache`` (the metadata writer costs
    more CPU than making a landmarker); the same bytes either way."""
    global _BUNDLE
    with _BUNDLE_LOCK:
        if _BUNDLE is None:
            _BUNDLE = _cached_bundle()
    return _BUNDLE


def _model_root() -> str:
    return os.path.join(os.path.dirname(_mediapipe().__file__), "modules")


def bundle_cache_path() -> Path:
    """Where this install's bundle is cached: the file name carries a key of
    the MediaPipe version, the model files (size, modification time) and the
    normalisation written, so a changed install or format never reads an old
    bundle."""
    from vedit.models.config import vedit_home

    root = _model_root()
    stats = [(rel, os.stat(os.path.join(root, rel)).st_size, os.stat(os.path.join(root, rel)).st_mtime_ns)
             for _, rel, *_ in _SOURCES]
    key = repr([_BUNDLE_FORMAT, getattr(_mediapipe(), "__version__", "?"), _SOURCES, stats])
    return vedit_home() / "cache" / f"pose_landmarker-{hashlib.sha256(key.encode()).hexdigest()[:20]}.task"


def _valid_bundle(data: bytes) -> bool:
    """A whole bundle: a zip holding exactly the two models, every CRC right
    (a truncated or damaged cache file is built again)."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            return sorted(z.namelist()) == sorted(name for name, *_ in _SOURCES) and z.testzip() is None
    except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt
        return False


def build_pose_bundle() -> bytes:
    """The bundle written from the wheel's model files (no cache)."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer as mw

    root = _model_root()

    def with_meta(rel: str, mean: float, std: float, outputs: int) -> bytes:
        with open(os.path.join(root, rel), "rb") as f:
            w = mw.MetadataWriter.create(bytearray(f.read())).add_general_info(os.path.basename(rel))
        w.add_image_input([mean], [std])
        for i in range(outputs):
            w.add_feature_output(name=f"output_{i}")
        return bytes(w.populate()[0])

    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, rel, mean, std, outputs in _SOURCES:
            # a fixed date: the same models give the same bytes
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), with_meta(rel, mean, std, outputs))
    return buf.getvalue()


def _cached_bundle() -> bytes:
    path = bundle_cache_path()
    try:
        data = path.read_bytes()
        if _valid_bundle(data):
            return data
    except OSError:
        pass
    data = build_pose_bundle()
    try:
        # folders private to the user (0700); written under a temporary name
        # and renamed, so a reader never sees half a file
        os.makedirs(path.parent.parent, mode=0o700, exist_ok=True)
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or missing home: built again next time
    return data


class PoseModel:
    """One Tasks pose landmarker: ``people(rgb)`` → list of (box x0, y0, x1,
    y1 in the image's pixels, mask float32 HxW or None).

    Image mode (``video=False``) runs the detector on every image; video mode
    follows the people it found from their landmarks in the previous image
    and runs the detector only when it has lost them (about 40% less work a
    frame for one person), so its images must show the same people in the
    same order of time (a crop that moves with its person does)."""

    def __init__(self, num_poses: int = 2, detection: float = 0.3, presence: float = 0.3, video: bool = False,
                 tracking: float = 0.7):
        mp = _mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.video = bool(video)
        self.key = (int(num_poses), float(detection), float(presence), self.video, float(tracking))
        self._ms = 0
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=pose_bundle()), num_poses=int(num_poses),
            output_segmentation_masks=True,
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            min_pose_detection_confidence=detection, min_pose_presence_confidence=presence,
            min_tracking_confidence=tracking)
        self._lm = vision.PoseLandmarker.create_from_options(opts)

    def people(self, rgb: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb[:, :, :3]))
        if self.video:
            self._ms += 40  # the landmarker needs rising timestamps; it does not use their spacing
            res = self._lm.detect_for_video(img, self._ms)
        else:
            res = self._lm.detect(img)
        h, w = rgb.shape[:2]
        out = []
        masks = res.segmentation_masks or []
        for i, lms in enumerate(res.pose_landmarks):
            pts = np.array([(p.x, p.y) for p in lms if (p.visibility or 0) > 0.3] or [(p.x, p.y) for p in lms],
                           np.float32)
            box = np.array([pts[:, 0].min() * w, pts[:, 1].min() * h, pts[:, 0].max() * w, pts[:, 1].max() * h])
            m = np.asarray(masks[i].numpy_view(), np.float32) if i < len(masks) else None
            if m is not None:
                # the box is the joints' (tracking follows it): the mask also
                # paints whoever else stands in the model's view, so it is
                # kept within a quarter of the person's height around them
                # (hair, clothes and a held thing beyond the joints stay)
                pad = max(4.0, 0.25 * (box[3] - box[1]))
                x0, y0 = int(max(0, box[0] - pad)), int(max(0, box[1] - pad))
                x1, y1 = int(min(w, box[2] + pad + 1)), int(min(h, box[3] + pad + 1))
                near = np.zeros_like(m)
                near[y0:y1, x0:x1] = m[y0:y1, x0:x1]
                m = near
            out.append((box, m))
        return out

    def close(self) -> None:
        self._lm.close()


class _Idle:
    """Landmarkers no track or tracker uses now, kept for the next one in
    this process (making one costs as much as several frames: a job server
    or a second pass then starts at once). A video-mode one still holds its
    last person; its next user starts on a new crop, which it re-reads
    (:meth:`PeopleTracker._segment`)."""

    KEEP = 4  # of each kind

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple, list[PoseModel]] = {}

    def put(self, model: PoseModel) -> None:
        with self._lock:
            kept = self._models.setdefault(model.key, [])
            if len(kept) < self.KEEP:
                kept.append(model)
                return
        model.close()

    def take(self, num_poses: int, video: bool, detection: float = 0.3, presence: float = 0.3) -> PoseModel | None:
        """An idle landmarker made with these settings (see :class:`PoseModel`), if any."""
        with self._lock:
            kept = self._models.get((num_poses, detection, presence, video, 0.7))
            return kept.pop() if kept else None


_IDLE = _Idle()


def _box_of(mask: np.ndarray) -> np.ndarray | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


def _iou(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(IoU, intersection over the smaller box) of two x0, y0, x1, y1 boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    aa = (a[2] - a[0]) * (a[3] - a[1])
    ab = (b[2] - b[0]) * (b[3] - b[1])
    return inter / max(aa + ab - inter, 1e-9), inter / max(min(aa, ab), 1e-9)


def _inside(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of box ``a`` that lies inside box ``b``."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / max((a[2] - a[0]) * (a[3] - a[1]), 1e-9)


def scan_tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Detection windows (x0, y0, x1, y1): the whole frame, then square tiles
    of a half and a third of the frame's short side overlapping by a third
    (a person a fifteenth of the frame tall, 50 px at 720p, is a fifth of the
    smallest tile: what the 224 px detector still finds)."""
    tiles = [(0, 0, width, height)]
    short = min(width, height)
    for side in (short // 2, short // 3):
        if side < 96:
            break
        step = max(1, int(side * 2 / 3))
        xs = list(range(0, max(1, width - side), step)) + [max(0, width - side)]
        ys = list(range(0, max(1, height - side), step)) + [max(0, height - side)]
        tiles += [(x, y, x + side, y + side) for y in dict.fromkeys(ys) for x in dict.fromkeys(xs)]
    return tiles


@dataclass
class Track:
    """One person through the shot."""

    id: int
    box: np.ndarray  # x0, y0, x1, y1 in the frame's pixels
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # of the centre (x, y, x, y)
    missed: int = 0
    hits: int = 0
    public: int = 0  # the id users see (0 until the person is confirmed)
    mask: np.ndarray | None = None  # last matte (output size)
    model: PoseModel | None = None  # its own video-mode landmarker (made on its first crop)
    crop: tuple[int, int, int] | None = None  # x0, y0, side of the square the model sees

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity


class PeopleTracker:
    """Finds and follows every person; ``step(frame_rgb)`` → {track id:
    float32 alpha at the frame's size} for the people seen (or briefly
    predicted) in that frame. Ids count from 1 in order of appearance (left
    to right among those found on the same frame).

    ``scan_per_frame`` detection tiles are scanned every ``scan_every``-th
    frame after the first (which scans them all); ``patience`` frames without the model
    finding a track's person end the track (its matte is carried along its
    motion meanwhile). ``workers`` landmarkers run the per-person crops side
    by side (MediaPipe releases the GIL)."""

    def __init__(self, scan_per_frame: int = 1, patience: int = 8, workers: int | None = None,
                 crop_scale: float = 1.6, scan_every: int = 3):
        self.scan_per_frame = max(0, int(scan_per_frame))
        self.scan_every = max(1, int(scan_every))
        self.patience = max(0, int(patience))
        n = max(1, min(2, int(workers) if workers else (os.cpu_count() or 1)))
        # scans: fewer false people
        self._detector = _IDLE.take(4, False, 0.5, 0.5) or PoseModel(num_poses=4, detection=0.5, presence=0.5)
        self._pool = ThreadPoolExecutor(n, thread_name_prefix="vedit-people") if n > 1 else None
        self.crop_scale = float(crop_scale)
        self.tracks: list[Track] = []
        self._next_id = 1
        self._next_public = 1
        self._tiles: list[tuple[int, int, int, int]] | None = None
        self._cursor = 0
        self._scans = 0
        self.frames = 0
        self._ratio = 1  # the frame's size over the working frame's, when a whole number (else 1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for t in self.tracks:
            self._drop_model(t)
        _IDLE.put(self._detector)

    @staticmethod
    def _drop_model(track: Track) -> None:
        if track.model is not None:
            _IDLE.put(track.model)
            track.model = None

    @staticmethod
    def _model_for(video: bool) -> PoseModel:
        return _IDLE.take(1, video) or PoseModel(num_poses=1, video=video)

    # -- detection ---------------------------------------------------------------
    def _detect(self, frame: np.ndarray, tiles, known: list[np.ndarray]) -> list[np.ndarray]:
        """Detections (frame boxes) in ``tiles``, with the ``known`` people's
        boxes greyed out first: the detector then looks for somebody new, and
        the landmark model does not run again on people already followed."""
        boxes = []
        for x0, y0, x1, y1 in tiles:
            sub = frame[y0:y1, x0:x1]
            hide = [np.clip(b - [x0, y0, x0, y0], 0, [x1 - x0, y1 - y0, x1 - x0, y1 - y0]).astype(int)
                    for b in known]
            hide = [b for b in hide if b[2] > b[0] and b[3] > b[1]]
            if hide:
                sub = sub.copy()
                for bx0, by0, bx1, by1 in hide:
                    sub[by0:by1, bx0:bx1] = 127
            s = min(1.0, 320 / max(sub.shape[:2]))
            if s < 1:
                sub = cv2.resize(sub, (max(8, round(sub.shape[1] * s)), max(8, round(sub.shape[0] * s))),
                                 interpolation=cv2.INTER_AREA)
            for box, _ in self._detector.people(sub):
                boxes.append(box / s + np.array([x0, y0, x0, y0]))
        return boxes

    def _known(self) -> list[np.ndarray]:
        """The boxes of the people followed now, a little grown (a detection
        of them sticks out of their joints' box)."""
        out = []
        for t in self.tracks:
            b = t.box
            g = 0.1 * np.array([-(b[2] - b[0]), -(b[3] - b[1]), b[2] - b[0], b[3] - b[1]])
            out.append(b + g)
        return out

    def _next_tiles(self) -> list[tuple[int, int, int, int]]:
        """The next ``scan_per_frame`` tiles to scan: the whole frame every
        fourth scan (somebody walking in is large), else the next tiles of
        the round robin, passing over those that lie inside a tracked
        person's box (nobody new fits there)."""
        assert self._tiles is not None
        self._scans += 1
        if self._scans % 4 == 0:
            return [self._tiles[0]]
        n, pick = len(self._tiles) - 1, []
        for _ in range(n):
            t = self._tiles[1 + self._cursor]
            self._cursor = (self._cursor + 1) % n
            if not any(_inside(np.array(t, np.float64), k.box) > 0.9 for k in self.tracks):
                pick.append(t)
                if len(pick) >= self.scan_per_frame:
                    break
        return pick

    def _adopt(self, boxes: list[np.ndarray], frame_shape) -> None:
        """New tracks for the detections that are nobody's yet (largest first,
        so a tile's partial view of a person already found is not a second one)."""
        h, w = frame_shape[:2]
        new: list[np.ndarray] = []
        for b in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
            b = np.clip(b, 0, [w, h, w, h])
            if (b[2] - b[0]) < 4 or (b[3] - b[1]) < 8:
                continue
            known = [t.box for t in self.tracks] + new
            if any(max(_iou(b, k)) > _OVERLAP_NEW for k in known):
                continue
            new.append(b)
        for b in sorted(new, key=lambda b: b[0]):
            self.tracks.append(Track(self._next_id, b, hits=1))  # the detection is the first sighting
            self._next_id += 1

    # -- per-person segmentation -------------------------------------------------
    def _crop_box(self, track: Track, box: np.ndarray) -> tuple[int, int, int]:
        """The square crop (x0, y0, side) the track's model sees: it stays
        where it is while ``box`` keeps well inside it at a similar scale
        (the video-mode landmarker follows the person in the crop's
        coordinates, and a still crop keeps them valid), else a new one
        around ``box``. It may reach past the frame (padded), so the person
        keeps their place and scale in it at the frame's edges too."""
        need = self.crop_scale * max(box[2] - box[0], box[3] - box[1], 24)
        if track.crop is not None:
            x0, y0, side = track.crop
            m = 0.05 * side
            if (0.45 * side <= need <= side and box[0] >= x0 + m and box[1] >= y0 + m
                    and box[2] <= x0 + side - m and box[3] <= y0 + side - m):
                return track.crop
        side = max(8, int(round(1.15 * need)))  # room to move and grow before the next one
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        # corners on the working frame's grid (moved by at most half its
        # pixel), so a large crop can be read from it (_segment)
        r = self._ratio
        side = -(-side // r) * r
        track.crop = (int(round((cx - side / 2) / r)) * r, int(round((cy - side / 2) / r)) * r, side)
        return track.crop

    def _segment(self, frame: np.ndarray, track: Track, small: np.ndarray | None = None):
        h, w = frame.shape[:2]
        pred = track.predicted()
        before = track.crop
        x0, y0, side = self._crop_box(track, pred)
        ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
        if ix1 - ix0 < 4 or iy1 - iy0 < 4:
            return None
        s = min(1.0, CROP_SIDE / side)
        n = max(8, round(side * s))
        # the part inside the frame, shrunk, then padded to the square
        px0, py0 = round((ix0 - x0) * s), round((iy0 - y0) * s)
        px1, py1 = max(px0 + 1, round((ix1 - x0) * s)), max(py0 + 1, round((iy1 - y0) * s))
        r = self._ratio
        if small is not None and r > 1 and s * r <= 1 and not (ix0 % r or iy0 % r or ix1 % r or iy1 % r):
            # the crop shrinks at least as much as the working frame: its
            # area average is taken from that frame (an r x r block average
            # already), at a fraction of the pixels; the crop's corners are on
            # its grid (see _crop_box)
            sub = small[iy0 // r:iy1 // r, ix0 // r:ix1 // r]
        else:
            sub = frame[iy0:iy1, ix0:ix1]
        if s < 1:
            sub = cv2.resize(sub, (px1 - px0, py1 - py0), interpolation=cv2.INTER_AREA)
        crop = sub if (px0, py0, px1, py1) == (0, 0, n, n) else \
            cv2.copyMakeBorder(sub, py0, n - py1, px0, n - px1, cv2.BORDER_CONSTANT)
        if track.model is None:
            # video mode (no detector once it has the person) for people the
            # crop shrinks to the model's size; below that it loses them
            # often (a 95 px person in the four-person test clip: recall
            # 0.27 against 0.79 in image mode)
            track.model = self._model_for(video=s < 1)
        if track.model.video and track.crop != before:
            # a new crop: the landmarker's view from the last frame is in the
            # old crop's coordinates; one run on this crop moves it (or, lost,
            # makes the next run detect), the second is the result
            track.model.people(crop)
        best, score = None, 0.0
        for box, m in track.model.people(crop):
            fb = box / s + np.array([x0, y0, x0, y0])
            iou, contain = _iou(fb, pred)
            if max(iou, 0.5 * contain) > score and m is not None:
                best, score = (fb, m), max(iou, 0.5 * contain)
        if best is None or score < 0.1:
            return None
        fb, m = best
        fb = np.clip(fb, 0, [w, h, w, h])
        bw, bh = fb[2] - fb[0], fb[3] - fb[1]
        # a person's mask fills a good part of their box (a pose "found" in a
        # texture paints little); a box folded by extrapolation is nobody
        if bw < 4 or bh < 8 or (m > 0.5).sum() / (s * s) < 0.2 * bw * bh:
            return None
        return fb, (ix0, iy0, ix1, iy1), m[py0:py1, px0:px1]

    def step(self, frame: np.ndarray, out_size: tuple[int, int] | None = None,
             small: np.ndarray | None = None) -> dict[int, np.ndarray]:
        """The mattes of everybody in ``frame`` (RGB uint8), by person id, as
        float32 alpha at ``out_size`` (width, height; default the frame's).
        A person gets an id once two model runs agree (the detection and the
        crop segmentation, or two frames): a lone false detection never shows.
        ``small``: ``frame`` area-shrunk to ``out_size`` where the caller has
        it (the crops of large people are read from it: same pixels, less work)."""
        h, w = frame.shape[:2]
        ow, oh = out_size or (w, h)
        sx, sy = ow / w, oh / h
        if self._tiles is None:  # the first frame: the shot's sizes
            self._ratio = w // ow if w % ow == 0 and oh * (w // ow) == h else 1
        if small is not None and small.shape[:2] != (oh, ow):
            small = None
        scan = None
        if self._tiles is None:
            self._tiles = scan_tiles(w, h)
            # the whole frame, then each smaller scale with the people found so far greyed out
            for side in sorted({t[2] - t[0] for t in self._tiles}, reverse=True):
                tiles = [t for t in self._tiles if t[2] - t[0] == side
                         and not any(_inside(np.array(t, np.float64), k) > 0.9 for k in self._known())]
                self._adopt(self._detect(frame, tiles, self._known()), frame.shape)
        elif self.scan_per_frame and self.frames % self.scan_every == 0:
            pick = self._next_tiles()
            if self._pool is not None:
                # the scan runs beside the crops (its own landmarker); people it
                # finds are adopted after them and segmented from the next frame
                scan = self._pool.submit(self._detect, frame, pick, self._known())
            else:
                self._adopt(self._detect(frame, pick, self._known()), frame.shape)
        self.frames += 1
        tracks = list(self.tracks)
        if self._pool is not None and (len(tracks) > 1 or scan is not None):
            futs = [self._pool.submit(self._segment, frame, t, small) for t in tracks]
            results = [f.result() for f in futs]
        else:
            results = [self._segment(frame, t, small) for t in tracks]
        if scan is not None:
            self._adopt(scan.result(), frame.shape)
        out: dict[int, np.ndarray] = {}
        for t, r in zip(tracks, results):
            if r is None:
                t.missed += 1
                t.box = t.predicted()
                # a detection the crop model never confirmed is dropped soon
                patience = self.patience if t.public else 1
                if t.missed > patience or t.box[2] - t.box[0] < 4 or t.box[3] - t.box[1] < 8:
                    self.tracks.remove(t)
                    self._drop_model(t)
                    continue
                t.velocity *= 0.8
                # a person seen a few times already is carried along their
                # motion through a short miss; a newcomer is not shown meanwhile
                if t.mask is not None and t.public and t.hits >= 4:
                    dx, dy = (t.velocity[0] + t.velocity[2]) / 2 * sx, (t.velocity[1] + t.velocity[3]) / 2 * sy
                    t.mask = cv2.warpAffine(t.mask, np.array([[1, 0, dx], [0, 1, dy]], np.float32), (ow, oh))
                    out[t.public] = t.mask
                continue
            fb, (x0, y0, x1, y1), m = r
            full = np.zeros((oh, ow), np.float32)
            X0, Y0 = int(round(x0 * sx)), int(round(y0 * sy))
            X1, Y1 = max(X0 + 1, int(round(x1 * sx))), max(Y0 + 1, int(round(y1 * sy)))
            full[Y0:Y1, X0:X1] = cv2.resize(np.clip(m, 0, 1), (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
            # the box moves with its centre; its size changes with the pose
            # (an arm stretched out), which says nothing about the next frame
            shift = np.tile(((fb[0] + fb[2]) - (t.box[0] + t.box[2]), (fb[1] + fb[3]) - (t.box[1] + t.box[3])), 2) / 2
            t.velocity = 0.5 * t.velocity + 0.5 * shift if t.missed == 0 else 0.5 * t.velocity
            limit = 0.1 * (fb[3] - fb[1])  # a tenth of their height a frame at most: a jump is no motion
            t.velocity *= min(1.0, limit / max(float(np.abs(t.velocity).max()), 1e-9))
            t.box, t.missed, t.mask = fb, 0, full
            t.hits += 1
            if not t.public and t.hits >= 2:
                t.public = self._next_public
                self._next_public += 1
            if t.public:
                out[t.public] = full
        self._dedupe()
        return out

    def _dedupe(self) -> None:
        """Two tracks that now cover the same person (IoU > 0.6): the younger goes."""
        keep: list[Track] = []
        for t in sorted(self.tracks, key=lambda t: (not t.public, t.id)):
            if any(_iou(t.box, k.box)[0] > 0.6 for k in keep):  # confirmed, then older, ones stay
                self._drop_model(t)
                continue
            keep.append(t)
        self.tracks = keep


def check_person_id(person_id) -> int | None:
    """``person_id`` (1, 2, … in order of appearance; None = everybody) checked."""
    if person_id is None:
        return None
    try:
        p = int(person_id)
    except (TypeError, ValueError):
        raise InvalidInputError(f"--person-id {person_id!r}: expected a whole number from 1 (or leave it out "
                                "for everybody)") from None
    if p < 1 or p != float(person_id):
        raise InvalidInputError(f"--person-id {person_id}: people are numbered from 1 in order of appearance")
    return p
