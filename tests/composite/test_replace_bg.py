"""vedit replace-bg end to end on small synthetic shots (lossless PNG I/O)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vedit.errors import InvalidInputError
from vedit.ops import get_op

_spec = importlib.util.spec_from_file_location("composite_conftest", Path(__file__).with_name("conftest.py"))
_cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cf)
texture, write_seq, read_seq, pan_shot = _cf.texture, _cf.write_seq, _cf.read_seq, _cf.pan_shot

run = get_op("replace-bg")


def _disk(r):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def inside(m, r=6):
    return cv2.erode(m, _disk(r)) > 0


def outside(m, r=6):
    return cv2.dilate(m, _disk(r)) == 0


def cli(*args):
    from vedit_cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def shift_of(a, b, region, search=np.arange(-4, 4.01, 0.25)):
    """Horizontal shift d with b(x) ≈ a(x + d) on ``region``, by search."""
    best, bd = None, None
    h, w = region.shape
    for d in search:
        M = np.float32([[1, 0, d], [0, 1, 0]])
        a_s = cv2.warpAffine(a.astype(np.float32), M, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
        err = np.abs(a_s - b.astype(np.float32))[region].mean()
        if bd is None or err < bd:
            best, bd = d, err
    return best


def test_matte_file_inside_is_input_outside_is_plate(shot, plate_png, tmp_path):
    seq, mask_dir, frames, masks = shot
    out = run(str(seq), str(tmp_path / "out") + "/", background=str(plate_png), matte=str(mask_dir),
              static_plate=True)
    res = read_seq(out)
    plate = cv2.cvtColor(cv2.imread(str(plate_png)), cv2.COLOR_BGR2RGB)
    assert len(res) == len(frames)
    for f, m, o in zip(frames, masks, res):
        assert o.shape == f.shape
        d_in = np.abs(o.astype(int) - f.astype(int))[inside(m)]
        d_out = np.abs(o.astype(int) - plate.astype(int))[outside(m)]
        assert d_in.max() <= 2 and d_out.max() <= 2


def test_plate_follows_camera_and_static_plate_does_not(shot, plate_png, tmp_path):
    seq, mask_dir, frames, masks = shot
    moving = read_seq(run(str(seq), str(tmp_path / "mv") + "/", background=str(plate_png), matte=str(mask_dir)))
    still = read_seq(run(str(seq), str(tmp_path / "st") + "/", background=str(plate_png), matte=str(mask_dir),
                         static_plate=True))
    errs = []
    for t in range(len(frames) - 1):
        region = outside(masks[t], 8) & outside(masks[t + 1], 8)
        region[:, :8] = region[:, -8:] = False
        g0, g1 = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (moving[t], moving[t + 1]))
        errs.append(abs(shift_of(g0, g1, region) - 2.0))  # the world moves 2 px left per frame
        s0, s1 = still[t], still[t + 1]
        assert np.array_equal(s0[region], s1[region])
    assert np.mean(errs) < 1.0, errs
    # the plate covers the frame for the whole path: no smeared (replicated) border columns
    last = moving[-1].astype(int)
    assert (np.abs(np.diff(last[:, -6:], axis=1)).sum(axis=(0, 2)) > 0).all()


def test_colour_blur_transparent(shot, tmp_path):
    seq, mask_dir, frames, masks = shot
    col = read_seq(run(str(seq), str(tmp_path / "c") + "/", background="#102030", matte=str(mask_dir)))
    for f, m, o in zip(frames, masks, col):
        assert np.abs(o[outside(m)].astype(int) - (16, 32, 48)).max() == 0
        assert np.abs(o[inside(m)].astype(int) - f[inside(m)]).max() <= 2
    rng = np.random.default_rng(1)
    noisy = [np.where(m[:, :, None] > 0, f, np.clip(f + rng.normal(0, 25, f.shape), 0, 255)).astype(np.uint8)
             for f, m in zip(frames, masks)]
    blur = read_seq(run(str(write_seq(tmp_path / "noisy", noisy)), str(tmp_path / "b") + "/", background="blur",
                        matte=str(mask_dir), blur=6))
    f, m, o = noisy[3], masks[3], blur[3]
    assert np.abs(o[inside(m)].astype(int) - f[inside(m)]).max() <= 2  # subject stays sharp
    def detail(x):  # high-pass energy: what a depth-of-field blur removes
        g = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(g - cv2.GaussianBlur(g, (0, 0), 1.5))
    assert detail(o)[outside(m)].mean() < 0.3 * detail(f)[outside(m)].mean()
    run(str(seq), str(tmp_path / "t") + "/", background="transparent", matte=str(mask_dir))
    tr = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((tmp_path / "t").glob("*.png"))]
    for f, m, o in zip(frames, masks, tr):
        assert o.shape[2] == 4
        assert (o[:, :, 3][inside(m)] == 255).all() and (o[:, :, 3][outside(m)] == 0).all()
    with pytest.raises(InvalidInputError, match="alpha"):
        run(str(seq), str(tmp_path / "t.mp4"), background="transparent", matte=str(mask_dir))
    assert not (tmp_path / "t.mp4").exists()


def test_video_plate_loops_or_holds(shot, tmp_path):
    seq, mask_dir, frames, masks = shot
    plates = [texture(96, 128, seed=20 + i) for i in range(3)]
    pdir = write_seq(tmp_path / "plate", plates)
    for loop in (True, False):
        out = read_seq(run(str(seq), str(tmp_path / f"o{loop}") + "/", background=str(pdir), matte=str(mask_dir),
                           static_plate=True, plate_loop=loop))
        for t, (m, o) in enumerate(zip(masks, out)):
            want = plates[t % 3] if loop else plates[min(t, 2)]
            assert np.abs(o[outside(m)].astype(int) - want[outside(m)]).max() <= 2, t


def test_range_draft_and_cli(shot, plate_png, tmp_path):
    seq, mask_dir, frames, masks = shot
    r = cli("replace-bg", seq, "-o", str(tmp_path / "r") + "/", "-b", plate_png, "--matte", mask_dir,
            "--start", 2, "--end", 9, "--quiet")
    assert r.exit_code == 0, r.output
    out = read_seq(tmp_path / "r")
    assert len(out) == 7
    for i, o in enumerate(out):
        m = masks[2 + i]
        assert np.abs(o[inside(m)].astype(int) - frames[2 + i][inside(m)]).max() <= 2
    r = cli("replace-bg", seq, "-o", str(tmp_path / "p") + "/", "-b", "white", "--matte", mask_dir,
            "--draft", "--draft-size", 64, "-q")
    assert r.exit_code == 0, r.output
    prev = read_seq(tmp_path / "p")
    assert len(prev) == len(frames) and prev[0].shape == (48, 64, 3)
    # the old name is gone (matte's --preview is an output path): a plain usage error, nothing written
    r = cli("replace-bg", seq, "-o", str(tmp_path / "old") + "/", "-b", "white", "--matte", mask_dir, "--preview", "-q")
    assert r.exit_code == 2 and "No such option '--preview'" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "old").exists()


def _ffmpeg():
    from vedit.io import ffmpeg_exe

    return ffmpeg_exe()


def test_audio_fps_and_frames_carried(shot, plate_png, tmp_path):
    seq, mask_dir, frames, masks = shot
    src = tmp_path / "in.mp4"
    subprocess.run([_ffmpeg(), "-loglevel", "error", "-y", "-framerate", "24", "-i", str(seq / "%05d.png"),
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-shortest", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(src)], check=True)
    from vedit.io import probe

    out = run(str(src), str(tmp_path / "out.mp4"), background=str(plate_png), matte=str(mask_dir))
    info = probe(out)
    assert info["has_audio"] and info["frames"] == len(frames) and abs(info["fps"] - 24) < 1e-6


def _one_error_line(r):
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("ERROR:")]
    assert r.exit_code == 1 and len(errs) == 1 and "Traceback" not in r.output, r.output
    return errs[0]


def _no_leftovers(folder):
    assert not [p for p in os.listdir(folder) if "vedit-tmp" in p]


def test_bad_inputs_fail_cleanly(shot, tmp_path, monkeypatch):
    seq, mask_dir, frames, masks = shot
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    msg = _one_error_line(cli("replace-bg", seq, "-o", tmp_path / "o1.mp4", "-b", bad, "--matte", mask_dir, "-q"))
    assert "--background" in msg and "bad.png" in msg
    msg = _one_error_line(cli("replace-bg", seq, "-o", tmp_path / "o2.mp4", "-b", tmp_path / "nope.jpg", "-q"))
    assert "--background" in msg
    # prompt with no model anywhere
    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("VEDIT_MODEL_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    msg = _one_error_line(cli("replace-bg", seq, "-o", tmp_path / "o3.mp4", "--prompt", "a beach",
                              "--matte", mask_dir, "-q"))
    assert "model" in msg
    msg = _one_error_line(cli("replace-bg", seq, "-o", tmp_path / "o4.mp4", "-q"))
    assert "--background" in msg and "--prompt" in msg
    for name in ("o1.mp4", "o2.mp4", "o3.mp4", "o4.mp4"):
        assert not (tmp_path / name).exists()
    _no_leftovers(tmp_path)


def test_no_person_found_writes_nothing(tmp_path):
    pytest.importorskip("mediapipe")
    frames, _ = pan_shot(n=6, subject=False)
    seq = write_seq(tmp_path / "in", frames)
    for bg in ("white", texture(96, 128, 4)):
        if not isinstance(bg, str):
            p = tmp_path / "pl.png"
            cv2.imwrite(str(p), bg)
            bg = p
        msg = _one_error_line(cli("replace-bg", seq, "-o", tmp_path / "o.mp4", "-b", bg, "-q"))
        assert "no person" in msg
        assert not (tmp_path / "o.mp4").exists()
    _no_leftovers(tmp_path)


def test_chroma_key_with_spill(tmp_path):
    h, w = 96, 128
    frames, masks = [], []
    for i in range(5):
        f = np.zeros((h, w, 3), np.uint8)
        f[:] = (20, 220, 30)
        m = np.zeros((h, w), np.uint8)
        m[25:75, 40 + i:90 + i] = 255
        f[m > 0] = (150, 170, 140)  # a grey subject with green spill on it
        frames.append(f)
        masks.append(m)
    seq = write_seq(tmp_path / "in", frames)
    out = read_seq(run(str(seq), str(tmp_path / "o") + "/", background="#000080", matte="chroma", light_wrap=0))
    for m, o in zip(masks, out):
        sub = o[inside(m, 4)].astype(int)
        assert (sub[:, 1] <= np.maximum(sub[:, 0], sub[:, 2])).all()  # spill gone
        assert np.abs(o[outside(m, 4)].astype(int) - (0, 0, 128)).max() <= 2
