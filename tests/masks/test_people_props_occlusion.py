"""Every person, what they hold, and a tracked object behind an occluder, on
real pixels (the multi-person clip is built from the labelled DAVIS tennis
player: see ``crowd.py``)."""
from __future__ import annotations

import glob
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.io import open_clip
from vedit.masks import matte_stream
from vedit.masks.person import PersonMatteSource, person_matte_stream
from vedit.masks.track import low_ranges

pytest.importorskip("mediapipe")

_spec = importlib.util.spec_from_file_location("crowd", Path(__file__).with_name("crowd.py"))
crowd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crowd)


def _gts(folder, n=None):
    return [cv2.imread(p, 0) > 127 for p in sorted(glob.glob(str(folder / "*.png")))[:n]]


def test_every_person_found_small_ones_included(shared_media, tmp_path):
    """Four people 330, 170, 95 and 55 px tall: the matte covers each of them
    (recall >= 0.8 of the union, each person >= 0.6) with precision >= 0.85;
    each keeps an id of their own through the clip and ``person_id`` picks
    one."""
    seq, truths = crowd.write(shared_media, tmp_path / "crowd", n=8)
    clip = open_clip(str(seq))
    out = [a > 0.5 for a in person_matte_stream(clip, include_shadow=False, margin=0)]
    rec, prec, per = [], [], []
    for a, gts in zip(out, truths):
        g = np.logical_or.reduce(gts)
        rec.append((a & g).sum() / g.sum())
        prec.append((a & g).sum() / max(1, a.sum()))
        per.append([(a & t).sum() / t.sum() for t in gts])
    print(f"crowd recall {np.mean(rec):.3f} precision {np.mean(prec):.3f} per person {np.mean(per, axis=0).round(2)}")
    assert np.mean(rec) >= 0.8 and np.mean(prec) >= 0.85
    assert np.min(np.mean(per, axis=0)) >= 0.6  # the 55 px person too
    src = PersonMatteSource(include_shadow=False)
    for _ in src.stream(open_clip(str(seq))):
        pass
    steady = sorted(pid for pid, frames in src.people.items() if frames >= 6)  # of 8 frames
    assert len(steady) == 4, src.people
    one = next(iter(matte_stream(open_clip(str(seq)), "person", person_id=steady[1], refine=False,
                                 smooth=False))) > 0.5
    hits = [(one & t).sum() / t.sum() for t in truths[0]]
    assert max(hits) > 0.6 and sorted(hits)[-2] < 0.05, hits  # one person, and only one


def test_held_racket_joins_the_removal_matte(shared_media):
    """Tennis: the labelled mask holds the racket. What the body matte misses
    of it above the feet (racket head, ball) is mostly recovered by the
    props (motion + contact); precision stays high."""
    clip = open_clip(str(shared_media / "tennis"))
    gts = _gts(shared_media / "tennis_mask")
    body = [a > 0.5 for a in person_matte_stream(clip, with_props=False)]
    withp = [a > 0.5 for a in person_matte_stream(clip, with_props=True)]
    tot = hit = 0
    for b, p, g in zip(body, withp, gts):
        rows = np.flatnonzero(b.any(axis=1))
        region = g & ~(cv2.dilate(b.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0)
        region[int(rows[-1] - 0.15 * (rows[-1] - rows[0])):] = False  # the shadow strip on the ground
        tot += region.sum()
        hit += (region & p).sum()
    prec = np.mean([(p & g).sum() / max(1, p.sum()) for p, g in zip(withp, gts)])
    print(f"held-object recall {hit / tot:.3f} (region {tot} px), precision {prec:.3f}")
    assert hit / tot >= 0.55 and prec >= 0.95


def test_box_track_survives_the_tree(shared_media, tmp_path, capsys):
    """bmx-trees, box at frame 0: the matte stays tight (mean IoU >= 0.5
    against the labelled rider and bike), the rider is found again after the
    tree (lost for good before), the low-confidence frames are reported.
    Behind the trunk (frames 67-68) the matte is the part still showing
    beside it, at the place the rider's own motion predicts: every frame from
    66 on keeps IoU >= 0.28 (0.30 measured at frame 68, the worst)."""
    clip = open_clip(str(shared_media / "bmx-trees"))
    gts = _gts(shared_media / "bmx-trees_mask")
    side = tmp_path / "conf.json"
    out = [a > 0.5 for a in matte_stream(clip, "grabcut", box=(182, 58, 100, 130), confidence_path=str(side))]
    iou = np.array([(a & g).sum() / max(1, (a | g).sum()) for a, g in zip(out, gts)])
    prec = np.array([(a & g).sum() / max(1, a.sum()) for a, g in zip(out, gts)])
    print(f"bmx mIoU {iou.mean():.3f}, from 66 on min {iou[66:].min():.3f} at {66 + iou[66:].argmin()}, "
          f"70+ mean {iou[70:].mean():.3f}, "
          f"precision {prec.mean():.3f}")
    assert iou.mean() >= 0.5
    assert prec.mean() >= 0.5  # tight: no halo, no stray blobs along the path (the labels hold rider + bike)
    assert iou[70:].mean() >= 0.4  # found again after the tree
    assert iou[66:].min() >= 0.28, iou[66:].round(2)  # not lost behind it
    data = json.loads(side.read_text())
    assert len(data["confidence"]) == 80 and data["low"]
    assert "warning: the tracked object is uncertain or hidden at frames" in capsys.readouterr().err


def test_low_ranges():
    assert low_ranges([1, 0.2, 0.1, 0.9, 0.3], start=10, threshold=0.4) == [(11, 12), (14, 14)]
