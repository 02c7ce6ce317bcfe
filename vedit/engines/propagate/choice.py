"""Compiled per-pixel source choice of the camera stage (see ``sources``).

For every hole pixel of a frame the candidates (other frames, in order of
cost) are tried one after the other: the pixel is projected by the chained
homography, it must land on a real pixel (inside the frame, outside that
frame's own hole) that is background, not something moving on its own (its
colour agrees with its views in frames before and after, see
:func:`transient`), and the source must cover a real share of what is still
unfilled. It is a chain of small decisions per pixel and per candidate: one
compiled loop instead of dozens of array passes per candidate.

Bilinear samples are OpenCV's ``remap`` with ``INTER_LINEAR`` on 8-bit
images, to the bit: the coordinate is rounded to 1/32 px and the four
weights are integers summing to 1024, so the measures equal those an
OpenCV implementation of the same rule gives.
"""
from __future__ import annotations

import numpy as np

from vedit.engines.jit import HAVE_NUMBA as _HAVE_NUMBA
from vedit.engines.jit import njit

if _HAVE_NUMBA:  # (without numba the same loops run as Python)
    from numba import carray
    from numba.core import cgutils, types
    from numba.extending import intrinsic


#: colour difference (grey levels, mean over channels) from which a source
#: pixel is something moving on its own
TRANSIENT_THR = 20.0
#: views of a point needed to tell (fewer: it counts as background); the
#: nearest this many are read first
TRANSIENT_MIN = 2


class FrameTable:
    """Same-shaped arrays as the compiled loops read them: a table of their
    addresses (one argument, whatever their number; a list of arrays would
    cost the compiled code a second of set-up per process). The arrays are
    kept here, so the addresses stay valid as long as the table lives; one
    that is not C-ordered is copied."""

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]
        shapes = {a.shape for a in self.arrays}
        if len(shapes) > 1:
            raise ValueError(f"arrays of different shapes: {sorted(shapes)}")
        self.table = (np.array([a.ctypes.data for a in self.arrays], np.int64) if _HAVE_NUMBA
                      else self.arrays)  # (the Python loops index the list itself)


if _HAVE_NUMBA:
    @intrinsic
    def _pointer(typingctx, address):
        """An integer address as a void pointer (for ``carray``)."""
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)
        return types.voidptr(types.int64), codegen

    @njit(cache=True, nogil=True)
    def _image(table, i, H, W):
        """Image i (H x W x 3, uint8) of a FrameTable."""
        return carray(_pointer(table[i]), (H, W, 3), np.uint8)

    @njit(cache=True, nogil=True)
    def _plane(table, i, H, W):
        """Plane i (H x W, bool) of a FrameTable."""
        return carray(_pointer(table[i]), (H, W), np.bool_)
else:  # pragma: no cover - exercised only without numba
    def _image(table, i, H, W):  # type: ignore[misc]
        return table[i]

    def _plane(table, i, H, W):  # type: ignore[misc]
        return table[i]


@njit(cache=True, nogil=True)
def _project1(H, x, y):
    """A point (float64) mapped by a homography, as float32 (the arithmetic
    of ``sources._project``)."""
    d = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    if abs(d) < 1e-9:
        d = 1e-9
    return np.float32((H[0, 0] * x + H[0, 1] * y + H[0, 2]) / d), np.float32((H[1, 0] * x + H[1, 1] * y + H[1, 2]) / d)


@njit(cache=True, nogil=True)
def _real(blocked, has_block, x, y, W, H, margin):
    """Whether (x, y) is a real pixel of a frame: inside it by ``margin`` and,
    at the nearest pixel, outside its hole ``blocked``."""
    if not (x >= margin and x <= W - 1 - margin and y >= margin and y <= H - 1 - margin):
        return False
    if not has_block:
        return True
    return not blocked[int(np.rint(y)), int(np.rint(x))]


@njit(cache=True, nogil=True)
def _bilinear(img, x, y, out):
    """Channels 0..2 of ``img`` at (x, y) as OpenCV's 8-bit bilinear remap
    makes them (1/32 px steps, integer weights, rounded)."""
    X = int(np.rint(x * np.float32(32.0)))
    Y = int(np.rint(y * np.float32(32.0)))
    ix, fx, iy, fy = X >> 5, X & 31, Y >> 5, Y & 31
    w00, w01 = (32 - fx) * (32 - fy), fx * (32 - fy)
    w10, w11 = (32 - fx) * fy, fx * fy
    for c in range(3):
        v = (np.int64(img[iy, ix, c]) * w00 + np.int64(img[iy, ix + 1, c]) * w01
             + np.int64(img[iy + 1, ix, c]) * w10 + np.int64(img[iy + 1, ix + 1, c]) * w11)
        out[c] = np.float32((v * 32 + 16384) >> 15)


@njit(cache=True, nogil=True)
def transient(frames, blocked, has_block, s, x, y, lag_n, lag_u, lag_H, W, H):
    """How much point (x, y) of frame s looks like something moving on its
    own rather than the background: the second smallest colour difference
    (mean over the channels) to its views in the lag frames ``lag_u[s]``
    (nearest first, by the homographies ``lag_H[s]``); 0 with fewer than
    ``TRANSIENT_MIN`` views. The nearest ``TRANSIENT_MIN`` are read first;
    a point they all agree with (at most ``TRANSIENT_THR``) is background and
    the others are not read."""
    n = lag_n[s]
    if n < TRANSIENT_MIN:
        return np.float32(0.0)
    g = np.empty(3, np.float32)
    v = np.empty(3, np.float32)
    _bilinear(_image(frames, s, H, W), x, y, g)
    xd, yd = np.float64(x), np.float64(y)
    inf = np.float32(np.inf)
    m1, m2 = inf, inf
    for k in range(n):
        if k == TRANSIENT_MIN and not m2 > TRANSIENT_THR:
            break
        u = lag_u[s, k]
        px, py = _project1(lag_H[s, k], xd, yd)
        if not _real(_plane(blocked, u, H, W), has_block[u], px, py, W, H, 2):
            continue
        _bilinear(_image(frames, u, H, W), px, py, v)
        d = (abs(v[0] - g[0]) + abs(v[1] - g[1]) + abs(v[2] - g[2])) / np.float32(3.0)
        m2 = min(m2, max(m1, d))
        m1 = min(m1, d)
    return m2 if m2 < inf else np.float32(0.0)


@njit(cache=True, nogil=True)
def _box_inside(Hm, x0, x1, y0, y1, b0, b1, b2, b3):
    """Whether the box x0..x1, y0..y1 mapped by ``Hm`` lies in the box
    b0..b1 (rows), b2..b3 (columns): its four corners do."""
    for k in range(4):
        cx = x0 if k % 2 == 0 else x1
        cy = y0 if k < 2 else y1
        px, py = _project1(Hm, cx, cy)
        if not (px >= b2 and px <= b3 and py >= b0 and py <= b1):
            return False
    return True


@njit(cache=True, nogil=True)
def assign(xs, ys, order, Hs, usable, exclude, use_exclude, least, solid, frames, blocked, has_block,
           lag_n, lag_u, lag_H, memo, memo_row, nrows, W, H):
    """Per pixel (xs, ys: float64) the first candidate of ``order`` (frame
    indices; -1 marks where the share rule is dropped) that shows it as
    background, by the chained homographies ``Hs`` (one per entry of
    ``order``); -1 where none does.

    A candidate is skipped when not ``usable`` (its registration chain is
    broken), for the pixels whose ``exclude`` entry is within 2 frames of it
    (``use_exclude``), when the pixels' projected box lies in its hole's
    ``solid`` block, and when a sample of them lands nowhere real. It takes
    the pixels it shows as background only if they are at least ``least``
    (or all that is left). A pixel that only shows moving things takes the
    candidate where it looks least transient.

    ``memo`` (rows: ``memo_row[source]``, NaN = not measured; ``nrows`` rows
    used) keeps the transient measure per source and pixel across calls for
    the same pixels; it grows as needed and is returned with the rows used.
    """
    N = xs.size
    src = np.full(N, -1, np.int32)
    todo = np.ones(N, np.bool_)
    ntodo = N
    best = np.full(N, -1, np.int32)
    best_res = np.full(N, np.inf, np.float32)
    idx = np.empty(N, np.int64)
    qx = np.empty(N, np.float32)
    qy = np.empty(N, np.float32)
    ok = np.empty(N, np.bool_)
    for k in range(order.size):
        s = order[k]
        if s < 0:
            least = 1
            continue
        if ntodo == 0:
            break
        if not usable[k]:
            continue
        m = 0
        for i in range(N):
            if todo[i] and (not use_exclude or abs(exclude[i] - s) >= 3):
                idx[m] = i
                m += 1
        if m == 0:
            continue
        Hm = Hs[k]
        block = _plane(blocked, s, H, W)
        if solid[s, 0] >= 0:
            # the pixels' box, projected, inside a solid block of the hole
            x0, x1, y0, y1 = np.inf, -np.inf, np.inf, -np.inf
            for j in range(m):
                i = idx[j]
                x0, x1 = min(x0, xs[i]), max(x1, xs[i])
                y0, y1 = min(y0, ys[i]), max(y1, ys[i])
            inside = _box_inside(Hm, x0, x1, y0, y1, solid[s, 0], solid[s, 1], solid[s, 2], solid[s, 3])
            if inside:
                continue
        if m > 512:
            # a sample of the pixels finds nothing here (a still camera: most frames)
            step = m // 256
            hit = False
            for j in range(0, m, step):
                i = idx[j]
                px, py = _project1(Hm, xs[i], ys[i])
                if _real(block, has_block[s], px, py, W, H, 2):
                    hit = True
                    break
            if not hit:
                continue
        cnt = 0
        for j in range(m):
            i = idx[j]
            px, py = _project1(Hm, xs[i], ys[i])
            qx[j], qy[j] = px, py
            ok[j] = _real(block, has_block[s], px, py, W, H, 2)
            cnt += ok[j]
        if cnt > 0:
            row = memo_row[s]
            if row < 0:
                if nrows == memo.shape[0]:
                    # (element loops: array slicing here would triple the compile time)
                    grown = np.empty((max(4, 2 * nrows), N), np.float32)
                    for r0 in range(nrows):
                        for c0 in range(N):
                            grown[r0, c0] = memo[r0, c0]
                    memo = grown
                row = nrows
                memo_row[s] = row
                for c0 in range(N):
                    memo[row, c0] = np.nan
                nrows += 1
            for j in range(m):
                if not ok[j]:
                    continue
                i = idx[j]
                r = memo[row, i]
                if np.isnan(r):
                    r = transient(frames, blocked, has_block, s, qx[j], qy[j], lag_n, lag_u, lag_H, W, H)
                    memo[row, i] = r
                if r > TRANSIENT_THR:
                    if r < best_res[i]:
                        best[i] = s
                        best_res[i] = r
                    ok[j] = False
                    cnt -= 1
        if cnt < min(least, m):
            continue
        for j in range(m):
            if ok[j]:
                src[idx[j]] = s
                todo[idx[j]] = False
                ntodo -= 1
    for i in range(N):
        if todo[i] and best[i] >= 0:
            src[i] = best[i]
    return src, memo, nrows
