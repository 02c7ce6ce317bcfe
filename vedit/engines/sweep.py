"""Compiled inner step of the propagate engine's candidate sweeps.

One step offers every hole pixel of frame ``t`` the current best candidate of
frame ``u`` at the nearest pixel to where the flow lands (see
``PropagateInpaintEngine._sweeps``). The NumPy version there runs ~40 array
operations a step on a few thousand pixels each — the cost is call overhead
and it holds one core while the other waits (measured at 1080p: ~35 ms a frame,
the longest single-threaded stretch of a chunk). This is the same step as one
pass over the hole's bounding box, compiled with numba (``nogil``: it runs
beside decoding/encoding threads), bit-identical to the NumPy step: the same
float32/float64 arithmetic (tested in ``tests/test_sweep_kernel.py``).

numba is optional: without it (or with ``VEDIT_NO_JIT=1``) the engine keeps
the NumPy step. The compiled code is cached next to this file (or in numba's
user cache) so only the first run after installation compiles (~2 s).
"""
from __future__ import annotations

import logging
import math
import os
import threading

import numpy as np

log = logging.getLogger(__name__)

_lock = threading.Lock()
_kernel = None
_tried = False


def _step(y0, y1, x0, x1, restrict, pen, hw, ok, known, key_known, flow,
          S_u, CX_u, CY_u, D_u, AV_u, S, CX, CY, D, AV, S2, CX2, CY2, D2):
    h, w = hw.shape
    for y in range(y0, y1):
        for x in range(x0, x1):
            if not hw[y, x] or not ok[y, x] or known[y, x] or key_known[y, x]:
                continue
            if restrict and not (D[y, x] >= pen):
                continue
            # the NumPy step works in float64 for positions (int + float32)
            mx = x + np.float64(flow[y, x, 0])
            my = y + np.float64(flow[y, x, 1])
            rx = np.floor(mx + 0.5)
            ry = np.floor(my + 0.5)
            if not (rx >= 0 and rx <= w - 1 and ry >= 0 and ry <= h - 1):  # NaN flow: out
                continue
            ix = int(rx)
            iy = int(ry)
            if not AV_u[iy, ix]:
                continue
            cs = S_u[iy, ix]
            cd = D_u[iy, ix] + np.float32(1.0)
            ccx = np.float64(CX_u[iy, ix]) + (mx - ix)
            ccy = np.float64(CY_u[iy, ix]) + (my - iy)
            cur_d = D[y, x]
            better = cd < cur_d
            same = (cs == S[y, x]) and abs(ccx - np.float64(CX[y, x])) < 1.0 \
                and abs(ccy - np.float64(CY[y, x])) < 1.0
            if better:
                if not same and math.isfinite(cur_d):  # the current best becomes second
                    S2[y, x] = S[y, x]
                    CX2[y, x] = CX[y, x]
                    CY2[y, x] = CY[y, x]
                    D2[y, x] = cur_d
                S[y, x] = cs
                CX[y, x] = np.float32(ccx)
                CY[y, x] = np.float32(ccy)
                D[y, x] = cd
                AV[y, x] = True
            elif not same and cd < D2[y, x]:
                S2[y, x] = cs
                CX2[y, x] = np.float32(ccx)
                CY2[y, x] = np.float32(ccy)
                D2[y, x] = cd


def step_kernel():
    """The compiled step, or None (no numba, ``VEDIT_NO_JIT=1``, or it failed
    to compile — then the NumPy step is used and a warning logged)."""
    global _kernel, _tried
    if _tried:
        return _kernel
    with _lock:
        if _tried:
            return _kernel
        if os.environ.get("VEDIT_NO_JIT", "") not in ("", "0"):
            _tried = True
            return None
        try:
            import numba

            k = numba.njit(cache=True, nogil=True)(_step)
            # compile (or load from the cache) now, on tiny arrays, so a failure
            # shows here and not mid-clip
            b = np.zeros((2, 2), bool)
            f = np.zeros((2, 2), np.float32)
            k(0, 2, 0, 2, False, np.float32(1e3), b, b, b, b, np.zeros((2, 2, 2), np.float32),
              f, f, f, f, b, f.copy(), f.copy(), f.copy(), f.copy(), b.copy(), f.copy(), f.copy(), f.copy(), f.copy())
            _kernel = k
        except Exception as e:  # ImportError, or a numba/llvmlite that cannot compile here
            log.warning("vedit: compiled sweeps unavailable (%s); using the NumPy sweeps", e)
            _kernel = None
        _tried = True
        return _kernel
