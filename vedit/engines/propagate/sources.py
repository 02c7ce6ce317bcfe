"""Direct sampling: each hole pixel copied once from the frame that saw it best.

For a hole pixel of frame ``t`` the candidates are the other frames of the
chunk, in order of cost: distance in time (nearer frames differ least in
lighting and parallax), plus a penalty for a source that saw the spot at a
lower resolution (after a zoom the closer frame is the sharper one). The
first candidate whose homography lands the pixel on a real pixel (inside the
frame, outside that frame's own hole, and not something passing over the
background there: see ``choice.transient``) is the source; it is sampled once,
with the Lanczos kernel, from the original frame, with a per-channel gain fitted on the ring
around the hole (exposure and white-balance drift between the two frames).
Because neighbouring frames rank the candidates almost identically, they pick
the same source for the same spot: stability comes from consistent source
choice, not from blending.

Where the camera model does not explain the content — parallax, a dynamic
background, a moving subject partly under the hole — the fill is wrong, so
each pixel gets a confidence: the alignment residual of its source on the
ring around the hole (spread into the hole), the agreement with an
independent second source a few frames away, and, region by region, whether
the background there travels on its own against the camera (flowing water,
drifting smoke, parallax: the optical flow the homography leaves on the ring,
averaged locally so that a texture oscillating in place does not count). A
copy from another moment misplaces travelling content, while the flow fill
follows it. The caller keeps the flow engine's fill where the confidence is
low.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple, Sequence, TypeGuard

import cv2
import numpy as np

from vedit.engines.propagate import choice
from vedit.engines.propagate.camera import _THREADS, CameraModel, Link
from vedit.engines.propagate.exemplar import exemplar_fill, luma_detail
from vedit.flow.ops import mask_bbox

#: a source that saw the spot at half the resolution costs this many frames
_SCALE_COST = 60.0
#: ring residual (grey levels, mean abs) where the model is fully / not trusted
_RES_LO, _RES_HI = 5.0, 12.0
#: disagreement between two independent sources (grey levels) that vetoes a pixel
_DUAL_LO, _DUAL_HI = 6.0, 18.0
#: how far (share of the hole box) a ring residual speaks for the pixels inside
_SPREAD = 0.12
#: frames on each side whose confidence is averaged in
_SMOOTH = 5
#: scale (px) below which a never-seen pixel takes the exemplar fill's texture over a smoother fill's shape
_DETAIL_SIGMA = 2.0
#: never-seen pixels: share of the flow fill in the coarse shading, and the scale (px) of that shading
_GUESS_SHARE, _GUESS_SIGMA = 0.5, 4.0
#: median camera-model strength of a chunk below which the camera stage is skipped
_MIN_STRENGTH = 0.1
_MAX_CANDIDATES = 400
#: the resampling kernel of every copied pixel
_INTERP = cv2.INTER_LANCZOS4
#: coarse disagreement with the flow fill (grey levels after a blur of this sigma at 640 px)
_AGREE_SIGMA, _AGREE_LO, _AGREE_HI = 6.0, 12.0, 32.0
#: every this-many-th ring pixel (in raster order) enters the ring fits: the
#: gain is a mean and the residual is spread by a wide blur, so half the ring
#: fits as well as all of it, at half the samples
_RING_STEP = 2
#: chains of up to this many neighbour links are used as they are (no drift yet)
_CHAIN_OK = 3
#: sources of a frame (the ones covering most) fitted directly and kept (the
#: ring fits and the drift measure read them too)
_DIRECT_FITS = 3
#: the other sources are refined from the chained guess (a chain of tens of
#: links drifts by a few tenths of a pixel, several dB on fine texture); the
#: refinement replaces the guess where the two agree within this many px over
#: the copied pixels (where they do not, the chain and the checks built on it
#: see another motion than the refinement, as over a flowing background, and
#: the guess stays, with the confidence those checks give it)
_REFIT_AGREE = 2.5
#: frames (offsets from a source) whose camera-warped view tells whether a
#: source pixel is background, and the colour difference to all but the
#: closest of them from which it is something moving on its own (a passing
#: arm, a ball)
_TRANSIENT_LAGS = (-12, -8, -5, -3, 3, 5, 8, 12)
#: a source is taken only when it covers this share of the hole (or all that is left)
_MIN_SHARE = 0.08
#: candidates tried for the independent second source (a check, not a fill)
_SECOND_CANDIDATES = 12
#: drift (full-resolution px) of the background against the camera over a
#: copy's lag from which / up to which the copy counts as misplaced
_DRIFT_LO, _DRIFT_HI = 0.75, 1.5
#: ... and its speed (px per frame) from which / up to which the content
#: travels steadily on its own (the flow fill follows it)
_RATE_LO, _RATE_HI = 0.1, 0.15
#: sources of a frame (the one covering most, and the farthest) whose drift
#: is measured; the others take the speed measured at the nearer of the two
#: lags (a steady travel scales with the lag)
_DRIFT_SOURCES = 1
#: the drift is measured this far (px) from the hole (the removed object
#: disturbs the flow within a patch of its edge) and up to this much further out
_DRIFT_GAP, _DRIFT_RING = 8, 40
#: smallest structure-tensor eigenvalue (OpenCV's scale, grey levels) from
#: which a ring pixel's flow counts fully (flat areas have no measurable flow)
_DRIFT_TEXTURE = 1e-3
#: longest side of the crop the drift is measured on
_DRIFT_SIDE = 256
#: reach of a ring measurement into the hole (share of the hole box): wide, so
#: the drift is the local mean motion (coherent), not a wobble
_DRIFT_SPREAD = 0.3


class CameraFill(NamedTuple):
    """The camera model's fill of one frame over the hole's bounding box."""

    box: tuple[int, int, int, int]  # y0, y1, x0, x1
    colour: np.ndarray              # uint8 RGB, box-sized
    weight: np.ndarray              # float32 in [0, 1]: confidence the fill is right
    seen: np.ndarray                # bool: pixels some frame saw
    holds: np.ndarray               # float32 in [0, 1]: the camera model explains the ring here


def _scales_at(Hs: np.ndarray, x: float, y: float) -> np.ndarray:
    """Linear scale of each of a stack of homographies at (x, y): > 1 when
    the source saw the spot larger (sharper)."""
    p = np.array([x, y, 1.0])
    q = Hs @ p
    w = q[:, 2, None, None]
    # np.power, not w * w: the same rounding as the power of one scalar
    J = (Hs[:, :2, :2] * w - q[:, :2, None] * Hs[:, 2, None, :2]) / np.power(w, 2)
    return np.sqrt(np.abs(np.linalg.det(J)))


def _blur_coarse(a: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur computed on a 4x reduced grid (smooth anyway)."""
    h, w = a.shape
    if sigma < 8 or min(h, w) < 16:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    sm = cv2.resize(a, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(sm, (0, 0), sigma / 4), (w, h), interpolation=cv2.INTER_LINEAR)


def _grown(hole: np.ndarray, r: int) -> np.ndarray | None:
    """``hole`` dilated by an r-pixel disc, computed around its box only;
    None for an empty hole."""
    bb = mask_bbox(hole)
    if bb is None:
        return None
    H, W = hole.shape
    y0, y1, x0, x1 = max(0, bb[0] - r), min(H, bb[1] + r), max(0, bb[2] - r), min(W, bb[3] + r)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = np.zeros((H, W), bool)
    out[y0:y1, x0:x1] = cv2.dilate(np.ascontiguousarray(hole[y0:y1, x0:x1]).astype(np.uint8), k) > 0
    return out


def _solid_box(b: np.ndarray) -> tuple[int, int, int, int] | None:
    """A box (y0, y1, x0, x1, inclusive) entirely inside the True area of b,
    grown from the area's most interior point."""
    bb = mask_bbox(b)
    if bb is None:
        return None
    y0, y1, x0, x1 = bb
    crop = b[y0:y1, x0:x1].astype(np.uint8)
    d = cv2.distanceTransform(np.pad(crop, 1), cv2.DIST_C, 3)[1:-1, 1:-1]
    cy, cx = np.unravel_index(int(np.argmax(d)), d.shape)
    r = int(d[cy, cx]) - 1
    if r < 1:
        return None
    return (y0 + cy - r, y0 + cy + r, x0 + cx - r, x0 + cx + r)


def sample_points(img: np.ndarray, x: np.ndarray, y: np.ndarray, interp: int = _INTERP) -> np.ndarray:
    """Samples of ``img`` at scattered points (N x channels, float32), with
    the copy kernel unless told otherwise. The points are laid out as rows of
    1024 (OpenCV maps are limited to 32767 columns)."""
    n = x.size
    # (each sample depends only on its own map entry: a short row for a few points)
    cols = max(1, min(1024, n))
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x, y
    v = cv2.remap(img, mx.reshape(rows, cols), my.reshape(rows, cols), interp)
    return v.reshape(rows * cols, -1)[:n].astype(np.float32)


def _ring_confidence(res: np.ndarray, ry: np.ndarray, rx: np.ndarray, shape,
                     cover: np.ndarray | None = None) -> np.ndarray:
    """Confidence in [0, 1] over a box: the ring residuals (grey levels at
    box pixels ry, rx) spread into the hole by a normalised wide blur, low
    residual = the camera model explains the surroundings there. ``cover``:
    the blurred coverage of these ring pixels when already known (the same
    for every source whose ring lands wholly on real pixels)."""
    h, w = shape
    r_img = np.zeros((h, w), np.float32)
    r_img[ry, rx] = np.minimum(res, 40.0)
    sig = max(4.0, _SPREAD * max(h, w))
    rs, cs = _blur_coarse(r_img, sig), (_ring_cover(ry, rx, shape) if cover is None else cover)
    spread = np.where(cs > 1e-3, rs / np.maximum(cs, 1e-6), float(np.median(res)))
    return np.clip((_RES_HI - spread) / (_RES_HI - _RES_LO), 0.0, 1.0).astype(np.float32)


def _ring_cover(ry: np.ndarray, rx: np.ndarray, shape) -> np.ndarray:
    """The ring pixels ry, rx of a box, blurred as :func:`_ring_confidence`
    spreads their residuals (the normaliser of that spread)."""
    h, w = shape
    c_img = np.zeros((h, w), np.float32)
    c_img[ry, rx] = 1.0
    return _blur_coarse(c_img, max(4.0, _SPREAD * max(h, w)))


def _travel_confidence(speed: np.ndarray, lag: int) -> np.ndarray:
    """Confidence in [0, 1] that a copy from ``lag`` frames away is not
    misplaced by content travelling on its own at ``speed`` (px per frame
    against the camera, see :meth:`SourceSelector._speed`).

    Low only where the copy is misplaced by a pixel or more *and* the content
    travels steadily (a tenth of a pixel per frame or more): flowing water,
    drifting smoke and parallax travel, so the flow fill, which measures that
    motion, places them right. A texture that only oscillates in place
    (ripples, leaves) shows little steady speed: the flow fill gains nothing
    there (its flow is as wrong), and the camera's copy of the right spot
    stays the best guess."""
    moved = np.clip((speed * max(lag, 1) - _DRIFT_LO) / (_DRIFT_HI - _DRIFT_LO), 0.0, 1.0)
    steady = np.clip((speed - _RATE_LO) / (_RATE_HI - _RATE_LO), 0.0, 1.0)
    return (1.0 - moved * steady).astype(np.float32)


def _project(Hm: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (float64) mapped by a homography (float32 results); by a stack
    of L homographies, L rows of results."""
    if Hm.ndim == 3:
        Hm = np.moveaxis(Hm, 0, -1)[..., None]  # each coefficient a column of L against the points
    d = Hm[2, 0] * xs + Hm[2, 1] * ys + Hm[2, 2]
    d = np.where(np.abs(d) < 1e-9, 1e-9, d)
    return ((Hm[0, 0] * xs + Hm[0, 1] * ys + Hm[0, 2]) / d).astype(np.float32), \
           ((Hm[1, 0] * xs + Hm[1, 1] * ys + Hm[1, 2]) / d).astype(np.float32)


def _link_ok(link: Link | None) -> TypeGuard[Link]:
    """Whether a fitted link registers its two frames (enough corners follow it, closely)."""
    return link is not None and link.inliers >= 0.2 and link.residual <= 1.5


def _mean3(a: np.ndarray) -> np.ndarray:
    """``a.mean(axis=1)`` of an N x 3 float32 array (the same sum and
    division, without ``mean``'s per-call overhead)."""
    out = np.add.reduce(a, axis=1)
    return np.true_divide(out, 3, out=out)


class _Checked:
    """The moving-content measure of one frame's hole pixels per source frame
    (``choice.assign``'s memo: rows ``row_of[source]``, NaN = not measured,
    ``rows`` used), kept across the calls for the same pixels."""

    def __init__(self, pixels: int, frames: int):
        self.memo = np.empty((0, pixels), np.float32)
        self.row_of = np.full(frames, -1, np.int64)
        self.rows = 0


class SourceSelector:
    """Camera-model fills for the frames of one chunk.

    Args:
        frames: full-resolution RGB frames of the chunk (context frames
            included; they are sources like any other).
        holes: bool regions to fill (empty for context frames).
        camera: the chunk's :class:`CameraModel`.
    """

    def __init__(self, frames: list[np.ndarray], holes: list[np.ndarray], camera: CameraModel):
        self.frames, self.holes, self.cam = frames, holes, camera
        H, W = frames[0].shape[:2]
        self.W, self.H = W, H
        # a source pixel is usable outside its own hole (the hole is the mask
        # grown by dilate + feather, so the resampling kernel's reach into the
        # hole's outer band still reads background, not the removed object)
        self.blocked = [_grown(h, 0) for h in holes]
        # the largest axis-aligned box inside each blocked area is costly; the
        # box of the blocked area shrunk until it is solid is enough here
        self.solid = [None if b is None else _solid_box(b) for b in self.blocked]
        # broken[k]: failed neighbour links among frames 0..k (the links are
        # fixed once the camera model is built; direct fits never replace them)
        self._broken = [0]
        for link in camera.neighbours():
            self._broken.append(self._broken[-1] + int(not _link_ok(link)))
        self._local = threading.local()  # per thread: its DIS flow (fills run in parallel)
        # the same, as the compiled source choice reads them
        self._frames_nb = choice.FrameTable(frames)
        self._blocked_nb = choice.FrameTable([np.zeros((H, W), bool) if b is None else b for b in self.blocked])
        self._has_block = np.array([b is not None for b in self.blocked], bool)
        self._solid = np.array([(-1, -1, -1, -1) if b is None else b for b in self.solid], np.int64).reshape(-1, 4)
        self._lags = self._lag_views()

    def _candidates(self, t: int, cx: float, cy: float) -> list[int]:
        others = [s for s in range(len(self.frames)) if s != t]
        if not others:
            return []
        scales = _scales_at(np.stack([self.cam.guess(t, s) for s in others]), cx, cy).tolist()
        cost = [(abs(s - t) + _SCALE_COST * max(0.0, -np.log2(max(sc, 1e-3))), s) for s, sc in zip(others, scales)]
        cost.sort()
        return [s for _, s in cost[:_MAX_CANDIDATES]]

    def _usable(self, t: int, s: int) -> bool:
        """Whether frames t and s are registered: their neighbours' links
        along the chain hold (a failed link breaks the chain)."""
        a, b = (t, s) if t <= s else (s, t)
        return self._broken[b] == self._broken[a]

    def _on_real(self, s: int, x: np.ndarray, y: np.ndarray, margin: int) -> np.ndarray:
        """Which points of frame s are real pixels: inside the frame by
        ``margin`` and outside its own hole."""
        ok = (x >= margin) & (x <= self.W - 1 - margin) & (y >= margin) & (y <= self.H - 1 - margin)
        b = self.blocked[s]
        if b is not None:
            i = np.flatnonzero(ok)
            if i.size:
                # inside the frame: the nearest pixel is too
                ok[i] = ~b[y[i].round().astype(np.intp), x[i].round().astype(np.intp)]
        return ok

    def _lag_views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame s, the frames whose camera-warped view tells whether a
        pixel of s is background (``_TRANSIENT_LAGS`` away, registered with
        s, nearest first) and the homographies s -> them: their count, their
        indices and the matrices (see ``choice.transient``).

        A camera that follows a player reveals the background behind a static
        blob only a strip at a time, and in many of those frames the player's
        swinging arm stood over the strip: copied, it draws a row of arm
        pieces. The background's own pixels agree with their view in the
        other frames, the arm's do not."""
        n = len(self.frames)
        L = len(_TRANSIENT_LAGS)
        count = np.zeros(n, np.int64)
        index = np.zeros((n, L), np.int64)
        mats = np.zeros((n, L, 3, 3), np.float64)
        for s in range(n):
            lags = [s + o for o in _TRANSIENT_LAGS if 0 <= s + o < n and self._usable(s, s + o)]
            lags.sort(key=lambda u: abs(u - s))
            count[s] = len(lags) if len(lags) >= choice.TRANSIENT_MIN else 0
            for k, u in enumerate(lags):
                index[s, k] = u
                mats[s, k] = self.cam.guess(s, u)
        return count, index, mats

    def _assign(self, t: int, xs: np.ndarray, ys: np.ndarray, order: list[int],
                exclude: np.ndarray | None = None, direct: bool = True,
                checked: _Checked | None = None):
        """Per pixel the first usable candidate: (source index or -1, x, y).

        Candidates are tried with the chained homography (cheap, see
        ``choice.assign``); the pairs that end up used, more than
        ``_CHAIN_OK`` links apart, are re-fitted directly and the pixels
        re-projected with that fit. ``checked`` keeps the
        transient measure of the pixels already checked per source, shared by
        the calls for the same pixels of the same frame (a pixel lands on the
        same point)."""
        # a source must cover a real share of what is left (no slivers from
        # dozens of frames); a last round takes any source for what remains
        least = max(16, int(_MIN_SHARE * xs.size))
        if checked is None:
            checked = _Checked(xs.size, len(self.frames))
        seq = order + [-1] + order
        Hs = np.stack([self.cam.guess(t, s) if s >= 0 else np.eye(3) for s in seq])
        usable = np.array([s >= 0 and self._usable(t, s) for s in seq], bool)
        excl = np.zeros(1, np.int32) if exclude is None else exclude.astype(np.int32)
        src, checked.memo, checked.rows = choice.assign(
            xs, ys, np.array(seq, np.int64), Hs, usable, excl, exclude is not None, least, self._solid,
            self._frames_nb.table, self._blocked_nb.table, self._has_block, *self._lags,
            checked.memo, checked.row_of, checked.rows, self.W, self.H)
        qx = np.zeros(xs.shape, np.float32)
        qy = np.zeros(xs.shape, np.float32)
        used, counts = np.unique(src[src >= 0], return_counts=True)
        top = set(used[np.argsort(-counts)][:_DIRECT_FITS].tolist())
        for s in used:
            sel = src == s
            fit = direct and abs(int(s) - t) > _CHAIN_OK
            main = int(s) in top
            link = (self.cam.link(t, int(s)) if main else self.cam.refine(t, int(s))) if fit else None
            guess = self.cam.guess(t, int(s))
            Hm = link.H if _link_ok(link) else guess
            px, py = _project(Hm, xs[sel], ys[sel])
            if not main and Hm is not guess:
                gx, gy = _project(guess, xs[sel], ys[sel])
                if float(np.max(np.hypot(px - gx, py - gy))) > _REFIT_AGREE:
                    px, py = gx, gy
            # the direct fit may move a pixel off what the chained guess found
            # real (into the source's own hole: the removed object); such a
            # pixel keeps the guess's landing point
            ok = self._on_real(int(s), px, py, 2)
            if not ok.all():
                gx, gy = _project(self.cam.guess(t, int(s)), xs[sel][~ok], ys[sel][~ok])
                px[~ok], py[~ok] = gx, gy
            qx[sel], qy[sel] = px, py
        return src, qx, qy

    def _sample(self, src: np.ndarray, qx: np.ndarray, qy: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                shape) -> tuple[np.ndarray, dict]:
        """Samples (the copy kernel) of the box's hole pixels ``yy, xx`` from
        their sources ``src`` at ``qx, qy`` (unassigned: 0), and per source
        the bool mask of the box pixels it gave. Only the assigned points are
        resampled (each sample depends only on its own point)."""
        h, w = shape
        out = np.zeros((h, w, 3), np.uint8)
        per = {}
        for s in np.unique(src[src >= 0]):
            i = np.flatnonzero(src == s)
            v = sample_points(self.frames[int(s)], qx[i], qy[i])
            out[yy[i], xx[i]] = v.astype(np.uint8)
            sel = np.zeros((h, w), bool)
            sel[yy[i], xx[i]] = True
            per[int(s)] = sel
        return out, per

    def _ring_fit(self, t: int, s: int, box, ring_y: np.ndarray, ring_x: np.ndarray,
                  ring_rgb: np.ndarray | None = None):
        """Per-channel gain of source ``s`` against frame ``t`` on the ring, and
        the per-ring-pixel residual (grey levels) after that gain.
        ``ring_rgb``: frame t's ring pixels (float32), when already read."""
        link = self.cam.cached(t, s)
        x, y = _project(link.H if link is not None else self.cam.guess(t, s), ring_x.astype(np.float64),
                        ring_y.astype(np.float64))
        ok = self._on_real(s, x, y, 1)
        if ok.sum() < 20:
            return np.ones(3, np.float32), None, ok
        v = sample_points(self.frames[s], x[ok], y[ok])
        ref = self.frames[t][ring_y[ok], ring_x[ok]].astype(np.float32) if ring_rgb is None else ring_rgb[ok]
        gain = np.clip((ref.mean(0) + 1.0) / (v.mean(0) + 1.0), 0.8, 1.25).astype(np.float32)
        res = _mean3(np.abs(ref - v * gain))
        return gain, res, ok

    def _speed_ring(self, t: int):
        """What :meth:`_speed` measures around frame ``t``'s hole whatever the
        source: the crop (hole box + ring + margin), the distance to the hole
        over it and its grey pixels (None without a hole)."""
        bb = mask_bbox(self.holes[t])
        if bb is None:
            return None
        reach = _DRIFT_GAP + _DRIFT_RING
        # a margin beyond the ring: flow at a crop's edge has no context
        cy0, cy1 = max(0, bb[0] - reach - _DRIFT_GAP), min(self.H, bb[1] + reach + _DRIFT_GAP)
        cx0, cx1 = max(0, bb[2] - reach - _DRIFT_GAP), min(self.W, bb[3] + reach + _DRIFT_GAP)
        d_t = cv2.distanceTransform((~self.holes[t][cy0:cy1, cx0:cx1]).astype(np.uint8), cv2.DIST_L2, 3)
        grey = cv2.cvtColor(self.frames[t][cy0:cy1, cx0:cx1], cv2.COLOR_RGB2GRAY)
        return bb, (cy0, cy1, cx0, cx1), d_t, grey

    def _speed(self, t: int, s: int, box, around=None) -> np.ndarray:
        """How fast (full-resolution px per frame) the background under frame
        ``t``'s hole travelled against the camera model since frame ``s``,
        over the box.

        The ring around the hole is compared with frame s warped onto it by
        the camera model (the homography its copy uses); the optical flow
        between the two is what the homography leaves unexplained. Its local
        *mean* vector (a wide blur of the ring's flow, spread into the hole)
        is how far a copy from frame s is misplaced by content that moves on
        its own (flowing water, drifting smoke, parallax); over the lag, a
        speed. An oscillating texture (ripples, leaves) mostly averages out,
        and a rigid background has none (see :func:`_travel_confidence`). The
        ring starts a few pixels off the hole (and off frame s's own hole):
        the removed object would drag the flow along."""
        y0, y1, x0, x1 = box
        none = np.zeros((y1 - y0, x1 - x0), np.float32)
        lag = abs(s - t)
        # (``around``: :meth:`_speed_ring` of frame t, shared by its sources)
        around = self._speed_ring(t) if around is None else around
        if around is None:
            return none
        bb, (cy0, cy1, cx0, cx1), d_t, grey = around
        reach = _DRIFT_GAP + _DRIFT_RING
        ch, cw = cy1 - cy0, cx1 - cx0
        link = self.cam.cached(t, s)
        # the crop's grid as a row of x and a column of y (broadcast: the same
        # products per pixel as a full grid, without building one)
        mx, my = _project(link.H if link is not None else self.cam.guess(t, s),
                          np.arange(cx0, cx1, dtype=np.float64)[None, :],
                          np.arange(cy0, cy1, dtype=np.float64)[:, None])
        warped = cv2.remap(self.frames[s], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # what the ring may use: far enough from both frames' holes, inside frame s
        bs = self.blocked[s]
        off_s = np.ones((ch, cw), np.uint8) if bs is None else \
            (cv2.remap(bs.view(np.uint8), mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=1) == 0).astype(np.uint8)
        inside = (mx >= 1) & (mx <= self.W - 2) & (my >= 1) & (my <= self.H - 2)
        d_s = cv2.distanceTransform(off_s, cv2.DIST_L2, 3)
        ring = (d_t > _DRIFT_GAP) & (d_t <= reach) & (d_s > _DRIFT_GAP) & inside
        if ring.sum() < 64:
            return none
        red = max(1, -(-max(ch, cw) // _DRIFT_SIDE))
        sw, sh = max(8, cw // red), max(8, ch // red)
        a = grey.copy()
        b = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)
        # both holes show the same pixels in the two images (the removed
        # objects would otherwise pull the coarse levels of the flow, and with
        # them the ring's flow, their own way)
        in_t = self.holes[t][cy0:cy1, cx0:cx1]
        in_s = (off_s == 0) & ~in_t
        a[in_t] = b[in_t]
        b[in_s] = a[in_s]
        a = cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (sw, sh), interpolation=cv2.INTER_AREA)
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        flow = dis.calc(a, b, None) * (cw / sw)
        c = (cv2.resize(ring.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0.99).astype(np.float32)
        # flow is measured only where there is texture to measure it on (a
        # flat sky has none: its flow is a guess, and a misplaced copy of it
        # costs nothing)
        c *= np.clip(cv2.cornerMinEigenVal(a, 7, 3) / _DRIFT_TEXTURE, 0.0, 1.0)
        if c.sum() < 16:
            return none
        sig = max(4.0, _DRIFT_SPREAD * max(bb[1] - bb[0], bb[3] - bb[2])) * sw / cw
        cs = _blur_coarse(c, sig)
        fc = [flow[..., k] * c for k in range(2)]
        # the mean vector: each component's weighted sum taken in pixel order
        # (the float32 sums ``(flow * c[..., None]).sum((0, 1))`` makes, ~3x faster)
        mean = np.array([cv2.reduce(f.reshape(-1, 1), 0, cv2.REDUCE_SUM, dtype=cv2.CV_32F)[0, 0] for f in fc],
                        np.float32) / c.sum()
        vec = [np.where(cs > 1e-3, _blur_coarse(fc[k], sig) / np.maximum(cs, 1e-6), mean[k]) for k in range(2)]
        speed = cv2.resize(np.hypot(vec[0], vec[1]).astype(np.float32) / lag, (cw, ch),
                           interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(speed[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0])

    def fill(self, t: int) -> CameraFill | None:
        """The camera model's fill of frame ``t``'s hole, or None without a hole."""
        hole = self.holes[t]
        bb = mask_bbox(hole)
        if bb is None:
            return None
        pad = 24
        y0, y1 = max(0, bb[0] - pad), min(self.H, bb[1] + pad)
        x0, x1 = max(0, bb[2] - pad), min(self.W, bb[3] + pad)
        box = (y0, y1, x0, x1)
        hb = hole[y0:y1, x0:x1]
        h, w = hb.shape
        yy, xx = np.nonzero(hb)
        xs, ys = (xx + x0).astype(np.float64), (yy + y0).astype(np.float64)
        order = self._candidates(t, float(xs.mean()), float(ys.mean()))
        checked = _Checked(xs.size, len(self.frames))
        src1, qx1, qy1 = self._assign(t, xs, ys, order, checked=checked)
        src2, qx2, qy2 = self._assign(t, xs, ys, order[:_SECOND_CANDIDATES], exclude=src1, direct=False,
                                      checked=checked)

        colour, per = self._sample(src1, qx1, qy1, yy, xx, (h, w))
        seen = np.zeros((h, w), bool)
        seen[yy, xx] = src1 >= 0

        # ring around the hole (outside it, inside the box, off other holes)
        k1 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        k2 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pad - 1, 2 * pad - 1))
        hb8 = hb.astype(np.uint8)
        ring = (cv2.dilate(hb8, k2) > 0) & ~(cv2.dilate(hb8, k1) > 0)
        ry, rx = np.nonzero(ring)
        ry, rx = ry[::_RING_STEP], rx[::_RING_STEP]
        weight = np.zeros((h, w), np.float32)
        holds = np.zeros((h, w), np.float32)
        used = max(per, key=lambda q: int(per[q].sum())) if per else None
        colf = colour.astype(np.float32)
        # the drift of the source covering most and of the farthest one,
        # measured; the others take the speed measured at the nearest lag
        # (extrapolating a short lag's measurement far would magnify its noise)
        top = sorted(per, key=lambda q: -int(per[q].sum()))[:_DRIFT_SOURCES]
        top += [max(per, key=lambda q: abs(q - t))] if per else []
        around = self._speed_ring(t)
        speeds = {q: self._speed(t, q, box, around) for q in set(top)}
        whole = None  # the coverage of the whole ring (most sources see all of it)
        ring_rgb = self.frames[t][ry + y0, rx + x0].astype(np.float32)
        for s, sel in per.items():
            gain, res, ok = self._ring_fit(t, s, box, ry + y0, rx + x0, ring_rgb)
            colf[sel] *= gain
            if res is None:
                continue
            cover = None
            if ok.all():
                whole = _ring_cover(ry, rx, (h, w)) if whole is None else whole
                cover = whole
            wv = _ring_confidence(res, ry[ok], rx[ok], (h, w), cover)
            near = min(speeds, key=lambda q: abs(abs(q - t) - abs(s - t)))
            weight[sel] = wv[sel] * _travel_confidence(speeds[near][sel], abs(s - t))
            if s == used:
                holds = wv.astype(np.float32)
        colour = np.clip(colf + 0.5, 0, 255).astype(np.uint8)

        # an independent second source that disagrees: the content moves
        if (src2 >= 0).any():
            c2, _ = self._sample(src2, qx2, qy2, yy, xx, (h, w))
            both = np.zeros((h, w), bool)
            both[yy, xx] = (src1 >= 0) & (src2 >= 0)
            d = np.abs(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(np.float32)
                       - cv2.cvtColor(c2, cv2.COLOR_RGB2GRAY).astype(np.float32))
            d = cv2.GaussianBlur(np.where(both, d, 0.0).astype(np.float32), (0, 0), 2.0) / \
                np.maximum(cv2.GaussianBlur(both.astype(np.float32), (0, 0), 2.0), 1e-3)
            veto = np.clip((_DUAL_HI - d) / (_DUAL_HI - _DUAL_LO), 0.0, 1.0)
            weight = np.where(both, weight * veto, weight)
        weight[~seen] = 0.0
        if used is None:
            holds = self._holds(t, box, ry + y0, rx + x0, (h, w))
        return CameraFill(box, colour, weight.astype(np.float32), seen, holds)

    def _holds(self, t: int, box, ry: np.ndarray, rx: np.ndarray, shape) -> np.ndarray:
        """How well the camera model explains the ring of frame ``t`` (against
        its nearest registered neighbour), spread into the hole."""
        h, w = shape
        y0, _, x0, _ = box
        for s in (t - 1, t + 1, t - 2, t + 2):
            if 0 <= s < len(self.frames) and self._usable(t, s):
                _, res, ok = self._ring_fit(t, s, box, ry, rx)
                if res is None:
                    continue
                return _ring_confidence(res, ry[ok] - y0, rx[ok] - x0, (h, w))
        return np.zeros((h, w), np.float32)


def complete_chunk(frames: list[np.ndarray], holes: list[np.ndarray], nctx: int, outs: list[np.ndarray],
                   alphas: Sequence[np.ndarray | None], max_keyframes: int = 3,
                   camera: Callable[[], CameraModel] | None = None) -> list[np.ndarray]:
    """The camera-model stage of one chunk, over the flow engine's output.

    ``outs`` are the flow engine's outputs of frames ``nctx..``; where the
    camera model holds, its direct samples replace them, and pixels no frame
    saw are filled once on a keyframe by the exemplar fill and carried to the
    other frames by the camera model (the same fill everywhere: no flicker).
    ``alphas`` are the blend weights of the hole's edge (None: hard edge),
    each read when its frame is blended (a lazy sequence may make them then).
    ``camera`` gives the chunk's camera model when another stage shares it
    (built on first use); by default one is built here.
    """
    if not any(h.any() for h in holes[nctx:]):
        return outs
    cam = camera() if camera is not None else CameraModel(frames, holes)
    n = len(outs)
    if cam.weak(range(nctx, nctx + n), _MIN_STRENGTH):
        # no rigid background to speak of (the camera follows a moving
        # subject through smoke, water...): the flow fill stands
        return outs
    strength = [cam.strength(nctx + i) for i in range(n)]
    sel = SourceSelector(frames, holes, cam)
    cam.guess(0, len(frames) - 1)  # the chained guess, made before the threads share it
    # the frames' fills are independent (each fits and reads only its own
    # pairs besides the neighbour links): two threads, as OpenCV's remaps,
    # flows and filters release the GIL
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="vedit-sources") as pool:
        fills = list(pool.map(sel.fill, range(nctx, nctx + n)))
    colours = [None if f is None else f.colour.astype(np.float32) for f in fills]
    weights = [None if f is None else f.weight.copy() for f in fills]
    unseen = [None if f is None else holes[nctx + i][f.box[0]:f.box[1], f.box[2]:f.box[3]] & ~f.seen
              for i, f in enumerate(fills)]
    guessed = [None if u is None else u.copy() for u in unseen]

    def blend(i: int, o: np.ndarray) -> np.ndarray:
        """Frame i's output: the camera fill over the flow fill by confidence
        (written into ``o`` over the box)."""
        f, col, wts = fills[i], colours[i], weights[i]
        if f is None or col is None or wts is None or not wts.any():
            return o
        y0, y1, x0, x1 = f.box
        t = nctx + i
        a = alphas[i]
        a = holes[t][y0:y1, x0:x1].astype(np.float32) if a is None else a[y0:y1, x0:x1]
        orig = frames[t][y0:y1, x0:x1].astype(np.float32)
        cam_out = orig + a[..., None] * (col - orig)
        base = o[y0:y1, x0:x1].astype(np.float32)
        # the flow fill follows what moves under the hole (a subject, smoke);
        # where the two fills disagree even at a coarse scale, the camera model
        # is explaining the wrong layer: the flow fill stays
        sig = _AGREE_SIGMA * max(1.0, max(o.shape[:2]) / 640.0)
        gc = cv2.GaussianBlur(cv2.cvtColor(cam_out, cv2.COLOR_RGB2GRAY), (0, 0), sig)
        gf = cv2.GaussianBlur(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), (0, 0), sig)
        agree = np.clip((_AGREE_HI - np.abs(gc - gf)) / (_AGREE_HI - _AGREE_LO), 0.0, 1.0)
        # ... unless the camera model is beyond doubt here (the background
        # follows one homography closely: a weak flow fill is then the wrong one)
        wi = wts * (strength[i] + (1.0 - strength[i]) * agree)
        # Never-seen pixels take the carried exemplar fill as far as the
        # camera model carries it: the flow fill there is a guess too, and a
        # smooth one; the exemplar fill adds real texture (see exemplar_fill)
        # over a coarse shading shared with the flow fill (below).
        g = guessed[i]
        if g is not None:
            wi = np.where(g, wts, wi)
        w = cv2.GaussianBlur(wi, (0, 0), 1.5) * (wi > 0)
        if g is not None and g.any():
            # their coarse shading: the mean of two independent smooth guesses,
            # the exemplar fill's own (TELEA) and the flow fill's; the texture
            # above that scale stays the exemplar fill's
            # (in brightness only: texture over a shading it was not copied
            # with keeps no colour of its own, see luma_detail)
            low = cv2.GaussianBlur(cam_out, (0, 0), _GUESS_SIGMA)
            shade = _GUESS_SHARE * (cv2.GaussianBlur(base, (0, 0), _GUESS_SIGMA) - low)
            cam_out = np.where(g[..., None], low + shade + luma_detail(cam_out - low), cam_out)
        mixed = base + w[..., None] * (cam_out - base)
        if g is not None and g.any():
            # where a never-seen pixel keeps some of the flow fill (the camera
            # model carries the keyframe fill there with less confidence), it
            # still takes the exemplar fill's fine texture (the flow fill is
            # smooth there)
            # (the fill's colours continued by the frame outside the hole, so
            # the hole's own edge is no detail)
            colx = np.where(holes[t][y0:y1, x0:x1, None], col, orig)
            hf = luma_detail(colx - cv2.GaussianBlur(colx, (0, 0), _DETAIL_SIGMA))
            keep = (g * (1.0 - w) * a)[..., None]
            mixed += keep * hf
        o[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return o

    # never-seen pixels: one exemplar fill on a keyframe, carried by the camera
    for _ in range(max_keyframes):
        areas = [0 if u is None else int(u.sum()) for u in unseen]
        if max(areas, default=0) < 16:
            break
        i = int(np.argmax(areas))
        f = fills[i]
        if f is None:  # a frame with unseen pixels has a camera fill
            break
        y0, y1, x0, x1 = f.box
        full = np.zeros(holes[0].shape, bool)
        full[y0:y1, x0:x1] = unseen[i]
        # the hole's feathered edge shows the frame's own pixels (they are
        # only blended with the fill): the fill continues them and fills the
        # core alone (a smaller hole, a closer guess)
        src = blend(i, outs[i].copy())
        a = alphas[i]
        core = full if a is None else full & (a >= 1.0 - 1e-3)
        if core.sum() >= 16:
            edge = full & ~core
            src[edge] = frames[nctx + i][edge]
            full = core
        key = exemplar_fill(src, full, seed=i)
        k = nctx + i
        changed = False
        for j in range(n):
            u = unseen[j]
            if u is None or not u.any():
                continue
            fj, cj, wj = fills[j], colours[j], weights[j]
            if fj is None or cj is None or wj is None:
                continue
            by0, _, bx0, _ = fj.box
            yy, xx = np.nonzero(u)
            Hm = np.eye(3) if j == i else cam.guess(nctx + j, k)
            qx, qy = _project(Hm, (xx + bx0).astype(np.float64), (yy + by0).astype(np.float64))
            H, W = full.shape
            ok = (qx >= 1) & (qx <= W - 2) & (qy >= 1) & (qy <= H - 2)
            if j != i:
                # only what the keyframe's fill (or its real pixels) covers
                qi = np.clip(np.round(qy).astype(int), 0, H - 1), np.clip(np.round(qx).astype(int), 0, W - 1)
                ok &= holes[k][qi]
            if not ok.any():
                continue
            v = sample_points(key, qx[ok], qy[ok])
            cj[yy[ok], xx[ok]] = v
            wj[yy[ok], xx[ok]] = fj.holds[yy[ok], xx[ok]] if j != i else 1.0
            u[yy[ok], xx[ok]] = False
            changed = True
        if not changed:
            break
    weights = _smooth_weights(weights, fills, cam, nctx, holes)
    return [blend(i, o) for i, o in enumerate(outs)]


def _smooth_weights(weights: list, fills: list, cam: CameraModel, nctx: int, holes: list) -> list:
    """Each frame's confidence averaged with its neighbours' (carried by the
    camera model): a pixel does not switch between the camera fill and the
    flow fill from one frame to the next (that switch is a visible flicker)."""
    n = len(weights)
    out = []
    for i in range(n):
        f, w = fills[i], weights[i]
        if f is None or w is None:
            out.append(w)
            continue
        y0, y1, x0, x1 = f.box
        hb = holes[nctx + i][y0:y1, x0:x1]
        yy, xx = np.nonzero(hb)
        acc = w[yy, xx].astype(np.float32).copy()
        cnt = np.ones_like(acc)
        for j in range(max(0, i - _SMOOTH), min(n, i + _SMOOTH + 1)):
            g = fills[j]
            if j == i or g is None or weights[j] is None:
                continue
            qx, qy = _project(cam.guess(nctx + i, nctx + j), (xx + x0).astype(np.float64),
                              (yy + y0).astype(np.float64))
            gy0, gy1, gx0, gx1 = g.box
            jx, jy = np.round(qx).astype(np.int32) - gx0, np.round(qy).astype(np.int32) - gy0
            ok = (jx >= 0) & (jx < gx1 - gx0) & (jy >= 0) & (jy < gy1 - gy0)
            v = np.zeros_like(acc)
            v[ok] = weights[j][jy[ok], jx[ok]]
            # a neighbour whose hole does not cover the spot saw it for real:
            # it says nothing about the fill there
            cov = np.zeros(acc.shape, bool)
            cov[ok] = holes[nctx + j][jy[ok] + gy0, jx[ok] + gx0]
            acc[cov] += v[cov]
            cnt[cov] += 1
        wn = np.zeros_like(w)
        wn[yy, xx] = acc / cnt
        wn[w <= 0] = 0.0  # never more than the frame's own fill allows (unseen stays unseen)
        out.append(wn)
    return out
