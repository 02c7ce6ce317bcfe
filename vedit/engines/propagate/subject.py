"""The moving subject under a hole: continue it inward instead of cutting it.

The flow and camera stages fill a hole with *background*: pixels that move on
their own (a player the camera follows) are no source for it. When that
subject walks behind a static object, or an object moves over its torso, the
truth under the hole is largely the subject, and a background fill cuts it at
the hole's edge (a large error, and a visible cut).

This stage runs after them, on a two-layer model of the ring around the hole:

* **which ring pixels are the subject's**: those the camera model does not
  predict (the median, over frames a few apart, of the difference to that
  frame warped by the background's homography);
* **its shape inside the hole**: that label continued inward by a pull-push
  interpolation from the ring (a soft probability: ~1 where the subject
  surrounds the spot, ~0 where background does);
* **its colours inside the hole**: the subject's own ring pixels continued
  inward by a fast-marching fill (never from the background's pixels), with
  the fine texture the previous fill had there;

and the fill becomes ``p * subject + (1 - p) * background fill``, weighted by
a confidence that leaves background cases alone: the subject's footprint
against the hole must change over the shot (one that holds still beside the
hole may just border it), the layer model must predict the hole's own edge
better than the background alone (held out from its fit: foliage and
motion-blurred riders do not continue smoothly), and the subject must hold
more than a touch of the ring. The confidence is averaged over neighbouring
frames so the fill does not switch on and off.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import cv2
import numpy as np

from vedit.engines.propagate.camera import _THREADS, CameraModel
from vedit.flow.ops import mask_bbox

#: ring (full-resolution px) around the hole whose pixels speak for it
_RING = 24
#: the held-out band (px from the hole) the layer model is checked on, and its
#: gain over the background alone from which / up to which it is trusted
_CHECK, _PRED_LO, _PRED_HI = 8, 0.05, 0.25
#: frames on each side whose trust is averaged in
_SPAN = 5
#: radius of the fill that continues the subject's colours
_TELEA_RADIUS = 5
#: longest side (px) of the patch that fill works on (its result is smooth)
_COLOUR_SIDE = 96
#: share of the ring that is subject from which / up to which the stage acts on a frame
_MIN_SHARE, _FULL_SHARE = 0.08, 0.2
#: pull-push: a pyramid cell counts as known from this much weight
_PP_SAT = 0.25
#: frames (offsets) the background's prediction of a pixel is taken from
_LAGS = (-8, -3, 3, 8)
#: median grey difference to those predictions from which a pixel is the subject's
_RES_THR = 20.0
#: share and scale (px) of the previous fill's fine texture kept under the subject's colours
_TEXTURE, _TEXTURE_SIGMA = 1.0, 2.0
#: lag (frames) and change of the subject's footprint against the hole from
#: which / up to which it counts as going in and out from under it
_MOTION_LAG, _MOTION_LO, _MOTION_HI = 3, 0.1, 0.3


def pull_push(val: np.ndarray, weight: np.ndarray, levels: int = 8) -> np.ndarray:
    """Fill ``val`` (H, W[, C] float32) where ``weight`` (H, W float32 in
    [0, 1]) is low from where it is high: a normalised-convolution pyramid
    (pull: weighted means down the pyramid; push: coarse values fill the fine
    levels' gaps). The result is smooth inside gaps and equals ``val`` where
    the weight is at least ``_PP_SAT``."""
    v = val.astype(np.float32)
    w = weight.astype(np.float32)
    if v.ndim == 2:
        v = v[..., None]
    vs, ws = [v * w[..., None]], [w]
    for _ in range(levels):
        h, wd = ws[-1].shape
        if min(h, wd) < 4:
            break
        sz = ((wd + 1) // 2, (h + 1) // 2)
        ws.append(cv2.resize(ws[-1], sz, interpolation=cv2.INTER_AREA))
        nv = cv2.resize(vs[-1], sz, interpolation=cv2.INTER_AREA)
        vs.append(nv if nv.ndim == 3 else nv[..., None])
    cur = vs[-1] / np.maximum(ws[-1], 1e-6)[..., None]
    for lv in range(len(ws) - 2, -1, -1):
        h, wd = ws[lv].shape
        up = cv2.resize(cur, (wd, h), interpolation=cv2.INTER_LINEAR)
        if up.ndim == 2:
            up = up[..., None]
        a = np.clip(ws[lv] / _PP_SAT, 0.0, 1.0)[..., None]
        own = vs[lv] / np.maximum(ws[lv], 1e-6)[..., None]
        cur = a * own + (1.0 - a) * up
    return cur[..., 0] if val.ndim == 2 else cur


def _residual_labels(cam: CameraModel, grey, holes: list[np.ndarray], t: int,
                     box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over ``box`` of frame ``t``: whether each pixel moves against the
    background (1.0) or with it (0.0), where that could be told (bool), and
    the background's grey there as the other frames show it (``grey(i)``:
    frame i's smoothed grey).
    A pixel follows the background when the camera model predicts it from
    other frames: the median, over a few frames before and after, of the grey
    difference to that frame warped by the background's homography (a
    subject's uniform patch may match one of them by chance, not most)."""
    y0, y1, x0, x1 = box
    n = len(holes)
    g = grey(t)[y0:y1, x0:x1]
    T = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    rs = []
    for o in _LAGS:
        s = t + o
        if s < 0 or s >= n:
            continue
        # box pixels -> frame s pixels, as a map of the box
        Hm = cam.guess(t, s) @ T
        Hi = np.linalg.inv(Hm)
        w = cv2.warpPerspective(grey(s), Hi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
        bad = cv2.warpPerspective(holes[s].view(np.uint8), Hi, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=1) > 0
        w[bad | (w < 0)] = np.nan
        rs.append(w)
    if not rs:
        z = np.zeros((y1 - y0, x1 - x0), np.float32)
        return z, z > 0, z
    st = np.stack(rs)
    ok = np.isfinite(st).sum(axis=0) >= min(2, len(rs))
    med = _nanmedian0(np.abs(st - g))
    back = np.nan_to_num(_nanmedian0(st), nan=0.0)
    lab = (np.nan_to_num(med, nan=0.0) > _RES_THR).astype(np.uint8)
    lab = cv2.morphologyEx(lab, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return lab.astype(np.float32), ok, back.astype(np.float32)


def _nanmedian0(st: np.ndarray) -> np.ndarray:
    """``np.nanmedian(st, axis=0)`` for a few layers (NaN where all are NaN):
    the layers sorted per pixel by an odd-even transposition network of
    element-wise min/max (NaN as +inf, so it sorts last), several times
    faster than numpy's masked median or a sort along the first axis."""
    rows = [np.where(np.isnan(x), np.float32(np.inf), x) for x in st]
    n = len(rows)
    for r in range(n):
        for i in range(r % 2, n - 1, 2):
            lo, hi = np.minimum(rows[i], rows[i + 1]), np.maximum(rows[i], rows[i + 1])
            rows[i], rows[i + 1] = lo, hi
    srt = np.stack(rows)
    k = np.isfinite(st).sum(axis=0)
    lo_v = np.take_along_axis(srt, np.maximum((k - 1) // 2, 0)[None], axis=0)[0]
    hi_v = np.take_along_axis(srt, np.maximum(k // 2, 0)[None], axis=0)[0]
    out = (lo_v + hi_v) * np.float32(0.5)
    out[k == 0] = np.nan
    return out


def _grey(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), (5, 5), 0)


class _Layer(NamedTuple):
    """One frame's subject labels around its hole (box coordinates)."""

    box: tuple[int, int, int, int]
    lab: np.ndarray      # float32 1.0 subject, 0.0 background
    ring: np.ndarray     # bool: ring pixels whose label could be told
    keys: np.ndarray     # the ring's subject pixels, relative to the hole's box corner (flat keys)
    predicts: float      # how much better the layer model predicts the hole's edge than the background alone


def _keys(mask: np.ndarray, oy: int, ox: int) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return (ys + oy).astype(np.int64) * 1_000_003 + (xs + ox)


def _relative_motion(layers: dict, t: int) -> float:
    """How much the subject's footprint around the hole changes against the
    hole over ``_MOTION_LAG`` frames (0: the same footprint; 1: disjoint).
    A subject that holds still against the hole may just border it (its
    edge on the hole's edge, the background behind the hole); one that
    moves against it goes in and out from under it."""
    cur = layers[t]
    vals = []
    for s in (t - _MOTION_LAG, t + _MOTION_LAG):
        other = layers.get(s)
        if other is None or not len(cur.keys) or not len(other.keys):
            continue
        inter = np.intersect1d(cur.keys, other.keys, assume_unique=True).size
        vals.append(1.0 - inter / max(1, min(cur.keys.size, other.keys.size)))
    return max(vals) if vals else 0.0


def _predicts(frame: np.ndarray, lab: np.ndarray, ring: np.ndarray, back: np.ndarray, d: np.ndarray) -> float:
    """A held-out check of the layer model on the frame's own pixels: the
    model built from the ring beyond ``_CHECK`` px predicts the band within
    it (grey): 1 - its error over the background prediction's (``back``:
    the camera model's view of the background there). Near 0 or below: the
    subject does not continue smoothly (a textured or fast-changing layer:
    foliage, a motion-blurred rider), so it is not continued into the hole."""
    val = ring & (d <= _CHECK)
    train = ring & (d > _CHECK)
    if val.sum() < 16 or not (train & (lab > 0.5)).any():
        return 0.0
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    p = np.clip(pull_push(lab, train.astype(np.float32)), 0.0, 1.0)
    core = train & (cv2.erode(lab, np.ones((3, 3), np.uint8)) > 0.5)
    col = pull_push(g, core.astype(np.float32))
    pred = p * col + (1.0 - p) * back
    e_layer = float(np.abs(g - pred)[val].mean())
    e_back = float(np.abs(g - back)[val].mean())
    return 1.0 - e_layer / max(e_back, 1e-3)


def _trust(layers: dict, t: int) -> float:
    """How far frame ``t``'s layer model is trusted (0..1): the subject moves
    against the hole, it predicts the hole's edge better than the background
    alone, and it is more than a touch on the hole's ring."""
    ly = layers[t]
    if not ly.ring.any():
        return 0.0
    share = float(ly.lab[ly.ring].mean())
    trust = float(np.clip((_relative_motion(layers, t) - _MOTION_LO) / (_MOTION_HI - _MOTION_LO), 0.0, 1.0))
    trust *= float(np.clip((ly.predicts - _PRED_LO) / (_PRED_HI - _PRED_LO), 0.0, 1.0))
    # a subject that only touches the hole says little about what lies deep inside it
    trust *= float(np.clip((share - _MIN_SHARE) / (_FULL_SHARE - _MIN_SHARE), 0.0, 1.0))
    return trust


def _continue_colours(patch: np.ndarray, core: np.ndarray) -> np.ndarray:
    """``patch``'s colours (float32) with everything outside ``core``
    filled from the core pixels by fast marching (TELEA: it carries each edge
    pixel's own colour inward, where a pyramid average washes the nearest
    ones out). The result is smooth, so a large patch is filled at most
    ``_COLOUR_SIDE`` pixels on its long side and scaled back."""
    h, w = core.shape
    sc = min(1.0, _COLOUR_SIDE / max(h, w))
    unknown = (~core).view(np.uint8)
    if sc >= 1.0:
        return cv2.inpaint(patch, unknown, _TELEA_RADIUS, cv2.INPAINT_TELEA).astype(np.float32)
    sw, sh = max(8, int(round(w * sc))), max(8, int(round(h * sc)))
    small = cv2.resize(patch, (sw, sh), interpolation=cv2.INTER_AREA)
    # a reduced pixel is known only where all of it was core
    unk = (cv2.resize(unknown, (sw, sh), interpolation=cv2.INTER_AREA) > 0).view(np.uint8)
    res = cv2.inpaint(small, unk, max(2, int(round(_TELEA_RADIUS * sc))), cv2.INPAINT_TELEA)
    return cv2.resize(res, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def complete_subject(frames: list[np.ndarray], holes: list[np.ndarray], nctx: int, outs: list[np.ndarray],
                     moving: list[np.ndarray] | None,
                     camera: Callable[[], CameraModel] | None = None) -> list[np.ndarray]:
    """Continue the moving subject into the hole of frames ``nctx..`` (``outs``
    are their fills so far; ``moving`` the chunk's moving-pixel masks on the
    working grid, None when none were found: then nothing changes).
    ``camera`` gives the chunk's camera model when the camera stage shares
    it (built on first use); by default one is built here when needed."""
    if moving is None or len(frames) < 2:
        return outs
    H, W = holes[0].shape
    cam = None
    layers: dict[int, _Layer] = {}
    greys: dict[int, np.ndarray] = {}

    def grey(i: int) -> np.ndarray:
        if i not in greys:
            greys[i] = _grey(frames[i])
        return greys[i]

    for t in range(len(frames)):
        bb = mask_bbox(holes[t])
        if bb is None or not moving[t].any():
            continue
        g = _RING + 2
        y0, y1, x0, x1 = max(0, bb[0] - g), min(H, bb[1] + g), max(0, bb[2] - g), min(W, bb[3] + g)
        if cam is None:
            cam = camera() if camera is not None else CameraModel(frames, holes)
        hb = holes[t][y0:y1, x0:x1]
        lab, ok, back = _residual_labels(cam, grey, holes, t, (y0, y1, x0, x1))
        d = cv2.distanceTransform((~hb).view(np.uint8), cv2.DIST_L2, 3)
        ring = (~hb) & (d <= _RING) & ok
        layers[t] = _Layer((y0, y1, x0, x1), lab, ring, _keys(ring & (lab > 0.5), y0 - bb[0], x0 - bb[2]),
                           _predicts(frames[t][y0:y1, x0:x1], lab, ring, back, d))
    raw = {t: _trust(layers, t) for t in layers}

    def continued(i: int) -> np.ndarray:
        o = outs[i]
        t = nctx + i
        ly = layers.get(t)
        # averaged over neighbouring frames (frames without a subject count
        # as 0): one frame's evidence is a few pixels, and a fill that
        # switches on and off from frame to frame flickers
        trust = float(np.mean([raw.get(s, 0.0) for s in range(t - _SPAN, t + _SPAN + 1)
                               if 0 <= s < len(frames)]))
        if ly is None or trust <= 0.0:
            return o
        y0, y1, x0, x1 = ly.box
        hb = holes[t][y0:y1, x0:x1]
        p = np.clip(pull_push(ly.lab, ly.ring.astype(np.float32)), 0.0, 1.0)
        # colours from the subject's core (its edge pixels mix in the background)
        core = ly.ring & (cv2.erode(ly.lab, np.ones((3, 3), np.uint8)) > 0.5)
        col = _continue_colours(frames[t][y0:y1, x0:x1], core)
        a = p * hb * trust
        base = o[y0:y1, x0:x1].astype(np.float32)
        mixed = base + a[..., None] * (col - base)
        if _TEXTURE > 0:
            # the continued colours are smooth: the fill keeps the fine
            # texture it had, so the spot stays about as crisp as its
            # surroundings
            hf = base - cv2.GaussianBlur(base, (0, 0), _TEXTURE_SIGMA)
            mixed += (_TEXTURE * a)[..., None] * hf
        oo = o.copy()
        oo[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return oo

    if not layers:
        return outs
    # frames in two threads (the colour fill, OpenCV's inpaint, is most of
    # the cost and releases the GIL; each frame reads only its own layer)
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="vedit-subject") as pool:
        return list(pool.map(continued, range(len(outs))))
