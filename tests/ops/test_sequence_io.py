"""What goes in comes out, through the matte and replace-bg ops: a numbered
sequence's names and numbers, ``--fill-gaps hold`` for a missing frame, and
``--cfr`` for a variable-frame-rate input. Inputs are built here: a green
screen with a red bar whose width grows 2 px a frame, so every output frame
shows which input frame it came from."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError
from vedit.io import open_clip
from vedit.io.clip import TIMESTAMP_FILE
from vedit.ops import get_op

H, W = 24, 40
KEY = (0, 177, 64)


def _bar(k: int) -> int:
    """Width of the red bar in frame k (0-based)."""
    return 4 + 2 * k


def _shot(folder, first=1001, n=10, skip=(), times_ms=None):
    folder.mkdir()
    for k in range(n):
        if first + k in skip:
            continue
        img = np.empty((H, W, 3), np.uint8)
        img[:] = KEY
        img[:, : _bar(k)] = (220, 30, 30)
        cv2.imwrite(str(folder / f"shot.{first + k:04d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    if times_ms is not None:
        (folder / TIMESTAMP_FILE).write_text("# timestamp format v2\n" + "".join(f"{t}\n" for t in times_ms))
    return folder


def _width(path) -> int:
    """Columns of the matte that are subject on the middle row."""
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    row = m[H // 2] if m.ndim == 2 else m[H // 2, :, 0]
    return int((row > np.iinfo(m.dtype).max // 2).sum())


MATTE = {"chroma": "green", "refine": False, "smooth": False}


@pytest.mark.parametrize("bits", [8, 16])
def test_matte_sequence_keeps_source_numbering(tmp_path, bits):
    seq = _shot(tmp_path / "in")
    out = get_op("matte")(str(seq), str(tmp_path / "out") + "/", start=2, end=8, bit_depth=bits, **MATTE)
    names = sorted(os.listdir(out))
    assert names == [f"shot.{k}.png" for k in range(1003, 1009)]
    first = cv2.imread(os.path.join(out, names[0]), cv2.IMREAD_UNCHANGED)
    assert first.dtype == (np.uint16 if bits == 16 else np.uint8)
    # each output frame is the matte of the input frame of the same number
    assert [_width(os.path.join(out, n)) for n in names] == [_bar(k - 1001) for k in range(1003, 1009)]


def test_replace_bg_sequence_keeps_source_numbering(tmp_path):
    seq = _shot(tmp_path / "in")
    out = get_op("replace-bg")(str(seq), str(tmp_path / "out") + "/", start=2, end=8, background="#102030",
                               matte="chroma", refine=False, smooth=False, light_wrap=0.0)
    assert sorted(os.listdir(out)) == [f"shot.{k}.png" for k in range(1003, 1009)]
    img = cv2.cvtColor(cv2.imread(os.path.join(out, "shot.1005.png")), cv2.COLOR_BGR2RGB)
    assert img[H // 2, 1].tolist() == [220, 30, 30] and img[H // 2, -2].tolist() == [16, 32, 48]


@pytest.mark.parametrize("op", ["matte", "replace-bg"])
def test_gap_is_an_error_or_held(tmp_path, op):
    seq = _shot(tmp_path / "in", skip=(1004,))
    params = dict(MATTE) if op == "matte" else {"background": "#102030", "matte": "chroma", "refine": False,
                                                   "smooth": False}
    with pytest.raises(InvalidInputError, match="shot.1004.png.*--fill-gaps"):
        get_op(op)(str(seq), str(tmp_path / "out") + "/", **params)
    assert not (tmp_path / "out").exists()
    out = get_op(op)(str(seq), str(tmp_path / "out") + "/", fill_gaps="hold", **params)
    assert sorted(os.listdir(out)) == [f"shot.{k}.png" for k in range(1001, 1011)]
    if op == "matte":  # the gap holds the frame before it
        assert _width(os.path.join(out, "shot.1004.png")) == _width(os.path.join(out, "shot.1003.png")) == _bar(2)
        assert _width(os.path.join(out, "shot.1005.png")) == _bar(4)


@pytest.mark.parametrize("op", ["matte", "replace-bg"])
def test_cfr_only_when_asked(tmp_path, op):
    times = [0, 40, 80, 200, 240, 280, 400, 440]  # variable: two 120 ms steps
    seq = _shot(tmp_path / "in", n=len(times), times_ms=times)
    clip = open_clip(str(seq))
    assert clip.vfr
    params = dict(MATTE) if op == "matte" else {"background": "#102030", "matte": "chroma", "refine": False,
                                                   "smooth": False}
    kept = open_clip(get_op(op)(str(seq), str(tmp_path / "vfr.mkv"), **params))
    assert kept.vfr and np.abs(np.array(kept.timestamps) - np.array(times) / 1000).max() < 0.002
    conv = open_clip(get_op(op)(str(seq), str(tmp_path / "cfr.mkv"), cfr=25, **params))
    assert not conv.vfr and conv.fps == 25
    assert abs(conv.total_frames / 25 - clip.duration) < 0.1  # span kept, frames repeated by time
