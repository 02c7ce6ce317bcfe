import cv2
import numpy as np
import pytest


def texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s, wt in ((3, 0.35), (9, 0.35), (27, 0.3)):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        img += cv2.resize(n, (w + 2 * s, h + 2 * s), interpolation=cv2.INTER_CUBIC)[:h, :w] * wt
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


@pytest.fixture
def pan_case():
    """A camera panning 2 px/frame over a texture; a static-in-frame square
    "logo" covers part of it (revealed during the shot)."""
    n, h, w = 30, 96, 128
    world = texture(h, w + 2 * n + 4, 1)
    clean = [np.ascontiguousarray(world[:, 2 * i: 2 * i + w]) for i in range(n)]
    mask = np.zeros((h, w), np.uint8)
    mask[35:61, 50:76] = 255
    inp = []
    for c in clean:
        f = c.copy()
        f[mask > 0] = (250, 20, 200)
        inp.append(f)
    return inp, mask, clean
