"""Parallax: exact first frame, no holes, depth-ordered motion, loops."""
import numpy as np
import pytest

from tests.helpers import gradient_energy, psnr
from vedit.engines.animate_parallax import CAMERAS, ParallaxAnimateEngine
from vedit.errors import InvalidInputError
from vedit.flow import compute_flow


def _frames(img, mattes, n=12, **kw):
    out = ParallaxAnimateEngine().animate(img, num_frames=n, mattes=mattes, **kw)
    frames = list(out.frames)
    assert len(frames) == n
    return frames, out.stats


@pytest.mark.parametrize("camera", CAMERAS)
def test_first_frame_equals_input_and_no_holes(still, camera):
    img = still["img"]
    frames, stats = _frames(img, [still["subj"]], camera=camera, strength=1.5)
    assert stats["layers"] == 1
    assert psnr(frames[0], img) >= 45
    for f in frames:
        assert f.shape == img.shape
        # the still has no pixel darker than 10: a hole (unfilled pixel) would be 0
        assert f.min() >= 5
    assert np.abs(frames[-1].astype(float) - img).mean() > 2.0  # the camera did move


def test_near_layer_moves_more_than_background(still):
    img, subj = still["img"], still["subj"]
    frames, _ = _frames(img, [subj], n=10, camera="pan-left", strength=2.0)
    fl = compute_flow(frames[4], frames[5], preset="medium", max_side=None)
    inner = np.zeros_like(subj, bool)
    inner[60:90, 105:135] = True  # inside the disc
    far = np.zeros_like(subj, bool)
    far[10:40, 10:60] = True      # background, away from the disc
    v_near = np.median(fl[inner], axis=0)
    v_far = np.median(fl[far], axis=0)
    assert v_near[0] > 0 and v_far[0] > 0          # camera to the left: the scene shifts right
    assert v_near[0] > 2.0 * v_far[0]              # parallax: near moves more (depth ratio 3)


def test_background_is_filled_behind_the_subject(still):
    img, subj = still["img"], still["subj"]
    eng = ParallaxAnimateEngine()
    stack = eng.build_layers(img, [subj])
    inside = subj > 0
    # the disc's texture must not remain in the background plate
    fg_like = np.abs(stack.background.astype(float) - img)[inside].mean()
    assert fg_like > 10
    assert stack.stats["rest_error"] < 0.05


def test_two_layers_and_loop(still):
    img = still["img"]
    second = np.zeros_like(still["subj"])
    second[20:140, 10:70] = 255
    frames, stats = _frames(img, [still["subj"], second], n=20, camera="orbit", loop=True)
    assert stats["layers"] == 2
    assert psnr(frames[0], img) >= 45
    steps = [np.abs(frames[i + 1].astype(float) - frames[i]).mean() for i in range(19)]
    seam = np.abs(frames[-1].astype(float) - frames[0]).mean()
    assert seam <= 1.5 * np.median(steps)


def test_flat_move_without_mattes(still):
    frames, stats = _frames(still["img"], [], n=8, camera="zoom")
    assert stats["layers"] == 0
    assert psnr(frames[0], still["img"]) >= 45
    assert np.abs(frames[-1].astype(float) - still["img"]).mean() > 2


def test_errors(still):
    eng = ParallaxAnimateEngine()
    with pytest.raises(InvalidInputError, match="--camera"):
        eng.animate(still["img"], num_frames=3, camera="spin")
    with pytest.raises(InvalidInputError, match="--strength"):
        eng.animate(still["img"], num_frames=3, strength=-1)
    with pytest.raises(InvalidInputError, match="empty"):
        list(eng.animate(still["img"], num_frames=3, mattes=[np.zeros((160, 240), np.uint8)]).frames)
    with pytest.raises(InvalidInputError, match="matte 0"):
        list(eng.animate(still["img"], num_frames=3, mattes=[np.zeros((16, 24), np.uint8)]).frames)


# -- sharpness, specks, clean layers -----------------------------------------------
def _photo(name):
    """sample_media/still.jpg or a photo shipped inside scikit-image's wheel,
    with a subject matte from a GrabCut seeded inside the subject."""
    from pathlib import Path

    import cv2

    from vedit.engines.animate_motion import Arrow, arrow_region

    root = Path(__file__).resolve().parents[2]
    still = cv2.cvtColor(cv2.imread(str(root / "sample_media" / "still.jpg")), cv2.COLOR_BGR2RGB)
    data = pytest.importorskip("skimage.data")
    img, (x, y) = {"still": (still, (190, 90)), "chelsea": (data.chelsea(), (200, 150)),
                   "coffee": (data.coffee(), (300, 200))}[name]
    mask, _ = arrow_region(img, Arrow(x, y, x, y))
    return img, mask.astype(np.uint8) * 255


def _homography(a, b):
    """Frame a → frame b, fitted to SIFT matches (RANSAC)."""
    import cv2

    sift = cv2.SIFT_create(2000)
    ka, da = sift.detectAndCompute(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), None)
    kb, db = sift.detectAndCompute(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)
    good = [m for m, m2 in cv2.BFMatcher().knnMatch(da, db, k=2) if m.distance < 0.75 * m2.distance]
    pa = np.float32([ka[g.queryIdx].pt for g in good])
    pb = np.float32([kb[g.trainIdx].pt for g in good])
    hom, _ = cv2.findHomography(pa, pb, cv2.RANSAC, 1.0)
    return hom


@pytest.mark.parametrize("name", ["still", "chelsea", "coffee"])
@pytest.mark.parametrize("camera", ["dolly-in", "orbit"])
def test_frames_as_sharp_as_one_warp_of_the_still(name, camera):
    """Every frame keeps >= 95% of the gradient energy of a one-step bicubic
    warp of the still by the homography from frame 0 to it (zoom alone is not
    counted as lost detail)."""
    import cv2

    img, matte = _photo(name)
    frames, _ = _frames(img, [matte], n=10, camera=camera)
    assert np.array_equal(frames[0], img)
    for t in (3, 6, 9):
        ref = cv2.warpPerspective(img, _homography(frames[0], frames[t]), img.shape[1::-1], flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT_101)
        ratio = gradient_energy(frames[t]) / gradient_energy(ref)
        assert ratio >= 0.95, (t, ratio)


def _head_scene(h=240, w=320, seed=0):
    """A wall (smooth colour gradient) and a head: a textured face, a dark
    hair cap and thin strands sticking out. The matte covers face and cap,
    slightly tight, and misses the strands, as a person matte does."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([150 + 40 * xx / w, 170 + 30 * yy / h, 205 + 0 * xx], -1)
    img += cv2.GaussianBlur(rng.normal(0, 6, (h, w, 3)).astype(np.float32), (0, 0), 2)
    cx, cy, ax, ay = 160, 140, 55, 75
    face = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1
    hair = (((xx - cx) / (ax + 7)) ** 2 + ((yy - cy) / (ay + 7)) ** 2 <= 1) & (yy < cy - 10) & ~face
    tex = cv2.GaussianBlur(rng.normal(0, 12, (h, w, 3)).astype(np.float32), (0, 0), 1)
    img[face] = (np.array([225, 140, 80]) + tex)[face]
    img[hair] = (np.array([70, 45, 25]) + tex)[hair]
    strands = np.zeros((h, w), np.uint8)
    for k in range(14):
        th = np.pi * (1.1 + 0.8 * k / 13)
        rx, ry = (ax + 6) * np.cos(th), (ay + 6) * np.sin(th)
        cv2.line(strands, (int(cx + rx), int(cy + ry)), (int(cx + 1.16 * rx), int(cy + 1.12 * ry)), 255, 1)
    img[strands > 0] = (70, 45, 25)
    subject = face | hair | (strands > 0)
    matte = cv2.erode((face | hair).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    matte = cv2.GaussianBlur(matte, (0, 0), 1.0)
    return np.clip(img, 0, 255).astype(np.uint8), subject, matte


def _specks(frame, subject_now, max_area=30, level=40.0):
    """Sizes of the connected components under ``max_area`` px, outside the
    subject's footprint, whose colour differs by more than ``level`` from the
    background around them (the median of a ring of non-subject pixels)."""
    import cv2

    f = frame.astype(np.float32)
    odd = np.linalg.norm(f - cv2.medianBlur(frame, 9).astype(np.float32), axis=2) > level
    away = cv2.dilate(subject_now.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    n, lab, st, _ = cv2.connectedComponentsWithStats((odd & away).astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        if st[i, cv2.CC_STAT_AREA] >= max_area:
            continue
        comp = lab == i
        ring = (cv2.dilate(comp.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~comp & away & ~odd
        if ring.sum() < 4:
            continue
        if np.linalg.norm(f[comp].mean(axis=0) - np.median(f[ring], axis=0)) > level:
            out.append(int(st[i, cv2.CC_STAT_AREA]))
    return out


@pytest.mark.parametrize("camera", ["dolly-in", "orbit", "pan-left"])
def test_no_specks_on_a_layered_scene(camera):
    import cv2

    img, subject, matte = _head_scene()
    eng = ParallaxAnimateEngine()
    n = 12
    frames = list(eng.animate(img, num_frames=n, mattes=[matte], camera=camera, strength=1.5).frames)
    stack = eng.build_layers(img, [matte])
    depths = [layer.depth for layer in stack.layers] + [stack.depth_ratio]
    assert np.array_equal(frames[0], img)
    moved = 0.0
    for t, f in enumerate(frames):
        cam = eng.camera(camera, 0.5 - 0.5 * np.cos(np.pi * t / (n - 1)), 1.5)
        mats = eng.plane_transforms(cam, depths, img.shape[1::-1], stack.centre)
        now = cv2.warpAffine(subject.astype(np.uint8), mats[0], img.shape[1::-1], flags=cv2.INTER_NEAREST) > 0
        assert _specks(f, now) == [], t
        moved = max(moved, float(np.abs(mats[0] - mats[1]).max()))
    assert moved > 5.0  # subject and background really moved apart


def test_plate_holds_no_subject_colour():
    """Behind the subject (and the strands the matte missed) the plate is wall."""
    img, subject, matte = _head_scene()
    stack = ParallaxAnimateEngine().build_layers(img, [matte])
    wall = np.array([170.0, 185.0, 205.0])
    dark = np.linalg.norm(stack.background.astype(float) - wall, axis=2) > 80
    assert not dark.any(), int(dark.sum())
    assert stack.stats["rest_error"] < 0.5


def test_layer_alpha_is_soft_and_clean():
    import cv2

    img, _, matte = _head_scene()
    noisy = matte.copy()
    for x, y in ((30, 30), (280, 200), (40, 210)):
        noisy[y:y + 3, x:x + 3] = 255   # stray islands a matte model leaves
    noisy[150:152, 150:152] = 0          # a pin hole
    stack = ParallaxAnimateEngine().build_layers(img, [noisy])
    layer = stack.layers[0]
    full = np.zeros(img.shape[:2], np.float32)
    ox, oy = layer.origin
    full[oy:oy + layer.alpha.shape[0], ox:ox + layer.alpha.shape[1]] = layer.alpha
    for x, y in ((30, 30), (280, 200), (40, 210)):
        assert full[y - 3:y + 6, x - 3:x + 6].max() == 0.0
    assert full[150:152, 150:152].min() > 0.99
    edge = (full > 0.02) & (full < 0.98)
    assert edge.sum() > 200  # a soft edge, not a cut-out
    n, _ = cv2.connectedComponents((full > 0).astype(np.uint8))
    assert n == 2  # one piece


def test_plate_continues_the_background_next_to_the_subject():
    """What a move uncovers beside the subject is the wall beside it, not a
    copy of a distant object (a patch fill pulls in the white block here)."""
    h, w = 200, 300
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(1)
    wall = np.clip(np.stack([140 + 30 * xx / w, 150 + 20 * yy / h, 170 + 0 * xx], -1)
                   + rng.normal(0, 3, (h, w, 3)), 0, 255)
    img = wall.copy()
    img[40:160, 250:280] = (250, 250, 245)  # a white object far from the subject
    img[150:, :] = (30, 30, 35)             # a dark table
    subj = ((xx - 120) / 45) ** 2 + ((yy - 110) / 70) ** 2 <= 1
    img[subj] = (220, 120, 70)
    img = img.astype(np.uint8)
    stack = ParallaxAnimateEngine().build_layers(img, [subj.astype(np.uint8) * 255])
    beside = subj & (yy < 140)
    plate = stack.background.astype(float)
    assert np.abs(plate - wall)[beside].mean() < 22
    assert not (plate[beside].min(axis=1) > 220).any()


def test_supersampled_render_matches_direct_bicubic(still):
    """Frames sampled bilinearly from the 4x layer copies are the direct
    bicubic warps of the layers, within a level and 2% of gradient energy."""
    img = still["img"]
    kw = dict(num_frames=8, mattes=[still["subj"]], camera="orbit", strength=1.5)
    fast = list(ParallaxAnimateEngine(supersample=4).animate(img, **kw).frames)
    ref = list(ParallaxAnimateEngine(supersample=1).animate(img, **kw).frames)
    for a, b in zip(fast[1:], ref[1:]):
        assert np.abs(a.astype(float) - b).mean() < 1.5
        assert gradient_energy(a) >= 0.98 * gradient_energy(b)


def test_small_separate_parts_of_a_subject_stay():
    """A hand apart from the body (small, but not a speck) stays in the layer."""
    img, _, matte = _head_scene()
    m = matte.copy()
    m[200:212, 40:52] = 255  # 144 px, 1.4% of the head
    stack = ParallaxAnimateEngine().build_layers(img, [m])
    layer = stack.layers[0]
    ox, oy = layer.origin
    assert layer.alpha[206 - oy, 46 - ox] > 0.9
