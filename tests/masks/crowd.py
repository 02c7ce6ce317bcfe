"""A multi-person clip built from real footage: the labelled tennis player
(DAVIS, with its hand-made mask of player and racket; the cast shadow
in it is cut away) pasted at
four places and scales (about 330, 170, 95 and 55 px tall) onto a still
1280x720 background (the first frame of ``running_car``), each copy playing
the clip from a different frame and walking sideways. The ground truth of
each copy is its pasted mask. No real multi-person footage with labels is
available here; this stands in for it (the people are real pixels, their
edges are the labelled ones, the compositing is hard-edged)."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import cv2
import numpy as np

# (height in px, x of the left edge at frame 0, y of the feet, walk px/frame, clip frame offset, mirrored)
PEOPLE = ((330, 80, 690, 2.0, 0, False), (170, 620, 560, -1.5, 17, True), (95, 980, 430, 1.0, 34, False),
          (55, 420, 330, 0.8, 51, True))
SIZE = (1280, 720)


def _sprites(media: Path):
    frames = sorted(glob.glob(str(media / "tennis" / "*.png")))
    masks = sorted(glob.glob(str(media / "tennis_mask" / "*.png")))
    for f, m in zip(frames, masks):
        rgb = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB)
        a = cv2.imread(m, 0) > 127
        # the cast shadow is cut away (clay-coloured pixels in the lowest
        # third of the mask): pasted elsewhere it would be a strip of court
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        ys, _ = np.nonzero(a)
        low = np.arange(a.shape[0])[:, None] > ys.min() + 0.66 * (ys.max() - ys.min())
        clay = (hsv[:, :, 0] < 22) & (hsv[:, :, 1] > 110) & low
        a = cv2.morphologyEx((a & ~clay).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(a)
        a = lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        ys, xs = np.nonzero(a)
        yield rgb[ys.min():ys.max() + 1, xs.min():xs.max() + 1], a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def build(media: Path, n: int = 24) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """``n`` frames (RGB uint8 1280x720) and, per frame, each person's mask
    (bool), in the order of :data:`PEOPLE`."""
    from vedit.io import open_clip

    bg = cv2.resize(next(open_clip(str(media / "running_car" / "running_car.mp4")).frames())[:, :, :3], SIZE,
                    interpolation=cv2.INTER_AREA)
    sprites = list(_sprites(media))
    frames, truths = [], []
    for i in range(n):
        out = bg.copy()
        gts = []
        for height, x0, feet, walk, offset, mirror in PEOPLE:
            rgb, a = sprites[(i + offset) % len(sprites)]
            s = height / rgb.shape[0]
            size = (max(2, round(rgb.shape[1] * s)), height)
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            a = cv2.resize(a.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            if mirror:
                rgb, a = rgb[:, ::-1], a[:, ::-1]
            x = int(round(x0 + walk * i))
            y = feet - height
            gt = np.zeros(SIZE[::-1], bool)
            w = min(size[0], SIZE[0] - x)
            region = out[y:y + height, x:x + w]
            region[a[:, :w]] = rgb[:, :w][a[:, :w]]
            gt[y:y + height, x:x + w] = a[:, :w]
            gts.append(gt)
        frames.append(out)
        truths.append(gts)
    return frames, truths


def write(media: Path, folder: Path, n: int = 24) -> tuple[Path, list[list[np.ndarray]]]:
    """The clip as a PNG sequence in ``folder``; returns it and the truths."""
    frames, truths = build(media, n)
    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder, truths
