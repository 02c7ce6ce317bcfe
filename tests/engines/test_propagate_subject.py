"""The subject stage of ``propagate``: a moving subject that goes in and out
from under a hole is continued into it (not cut at the hole's edge), and a
subject that only borders the hole leaves the background fill alone."""
import warnings

import cv2
import numpy as np

from vedit.engines.propagate import PropagateInpaintEngine
from vedit.engines.propagate.subject import _nanmedian0, complete_subject, pull_push

from .test_propagate_moving import _clip


def _read(folder, n0, n1):
    return [cv2.cvtColor(cv2.imread(str(folder / f"{i:05d}.png")), cv2.COLOR_BGR2RGB) for i in range(n0, n1)]


def _psnr(out, clean, hole):
    se = np.mean([((o.astype(np.float64) - c) ** 2)[hole].mean() for o, c in zip(out, clean)])
    return 10 * np.log10(255.0 ** 2 / se)


def test_pull_push_continues_real_colours_into_a_gap(shared_media):
    """Smooth real content (a blurred frame): a gap is filled from its
    surroundings far closer than by their mean colour, and known pixels are
    kept as they are."""
    img = cv2.GaussianBlur(_read(shared_media / "tennis", 20, 21)[0].astype(np.float32), (0, 0), 8)
    for centre in ((300, 40), (60, 200), (380, 150)):
        gap = np.zeros(img.shape[:2], np.uint8)
        cv2.circle(gap, centre, 12, 1, -1)
        g = gap > 0
        out = pull_push(img, (~g).astype(np.float32))
        assert np.abs(out[~g] - img[~g]).max() < 1e-3
        near = ~g & (cv2.dilate(gap, np.ones((25, 25), np.uint8)) > 0)
        err = np.abs(out[g] - img[g]).mean()
        flat = np.abs(img[near].mean(axis=0) - img[g]).mean()
        assert err < 0.4 * flat, (centre, err, flat)


def test_player_walking_behind_a_static_blob_is_continued_into_it(shared_media):
    """The real tennis clip (the camera follows the player) with a static
    disc over the spot the player walks through: the truth under it is the
    player much of the time."""
    clean = _read(shared_media / "tennis", 12, 36)
    mask = np.zeros(clean[0].shape[:2], np.uint8)
    cv2.ellipse(mask, (133, 72), (36, 27), 0, 0, 360, 255, -1)
    frames = []
    for c in clean:
        f = c.copy()
        f[mask > 0] = (128, 128, 128)
        frames.append(f)
    hole = mask > 0

    def run(subject):
        eng = PropagateInpaintEngine(subject=subject)
        return list(eng.inpaint(frames, [mask] * len(frames), total=len(frames)).frames)

    with_s, without = run(True), run(False)
    gain = _psnr(with_s, clean, hole) - _psnr(without, clean, hole)
    assert gain > 0.8, gain
    # nothing outside the changed region moves
    region = PropagateInpaintEngine().region(mask)
    for a, b in zip(with_s, without):
        assert np.array_equal(a[~region], b[~region])


def test_subject_holding_still_beside_the_hole_changes_nothing():
    """A subject that only borders the hole (the same footprint against it in
    every frame) gives no evidence that it continues under it: the
    background fill stands, pixel for pixel."""
    frames, mask, _ = _clip()
    eng = PropagateInpaintEngine()
    region = eng.region(mask)
    holes = [region] * len(frames)
    outs = [f.copy() for f in frames]
    h, w = eng.work_size(frames[0].shape[1], frames[0].shape[0])
    moving = [np.zeros((h, w), bool) for _ in frames]
    for m in moving:
        m[28:68, 76:100] = True  # the subject, as the flow stage finds it
    res = complete_subject(frames, holes, 0, outs, moving)
    for a, b in zip(res, outs):
        assert np.array_equal(a, b)


def test_fast_nan_median_equals_numpys(shared_media):
    """The sorting-network median the subject labels use: numpy's nanmedian,
    value for value, on real frames with holes (NaN) punched in."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in _read(shared_media / "tennis", 0, 5)]
    rng = np.random.default_rng(3)
    for layers in (1, 2, 3, 4, 5):
        st = np.stack(grey[:layers])
        st[rng.random(st.shape) < 0.35] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(st, axis=0)
        out = _nanmedian0(st)
        assert np.array_equal(np.isnan(out), np.isnan(ref))
        assert np.allclose(out[~np.isnan(ref)], ref[~np.isnan(ref)], atol=1e-4)
