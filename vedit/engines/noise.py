"""Shared initial noise that moves with the scene ("How I Warped Your Noise",
simplified): one Gaussian field is drawn in the reference keyframe's image
coordinates at the latent cell size, and every frame samples it at the
positions its latent cells map to in the reference (a homography fitted on the
frame-to-reference flow). Nearest sampling keeps every value an exact
N(0, 1) draw, so the noise stays Gaussian after warping."""
from __future__ import annotations

import math

import numpy as np
import torch


class WarpedNoise:
    """``field`` covers the frame (w, h) plus a margin, at ``cell`` image
    pixels per latent cell, with ``channels`` latent channels."""

    def __init__(self, seed: int, channels: int, frame_size: tuple[int, int], cell: float, margin: float = 0.5):
        w, h = frame_size
        self.cell = float(max(cell, 1e-3))
        self.pad = int(math.ceil(margin * max(w, h) / self.cell)) + 2
        gw = int(math.ceil(w / self.cell)) + 2 * self.pad
        gh = int(math.ceil(h / self.cell)) + 2 * self.pad
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        self.field = torch.randn((channels, gh, gw), generator=g, dtype=torch.float32)

    def sample(self, box: tuple[float, float, float, float], latent_hw: tuple[int, int],
               to_ref: np.ndarray | None = None) -> torch.Tensor:
        """Noise (1, C, h, w) for a crop ``box`` = (x0, y0, x1, y1) in this
        frame's image coordinates, mapped into the reference by the 3x3
        homography ``to_ref`` (identity when None)."""
        x0, y0, x1, y1 = box
        hl, wl = latent_hw
        xs = x0 + (np.arange(wl, dtype=np.float64) + 0.5) * (x1 - x0) / wl
        ys = y0 + (np.arange(hl, dtype=np.float64) + 0.5) * (y1 - y0) / hl
        gx, gy = np.meshgrid(xs, ys)
        if to_ref is not None:
            H = np.asarray(to_ref, np.float64)
            den = H[2, 0] * gx + H[2, 1] * gy + H[2, 2]
            den = np.where(np.abs(den) < 1e-9, 1e-9, den)
            gx, gy = ((H[0, 0] * gx + H[0, 1] * gy + H[0, 2]) / den, (H[1, 0] * gx + H[1, 1] * gy + H[1, 2]) / den)
        _, gh, gw = self.field.shape
        ix = np.floor(gx / self.cell).astype(np.int64) + self.pad
        iy = np.floor(gy / self.cell).astype(np.int64) + self.pad
        # outside the drawn field: wrap (still Gaussian, merely repeated)
        ix = torch.from_numpy(np.mod(ix, gw))
        iy = torch.from_numpy(np.mod(iy, gh))
        return self.field[:, iy, ix].unsqueeze(0).contiguous()


def independent_noise(seed: int, channels: int, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Fresh Gaussian noise (1, C, h, w) for one frame (no sharing)."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn((1, channels, *latent_hw), generator=g, dtype=torch.float32)
