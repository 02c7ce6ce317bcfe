"""Matte sources come from the engine registry: a source registered the way a
third-party package would (an ``EngineSpec`` of family ``matte``) is what
``matte_stream`` and the ``matte`` op use, and an unknown name lists the
registered ones."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.engines import names
from vedit.errors import InvalidInputError
from vedit.io import open_clip
from vedit.masks import make_source, matte_stream


def test_registered_source_is_used(lefthalf, pan_sequence, tmp_path):
    seq, _, frames = pan_sequence
    assert "lefthalf" in names("matte")
    clip = open_clip(str(seq), end=3)
    src = make_source("lefthalf", shift=4, mask=None, frame=0)  # keyword names it does not take are left out
    assert src.shift == 4
    out = list(matte_stream(clip, "lefthalf", refine=False, smooth=False))
    w = frames[0].shape[1]
    assert len(out) == 3 and out[0][:, : w // 2 - 2].min() > 0.99 and out[0][:, w // 2 + 2:].max() < 0.01
    # the op takes it as --source, and writes the matte
    from vedit.ops.matte import run

    res = run(str(seq), str(tmp_path / "m") + "/", end=2, source="lefthalf", refine=False, smooth=False)
    assert res == str(tmp_path / "m")
    png = sorted((tmp_path / "m").glob("*.png"))
    assert len(png) == 2


def test_unknown_source_lists_registered_ones():
    with pytest.raises(InvalidInputError, match=r"unknown matte source 'nope'; choose one of: .*chroma"):
        make_source("nope")


def test_builtin_sources_through_registry():
    src = make_source("chroma", chroma="green", tolerance=0.2, mask=None, frame=None)
    assert type(src).__name__ == "ChromaMatteSource" and src.tolerance == 0.2
    assert np.argmax(src.rgb) == 1
