"""Edge blending: alpha composite, light wrap and a fast edge-aware matte
refinement. Everything is uint8/float32 OpenCV work, no Python pixel loops."""
from __future__ import annotations

import cv2
import numpy as np


def as_alpha(alpha: np.ndarray) -> np.ndarray:
    """Float32 alpha in [0, 1] from a float or uint8 matte."""
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) * (1.0 / 255.0)
    a = alpha.astype(np.float32, copy=False)
    return np.clip(a, 0.0, 1.0)


def fast_guided_alpha(alpha: np.ndarray, frame: np.ndarray, radius: int = 8, eps: float = 1e-3,
                      scale: int = 4) -> np.ndarray:
    """Edge-aware matte refinement: a grey-guide guided filter solved at
    1/``scale`` resolution and applied at full resolution (the "fast guided
    filter"), so the matte snaps to the frame's edges at a fraction of the
    cost of a full-resolution colour guided filter. Only the band where the
    matte is not already 0 or 1 (plus the radius) can change."""
    a = as_alpha(alpha)
    if a.min() == a.max():
        return a
    h, w = a.shape
    g = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2GRAY).astype(np.float32) * (1 / 255.0)
    s = max(1, int(scale))
    sw, sh = max(4, w // s), max(4, h // s)
    gs = cv2.resize(g, (sw, sh), interpolation=cv2.INTER_AREA)
    as_ = cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA)
    r = max(1, radius // s)
    k = (2 * r + 1, 2 * r + 1)
    mg, ma = cv2.blur(gs, k), cv2.blur(as_, k)
    cov = cv2.blur(gs * as_, k) - mg * ma
    var = cv2.blur(gs * gs, k) - mg * mg
    A = cov / (var + eps)
    B = ma - A * mg
    A = cv2.resize(cv2.blur(A, k), (w, h), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(cv2.blur(B, k), (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.multiply(A, g)
    out += B
    np.clip(out, 0.0, 1.0, out=out)
    # keep the solid interior/exterior exact: only the band within ``radius``
    # of soft matte pixels is refined (the band is grown at low resolution)
    soft = ((a > 0.0) & (a < 1.0)).astype(np.uint8)
    soft = cv2.resize(soft, (sw, sh), interpolation=cv2.INTER_AREA) if s > 1 else soft
    rr = -(-radius // s) + (1 if s > 1 else 0)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rr + 1, 2 * rr + 1))
    soft = cv2.dilate((soft > 0).astype(np.uint8), disk)
    band = cv2.resize(soft, (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return np.where(band, out, a)


def light_wrap(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, strength: float = 0.3,
               radius: float | None = None) -> np.ndarray:
    """Let the new background's light spill over the subject's edge: near the
    edge, the subject is mixed with the blurred plate seen just outside it.
    Deep inside the subject nothing changes (the weight falls to zero)."""
    if strength <= 0:
        return fg
    h, w = alpha.shape
    if radius is None:
        radius = max(2.0, 0.008 * (w + h))
    d = max(1, int(radius // 3))
    sw, sh = max(4, w // d), max(4, h // d)
    inv = 1.0 - cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    if inv.max() <= 0 or inv.min() >= 1:
        return fg
    bs = cv2.resize(bg, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    s = radius * sw / w
    L = cv2.GaussianBlur(bs * inv[:, :, None], (0, 0), s)
    W = cv2.GaussianBlur(inv, (0, 0), s)
    col = np.clip(L / np.maximum(W, 1e-4)[:, :, None] + 0.5, 0, 255).astype(np.uint8)
    col = cv2.resize(col, (w, h), interpolation=cv2.INTER_LINEAR)
    Wf = cv2.resize(W, (w, h), interpolation=cv2.INTER_LINEAR)
    m = (float(strength) * alpha) * Wf
    m[m < 1e-3] = 0.0  # exact interior
    return cv2.blendLinear(fg, col, 1.0 - m, m)


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """out = alpha·fg + (1 − alpha)·bg, rounded; exact where alpha is 0 or 1."""
    a = as_alpha(alpha)
    return cv2.blendLinear(np.ascontiguousarray(fg[:, :, :3]), np.ascontiguousarray(bg[:, :, :3]), a, 1.0 - a)


def with_alpha(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA (straight alpha) for transparent output."""
    a = np.clip(as_alpha(alpha) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.dstack([fg[:, :, :3], a])
