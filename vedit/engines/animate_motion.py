"""Motion brush: a still image animated by a stationary (Eulerian) motion field.

Arrows ``(x0, y0) → (x1, y1)`` and an optional region become a dense field
M(x) = B(x) · Σ wᵢ(x) vᵢ / Σ wᵢ(x) (Shepard interpolation, wᵢ = 1 / (dᵢ² + σ²)
with dᵢ the distance to arrow i; B the region, feathered inwards so M is 0 at
and outside its edge). An arrow is the distance its material travels over the
whole clip (one loop period with ``loop``); ``speed`` scales it.

The field is integrated over time, F₀→t(x) = F₀→t−1(x) + M(x + F₀→t−1(x)).
Forward splatting the image along F (``vedit.engines.splat.forward_splat``) is
the reference renderer. Because M does not change with time, the inverse of
"t steps along M" is "t steps along −M", so the fast path integrates −M and
samples the image with ``cv2.remap`` (bilinear, no holes); the splat density
(where a splat would leave holes) is recovered from the inverse map's
Jacobian and used as the blend weight.

Seamless loops of N frames (Holynski et al. 2021): frame t blends the image
pushed t steps forward (weight (1 − t/N)·density) with the image pushed N − t
steps along −M (weight t/N·density), so frame 0 and the virtual frame N are
both exactly the input. The second map is the composition φ₋t ∘ φ_N, so only
one extra map (φ_N) is kept: memory does not grow with the clip length.

Output: out_t = B·frame_t + (1 − B)·input, so pixels outside the region stay
bit-exact. All work happens inside the region's bounding box, on a field
integrated at reduced resolution (``work_side``) and upsampled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from vedit.engines.base import AnimateOutput, ProgressCallback, report
from vedit.engines.splat import forward_splat, map_density
from vedit.errors import InvalidInputError


@dataclass(frozen=True)
class Arrow:
    """Material at (x0, y0) travels to (x1, y1) over the clip (pixels)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def parse(cls, value) -> "Arrow":
        if isinstance(value, Arrow):
            return value
        if isinstance(value, str):
            try:
                vals = [float(v) for v in value.replace(" ", "").split(",") if v != ""]
            except ValueError:
                vals = []
        else:
            try:
                vals = [float(v) for v in value]
            except (TypeError, ValueError):
                vals = []
        if len(vals) != 4 or not all(np.isfinite(vals)):
            raise InvalidInputError(f"--motion {value!r}: expected four numbers X0,Y0,X1,Y1 (pixels), "
                                    "e.g. --motion 100,200,160,200")
        return cls(*vals)


def feather_region(mask: np.ndarray, feather: float) -> np.ndarray:
    """Soft region in [0, 1]: 0 on and outside the mask edge, rising to 1 over
    ``feather`` pixels inside it (smoothstep of the distance to the edge)."""
    m = (mask > 127).astype(np.uint8) if mask.dtype == np.uint8 else (mask > 0.5).astype(np.uint8)
    if feather <= 0:
        return m.astype(np.float32)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    u = np.clip(dist / float(feather), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


def _segment_distance2(xs, ys, a: Arrow, scale: float) -> np.ndarray:
    ax, ay, bx, by = a.x0 * scale, a.y0 * scale, a.x1 * scale, a.y1 * scale
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy
    if ll < 1e-9:
        return (xs - ax) ** 2 + (ys - ay) ** 2
    u = np.clip(((xs - ax) * dx + (ys - ay) * dy) / ll, 0.0, 1.0)
    px, py = xs - (ax + u * dx), ys - (ay + u * dy)
    return px * px + py * py


def interpolate_arrows(h: int, w: int, arrows: Sequence[Arrow], scale: float = 1.0,
                       sigma: float | None = None, offset=(0.0, 0.0)) -> np.ndarray:
    """Dense HxWx2 field from arrows by Shepard interpolation (in the field's
    pixel units; ``scale`` maps image pixels to field pixels, ``offset`` is the
    field's top-left corner in image pixels)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs += offset[0] * scale
    ys += offset[1] * scale
    if sigma is None:
        sigma = 0.04 * max(h, w)
    num = np.zeros((h, w, 2), np.float32)
    den = np.zeros((h, w), np.float32)
    for a in arrows:
        wgt = 1.0 / (_segment_distance2(xs, ys, a, scale) + sigma * sigma)
        num[:, :, 0] += wgt * (a.x1 - a.x0) * scale
        num[:, :, 1] += wgt * (a.y1 - a.y0) * scale
        den += wgt
    return num / den[:, :, None]


class MotionAnimateEngine:
    """Motion-brush animation of a still (no weights).

    ``work_side``: longest side of the grid the field is integrated on;
    ``feather``: region edge softness in pixels (None: 2% of the short side);
    ``render``: 'warp' (fast inverse-map sampling) or 'splat' (reference
    forward splatting, slow).
    """

    name = "motion"

    def __init__(self, work_side: int = 480, feather: float | None = None, sigma: float | None = None,
                 render: str = "warp"):
        if render not in ("warp", "splat"):
            raise InvalidInputError(f"render {render!r}: choose 'warp' or 'splat'")
        self.work_side = int(work_side)
        self.feather = feather
        self.sigma = sigma
        self.render = render

    # -- field -----------------------------------------------------------------
    def region_alpha(self, shape: tuple[int, int], region: np.ndarray | None) -> np.ndarray:
        h, w = shape
        if region is None:
            return np.ones((h, w), np.float32)
        region = np.asarray(region)
        if region.ndim == 3:
            region = region[:, :, 0]
        if region.shape != (h, w):
            raise InvalidInputError(f"--region is {region.shape[1]}x{region.shape[0]}, the image is {w}x{h}; "
                                    "give a mask of the same size")
        if region.dtype != np.uint8:
            region = (np.clip(region, 0, 1) * 255).astype(np.uint8) if region.dtype != bool \
                else region.astype(np.uint8) * 255
        feather = self.feather if self.feather is not None else max(2.0, 0.02 * min(h, w))
        b = feather_region(region, feather)
        if not (b > 0).any():
            raise InvalidInputError("--region: the mask is empty (no pixel > 127); paint the area to animate white")
        return b

    def field(self, shape: tuple[int, int], arrows: Sequence, region: np.ndarray | None = None) -> np.ndarray:
        """The full-resolution motion field M (HxWx2, pixels over the clip)."""
        arrows = [Arrow.parse(a) for a in arrows]
        b = self.region_alpha(shape, region)
        return interpolate_arrows(shape[0], shape[1], arrows, 1.0, self.sigma) * b[:, :, None]

    # -- render ----------------------------------------------------------------
    def animate(self, image: np.ndarray, *, num_frames: int, fps: float = 25.0, arrows: Sequence = (),
                region: np.ndarray | None = None, loop: bool = False, speed: float = 1.0, seed: int = 0,
                device=None, dtype=None, chunk_size=None, callback: ProgressCallback = None) -> AnimateOutput:
        """Animate ``image`` (HxWx3 uint8 RGB) into ``num_frames`` frames.
        ``seed``/``device``/``dtype``/``chunk_size`` are accepted for the shared
        engine signature; this engine is deterministic and CPU-only."""
        # 1. check inputs
        image = np.ascontiguousarray(image[:, :, :3])
        if image.dtype != np.uint8:
            raise InvalidInputError("image must be 8-bit RGB")
        h, w = image.shape[:2]
        n = int(num_frames)
        if n < 1:
            raise InvalidInputError(f"num_frames {num_frames}: must be at least 1")
        arrows = [Arrow.parse(a) for a in arrows]
        if not arrows:
            raise InvalidInputError("the motion engine needs at least one --motion X0,Y0,X1,Y1 arrow")
        for a in arrows:
            for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
                if not (-w <= x <= 2 * w and -h <= y <= 2 * h):
                    raise InvalidInputError(f"--motion {a.x0:g},{a.y0:g},{a.x1:g},{a.y1:g}: point ({x:g},{y:g}) is "
                                            f"far outside the {w}x{h} image; use pixel coordinates")
        if not np.isfinite(speed):
            raise InvalidInputError(f"speed {speed!r}: must be a number")
        b_full = self.region_alpha((h, w), region)

        # 2. work inside the region's bounding box on a reduced grid
        ys, xs = np.nonzero(b_full > 0)
        pad = 3
        bx0, by0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
        bx1, by1 = min(w, int(xs.max()) + 1 + pad), min(h, int(ys.max()) + 1 + pad)
        cw, ch = bx1 - bx0, by1 - by0
        s = min(1.0, self.work_side / max(cw, ch))
        lw, lh = max(2, round(cw * s)), max(2, round(ch * s))
        sx, sy = lw / cw, lh / ch
        b_crop = np.ascontiguousarray(b_full[by0:by1, bx0:bx1])
        b_low = cv2.resize(b_crop, (lw, lh), interpolation=cv2.INTER_AREA)
        sigma = (self.sigma if self.sigma is not None else 0.04 * max(h, w)) * s
        v_low = interpolate_arrows(lh, lw, arrows, s, sigma, offset=(bx0, by0))
        # per-step motion, in low-res pixels
        step = (v_low * b_low[:, :, None]) * (float(speed) / n)
        step[:, :, 0] *= sx / s
        step[:, :, 1] *= sy / s
        stats = {"region_fraction": float((b_full > 0).mean()), "work_size": [lw, lh],
                 "max_step_px": float(np.abs(step).max() / min(sx, sy))}

        def frames() -> Iterator[np.ndarray]:
            if self.render == "splat":
                yield from self._frames_splat(image, b_full, n, loop, speed, arrows, callback)
                return
            yield from self._frames_warp(image, b_full, b_crop, step, (bx0, by0, cw, ch), (lw, lh), n, loop,
                                         callback)

        return AnimateOutput(frames=frames(), frame_count=n, fps=float(fps), stats=stats)

    @staticmethod
    def _advance(disp: np.ndarray, field: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """One Euler step of x ← x + field(x) for every tracked point."""
        f = cv2.remap(field, gx + disp[:, :, 0], gy + disp[:, :, 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
        return disp + f

    @classmethod
    def _reverse_maps(cls, field, n, gx, gy) -> Iterator[np.ndarray]:
        """Yield the displacement of s steps along ``field`` for s = n−1 … 1.

        Checkpointing: every k-th map (k ≈ √n) is kept on the way up and each
        segment is recomputed on the way down, so memory grows as √n maps
        (low-resolution ones) and every map is computed at most twice. Exact,
        unlike composing φ₋t ∘ φ_N, which smears where φ_N compresses."""
        k = max(1, int(np.ceil(np.sqrt(n))))
        checkpoints: list[np.ndarray] = []
        d = np.zeros(gx.shape + (2,), np.float32)
        for s in range(n):
            if s % k == 0:
                checkpoints.append(d)
            if s < n - 1:
                d = cls._advance(d, field, gx, gy)
        for ci in range(len(checkpoints) - 1, -1, -1):
            s0 = ci * k
            seg = [checkpoints[ci]]
            for _ in range(s0 + 1, min(s0 + k, n)):
                seg.append(cls._advance(seg[-1], field, gx, gy))
            checkpoints[ci] = None  # type: ignore[call-overload]
            for j in range(len(seg) - 1, -1, -1):
                if s0 + j >= 1:
                    yield seg[j]

    def _frames_warp(self, image, b_full, b_crop, step, box, low, n, loop, callback):
        bx0, by0, cw, ch = box
        lw, lh = low
        gx, gy = np.meshgrid(np.arange(lw, dtype=np.float32), np.arange(lh, dtype=np.float32))
        fx, fy = np.meshgrid(np.arange(cw, dtype=np.float32) + bx0, np.arange(ch, dtype=np.float32) + by0)
        up_x, up_y = cw / lw, ch / lh
        neg = -step
        bx1, by1 = bx0 + cw, by0 + ch
        crop = np.ascontiguousarray(image[by0:by1, bx0:bx1])
        whole = b_crop.min() >= 1.0 and cw == image.shape[1] and ch == image.shape[0]
        inv_b = (1.0 - b_crop).astype(np.float32)

        d_fwd = np.zeros((lh, lw, 2), np.float32)
        # loop: the maps "N − t steps along +M" for t = 1..N−1, newest last
        backward = self._reverse_maps(step, n, gx, gy) if loop else None

        def sample(disp):
            d = cv2.resize(disp, (cw, ch), interpolation=cv2.INTER_LINEAR)
            mx = fx + d[:, :, 0] * up_x
            my = fy + d[:, :, 1] * up_y
            return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

        def density(disp):
            return np.clip(map_density(gx + disp[:, :, 0], gy + disp[:, :, 1]), 0.0, 1.0) ** 2 + 1e-3

        for t in range(n):
            if t > 0:
                d_fwd = self._advance(d_fwd, neg, gx, gy)
            pf = sample(d_fwd)
            if loop and t > 0:
                # the input pushed N − t steps along −M, sampled through φ_(N−t)
                d_bwd = next(backward)
                pb = sample(d_bwd)
                a = t / n
                wf = cv2.resize((1.0 - a) * density(d_fwd), (cw, ch), interpolation=cv2.INTER_LINEAR)
                wb = cv2.resize(a * density(d_bwd), (cw, ch), interpolation=cv2.INTER_LINEAR)
                pf = cv2.blendLinear(pf, pb, wf, wb)
            if whole:
                out = pf
            else:
                out = image.copy()
                out[by0:by1, bx0:bx1] = cv2.blendLinear(pf, crop, b_crop, inv_b)
            report(callback, t + 1, n, "animate")
            yield out

    def _frames_splat(self, image, b_full, n, loop, speed, arrows, callback):
        """Reference renderer: full-resolution Euler integration of +M and
        forward splatting (slow; for checks and small images)."""
        h, w = image.shape[:2]
        sigma = self.sigma if self.sigma is not None else 0.04 * max(h, w)
        m = interpolate_arrows(h, w, arrows, 1.0, sigma) * b_full[:, :, None] * (float(speed) / n)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        src = image.astype(np.float32)
        f_fwd = np.zeros((h, w, 2), np.float32)
        f_bwd = None
        if loop:
            f_bwd = np.zeros_like(f_fwd)  # N steps along −M, then walked back
            for _ in range(n):
                f_bwd = self._advance(f_bwd, -m, gx, gy)
        bw = b_full[:, :, None]
        for t in range(n):
            if t > 0:
                f_fwd = self._advance(f_fwd, m, gx, gy)
            pf, df = forward_splat(src, f_fwd)
            if loop and t > 0:
                # flow from the input to frame t in the backward pass: N − t steps along −M
                g = np.zeros_like(f_fwd)
                for _ in range(n - t):
                    g = self._advance(g, -m, gx, gy)
                pb, db = forward_splat(src, g)
                a = t / n
                wf = (1 - a) * np.minimum(df, 1.0) ** 2 + 1e-6
                wb = a * np.minimum(db, 1.0) ** 2 + 1e-6
                pf = (pf * wf[:, :, None] + pb * wb[:, :, None]) / (wf + wb)[:, :, None]
                df = np.maximum(df, db)
            pf = np.where(df[:, :, None] > 1e-3, pf, src)  # a hole falls back to the still
            out = bw * pf + (1 - bw) * src
            report(callback, t + 1, n, "animate")
            yield np.clip(out + 0.5, 0, 255).astype(np.uint8)
