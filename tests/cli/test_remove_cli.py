"""`vedit remove` end to end: outputs, carry-over, errors (one line, exit 1,
nothing left behind), and that light commands never import torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vedit.io import open_clip
from vedit_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_media"


def _invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_sample_video_audio_fps_frames(tmp_path):
    out = tmp_path / "o.mp4"
    r = _invoke("remove", str(SAMPLE / "pan.mp4"), "--mask", str(SAMPLE / "pan_mask"), "-o", str(out), "-q",
                "--start", "4", "--end", "40")
    assert r.exit_code == 0, r.output
    src, got = open_clip(str(SAMPLE / "pan.mp4")), open_clip(str(out))
    assert got.frame_count == 36 and got.fps == src.fps and got.has_audio
    assert abs(got.duration - 36 / float(src.fps)) < 0.05
    # the object (dark coins) is gone: the masked region now matches its surroundings
    m = cv2.imread(str(SAMPLE / "pan_mask" / "00010.png"), 0) > 0
    f = list(got.frames())[6]
    assert f[m].mean() > 70  # the coin disc is dark (mean ~40) on a bright saucer


def test_png_outside_mask_bit_identical(tmp_path, pan_sequence):
    seq, mask, frames = pan_sequence
    r = _invoke("remove", str(seq), "--mask", str(mask), "-o", str(tmp_path / "out") + "/", "-q",
                "--dilate", "2", "--feather", "3")
    assert r.exit_code == 0, r.output
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [f"{i:05d}.png" for i in range(len(frames))]
    m = cv2.imread(str(mask), 0) > 0
    grown = cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))) > 0
    for i, name in enumerate(names):
        o = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / name)), cv2.COLOR_BGR2RGB)
        assert np.array_equal(o[~grown], frames[i][~grown])


@pytest.mark.parametrize("case", ["missing_input", "bad_size", "frame_count", "empty", "engine", "same",
                                  "unwritable", "bad_input", "full_mask", "tiny_frames"])
def test_errors_one_line_exit_1_nothing_left(tmp_path, pan_sequence, case):
    seq, mask, frames = pan_sequence
    out = tmp_path / "res.mp4"
    args = [str(seq), "--mask", str(mask), "-o", str(out), "-q"]
    if case == "missing_input":
        args[0] = str(tmp_path / "none.mp4")
    elif case == "bad_size":
        cv2.imwrite(str(tmp_path / "small.png"), np.full((10, 10), 255, np.uint8))
        args[2] = str(tmp_path / "small.png")
    elif case == "frame_count":
        ms = tmp_path / "ms"
        ms.mkdir()
        for i in range(3):
            cv2.imwrite(str(ms / f"{i:05d}.png"), cv2.imread(str(mask), 0))
        args[2] = str(ms)
    elif case == "empty":
        cv2.imwrite(str(tmp_path / "empty.png"), np.zeros(frames[0].shape[:2], np.uint8))
        args[2] = str(tmp_path / "empty.png")
    elif case == "engine":
        args += ["--engine", "nope"]
    elif case == "same":
        args[4] = str(seq)
    elif case == "unwritable":
        args[4] = str(tmp_path / "no_such_dir" / "x.mp4")
    elif case == "bad_input":
        (tmp_path / "bad.mp4").write_bytes(b"garbage")
        args[0] = str(tmp_path / "bad.mp4")
    elif case == "full_mask":  # nothing left to fill from: no invented frames
        cv2.imwrite(str(tmp_path / "full.png"), np.full(frames[0].shape[:2], 255, np.uint8))
        args[2] = str(tmp_path / "full.png")
    elif case == "tiny_frames":  # too small for optical flow: a clear line, not OpenCV's
        tiny = tmp_path / "tiny"
        tiny.mkdir()
        for i in range(4):
            cv2.imwrite(str(tiny / f"{i:03d}.png"), np.full((9, 11, 3), 40 * i, np.uint8))
        m = np.zeros((9, 11), np.uint8)
        m[3:5, 4:6] = 255
        cv2.imwrite(str(tmp_path / "tiny_mask.png"), m)
        args[0], args[2] = str(tiny), str(tmp_path / "tiny_mask.png")
    before = set(os.listdir(tmp_path))
    r = _invoke("remove", *args)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), r.output
    assert "Traceback" not in r.output
    assert set(os.listdir(tmp_path)) - before == set()  # no partial output, no temp files
    expect = {"full_mask": "covers the whole frame", "tiny_frames": "11x9 are too small"}.get(case)
    assert expect is None or expect in lines[0], lines[0]


def test_light_commands_do_not_import_torch():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom vedit_cli.main import main\n"
            "for a in (['--help'], ['engines'], ['probe', sys.argv[1]]):\n"
            "    r = CliRunner().invoke(main, a)\n    assert r.exit_code == 0, r.output\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')")
    r = subprocess.run([sys.executable, "-c", code, str(SAMPLE / "pan.mp4")], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
