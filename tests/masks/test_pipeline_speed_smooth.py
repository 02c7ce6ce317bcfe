"""Temporal smoothing on real footage, and a clean error from the source thread."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.io import open_clip
from vedit.masks import matte_stream
from vedit.masks.refine import edge_instability


def test_smoothing_steadies_tennis_edges(shared_media):
    n = 30
    clip = open_clip(str(shared_media / "tennis"), end=n)
    frames = clip.read_all()
    # the matte `vedit matte --person` gives (cast shadow included); person
    # alone over 70 frames measures 30.8% lower (bench/matte.py)
    raw = list(matte_stream(clip, "person", smooth=False, include_shadow=True))
    smooth = list(matte_stream(clip, "person", include_shadow=True))
    s0, s1 = edge_instability(raw, frames), edge_instability(smooth, frames)
    print(f"edge instability over {n} frames: {s0:.4f} -> {s1:.4f} ({100 * (1 - s1 / s0):.1f}% lower)")
    assert s1 <= 0.7 * s0  # acceptance: at least 30% lower (70 frames in bench/matte.py)


def test_matte_stream_error_from_source_thread_is_clean(disk_clip):
    from vedit.errors import InvalidInputError

    seq, *_ = disk_clip
    clip = open_clip(str(seq))
    with pytest.raises(InvalidInputError, match="no person found"):
        list(matte_stream(clip, "person"))
    out = list(matte_stream(open_clip(str(seq), end=4), "file", mask=str(disk_clip[1])))
    assert len(out) == 4 and all(np.isfinite(a).all() for a in out)
