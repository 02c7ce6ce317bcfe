"""A ball that leaves a person's hand stays in their matte while it flies on
(:mod:`vedit.masks.flight`); one that never came from them is not taken.

Synthetic clip on a real photo (sample_media/still.jpg, panned a pixel a
frame): a dark moving "person" whose swinging hand carries a yellow disc for
six frames and then throws it; a second disc crosses above their head. The
person's alpha (body and hand, not the disc) stands in for the person model.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vedit.masks.props import PropFinder

ROOT = Path(__file__).resolve().parents[2]
W, H, N = 320, 240, 16
R = 5  # disc radius
THROW = 6  # first frame the disc is free


def _clip():
    photo = cv2.cvtColor(cv2.imread(str(ROOT / "sample_media" / "still.jpg")), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, (W + N + 8, H + 8), interpolation=cv2.INTER_AREA)
    items, thrown, crossing = [], [], []
    for i in range(N):
        f = np.ascontiguousarray(photo[4:4 + H, i:i + W])
        person = np.zeros((H, W), np.uint8)
        cx = 90 + 2 * i
        cv2.ellipse(person, (cx, 150), (20, 55), 0, 0, 360, 1, -1)
        hand = (cx + 32, 125 + (6 if i % 2 else -6))
        cv2.line(person, (cx + 10, 120), hand, 1, 7)
        cv2.circle(person, hand, 8, 1, -1)
        f[person > 0] = (60, 40, 50)
        # the thrown disc: in the hand, then off at a constant velocity
        if i < THROW:
            c = (hand[0] + 8 + R, hand[1])
        else:
            j = i - THROW + 1
            c = (hand[0] + 8 + R + 16 * j, 125 - 5 * j)
        # the crossing disc: from the left, well above the person's head
        c2 = (30 + 14 * i, 40)
        masks = []
        for cc in (c, c2):
            m = np.zeros((H, W), np.uint8)
            if 0 <= cc[0] < W:
                cv2.circle(f, cc, R, (225, 235, 60), -1, lineType=cv2.LINE_AA)
                cv2.circle(m, cc, R, 1, -1)
            masks.append((m > 0) & (person == 0))
        items.append((f, {1: person.astype(np.float32)}))
        thrown.append(masks[0])
        crossing.append(masks[1])
    return items, thrown, crossing


def _taken(out, discs, frames) -> float:
    got = sum(int(((out[i][1][1] > 0.5) & discs[i]).sum()) for i in frames)
    return got / max(1, sum(int(discs[i].sum()) for i in frames))


def test_thrown_disc_stays_in_the_throwers_matte():
    items, thrown, crossing = _clip()
    # the frames where the disc is free and beyond what touches the person
    free = [i for i in range(THROW + 1, N) if thrown[i].any()]
    assert len(free) >= 5
    out = list(PropFinder().run(iter(items)))
    assert len(out) == N
    without = list(PropFinder(flights=False).run(iter(items)))
    taken, before = _taken(out, thrown, free), _taken(without, thrown, free)
    passer = _taken(out, crossing, range(N))
    print(f"thrown disc in flight: {taken:.2f} of its pixels taken ({before:.2f} from contact alone); "
          f"crossing disc {passer:.2f}")
    assert before < 0.2  # contact alone loses it once it is free
    assert taken >= 0.8
    assert passer <= 0.05
