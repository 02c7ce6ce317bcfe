"""The animate op end to end (`vedit animate` and vedit.ops.animate.run):
formats, sizes, errors, cancel, the motion brush's regions, the tiny SVD model."""
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tests.helpers import psnr
from vedit.io import open_clip
from vedit.ops.animate import fit_geometry, fit_image, run, target_size
from vedit_cli.main import main


def _invoke(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


def _read_seq(folder):
    names = sorted(os.listdir(folder))
    return [cv2.cvtColor(cv2.imread(os.path.join(folder, n)), cv2.COLOR_BGR2RGB) for n in names]


def test_cli_parallax_png_sequence(still, tmp_path):
    out = tmp_path / "par"
    r = _invoke("animate", still["img_path"], "-o", f"{out}/", "--region", still["subj_path"],
                "--camera", "dolly-in", "--frames", 10, "-q")
    assert r.exit_code == 0, r.output
    frames = _read_seq(out)
    assert len(frames) == 10
    assert psnr(frames[0], still["img"]) >= 45
    assert all(f.min() >= 5 for f in frames)


def test_cli_motion_loop_mp4(still, tmp_path):
    out = tmp_path / "m.mp4"
    r = _invoke("animate", still["img_path"], "-o", out, "--engine", "motion", "--region", still["water_path"],
                "--motion", "40,120,100,120", "--loop", "--duration", 1, "--fps", 12, "-q")
    assert r.exit_code == 0, r.output
    clip = open_clip(str(out))
    assert clip.frame_count == 12 and (clip.width, clip.height) == (240, 160)
    assert float(clip.fps) == 12


@pytest.mark.parametrize("ext", [".webm", ".mov"])
def test_other_containers(still, tmp_path, ext):
    out = tmp_path / f"o{ext}"
    run(str(still["img_path"]), str(out), engine="parallax", subject="none", camera="pan-right", frames=4)
    assert open_clip(str(out)).frame_count == 4


def test_size_crop_and_pad(still, tmp_path):
    out = tmp_path / "sq"
    run(str(still["img_path"]), f"{out}/", engine="motion", motion=["40,120,100,120"],
        region=str(still["water_path"]), size="128x128", fit="crop", frames=3)
    frames = _read_seq(out)
    assert frames[0].shape == (128, 128, 3)
    # crop keeps the centre: the fitted still, exactly, on frame 0
    want = fit_image(still["img"], (128, 128), "crop")
    assert np.array_equal(frames[0], want)
    out2 = tmp_path / "pad"
    run(str(still["img_path"]), f"{out2}/", engine="parallax", subject="none", aspect="1:1", fit="pad", frames=2)
    f = _read_seq(out2)[0]
    assert f.shape == (240, 240, 3)
    assert target_size((240, 160), "320", None) == (320, 213)
    assert target_size((240, 160), None, "9:16") == (90, 160)
    assert target_size((240, 160), None, "9:16", "pad") == (240, 427)
    assert fit_geometry((200, 100), (100, 100), "crop") == (1.0, 1.0, -50.0, 0.0)
    assert fit_geometry((200, 100), (100, 100), "pad") == (0.5, 0.5, 0.0, 25.0)


@pytest.mark.parametrize("args,msg", [
    (["--engine", "motion"], "--motion"),
    (["--region", "nope.png"], "--region 'nope.png': not found"),
    (["--camera", "dolly-in", "--strength", "9"], "--strength"),
    (["--engine", "motion", "--motion", "1,2,3"], "--motion"),
    (["--engine", "diffusion", "--model", "/nonexistent/svd"], "not found locally"),
    (["--size", "axb"], "--size"),
    (["--fps", "0"], "--fps"),
])
def test_errors_are_one_line_and_leave_nothing(still, tmp_path, args, msg):
    out = tmp_path / "bad.mp4"
    r = CliRunner().invoke(main, ["animate", str(still["img_path"]), "-o", str(out), "-q", *args])
    assert r.exit_code == 1, r.output
    assert "ERROR:" in r.output and msg in r.output and "Traceback" not in r.output
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if ".vedit-tmp" in p]


def test_cancel_leaves_no_output(still, tmp_path):
    from vedit.errors import JobCancelled

    def cb(done, total, stage):
        if done >= 3:
            raise JobCancelled("stop")

    out = tmp_path / "c.mp4"
    with pytest.raises(JobCancelled):
        run(str(still["img_path"]), str(out), engine="parallax", subject="none", frames=20, callback=cb)
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if ".vedit-tmp" in p]


def test_diffusion_tiny_svd_from_cli(still, tiny_svd, tmp_path):
    out = tmp_path / "svd"
    r = _invoke("animate", still["img_path"], "-o", f"{out}/", "--engine", "diffusion", "--model", tiny_svd,
                "--frames", 5, "--steps", 2, "--size", "96x64", "--pin-first", "--fps", 6, "--max-side", 64, "-q")
    assert r.exit_code == 0, r.output
    frames = _read_seq(out)
    assert len(frames) == 5 and frames[0].shape == (64, 96, 3)
    assert np.array_equal(frames[0], fit_image(still["img"], (96, 64), "crop"))
    assert all(np.isfinite(f).all() for f in frames)


def test_cli_motion_arrow_picks_and_saves_its_region(tmp_path):
    """One arrow, no --region: the object under its start moves, the rest of
    the frame stays; the chosen region is printed and saved."""
    h, w = 160, 240
    rng = np.random.default_rng(5)
    img = np.clip(rng.normal(120, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (70, 80), 30, 255, -1)
    img[disc > 0] = (210, 60, 40)
    img[disc > 0] = np.clip(img[disc > 0].astype(int) + rng.integers(-20, 20, (int((disc > 0).sum()), 3)), 0, 255)
    src = tmp_path / "still.png"
    cv2.imwrite(str(src), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    out, saved = tmp_path / "m", tmp_path / "regions.png"
    r = CliRunner().invoke(main, ["animate", str(src), "-o", f"{out}/", "--engine", "motion", "--motion",
                                  "70,80,90,80", "--loop", "--frames", "12", "--save-regions", str(saved)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "motion region 1" in r.output and "grabcut" in r.output
    # -q: errors only
    q = CliRunner().invoke(main, ["animate", str(src), "-o", f"{tmp_path / 'q'}/", "--engine", "motion", "--motion",
                                  "70,80,90,80", "--loop", "--frames", "4", "-q"], catch_exceptions=False)
    assert q.exit_code == 0 and "motion region" not in q.output
    area = cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE)
    assert area[80, 70] == 255
    truth = disc > 0
    assert ((area == 255) & truth).sum() / ((area == 255) | truth).sum() > 0.85
    frames = _read_seq(out)
    far = cv2.distanceTransform((area == 0).astype(np.uint8), cv2.DIST_L2, 5) > 40
    assert far.any()
    for f in frames:
        assert np.abs(f.astype(float) - img)[far].mean() < 1.0
    assert np.abs(frames[6].astype(float) - img)[truth].mean() > 3.0


def test_cli_upscale_warning(still, tmp_path):
    r = CliRunner().invoke(main, ["animate", str(still["img_path"]), "-o", f"{tmp_path / 'big'}/", "--engine",
                                  "parallax", "--subject", "none", "--size", "720x480", "--frames", "2", "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "upscaled 3.0x" in r.output


def test_cli_motion_regions_from_sam(still, tiny_sam, tmp_path):
    """--sam-checkpoint with the motion brush prompts SAM at each arrow's start
    (a tiny random model here: the plumbing and the fallback, not its quality)."""
    out = tmp_path / "m"
    r = CliRunner().invoke(main, ["animate", str(still["img_path"]), "-o", f"{out}/", "--engine", "motion",
                                  "--motion", "120,75,140,75", "--sam-checkpoint", str(tiny_sam), "--frames", "4"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "motion region 1" in r.output and ("(sam," in r.output or "sam mask missed" in r.output)
    assert len(os.listdir(out)) == 4
