"""Tennis, the two-step removal recipe end to end: ``vedit matte --person``
(props on by default) then ``vedit remove``, on the last 16 frames of the
DAVIS clip, where the racket is swung wide of the body. Measured against the
labelled mask, which holds the racket."""
from __future__ import annotations

import glob

import cv2
import numpy as np
import pytest

from vedit.ops import matte as matte_op
from vedit.ops import remove as remove_op

pytest.importorskip("mediapipe")

START, END = 54, 70
DILATE = 3  # remove's default --dilate: the region it fills is the matte grown by this


def _read(folder, flags=cv2.IMREAD_GRAYSCALE):
    return [cv2.imread(p, flags) for p in sorted(glob.glob(str(folder / "*.png")))]


def test_matte_person_then_remove_takes_the_racket(shared_media, tmp_path):
    src = shared_media / "tennis"
    gts = [g > 127 for g in _read(shared_media / "tennis_mask")][START:END]
    frames = [cv2.imread(p) for p in sorted(glob.glob(str(src / "*")))][START:END]
    body_dir = tmp_path / "body"
    matte_op.run(str(src), str(body_dir) + "/", start=START, end=END, person=True, with_props=False,
                 include_shadow=False, margin=0)
    mask_dir = tmp_path / "mask"
    matte_op.run(str(src), str(mask_dir) + "/", start=START, end=END, person=True)
    clean_dir = tmp_path / "clean"
    remove_op.run(str(src), str(clean_dir) + "/", start=START, end=END, mask=str(mask_dir))
    bodies = [b > 127 for b in _read(body_dir)]
    mattes = [m > 127 for m in _read(mask_dir)]
    cleans = _read(clean_dir, cv2.IMREAD_COLOR)
    assert len(mattes) == len(cleans) == END - START
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE + 1, 2 * DILATE + 1))
    tot = hit = changed = tot_core = 0
    for f, g, b, m, c in zip(frames, gts, bodies, mattes, cleans):
        # the racket: labelled pixels away from the body model's matte, above the shadow strip on the ground
        rows = np.flatnonzero(b.any(axis=1))
        racket = g & ~(cv2.dilate(b.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0)
        racket[int(rows[-1] - 0.15 * (rows[-1] - rows[0])):] = False
        filled = cv2.dilate(m.astype(np.uint8), grow) > 0
        tot += racket.sum()
        hit += (racket & filled).sum()
        # in the clean plate the racket's own pixels (the labels less their
        # dilation rim, which is wall) are replaced: the wall differs from the racket
        core = racket & (cv2.erode(g.astype(np.uint8), grow) > 0)
        d = np.abs(c.astype(np.int16) - f.astype(np.int16)).max(axis=2)
        tot_core += core.sum()
        changed += (core & (d > 12)).sum()

    recall, replaced = hit / tot, changed / tot_core
    print(f"racket {tot} px over {END - START} frames: covered by the removal {recall:.3f}, "
          f"its own pixels replaced {replaced:.3f}")
    assert tot > 5000
    assert recall >= 0.9
    assert replaced >= 0.75
