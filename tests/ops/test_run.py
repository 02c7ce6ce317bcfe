"""What every op promises its callers: the final output path (absolute), one
progress count that never goes back and ends at its total, and an existing
output is replaced only with ``overwrite``."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from vedit.errors import OutputExistsError
from vedit.ops import get_op


def _progress():
    seen: list[tuple[int, int, str]] = []
    return seen, lambda d, t, s: seen.append((d, t, s))


def _assert_monotone(seen):
    assert seen, "no progress reported"
    fr = [d / t for d, t, _ in seen]
    assert fr == sorted(fr), fr
    assert fr[-1] == 1.0 and seen[-1][2] == "done"
    assert all(s for _, _, s in seen)  # every report names its stage


@pytest.mark.parametrize("op", ["remove", "matte", "replace-bg"])
def test_ops_return_absolute_path_and_monotone_progress(op, pan_sequence, tmp_path, monkeypatch):
    seq, mask, frames = pan_sequence
    monkeypatch.chdir(tmp_path)
    params = {"remove": {"mask": str(mask)},
              "matte": {"mask": str(seq), "refine": False, "smooth": False},
              "replace-bg": {"background": "#203040", "matte": str(mask)}}[op]
    seen, cb = _progress()
    out = get_op(op)(str(seq), "out/", end=8, callback=cb, **params)
    assert out == str(tmp_path / "out") and os.path.isabs(out)
    assert len(os.listdir(out)) == 8
    _assert_monotone(seen)


def test_animate_returns_absolute_path(tmp_path, monkeypatch):
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :, 1] = np.arange(96, dtype=np.uint8)[None, :] * 2
    cv2.imwrite(str(tmp_path / "still.png"), img)
    monkeypatch.chdir(tmp_path)
    seen, cb = _progress()
    out = get_op("animate")("still.png", "clip/", callback=cb, frames=4, subject="none")
    assert out == str(tmp_path / "clip") and len(os.listdir(out)) == 4
    _assert_monotone(seen)


def test_existing_output_needs_overwrite(pan_sequence, tmp_path):
    seq, mask, _ = pan_sequence
    target = tmp_path / "done.mp4"
    target.write_bytes(b"an earlier render")
    run = get_op("remove")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run(str(seq), str(target), end=4, mask=str(mask))
    assert target.read_bytes() == b"an earlier render"  # refused before any work, nothing touched
    out = run(str(seq), str(target), end=4, mask=str(mask), overwrite=True)
    assert out == str(target) and target.stat().st_size > 1000
