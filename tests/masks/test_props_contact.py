"""Props are what moves with a person *and touches them*: on the real tennis
frames (camera pan, the player's labelled mask standing in for the person
model), a ball bounced against the player's side joins their matte. Run at
a 640x360 working size, where the motion is compared on the reduced grid
inside the people's reach box."""
from __future__ import annotations

import glob

import cv2
import numpy as np

from vedit.masks.props import PropFinder

SIZE = (640, 360)
FRAMES = range(20, 34)
R = 7  # ball radius, px at the working size


def _clip(media):
    frames = sorted(glob.glob(str(media / "tennis" / "*")))
    masks = sorted(glob.glob(str(media / "tennis_mask" / "*.png")))
    out = []
    for i in FRAMES:
        f = cv2.resize(cv2.cvtColor(cv2.imread(frames[i]), cv2.COLOR_BGR2RGB), SIZE, interpolation=cv2.INTER_AREA)
        m = cv2.resize(cv2.imread(masks[i], 0), SIZE, interpolation=cv2.INTER_LINEAR) > 127
        out.append((f, m))
    return out


def _with_ball(clip, gap: int):
    """The clip with a yellow ball bouncing up and down beside the player's
    left side, ``gap`` px from the body (negative: overlapping it); the
    items for the prop finder and the ball's masks."""
    items, balls = [], []
    for i, (f, m) in enumerate(clip):
        rows = np.flatnonzero(m.any(axis=1))
        y = int(rows[0] + 0.3 * (rows[-1] - rows[0])) + (14 if i % 2 else -14)
        x = int(np.flatnonzero(m[y])[0]) - R - gap
        f = f.copy()
        cv2.circle(f, (x, y), R, (225, 235, 60), -1, lineType=cv2.LINE_AA)
        ball = np.zeros(m.shape, np.uint8)
        cv2.circle(ball, (x, y), R, 1, -1)
        items.append((f, {1: m.astype(np.float32)}))
        balls.append((ball > 0) & ~m)
    return items, balls


def _taken(items, balls) -> float:
    out = list(PropFinder().run(iter(items)))
    assert len(out) == len(items)
    got = [(a[1] > 0.5) & b for (_, a), b in zip(out, balls)]
    return sum(int(g.sum()) for g in got) / sum(int(b.sum()) for b in balls)


def test_ball_touching_the_player_joins_their_matte(shared_media):
    taken = _taken(*_with_ball(_clip(shared_media), gap=-3))
    print(f"ball against the player: {taken:.2f} of its pixels taken")
    assert taken >= 0.7
