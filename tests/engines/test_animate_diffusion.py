"""The image-to-video diffusion engine with tiny random SVD and LTX-Video
models (built by the tests, loaded back through the real loading code)."""
import numpy as np
import pytest

from vedit.engines.animate_diffusion import DiffusionAnimateEngine
from vedit.errors import InvalidInputError, MissingWeightsError
from vedit.io import open_clip
from vedit.ops.animate import run

pytestmark = pytest.mark.usefixtures("isolated_home", "one_torch_thread")


def test_diffusion_engine_seed_and_checks(still, tiny_svd):
    eng = DiffusionAnimateEngine(model=str(tiny_svd))
    kw = dict(num_frames=3, steps=1, size=(64, 64), work_size=(64, 64))
    a = list(eng.animate(still["img"], seed=1, **kw).frames)
    b = list(eng.animate(still["img"], seed=1, **kw).frames)
    c = list(eng.animate(still["img"], seed=2, **kw).frames)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    with pytest.raises(InvalidInputError, match="--prompt"):
        eng.animate(still["img"], prompt="waves", **kw)
    with pytest.raises(InvalidInputError, match="--motion-bucket"):
        eng.animate(still["img"], motion_bucket=0, **kw)


def test_diffusion_tiny_ltx_text_conditioned(still, tiny_ltx, tmp_path):
    eng = DiffusionAnimateEngine(model=str(tiny_ltx))
    assert eng.family.name == "ltx"
    kw = dict(num_frames=6, steps=2, size=(96, 64), work_size=(64, 32), seed=3)
    a = eng.animate(still["img"], prompt="waves on a lake", **kw)
    frames = list(a.frames)
    assert a.stats["frames_run"] == 9  # LTX needs 8k+1 frames; the extra ones are dropped
    assert len(frames) == 6 and frames[0].shape == (64, 96, 3)
    b = list(eng.animate(still["img"], prompt="smoke rising", **kw).frames)
    assert not all(np.array_equal(x, y) for x, y in zip(frames, b))  # the text conditions the result
    out = tmp_path / "ltx.mp4"
    run(str(still["img_path"]), str(out), engine="diffusion", model=str(tiny_ltx), prompt="waves", frames=9,
        steps=1, size="96x64", max_side=64, pin_first=True)
    assert open_clip(str(out)).frame_count == 9


def test_missing_model_is_one_clear_line(tmp_path):
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(MissingWeightsError, match="model_index.json"):
        DiffusionAnimateEngine(model=str(tmp_path / "notamodel"))
    with pytest.raises(MissingWeightsError, match="never downloads"):
        DiffusionAnimateEngine(model="someone/not-cached-i2v")
