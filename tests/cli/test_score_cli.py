"""`vedit score`: the full-reference and no-reference reports on real files,
JSON equal to vedit.quality's, one-line errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
from click.testing import CliRunner

from tests.helpers import make_pan_clip, write_sequence
from vedit.quality import score_files
from vedit_cli.main import main


def _clip(tmp_path):
    frames, _ = make_pan_clip(n=12, h=96, w=128)
    grain = np.random.default_rng(0).normal(0, 10, (96, 128 + 40, 3))  # fine texture fixed in the world
    frames = [np.clip(f + grain[:, 2 * i:2 * i + 128], 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    gt = write_sequence(tmp_path / "gt", frames)
    mask = np.zeros((96, 128), np.uint8)
    mask[30:66, 40:90] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    blurred = []
    for f in frames:
        b = f.copy()
        b[mask > 0] = cv2.GaussianBlur(f, (0, 0), 4)[mask > 0]
        blurred.append(b)
    out = write_sequence(tmp_path / "out", blurred)
    return str(out), str(gt), str(tmp_path / "mask.png")


def test_truth_json_and_text(tmp_path):
    out, gt, mask = _clip(tmp_path)
    r = CliRunner().invoke(main, ["score", out, "--truth", gt, "--mask", mask, "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res == score_files(out, gt, mask)
    assert res["frames"] == 12 and res["detail"] < 0.7 and res["psnr_full"] > res["psnr_mask"]
    r = CliRunner().invoke(main, ["score", out, "-t", gt, "-m", mask])
    assert r.exit_code == 0 and f"psnr_mask: {res['psnr_mask']}" in r.output and "detail" in r.output


def test_noref_report(tmp_path):
    out, _, mask = _clip(tmp_path)
    r = CliRunner().invoke(main, ["score", out, "--mask", mask, "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert set(res) == {"flicker", "coverage", "detail", "abrupt_frames", "frames"}
    clean = json.loads(CliRunner().invoke(main, ["score", str(tmp_path / "gt"), "--mask", mask, "--json"]).output)
    assert res["detail"] < 0.6 * clean["detail"]
    r = CliRunner().invoke(main, ["score", out, "--mask", mask])
    assert r.exit_code == 0 and "abrupt: none" in r.output


def test_bad_inputs_one_line(tmp_path):
    out, _, mask = _clip(tmp_path)
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((10, 10), np.uint8))
    short = write_sequence(tmp_path / "short", [np.zeros((96, 128, 3), np.uint8)] * 3)
    for args, msg in ((["score", str(tmp_path / "nope"), "-m", mask], "not found"),
                      (["score", out, "-m", str(tmp_path / "small.png")], "masks must match"),
                      (["score", out, "-m", mask, "-t", str(short)], "has 12 frames but the truth")):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR:") and msg in lines[0], r.output
