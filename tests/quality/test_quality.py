"""vedit.quality: the full-reference measures equal ../shared/tools/score.py's
on a real built case, react the right way to blur, flicker and pops, and stream."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError
from vedit.io import open_clip
from vedit.quality import score, score_files, score_noref


def _seq(folder: str) -> list[np.ndarray]:
    return open_clip(folder).read_all()


def _masks(case) -> list[np.ndarray]:
    return [cv2.imread(os.path.join(case.mask, f), 0) for f in sorted(os.listdir(case.mask))]


def _telea(case, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    k = np.ones((7, 7), np.uint8)
    for name in sorted(os.listdir(case.input)):
        f = cv2.imread(os.path.join(case.input, name))
        m = cv2.imread(os.path.join(case.mask, name), 0)
        cv2.imwrite(os.path.join(out, name), cv2.inpaint(f, cv2.dilate(m, k), 5, cv2.INPAINT_TELEA))


def test_matches_shared_score_py(small_case, shared_tools, tmp_path):
    out = str(tmp_path / "telea")
    _telea(small_case, out)
    r = subprocess.run([sys.executable, str(shared_tools / "score.py"), out, small_case.gt, small_case.mask],
                       capture_output=True, text=True, check=True)
    ref = json.loads(r.stdout)
    got = score_files(out, small_case.gt, small_case.mask)
    assert got["frames"] == ref["frames"] == small_case.frames
    for key, tol in (("psnr_mask", 0.011), ("psnr_full", 0.011), ("ssim_full", 1.1e-4), ("flicker", 0.0011),
                     ("detail", 0.0011)):
        assert abs(got[key] - ref[key]) <= tol, (key, got[key], ref[key])
    assert got["psnr_mask"] < 30 and got["flicker"] > 1.2  # TELEA on a pan: a poor, unstable fill


def test_perfect_blurred_and_noisy_fills(small_case):
    gt, masks = _seq(small_case.gt), _masks(small_case)
    perfect = score(gt, gt, masks)
    assert perfect["psnr_mask"] > 100 and perfect["flicker"] == 1.0 and perfect["detail"] == 1.0
    assert perfect["ssim_full"] == 1.0
    m = masks[0] > 127
    blurred = []
    for g in gt:
        b = g.copy()
        b[m] = cv2.GaussianBlur(g, (0, 0), 3)[m]
        blurred.append(b)
    sb = score(blurred, gt, masks)
    assert sb["detail"] < 0.6 and 20 < sb["psnr_mask"] < 40 and sb["psnr_full"] > sb["psnr_mask"]
    rng = np.random.default_rng(0)
    noisy = []
    for g in gt:  # independent noise per frame inside the mask: flicker
        n = g.astype(np.int16)
        n[m] += rng.normal(0, 12, n[m].shape).astype(np.int16)
        noisy.append(np.clip(n, 0, 255).astype(np.uint8))
    sn = score(noisy, gt, masks)
    assert sn["flicker"] > 2.0 and sn["detail"] > 1.02  # noise adds gradient


def test_stops_at_shortest_and_streams():
    h, w, n = 240, 320, 90
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 255, (h + 8, w + n * 2, 3), dtype=np.uint8), (0, 0), 2)
    mask = np.zeros((h, w), np.uint8)
    mask[80:160, 120:200] = 255

    def frames(shift: int = 0):
        for t in range(n):
            f = np.ascontiguousarray(base[4:4 + h, 2 * t:2 * t + w])
            yield np.roll(f, shift, axis=1) if shift else f

    tracemalloc.start()
    res = score(frames(1), frames(), (mask for _ in range(n)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res["frames"] == n
    assert peak < 12 * h * w * 3 * 8  # a few float64 frames, not the clip (90 frames x 3 streams)
    assert score(frames(), frames(), [mask] * 5)["frames"] == 5


def test_size_mismatch_is_one_line_error():
    a = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(InvalidInputError, match="the output is 30x20, the truth 40x20"):
        score([a], [np.zeros((20, 40, 3), np.uint8)], [np.zeros((20, 30), np.uint8)])
    with pytest.raises(InvalidInputError, match="nothing to score"):
        score([], [], [])


def test_flat_truth_has_no_detail_ratio(tmp_path):
    """A hole over a flat truth (a clipped sky) gives the detail ratio no
    scale: it is reported as undefined (None; ``n/a`` in the CLI), not as
    the fill's gradient over almost nothing; a textured truth keeps a ratio."""
    rng = np.random.default_rng(3)
    truth = np.full((60, 80, 3), 200, np.uint8)
    truth[:, :8] = rng.integers(0, 255, (60, 8, 3), dtype=np.uint8)  # texture far left of the hole only
    mask = np.zeros((60, 80), np.uint8)
    mask[20:40, 35:60] = 255
    out = truth.copy()
    out[20:40, 35:60] = rng.integers(150, 250, (20, 25, 3), dtype=np.uint8)  # a noisy fill
    r = score([out] * 3, [truth] * 3, [mask] * 3)
    assert r["detail"] is None and r["psnr_mask"] < 30
    textured = truth.copy()
    textured[20:40, 35:60] = rng.integers(0, 255, (20, 25, 3), dtype=np.uint8)
    assert score([out] * 3, [textured] * 3, [mask] * 3)["detail"] > 0
    for name, im in (("out", out), ("truth", truth)):
        os.makedirs(tmp_path / name)
        for i in range(3):
            cv2.imwrite(str(tmp_path / name / f"{i:03d}.png"), im)
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    cmd = [sys.executable, "-m", "vedit_cli.main", "score", str(tmp_path / "out"), "--truth", str(tmp_path / "truth"),
           "--mask", str(tmp_path / "mask.png")]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "detail: n/a" in text, text
    js = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert js["detail"] is None
    # no reference: the ring around the hole is flat too (no scale), still frames
    noref = score_noref([out] * 3, [mask] * 3)
    assert noref["detail"] is None and noref["coverage"] >= 0


def test_noref_flicker_detail_and_pops(small_case):
    gt, masks = _seq(small_case.gt), _masks(small_case)
    m = masks[0] > 127
    clean = score_noref(gt, masks)
    assert 0.5 < clean["flicker"] < 1.6 and clean["coverage"] > 0.8 and clean["abrupt_frames"] == []
    assert 0.5 < clean["detail"] < 2.0 and clean["frames"] == len(gt)
    blurred, popped, switched = [], [], []
    for t, g in enumerate(gt):
        b = g.copy()
        b[m] = cv2.GaussianBlur(g, (0, 0), 4)[m]
        blurred.append(b)
        p, s = g.copy(), g.copy()
        if t >= 9:  # from frame 9 on the fill turns into another texture / comes from a shifted source
            p[m] = 255 - g[m]
            s[m] = np.roll(g, 8, axis=0)[m]
        popped.append(p)
        switched.append(s)
    sb = score_noref(blurred, masks)
    assert sb["detail"] < 0.5 * clean["detail"]
    assert score_noref(popped, masks)["abrupt_frames"] == [9]
    assert score_noref(switched, masks)["abrupt_frames"] == [9]
    rng = np.random.default_rng(2)
    noisy = [np.clip(g.astype(np.int16) + (rng.normal(0, 15, g.shape) * m[..., None]), 0, 255).astype(np.uint8)
             for g in gt]
    assert score_noref(noisy, masks)["flicker"] > 2.0 * clean["flicker"]
