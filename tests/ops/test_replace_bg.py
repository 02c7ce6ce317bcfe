"""replace-bg's ``--matte`` takes its sources from the engine registry: a
matte source a plugin registers is used by name, as in ``vedit matte``."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import read_sequence
from vedit.ops import get_def, get_op
from vedit.ops.params import ParamError


def test_registered_matte_source_by_name(lefthalf, pan_sequence, tmp_path):
    seq, _, frames = pan_sequence
    out = get_op("replace-bg")(str(seq), str(tmp_path / "o") + "/", end=3, background="#2040c0", matte=lefthalf,
                               light_wrap=0.0)
    got = read_sequence(out)
    w = frames[0].shape[1]
    assert len(got) == 3
    for f, g in zip(frames, got):
        # well inside the left half: the frame; well inside the right half: the colour
        assert np.abs(g[:, : w // 2 - 8].astype(int) - f[:, : w // 2 - 8]).max() <= 1
        assert np.abs(g[:, w // 2 + 8:].astype(int) - (0x20, 0x40, 0xC0)).max() <= 1


def test_unregistered_word_is_a_missing_mask_and_sam2_is_refused(pan_sequence, tmp_path):
    seq, _, _ = pan_sequence
    with pytest.raises(Exception, match="lefthalf"):
        get_op("replace-bg")(str(seq), str(tmp_path / "o") + "/", end=2, background="#000000", matte="lefthalf")
    assert not (tmp_path / "o").exists()
    with pytest.raises(ParamError, match="vedit matte --engine sam2"):
        get_def("replace-bg").resolve({"background": "blur", "matte": "sam2"})
