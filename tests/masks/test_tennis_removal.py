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


BALL_START, BALL_END = 10, 28  # the incoming ball is seen from frame 13, the hit one flies out after 25


def _tennis_ball(frame_bgr: np.ndarray, label: np.ndarray) -> np.ndarray:
    """The ball's pixels: tennis-ball yellow blobs of the labelled mask,
    grown by a pixel (its blurred rim)."""
    b, g, r = (frame_bgr[..., c].astype(int) for c in range(3))
    yellow = ((r > 150) & (g > 150) & (b < 120) & (g > r - 30)).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(yellow)
    ball = np.zeros(label.shape, bool)
    for j in range(1, n):
        if st[j, 4] >= 6 and label[lab == j].mean() > 0.9:
            ball |= lab == j
    return cv2.dilate(ball.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def test_matte_person_then_remove_takes_the_ball_in_flight(shared_media, tmp_path):
    """The ball apart from the player (incoming before he reaches it, hit
    away after): in the region remove fills, and no tennis-ball yellow left
    where it was in the clean plate."""
    src = shared_media / "tennis"
    gts = [g > 127 for g in _read(shared_media / "tennis_mask")][BALL_START:BALL_END]
    frames = [cv2.imread(p) for p in sorted(glob.glob(str(src / "*")))][BALL_START:BALL_END]
    body_dir, mask_dir, clean_dir = tmp_path / "body", tmp_path / "mask", tmp_path / "clean"
    matte_op.run(str(src), str(body_dir) + "/", start=BALL_START, end=BALL_END, person=True, with_props=False,
                 include_shadow=False)
    matte_op.run(str(src), str(mask_dir) + "/", start=BALL_START, end=BALL_END, person=True)
    remove_op.run(str(src), str(clean_dir) + "/", start=BALL_START, end=BALL_END, mask=str(mask_dir))
    bodies = [b > 127 for b in _read(body_dir)]
    mattes = [m > 127 for m in _read(mask_dir)]
    cleans = _read(clean_dir, cv2.IMREAD_COLOR)
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE + 1, 2 * DILATE + 1))
    apart, tot, hit, left = [], 0, 0, 0
    for i, (f, g, b, m, c) in enumerate(zip(frames, gts, bodies, mattes, cleans)):
        ball = _tennis_ball(f, g)
        if not ball.any() or (ball & (cv2.dilate(b.astype(np.uint8), grow) > 0)).any():
            continue  # no ball, or one the person's own matte reaches
        apart.append(BALL_START + i)
        filled = cv2.dilate(m.astype(np.uint8), grow) > 0
        tot += int(ball.sum())
        hit += int((ball & filled).sum())
        left += int((ball & _tennis_ball(c, ball.astype(np.uint8))).sum())
    print(f"ball apart from the player in frames {apart}: {tot} px, covered {hit / max(tot, 1):.3f}, "
          f"still tennis-ball yellow in the clean plate {left} px")
    assert len(apart) >= 4  # 13, 14 (incoming), 24, 25 (hit away)
    assert hit / tot >= 0.95
    assert left <= 0.03 * tot
