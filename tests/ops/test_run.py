"""What every op promises its callers: the final output path (absolute), one
progress count that never goes back and ends at its total, and an existing
output is replaced only with ``overwrite``."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from vedit.errors import OutputExistsError
from vedit.ops import get_op


def _progress():
    seen: list[tuple[int, int, str]] = []
    return seen, lambda d, t, s: seen.append((d, t, s))


def _assert_monotone(seen):
    assert seen, "no progress reported"
    fr = [d / t for d, t, _ in seen]
    assert fr == sorted(fr), fr
    assert fr[-1] == 1.0 and seen[-1][2] == "done"
    assert all(s for _, _, s in seen)  # every report names its stage


@pytest.mark.parametrize("op", ["remove", "matte", "replace-bg"])
def test_ops_return_absolute_path_and_monotone_progress(op, pan_sequence, tmp_path, monkeypatch):
    seq, mask, frames = pan_sequence
    monkeypatch.chdir(tmp_path)
    params = {"remove": {"mask": str(mask)},
              "matte": {"mask": str(seq), "refine": False, "smooth": False},
              "replace-bg": {"background": "#203040", "matte": str(mask)}}[op]
    seen, cb = _progress()
    out = get_op(op)(str(seq), "out/", end=8, callback=cb, **params)
    assert out == str(tmp_path / "out") and os.path.isabs(out)
    assert len(os.listdir(out)) == 8
    _assert_monotone(seen)


def test_animate_returns_absolute_path(tmp_path, monkeypatch):
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :, 1] = np.arange(96, dtype=np.uint8)[None, :] * 2
    cv2.imwrite(str(tmp_path / "still.png"), img)
    monkeypatch.chdir(tmp_path)
    seen, cb = _progress()
    out = get_op("animate")("still.png", "clip/", callback=cb, frames=4, subject="none")
    assert out == str(tmp_path / "clip") and len(os.listdir(out)) == 4
    _assert_monotone(seen)


def test_existing_output_needs_overwrite(pan_sequence, tmp_path):
    seq, mask, _ = pan_sequence
    target = tmp_path / "done.mp4"
    target.write_bytes(b"an earlier render")
    run = get_op("remove")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run(str(seq), str(target), end=4, mask=str(mask))
    assert target.read_bytes() == b"an earlier render"  # refused before any work, nothing touched
    out = run(str(seq), str(target), end=4, mask=str(mask), overwrite=True)
    assert out == str(target) and target.stat().st_size > 1000


def test_two_pass_replace_bg_progress_spans_both_passes(pan_sequence, tmp_path):
    """A plate that follows the camera takes two passes (matte + camera path,
    then compositing): one count over both, never going back."""
    seq, mask, _ = pan_sequence
    plate = tmp_path / "plate.png"
    cv2.imwrite(str(plate), np.full((200, 300, 3), (40, 160, 90), np.uint8))
    seen, cb = _progress()
    out = get_op("replace-bg")(str(seq), str(tmp_path / "bg") + "/", end=6, callback=cb, background=str(plate),
                               matte=str(mask))
    assert len(os.listdir(out)) == 6
    _assert_monotone(seen)
    stages = [s for _, _, s in seen]
    assert {"matte + camera", "compositing"} <= set(stages)
    assert stages.index("compositing") > max(i for i, s in enumerate(stages) if s == "matte + camera")
    assert seen[-1][1] == 12  # both passes in one total


def test_motion_animate_progress(tmp_path):
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :, 1] = np.arange(96, dtype=np.uint8)[None, :] * 2
    img[20:40, 30:50] = (200, 40, 40)
    cv2.imwrite(str(tmp_path / "still.png"), img)
    seen, cb = _progress()
    out = get_op("animate")(str(tmp_path / "still.png"), str(tmp_path / "m") + "/", callback=cb, frames=5,
                            engine="motion", motion=["40,30,50,30"])
    assert os.path.isabs(out) and len(os.listdir(out)) == 5
    _assert_monotone(seen)


@pytest.mark.usefixtures("isolated_home", "one_torch_thread")
def test_diffusion_remove_progress(tiny_model_dir, pan_sequence, tmp_path):
    """The diffusion engine reports its own stages (keyframe steps, then the
    propagation), each counting from 0: the op's count still never goes back."""
    seq, mask, _ = pan_sequence
    seen, cb = _progress()
    out = get_op("remove")(str(seq), str(tmp_path / "d") + "/", end=4, callback=cb, mask=str(mask),
                           engine="diffusion", model=str(tiny_model_dir), steps=2)
    assert len(os.listdir(out)) == 4
    _assert_monotone(seen)
    assert any(s.startswith("keyframe step") for _, _, s in seen)


@pytest.mark.usefixtures("isolated_home", "one_torch_thread")
def test_diffusion_animate_progress(tiny_svd, still, tmp_path):
    seen, cb = _progress()
    out = get_op("animate")(str(still["img_path"]), str(tmp_path / "a") + "/", callback=cb, engine="diffusion",
                            model=str(tiny_svd), frames=3, steps=1, size="64x64", max_side=64)
    assert os.path.isabs(out) and len(os.listdir(out)) == 3
    _assert_monotone(seen)
    assert len({s for _, _, s in seen}) >= 2  # the model's own stages, then done
