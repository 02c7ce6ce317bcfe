"""The flow stage of ``propagate`` and the chunked stream that runs every stage.

Per chunk of frames:

1. Flow between neighbours (DIS at a working resolution), completed inside a
   generously dilated hole by a robust global motion fitted on the background
   ring (or a smooth membrane fill), so the removed object's motion — and a
   moving neighbour's — is never used.
2. Two sweeps over the whole chunk (future → past, then past → future) carry,
   for every hole pixel, the *source coordinates* of the pixel that fills it:
   a known pixel of another frame, reached through a chain of consistent
   flows. Chains stop at flow that fails the forward-backward check, so an
   occluder's pixels are never dragged in. Carrying coordinates instead of
   colours means each output pixel is sampled once (sharp) no matter how long
   the chain is.
3. The two candidates are fused with weights that favour the shorter chain.
4. Pixels no frame ever saw are filled spatially on one keyframe (the one with
   the largest never-seen area), which then becomes a known source and is
   propagated: one fill spreads through the shot instead of a different fill
   per frame (which flickers). ``keyframe_fill`` lets a generative engine take
   over this step.
5. Colours are sampled at full resolution, a membrane offset (gradient-domain
   style) removes exposure seams at the hole edge, and a feathered alpha blends
   the band outside the hole. Pixels outside the region are never touched.

6. ``refine``: a second pass re-measures the flow on the first pass's filled
   frames (the pasted/removed object is gone, so the flow inside the hole
   follows the content there — e.g. a subject partly under it — instead of
   the background ring's homography) and propagates again with that flow;
   pixels still never seen keep the first pass's fill.

7. ``camera``: the camera stage (``propagate.sources.complete_chunk``)
   replaces this fill by direct samples where the camera model holds.

Long shots stream through overlapping chunks: the last filled frames of one
chunk are known context for the next, so memory is bounded by the chunk.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence, Sized, overload

import cv2
import numpy as np

from vedit.engines.base import InpaintOutput, ProgressCallback, report
from vedit.engines.propagate import subject
from vedit.engines.propagate.camera import CameraModel
from vedit.engines.propagate.sources import complete_chunk, sample_points
from vedit.engines.sweep import step_kernel
from vedit.errors import InvalidInputError
from vedit.flow import FlowEstimator, complete_flow
from vedit.flow.ops import (
    _grid,
    _membrane_fill,
    consistency_from_sampled,
    fit_global_motion,
    freeze_boxed,
    homography_residual,
    mask_bbox,
    remember_bbox,
)
from vedit.runtime import release_memory
from vedit.streams import prefetch

KeyframeFill = Callable[[np.ndarray, np.ndarray, int, dict], np.ndarray]

_KEYFRAME_PENALTY = 1000.0  # a hallucinated source loses against any real observation
#: longest side (px) of the grid the seam offset field is solved on (it is smooth)
_SEAM_SIDE = 128
#: steps between two sources' pixels above this (grey levels, any channel)
#: are edges, not lighting (``_source_offsets``), and its pull towards 0
_OFFSET_MAX_STEP, _OFFSET_PRIOR = 40.0, 1.0
_FLOW_DILATE = 5            # extra growth of the hole where the first pass completes flow
_FLOW_FILL = "auto"         # flow completion of the first pass (vedit.flow.complete_flow)
_MOVING = True              # independently moving pixels are no source for the background
# moving pixels: flow off the background's homography by more than _MOV_THR px
# (working grid) in regions where that homography also mispredicts at least
# _MOV_FRAC of the pixels by more than _MOV_PHOTO grey levels; not looked for
# when under _MOV_INLIERS of the frame follows one homography or over _MOV_MAX
# of it would move (no rigid background to tell them from)
_MOV_THR, _MOV_PHOTO, _MOV_FRAC = 1.5, 12.0, 0.25
_MOV_INLIERS, _MOV_MAX = 0.5, 0.3
# in a refinement pass, moving regions within _MOV_NEAR px of the flow hole
# (the ring complete_flow fits on) are completed together with the hole, the
# others on their own
_MOV_NEAR = 25
_FILL_METHOD = "mix"        # the flow stage's keyframe fill (mean of ShiftMap and TELEA)
_FILL_MAX_SIDE = 224        # working size of that fill
#: mean grey difference (levels) between the ring around the flow hole and the
#: next frame sampled along the measured flow above which that frame link is
#: "broken": sources from across it are checked against the hole's ring (None: never)
_RING_RES_MAX: float | None = 12.0
#: width (working px) of that ring
_RING_RES_BAND = 6
#: a source (the pixels of one source frame, at least _STALE_MIN_PX) from
#: across a broken link is stale when its colours differ from the ring's
#: colours continued inward (pull-push over _STALE_RING working px around the
#: hole, blurred by _STALE_SIGMA) by more than _STALE_MISMATCH times the ring's
#: own local contrast plus _STALE_FLOOR levels (mean absolute differences)
_STALE_MISMATCH = 6.0
_STALE_MIN_PX = 8
_STALE_RING = 8
_STALE_FLOOR = 4.0
_STALE_SIGMA = 3.0
#: only frames in a stretch of at least this many frames between broken links are judged
_STALE_CALM = 5


#: share of a chunk's progress per stage (first pass, refinement passes, camera stage)
_STAGE_SHARE = {0: {"flow": 0.25, "compose": 0.1}, 1: {"flow": 0.25, "compose": 0.25}}
_CAMERA_SHARE = 0.15


def _stage_slice(passno: int, stage: str, camera: bool) -> tuple[float, float]:
    """(start, width) of a stage's slice of a chunk's progress, in [0, 1]."""
    scale = 1.0 - (_CAMERA_SHARE if camera else 0.0)
    if stage == "camera":
        return scale, _CAMERA_SHARE
    total = sum(sum(v.values()) for v in _STAGE_SHARE.values())
    lo = 0.0
    for p in (0, 1):
        for name, share in _STAGE_SHARE[p].items():
            if p == min(passno, 1) and name == stage:
                return lo / total * scale, share / total * scale
            lo += share
    # a stage without a slice of its own (keyframe fill) sits after its pass's flow
    lo = _STAGE_SHARE[0]["flow"] if passno == 0 else sum(_STAGE_SHARE[0].values()) + _STAGE_SHARE[1]["flow"]
    return lo / total * scale, 0.0


def spatial_fill(frame: np.ndarray, hole: np.ndarray, radius: int = 5, method: str = "shiftmap",
                 max_side: int = 224, in_place: bool = False) -> np.ndarray:
    """Fill ``hole`` (bool) of an RGB uint8 frame from its own surroundings.

    ``shiftmap`` (default): patch rearrangement (OpenCV xphoto ShiftMap) on a
    crop around the hole with context, worked at most ``max_side`` pixels and
    scaled back; it continues texture and straight structure where
    diffusion-style fills smear. ``telea``: fast, smooth, for thin holes.
    ``mix``: the mean of the two (a hedge where the patch guess is wrong).
    ``in_place``: ``telea`` writes into ``frame`` and returns it (no copy of
    a frame whose unfilled version is not needed again).
    """
    hole = np.asarray(hole, bool)
    if not hole.any():
        return frame
    if method == "mix":
        # the mean of a patch fill and a smooth fill: hedges between a sharp
        # guess and a blurry one (lower error where the guess is wrong)
        a = spatial_fill(frame, hole, radius, "shiftmap", max_side).astype(np.uint16)
        b = spatial_fill(frame, hole, radius, "telea", max_side).astype(np.uint16)
        return ((a + b + 1) // 2).astype(np.uint8)
    H, W = hole.shape
    by0, by1, bx0, bx1 = mask_bbox(hole)
    if method == "telea" or not hasattr(cv2, "xphoto"):
        # only a crop around the hole (plus the radius TELEA reads) is needed
        mg = radius + 2
        y0, y1 = max(0, by0 - mg), min(H, by1 + mg)
        x0, x1 = max(0, bx0 - mg), min(W, bx1 + mg)
        out = frame if in_place else frame.copy()
        crop, m = np.ascontiguousarray(frame[y0:y1, x0:x1]), hole[y0:y1, x0:x1]
        ch, cw = m.shape
        sc = min(1.0, 2 * max_side / max(ch, cw))
        if sc < 0.75:
            # a smooth fill: solved on a reduced grid, only hole pixels replaced
            sw, sh = max(8, int(round(cw * sc))), max(8, int(round(ch * sc)))
            ms = cv2.resize(m.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
            res = cv2.inpaint(cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA), ms.astype(np.uint8) * 255,
                              max(2, int(round(radius * sc))), cv2.INPAINT_TELEA)
            res = cv2.resize(res, (cw, ch), interpolation=cv2.INTER_LINEAR)
        else:
            res = cv2.inpaint(crop, m.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)
        patch = out[y0:y1, x0:x1]
        patch[m] = res[m]
        return out
    span = max(by1 - by0, bx1 - bx0)
    margin = int(max(16, span))
    y0, y1 = max(0, by0 - margin), min(H, by1 + margin)
    x0, x1 = max(0, bx0 - margin), min(W, bx1 + margin)
    crop = frame[y0:y1, x0:x1]
    m = hole[y0:y1, x0:x1]
    if m.all():
        return cv2.inpaint(frame, hole.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)
    ch, cw = m.shape
    sc = min(1.0, max_side / max(ch, cw))
    if sc < 1.0:
        sw, sh = max(8, int(round(cw * sc))), max(8, int(round(ch * sc)))
        small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        ms = cv2.resize(m.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        ms = cv2.dilate(ms.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    else:
        small, ms = crop, m
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    lab[ms] = 0
    res = np.zeros_like(lab)
    cv2.xphoto.inpaint(lab, (~ms).astype(np.uint8) * 255, res, cv2.xphoto.INPAINT_SHIFTMAP)
    res = cv2.cvtColor(res, cv2.COLOR_Lab2RGB)
    if sc < 1.0:
        res = cv2.resize(res, (cw, ch), interpolation=cv2.INTER_CUBIC)
    out = frame.copy()
    patch = out[y0:y1, x0:x1]
    patch[m] = res[m]
    return out


def _coarse_grid(y0: int, y1: int, x0: int, x1: int, fx: float, fy: float, ox: float = 0.0, oy: float = 0.0):
    """remap maps sampling a grid ``fx``/``fy`` times the size of this one
    (pixel-centre aligned, as cv2.resize) at the pixels of box (y0, y1, x0,
    x1), minus an offset (ox, oy) for a cropped grid."""
    return np.meshgrid((np.arange(x0, x1, dtype=np.float32) + 0.5) * fx - 0.5 - ox,
                       (np.arange(y0, y1, dtype=np.float32) + 0.5) * fy - 0.5 - oy)


def _upsample_box(a, box, scale, origin=(0, 0), interp: int = cv2.INTER_LINEAR):
    """Values of the working-grid array ``a`` upsampled ``scale`` = (sx, sy)
    times (pixel-centre aligned, edges replicated) on the full-resolution box
    (y0, y1, x0, x1); ``a`` may be a crop of the grid starting at ``origin``
    = (ox, oy), or a list of single-channel arrays (then a list is returned).
    Integer scales (1080p from a 480 px grid) take a separable ``resize`` of
    just the rows and columns needed (several times faster than ``remap``,
    same values); other scales ``remap``."""
    if isinstance(a, (list, tuple)):
        return [_upsample_box(c, box, scale, origin, interp) for c in a]
    y0, y1, x0, x1 = box
    sx, sy = scale
    ox, oy = origin
    kx, ky = int(round(sx)), int(round(sy))
    if kx >= 1 and ky >= 1 and abs(sx - kx) < 1e-6 and abs(sy - ky) < 1e-6:
        i0, j0 = max(0, y0 // ky - oy - 1), max(0, x0 // kx - ox - 1)
        i1, j1 = min(a.shape[0], (y1 - 1) // ky - oy + 2), min(a.shape[1], (x1 - 1) // kx - ox + 2)
        ty, tx = (i0 + oy) * ky, (j0 + ox) * kx
        # the resized rows/columns must hold the box (a box reaching past the
        # crop's edge needs the replicated border: remap below)
        if i1 > i0 and j1 > j0 and ty <= y0 and tx <= x0 and (i1 + oy) * ky >= y1 and (j1 + ox) * kx >= x1:
            sub = np.ascontiguousarray(a[i0:i1, j0:j1])
            up = cv2.resize(sub, ((j1 - j0) * kx, (i1 - i0) * ky), interpolation=interp)
            return up[y0 - ty:y1 - ty, x0 - tx:x1 - tx]
    gx, gy = _coarse_grid(y0, y1, x0, x1, 1.0 / sx, 1.0 / sy, ox, oy)
    return cv2.remap(np.ascontiguousarray(a), gx, gy, interp, borderMode=cv2.BORDER_REPLICATE)


def _near_hole(mov: np.ndarray, fh: np.ndarray, near: int = _MOV_NEAR) -> np.ndarray:
    """The connected regions of ``mov`` that come within ``near`` px of the
    flow hole ``fh``: those whose flow would contaminate the ring on which
    the hole's flow is completed."""
    bb = mask_bbox(fh)
    if bb is None:
        return np.zeros_like(mov)
    # the ring lies within ``near`` of the hole's box: only that crop is dilated
    H, W = fh.shape
    y0, y1, x0, x1 = max(0, bb[0] - near), min(H, bb[1] + near), max(0, bb[2] - near), min(W, bb[3] + near)
    ring = cv2.dilate(np.ascontiguousarray(fh[y0:y1, x0:x1]).view(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * near + 1,) * 2)) > 0
    nl, lab = cv2.connectedComponents(mov.view(np.uint8), connectivity=8)
    ok = np.zeros(nl, bool)
    ok[lab[y0:y1, x0:x1][ring]] = True
    ok[0] = False
    return ok[lab]


def _ring_residual(flow: np.ndarray, fh: np.ndarray, g0: np.ndarray, g1: np.ndarray) -> float:
    """Mean absolute grey difference between the ring of ``_RING_RES_BAND``
    working px around the flow hole ``fh`` of frame ``g0`` and frame ``g1``
    sampled where the measured ``flow`` takes it (0 without a hole)."""
    bb = mask_bbox(fh)
    if bb is None:
        return 0.0
    h, w = fh.shape
    r = _RING_RES_BAND
    y0, y1, x0, x1 = max(0, bb[0] - r), min(h, bb[1] + r), max(0, bb[2] - r), min(w, bb[3] + r)
    c = np.ascontiguousarray(fh[y0:y1, x0:x1])
    ring = (cv2.dilate(c.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) > 0) & ~c
    if not ring.any():
        return 0.0
    gx, gy = _grid(h, w)
    f = flow[y0:y1, x0:x1]
    at = cv2.remap(g1, gx[y0:y1, x0:x1] + f[..., 0], gy[y0:y1, x0:x1] + f[..., 1], cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REPLICATE)
    return float(cv2.absdiff(at, g0[y0:y1, x0:x1])[ring].mean())


def _off_subject(ok: np.ndarray, flow: np.ndarray, mov_prev: np.ndarray) -> np.ndarray:
    """``ok`` without the pixels whose flow lands on a moving subject of the
    previous frame (its colours must not be blended into the hole)."""
    h, w = mov_prev.shape
    xs, ys = _grid(h, w)
    land = cv2.remap(mov_prev.view(np.uint8), xs + flow[:, :, 0], ys + flow[:, :, 1], cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    return ok & ~land


def _core_box(m: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box of ``m > 127`` for a 2-D mask: looked for only inside
    the box of its non-zero pixels (no full-frame threshold)."""
    if m.dtype == bool:  # no bool exceeds 127
        return None
    nz = mask_bbox(m)
    if nz is None:
        return None
    y0, y1, x0, x1 = nz
    bb = mask_bbox(m[y0:y1, x0:x1] > 127)
    return None if bb is None else (bb[0] + y0, bb[1] + y0, bb[2] + x0, bb[3] + x0)


def _union_box(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None):
    """The bounding box of two boxes (either may be None: empty)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _masked_copy(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> None:
    """dst[mask] = src[mask] in place (cv2.copyTo: ~100x faster than a numpy
    boolean or ``where`` copy on large patches)."""
    m = np.ascontiguousarray(mask)
    m = m.view(np.uint8) if m.dtype == bool else m.astype(np.uint8)
    r = cv2.copyTo(np.ascontiguousarray(src), m, dst)
    if r is not dst and not np.shares_memory(r, dst):
        np.copyto(dst, r)


def _frozen(a: np.ndarray) -> bool:
    """Whether ``a`` can no longer change: read-only and owning its buffer (so
    no writeable view of it exists elsewhere), as ``region()`` returns them.
    Work derived from such an array may be reused while the same object
    comes back."""
    return not a.flags.writeable and a.flags.owndata


class Sources(NamedTuple):
    """What the sweeps found for one frame's hole pixels (working grid): the
    source frame and its coordinates along the best chain (-1: none), that
    chain's length-based distance, whether any source exists, and the
    second-best candidate with its blend weight."""

    src: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    dist: np.ndarray
    has: np.ndarray
    src2: np.ndarray
    cx2: np.ndarray
    cy2: np.ndarray
    wt2: np.ndarray


@dataclass
class ChunkResult:
    frames: list[np.ndarray]
    unseen: list[np.ndarray]
    keyframes: list[int] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


class _Work(NamedTuple):
    """A frame's first-pass inputs at the working resolution."""

    small: np.ndarray       # the frame
    hole: np.ndarray        # its hole, grown to cover every full-resolution hole pixel
    flow_hole: np.ndarray   # that hole grown by _FLOW_DILATE (where flow is completed)
    grey: np.ndarray        # the frame in grey (DIS input)


#: frames read (decoded, masks read, holes grown, working inputs made) in a
#: thread ahead of the chunk being filled: the next chunk's reading overlaps
#: this chunk's filling instead of following it
_READ_AHEAD = 16
#: a last chunk of at most 1/_TAIL_JOIN of the chunk size joins the one before it
_TAIL_JOIN = 4


class _Prep:
    """A chunk's first-pass inputs, built frame by frame as the chunk is read:
    working-resolution frames and holes, grey frames, holes grown for flow
    completion, and the frame pairs' flows, submitted to ``pool`` as soon as
    both frames of a pair are in (the same values ``fill_chunk`` computes)."""

    def __init__(self, eng: "PropagateInpaintEngine", pool: ThreadPoolExecutor):
        self.eng, self.pool = eng, pool
        self.small: list[np.ndarray] = []
        self.small_h: list[np.ndarray] = []
        self.flow_holes: list[np.ndarray] = []
        self.grey: list[np.ndarray] = []
        self.pairs: list[Future] = []
        self.full = False
        # (hole, working hole, flow hole) of the previous frame
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, frame: np.ndarray, hole: np.ndarray, pre: "_Work | None" = None) -> None:
        """Append a frame and its hole (``pre``: its working-resolution
        inputs, already made by ``PropagateInpaintEngine._read``)."""
        eng = self.eng
        if pre is None:
            pre, self._last = eng._work_inputs(frame, np.asarray(hole, bool), self._last)
        small, sh, fh, grey = pre
        self.full = small is not frame
        self.small.append(small)
        self.small_h.append(sh)
        self.flow_holes.append(fh)
        self.grey.append(grey)
        t = len(self.small) - 2
        if t >= 0:
            g, fhs, hw = self.grey, self.flow_holes, self.small_h
            self.pairs.append(self.pool.submit(eng._pair, g[t], g[t + 1], fhs[t], fhs[t + 1], hw[t], hw[t + 1],
                                               _FLOW_FILL, False))

    def close(self) -> None:
        for f in self.pairs:  # unused when the chunk had no hole at all
            f.cancel()
        self.pairs = []


class _Alphas(Sequence):
    """The blend weights (``PropagateInpaintEngine._alpha``) of a chunk's
    frames, each made when it is read: the camera stage blends one frame at a
    time, and a list of them all held a full-frame float32 map per frame of
    the chunk (a third of a GB at 1080p, mostly zeros)."""

    def __init__(self, eng: "PropagateInpaintEngine", masks: list[np.ndarray], holes: list[np.ndarray]):
        self.eng, self.masks, self.holes = eng, masks, holes

    def __len__(self) -> int:
        return len(self.masks)

    @overload
    def __getitem__(self, i: int) -> np.ndarray | None: ...

    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray | None]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.eng._alpha(self.masks[i], self.holes[i])


class PropagateInpaintEngine:
    """The ``propagate`` engine: flow-guided propagation per chunk, then the
    camera stage (``propagate.sources``) over it.

    Args:
        chunk_size: frames processed together (memory bound).
        overlap: filled frames carried into the next chunk as known context.
        flow_preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        work_side: longest side of the working resolution for flow and
            propagation; colours are always sampled at full resolution. 384
            is an integer scale of 5 from 1080p and 10 from UHD, where the
            maps are upsampled by exact resizes.
        dilate: pixels the mask grows before filling (covers soft edges).
        feather: width of the blend band outside the filled region.
        max_keyframes: spatial fills per chunk in the flow stage before
            falling back to per-frame fills for anything left (each ShiftMap
            fill costs about a second at 1080p). Generative keyframe fills
            (the diffusion engine) choose their own.
        fill_radius: TELEA radius of the smooth fills.
        temporal: weight of the previous output in the flow stage's
            recursive blend along the flow (damps source switches).
        refine: extra flow-stage passes with flow re-measured on the previous
            pass's output (each roughly doubles the propagation cost).
        jit: run the sweeps' inner step compiled (numba, when installed;
            identical results, ~10x faster).
        camera: run the camera stage (direct samples where the camera model
            holds, exemplar fill of never-seen pixels).
        subject: run the subject stage (``propagate.subject``: a moving
            subject that goes in and out from under the hole is continued
            into it instead of cut at its edge).
    """

    name = "propagate"
    family = "inpaint"

    def __init__(self, chunk_size: int = 80, overlap: int = 10, flow_preset: str = "fast",
                 work_side: int = 384, dilate: int = 3, feather: int = 2, max_keyframes: int = 1,
                 fill_radius: int = 5, temporal: float = 0.8, refine: int = 1, jit: bool = True,
                 camera: bool = True, subject: bool = True, **_ignored):
        if chunk_size < 2:
            raise InvalidInputError(f"chunk_size {chunk_size} must be at least 2")
        if overlap < 0 or overlap >= chunk_size:
            raise InvalidInputError(f"overlap {overlap} must be in 0..chunk_size-1")
        self.chunk_size = int(chunk_size)
        self.overlap = int(overlap)
        self.flow_preset = flow_preset
        self.flow = FlowEstimator(flow_preset, max_side=None, finest_scale=1 if flow_preset != "medium" else None)
        self.threads = max(1, min(2, os.cpu_count() or 1))
        self._local = threading.local()
        # (shape/dtype/box key, mask or its boxed crop, its region) of the last region() call
        self._region_memo: tuple[tuple, np.ndarray, np.ndarray] | None = None
        # (hole, mask crop, blend weight) of the last _alpha_for call
        self._alpha_memo: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.work_side = int(work_side)
        self.dilate = max(0, int(dilate))
        self.feather = max(0, int(feather))
        self.max_keyframes = int(max_keyframes)
        self.fill_radius = fill_radius
        self.temporal = float(temporal)
        self.refine = max(0, int(refine))
        self.jit = bool(jit)
        self.camera = bool(camera)
        self.subject = bool(subject)

    # ------------------------------------------------------------------ API
    def inpaint(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], seed: int = 0,
                device=None, dtype=None, chunk_size: int | None = None, callback: ProgressCallback = None,
                keyframe_fill: KeyframeFill | None = None, keyframe_every: int | None = None,
                total: int | None = None) -> InpaintOutput:
        """Stream-fill ``frames`` where ``masks`` (uint8/bool, white = fill)."""
        n_total = total if total is not None else (len(frames) if isinstance(frames, Sized) else 0)
        gen = self._stream(iter(frames), iter(masks), chunk_size or self.chunk_size, callback,
                           keyframe_fill, keyframe_every, n_total)
        return InpaintOutput(frames=gen, frame_count=n_total, stats=self.stats if hasattr(self, "stats") else {})

    def _stream(self, frames: Iterator, masks: Iterator, chunk: int, callback, keyframe_fill,
                keyframe_every, n_total) -> Iterator[np.ndarray]:
        self.stats = {"keyframes": 0, "unseen_px": 0, "chunks": 0}
        if self.jit:
            # load (or compile) the sweep kernel while the first chunk is read
            threading.Thread(target=step_kernel, daemon=True, name="vedit-jit").start()
        # the first pass's frame pairs start while the chunk is still being read
        # (decoding a 1080p chunk takes ~1.5 s that the flow can use)
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="vedit-pairs") \
            if self.refine and keyframe_fill is None else None
        items = prefetch(self._read(frames, masks, pool is not None), depth=_READ_AHEAD)
        try:
            yield from self._chunks(items, chunk, callback, keyframe_fill, keyframe_every, n_total, pool)
        finally:
            items.close()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            release_memory()  # the job's buffers go back to the system (not per chunk: see vedit.runtime)

    def _chunks(self, items, chunk, callback, keyframe_fill, keyframe_every, n_total, pool):
        context: list[np.ndarray] = []
        done = 0
        while True:
            # a chunk holds ``chunk`` frames: the carried context plus new ones;
            # a short tail (at most a quarter chunk) joins this chunk instead of
            # becoming one of its own, which would re-process its context and
            # see little of the shot around it
            step = max(1, chunk - len(context))
            rest = n_total - done - step if n_total else 0
            if 0 < rest <= chunk // _TAIL_JOIN:
                step += rest
            ctx_holes = [np.zeros(c.shape[:2], bool) for c in context]  # context frames are already filled
            prep = _Prep(self, pool) if pool is not None else None
            if prep is not None:
                for c, z in zip(context, ctx_holes):
                    prep.add(c, z)
            cur_f, cur_m, holes = [], [], []
            for f, m, hole, pre in items:
                cur_f.append(f)
                cur_m.append(m)
                holes.append(hole)
                if prep is not None:
                    prep.add(f, hole, pre)
                if len(cur_f) >= step:
                    break
            if not cur_f:
                return

            new = len(cur_f)
            passno, shown = [0], [done]

            def cb(i, n, stage, _base=done, _nctx=len(context), _new=new):
                # one monotone count over the whole job: each pass and stage
                # owns a slice of this chunk's share (see _STAGE_SHARE)
                lo, width = _stage_slice(passno[0], stage, bool(self.camera))
                frac = lo + width * (max(0, i - _nctx) / max(1, n - _nctx))
                shown[0] = max(shown[0], _base + min(_new, int(frac * _new)))
                report(callback, shown[0], n_total, stage)

            all_f, all_h = context + cur_f, ctx_holes + holes
            if prep is not None:
                # the first pass only feeds the second: its frames are flow
                # frames (working resolution) and the fallback for what the
                # second pass cannot reach, so it runs at working resolution
                res = self.fill_chunk(prep.small, prep.small_h, keyframe_every=keyframe_every, callback=cb,
                                      _prep=prep)
                prep.close()
                if prep.full:
                    res.stats["_flow_frames"] = self._flow_frames(prep.small, res.frames, all_h)
            else:
                res = self.fill_chunk(all_f, all_h, keyframe_fill=keyframe_fill,
                                      keyframe_every=keyframe_every, callback=cb, _masks=[None] * len(context) + cur_m)
            for _ in range(self.refine):
                passno[0] += 1
                # flow re-measured on the filled frames (the removed object is
                # gone, so the flow follows the content under it), propagate again;
                # a caller's (generative) keyframe fill is never run twice: the
                # previous pass's output fills what is still never seen
                prev = res.frames
                res = self.fill_chunk(all_f, all_h,
                                      keyframe_fill=(lambda comp, miss, k, ctx, _p=prev: _p[k])
                                      if keyframe_fill is not None else None,
                                      keyframe_every=keyframe_every, callback=cb,
                                      _masks=[None] * len(context) + cur_m,
                                      _flow_frames=res.stats.pop("_flow_frames", res.frames),
                                      _fallback=prev,
                                      _hw=prep.small_h if prep is not None else None,
                                      _moving=res.stats.get("moving"), _broken=res.stats.get("broken"))
            self.stats["chunks"] += 1
            self.stats["keyframes"] += len(res.keyframes)
            out = res.frames[len(context):]
            # one camera model of the chunk for the stages that need it,
            # built on first use (its neighbour links are most of its cost)
            models: list[CameraModel] = []

            def camera_model(_f=all_f, _h=all_h) -> CameraModel:
                if not models:
                    models.append(CameraModel(_f, _h))
                return models[0]

            if self.camera:
                lo, _w = _stage_slice(passno[0], "camera", True)
                report(callback, done + int(lo * new), n_total, "camera")
                out = self._camera_pass(all_f, all_h, cur_m, len(context), out, keyframe_fill is None,
                                        camera_model)
            if self.subject:
                # a moving subject the hole cuts is continued into it
                out = subject.complete_subject(all_f, all_h, len(context), out, res.stats.get("moving"),
                                               camera_model)
            models.clear()
            for o in out:
                yield o
            done += len(out)
            report(callback, done, n_total, "propagate")
            context = (context + out)[-self.overlap:] if self.overlap else []
            res = out = prev = all_f = all_h = cur_f = cur_m = holes = prep = None

    def _camera_pass(self, frames: list[np.ndarray], holes: list[np.ndarray], masks: list[np.ndarray],
                     nctx: int, outs: list[np.ndarray], fill_unseen: bool = True,
                     camera: Callable[[], CameraModel] | None = None) -> list[np.ndarray]:
        """Replace the flow fill by the camera model's direct samples where
        the model explains the background (see ``propagate.sources``). A
        generative keyframe fill (the diffusion engine) keeps what it made of
        never-seen pixels (``fill_unseen`` False)."""
        alphas = _Alphas(self, masks, holes[nctx:])
        return complete_chunk(frames, holes, nctx, outs, alphas, max_keyframes=3 if fill_unseen else 0,
                              camera=camera)

    def region(self, mask: np.ndarray) -> np.ndarray:
        """The pixels that will change: the mask grown by dilate + feather.

        A mask equal to the previous call's (a still mask given for every
        frame, or a mask video that holds still) returns the same read-only
        array: the per-frame work that depends only on the hole is then done
        once (see ``_Prep.add`` and ``_compose``)."""
        m = np.asarray(mask)
        memo = self._region_memo
        if m.ndim == 2 and m.dtype in (np.uint8, np.bool_):
            # a 2-D mask is zero outside its box: the box and the crop under
            # it identify it (no full-frame copy or threshold per frame)
            box = mask_bbox(m)
            crop = m[box[0]:box[1], box[2]:box[3]] if box is not None else m[:0, :0]
            key = (m.shape, m.dtype, box)
            if memo is not None and memo[0] == key and np.array_equal(memo[1], crop):
                return memo[2]
            b = self._grow_box(m, box)
            b.flags.writeable = False
            if box is not None:
                # the region lies in the mask's box grown by dilate + feather:
                # its own box is found there, not by a scan of the frame
                g = self.dilate + self.feather
                y0, x0 = max(0, box[0] - g), max(0, box[2] - g)
                inner = mask_bbox(b[y0:box[1] + g, x0:box[3] + g])
                remember_bbox(b, None if inner is None else
                              (inner[0] + y0, inner[1] + y0, inner[2] + x0, inner[3] + x0))
            self._region_memo = (key, crop.copy(), b)
            return b
        if memo is not None and memo[0] == (m.shape, m.dtype, "full") and np.array_equal(memo[1], m):
            return memo[2]
        b = self._grow(m)
        if np.shares_memory(b, m):
            b = b.copy()
        b.flags.writeable = False
        self._region_memo = ((m.shape, m.dtype, "full"), m.copy(), b)
        return b

    def _grow(self, m: np.ndarray) -> np.ndarray:
        if m.ndim == 3:
            m = m.max(axis=2)
        b = (m > 127) if m.dtype != bool else m
        grow = self.dilate + self.feather
        bb = mask_bbox(b) if grow > 0 else None
        if bb is not None:
            return self._grow_box(b, bb)
        return b

    def _grow_box(self, m: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
        """The region of a 2-D uint8 or bool mask ``m`` whose non-zero pixels
        lie inside ``box``: thresholded and grown by dilate + feather around
        that box only (a full-frame dilation per 1080p frame cost more than
        the rest of this)."""
        H, W = m.shape
        out = np.zeros((H, W), bool)
        if box is None:
            return out
        grow = self.dilate + self.feather
        y0, y1, x0, x1 = max(0, box[0] - grow), min(H, box[1] + grow), max(0, box[2] - grow), min(W, box[3] + grow)
        win = m[y0:y1, x0:x1]
        b = win if m.dtype == bool else win > 127
        if grow == 0:
            out[y0:y1, x0:x1] = b
            return out
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        out[y0:y1, x0:x1] = cv2.dilate(np.ascontiguousarray(b).view(np.uint8), k,
                                       borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        return out

    def work_size(self, W: int, H: int) -> tuple[int, int]:
        """The working resolution for ``W``x``H`` frames (long side at most ``work_side``)."""
        s = min(1.0, self.work_side / max(H, W))
        return max(8, int(round(W * s))), max(8, int(round(H * s)))

    def _work_holes(self, holes: list[np.ndarray], w: int, h: int) -> list[np.ndarray]:
        """Holes at the working resolution, grown so every full-resolution hole
        pixel is covered."""
        H, W = holes[0].shape
        if (w, h) == (W, H):
            return [hh.copy() for hh in holes]
        k3 = np.ones((3, 3), np.uint8)
        return [cv2.dilate(self._area_any(hh, w, h), k3, iterations=2) > 0 for hh in holes]

    @staticmethod
    def _area_any(hole: np.ndarray, w: int, h: int) -> np.ndarray:
        """uint8 0/1: the working pixels whose area (INTER_AREA) covers a hole
        pixel. At an integer scale (1080p and UHD to 384 px) that area is a
        block of k x k pixels, and one hole pixel in it is enough: only the
        blocks over the hole's box are looked at (a resize of the whole
        frame cost several ms a frame)."""
        H, W = hole.shape
        kx, ky = W // w, H // h
        # one 255 pixel of k*k still averages to a non-zero uint8 while k*k <= 510
        if kx * w == W and ky * h == H and kx * ky <= 500:
            small = np.zeros((h, w), np.uint8)
            bb = mask_bbox(hole)
            if bb is not None:
                y0, y1, x0, x1 = bb[0] // ky, -(-bb[1] // ky), bb[2] // kx, -(-bb[3] // kx)
                blk = hole[y0 * ky:y1 * ky, x0 * kx:x1 * kx].reshape(y1 - y0, ky, x1 - x0, kx)
                small[y0:y1, x0:x1] = blk.any(axis=(1, 3))
            return small
        return (cv2.resize(hole.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)

    def _downsize(self, frames: list[np.ndarray], holes: list[np.ndarray]):
        """Frames and holes at the working resolution."""
        H, W = frames[0].shape[:2]
        w, h = self.work_size(W, H)
        if (w, h) == (W, H):
            return frames, holes
        return ([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames],
                self._work_holes([np.asarray(x, bool) for x in holes], w, h) if holes else [])

    def _work_inputs(self, frame: np.ndarray, hole: np.ndarray, last):
        """A frame's :class:`_Work` inputs, and the memo for the next frame:
        ``last`` = (hole, working hole, flow hole) of the previous frame, whose
        working holes are reused when the same read-only hole comes again."""
        if last is not None and hole is last[0] and _frozen(hole):
            # the same (read-only) hole as the previous frame: same working holes
            (small,), _ = self._downsize([frame], [])
            sh, fh = last[1], last[2]
        else:
            (small,), (sh,) = self._downsize([frame], [hole])
            fh = self._flow_hole(sh)
            if _frozen(hole):
                sh.flags.writeable = fh.flags.writeable = False
                last = (hole, sh, fh)
        return _Work(small, sh, fh, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)), last

    def _read(self, frames: Iterator, masks: Iterator, work: bool) -> Iterator:
        """(frame, mask, hole, working inputs or None) per frame: the
        per-frame work of reading a chunk, run in the read-ahead thread."""
        last = None
        for f, m in zip(frames, masks):
            f, m = np.ascontiguousarray(f[:, :, :3]), np.asarray(m)
            hole = self.region(m)
            pre = None
            if work:
                pre, last = self._work_inputs(f, hole, last)
            yield f, m, hole, pre

    @staticmethod
    def _flow_frames(small: list[np.ndarray], filled: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        """What the full-resolution fill would look like at the working
        resolution: the working-resolution fill blended into the frame by the
        hole's area coverage."""
        out = []
        h, w = small[0].shape[:2]
        for f, c, hole in zip(small, filled, holes):
            bb = mask_bbox(hole)
            if bb is None:
                out.append(f)
                continue
            a = PropagateInpaintEngine._coverage(hole, bb, w, h)
            y0, y1, x0, x1 = mask_bbox(a > 0)
            o = f.copy()
            aa = a[y0:y1, x0:x1, None]
            o[y0:y1, x0:x1] = (f[y0:y1, x0:x1] * (1.0 - aa) + c[y0:y1, x0:x1] * aa + 0.5).astype(np.uint8)
            out.append(o)
        return out

    @staticmethod
    def _coverage(hole: np.ndarray, bb: tuple[int, int, int, int], w: int, h: int) -> np.ndarray:
        """float32 (h, w): the share of each working pixel's area that
        ``hole`` (bool, full resolution, bounding box ``bb``) covers — its
        INTER_AREA resize. At an integer scale (1080p and UHD to 384 px) each
        working pixel is the mean of its own k x k block, so only the blocks
        over the box are resized (the same values; a whole-frame float copy
        and resize cost several ms a frame)."""
        H, W = hole.shape
        kx, ky = W // w, H // h
        if kx * w != W or ky * h != H:
            return cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        y0, y1, x0, x1 = bb[0] // ky, -(-bb[1] // ky), bb[2] // kx, -(-bb[3] // kx)
        a = np.zeros((h, w), np.float32)
        a[y0:y1, x0:x1] = cv2.resize(hole[y0 * ky:y1 * ky, x0 * kx:x1 * kx].astype(np.float32), (x1 - x0, y1 - y0),
                                     interpolation=cv2.INTER_AREA)
        return a

    def _alpha_for(self, hole: np.ndarray, mask: np.ndarray | None, region: np.ndarray) -> np.ndarray | None:
        """``_alpha``, reused while the (read-only, so unchanged) hole and the
        mask stay the same from frame to frame."""
        memo = self._alpha_memo
        if (mask is not None and memo is not None and hole is memo[0] and _frozen(hole)
                and memo[1].shape == mask.shape and np.array_equal(memo[1], mask)):
            return memo[2]
        a = self._alpha(mask, region)
        if a is not None and mask is not None and _frozen(hole):
            a.flags.writeable = False
            self._alpha_memo = (hole, mask.copy(), a)
        return a

    def _alpha(self, mask: np.ndarray | None, region: np.ndarray) -> np.ndarray | None:
        """Blend weight: 1 on the mask grown by ``dilate``, ramping to 0 across
        the feather band; None means a hard edge."""
        if mask is None or self.feather <= 0:
            return None
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m.max(axis=2)
        H, W = m.shape
        a = np.zeros((H, W), np.float32)
        # only the box around the mask and the region is computed (a full
        # 1080p frame cost ~20 ms): the distances inside it are the same as
        # on the whole frame, since the box holds every core pixel and the
        # chamfer distance between two pixels runs inside their bounding box
        bb = _union_box(_core_box(m), mask_bbox(region))
        if bb is None:
            return a
        g = self.dilate + 1
        y0, y1, x0, x1 = max(0, bb[0] - g), min(H, bb[1] + g), max(0, bb[2] - g), min(W, bb[3] + g)
        core = m[y0:y1, x0:x1] > 127
        if self.dilate > 0 and core.any():
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.dilate + 1, 2 * self.dilate + 1))
            core = cv2.dilate(core.view(np.uint8), k) > 0
        d = cv2.distanceTransform((~core).view(np.uint8), cv2.DIST_L2, 3)
        ab = a[y0:y1, x0:x1]
        np.clip(1.0 - d / np.float32(self.feather + 1), 0.0, 1.0, out=ab)
        ab[~region[y0:y1, x0:x1]] = 0.0
        return a

    # ---------------------------------------------------------- one chunk
    def fill_chunk(self, frames: list[np.ndarray], holes: list[np.ndarray], keyframe_fill: KeyframeFill | None = None,
                   keyframe_every: int | None = None, callback: ProgressCallback = None, _masks=None,
                   _flow_frames: list[np.ndarray] | None = None,
                   _fallback: list[np.ndarray] | None = None, _prep: "_Prep | None" = None,
                   _hw: list[np.ndarray] | None = None, _moving: list[np.ndarray] | None = None,
                   _broken: list[int] | None = None) -> ChunkResult:
        """Fill ``holes`` (bool, already grown) in an in-memory list of frames."""
        n = len(frames)
        if n == 0:
            return ChunkResult([], [])
        H, W = frames[0].shape[:2]
        holes = [np.asarray(h, bool) for h in holes]
        if not any(h.any() for h in holes):
            return ChunkResult([f.copy() for f in frames], [np.zeros((H, W), bool) for _ in frames])
        w, h = self.work_size(W, H)
        sx, sy = W / w, H / h
        if _prep is not None:  # working-resolution inputs computed while the frames were read
            hw, flow_holes, grey = _prep.small_h, _prep.flow_holes, _prep.grey
        else:
            hw = self._work_holes(holes, w, h) if _hw is None else _hw
            flow_holes = [self._flow_hole(x) for x in hw]
            # 1. flows at working resolution, completed inside the holes
            ff = frames if _flow_frames is None else _flow_frames
            grey = [cv2.cvtColor(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if f.shape[:2] != (h, w)
                                 else f, cv2.COLOR_RGB2GRAY) for f in ff]
        # the first pass completes the flow in the hole; a refinement pass uses
        # the flow re-measured on the previous fill as it is, one pyramid level
        # coarser (4x cheaper DIS)
        fill_mode = _FLOW_FILL if _flow_frames is None else "none"
        coarse = _flow_frames is not None

        def pair(t):
            return self._pair(grey[t], grey[t + 1], flow_holes[t], flow_holes[t + 1], hw[t], hw[t + 1], fill_mode,
                              coarse)

        # frame pairs in two threads (DIS and most of the completion release the
        # GIL), or already running since the frames were read (``_prep``)
        fwd, bwd, fwd_raw, bwd_raw, ok_f, ok_b = [], [], [], [], [], []
        raw_mov: list[np.ndarray | None] = []
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            pairs = (f.result() for f in _prep.pairs) if _prep is not None else pool.map(pair, range(n - 1))
            ring_res: list[float] = []
            for t, (fc, bc, f, b, okf, okb, m0, rr) in enumerate(pairs):
                ring_res.append(rr)
                fwd.append(fc)
                bwd.append(bc)
                fwd_raw.append(f)
                bwd_raw.append(b)
                ok_f.append(okf)
                ok_b.append(okb)
                raw_mov.append(m0)
                if callback:
                    callback(t + 1, n, "flow")
            xs, ys = _grid(h, w)
            known = [~x for x in hw]
            hw_unseen = hw  # what must be filled (keyframes are chosen on it)
            mov = _moving
            if _MOVING and mov is None and fill_mode != "none" and n > 1:
                # the last frame has no next one: its moving pixels from the backward flow
                raw_mov.append(self._moving_one(bwd_raw[-1], flow_holes[-1], grey[-1], grey[-2]))
                mov = self._persistent(raw_mov, flow_holes)
            if mov is not None:
                # independently moving pixels (a player the camera follows) are no
                # source for the background, and chains cross them on the
                # background's motion (their flow completed like the hole's)
                hw = [x | m for x, m in zip(hw, mov)]
                known = [~x for x in hw]

                def recomplete(t, mov=mov, hw=hw, fr=fwd_raw, br=bwd_raw):
                    # also in the refinement pass, whose flow is otherwise
                    # measured on the previous fill: next to a moving subject
                    # that flow is dragged along by it
                    fh0, fh1 = flow_holes[t] | mov[t], flow_holes[t + 1] | mov[t + 1]
                    fwd[t] = self._recomplete(fr[t], fwd[t], flow_holes[t], mov[t], fill_mode == "none")
                    bwd[t] = self._recomplete(br[t], bwd[t], flow_holes[t + 1], mov[t + 1], fill_mode == "none")
                    ok_f[t] = self._consistent(fwd[t], bwd[t], br[t], hw[t + 1], fh1, hw[t])
                    ok_b[t] = self._consistent(bwd[t], fwd[t], fr[t], hw[t], fh0, hw[t + 1])

                list(pool.map(recomplete, [t for t in range(n - 1) if mov[t].any() or mov[t + 1].any()]))
        del fwd_raw, bwd_raw, raw_mov
        src_frames = list(frames)  # keyframe fills replace entries here
        is_key = np.zeros(n, bool)
        keyframes: list[int] = []
        key_known = [np.zeros((h, w), bool) for _ in range(n)]
        result = state = None
        first_unseen = None
        min_area = max(24, 0.02 * max(1, max(int(np.count_nonzero(x)) for x in hw)))
        # links across which the flow does not explain the ring around the hole
        # (a subject rushing past it, a change of what borders it); the
        # refinement pass takes the first pass's (its ring flow is measured
        # on filled frames)
        broken = _broken
        if broken is None:
            broken = [t for t, r in enumerate(ring_res) if r > _RING_RES_MAX] \
                if _RING_RES_MAX is not None and fill_mode != "none" else []
        # the frames the sources are judged on, at the working resolution (the
        # refinement pass: the first pass's output)
        judge = _flow_frames if _flow_frames is not None and _flow_frames[0].shape[:2] == (h, w) else \
            (frames if frames[0].shape[:2] == (h, w) else None)
        # a refinement pass with the previous pass's output as fallback needs no
        # keyframes: what it cannot reach keeps the previous (consistent) fill
        pending: dict = {}  # keyframe -> future of its source frame (fill running)
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="vedit-keyframe") as fills:
            for it in range(1 if _fallback is not None else self.max_keyframes + 1):
                # after a keyframe only what no real observation reaches can change:
                # the sweeps continue from the previous state on those pixels
                result, state = self._sweeps(n, h, w, known, key_known, hw, fwd, bwd, ok_f, ok_b, xs, ys,
                                             state=state if it else None, new_key=keyframes[-1] if it else None)
                if it == 0 and broken and judge is not None:
                    # what chains carried across a change and no longer fits
                    # what borders the hole (the hole showed a subject that has
                    # since left) is no source: those pixels are unseen again,
                    # for the keyframe fill (first pass) or the previous pass
                    stale = self._stale_sources(result, hw_unseen, known, judge, broken)
                    if stale is not None:
                        self._forget(state, result, stale)
                unseen = [hw_unseen[t] & ~result[t].has for t in range(n)]
                if keyframe_every:
                    # a keyframe's fill may not travel further than K frames
                    for t in range(n):
                        far = hw_unseen[t] & result[t].has & (result[t].dist >= _KEYFRAME_PENALTY + keyframe_every)
                        unseen[t] |= far
                if first_unseen is None:
                    first_unseen = [u.copy() for u in unseen]
                areas = np.array([u.sum() for u in unseen])
                # slivers (e.g. at a frame edge the camera moves past) are not worth
                # a keyframe; they get a per-frame fill at the end
                if areas.max() < min_area or it == self.max_keyframes or _fallback is not None:
                    break
                k = int(np.argmax(np.where(is_key, -1, areas)))
                if is_key[k] or areas[k] == 0:
                    break
                if callback:
                    callback(0, n, "keyframe fill")
                # compose the keyframe as far as propagation reached (waiting for
                # the earlier keyframe fills it reads), then fill the rest
                self._resolve(pending, src_frames, self._sources(result[k], hw[k]))
                comp, missing = self._compose(frames[k], holes[k], result[k], src_frames, sx, sy, W, H, None)
                unseen_full = missing
                if keyframe_every:
                    unseen_full = unseen_full | (self._upsample_bool(unseen[k], W, H) & holes[k])
                if keyframe_fill is not None:
                    filled = keyframe_fill(comp, unseen_full, k,
                                           {"frames": frames, "holes": holes, "keyframes": keyframes})
                    src_frames[k] = self._keyframe_source(frames[k], holes[k], comp, unseen_full,
                                                          np.asarray(filled, np.uint8)[:, :, :3])
                else:
                    # the spatial fill (ShiftMap: ~1 s) runs in the background: the
                    # next sweeps need only which pixels it covers, not its colours
                    def fill(k=k, comp=comp, u=unseen_full):
                        filled = spatial_fill(comp, u, self.fill_radius, method=_FILL_METHOD,
                                              max_side=_FILL_MAX_SIDE)
                        return self._keyframe_source(frames[k], holes[k], comp, u, filled)

                    pending[k] = fills.submit(fill)
                key_known[k] = unseen[k].copy()
                is_key[k] = True
                keyframes.append(k)

            if broken and result is not None and _fallback is None and keyframes and frames[0].shape[:2] == (h, w):
                # a keyframe fill made before a change, carried across it, is
                # judged the same way (its fill must be in for that)
                self._resolve(pending, src_frames, set(keyframes))
                stale = self._stale_sources(result, hw_unseen, known, src_frames, broken, keyed_only=True)
                if stale is not None:
                    result = [self._drop(r, x) for r, x in zip(result, stale)]
            # the sources' lighting is matched in the last pass only: the first
            # pass's fill is what stale sources are judged on (a stale subject
            # brightened towards the snow around it would pass as background)
            last = _flow_frames is not None or self.refine == 0
            # the last spatial fills may still run: each frame waits only for the
            # fills it reads (frames that read none compose meanwhile)
            fills_left = dict(pending)

            def compose(t):
                if fills_left:
                    self._resolve(fills_left, src_frames, self._sources(result[t], hw[t]), keep=True)
                comp, missing = self._compose(frames[t], holes[t], result[t], src_frames, sx, sy, W, H,
                                              _masks[t] if _masks is not None else None, offsets=last)
                if mask_bbox(missing) is not None:  # leftovers (iteration cap): rare
                    if _fallback is not None:
                        self._fill_from(comp, _fallback[t], missing, holes[t])
                    else:
                        comp = spatial_fill(comp, missing, self.fill_radius, method="telea", in_place=True)
                return comp

            # frames composed in two threads (OpenCV and large numpy ops release the
            # GIL); the recursive temporal blend runs in order
            outs: list[np.ndarray] = []
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                comps = pool.map(compose, range(n))
                cut = set(broken)
                for t, comp in enumerate(comps):
                    # (the previous output is not blended in across a broken
                    # link: it showed what was there before the change)
                    if self.temporal > 0 and t > 0 and t - 1 not in cut and mask_bbox(holes[t]) is not None:
                        okb = ok_b[t - 1]
                        if mov is not None and mov[t - 1].any():
                            # the background's motion carries hole pixels onto a
                            # subject the camera follows: its colours would be
                            # smeared into the hole, one shifted copy per frame
                            okb = _off_subject(okb, bwd[t - 1], mov[t - 1])
                        comp = self._temporal_blend(comp, outs[t - 1], holes[t], bwd[t - 1], okb, W, H,
                                                    in_place=True,
                                                    # a context frame carries no hole (its fill is final)
                                                    prev_hole=holes[t - 1] if mask_bbox(holes[t - 1]) is not None else None)
                    outs.append(comp)
                    if callback:
                        callback(t + 1, n, "compose")
        stats = {"work_size": (w, h), "moving": mov, "broken": broken}
        return ChunkResult(outs, first_unseen or [np.zeros((h, w), bool)] * n, keyframes, stats)

    @staticmethod
    def _stale_sources(result: list[Sources], holes: list[np.ndarray], known: list[np.ndarray],
                       frames: list[np.ndarray], broken: list[int], keyed_only: bool = False) -> list[np.ndarray] | None:
        """Per frame, the hole pixels whose source lies across a broken link
        and does not fit what borders the hole now — the hole showed
        something else before the change (a subject that has since left, or a
        keyframe fill made while it was there). Judged per source frame: the
        source's colours against the known pixels around the hole continued
        smoothly inward (a pull-push interpolation; ``frames``: the source
        frames at the working resolution, keyframes with their fills;
        ``keyed_only``: keyframe sources only). None when there are none."""
        n = len(result)
        seg = np.zeros(n, np.intp)
        for t in broken:
            seg[t + 1:] += 1
        seg_len = np.bincount(seg)[seg]
        out, anyv = [], False
        for t, r in enumerate(result):
            hole = holes[t]
            stale = np.zeros_like(hole)
            if seg_len[t] < _STALE_CALM:
                # while what borders the hole keeps changing, a source from a
                # frame or two across a change is still the best guess; a ghost
                # is what is carried into a calm stretch
                out.append(stale)
                continue
            bs = np.clip(r.src, 0, n - 1).astype(np.intp)
            cand = r.has & hole & (r.src >= 0) & (seg[bs] != seg[t])
            if keyed_only:
                cand &= r.dist >= _KEYFRAME_PENALTY
            bb = mask_bbox(cand)
            if bb is not None:
                h_, w_ = hole.shape
                g = _STALE_RING
                y0, y1 = max(0, bb[0] - g), min(h_, bb[1] + g)
                x0, x1 = max(0, bb[2] - g), min(w_, bb[3] + g)
                # the ring's colours continued smoothly inward, and how far the
                # ring itself strays from that (its local contrast), continued too
                kn = known[t][y0:y1, x0:x1].astype(np.float32)
                img = frames[t][y0:y1, x0:x1].astype(np.float32)
                est = cv2.GaussianBlur(subject.pull_push(img, kn), (0, 0), _STALE_SIGMA)
                dev = cv2.GaussianBlur(subject.pull_push(np.abs(img - est).mean(axis=2), kn), (0, 0), _STALE_SIGMA)
                cb = cand[y0:y1, x0:x1]
                bsb = bs[y0:y1, x0:x1]
                for src in np.unique(bsb[cb]):
                    yy, xx = np.nonzero(cb & (bsb == src))
                    if len(yy) < _STALE_MIN_PX:
                        continue
                    sy = np.clip(np.floor(r.cy[y0 + yy, x0 + xx] + 0.5).astype(np.intp), 0, h_ - 1)
                    sx = np.clip(np.floor(r.cx[y0 + yy, x0 + xx] + 0.5).astype(np.intp), 0, w_ - 1)
                    off = float(np.abs(frames[src][sy, sx].astype(np.float32) - est[yy, xx]).mean())
                    z = off / (float(dev[yy, xx].mean()) + _STALE_FLOOR)
                    if z > _STALE_MISMATCH:
                        stale[y0 + yy, x0 + xx] = True
            anyv |= bool(stale.any())
            out.append(stale)
        return out if anyv else None

    @staticmethod
    def _forget(state, result: list[Sources], stale: list[np.ndarray]) -> None:
        """Remove the ``stale`` pixels' candidates from the sweeps' ``state``
        (and ``result``, which shares its arrays): they are no source for the
        sweeps that follow either, and a keyframe's chains may reach them."""
        S, CX, CY, D, AV, S2, CX2, CY2, D2 = state
        for t, x in enumerate(stale):
            if x.any():
                S[t][x] = -1.0
                D[t][x] = np.inf
                AV[t][x] = False
                S2[t][x] = -1.0
                D2[t][x] = np.inf
                result[t].wt2[x] = 0.0

    @staticmethod
    def _drop(r: Sources, stale: np.ndarray) -> Sources:
        """``r`` without the sources of ``stale`` pixels (left to the fallback)."""
        if not stale.any():
            return r
        return r._replace(src=np.where(stale, np.float32(-1), r.src), has=r.has & ~stale,
                          src2=np.where(stale, np.float32(-1), r.src2), wt2=np.where(stale, np.float32(0), r.wt2))

    @staticmethod
    def _keyframe_source(frame, hole, comp, unseen, filled) -> np.ndarray:
        """A keyframe as a source: propagated colours in the hole, the spatial
        (or generative) fill where nothing was propagated."""
        out = frame.copy()
        out[hole] = comp[hole]
        out[unseen] = filled[unseen]
        return out

    @staticmethod
    def _sources(res, region) -> set:
        """The source frames a propagation result may read inside ``region``
        (every candidate, as ``_compose`` packs their boxes)."""
        src, _cx, _cy, _d, _has, src2, _cx2, _cy2, _wt2 = res
        y0, y1, x0, x1 = mask_bbox(region) or (0, 0, 0, 0)
        r = region[y0:y1, x0:x1]
        used = np.unique(src[y0:y1, x0:x1][r]).astype(int).tolist()
        used += np.unique(src2[y0:y1, x0:x1][r]).astype(int).tolist()
        return {u for u in used if u >= 0}

    @staticmethod
    def _resolve(pending: dict, src_frames: list, needed, keep: bool = False) -> None:
        """Wait for the keyframe fills in ``needed`` still running and put
        their source frames in place (``keep``: leave them in ``pending``,
        for callers in several threads)."""
        for k in sorted(set(needed) & set(pending)):
            src_frames[k] = (pending[k] if keep else pending.pop(k)).result()

    @staticmethod
    def _fill_from(dst: np.ndarray, src: np.ndarray, where: np.ndarray, hole: np.ndarray | None = None) -> None:
        """dst[where] = src[where]; a smaller ``src`` (a working-resolution
        pass) is upsampled over the bounding box of ``where`` only. Such a
        ``where`` is made of working-pixel blocks: with the ``hole`` it is
        cross-faded into ``dst`` over about a working pixel on the hole's
        pixels around it (no staircase edge between the two fills)."""
        H, W = dst.shape[:2]
        if src.shape[:2] == (H, W):
            _masked_copy(dst, src, where)
            return
        h, w = src.shape[:2]
        k = max(W / w, H / h)
        g = int(np.ceil(k)) + 1 if hole is not None else 0
        y0, y1, x0, x1 = mask_bbox(where)
        y0, x0, y1, x1 = max(0, y0 - g), max(0, x0 - g), min(H, y1 + g), min(W, x1 + g)
        up = _upsample_box(src, (y0, y1, x0, x1), (W / w, H / h))
        wb = where[y0:y1, x0:x1]
        if hole is None:
            _masked_copy(dst[y0:y1, x0:x1], up, wb)
            return
        db = dst[y0:y1, x0:x1]
        _masked_copy(db, up, wb)
        # beside ``where`` on the hole: a weight falling linearly from 1 to 0
        # over one working pixel
        dist = cv2.distanceTransform((~wb).view(np.uint8), cv2.DIST_L2, 3)
        yy, xx = np.nonzero((dist > 0) & (dist < k + 1.0) & hole[y0:y1, x0:x1])
        if yy.size:
            a = (1.0 - dist[yy, xx] / (k + 1.0))[:, None]
            cur = db[yy, xx].astype(np.float32)
            db[yy, xx] = np.clip(cur + a * (up[yy, xx].astype(np.float32) - cur) + 0.5, 0, 255).astype(np.uint8)

    @staticmethod
    def _moving_one(flow: np.ndarray, fh: np.ndarray, g0: np.ndarray, g1: np.ndarray) -> np.ndarray | None:
        """Pixels of a frame (outside the grown hole) that move unlike the
        background: the flow disagrees with a homography fitted outside the
        hole *and* the homography does not predict the next frame there (a
        flat area's wrong flow is no moving object). None where no global
        motion explains the frame."""
        h, w = fh.shape
        valid = ~fh
        H = fit_global_motion(flow, valid, step=6)
        if H is None:
            return None
        r = homography_residual(flow, H)
        # the share of valid pixels that follow it (no copy of the selection)
        if np.count_nonzero((r < 1.0) & valid) / max(1, np.count_nonzero(valid)) < _MOV_INLIERS:
            return None
        warped = cv2.warpPerspective(g1, H, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REPLICATE)
        photo = cv2.absdiff(cv2.GaussianBlur(warped, (5, 5), 0), cv2.GaussianBlur(g0, (5, 5), 0))
        mov = cv2.morphologyEx(((r > _MOV_THR) & valid).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        # a region counts as moving when the background's motion fails to
        # predict its pixels somewhere inside it (edges of a uniform object
        # suffice; a flat area with wrong flow has none)
        nl, lab = cv2.connectedComponents(mov, connectivity=8)
        if nl <= 1:
            return None
        hit = np.bincount(lab.ravel(), weights=(photo > _MOV_PHOTO).ravel(), minlength=nl)
        size = np.bincount(lab.ravel(), minlength=nl)
        keep = (hit >= _MOV_FRAC * size) & (size >= 12)
        keep[0] = False
        mov = keep[lab].astype(np.uint8)
        mov = cv2.dilate(mov, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
        if mov.mean() > _MOV_MAX:
            return None
        return mov & valid

    @staticmethod
    def _recomplete(raw: np.ndarray, done: np.ndarray, fh: np.ndarray, mov: np.ndarray, measured: bool) -> np.ndarray:
        """A flow (``raw``: as measured; ``done``: this pass's flow) completed
        over the moving pixels ``mov`` too, so that chains cross a moving
        subject on the background's motion.

        The first pass completes the hole and the moving pixels together (the
        subject's motion must not enter the ring the hole's flow is fitted
        on). A refinement pass (``measured``: its flow in the hole is kept as
        measured on the previous fill) completes the hole only where a moving
        region comes near it, where that flow is dragged along by the
        subject; regions away from the hole (content entering at a frame
        edge, a flowing texture) are completed on their own and leave the
        hole's measured flow as it is.
        """
        if not measured:
            return complete_flow(raw, fh | mov, _FLOW_FILL)
        near = _near_hole(mov, fh)
        out = complete_flow(raw, fh | near, _FLOW_FILL) if near.any() else done
        far = mov & ~near
        if far.any():
            out = complete_flow(out, far, _FLOW_FILL)
        return out

    @staticmethod
    def _persistent(raw: list[np.ndarray | None], flow_holes: list[np.ndarray]) -> list[np.ndarray] | None:
        """Per frame of the chunk the pixels that move on their own (``raw``:
        ``_moving_one`` of each frame), kept only where they persist; None
        when there are none."""
        n = len(flow_holes)
        out = [m if m is not None else np.zeros_like(flow_holes[t]) for t, m in enumerate(raw)]
        # a moving object persists: a region with no moving neighbour in the
        # frame before or after is a flow error (e.g. content entering at a
        # frame edge), not an object
        near = [cv2.dilate(m.view(np.uint8), np.ones((9, 9), np.uint8)) > 0 if m.any() else m for m in out]
        kept = []
        for t, m in enumerate(out):
            if not m.any():
                kept.append(m)
                continue
            nb = np.zeros_like(m)
            if t > 0:
                nb |= near[t - 1]
            if t < n - 1:
                nb |= near[t + 1]
            nl, lab = cv2.connectedComponents(m.view(np.uint8), connectivity=8)
            ok = np.bincount(lab.ravel(), weights=nb.ravel(), minlength=nl) > 0
            ok[0] = False
            kept.append(ok[lab])
        if not any(m.any() for m in kept):
            return None
        return kept

    def _flow_hole(self, hw: np.ndarray) -> np.ndarray:
        """The working hole grown by ``_FLOW_DILATE`` (flow near an object's
        edge belongs partly to the object): where flow is completed."""
        if not hw.any():
            return hw
        kf = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _FLOW_DILATE + 1,) * 2)
        return cv2.dilate(hw.astype(np.uint8), kf) > 0

    def _pair(self, g0, g1, fh0, fh1, hw0, hw1, fill_mode: str, coarse: bool):
        """Flows between two working frames (forward, backward; completed in
        the grown holes and as measured) and their consistency masks."""
        dis = self._dis(coarse=coarse)
        f = dis.calc(g0, g1, None)
        b = dis.calc(g1, g0, None)
        fc = complete_flow(f, fh0, fill_mode) if fill_mode != "none" else f
        bc = complete_flow(b, fh1, fill_mode) if fill_mode != "none" else b
        # consistency: a hole pixel's (completed) flow must be confirmed by the
        # *measured* reverse flow where it lands on a real pixel — an occluder or
        # a moving neighbour there moves differently and is rejected; where it
        # lands inside the next hole (completed flow on both sides) a looser
        # check applies
        okf = self._consistent(fc, bc, b, hw1, fh1, hw0)
        okb = self._consistent(bc, fc, f, hw0, fh0, hw1)
        # the first frame's independently moving pixels (first pass only),
        # here so that they are found while the chunk is still being read
        first = fill_mode != "none"
        m0 = self._moving_one(f, fh0, g0, g1) if _MOVING and first else None
        # how badly the measured flow explains the ring around the hole (first
        # pass only: the refinement's frames hold the previous fill)
        rr = _ring_residual(f, fh0, g0, g1) if first and _RING_RES_MAX is not None else 0.0
        return fc, bc, f, b, okf, okb, m0, rr

    def _dis(self, coarse: bool = False):
        """This thread's DIS instance (one OpenCV object per thread);
        ``coarse`` stops one pyramid level earlier (4x cheaper)."""
        key = "dis_coarse" if coarse else "dis"
        d = getattr(self._local, key, None)
        if d is None:
            fs = 1 if self.flow_preset != "medium" else None
            if coarse:
                fs = 2
            d = FlowEstimator(self.flow_preset, max_side=None, finest_scale=fs).dis
            setattr(self._local, key, d)
        return d

    @staticmethod
    def _warp_prev(prev, hole, flow_small, ok_small, W, H, prev_hole=None):
        """The previous full-resolution output warped onto this frame over the
        bounding box of ``hole`` (flow upsampled from the working grid), and
        ``ok``: float32 in [0, 1], the working grid's consistency upsampled
        linearly (a soft edge, not a staircase of working-pixel blocks); with
        ``prev_hole``, only the pixels that land inside it."""
        y0, y1, x0, x1 = mask_bbox(hole)
        h, w = flow_small.shape[:2]
        sx, sy = w / W, h / H
        fl = _upsample_box(flow_small, (y0, y1, x0, x1), (1.0 / sx, 1.0 / sy))
        ok = None
        if ok_small is not None:
            ok = _upsample_box(ok_small.astype(np.float32), (y0, y1, x0, x1), (1.0 / sx, 1.0 / sy))
        mx = np.arange(x0, x1, dtype=np.float32)[None, :] + fl[:, :, 0] / sx
        my = np.arange(y0, y1, dtype=np.float32)[:, None] + fl[:, :, 1] / sy
        pw = cv2.remap(prev, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if prev_hole is not None:
            landed = cv2.remap(prev_hole.view(np.uint8), mx, my, cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
            ok = landed if ok is None else ok * landed
        return (y0, y1, x0, x1), pw, ok

    def _temporal_blend(self, cur, prev, hole, flow_small, ok_small, W, H, in_place: bool = False,
                        prev_hole=None) -> np.ndarray:
        """Recursive filter along the flow inside the hole: the previous output,
        warped onto this frame, is mixed in where the flow is consistent. Damps
        the residual flicker of source switches and keyframe seams. With
        ``prev_hole`` (the previous frame's hole) only what lands on the
        previous *fill* is mixed in: a real pixel of the previous frame is no
        better a source than the propagation already found, and when it shows
        a subject the flow check missed (a racket, a motion-blurred arm) it
        leaves a ghost that the recursion carries on for many frames.
        ``in_place`` writes into ``cur`` (a fresh composite) instead of a copy."""
        (y0, y1, x0, x1), pw, ok = self._warp_prev(prev, hole, flow_small, ok_small, W, H, prev_hole)
        hb = hole[y0:y1, x0:x1]
        out = cur if in_place else cur.copy()
        lam = self.temporal
        ob = out[y0:y1, x0:x1]
        mixed = cv2.addWeighted(cur[y0:y1, x0:x1], 1.0 - lam, pw, lam, 0.0)  # rounds and saturates
        if ok is None:
            _masked_copy(ob, mixed, hb)
            return out
        _masked_copy(ob, mixed, hb & (ok >= 1.0))
        # the edge of the consistent region (none at the working grid's own
        # resolution, where ok is 0 or 1): its share of the full weight
        yy, xx = np.nonzero(hb & (ok > 0.0) & (ok < 1.0))
        if yy.size:
            c = cur[y0:y1, x0:x1][yy, xx].astype(np.float32)
            a = (lam * ok[yy, xx])[:, None]
            ob[yy, xx] = np.clip(c + a * (pw[yy, xx].astype(np.float32) - c) + 0.5, 0, 255).astype(np.uint8)
        return out

    @staticmethod
    def _consistent(f, b_completed, b_raw, hole_next, band_next, hole_t=None) -> np.ndarray:
        """Three zones at the landing point: inside the next hole (both flows
        completed: loose check), in the band around it where measured flow is
        partly polluted by the removed object (measured flow, loose check),
        elsewhere (measured flow, strict check). Only pixels of ``hole_t`` are
        ever read, so only its bounding box is computed."""
        h, w = f.shape[:2]
        ok = np.zeros((h, w), bool)
        if hole_t is None:
            y0, y1, x0, x1 = 0, h, 0, w
        else:
            bb = mask_bbox(hole_t)
            if bb is None:
                return ok
            y0, y1, x0, x1 = bb
        gx, gy = _grid(h, w)
        fc = f[y0:y1, x0:x1]
        mx = gx[y0:y1, x0:x1] + fc[..., 0]
        my = gy[y0:y1, x0:x1] + fc[..., 1]
        inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        braw_at = cv2.remap(b_raw, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        strict = consistency_from_sampled(fc, braw_at)
        band_at = cv2.remap(band_next.astype(np.uint8), mx, my, cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT) > 0
        if band_at.any():
            hole_at = cv2.remap(hole_next.astype(np.uint8), mx, my, cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT) > 0
            bc_at = cv2.remap(b_completed, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            loose_raw = consistency_from_sampled(fc, braw_at, 0.05, 2.0)
            loose = consistency_from_sampled(fc, bc_at, 0.05, 4.0)
            strict = np.where(hole_at, loose, np.where(band_at, loose_raw, strict))
        ok[y0:y1, x0:x1] = strict & inside
        return ok

    @staticmethod
    def _upsample_bool(b: np.ndarray, W: int, H: int) -> np.ndarray:
        return cv2.resize(b.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST) > 0

    # ------------------------------------------------------- propagation
    def _sweeps(self, n, h, w, known, key_known, hw, fwd, bwd, ok_f, ok_b, xs, ys, passes: int = 3,
                state=None, new_key: int | None = None):
        """Alternating sweeps (future → past, past → future, future → past).

        Each sweep starts from the best candidates found so far, so a chain may
        turn around (a pixel reaches frame t-1, whose fill came from t+5). Per
        pixel the best and second-best candidates (by chain length, keyframe
        fills penalised) are kept; returns per frame a :class:`Sources`, and
        the state to continue from.

        With ``state`` (the previous call's) and ``new_key`` (a frame whose
        ``key_known`` pixels just became sources), only pixels no real
        observation reaches are swept again: a keyframe source never beats a
        real one (``_KEYFRAME_PENALTY``), so the result equals a fresh run up
        to second candidates that would weigh ~exp(-1000/tau).
        """
        hbb = [mask_bbox(x) or (0, 0, 0, 0) for x in hw]
        if state is not None:
            if new_key is None:
                raise ValueError("continuing the sweeps needs the new keyframe")
            S, CX, CY, D, AV, S2, CX2, CY2, D2 = state
            kk = key_known[new_key]
            S[new_key][kk] = float(new_key)
            CX[new_key][kk] = xs[kk]
            CY[new_key][kk] = ys[kk]
            D[new_key][kk] = _KEYFRAME_PENALTY
            AV[new_key][kk] = True
        else:
            S, CX, CY, D, AV = [], [], [], [], []
            S2, CX2, CY2, D2 = [], [], [], []
        restrict = state is not None
        for t in range(n if state is None else 0):
            avail = known[t] | key_known[t]
            S.append(np.where(avail, np.float32(t), np.float32(-1.0)))
            CX.append(xs.copy())
            CY.append(ys.copy())
            d = np.where(key_known[t], np.float32(_KEYFRAME_PENALTY), np.float32(0.0))
            d[~avail] = np.inf
            D.append(d)
            AV.append(avail.copy())
            S2.append(np.full((h, w), -1.0, np.float32))
            CX2.append(np.zeros((h, w), np.float32))
            CY2.append(np.zeros((h, w), np.float32))
            D2.append(np.full((h, w), np.inf, np.float32))

        kernel = step_kernel() if self.jit else None
        pen = np.float32(_KEYFRAME_PENALTY)

        def step(t, u, flow, ok):
            # candidates for frame t from frame u's current best, sampled at the
            # nearest pixel to the landing point; the sub-pixel remainder is
            # carried in the coordinates (no mixing of sources, no blur)
            y0, y1, x0, x1 = hbb[t]
            if kernel is not None:  # the same step, compiled (vedit.engines.sweep)
                kernel(y0, y1, x0, x1, restrict, pen, hw[t], ok, known[t], key_known[t], flow,
                       S[u], CX[u], CY[u], D[u], AV[u], S[t], CX[t], CY[t], D[t], AV[t],
                       S2[t], CX2[t], CY2[t], D2[t])
                return
            crop = (slice(y0, y1), slice(x0, x1))
            sel = hw[t][crop] & ok[crop] & ~(known[t][crop] | key_known[t][crop])
            if restrict:
                sel &= D[t][crop] >= _KEYFRAME_PENALTY
            yy, xx = np.nonzero(sel)
            if len(yy) == 0:
                return
            yy += y0
            xx += x0
            mxs = xx + flow[yy, xx, 0]
            mys = yy + flow[yy, xx, 1]
            rxs, rys = np.floor(mxs + 0.5), np.floor(mys + 0.5)
            ins = (rxs >= 0) & (rxs <= w - 1) & (rys >= 0) & (rys <= h - 1)
            yy, xx, mxs, mys, rxs, rys = yy[ins], xx[ins], mxs[ins], mys[ins], rxs[ins], rys[ins]
            iy, ix = rys.astype(np.intp), rxs.astype(np.intp)
            av = AV[u][iy, ix]
            yy, xx, iy, ix, mxs, mys = yy[av], xx[av], iy[av], ix[av], mxs[av], mys[av]
            if len(yy) == 0:
                return
            cs = S[u][iy, ix]
            cd = D[u][iy, ix] + 1.0
            ccx = CX[u][iy, ix] + (mxs - ix)
            ccy = CY[u][iy, ix] + (mys - iy)
            cur_d = D[t][yy, xx]
            cur_s = S[t][yy, xx]
            better = cd < cur_d
            same_src = (cs == cur_s) & (np.abs(ccx - CX[t][yy, xx]) < 1.0) & (np.abs(ccy - CY[t][yy, xx]) < 1.0)
            # demote the current best to second where the new one wins
            b = better & ~same_src & np.isfinite(cur_d)
            by, bx = yy[b], xx[b]
            S2[t][by, bx] = S[t][by, bx]
            CX2[t][by, bx] = CX[t][by, bx]
            CY2[t][by, bx] = CY[t][by, bx]
            D2[t][by, bx] = D[t][by, bx]
            by, bx = yy[better], xx[better]
            S[t][by, bx] = cs[better]
            CX[t][by, bx] = ccx[better]
            CY[t][by, bx] = ccy[better]
            D[t][by, bx] = cd[better]
            AV[t][by, bx] = True
            # otherwise it may become the second candidate
            sec = ~better & ~same_src & (cd < D2[t][yy, xx])
            sy_, sx_ = yy[sec], xx[sec]
            S2[t][sy_, sx_] = cs[sec]
            CX2[t][sy_, sx_] = ccx[sec]
            CY2[t][sy_, sx_] = ccy[sec]
            D2[t][sy_, sx_] = cd[sec]

        for p in range(passes):
            if p % 2 == 0:  # future -> past
                for t in range(n - 2, -1, -1):
                    if hw[t].any():
                        step(t, t + 1, fwd[t], ok_f[t])
            else:  # past -> future
                for t in range(1, n):
                    if hw[t].any():
                        step(t, t - 1, bwd[t - 1], ok_b[t - 1])

        out = []
        tau = 4.0
        for t in range(n):
            has = AV[t]
            # second candidates exist only in the hole: weights in its box
            wt2 = np.zeros((h, w), np.float32)
            y0, y1, x0, x1 = hbb[t]
            if y1 > y0:
                c = (slice(y0, y1), slice(x0, x1))
                both = has[c] & np.isfinite(D2[t][c]) & hw[t][c]
                gap = np.full(both.shape, np.inf, np.float32)
                gap[both] = D2[t][c][both] - D[t][c][both]
                e = np.exp(-np.minimum(gap, 60.0) / tau).astype(np.float32)
                wt2[c] = np.where(both, e / (1.0 + e), 0.0)
            out.append(Sources(S[t], CX[t], CY[t], D[t], has, S2[t], CX2[t], CY2[t], wt2))
        return out, (S, CX, CY, D, AV, S2, CX2, CY2, D2)

    # --------------------------------------------------------- compositing
    @staticmethod
    def _source_boxes(res, win, sx, sy, n_src, margin=2.0):
        """Per source frame, the full-resolution box its samples for one frame
        can come from: the range of the working-resolution coordinates read in
        ``win`` (both candidates), scaled up, with a margin of ``margin``
        working pixels for interpolation. Boxes may reach past the frame edge.
        Returns (used, x0, x1, y0, y1): used bool, the rest int arrays with
        x1, y1 inclusive."""
        src, cx, cy, _d, has, src2, cx2, cy2, _wt2 = res
        wy0, wy1, wx0, wx1 = win
        ids_l, xs_l, ys_l = [], [], []
        for S, X, Y in ((src, cx, cy), (src2, cx2, cy2)):
            Sw = S[wy0:wy1, wx0:wx1]
            sel = Sw >= 0
            ids_l.append(Sw[sel].astype(np.intp))
            xs_l.append(X[wy0:wy1, wx0:wx1][sel])
            ys_l.append(Y[wy0:wy1, wx0:wx1][sel])
        ids = np.concatenate(ids_l)
        used = np.zeros(n_src, bool)
        z = np.zeros(n_src, np.intp)
        if len(ids) == 0:
            return used, z, z, z, z
        # per-source min/max: one sort, then reductions over the runs (ufunc.at
        # is ~10x slower)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        xs, ys = np.concatenate(xs_l)[order], np.concatenate(ys_l)[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        keys = ids[starts]
        used[keys] = True
        lo_x, hi_x = np.full(n_src, 0.0, np.float32), np.full(n_src, 0.0, np.float32)
        lo_y, hi_y = lo_x.copy(), hi_x.copy()
        lo_x[keys], hi_x[keys] = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
        lo_y[keys], hi_y[keys] = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
        x0 = np.floor((lo_x + 0.5) * sx - 0.5 - margin * sx).astype(np.intp)
        x1 = np.ceil((hi_x + 0.5) * sx - 0.5 + margin * sx).astype(np.intp)
        y0 = np.floor((lo_y + 0.5) * sy - 0.5 - margin * sy).astype(np.intp)
        y1 = np.ceil((hi_y + 0.5) * sy - 0.5 + margin * sy).astype(np.intp)
        return used, x0, x1, y0, y1

    @staticmethod
    def _atlas(src_frames, used, x0, x1, y0, y1):
        """The boxes of the used source frames packed side by side on shelves
        of one image (so one ``remap`` samples every source); parts of a box
        past the frame edge repeat the edge (as BORDER_REPLICATE). Returns the
        atlas and per source the offset from frame to atlas coordinates."""
        ids = np.flatnonzero(used)
        hs = y1[ids] - y0[ids] + 1
        ws = x1[ids] - x0[ids] + 1
        shelf_w = int(max(int(ws.max()), 2048))
        offx = np.zeros(len(used), np.float32)
        offy = np.zeros(len(used), np.float32)
        place = []
        ax = ay = shelf_h = 0
        for k in np.argsort(-hs, kind="stable"):
            if ax + ws[k] > shelf_w:
                ay += shelf_h
                ax = shelf_h = 0
            place.append((k, ax, ay))
            ax += int(ws[k])
            shelf_h = max(shelf_h, int(hs[k]))
        atlas = np.empty((ay + shelf_h, shelf_w, 3), np.uint8)
        for k, px, py in place:
            s = ids[k]
            f = src_frames[s]
            H, W = f.shape[:2]
            bx0, bx1, by0, by1 = int(x0[s]), int(x1[s]) + 1, int(y0[s]), int(y1[s]) + 1
            cx0, cx1, cy0, cy1 = max(bx0, 0), min(bx1, W), max(by0, 0), min(by1, H)
            dst = atlas[py:py + hs[k], px:px + ws[k]]
            if cx0 >= cx1 or cy0 >= cy1:  # box wholly outside (never for valid coordinates)
                cx0, cx1 = (0, 1) if bx1 <= 0 else (W - 1, W) if bx0 >= W else (cx0, cx1)
                cy0, cy1 = (0, 1) if by1 <= 0 else (H - 1, H) if by0 >= H else (cy0, cy1)
            if (cx0, cx1, cy0, cy1) == (bx0, bx1, by0, by1):
                dst[...] = f[by0:by1, bx0:bx1]
            else:
                cv2.copyMakeBorder(f[cy0:cy1, cx0:cx1], cy0 - by0, by1 - cy1, cx0 - bx0, bx1 - cx1,
                                   cv2.BORDER_REPLICATE, dst=dst)
            offx[s] = px - bx0
            offy[s] = py - by0
        return atlas, offx, offy

    @staticmethod
    def _atlas_coords(S, C, off, scale):
        """Working-resolution coordinates C of source S as full-resolution
        atlas coordinates (an affine map per source, so it commutes with the
        linear upsampling of the maps)."""
        o = np.take(off, np.clip(S, 0, len(off) - 1).astype(np.intp))
        return (C + 0.5) * scale - 0.5 + o

    def _compose(self, frame, hole, res, src_frames, sx, sy, W, H, mask,
                 offsets: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution colours for ``hole`` from the propagation maps, and
        the hole pixels no map reaches (read-only, its box remembered).
        ``offsets``: match the lighting of the sources (``_source_offsets``)."""
        src, cx, cy, dist, has, src2, cx2, cy2, wt2 = res
        # the box, not a scan of the frame (a read-only hole's box is remembered)
        bb = mask_bbox(hole)
        if bb is None:
            # nothing changes (a context frame): the frame itself, not a copy
            return frame, freeze_boxed(np.zeros(hole.shape, bool), 0, 0, 0, 0)
        out = frame.copy()
        missing = np.zeros(hole.shape, bool)
        h, w = src.shape
        full = (w, h) != (W, H)
        y0, y1, x0, x1 = bb
        pad = 4
        y0, x0 = max(0, y0 - pad), max(0, x0 - pad)
        y1, x1 = min(H, y1 + pad), min(W, x1 + pad)
        region = hole[y0:y1, x0:x1]
        # the working-resolution window under the bbox
        if full:
            wy0, wx0 = max(0, int(y0 / sy) - 2), max(0, int(x0 / sx) - 2)
            wy1, wx1 = min(h, int(np.ceil(y1 / sy)) + 2), min(w, int(np.ceil(x1 / sx)) + 2)
        else:
            wy0, wy1, wx0, wx1 = y0, y1, x0, x1
        win = (wy0, wy1, wx0, wx1)
        orig = frame[y0:y1, x0:x1].astype(np.float32)
        used, bx0, bx1, by0, by1 = self._source_boxes(res, win, sx, sy, len(src_frames))
        if not used.any():
            missing[y0:y1, x0:x1] = region
            return out, freeze_boxed(missing, y0, y1, x0, x1)
        # every source's box in one atlas image: one remap per candidate, with
        # the maps turned into atlas coordinates on the working grid
        atlas, offx, offy = self._atlas(src_frames, used, bx0, bx1, by0, by1)
        ws = (slice(wy0, wy1), slice(wx0, wx1))
        Sw, S2w = src[ws], src2[ws]
        AX, AY = self._atlas_coords(Sw, cx[ws], offx, sx), self._atlas_coords(Sw, cy[ws], offy, sy)
        AX2, AY2 = self._atlas_coords(S2w, cx2[ws], offx, sx), self._atlas_coords(S2w, cy2[ws], offy, sy)
        if full:
            # maps upsampled to the bbox: nearest for indices, linear for
            # coordinates (channels stacked so each interpolation is one remap)
            def up(arrs, interp):
                return _upsample_box(arrs, (y0, y1, x0, x1), (sx, sy), (wx0, wy0), interp)

            # the full-resolution centre of each working pixel of the window
            # (its nearest upsampling says which working pixel a box pixel took)
            ch, cw = wy1 - wy0, wx1 - wx0
            cxw = np.broadcast_to(((np.arange(wx0, wx1, dtype=np.float32) + 0.5) * sx - 0.5)[None, :], (ch, cw))
            cyw = np.broadcast_to(((np.arange(wy0, wy1, dtype=np.float32) + 0.5) * sy - 0.5)[:, None], (ch, cw))
            lin = up([AX, AY, AX2, AY2, Sw, S2w, wt2[ws]], cv2.INTER_LINEAR)
            near = up([AX, AY, AX2, AY2, Sw, S2w, has[ws].astype(np.float32), cxw, cyw], cv2.INTER_NEAREST)
            S, S2, HS = near[4], near[5], near[6] > 0.5
            WT2 = lin[6]
            # a box pixel's offset from the centre of its nearest working pixel
            off = (np.arange(x0, x1, dtype=np.float32)[None, :] - near[7],
                   np.arange(y0, y1, dtype=np.float32)[:, None] - near[8])
            # where neighbouring working pixels disagree (another source frame,
            # or another chain), linear interpolation of coordinates would land
            # between them: the nearest working pixel's map is continued to the
            # box pixel there (a local translation: every box pixel reads its
            # own source pixel; one coordinate for the whole block of box pixels
            # of a working pixel would copy a flat square of it)
            mixed1 = cv2.absdiff(lin[4], S) > 1e-3
            mixed2 = cv2.absdiff(lin[5], S2) > 1e-3
            tol = 0.75 * max(sx, sy)

            def fix(c, mixed):
                """Coordinate map c and where it took the continued nearest map."""
                cont = near[c] + off[c % 2]
                far = (cv2.absdiff(lin[c], cont) > tol) | mixed
                _masked_copy(lin[c], cont, far)
                return lin[c], far

            AXw, AYw = AX, AY
            (AX, far_x), (AY, far_y) = fix(0, mixed1), fix(1, mixed1)
            (AX2, _), (AY2, _) = fix(2, mixed2), fix(3, mixed2)
        else:
            S, HS, S2, WT2 = Sw, has[ws], S2w, wt2[ws]
        sel = region & HS & (S >= 0)
        patch = orig.copy()
        if sel.any():
            col = cv2.remap(atlas, AX, AY, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            if full:
                # where the box pixel's working neighbours map to different
                # places (a seam between two sources or chains), a cross-fade
                # of what each of them continues to there (no staircase of
                # working-pixel blocks along the seam)
                seam = far_x | far_y
                seam &= sel
                if seam.any():
                    self._soft_seams(col, seam, atlas, AXw, AYw, Sw, has[ws], (y0, x0), (wy0, wx0), sx, sy)
            sel2 = sel & (WT2 > 1e-3) & (S2 >= 0)
            if sel2.any():
                col2 = cv2.remap(atlas, AX2, AY2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                w2 = np.where(sel2, WT2, 0.0).astype(np.float32)
                col = cv2.blendLinear(col, col2.astype(np.float32), 1.0 - w2, w2)
            _masked_copy(patch, col, sel)
            if offsets:
                # frames lit differently meet without a step
                self._source_offsets(patch, sel, S)
        patch = self._seam_offset(patch, orig, region, sel)
        a = self._alpha_for(hole, mask[y0:y1, x0:x1] if mask is not None else None, region)
        if a is not None:
            patch = cv2.blendLinear(orig, patch, 1.0 - a, a)
        patch += 0.5
        np.clip(patch, 0, 255, out=patch)
        _masked_copy(out[y0:y1, x0:x1], patch.astype(np.uint8), region)
        missing[y0:y1, x0:x1] = region & ~sel
        return out, freeze_boxed(missing, y0, y1, x0, x1)

    @staticmethod
    def _soft_seams(col, seam, atlas, AX, AY, S, has, box_origin, win_origin, sx, sy) -> None:
        """``col`` (float32, the box's colours) at the ``seam`` pixels
        replaced, in place, by the bilinear blend of the colours that their
        four working-grid neighbours (``AX``, ``AY``: atlas coordinates of the
        working window; ``S``, ``has``: its source and reach) give them, each
        neighbour's map continued to the pixel as a local translation."""
        yy, xx = np.nonzero(seam)
        y0, x0 = box_origin
        wy0, wx0 = win_origin
        ch, cw = S.shape
        gx = (xx + x0).astype(np.float32)
        gy = (yy + y0).astype(np.float32)
        u = (gx + 0.5) / sx - 0.5 - wx0
        v = (gy + 0.5) / sy - 0.5 - wy0
        j0, i0 = np.floor(u).astype(np.intp), np.floor(v).astype(np.intp)
        fx, fy = (u - j0).astype(np.float32), (v - i0).astype(np.float32)
        n = len(yy)
        # the four neighbours stacked (one sampling call for all of them)
        i = np.clip(np.concatenate([i0, i0, i0 + 1, i0 + 1]), 0, ch - 1)
        j = np.clip(np.concatenate([j0, j0 + 1, j0, j0 + 1]), 0, cw - 1)
        wx, wy = np.concatenate([1.0 - fx, fx, 1.0 - fx, fx]), np.concatenate([1.0 - fy, 1.0 - fy, fy, fy])
        wgt = (wx * wy * ((S[i, j] >= 0) & has[i, j])).reshape(4, n)
        mx = AX[i, j] + np.tile(gx, 4) - ((j + wx0 + 0.5) * sx - 0.5).astype(np.float32)
        my = AY[i, j] + np.tile(gy, 4) - ((i + wy0 + 0.5) * sy - 0.5).astype(np.float32)
        c = sample_points(atlas, mx, my, cv2.INTER_LINEAR).reshape(4, n, -1)
        wsum = wgt.sum(0)
        acc = (wgt[..., None] * c).sum(0)
        ok = wsum > 1e-3
        col[yy[ok], xx[ok]] = acc[ok] / wsum[ok, None]

    @staticmethod
    def _source_offsets(patch, sel, S) -> None:
        """One colour offset per source frame of ``patch`` (float32, in place)
        over ``sel``, where ``S`` says which source frame each pixel came
        from: the offsets that best remove the steps where pixels of two
        sources meet (least squares over those neighbour pairs, with a weak
        pull towards 0; a step over ``_OFFSET_MAX_STEP`` grey levels in any
        channel is a real edge and not counted).

        Frames lit differently (exposure, a cloud, snow spray) otherwise leave
        a patchwork of sheets with visible edges inside the hole, which the
        correction along the hole's outline (``_seam_offset``, run after this)
        cannot remove. Only the seams between sources are used: where a
        source meets the frame around the hole, that frame may show a subject
        beside the hole, and a constant for the whole source would spread its
        colour over the fill; that edge is ``_seam_offset``'s, a smooth field."""
        # source frame -> unknown's number, by table (8-bit when the frame
        # indices allow: the box can be half a megapixel at 1080p)
        if float(S.max(initial=0)) < 254:
            s8 = np.where(sel, S + 1, 0).astype(np.uint8)
            present = np.flatnonzero(cv2.calcHist([s8], [0], None, [256], [0, 256]).ravel()[1:])
            L = len(present)
            if L < 2:
                return
            lut8 = np.full(256, L, np.uint8)  # no source: L
            lut8[present + 1] = np.arange(L, dtype=np.uint8)
            idx = cv2.LUT(s8, lut8)
        else:
            lab = np.where(sel, S, -1).astype(np.int32)
            present = np.flatnonzero(np.bincount(lab.ravel() + 1)[1:])
            L = len(present)
            if L < 2:
                return
            lut = np.full(int(present[-1]) + 2, L, np.int32)
            lut[present + 1] = np.arange(L, dtype=np.int32)
            idx = lut[lab + 1]
        Wp = idx.shape[1]
        flat = patch.reshape(-1, patch.shape[2])
        iflat = idx.ravel()
        pa_l, pb_l = [], []
        # horizontal and vertical neighbours: (patch_a + o_a) - (patch_b + o_b) = 0
        for ia, ib, step in ((idx[:, :-1], idx[:, 1:], 1), (idx[:-1], idx[1:], Wp)):
            yy, xx = np.nonzero((ia != ib) & (ia < L) & (ib < L))
            pa_l.append(yy * Wp + xx)
            pb_l.append(yy * Wp + xx + step)
        pa, pb = np.concatenate(pa_l), np.concatenate(pb_l)
        a_all, b_all = iflat[pa].astype(np.intp), iflat[pb].astype(np.intp)
        r_all = (flat[pb] - flat[pa]).astype(np.float64)
        off = np.zeros((L, r_all.shape[1]))
        # twice: the second time a pair is judged by its step left after the
        # first offsets (a plain cut at the raw step drops the larger half of
        # the steps between two sources far apart, and underestimates them)
        for _ in range(2):
            keep = np.abs(r_all - (off[a_all] - off[b_all])).max(axis=1) < _OFFSET_MAX_STEP
            a, b, r = a_all[keep], b_all[keep], r_all[keep]
            if len(a) < 8:
                return
            # normal equations of o_a - o_b = r (L unknowns: a few dozen at
            # most): a graph Laplacian of the seams plus the prior
            ab = np.bincount(a * L + b, minlength=L * L).reshape(L, L).astype(np.float64)
            ab += ab.T
            A = np.diag(ab.sum(axis=1) + _OFFSET_PRIOR) - ab
            v = np.stack([np.bincount(a, r[:, c], minlength=L) - np.bincount(b, r[:, c], minlength=L)
                          for c in range(r.shape[1])], axis=1)
            off = np.linalg.solve(A, v)
        table = np.zeros((max(256, L + 1), off.shape[1]), np.float32)  # row L: no source
        table[:L] = off
        if idx.dtype == np.uint8 and patch.shape[2] == 3:
            # the offset image by one 8-bit table lookup (a float gather of the
            # whole box costs ~5x more)
            cv2.add(patch, cv2.LUT(cv2.merge([idx, idx, idx]), table[:256, None, :]), dst=patch)
        else:
            patch += table[idx]

    @staticmethod
    def _seam_offset(patch, orig, region, filled) -> np.ndarray:
        """Gradient-domain style correction: the colour difference between the
        frame and the propagated content on a ring just outside the hole is
        spread smoothly over the hole (robust to outliers such as a moving
        neighbour). Removes exposure seams from far-away sources. The offset
        field is smooth, so large holes solve it on a reduced grid."""
        ph, pw = region.shape
        k = -(-max(ph, pw) // _SEAM_SIDE)  # an integer reduction to at most _SEAM_SIDE px
        if k > 1:
            # box averages over k x k blocks (OpenCV's integer INTER_AREA path:
            # ~4x faster than a fractional one); the box is padded to whole
            # blocks (edge colours repeated, no hole there) and the field
            # upsampled exactly k times, so it stays aligned with the patch
            sh, sw = -(-ph // k), -(-pw // k)
            py, px = sh * k - ph, sw * k - pw

            def pad(a, mode):
                return cv2.copyMakeBorder(a, 0, py, 0, px, mode, value=0) if py or px else a

            p_s = cv2.resize(pad(patch, cv2.BORDER_REPLICATE), (sw, sh), interpolation=cv2.INTER_AREA)
            o_s = cv2.resize(pad(orig, cv2.BORDER_REPLICATE), (sw, sh), interpolation=cv2.INTER_AREA)
            r_s = pad(region.view(np.uint8), cv2.BORDER_CONSTANT)[k // 2::k, k // 2::k] > 0
            f_s = pad(filled.view(np.uint8), cv2.BORDER_CONSTANT)[k // 2::k, k // 2::k] > 0
            field_ = PropagateInpaintEngine._offset_field(p_s, o_s, r_s, f_s)
            if field_ is None:
                return patch
            field_ = cv2.resize(field_, (sw * k, sh * k), interpolation=cv2.INTER_LINEAR)[:ph, :pw]
        else:
            field_ = PropagateInpaintEngine._offset_field(patch, orig, region, filled)
            if field_ is None:
                return patch
        # patch += field_ on the hole, in place (patch is the caller's scratch)
        cv2.add(patch, field_, dst=patch, mask=region.view(np.uint8))
        return patch

    @staticmethod
    def _offset_field(patch, orig, region, filled):
        ring = (cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~region
        edge = region & ~(cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & filled
        if edge.sum() < 8:
            return None
        # difference on the hole's inner edge vs the frame just outside it
        blur_o = cv2.blur(orig * ring[:, :, None], (5, 5))
        wr = cv2.blur(ring.astype(np.float32), (5, 5))
        ok = edge & (wr > 0.05)
        if ok.sum() < 8:
            return None
        outside = blur_o / np.maximum(wr, 1e-6)[:, :, None]
        diff = np.zeros_like(patch)
        d = outside[ok] - patch[ok]
        mag = np.abs(d).max(axis=1)
        good = mag < 40.0
        idx = np.nonzero(ok)
        diff[idx[0][good], idx[1][good]] = d[good]
        known_d = np.zeros(region.shape, bool)
        known_d[idx[0][good], idx[1][good]] = True
        if known_d.sum() < 8:
            return None
        # membrane-like interpolation of the edge differences into the hole
        return _membrane_fill(diff, ~known_d, smooth=True)
