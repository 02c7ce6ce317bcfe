"""bench/cases.py: the case set is varied and complete, and each built case
follows the make_case.py protocol (pasted texture only inside the blob,
ground truth the clean frames, reveal fraction that matches the camera)."""
from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np

from .conftest import ROOT


def _read(folder: str) -> list[np.ndarray]:
    return [cv2.imread(os.path.join(folder, f), cv2.IMREAD_UNCHANGED) for f in sorted(os.listdir(folder))]


def test_case_set_covers_categories_and_sizes(cases):
    specs = cases.SPECS
    assert len(specs) >= 24 and len({s.name for s in specs}) == len(specs)
    by_cat = {c: [s for s in specs if s.category == c] for c in cases.CATEGORIES}
    assert all(len(v) >= 4 for v in by_cat.values()), {k: len(v) for k, v in by_cat.items()}
    sizes = [s.size for s in specs]
    assert min(sizes) <= 0.08 + 1e-9 and max(sizes) >= 0.25 - 1e-9 and all(0.08 <= x <= 0.25 for x in sizes)
    assert all(s.static for s in by_cat["revealed"] + by_cat["never"])
    assert any(not s.static for s in by_cat["moving"]) and any(s.static for s in by_cat["moving"])
    revealed = by_cat["revealed"]
    assert any(s.zoom for s in revealed) and any(s.yaw for s in revealed) and any(s.roll for s in revealed)
    assert any(s.shake for s in revealed) and any(s.dynamic for s in by_cat["dynamic"])
    # the pasted texture is never the background's family
    assert all(s.texture in cases.TEXTURES for s in specs)


def test_case_sets_are_disjoint_and_each_covers_every_category(cases):
    names = [s.name for v in cases.SETS.values() for s in v]
    assert len(names) == len(set(names))
    seeds = [s.seed for v in cases.SETS.values() for s in v]
    assert len(seeds) == len(set(seeds))  # no case of one set is another's in disguise
    for name in ("holdout", "fresh", "late"):
        assert {s.category for s in cases.SETS[name]} == set(cases.CATEGORIES), name
    assert [s.name for s in cases.select(["f_never_*"], case_set="fresh")] == \
        ["f_never_rocket", "f_never_ihc", "f_never_motorcycle_r", "f_never_page"]


def test_unknown_case_set_is_one_clear_line(cases):
    import pytest

    with pytest.raises(SystemExit, match="no case set 'nope': one of tuning, holdout, fresh, late"):
        cases.select(None, case_set="nope")


def test_built_case_protocol(small_case):
    inp, gt, masks = _read(small_case.input), _read(small_case.gt), _read(small_case.mask)
    assert len(inp) == len(gt) == len(masks) == small_case.frames == 14
    assert gt[0].shape == (108, 192, 3) and masks[0].shape == (108, 192)
    assert all(np.array_equal(m, masks[0]) for m in masks)  # static blob
    area = (masks[0] > 127).mean()
    assert 0.03 < area < 0.35
    far = cv2.dilate(masks[0], np.ones((3, 3), np.uint8)) == 0
    for i, g in zip(inp, gt):
        assert np.array_equal(i[far], g[far])  # only the blob (and its 1 px soft edge) is pasted
        m = masks[0] > 127
        assert np.abs(i[m].astype(int) - g[m].astype(int)).mean() > 10
    # the camera moves: consecutive truth frames differ, and the shift is a pan to the left
    shift = cv2.phaseCorrelate(np.float32(cv2.cvtColor(gt[5], cv2.COLOR_BGR2GRAY)),
                               np.float32(cv2.cvtColor(gt[6], cv2.COLOR_BGR2GRAY)))[0]
    assert shift[0] < -1.0 and abs(shift[1]) < 0.5
    assert small_case.reveal is not None and small_case.reveal > 0.99


def test_still_camera_reveals_nothing_and_cache_skips(cases, tmp_path):
    spec = cases.Spec("t_still", "never", "photo:coffee.png", 3, 0.12, noise=1.5, frames=6, width=160, height=90)
    case = cases.build_case(spec, str(tmp_path))
    assert case.reveal == 0.0
    gt = _read(case.gt)
    d = np.abs(gt[0].astype(int) - gt[1].astype(int))
    assert 0.5 < d.mean() < 3.0  # sensor noise only
    stamp = os.path.getmtime(os.path.join(case.gt, "00000.png"))
    first_mask = _read(case.mask)[0]
    again = cases.build_case(spec, str(tmp_path))
    assert again.reveal == 0.0 and os.path.getmtime(os.path.join(case.gt, "00000.png")) == stamp
    changed = cases.build_case(cases.Spec(**{**spec.__dict__, "seed": 4}), str(tmp_path))
    assert not np.array_equal(_read(changed.mask)[0], first_mask)  # a new spec rebuilds the case


def test_turning_camera_is_a_perspective_warp(cases, tmp_path):
    spec = cases.Spec("t_turn", "revealed", "photo:rocket.jpg", 5, 0.1, yaw=24, frames=8, width=192, height=108)
    mats, _ = cases._fit_world(cases._camera(spec, np.random.default_rng(0)), 192, 108, 640, 427)
    h = mats[0] @ np.linalg.inv(mats[-1])
    assert abs(h[2, 0] / h[2, 2]) > 1e-4  # projective, not affine
    corners = np.array([[0, 0, 1], [192, 0, 1], [0, 108, 1], [192, 108, 1]], float).T
    for m in mats:  # the photo's border never shows
        p = m @ corners
        p = p[:2] / p[2]
        assert p.min() >= 0 and (p[0] <= 640).all() and (p[1] <= 427).all()


def test_cli_list_and_category():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "cases.py"), "--list", "--category", "never"],
                       capture_output=True, text=True, check=True)
    lines = r.stdout.strip().splitlines()
    assert len(lines) >= 4 and all(" never " in line for line in lines)
