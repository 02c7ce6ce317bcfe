"""Job specs for the built-in ops are checked by the ops' own definitions:
every bad value is a 422 naming the param at submit, and every CLI option is
accepted as a job param (the drifts the old hand-written table had)."""
from __future__ import annotations

import pytest

from vedit.jobs import PathPolicy, SpecError, validate_spec


@pytest.fixture
def shot(pan_sequence, tmp_path):
    seq, mask, _ = pan_sequence
    img = tmp_path / "still.png"
    import shutil

    shutil.copy(sorted(seq.glob("*.png"))[0], img)
    return tmp_path, seq, mask, img


def _spec(shot, op, params, rng=None):
    root, seq, mask, img = shot
    spec = {"op": op, "input": str(img if op == "animate" else seq), "output": str(root / "out.mp4"),
            "params": params}
    if rng is not None:
        spec["range"] = rng
    return spec


@pytest.mark.parametrize("op, params, rng", [
    ("remove", {"mask": "M", "engine": "diffusion", "refine_strength": 0.3, "feather": 4, "offload": "model"}, None),
    ("remove", {"mask": "M", "engine": "diffusion", "refine": 0.3}, None),  # the older name
    ("remove", {"mask": "M", "overwrite": True, "dilate": 0}, {"start": 2, "end": 10}),
    ("replace-bg", {"background": "#202830", "person_every": 3, "track_refine": "fast"}, None),
    ("replace-bg", {"background": "blur", "blur_radius": 4, "matte": "M", "frame": 0}, None),
    ("matte", {"person": True, "margin": 0, "include_shadow": False}, None),
    ("matte", {"box": [10, 10, 40, 30], "bit_depth": 16}, None),
    ("animate", {"size": "128x96", "aspect": "4:3", "fit": "pad", "subject": "none", "camera": "orbit",
                 "region": ["M", "M"]}, None),
    ("animate", {"engine": "motion", "motion": ["1,2,30,40", [5, 6, 7, 8]], "speed": 2, "loop": True}, None),
    ("animate", {"engine": "diffusion", "offload": "sequential", "pin_first": True, "max_side": 256}, {"start": 0}),
])
def test_cli_options_are_accepted_as_job_params(shot, op, params, rng):
    mask = str(shot[2])
    params = {k: ([mask if x == "M" else x for x in v] if isinstance(v, list) else (mask if v == "M" else v))
              for k, v in params.items()}
    job = validate_spec(_spec(shot, op, params, rng))
    assert set(job.params) == {"refine_strength" if k == "refine" and op == "remove" else k for k in params}


@pytest.mark.parametrize("op, params, rng, words", [
    ("remove", {}, None, "params.mask is required"),
    ("remove", {"mask": "M", "refine_strength": True, "engine": "diffusion"}, None,
     "params.refine_strength = True: expected a number"),
    ("remove", {"mask": "M", "prompt": "grass"}, None, "applies to engine diffusion only"),
    ("remove", {"mask": "M", "fps": "abc"}, None, "params.fps = 'abc': expected a number"),
    ("remove", {"mask": "M", "seed": int("9" * 400)}, None, "params.seed"),
    ("remove", {"mask": "M", "dilate": -1}, None, "params.dilate = -1: must be at least 0"),
    ("remove", {"mask": "M", "overlap": 4}, None, "params.overlap: unknown param"),
    ("remove", {"mask": "/dev/null"}, None, "params.mask = '/dev/null': not a regular file or folder"),
    ("remove", {"mask": "M", "engine": "nope"}, None, "params.engine = 'nope': choose one of"),
    ("replace-bg", {}, None, "exactly one of --background"),
    ("replace-bg", {"background": "blur", "light_wrap": 2}, None, "params.light_wrap"),
    ("replace-bg", {"background": "blur", "track_refine": "slow"}, None, "params.track_refine"),
    ("matte", {"person": True, "bit_depth": 12}, None, "params.bit_depth = 12: choose one of 8, 16"),
    ("matte", {"points": "1,2,3"}, None, "expected X,Y pairs"),
    ("animate", {"offload": True, "engine": "diffusion"}, None, "params.offload"),
    ("animate", {"engine": "motion"}, None, "needs at least one --motion"),
    ("animate", {"motion": [[1, 2, 3]], "engine": "motion"}, None, "params.motion"),
    ("animate", {"fps": 0}, None, "params.fps = 0: must be at least 1"),
    ("animate", {}, {"end": 3}, "range.end"),
])
def test_bad_params_are_422_naming_the_param(shot, op, params, rng, words):
    mask = str(shot[2])
    params = {k: (mask if v == "M" else v) for k, v in params.items()}
    with pytest.raises(SpecError) as ei:
        validate_spec(_spec(shot, op, params, rng))
    assert words in str(ei.value)
    assert ei.value.status == 422


def test_relative_param_paths_refused_when_absolute_required(shot):
    with pytest.raises(SpecError, match="params.mask = 'mask.png': use an absolute path"):
        validate_spec(_spec(shot, "remove", {"mask": "mask.png"}), PathPolicy(require_absolute=True))
    # a keyword is not a path
    validate_spec(_spec(shot, "replace-bg", {"background": "blur"}), PathPolicy(require_absolute=True))
