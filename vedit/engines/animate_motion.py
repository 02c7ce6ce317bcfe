"""Motion brush: a still image animated by a stationary (Eulerian) motion field.

Arrows ``(x0, y0) → (x1, y1)`` say which material moves and where. The field
is M(x) = v(x) · B(x), with B the area that moves:

* with ``region`` (a mask), B is that mask feathered inwards (0 on and
  outside its edge, so pixels outside it stay bit-exact) and v the Shepard
  interpolation of all arrows, v(x) = Σ wᵢ vᵢ / Σ wᵢ, wᵢ = 1 / (dᵢ² + σ²);
* without one, every arrow picks its own region: the object or texture under
  its start, segmented by GrabCut seeded at that point (``arrow_region``),
  with a soft falloff *outside* it over a band narrower than 40 px, so the
  object moves as a whole and only the band around it stretches. Several
  arrows give several regions, each with its own motion.

An arrow is the distance its material travels over the clip (one loop period
with ``loop``); ``speed`` scales it. Frame t shows the still carried a time
s(t) along M, i.e. sampled at the end of the backward trajectory
Φ₋ₛ(x) (integrated on a reduced grid in sub-steps of about one grid pixel).

Every output frame is ONE warp of the still, resampled once from the
original with a bicubic (or Lanczos) kernel, never a blend of displaced copies (a blend of
two shifted copies is a double exposure). Loops:

* ``bounce`` (default; rigid objects, any motion): s(t) follows a closed,
  eased path out along the arrows and back, s = ½ − ½·cos(2πt/N), so frame N
  is frame 0 again.
* ``flow`` (fluid texture: water, smoke, clouds): the texture keeps moving
  along the arrows. Two copies of the still advected with phases half a
  cycle apart take turns (each restarts while invisible); the cycle is short
  enough that the copies are never more than ``max_ghost`` pixels apart, and
  they are blended only during a short hand-over (``blend``), so no double
  image is visible and most frames are a single warp.

Outside the moving area the output is the still itself.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from vedit.engines.base import AnimateOutput, ProgressCallback, report
from vedit.engines.splat import forward_splat
from vedit.errors import InvalidInputError

log = logging.getLogger(__name__)

LOOP_STYLES = ("bounce", "flow")
# a band this wide (full-resolution pixels) at most around an arrow's region stretches
MAX_FALLOFF = 36.0


@dataclass(frozen=True)
class Arrow:
    """Material at (x0, y0) travels to (x1, y1) over the clip (pixels)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def parse(cls, value) -> Arrow:
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

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)


@dataclass
class ArrowRegion:
    """The area one arrow moves: ``mask`` (HxW bool, the segment under the
    arrow's start), ``weight`` (HxW float32 in [0, 1]: 1 on the mask, falling
    to 0 over ``falloff`` pixels outside it) and how it was found."""

    arrow: Arrow
    mask: np.ndarray
    weight: np.ndarray
    falloff: float
    method: str

    def describe(self) -> str:
        ys, xs = np.nonzero(self.mask)
        h, w = self.mask.shape
        return (f"arrow {self.arrow.x0:g},{self.arrow.y0:g}->{self.arrow.x1:g},{self.arrow.y1:g}: region "
                f"{xs.max() - xs.min() + 1}x{ys.max() - ys.min() + 1} at ({xs.min()},{ys.min()}), "
                f"{100.0 * self.mask.mean():.1f}% of {w}x{h} ({self.method}, soft edge {self.falloff:.0f} px)")


def feather_region(mask: np.ndarray, feather: float) -> np.ndarray:
    """Soft region in [0, 1]: 0 on and outside the mask edge, rising to 1 over
    ``feather`` pixels inside it (smoothstep of the distance to the edge)."""
    m = (mask > 127).astype(np.uint8) if mask.dtype == np.uint8 else (mask > 0.5).astype(np.uint8)
    if feather <= 0:
        return m.astype(np.float32)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    u = np.clip(dist / float(feather), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


def falloff_outside(mask: np.ndarray, width: float) -> np.ndarray:
    """1 on ``mask`` (bool), falling smoothly to 0 at ``width`` pixels outside it."""
    if width <= 0:
        return mask.astype(np.float32)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    u = np.clip(1.0 - dist / float(width), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


def arrow_region(image: np.ndarray, arrow: Arrow, work_side: int = 320, iterations: int = 4) -> tuple[np.ndarray, str]:
    """The object or texture under the arrow's start (HxW bool) and the method.

    GrabCut on a reduced copy, seeded with a sure-foreground disc at the start,
    a probable-foreground disc around it and the image border as probable
    background; the connected piece holding the start is kept, its holes
    filled. Falls back to the seed disc when GrabCut finds nothing there."""
    h, w = image.shape[:2]
    s = min(1.0, work_side / max(h, w))
    sw, sh = max(16, round(w * s)), max(16, round(h * s))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA) if s < 1.0 else image
    bgr = np.ascontiguousarray(small[:, :, ::-1])
    cx = int(np.clip(round(arrow.x0 * sw / w), 0, sw - 1))
    cy = int(np.clip(round(arrow.y0 * sh / h), 0, sh - 1))
    short = min(sw, sh)
    r_sure = max(2, round(0.025 * short))
    r_prob = max(r_sure + 2, round(0.15 * short))
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    cv2.circle(gc, (cx, cy), r_prob, cv2.GC_PR_FGD, -1)
    cv2.circle(gc, (cx, cy), r_sure, cv2.GC_FGD, -1)
    seed = gc == cv2.GC_FGD
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    method = "grabcut"
    try:
        cv2.setRNGSeed(0)
        cv2.grabCut(bgr, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    except cv2.error:  # a degenerate image (one colour): GrabCut cannot fit its models
        fg, method = seed.copy(), "seed disc"
    fg |= seed
    n, lab = cv2.connectedComponents(fg.astype(np.uint8), connectivity=8)
    fg = lab == lab[cy, cx]
    # fill holes: background pieces not connected to the border
    inv = (~fg).astype(np.uint8)
    n, lab = cv2.connectedComponents(inv, connectivity=4)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    fg |= (inv > 0) & ~np.isin(lab, border)
    if s < 1.0:
        fg = cv2.resize(fg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return fg, method


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


def loop_phases(t: int, n: int, loop: bool, style: str, cycles: int, blend: float) -> list[tuple[float, float]]:
    """(s, weight) pairs for frame t: the still carried s (fraction of the
    arrows) along the field, with the given weight (weights sum to 1)."""
    if not loop:
        return [(t / n, 1.0)]
    if style == "bounce":
        return [(0.5 - 0.5 * math.cos(2.0 * math.pi * t / n), 1.0)]
    u = cycles * t / n
    fa = (u + 0.5) % 1.0  # phase A sits mid-cycle (s = 0) at t = 0
    fb = u % 1.0
    tri = 1.0 - abs(2.0 * fa - 1.0)  # 1 mid-cycle, 0 at its restart
    k = float(np.clip((tri - 0.5) / max(blend, 1e-6) + 0.5, 0.0, 1.0))
    wa = k * k * (3.0 - 2.0 * k)
    out = []
    if wa > 0.0:
        out.append(((fa - 0.5) / cycles, wa))
    if wa < 1.0:
        out.append(((fb - 0.5) / cycles, 1.0 - wa))
    return out


class MotionAnimateEngine:
    """Motion-brush animation of a still (no weights).

    ``work_side``: longest side of the grid the field is integrated on;
    ``feather``: inward softness of a given region's edge in pixels (None: 2%
    of the short side); ``falloff``: width of the soft band around a region
    found from an arrow (None: scaled to the image and the arrow, at most
    36 px); ``loop_style``: 'bounce' or 'flow' (see the module doc);
    ``max_ghost``: flow loops keep their two copies at most this many pixels
    apart; ``blend``: the share of a flow cycle spent handing over (0..1);
    ``interp``: the kernel every frame is resampled with from the still,
    'cubic' or 'lanczos' (sharper, about 3x slower);
    ``render``: 'warp' (inverse-map sampling) or 'splat' (reference forward
    splatting, slow).
    """

    name = "motion"

    def __init__(self, work_side: int = 480, feather: float | None = None, sigma: float | None = None,
                 render: str = "warp", falloff: float | None = None, loop_style: str = "bounce",
                 max_ghost: float = 3.0, blend: float = 0.25, interp: str = "cubic"):
        if render not in ("warp", "splat"):
            raise InvalidInputError(f"render {render!r}: choose 'warp' or 'splat'")
        if loop_style not in LOOP_STYLES:
            raise InvalidInputError(f"--loop-style {loop_style!r}: choose {' or '.join(LOOP_STYLES)}")
        if not (0.0 < blend <= 1.0):
            raise InvalidInputError(f"blend {blend!r}: use a share of the cycle in (0, 1]")
        if interp not in ("cubic", "lanczos"):
            raise InvalidInputError(f"interp {interp!r}: choose 'cubic' or 'lanczos'")
        if not max_ghost > 0:
            raise InvalidInputError(f"max_ghost {max_ghost!r}: must be positive (pixels)")
        self.work_side = int(work_side)
        self.feather = feather
        self.sigma = sigma
        self.render = render
        self.falloff = falloff
        self.loop_style = loop_style
        self.max_ghost = float(max_ghost)
        self.blend = float(blend)
        self.interp = interp

    # -- regions ---------------------------------------------------------------
    def region_alpha(self, shape: tuple[int, int], region: np.ndarray | None) -> np.ndarray:
        """A given region mask, feathered inwards (None: the whole frame)."""
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

    def arrow_regions(self, image: np.ndarray, arrows: Sequence,
                      masks: Sequence[np.ndarray | None] | None = None, source: str = "sam") -> list[ArrowRegion]:
        """One region per arrow: the segment under its start, with a soft band.

        ``masks`` (optional, one per arrow, e.g. Segment Anything prompted at
        the arrow's start): used where they hold the start (their connected
        piece there); an arrow without one, or whose mask misses its start,
        falls back to GrabCut."""
        h, w = image.shape[:2]
        out = []
        for i, a in enumerate(Arrow.parse(v) for v in arrows):
            if not (0 <= a.x0 < w and 0 <= a.y0 < h):
                raise InvalidInputError(f"--motion {a.x0:g},{a.y0:g},{a.x1:g},{a.y1:g}: without --region the "
                                        f"arrow must start inside the {w}x{h} image (it picks what moves)")
            given = masks[i] if masks is not None and i < len(masks) else None
            mask, method = None, ""
            if given is not None:
                g = np.asarray(given)
                g = g > (127 if g.dtype == np.uint8 else 0.5)
                if g.shape != (h, w):
                    raise InvalidInputError(f"region mask {i} is {g.shape[1]}x{g.shape[0]}, the image is {w}x{h}")
                cx, cy = int(a.x0), int(a.y0)
                if g[cy, cx]:
                    lab = cv2.connectedComponents(g.astype(np.uint8), connectivity=8)[1]
                    mask, method = lab == lab[cy, cx], source
                else:
                    method = f" ({source} mask missed the start)"
            if mask is None:
                mask, found = arrow_region(image, a)
                method = found + method
            width = self.falloff if self.falloff is not None else \
                min(MAX_FALLOFF, max(6.0, 0.04 * min(h, w), 0.75 * a.length))
            out.append(ArrowRegion(a, mask, falloff_outside(mask, width), float(width), method))
        return out

    def field(self, shape: tuple[int, int], arrows: Sequence, region: np.ndarray | None = None,
              regions: Sequence[ArrowRegion] | None = None) -> np.ndarray:
        """The full-resolution motion field M (HxWx2, pixels over the clip)."""
        arrows = [Arrow.parse(a) for a in arrows]
        if regions:
            return self._regions_field(shape[0], shape[1], regions, 1.0, (0, 0))
        b = self.region_alpha(shape, region)
        return interpolate_arrows(shape[0], shape[1], arrows, 1.0, self.sigma) * b[:, :, None]

    @staticmethod
    def _regions_field(h: int, w: int, regions: Sequence[ArrowRegion], scale: float, offset) -> np.ndarray:
        """Σ Bᵢ vᵢ / Σ Bᵢ · max Bᵢ on an h x w grid (weights already on that
        grid): each region carries its own arrow; where regions overlap their
        arrows are averaged by weight."""
        num = np.zeros((h, w, 2), np.float32)
        den = np.zeros((h, w), np.float32)
        top = np.zeros((h, w), np.float32)
        for r in regions:
            b = r.weight
            num[:, :, 0] += b * (r.arrow.x1 - r.arrow.x0) * scale
            num[:, :, 1] += b * (r.arrow.y1 - r.arrow.y0) * scale
            den += b
            np.maximum(top, b, out=top)
        return num * (top / np.maximum(den, 1e-6))[:, :, None]

    # -- render ----------------------------------------------------------------
    def animate(self, image: np.ndarray, *, num_frames: int, fps: float = 25.0, arrows: Sequence = (),
                region: np.ndarray | None = None, loop: bool = False, speed: float = 1.0, seed: int = 0,
                device=None, dtype=None, chunk_size=None, callback: ProgressCallback = None,
                regions: Sequence[ArrowRegion] | None = None) -> AnimateOutput:
        """Animate ``image`` (HxWx3 uint8 RGB) into ``num_frames`` frames.

        ``region``: a mask of the area that moves (all arrows share it); without
        one each arrow moves the region under its start (``regions``, when
        given, are used as found, e.g. from ``arrow_regions``).
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

        # 2. the area that moves
        described: list[str] = []
        picked: list[ArrowRegion] = []
        if region is not None:
            b_full = self.region_alpha((h, w), region)
        else:
            picked = list(regions) if regions is not None else self.arrow_regions(image, arrows)
            b_full = np.maximum.reduce([r.weight for r in picked]) if len(picked) > 1 else picked[0].weight
            for i, r in enumerate(picked):
                described.append(r.describe())
                log.info("motion region %d: %s", i + 1, described[-1])

        # 3. work inside the moving area's bounding box on a reduced grid
        ys, xs = np.nonzero(b_full > 0)
        pad = 3
        bx0, by0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
        bx1, by1 = min(w, int(xs.max()) + 1 + pad), min(h, int(ys.max()) + 1 + pad)
        cw, ch = bx1 - bx0, by1 - by0
        s = min(1.0, self.work_side / max(cw, ch))
        lw, lh = max(2, round(cw * s)), max(2, round(ch * s))
        sx, sy = lw / cw, lh / ch
        if region is not None:
            b_low = cv2.resize(np.ascontiguousarray(b_full[by0:by1, bx0:bx1]), (lw, lh), interpolation=cv2.INTER_AREA)
            sigma = (self.sigma if self.sigma is not None else 0.04 * max(h, w)) * s
            v_low = interpolate_arrows(lh, lw, arrows, s, sigma, offset=(bx0, by0)) * b_low[:, :, None]
        else:
            low = [ArrowRegion(r.arrow, r.mask, cv2.resize(np.ascontiguousarray(r.weight[by0:by1, bx0:bx1]),
                                                           (lw, lh), interpolation=cv2.INTER_AREA),
                               r.falloff, r.method) for r in picked]
            v_low = self._regions_field(lh, lw, low, s, (bx0, by0))
        # the whole clip's motion (one loop period), in low-res pixels
        v_low = v_low * float(speed)
        v_low[:, :, 0] *= sx / s
        v_low[:, :, 1] *= sy / s
        travel = float(np.hypot(v_low[:, :, 0], v_low[:, :, 1]).max()) / min(sx, sy)  # full-res pixels
        cycles, ghost = 1, 0.0
        if loop and self.loop_style == "flow":
            # short cycles keep the two copies close; at least 6 frames a cycle
            # (a faster hand-over would pulse), so a very fast short clip may
            # exceed max_ghost: the stats say by how much
            cycles = max(1, min(math.ceil(travel / (2.0 * self.max_ghost)), n // 6))
            ghost = travel / (2.0 * cycles)
        support = b_full > 0
        stats = {"region_fraction": float(support.mean()), "work_size": [lw, lh], "max_travel_px": travel,
                 "loop_style": self.loop_style if loop else None, "cycles": cycles, "ghost_px": ghost,
                 "regions": described}

        def frames() -> Iterator[np.ndarray]:
            if self.render == "splat":
                yield from self._frames_splat(image, support, v_low, (bx0, by0, cw, ch), n, loop, cycles, callback)
                return
            yield from self._frames_warp(image, support, v_low, (bx0, by0, cw, ch), n, loop, cycles, callback)

        return AnimateOutput(frames=frames(), frame_count=n, fps=float(fps), stats=stats)

    @staticmethod
    def flow_map(field: np.ndarray, s: float, gx: np.ndarray, gy: np.ndarray, max_step: float = 2.0,
                 start: np.ndarray | None = None) -> np.ndarray:
        """Displacement d with x + d = Φ₋ₛ(x): where the material now at x was
        before travelling a time s along ``field`` (negative s: ahead of it).
        With ``start`` (the map of some time s₀), the result is the map of
        s₀ + s: the stationary field's flows compose, Φ₋(s₀+s) = Φ₋ₛ ∘ Φ₋s₀,
        so each frame only integrates the step since the previous one.
        Midpoint (RK2) sub-steps of at most ``max_step`` grid pixels."""
        d = np.zeros(gx.shape + (2,), np.float32) if start is None else start.copy()
        vmax = float(np.abs(field).max())
        if s == 0.0 or vmax == 0.0:
            return d
        k = max(1, math.ceil(abs(s) * vmax / max_step))
        h = -s / k
        for _ in range(k):
            f1 = cv2.remap(field, gx + d[:, :, 0], gy + d[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mid = d + (0.5 * h) * f1
            f2 = cv2.remap(field, gx + mid[:, :, 0], gy + mid[:, :, 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
            d += h * f2
        return d

    def _frames_warp(self, image, support, v_low, box, n, loop, cycles, callback):
        bx0, by0, cw, ch = box
        lh, lw = v_low.shape[:2]
        gx, gy = np.meshgrid(np.arange(lw, dtype=np.float32), np.arange(lh, dtype=np.float32))
        fx, fy = np.meshgrid(np.arange(cw, dtype=np.float32) + bx0, np.arange(ch, dtype=np.float32) + by0)
        up_x, up_y = cw / lw, ch / lh
        bx1, by1 = bx0 + cw, by0 + ch
        sup = support[by0:by1, bx0:bx1].astype(np.float32)
        full = bool(sup.min() > 0) and (cw, ch) == (image.shape[1], image.shape[0])

        kernel = cv2.INTER_LANCZOS4 if self.interp == "lanczos" else cv2.INTER_CUBIC
        states: list[tuple[float, np.ndarray]] = []  # (s, map) of the last frame's phases

        def low_map(s: float) -> np.ndarray:
            # continue from the nearest map of the last frame (a loop's phase
            # restart is nearer to the identity: integrate from there)
            best = min(range(len(states)), key=lambda i: abs(states[i][0] - s), default=None)
            if best is not None and abs(states[best][0] - s) < abs(s):
                s0, d0 = states.pop(best)
                d = self.flow_map(v_low, s - s0, gx, gy, start=d0)
            else:
                d = self.flow_map(v_low, s, gx, gy)
            fresh.append((s, d))
            return d

        def sample(s: float) -> np.ndarray:
            d = cv2.resize(low_map(s), (cw, ch), interpolation=cv2.INTER_LINEAR)
            # outside the moving area nothing moves: the still's own pixels, exactly
            mx = fx + d[:, :, 0] * (up_x * sup)
            my = fy + d[:, :, 1] * (up_y * sup)
            return cv2.remap(image, mx, my, kernel, borderMode=cv2.BORDER_REFLECT_101)

        for t in range(n):
            phases = loop_phases(t, n, loop, self.loop_style, cycles, self.blend)
            fresh: list[tuple[float, np.ndarray]] = []
            if t == 0 and phases == [(0.0, 1.0)]:
                out = image.copy()
            else:
                pf = sample(phases[0][0])
                if len(phases) > 1:
                    # flow loop hand-over: copies at most max_ghost px apart
                    pf = cv2.addWeighted(pf, phases[0][1], sample(phases[1][0]), phases[1][1], 0.0)
                if full:
                    out = pf
                else:
                    out = image.copy()
                    out[by0:by1, bx0:bx1] = pf
            states = fresh + states[:max(0, 2 - len(fresh))]
            report(callback, t + 1, n, "animate")
            yield out

    def _frames_splat(self, image, support, v_low, box, n, loop, cycles, callback):
        """Reference renderer: the field upsampled to full resolution, the
        forward flow integrated there and the still forward-splatted along it
        (slow; for checks and small images)."""
        bx0, by0, cw, ch = box
        h, w = image.shape[:2]
        lh, lw = v_low.shape[:2]
        m = np.zeros((h, w, 2), np.float32)
        m[by0:by0 + ch, bx0:bx0 + cw] = cv2.resize(v_low, (cw, ch), interpolation=cv2.INTER_LINEAR) * \
            np.array([cw / lw, ch / lh], np.float32)
        m *= support[:, :, None]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        src = image.astype(np.float32)
        for t in range(n):
            acc = np.zeros_like(src)
            for s, wgt in loop_phases(t, n, loop, self.loop_style, cycles, self.blend):
                fwd = self.flow_map(m, -s, gx, gy)  # where each source pixel goes
                pf, df = forward_splat(src, fwd)
                acc += wgt * np.where(df[:, :, None] > 1e-3, pf, src)  # a hole falls back to the still
            report(callback, t + 1, n, "animate")
            yield np.clip(acc + 0.5, 0, 255).astype(np.uint8)
