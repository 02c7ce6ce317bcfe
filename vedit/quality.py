"""Quality measures of a removal (what ``vedit score`` prints).

With a ground truth, :func:`score` computes exactly the measures of the product
owner's ``score.py`` (DESIGN §7):

* ``psnr_mask``: PSNR pooled over the masked pixels (all frames, 3 channels);
* ``psnr_full``: PSNR over whole frames;
* ``ssim_full``: mean SSIM of the grey frames (11x11 Gaussian window, sigma 1.5);
* ``flicker``: temporal instability inside the mask relative to the ground
  truth's own: frames are aligned with DIS flow of the *truth* (medium preset,
  forward-backward consistent pixels only), the mean absolute warp error of the
  output divided by that of the truth (1.0 = as stable as the real background;
  per-frame fills score 2-5);
* ``detail``: mean Sobel gradient magnitude of the grey image inside the mask
  eroded by 2 px, output over truth (1.0 = as crisp as the real background; a
  blurred fill scores well below 1 even with a good PSNR, which is why the two
  are always read together).

Without a ground truth, :func:`score_noref` reports what the output alone can
tell: flicker inside the hole against the output's own flow (consistent pixels
only) relative to the ring of real footage around it, detail inside the hole
relative to that ring, and the frames where the fill changes abruptly.

Both stream: only the current and the previous frame are held. Frames are
RGB uint8 (the :mod:`vedit.io` convention) unless ``rgb=False`` (BGR, OpenCV);
masks are any image where > 127 marks the region.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from vedit.errors import InvalidInputError

__all__ = ["score", "score_files", "score_noref", "score_noref_files"]

_SSIM_C1, _SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
_ERODE = np.ones((5, 5), np.uint8)  # "eroded by 2 px"
#: mean gradient (grey levels, Sobel magnitude) of the truth in the hole below which it has no detail to compare with
_FLAT = 0.5


def _gray(x: np.ndarray, rgb: bool) -> np.ndarray:
    if x.ndim == 2:
        return x
    return cv2.cvtColor(np.ascontiguousarray(x[..., :3]), cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY)


def _mask(m: np.ndarray) -> np.ndarray:
    if m.ndim == 3:
        m = m[..., 0] if m.shape[2] == 1 else cv2.cvtColor(np.ascontiguousarray(m[..., :3]), cv2.COLOR_RGB2GRAY)
    return m > 127


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    num = (2 * ma * mb + _SSIM_C1) * (2 * cov + _SSIM_C2)
    return float((num / ((ma * ma + mb * mb + _SSIM_C1) * (va + vb + _SSIM_C2))).mean())


def _grad(g: np.ndarray) -> np.ndarray:
    g = g.astype(np.float32)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))


class _Warper:
    """Backward warping by a flow field (bilinear, replicated border), with the
    pixel grid built once per frame size."""

    def __init__(self) -> None:
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, img: np.ndarray, fl: np.ndarray) -> np.ndarray:
        h, w = fl.shape[:2]
        if self._grid is None or self._grid[0].shape != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (gx, gy)
        gx, gy = self._grid
        return cv2.remap(img, gx + fl[..., 0], gy + fl[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class _Flow:
    """DIS flow both ways between two grey frames and the forward-backward
    consistent pixels (outside occlusions and flow failures)."""

    def __init__(self) -> None:
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.warp = _Warper()

    def __call__(self, g0: np.ndarray, g1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = self.dis.calc(g0, g1, None)
        b = self.dis.calc(g1, g0, None)
        bw = self.warp(b, f)
        ok = np.sum((f + bw) ** 2, -1) < 0.01 * (np.sum(f ** 2, -1) + np.sum(bw ** 2, -1)) + 0.5
        return f, ok


def _psnr(se: float, k: int) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(se / max(k, 1), 1e-10)))


def score(output_frames: Iterable[np.ndarray], gt_frames: Iterable[np.ndarray], mask_frames: Iterable[np.ndarray],
          rgb: bool = True) -> dict[str, Any]:
    """Full-reference scores of a completed clip (see the module docstring).

    The three iterables are consumed in step; scoring stops at the shortest.
    Returns ``psnr_mask``, ``psnr_full`` (dB), ``ssim_full``, ``flicker``,
    ``detail`` and ``frames``, rounded as ``score.py`` rounds them; ``detail``
    is None where the truth is flat inside the hole (nothing to compare with).
    """
    flow = _Flow()
    se_m = se_f = 0.0
    n_m = n_f = 0
    ssim_sum, fo, fg, do, dg = 0.0, 0.0, 0.0, 0.0, 0.0
    n = n_in = 0
    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # out, gt, mask of frame t-1
    prev_g: np.ndarray | None = None
    for o_raw, g_raw, m_raw in zip(output_frames, gt_frames, mask_frames):
        o3, g3 = np.ascontiguousarray(o_raw[..., :3]), np.ascontiguousarray(g_raw[..., :3])
        if o3.shape != g3.shape:
            raise InvalidInputError(f"frame {n}: the output is {o3.shape[1]}x{o3.shape[0]}, "
                                    f"the truth {g3.shape[1]}x{g3.shape[0]}")
        m = _mask(m_raw)
        if m.shape != g3.shape[:2]:
            raise InvalidInputError(f"frame {n}: the mask is {m.shape[1]}x{m.shape[0]}, "
                                    f"the frames {g3.shape[1]}x{g3.shape[0]}")
        d = (o3.astype(np.float64) - g3.astype(np.float64)) ** 2
        se_m += float(d[m].sum())
        n_m += int(m.sum()) * 3
        se_f += float(d.sum())
        n_f += d.size
        go, gg = _gray(o3, rgb), _gray(g3, rgb)
        ssim_sum += _ssim(go, gg)
        inner = cv2.erode(m.astype(np.uint8), _ERODE) > 0
        do += float(_grad(go)[inner].sum())
        dg += float(_grad(gg)[inner].sum())
        n_in += int(inner.sum())
        if prev is not None and prev_g is not None:
            f, ok = flow(prev_g, gg)
            sel = prev[2] & ok
            if sel.sum() >= 20:
                w = flow.warp
                fo += float(np.abs(w(o3.astype(np.float32), f) - prev[0].astype(np.float32))[sel].mean())
                fg += float(np.abs(w(g3.astype(np.float32), f) - prev[1].astype(np.float32))[sel].mean())
        prev, prev_g = (o3, g3, m), gg
        n += 1
    if n == 0:
        raise InvalidInputError("nothing to score: no frames")
    return {"psnr_mask": round(_psnr(se_m, n_m), 2), "psnr_full": round(_psnr(se_f, n_f), 2),
            "ssim_full": round(ssim_sum / n, 4), "flicker": round(float(fo / max(fg, 1e-6)), 3),
            # a truth without detail in the hole (a clipped sky, a bare wall)
            # gives no scale to measure the fill's against: None, not a
            # ratio to almost nothing
            "detail": round(float(do / dg), 3) if dg > _FLAT * max(n_in, 1) else None, "frames": int(n)}


def _ring(m: np.ndarray, near: int, far: int) -> np.ndarray:
    """Pixels between ``near`` and ``far`` px outside the mask: real footage
    beyond what an engine's dilation and feather may touch."""
    u8 = m.astype(np.uint8)
    outer = cv2.dilate(u8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * far + 1, 2 * far + 1))) > 0
    inner = cv2.dilate(u8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * near + 1, 2 * near + 1))) > 0
    return outer & ~inner


def _pops(eh: np.ndarray, jump: float) -> list[int]:
    """Frames where the fill pops: the aligned change into frame t+1 rises
    ``jump`` times above the median change of the five pairs before it (the
    whole clip's median for the first two) and by more than 3 grey levels, and
    is 1.5 times the change just before it. Only the rising edge is reported:
    after a pop the flow of a changed fill stays uncertain for a few frames."""
    valid = ~np.isnan(eh)
    if valid.sum() < 3:
        return []
    glob_med = float(np.nanmedian(eh))
    out = []
    for t in np.flatnonzero(valid):
        past = eh[max(0, t - 5):t]
        past = past[~np.isnan(past)]
        ref = float(np.median(past)) if past.size >= 2 else glob_med
        before = float(past[-1]) if past.size else ref
        if eh[t] > jump * ref and eh[t] > ref + 3.0 and eh[t] > 1.5 * before:
            out.append(int(t) + 1)
    return out


def score_noref(output_frames: Iterable[np.ndarray], mask_frames: Iterable[np.ndarray], rgb: bool = True,
                jump: float = 2.5) -> dict[str, Any]:
    """No-reference report of a completed clip.

    * ``flicker``: mean absolute warp error inside the hole between consecutive
      output frames aligned by the output's own DIS flow (consistent pixels
      only), divided by the same error in the ring 6-22 px around the hole
      (1.0 = the fill is as stable as the real footage next to it);
    * ``coverage``: the fraction of hole pixels where that flow was consistent
      (an unstable fill breaks the flow: low coverage is itself a warning);
    * ``detail``: mean Sobel gradient inside the hole eroded by 2 px over that of
      the ring (1.0 = as crisp as the surroundings; a blur scores well below);
    * ``abrupt_frames``: frames whose fill differs from the previous one (after
      alignment) ``jump`` times more than the recent typical change, i.e. where
      the fill pops (a source switch, a new keyframe fill); see :func:`_pops`.

    ``flicker`` and ``detail`` are None where they cannot be measured (no
    consistent ring to compare with; a ring without detail).
    """
    flow = _Flow()
    err_h: list[float] = []
    err_r: list[float] = []
    cov_ok = cov_n = 0
    d_hole = d_ring = 0.0
    n_hole = n_ring = 0
    n = 0
    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # out, grey, mask
    for o_raw, m_raw in zip(output_frames, mask_frames):
        o3 = np.ascontiguousarray(o_raw[..., :3])
        m = _mask(m_raw)
        if m.shape != o3.shape[:2]:
            raise InvalidInputError(f"frame {n}: the mask is {m.shape[1]}x{m.shape[0]}, "
                                    f"the frames {o3.shape[1]}x{o3.shape[0]}")
        g = _gray(o3, rgb)
        ring = _ring(m, 6, 22)
        inner = cv2.erode(m.astype(np.uint8), _ERODE) > 0
        gr = _grad(g)
        d_hole += float(gr[inner].sum())
        n_hole += int(inner.sum())
        d_ring += float(gr[ring].sum())
        n_ring += int(ring.sum())
        if prev is not None:
            f, ok = flow(prev[1], g)
            hole, rng = prev[2] & ok, _ring(prev[2], 6, 22) & ok
            cov_ok += int(hole.sum())
            cov_n += int(prev[2].sum())
            diff = np.abs(flow.warp(o3.astype(np.float32), f) - prev[0].astype(np.float32))
            err_h.append(float(diff[hole].mean()) if hole.sum() >= 20 else np.nan)
            err_r.append(float(diff[rng].mean()) if rng.sum() >= 20 else np.nan)
        prev = (o3, g, m)
        n += 1
    if n == 0:
        raise InvalidInputError("nothing to score: no frames")
    eh, er = np.array(err_h, np.float64), np.array(err_r, np.float64)
    both = ~np.isnan(eh) & ~np.isnan(er)
    # undefined (None, JSON null) where nothing could be compared: no ring
    # frames to follow, or a ring without detail (as for the truth above)
    flicker = round(float(eh[both].sum() / max(er[both].sum(), 1e-6)), 3) if both.any() else None
    abrupt = _pops(eh, jump)
    detail = round(float((d_hole / n_hole) / (d_ring / n_ring)), 3) \
        if n_hole and n_ring and d_ring > _FLAT * n_ring else None
    return {"flicker": flicker, "coverage": round(cov_ok / max(cov_n, 1), 3),
            "detail": detail, "abrupt_frames": abrupt, "frames": int(n)}


def _open(output: str, truth: str | None, mask: str) -> tuple[Any, Any, Any]:
    from vedit.io import open_clip, open_masks, require_flow_size

    out = open_clip(output)
    require_flow_size(out, output, "to score")
    gt = open_clip(truth) if truth else None
    if gt is not None:
        if gt.size != out.size:
            raise InvalidInputError(f"the output {output} is {out.width}x{out.height} but the truth {truth} is "
                                    f"{gt.width}x{gt.height}")
        if gt.frame_count != out.frame_count:
            raise InvalidInputError(f"the output {output} has {out.frame_count} frames but the truth {truth} has "
                                    f"{gt.frame_count}")
    masks = open_masks(mask, out)
    return out, gt, masks


def score_files(output: str, truth: str, mask: str) -> dict[str, Any]:
    """:func:`score` on clips given by path (videos, folders, patterns; the
    mask may be one image for all frames), read through :mod:`vedit.io`."""
    out, gt, masks = _open(output, truth, mask)
    return score(out.frames(), gt.frames(), iter(masks))


def score_noref_files(output: str, mask: str) -> dict[str, Any]:
    """:func:`score_noref` on clips given by path."""
    out, _, masks = _open(output, None, mask)
    return score_noref(out.frames(), iter(masks))
