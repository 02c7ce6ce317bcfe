"""Exemplar fill for pixels no frame ever saw: sharp texture, continued structure.

A multi-scale PatchMatch completion in the spirit of Wexler et al. (2007) and
Newson et al. (2014): on a pyramid of the region around the hole, every patch
that overlaps the hole is matched to its nearest patch among the known pixels
(nearest-neighbour field found by PatchMatch: random initialisation,
propagation from scan-order neighbours, random search at shrinking radii),
and each hole pixel is re-estimated as the weighted vote of the matched
patches that cover it. Alternating the two steps converges to a fill whose
every patch looks like a real patch of the image; coarse-to-fine, the coarse
levels settle structure (edges that cross the hole) and the fine levels add
texture. The votes are weighted steeply by patch distance, and the finest
level copies each pixel from its best patch, so the fill copies texture
instead of averaging it (a plain mean blurs).

Patches are compared on colour and on two texture channels, the local
gradient energy (Newson et al.): on colour alone a flat patch is the cheapest
match for nearly any target, so the fill drifts to the smoothest area in
reach (a sky above gravel fills a hole in the gravel). The texture channels
are computed once at full resolution and downsampled, so the coarse levels,
where the structure is decided, already know which areas are textured.

The kernels are compiled with numba (``nogil``); a pure NumPy path would be
too slow to be useful, so without numba the fill falls back to OpenCV's
ShiftMap.
"""
from __future__ import annotations

import cv2
import numpy as np

# (without a usable numba the fill falls back to ShiftMap)
from vedit.engines.jit import HAVE_NUMBA as _HAVE_NUMBA
from vedit.engines.jit import njit

_PATCH = 7
#: weight of the texture channels (grey levels of mean gradient) against colour
_TEXTURE = 10.0
# detail gain of the fill by how smooth the ring around the hole is (_detail_gain)
_GAIN_LO, _RING_LO, _RING_HI = 0.8, 15.0, 35.0
_DECAY = 0.77  # confidence per pixel of depth into the hole (Wexler et al.)


@njit(cache=True, nogil=True)
def _dist(img, cw, ty, tx, sy, sx, r, best):
    d = 0.0
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            w = cw[ty + dy, tx + dx]
            for c in range(img.shape[2]):
                v = img[ty + dy, tx + dx, c] - img[sy + dy, sx + dx, c]
                d += w * v * v
        if d >= best:
            return d
    return d


@njit(cache=True, nogil=True)
def _init(img, cw, tys, txs, nny, nnx, nnd, sys_, sxs, r, seed):
    np.random.seed(seed)
    ns = sys_.shape[0]
    for i in range(tys.shape[0]):
        y, x = tys[i], txs[i]
        if nny[y, x] < 0:
            j = np.random.randint(0, ns)
            nny[y, x], nnx[y, x] = sys_[j], sxs[j]
        nnd[y, x] = _dist(img, cw, y, x, nny[y, x], nnx[y, x], r, 1e30)


@njit(cache=True, nogil=True)
def _iterate(img, cw, tys, txs, nny, nnx, nnd, valid, r, rev, seed):
    np.random.seed(seed)
    H, W = valid.shape
    n = tys.shape[0]
    step = -1 if rev else 1
    for k in range(n):
        i = n - 1 - k if rev else k
        y, x = tys[i], txs[i]
        by, bx, bd = nny[y, x], nnx[y, x], nnd[y, x]
        # propagation: the scan-order neighbours' matches, shifted back
        for q in range(2):
            qy, qx = (y - step, x) if q == 0 else (y, x - step)
            if qy < 0 or qy >= H or qx < 0 or qx >= W or nny[qy, qx] < 0:
                continue
            cy, cx = nny[qy, qx] + (y - qy), nnx[qy, qx] + (x - qx)
            if 0 <= cy < H and 0 <= cx < W and valid[cy, cx]:
                d = _dist(img, cw, y, x, cy, cx, r, bd)
                if d < bd:
                    by, bx, bd = cy, cx, d
        # random search around the current best at shrinking radii
        rad = max(H, W)
        while rad >= 1:
            cy = by + np.random.randint(-rad, rad + 1)
            cx = bx + np.random.randint(-rad, rad + 1)
            if 0 <= cy < H and 0 <= cx < W and valid[cy, cx]:
                d = _dist(img, cw, y, x, cy, cx, r, bd)
                if d < bd:
                    by, bx, bd = cy, cx, d
            rad //= 2
        nny[y, x], nnx[y, x], nnd[y, x] = by, bx, bd


@njit(cache=True, nogil=True)
def _vote_best(img, tys, txs, nny, nnx, nnd, hole, r):
    """Each hole pixel copied from the best-matching patch that covers it
    (no averaging: the final, sharp reconstruction)."""
    H, W = hole.shape
    best = np.full((H, W), np.inf, np.float32)
    out = img.copy()
    for i in range(tys.shape[0]):
        y, x = tys[i], txs[i]
        d = nnd[y, x]
        sy, sx = nny[y, x], nnx[y, x]
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                py, px = y + dy, x + dx
                if hole[py, px] and d < best[py, px]:
                    best[py, px] = d
                    for c in range(img.shape[2]):
                        out[py, px, c] = img[sy + dy, sx + dx, c]
    for y in range(H):
        for x in range(W):
            if hole[y, x]:
                for c in range(img.shape[2]):
                    img[y, x, c] = out[y, x, c]


@njit(cache=True, nogil=True)
def _vote(img, tys, txs, nny, nnx, nnd, hole, r, sigma2):
    H, W = hole.shape
    acc = np.zeros((H, W, img.shape[2]), np.float32)
    wac = np.zeros((H, W), np.float32)
    npx = (2 * r + 1) * (2 * r + 1) * img.shape[2]
    for i in range(tys.shape[0]):
        y, x = tys[i], txs[i]
        w = np.exp(-nnd[y, x] / (npx * 2.0 * sigma2))
        sy, sx = nny[y, x], nnx[y, x]
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                py, px = y + dy, x + dx
                if hole[py, px]:
                    for c in range(img.shape[2]):
                        acc[py, px, c] += w * img[sy + dy, sx + dx, c]
                    wac[py, px] += w
    for y in range(H):
        for x in range(W):
            if hole[y, x] and wac[y, x] > 0:
                for c in range(img.shape[2]):
                    img[y, x, c] = acc[y, x, c] / wac[y, x]


@njit(cache=True, nogil=True)
def _onion(img, hole, valid, r):
    """Fill the (small, coarsest-level) hole layer by layer from its edge
    inward, each pixel copied from the centre of the known patch that best
    matches its known neighbours (exhaustive search: the level is tiny)."""
    H, W = hole.shape
    known = ~hole
    vy, vx = np.nonzero(valid)
    nv = vy.shape[0]
    while True:
        ly = []
        lx = []
        for y in range(H):
            for x in range(W):
                if not known[y, x]:
                    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                        qy, qx = y + dy, x + dx
                        if 0 <= qy < H and 0 <= qx < W and known[qy, qx]:
                            ly.append(y)
                            lx.append(x)
                            break
        if len(ly) == 0:
            break
        for k in range(len(ly)):
            y, x = ly[k], lx[k]
            best, by, bx = np.inf, -1, -1
            for j in range(nv):
                sy, sx = vy[j], vx[j]
                d, cnt = 0.0, 0
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        ty, tx = y + dy, x + dx
                        if ty < 0 or ty >= H or tx < 0 or tx >= W or not known[ty, tx]:
                            continue
                        for c in range(img.shape[2]):
                            v = img[ty, tx, c] - img[sy + dy, sx + dx, c]
                            d += v * v
                        cnt += 1
                if cnt > 0:
                    d /= cnt
                    if d < best:
                        best, by, bx = d, sy, sx
            if by >= 0:
                for c in range(img.shape[2]):
                    img[y, x, c] = img[by, bx, c]
        for k in range(len(ly)):
            known[ly[k], lx[k]] = True


def _grad(g: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a grey float image."""
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))


def _detail_gain(crop: np.ndarray, hole: np.ndarray) -> float:
    """Gain on the fill's fine detail (above its smooth shading).

    Copied texture is uncorrelated with what the hole hid, so its error adds
    to that of the missing detail. Where the ring around the hole is smooth
    (mean gradient below ``_RING_HI``) that detail is a faint grain and sparse
    lines put in the wrong place, and it costs more than it shows: it is
    toned down to ``_GAIN_LO`` (at ``_RING_LO`` and below). A busy ring keeps
    the whole texture. (Capping a fill busier than its ring was measured too:
    it halves a line that really crosses the hole.)
    """
    h8 = hole.astype(np.uint8)
    ring = (cv2.dilate(h8, np.ones((25, 25), np.uint8)) > 0) & ~(cv2.dilate(h8, np.ones((7, 7), np.uint8)) > 0)
    if ring.sum() < 16:
        return 1.0
    g_ring = float(_grad(crop.astype(np.float32).mean(axis=2))[ring].mean())
    return float(np.clip(_GAIN_LO + (1.0 - _GAIN_LO) * (g_ring - _RING_LO) / (_RING_HI - _RING_LO), _GAIN_LO, 1.0))


def luma_detail(d: np.ndarray) -> np.ndarray:
    """An RGB detail layer (image minus its blur) as grey detail: its luma
    (BT.601 weights) in all three channels, float32.

    Texture laid over a shading it was not copied with keeps only its
    brightness variation: copied with its colour, a patch whose colour differs
    from the shading under it (a red part over a grey wall) leaves red and
    green fringes along its edges. The eye resolves fine detail in brightness,
    not in colour (why video subsamples chroma), so little real texture is
    lost."""
    y = d[..., 0] * np.float32(0.299) + d[..., 1] * np.float32(0.587) + d[..., 2] * np.float32(0.114)
    return np.repeat(y[..., None].astype(np.float32, copy=False), 3, axis=2)


def _resize(a: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    """cv2.resize for any channel count (OpenCV takes at most 4 at once)."""
    return np.dstack([cv2.resize(np.ascontiguousarray(a[:, :, c:c + 3]), size, interpolation=interp)
                      .reshape(size[1], size[0], -1) for c in range(0, a.shape[2], 3)])


def _texture_features(img: np.ndarray, hole: np.ndarray, r: int) -> np.ndarray:
    """Local texture energy of the known pixels: |dI/dx| and |dI/dy| of the
    grey image averaged over a patch (Newson et al. 2014). Two patches of the
    same mean colour, one flat and one textured, are then far apart: without
    these channels a flat patch is the cheapest match for almost any target
    and the fill drifts to the smoothest area around the hole. Hole pixels get
    0 here (the fill reconstructs them like colours)."""
    g = img[:, :, :3].mean(axis=2)
    gx = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)) / 4
    gy = np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 4
    ok = ~(cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    k = (2 * r + 1, 2 * r + 1)
    w = cv2.boxFilter(ok.astype(np.float32), -1, k, normalize=True)
    f = np.dstack([cv2.boxFilter(gx * ok, -1, k, normalize=True), cv2.boxFilter(gy * ok, -1, k, normalize=True)])
    f = f / np.maximum(w, 1e-3)[..., None]
    f[hole] = 0.0
    return f.astype(np.float32)


def _level(img: np.ndarray, hole: np.ndarray, nny: np.ndarray, nnx: np.ndarray, r: int, em: int,
           seed: int, final: bool = False, upsampled: bool = False) -> None:
    """EM iterations of one pyramid level (img and the NNF updated in place)."""
    H, W = hole.shape
    k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    # patch centres: every patch touching the hole, fully inside the crop
    inner = np.zeros((H, W), bool)
    inner[r:H - r, r:W - r] = True
    targets = (cv2.dilate(hole.astype(np.uint8), k) > 0) & inner
    valid = ~(cv2.dilate(hole.astype(np.uint8), k) > 0) & inner
    if not valid.any() or not targets.any():
        return
    tys, txs = (a.astype(np.int32) for a in np.nonzero(targets))
    sys_, sxs = (a.astype(np.int32) for a in np.nonzero(valid))
    # a target's current match must be a valid source; others start random
    bad = targets & ~valid[np.clip(nny, 0, H - 1), np.clip(nnx, 0, W - 1)]
    nny[bad] = -1
    nnx[bad] = -1
    nnd = np.full((H, W), 1e30, np.float32)
    # confidence of the current estimate: known pixels 1, decaying into the
    # hole (its centre is the least reliable part of the previous estimate)
    dist = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    cw = np.where(hole, _DECAY ** dist, 1.0).astype(np.float32)
    _init(img, cw, tys, txs, nny, nnx, nnd, sys_, sxs, r, seed)
    if upsampled:
        # rebuild the hole from the finer copies of the coarse matches (the
        # upsampled coarse image is blurry; its matches are not)
        d = nnd[tys, txs]
        _vote(img, tys, txs, nny, nnx, nnd, hole, r,
              max(float(np.percentile(d, 75)) / ((2 * r + 1) ** 2 * img.shape[2]), 1.0) * 0.5)
        _init(img, cw, tys, txs, nny, nnx, nnd, sys_, sxs, r, seed)
    for it in range(em):
        _iterate(img, cw, tys, txs, nny, nnx, nnd, valid, r, False, seed + 2 * it + 1)
        _iterate(img, cw, tys, txs, nny, nnx, nnd, valid, r, True, seed + 2 * it + 2)
        d = nnd[tys, txs]
        # steep weights: the vote follows the best matches (sharp), with a
        # scale from the distances themselves (Newson et al.: a percentile)
        sigma2 = max(float(np.percentile(d, 75)) / ((2 * r + 1) ** 2 * img.shape[2]), 1.0) * 0.5
        if final and it == em - 1:
            _vote_best(img, tys, txs, nny, nnx, nnd, hole, r)
        else:
            _vote(img, tys, txs, nny, nnx, nnd, hole, r, sigma2)


def exemplar_fill(frame: np.ndarray, hole: np.ndarray, seed: int = 0, context: float = 1.0,
                  min_context: int = 40, smooth_base: float = 4.0, texture: float = _TEXTURE) -> np.ndarray:
    """Fill ``hole`` (bool) of an RGB uint8 ``frame`` from its own known patches.

    ``texture``: weight of the texture channels in the patch distance (0 =
    colour only). ``smooth_base`` (a Gaussian sigma in pixels, 0 = off): the fill's coarse
    shading is taken from a smooth (TELEA) fill and only the detail above that
    scale from the exemplar fill. Where a hole hides structure no patch can
    guess (an object's edge that turns inside it), a wrong patch costs more
    than a smooth guess; the texture keeps the fill as crisp as its
    surroundings.

    Works on a crop around the hole holding ``context`` times the hole's
    extent of known surroundings on each side (nearby texture is the likely
    one; a bounded crop keeps the cost bounded). Returns a new frame; pixels
    outside ``hole`` are unchanged.
    """
    hole = np.asarray(hole, bool)
    if not hole.any():
        return frame.copy()
    if not _HAVE_NUMBA:  # pragma: no cover
        from vedit.engines.propagate.engine import spatial_fill
        return spatial_fill(frame, hole, method="shiftmap")
    Hf, Wf = hole.shape
    ys, xs = np.nonzero(hole)
    ext = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    mg = int(max(min_context, context * ext))
    y0, y1 = max(0, ys.min() - mg), min(Hf, ys.max() + 1 + mg)
    x0, x1 = max(0, xs.min() - mg), min(Wf, xs.max() + 1 + mg)
    crop = frame[y0:y1, x0:x1].astype(np.float32)
    m = hole[y0:y1, x0:x1]
    r = _PATCH // 2
    if texture > 0:
        crop = np.concatenate([crop, texture * _texture_features(crop, m, r)], axis=2)
    # pyramid until the hole is a few patches wide
    levels = 1
    while ext / 2 ** levels > _PATCH and min(crop.shape[:2]) / 2 ** levels > 3 * _PATCH:
        levels += 1
    imgs, holes = [crop], [m]
    for _ in range(levels - 1):
        a = imgs[-1]
        h, w = a.shape[:2]
        sz = ((w + 1) // 2, (h + 1) // 2)
        imgs.append(_resize(a, sz, cv2.INTER_AREA))
        holes.append(cv2.resize(holes[-1].astype(np.float32), sz, interpolation=cv2.INTER_AREA) > 0)
    # the coarsest level starts from an onion-peel patch fill (a smooth start
    # would pull the matches towards flat patches)
    top, th = np.ascontiguousarray(imgs[-1]), holes[-1]
    th_, tw_ = th.shape
    kk = np.ones((_PATCH, _PATCH), np.uint8)
    inner = np.zeros_like(th)
    inner[r:th_ - r, r:tw_ - r] = True
    tvalid = ~(cv2.dilate(th.astype(np.uint8), kk) > 0) & inner
    if tvalid.any():
        _onion(top, th, tvalid, r)
    else:
        top = np.dstack([cv2.inpaint(np.clip(top[:, :, c], 0, 255).astype(np.uint8), th.astype(np.uint8) * 255, 3,
                                     cv2.INPAINT_TELEA) for c in range(top.shape[2])]).astype(np.float32)
    imgs[-1] = top
    nny: np.ndarray | None = None
    nnx: np.ndarray | None = None
    for lv in range(levels - 1, -1, -1):
        img, hl = np.ascontiguousarray(imgs[lv]), holes[lv]
        H, W = hl.shape
        if nny is None or nnx is None:
            nny = np.full((H, W), -1, np.int32)
            nnx = np.full((H, W), -1, np.int32)
        else:
            # the coarser field, doubled (each child keeps its parent's offset)
            py = np.minimum(np.arange(H) // 2, nny.shape[0] - 1)
            px = np.minimum(np.arange(W) // 2, nny.shape[1] - 1)
            cy, cx = nny[py][:, px], nnx[py][:, px]
            gy, gx = np.mgrid[0:H, 0:W]
            nny = np.where(cy >= 0, np.clip(2 * cy + (gy & 1), 0, H - 1), -1).astype(np.int32)
            nnx = np.where(cx >= 0, np.clip(2 * cx + (gx & 1), 0, W - 1), -1).astype(np.int32)
        # identity outside the hole: known pixels "match themselves", which
        # propagation turns into continuation of the structure at the edge
        gy, gx = np.mgrid[0:H, 0:W]
        k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        near = cv2.dilate(hl.astype(np.uint8), k) > 0
        nny = np.where(near, nny, gy).astype(np.int32)
        nnx = np.where(near, nnx, gx).astype(np.int32)
        em = 3 if lv == 0 else 5
        _level(img, hl, nny, nnx, r, em, seed + lv * 101, final=lv == 0, upsampled=lv < levels - 1)
        imgs[lv] = img
        if lv > 0:
            # the finer level's hole starts from this level's fill, upsampled
            up = _resize(img, (imgs[lv - 1].shape[1], imgs[lv - 1].shape[0]), cv2.INTER_LINEAR)
            nxt = imgs[lv - 1].copy()
            nxt[holes[lv - 1]] = up[holes[lv - 1]]
            imgs[lv - 1] = nxt
    res = np.ascontiguousarray(imgs[0][:, :, :3])
    if smooth_base > 0:
        sm = cv2.inpaint(np.ascontiguousarray(frame[y0:y1, x0:x1]), m.astype(np.uint8) * 255, 5,
                         cv2.INPAINT_TELEA).astype(np.float32)
        base = cv2.GaussianBlur(sm, (0, 0), smooth_base)
        # (the detail in brightness only: see luma_detail)
        detail = luma_detail(res - cv2.GaussianBlur(res, (0, 0), smooth_base))
        res = base + detail * _detail_gain(frame[y0:y1, x0:x1], m)
    out = frame.copy()
    res = np.clip(res + 0.5, 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1][m] = res[m]
    return out
