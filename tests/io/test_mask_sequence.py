"""A binary mask sequence is read from its files directly: the same masks as
thresholding the RGB frames the clip reader makes of them, for every kind of
file a user hands in (grey, colour, alpha, 16-bit)."""
import cv2
import numpy as np
import pytest

from vedit.io import open_clip, open_masks
from vedit.io.masks import to_mask


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra", "bgra_opaque", "grey16", "bgr16"])
def test_mask_sequence_matches_frames_read_as_rgb(tmp_path, kind):
    rng = np.random.default_rng(3)
    for i in range(3):
        if kind == "grey":
            im = rng.integers(0, 256, (24, 30)).astype(np.uint8)
        elif kind == "bgr":
            im = rng.integers(0, 256, (24, 30, 3)).astype(np.uint8)
        elif kind == "bgra":
            im = rng.integers(0, 256, (24, 30, 4)).astype(np.uint8)
        elif kind == "bgra_opaque":
            im = np.dstack([rng.integers(0, 256, (24, 30, 3)), np.full((24, 30), 255)]).astype(np.uint8)
        elif kind == "grey16":
            im = rng.integers(0, 65536, (24, 30)).astype(np.uint16)
        else:
            im = rng.integers(0, 65536, (24, 30, 3)).astype(np.uint16)
        cv2.imwrite(str(tmp_path / f"m{i:03d}.png"), im)
    clip = open_clip(str(tmp_path))
    got = list(open_masks(str(tmp_path), clip, allow_empty=True))
    want = [to_mask(f) for f in open_clip(str(tmp_path)).frames()]
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.dtype == np.uint8 and g.shape == (24, 30)
        assert set(np.unique(g)) <= {0, 255}
        np.testing.assert_array_equal(g, w)
    # the values are not trivial: both levels occur
    assert any((g == 0).any() and (g == 255).any() for g in got)
