"""Edge blending: alpha composite, light wrap, a fast edge-aware matte
refinement, and the box around the subject the compositor limits its work to.
Everything is uint8/float32 OpenCV work, no Python pixel loops."""
from __future__ import annotations

import cv2
import numpy as np

_ONE_BELOW = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
_TINY = float(np.nextafter(np.float32(0.0), np.float32(1.0)))


def as_alpha(alpha: np.ndarray) -> np.ndarray:
    """Float32 alpha in [0, 1] from a float or uint8 matte (no copy when it
    already is one)."""
    if alpha.dtype == np.uint8:
        a = alpha.astype(np.float32)
        a *= 1.0 / 255.0
        return a
    a = alpha.astype(np.float32, copy=False)
    if a.ndim != 2 or a.size == 0:
        return np.clip(a, 0.0, 1.0)
    lo, hi, _, _ = cv2.minMaxLoc(a)
    if lo >= 0.0 and hi <= 1.0:
        return a
    a = cv2.max(a, 0.0)
    return cv2.min(a, 1.0, dst=a)


def soft_mask(a: np.ndarray) -> np.ndarray:
    """uint8 mask (255) of the pixels strictly between 0 and 1."""
    return cv2.inRange(a, _TINY, _ONE_BELOW)


def fast_guided_alpha(alpha: np.ndarray, frame: np.ndarray, radius: int = 8, eps: float = 1e-3,
                      scale: int = 4) -> np.ndarray:
    """Edge-aware matte refinement: a grey-guide guided filter solved at
    1/``scale`` resolution and applied at full resolution (the "fast guided
    filter"), so the matte snaps to the frame's edges at a fraction of the
    cost of a full-resolution colour guided filter. Only the band where the
    matte is not already 0 or 1 (plus the radius) can change."""
    if alpha.dtype == np.uint8:
        a = as_alpha(alpha)
        lo, hi, _, _ = cv2.minMaxLoc(a)
    else:
        a = alpha.astype(np.float32, copy=False)
        lo, hi, _, _ = cv2.minMaxLoc(a)
        if lo < 0.0 or hi > 1.0:
            a = as_alpha(a)
            lo, hi = max(lo, 0.0), min(hi, 1.0)
    if lo == hi:
        return a
    h, w = a.shape
    g8 = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2GRAY)
    s = max(1, int(scale))
    sw, sh = max(4, w // s), max(4, h // s)
    gs = cv2.resize(g8.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
    gs *= 1.0 / 255.0
    as_ = cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA)
    r = max(1, radius // s)
    k = (2 * r + 1, 2 * r + 1)
    mg, ma = cv2.blur(gs, k), cv2.blur(as_, k)
    cov = cv2.blur(gs * as_, k) - mg * ma
    var = cv2.blur(gs * gs, k) - mg * mg
    A = cov / (var + eps)
    B = ma - A * mg
    A = cv2.blur(A, k)
    A *= 1.0 / 255.0  # applied to the uint8 grey below
    A = cv2.resize(A, (w, h), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(cv2.blur(B, k), (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.multiply(A, g8, dtype=cv2.CV_32F)
    cv2.add(out, B, dst=out)
    cv2.max(out, 0.0, dst=out)
    cv2.min(out, 1.0, dst=out)
    # keep the solid interior/exterior exact: only the band within ``radius``
    # of soft matte pixels is refined (the band is grown at low resolution)
    soft = soft_mask(a)
    soft = cv2.resize(soft, (sw, sh), interpolation=cv2.INTER_AREA) if s > 1 else soft
    rr = -(-radius // s) + (1 if s > 1 else 0)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rr + 1, 2 * rr + 1))
    soft = cv2.dilate((soft > 0).astype(np.uint8), disk)
    band = cv2.resize(soft, (w, h), interpolation=cv2.INTER_NEAREST)
    res = a.copy()
    cv2.copyTo(out, band, res)
    return res


def light_wrap(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, strength: float = 0.3,
               radius: float | None = None) -> np.ndarray:
    """Let the new background's light spill over the subject's edge: near the
    edge, the subject is mixed with the blurred plate seen just outside it.
    Deep inside the subject nothing changes (the weight falls to zero). The
    blurred light is computed on a grid ``radius``/3 coarser than the frame."""
    if strength <= 0:
        return fg
    return _light_wrap(fg, bg, as_alpha(alpha), strength, radius)


def _light_wrap(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, strength: float, radius: float | None):
    """light_wrap for a float32 alpha already in [0, 1]."""
    h, w = alpha.shape
    if radius is None:
        radius = max(2.0, 0.008 * (w + h))
    d = max(1, int(radius // 3))
    sw, sh = max(4, w // d), max(4, h // d)
    inv = 1.0 - cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    if inv.max() <= 0 or inv.min() >= 1:
        return fg
    bs = cv2.resize(np.ascontiguousarray(bg[:, :, :3]), (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    s = radius * sw / w
    L = cv2.GaussianBlur(bs * inv[:, :, None], (0, 0), s)
    W = cv2.GaussianBlur(inv, (0, 0), s)
    col = np.clip(L / np.maximum(W, 1e-4)[:, :, None] + 0.5, 0, 255).astype(np.uint8)
    col = cv2.resize(col, (w, h), interpolation=cv2.INTER_LINEAR)
    Wf = cv2.resize(W, (w, h), interpolation=cv2.INTER_LINEAR)
    m = cv2.multiply(alpha, Wf, scale=float(strength))
    cv2.threshold(m, 1e-3, 0.0, cv2.THRESH_TOZERO, dst=m)  # exact interior
    return cv2.blendLinear(np.ascontiguousarray(fg[:, :, :3]), col, 1.0 - m, m)


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """out = alpha·fg + (1 − alpha)·bg, rounded; exact where alpha is 0 or 1."""
    return _blend(fg, bg, as_alpha(alpha))


def _blend(fg: np.ndarray, bg: np.ndarray, a: np.ndarray) -> np.ndarray:
    """composite for a float32 alpha already in [0, 1]."""
    return cv2.blendLinear(np.ascontiguousarray(fg[:, :, :3]), np.ascontiguousarray(bg[:, :, :3]), a, 1.0 - a)


def with_alpha(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA (straight alpha) for transparent output."""
    a = np.clip(as_alpha(alpha) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.dstack([fg[:, :, :3], a])


def roi_of(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) box around the True pixels of ``mask`` grown by
    ``margin`` and clipped to the frame; None when nothing is set."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))
