"""Frames too small for optical flow (OpenCV's DIS refuses under 12 px both
ways): every op that measures flow says so in one line naming the size,
instead of passing OpenCV's message through, and leaves nothing behind."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vedit_cli.main import main


@pytest.fixture()
def tiny(tmp_path):
    seq = tmp_path / "tiny"
    seq.mkdir()
    for i in range(4):
        cv2.imwrite(str(seq / f"{i:03d}.png"), np.full((9, 11, 3), 30 + 40 * i, np.uint8))
    m = np.zeros((9, 11), np.uint8)
    m[3:6, 4:7] = 255
    cv2.imwrite(str(tmp_path / "m.png"), m)
    return seq, tmp_path / "m.png"


@pytest.mark.parametrize("op", ["remove", "matte_track", "matte_box", "replace_bg", "score"])
def test_too_small_for_flow_is_one_clear_line(tmp_path, tiny, op):
    seq, mask = tiny
    out = str(tmp_path / "out") + "/"
    args = {"remove": ["remove", str(seq), "--mask", str(mask), "-o", out],
            "matte_track": ["matte", str(seq), "--mask", str(mask), "--frame", "0", "-o", out],
            "matte_box": ["matte", str(seq), "--box", "2,2,5,5", "-o", out],
            "replace_bg": ["replace-bg", str(seq), "--matte", str(mask), "--background", "red", "-o", out],
            "score": ["score", str(seq), "--mask", str(mask)]}[op]
    before = set(os.listdir(tmp_path))
    r = CliRunner().invoke(main, [*args, "-q"] if op != "score" else args)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), r.output
    assert "frames of 11x9 are too small" in lines[0] and "OpenCV" not in lines[0], lines[0]
    assert set(os.listdir(tmp_path)) == before


def test_the_smallest_allowed_frames_work(tmp_path):
    """16 px on the short side is enough: the removal runs and fills."""
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 255, (36, 60, 3), dtype=np.uint8), (0, 0), 2)
    seq = tmp_path / "s"
    seq.mkdir()
    for i in range(8):
        cv2.imwrite(str(seq / f"{i:03d}.png"), base[i % 3:i % 3 + 16, i % 4:i % 4 + 40])
    m = np.zeros((16, 40), np.uint8)
    m[5:10, 15:22] = 255
    cv2.imwrite(str(tmp_path / "m.png"), m)
    r = CliRunner().invoke(main, ["remove", str(seq), "--mask", str(tmp_path / "m.png"), "-o",
                                  str(tmp_path / "o") + "/", "-q"])
    assert r.exit_code == 0, r.output
    assert len(os.listdir(tmp_path / "o")) == 8
