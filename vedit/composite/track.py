"""Camera tracking for plates: the original background's motion, frame to
frame, as homographies fitted robustly to optical flow on background pixels.

``CameraTracker.update(frame, alpha)`` returns M_t, the 3x3 matrix taking
frame-0 ("world") coordinates to frame-t coordinates, so a plate fixed in the
world moves exactly like the filmed background. Only the matrices are kept
(memory is flat in clip length).
"""
from __future__ import annotations

from typing import TypeGuard, overload

import cv2
import numpy as np

from vedit.composite.fit import scale_matrix


def inv3(M: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 matrix without LAPACK (numpy's goes through a BLAS
    that can spin threads, costing milliseconds on a busy machine)."""
    ok, inv = cv2.invert(np.asarray(M, np.float64), flags=cv2.DECOMP_LU)
    return inv if ok else np.full((3, 3), np.nan)


def _corner_shift(H: np.ndarray, w: int, h: int) -> float:
    corners = np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], np.float64)
    return float(np.abs(cv2.perspectiveTransform(corners, H) - corners).max())


def _valid_step(H: np.ndarray | None, w: int, h: int) -> TypeGuard[np.ndarray]:
    """Reject fits no camera makes between two frames (mirrors, collapses,
    huge perspective or jumps), which come from too few or wrong points."""
    if H is None or not np.all(np.isfinite(H)) or abs(H[2, 2]) < 1e-9:
        return False
    H = H / H[2, 2]
    det = H[0, 0] * H[1, 1] - H[0, 1] * H[1, 0]
    if not 0.6 < det < 1.6:
        return False
    if abs(H[2, 0]) * w > 0.15 or abs(H[2, 1]) * h > 0.15:
        return False
    corners = np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], np.float64)
    moved = cv2.perspectiveTransform(corners, H) - corners
    return float(np.abs(moved).max()) < 0.5 * max(w, h)


class CameraTracker:
    """Tracks the background's motion through a clip.

    Flow is computed at ``max_side`` (DIS), sampled on textured background
    pixels (alpha below ``bg_threshold``, a margin away from the subject and
    the frame border), and a homography (``model='homography'``, pans, tilts,
    zooms, rolls) or similarity (``'similarity'``) is fitted with RANSAC and
    refined on its inliers. A step that cannot be fitted counts as no motion.
    ``refine_preset='lk'`` (default): sparse tracks. Corners found on the
    background of a keyframe (goodFeaturesToTrack on the <= ``max_side`` px
    grey copy) are followed frame to frame with pyramidal Lucas-Kanade
    (started from a constant-velocity guess), dropped when they fall on the
    subject or RANSAC rejects them, and the homography keyframe -> frame is
    fitted to (keyframe position, current position) pairs, so errors do not
    pile up frame by frame but only once per keyframe hop. Corners are
    detected again only at a new keyframe (every ``key_every`` frames, or when
    too few tracks survive). A few ms per frame.

    A DIS preset name (``fast``/``medium``) instead predicts each frame from
    dense flow (or the caller's ``flow_back``) and measures the residual
    against a pre-warped keyframe with dense flow.
    """

    def __init__(self, width: int, height: int, max_side: int = 320, preset: str = "fast",
                 model: str = "homography", refine_preset: str = "lk", bg_threshold: float = 0.05,
                 max_points: int = 1500,
                 key_every: int = 20):
        self.width, self.height = int(width), int(height)
        s = min(1.0, max_side / max(width, height))
        self.sw, self.sh = max(16, int(round(width * s))), max(16, int(round(height * s)))
        presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                   "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
        # a quick flow predicts each step; the accurate one measures the small
        # residual against the keyframe, which is what the path is built from
        self.dis = cv2.DISOpticalFlow_create(presets[preset])
        # 'lk': sparse pyramidal Lucas-Kanade on corners for the residual (the
        # prediction leaves only a small shift, LK measures it to ~0.01 px)
        self._lk = refine_preset == "lk"
        self.dis_fine = None if self._lk else cv2.DISOpticalFlow_create(presets[refine_preset])
        self.model = model
        self.bg_threshold = bg_threshold
        self.max_points = max_points
        # the previous frame: grey and background mask, at grey_size
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._rng = np.random.default_rng(0)
        self.paths: list[np.ndarray] = []  # M_t per frame
        self.steps: list[np.ndarray] = []  # full-res step t-1 -> t
        self.failed = 0
        self.key_every = key_every
        self._key: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # grey, background, M at the keyframe
        self._key_index = 0
        # full-res <-> low-res pixel-centre maps
        self._up = scale_matrix(self.width / self.sw, self.height / self.sh)
        self._down = inv3(self._up)
        ys, xs = np.mgrid[0:self.sh, 0:self.sw].astype(np.float32)
        self._xs, self._ys = xs, ys
        b = max(2, int(round(0.02 * max(self.sw, self.sh))))
        self._border = np.zeros((self.sh, self.sw), bool)
        self._border[b:-b, b:-b] = True
        r = max(4, int(round(0.02 * max(self.sw, self.sh))))
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        # sparse tracks (refine_preset 'lk'): keyframe positions, current positions
        self._kpts: np.ndarray | None = None
        self._cpts: np.ndarray | None = None
        self._n_detected = 0
        self._Hk_prev = np.eye(3)  # low-res keyframe -> previous frame
        self._S_prev = np.eye(3)  # low-res previous step (constant-velocity guess)

    @property
    def grey_size(self) -> tuple[int, int]:
        """(w, h) of the grey frames (and flows) the tracker works on."""
        return self.sw, self.sh

    def _prepare(self, frame: np.ndarray | None, alpha: np.ndarray | None, grey: np.ndarray | None = None):
        if grey is not None and grey.shape == (self.sh, self.sw):
            g = grey
        elif frame is None:
            raise ValueError(f"CameraTracker needs the frame or its grey copy at {self.sw}x{self.sh}")
        else:
            g = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2GRAY)
        if g.shape != (self.sh, self.sw):
            g = cv2.resize(g, (self.sw, self.sh), interpolation=cv2.INTER_AREA)
        if alpha is None:
            bg = self._border.copy()
        else:
            a = alpha if alpha.shape == (self.sh, self.sw) else cv2.resize(
                alpha, (self.sw, self.sh), interpolation=cv2.INTER_LINEAR)
            thr = self.bg_threshold * (255 if a.dtype == np.uint8 else 1)
            fg = (a > thr).astype(np.uint8)
            bg = (cv2.dilate(fg, self._kernel) == 0) & self._border
        return g, bg

    def _points(self, g: np.ndarray, bg: np.ndarray):
        # prefer textured pixels: flow in flat areas is interpolated, not measured
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        tex = cv2.blur(gx * gx, (5, 5)) + cv2.blur(gy * gy, (5, 5))
        sel = bg.copy()
        if sel.sum() > 64:
            thr = np.percentile(tex[sel], 40)
            strong = sel & (tex >= max(thr, 4.0))
            if strong.sum() >= 64:
                sel = strong
        idx = np.flatnonzero(sel)
        if len(idx) > self.max_points:
            idx = self._rng.choice(idx, self.max_points, replace=False)
        return idx

    def _fit(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
        """The model fitted on point pairs (RANSAC; OpenCV refits on all
        inliers), None with too few points or no fit."""
        if len(src) < 12:
            return None
        fit = self._fit_inliers(src, dst)
        return None if fit is None else fit[0]

    def _measure(self, a: np.ndarray, a_bg: np.ndarray, b: np.ndarray, b_bg: np.ndarray, fine: bool = False,
                 flow: np.ndarray | None = None):
        """Low-res homography a -> b from flow (computed here unless given) on
        pixels that are background in both."""
        if flow is None:
            dis = self.dis_fine if fine else self.dis
            if dis is None:
                raise ValueError("the fine measurement needs a DIS refine_preset, not 'lk'")
            flow = dis.calc(a, b, None)
        idx = self._points(a, a_bg & b_bg)
        src = np.stack([self._xs.ravel()[idx], self._ys.ravel()[idx]], 1).astype(np.float32)
        dst = src + np.stack([flow[:, :, 0].ravel()[idx], flow[:, :, 1].ravel()[idx]], 1)
        return self._fit(src, dst)

    @overload
    def _full(self, Hl: np.ndarray) -> np.ndarray: ...
    @overload
    def _full(self, Hl: None) -> None: ...
    @overload
    def _full(self, Hl: np.ndarray | None) -> np.ndarray | None: ...

    def _full(self, Hl: np.ndarray | None) -> np.ndarray | None:
        if Hl is None:
            return None
        H = self._up @ Hl @ self._down
        return H / H[2, 2]

    # -- sparse tracks (refine_preset 'lk') ---------------------------------------
    def _detect(self, g: np.ndarray, bg: np.ndarray) -> np.ndarray | None:
        pts = cv2.goodFeaturesToTrack(g, maxCorners=400, qualityLevel=0.005, minDistance=5,
                                      mask=bg.astype(np.uint8), blockSize=5)
        return None if pts is None else pts.reshape(-1, 2).astype(np.float32)

    def _on_bg(self, pts: np.ndarray, bg: np.ndarray) -> np.ndarray:
        xi = np.clip(np.rint(pts[:, 0]).astype(np.intp), 0, self.sw - 1)
        yi = np.clip(np.rint(pts[:, 1]).astype(np.intp), 0, self.sh - 1)
        return bg[yi, xi]

    def _rekey(self, g: np.ndarray, bg: np.ndarray, M: np.ndarray) -> None:
        self._key = (g, bg, M)
        self._key_index = len(self.paths)
        pts = self._detect(g, bg)
        self._kpts, self._cpts = pts, pts
        self._n_detected = 0 if pts is None else len(pts)
        self._Hk_prev = np.eye(3)

    def _keyframe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._key is None:
            raise RuntimeError("CameraTracker: no keyframe before the first update()")
        return self._key

    def _update_sparse(self, g: np.ndarray, bg: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prev_M = self.paths[-1]
        _, _, kM = self._keyframe()
        kpts, cpts = self._kpts, self._cpts
        if kpts is not None and cpts is not None and len(kpts) >= 12:
            guess = cv2.perspectiveTransform(cpts[:, None].astype(np.float64), self._S_prev)
            guess = guess.reshape(-1, 2).astype(np.float32)
            crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.01)
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, g, cpts, guess, winSize=(11, 11), maxLevel=2,
                                                  criteria=crit, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
            nxt = nxt.reshape(-1, 2)
            ok = (st.ravel() == 1) & np.isfinite(nxt).all(1)
            inb = (nxt[:, 0] >= 0) & (nxt[:, 1] >= 0) & (nxt[:, 0] <= self.sw - 1) & (nxt[:, 1] <= self.sh - 1)
            ok &= inb
            ok[ok] = self._on_bg(nxt[ok], bg)
            kp, cp = kpts[ok], nxt[ok]
            fit = self._fit_inliers(kp, cp) if len(kp) >= 12 else None
            if fit is None:
                self._kpts, self._cpts = kp, cp
            else:
                Hk, inl = fit
                self._kpts, self._cpts = kp[inl], cp[inl]
                M = self._full(Hk) @ kM
                M = M / M[2, 2]
                step = M @ inv3(prev_M)
                if _valid_step(step, self.width, self.height):
                    self._S_prev = Hk @ inv3(self._Hk_prev)
                    self._S_prev /= self._S_prev[2, 2]
                    self._Hk_prev = Hk
                    if (len(self.paths) + 1 - self._key_index >= self.key_every
                            or len(self._kpts) < max(40, self._n_detected // 2)):
                        self._rekey(g, bg, M)
                    return M, step
        # a step that cannot be fitted counts as no motion
        self.failed += 1
        M = prev_M.copy()
        self._S_prev = np.eye(3)
        self._rekey(g, bg, M)
        return M, np.eye(3)

    def _fit_inliers(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The model and its inlier mask; None when nothing fits."""
        if self.model == "similarity":
            m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=0.75)
            if m is None:
                return None
            inl = inl.ravel().astype(bool)
            if inl.sum() >= 6:
                m2, _ = cv2.estimateAffinePartial2D(src[inl], dst[inl], method=cv2.LMEDS)
                m = m2 if m2 is not None else m
            return np.vstack([m, [0, 0, 1]]), inl
        H, inl = cv2.findHomography(src, dst, cv2.RANSAC, 0.75, maxIters=2000, confidence=0.995)
        if H is None or abs(H[2, 2]) < 1e-12:
            return None
        return H / H[2, 2], inl.ravel().astype(bool)

    def update(self, frame: np.ndarray | None, alpha: np.ndarray | None = None, grey: np.ndarray | None = None,
               flow_back: np.ndarray | None = None) -> np.ndarray:
        """Add the next frame (RGB) and its matte (float [0,1] or uint8, the
        subject = high); returns M_t for this frame.

        ``grey`` (uint8 at ``grey_size``) saves the conversion when the caller
        has it; ``flow_back`` (flow this frame -> previous frame at
        ``grey_size``, e.g. the one a matte smoother already computed) replaces
        the prediction flow, so one flow serves both.

        With sparse tracks (``refine_preset='lk'``) each frame is measured
        against the keyframe through tracks followed from it; otherwise twice,
        against the previous frame (a robust prediction from dense flow) and
        against a keyframe pre-warped by that prediction (the residual
        corrects it). Either way errors do not pile up frame by frame but only
        once per keyframe hop.
        """
        g, bg = self._prepare(frame, alpha, grey)
        if self._prev is None:
            M, step = np.eye(3), np.eye(3)
            self._key = (g, bg, M)
            if self._lk:
                self._rekey(g, bg, M)
        elif self._lk:
            M, step = self._update_sparse(g, bg, self._prev[0])
        else:
            prev, prev_bg = self._prev
            if flow_back is not None and flow_back.shape[:2] == (self.sh, self.sw):
                back = self._full(self._measure(g, bg, prev, prev_bg, flow=flow_back))
                measured = None if back is None else inv3(back)
            else:
                measured = self._full(self._measure(prev, prev_bg, g, bg))
            if _valid_step(measured, self.width, self.height):
                step = measured
            else:
                step = np.eye(3)
                self.failed += 1
            M = step @ self.paths[-1]
            M = M / M[2, 2]
            kg, kbg, kM = self._keyframe()
            R = M @ inv3(kM)  # keyframe -> current, predicted
            Rl = self._down @ R @ self._up
            kw = cv2.warpPerspective(kg, Rl, (self.sw, self.sh), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
            kwbg = cv2.warpPerspective(kbg.astype(np.uint8), Rl, (self.sw, self.sh),
                                       flags=cv2.INTER_NEAREST, borderValue=0) > 0
            E = self._full(self._measure(kw, kwbg & self._border, g, bg, fine=True))
            if _valid_step(E, self.width, self.height) and _corner_shift(E, self.width, self.height) < 0.1 * max(
                    self.width, self.height):
                M = E @ M
                M = M / M[2, 2]
                step = M @ inv3(self.paths[-1])
            if len(self.paths) - self._key_index >= self.key_every or kwbg.mean() < 0.5 * kbg.mean():
                self._key = (g, bg, M)
                self._key_index = len(self.paths)
        self._prev = (g, bg)
        self.paths.append(M)
        self.steps.append(step / step[2, 2])
        return M


def path_bounds(paths: list[np.ndarray], width: int, height: int, margin: float = 2.0):
    """Edges (x0, y0, x1, y1), in world (frame-0) coordinates, of everything
    the camera sees along ``paths`` (each frame's corners mapped back)."""
    corners = np.array([[[-0.5, -0.5]], [[width - 0.5, -0.5]], [[width - 0.5, height - 0.5]],
                        [[-0.5, height - 0.5]]], np.float64)
    pts = [cv2.perspectiveTransform(corners, inv3(M)) for M in paths]
    pts = np.concatenate(pts).reshape(-1, 2)
    x0, y0 = pts.min(0) - margin
    x1, y1 = pts.max(0) + margin
    # a runaway path (failed fits compounding) must not make an absurd plate
    lim = 8.0 * max(width, height)
    x0, y0 = max(x0, -lim), max(y0, -lim)
    x1, y1 = min(x1, width + lim), min(y1, height + lim)
    return float(x0), float(y0), float(x1), float(y1)
