"""Compiled Y'CbCr -> R'G'B' for :class:`vedit.io.clip._YCbCrToRGB`.

The same conversion as the OpenCV path there (bilinear chroma at the
stated siting, the matrix in float32, rounded once; 8-bit samples to 8-bit
R'G'B', high-bit ones to 16-bit), in one pass over the frame instead of
eight: the OpenCV path widens every plane to float32,
upsamples the chroma into full-size float arrays, sums them per channel and
merges the channels, ~25-45 ms a 1080p frame on this project's 2-core
reference machine, where this kernel takes ~10. Values agree with that
path except for a few sums that land within float rounding of .5 (one level,
about 4 in a million samples).

Loading numba costs about a second the first time in a process, so the
reader uses this only for clips long enough to repay it
(``vedit.io.clip._worth_compiling``)."""
from __future__ import annotations

import numpy as np

from vedit.engines.jit import njit


def axis_taps(n: int, cn: int, sub: int, off: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis: for each of the ``n`` luma positions, the
    two chroma samples around it (of ``cn``; sample j sits on luma position
    ``sub * j + off``) and the weight of the second, clamped at the edges."""
    u = np.clip((np.arange(n, dtype=np.float64) - off) / sub, 0, cn - 1)
    j0 = np.floor(u).astype(np.int32)
    j1 = np.minimum(j0 + 1, cn - 1).astype(np.int32)
    return j0, j1, (u - j0).astype(np.float32)


@njit(cache=True, nogil=True, boundscheck=False)
def ycc_to_rgb(yp, cbp, crp, j0x, j1x, fx, j0y, j1y, fy, m, top, out):  # pragma: no cover - compiled
    """``out`` (H x W x 3, uint8 or uint16) from the planes ``yp`` (H x W) and
    ``cbp``/``crp`` (chroma size; uint8 or uint16 code values) with the 3x4
    float32 matrix ``m`` (rows R, G, B over Y', Cb, Cr, 1; code values in
    and out), each value rounded and clamped to [0, ``top``]."""
    H, W = out.shape[0], out.shape[1]
    cw = cbp.shape[1]
    tb = np.empty(cw, np.float32)
    tr = np.empty(cw, np.float32)
    cbx = np.empty(W, np.float32)
    crx = np.empty(W, np.float32)
    half, zero, top = np.float32(0.5), np.float32(0.0), np.float32(top)
    m00, m02, m03 = m[0, 0], m[0, 2], m[0, 3]
    m10, m11, m12, m13 = m[1, 0], m[1, 1], m[1, 2], m[1, 3]
    m20, m21, m23 = m[2, 0], m[2, 1], m[2, 3]
    flat = out.reshape(H, W * 3)
    for y in range(H):
        a, b, wy = j0y[y], j1y[y], fy[y]
        # the chroma rows interpolated to this luma row, then along it
        for j in range(cw):
            u = np.float32(cbp[a, j])
            v = np.float32(crp[a, j])
            tb[j] = u + wy * (np.float32(cbp[b, j]) - u)
            tr[j] = v + wy * (np.float32(crp[b, j]) - v)
        for x in range(W):
            p, q, wx = j0x[x], j1x[x], fx[x]
            cbx[x] = tb[p] + wx * (tb[q] - tb[p])
            crx[x] = tr[p] + wx * (tr[q] - tr[p])
        row, o = yp[y], flat[y]
        for x in range(W):
            yy = np.float32(row[x])
            cb, cr = cbx[x], crx[x]
            r = m00 * yy + m02 * cr + m03 + half
            g = m10 * yy + m11 * cb + m12 * cr + m13 + half
            bl = m20 * yy + m21 * cb + m23 + half
            o[3 * x] = np.int32(min(max(r, zero), top))
            o[3 * x + 1] = np.int32(min(max(g, zero), top))
            o[3 * x + 2] = np.int32(min(max(bl, zero), top))


def warm() -> None:
    """Compile (or load from numba's cache) the variants the reader calls:
    8- and 16-bit samples, luma and chroma planes each as contiguous arrays
    or as row-padded views (a decoder's line size wider than the picture).
    ``setup.sh`` runs it once, so the first long clip does not wait ~2 s
    for the compiler."""
    taps = (*axis_taps(4, 2, 2, 0.0), *axis_taps(4, 2, 2, 0.5))
    m = np.zeros((3, 4), np.float32)
    for dt, top in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        for ypad in (0, 8):
            for cpad in (0, 8):
                y = np.zeros((4, 4 + ypad), dt)[:, :4]
                c = np.zeros((2, 2 + cpad), dt)[:, :2]
                ycc_to_rgb(y, c, c, *taps, m, top, np.empty((4, 4, 3), dt))


if __name__ == "__main__":
    warm()
