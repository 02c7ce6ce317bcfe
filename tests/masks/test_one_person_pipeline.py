"""One person matte pipeline: ``vedit matte --person`` and ``replace-bg``
reach the person matte through the same code (vedit.masks.person
.person_mattes), so replace-bg keeps every person; and the people tracker's
scan looks only for somebody new. Real pixels (the multi-person clip is
built from the labelled DAVIS tennis player: see ``crowd.py``)."""
from __future__ import annotations

import glob
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

import vedit.masks.person as person
from vedit.errors import InvalidInputError
from vedit.io import open_clip

pytest.importorskip("mediapipe")

_spec = importlib.util.spec_from_file_location("crowd", Path(__file__).with_name("crowd.py"))
crowd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crowd)


def _alphas(folder: Path) -> list[np.ndarray]:
    files = sorted(glob.glob(str(folder / "*.png")))
    return [cv2.imread(f, cv2.IMREAD_UNCHANGED)[:, :, 3].astype(np.float32) / 255.0 for f in files]


@pytest.fixture
def spy(monkeypatch):
    """Records every run of the one person pipeline: the person source's
    settings and the refined mattes it hands to the op."""
    runs: list[dict] = []
    refined = person.refined_mattes

    def recorded(clip, src, **kw):
        run = {"shadow": src.include_shadow, "props": src.with_props, "alphas": []}
        runs.append(run)
        for m in refined(clip, src, **kw):
            run["alphas"].append(m.alpha)
            yield m

    monkeypatch.setattr(person, "refined_mattes", recorded)
    return runs


def test_matte_and_replace_bg_run_the_same_person_pipeline(shared_media, tmp_path, spy):
    """Both ops go through person_mattes (matte with shadow and props,
    replace-bg without), and replace-bg's alpha is that matte: the written
    alpha agrees with the mattes the pipeline made (IoU >= 0.9; the
    compositor refines the edge once more at full size)."""
    from vedit.ops import matte, replace_bg

    src = str(shared_media / "tennis")
    matte.run(src, str(tmp_path / "m") + "/", end=5, person=True)
    replace_bg.run(src, str(tmp_path / "rb") + "/", end=5, background="transparent")
    assert [(r["shadow"], r["props"]) for r in spy] == [(True, True), (False, False)]
    n = open_clip(src, end=5).frame_count
    written = _alphas(tmp_path / "rb")
    assert len(spy[1]["alphas"]) == len(written) == n >= 5
    for raw, out in zip(spy[1]["alphas"], written):
        a = cv2.resize(raw, (out.shape[1], out.shape[0])) > 0.5
        b = out > 0.5
        assert (a & b).sum() / (a | b).sum() >= 0.9


def test_replace_bg_keeps_every_person(shared_media, tmp_path):
    """Four people (330, 170, 95 and 55 px tall) in front of a new
    background: each keeps most of their labelled pixels (which include the
    racket the composite matte leaves out: at least 45% each, 60% on
    average) and little else does (a single-person matte keeps one of them)."""
    from vedit.ops import replace_bg

    seq, truths = crowd.write(shared_media, tmp_path / "crowd", n=6)
    replace_bg.run(str(seq), str(tmp_path / "out") + "/", background="transparent")
    alphas = _alphas(tmp_path / "out")
    assert len(alphas) == len(truths) == 6
    kept = np.array([[(a > 0.5)[t].mean() for t in gts] for a, gts in zip(alphas, truths)])
    union = [np.logical_or.reduce(g) for g in truths]
    precision = np.mean([((a > 0.5) & u).sum() / max(1, (a > 0.5).sum()) for a, u in zip(alphas, union)])
    print(f"replace-bg kept per person {kept.mean(axis=0).round(2)}, precision {precision:.3f}")
    assert kept.mean(axis=0).min() >= 0.45 and kept.mean() >= 0.6
    assert precision >= 0.85


def test_replace_bg_person_every_carries_the_matte(shared_media, tmp_path):
    """--person-every 2 runs the model on every other frame of the same
    pipeline; the skipped frames carry the matte, which stays on the player
    (IoU >= 0.8 with the every-frame matte)."""
    clip = open_clip(str(shared_media / "tennis"), end=7)
    every = [m.alpha > 0.5 for m in person.person_mattes(clip, every=2)]
    each = [m.alpha > 0.5 for m in person.person_mattes(clip)]
    assert len(every) == len(each) == clip.frame_count >= 7
    ious = [(a & b).sum() / (a | b).sum() for a, b in zip(every, each)]
    assert min(ious) >= 0.8, ious
    with pytest.raises(InvalidInputError, match="every frame"):
        person.person_mattes(clip, every=2, with_props=True)


def test_scan_greys_out_the_people_already_followed(shared_media):
    """The tracker's scan looks for somebody new: with the people it follows
    greyed out, the detector finds none of them again (and the landmark
    model does not run on them)."""
    from vedit.masks.people import PeopleTracker, _iou

    frames, truths = crowd.build(shared_media, n=1)
    tr = PeopleTracker(workers=1)
    try:
        frame = frames[0]
        whole = [(0, 0, frame.shape[1], frame.shape[0])]
        found = tr._detect(frame, whole, [])
        assert found, "the whole-frame detector finds the big people"
        again = tr._detect(frame, whole, [b + np.array([-20, -20, 20, 20]) for b in found])
        assert not any(max(_iou(a, b)) > 0.3 for a in again for b in found), (found, again)
    finally:
        tr.close()


def test_a_second_tracker_reuses_the_landmarkers_and_finds_the_same_person(shared_media):
    """Landmarkers outlive their tracker (making one costs several frames):
    the next tracker in the process takes them, and a video-mode landmarker
    that still holds the last clip's person re-reads its new crop, so the
    second run's mattes are the first run's (IoU >= 0.9 every frame)."""
    from vedit.masks.people import PeopleTracker

    # at 960x540 the player is tall enough for the video-mode landmarker
    frames = [cv2.resize(f, (960, 540), interpolation=cv2.INTER_CUBIC)
              for f in open_clip(str(shared_media / "tennis"), end=9).read_all()]
    runs, detectors = [], []
    for _ in range(2):
        tr = PeopleTracker(workers=1)
        detectors.append(tr._detector)
        try:
            runs.append([tr.step(f).get(1, np.zeros(f.shape[:2], np.float32)) > 0.5 for f in frames])
        finally:
            tr.close()
    assert detectors[0] is detectors[1]
    assert tr.tracks and all(t.model is None for t in tr.tracks)  # handed back
    ious = [(a & b).sum() / max(1, (a | b).sum()) for a, b in zip(*runs)]
    assert runs[0][0].mean() > 0.02 and min(ious) >= 0.9, ious


def test_large_people_are_cropped_from_the_working_frame_with_the_same_matte(shared_media, monkeypatch):
    """A crop the landmark model shrinks at least as much as the working
    frame is read from that frame (a quarter of the pixels at 720p): its
    corners lie on the working grid, the model sees the same person and the
    mattes match those from full-frame crops (IoU >= 0.9 every frame)."""
    from vedit.masks import people as people_mod
    from vedit.masks.base import to_work

    frames = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC)
              for f in open_clip(str(shared_media / "tennis"), end=8).read_all()]
    size = (640, 360)
    read = []
    real = people_mod.cv2.resize

    def resize(src, dsize, *a, **k):  # the sources the crops are shrunk from (to 256 px at most)
        if k.get("interpolation") == cv2.INTER_AREA and max(dsize) <= people_mod.CROP_SIDE:
            read.append(max(src.shape[:2]))
        return real(src, dsize, *a, **k)

    runs, sides = [], []
    for small in (False, True):
        tr = people_mod.PeopleTracker(workers=1)
        try:
            mattes = []
            for i, f in enumerate(frames):
                if i == 1:  # after the first frame's scan: the crops alone
                    read.clear()
                    monkeypatch.setattr(people_mod.cv2, "resize", resize)
                mattes.append(tr.step(f, size, to_work(f, size) if small else None).get(1))
                assert not tr.tracks or all(c % 2 == 0 for t in tr.tracks if t.crop for c in t.crop)
            monkeypatch.setattr(people_mod.cv2, "resize", real)
        finally:
            tr.close()
        assert all(m is not None for m in mattes[1:])
        runs.append([m > 0.5 for m in mattes[1:]])
        sides.append(list(read))
    # the same crops, read at half the side from the working frame
    assert len(sides[0]) == len(sides[1]) >= len(frames) - 1, sides
    assert all(abs(b - a / 2) <= 1 for a, b in zip(*sides)), sides
    ious = [(a & b).sum() / max(1, (a | b).sum()) for a, b in zip(*runs)]
    assert runs[0][0].mean() > 0.02 and min(ious) >= 0.9, ious
