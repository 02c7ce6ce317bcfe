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


def _spec(shot, op, params, rng=None, output="out.mp4"):
    root, seq, mask, img = shot
    spec = {"op": op, "input": str(img if op == "animate" else seq), "output": f"{root}/{output}",
            "params": params}
    if rng is not None:
        spec["range"] = rng
    return spec


@pytest.mark.parametrize("op, params, rng", [
    ("remove", {"mask": "M", "engine": "diffusion", "refine_strength": 0.3, "feather": 4, "offload": "model"}, None),
    ("remove", {"mask": "M", "engine": "diffusion", "refine": 0.3}, None),  # the older name
    ("remove", {"mask": "M", "overwrite": True, "dilate": 0}, {"start": 2, "end": 10}),
    ("remove", {"mask": "M", "feather": 2.5}, None),  # a float, as in matte and replace-bg
    ("replace-bg", {"background": "#202830", "person_every": 3, "track_refine": "fast"}, None),
    ("replace-bg", {"background": "#202830", "draft": True, "draft_size": 320}, None),
    ("replace-bg", {"background": "blur", "blur_radius": 4, "matte": "M", "frame": 0}, None),
    ("matte", {"person": True, "margin": 0, "include_shadow": False}, None),
    ("matte", {"box": [10, 10, 40, 30], "bit_depth": 16}, None),
    ("animate", {"size": "128", "aspect": "4:3", "fit": "pad", "subject": "none", "camera": "orbit",
                 "region": ["M", "M"]}, None),
    ("animate", {"engine": "motion", "motion": ["1,2,30,40", [5, 6, 7, 8]], "speed": 2, "loop": True}, None),
    ("animate", {"engine": "diffusion", "offload": "sequential", "pin_first": True, "max_side": 256}, {"start": 0}),
])
def test_cli_options_are_accepted_as_job_params(shot, op, params, rng):
    mask = str(shot[2])
    params = {k: ([mask if x == "M" else x for x in v] if isinstance(v, list) else (mask if v == "M" else v))
              for k, v in params.items()}
    # a 16-bit matte is a PNG folder (checked at submit against the output)
    job = validate_spec(_spec(shot, op, params, rng, "out/" if params.get("bit_depth") == 16 else "out.mp4"))
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
    # the low-resolution pass is `draft` now; `preview` is matte's second output only
    ("replace-bg", {"background": "blur", "preview": True}, None, "params.preview: unknown param"),
    ("remove", {"mask": "M", "feather": -0.5}, None, "params.feather = -0.5: must be at least 0"),
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


@pytest.fixture
def bad_media(shot):
    """Media that opens but does not fit the shot: a mask of another size, an
    empty mask, a 3-frame mask sequence for a 24-frame shot, a file that is not
    an image."""
    import cv2
    import numpy as np

    root, seq, mask, _ = shot
    h, w = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE).shape
    small = np.zeros((h // 2, w // 2), np.uint8)
    small[4:12, 4:12] = 255
    cv2.imwrite(str(root / "small.png"), small)
    cv2.imwrite(str(root / "empty.png"), np.zeros((h, w), np.uint8))
    (root / "short").mkdir()
    for i in range(3):
        cv2.imwrite(str(root / "short" / f"{i:05d}.png"), np.full((h, w), 255, np.uint8))
    (root / "junk.png").write_text("not an image")
    return {"SMALL": str(root / "small.png"), "EMPTY": str(root / "empty.png"), "SHORT": str(root / "short"),
            "JUNK": str(root / "junk.png"), "MISSING": str(root / "missing.png"), "M": str(mask)}


@pytest.mark.parametrize("op, params, output, words", [
    ("remove", {"mask": "SMALL"}, "out.mp4", "params.mask: mask {SMALL} is {w2}x{h2} but the input is {w}x{h}"),
    ("remove", {"mask": "EMPTY"}, "out.mp4", "params.mask: mask {EMPTY} is empty"),
    ("remove", {"mask": "SHORT"}, "out.mp4", "params.mask: mask {SHORT} has 3 frames but the input has 24"),
    ("remove", {"mask": "JUNK"}, "out.mp4", "params.mask: cannot decode mask image"),
    ("replace-bg", {"background": "MISSING"}, "out.mp4", "params.background = '{MISSING}': not found"),
    ("replace-bg", {"background": "JUNK"}, "out.mp4", "params.background: --background '{JUNK}' cannot be read"),
    ("replace-bg", {"background": "transparent"}, "out.mp4", "params.background transparent needs an output that "
                                                             "keeps alpha"),
    ("replace-bg", {"background": "blur", "add_mask": ["SMALL"]}, "out.mp4", "params.add_mask: "),
    ("replace-bg", {"background": "blur", "matte": "SHORT"}, "out.mp4", "params.matte: mask {SHORT} has 3 frames"),
    ("replace-bg", {"background": "blur", "matte": "grabcut", "box": [0, 0, 4000, 30]}, "out.mp4", "params.box: "),
    ("matte", {"mask": ["SMALL"]}, "out.mp4", "params.mask: --mask {SMALL} is {w2}x{h2} but the input is {w}x{h}"),
    ("matte", {"mask": ["M", "M"], "frame": [0, 99]}, "out.mp4", "params.frame 99 is outside the selected range"),
    ("matte", {"box": [10, 10, 4000, 30]}, "out.mp4", "params.box: --box 10,10,4000,30 is outside"),
    ("matte", {"person": True, "alpha": True}, "out.mp4", "params.alpha: output"),
    ("matte", {"person": True, "subtract_mask": ["SHORT"]}, "out.mp4", "params.subtract_mask: "),
    ("animate", {"region": ["SMALL"]}, "out.mp4", "params.region: --region {SMALL}: mask is {w2}x{h2}"),
    ("animate", {"region": ["EMPTY"]}, "out.mp4", "params.region: --region {EMPTY}: the mask is empty"),
])
def test_media_that_does_not_fit_is_422_at_submit(shot, bad_media, op, params, output, words):
    """What used to pass submit and fail when the job ran (the op's check_inputs
    runs at submit): a 422 naming the param."""
    import cv2

    h, w = cv2.imread(bad_media["M"], cv2.IMREAD_GRAYSCALE).shape
    params = {k: ([bad_media.get(x, x) for x in v] if isinstance(v, list) else bad_media.get(v, v))
              for k, v in params.items()}
    with pytest.raises(SpecError) as ei:
        validate_spec(_spec(shot, op, params, None, output))
    assert words.format(**bad_media, w=w, h=h, w2=w // 2, h2=h // 2) in str(ei.value)
    assert ei.value.status == 422
    # the same media check runs first in the op itself, so the CLI says the same
    from vedit.ops import ParamError, get_def

    root, seq, _, img = shot
    opdef = get_def(op)
    with pytest.raises((ParamError, SpecError)):
        opdef.check_inputs(str(img if op == "animate" else seq), f"{root}/{output}",
                           opdef.resolve({k: v for k, v in params.items()}), job=True)


def test_media_check_has_a_timeout_and_holds_no_lock(shot, tmp_path):
    """A media check that does not answer (a stalled share) is a 422 after the
    probe timeout, and the runner's submit lock is free meanwhile."""
    import threading
    import time

    from vedit.jobs import JobStore, Runner
    from vedit.ops import register_op, unregister_op

    root, seq, mask, _ = shot
    stuck = threading.Event()

    def never(input, output, values, start, end, job):
        stuck.wait(30)

    register_op("test-stuck", lambda *a, **k: "", params={}, check_inputs=never)
    try:
        r = Runner(JobStore(str(tmp_path / "j.db")), policy=PathPolicy(probe_timeout=3.0))
        box: dict = {}

        def submit_stuck():
            try:
                r.submit({"op": "test-stuck", "input": str(seq), "output": f"{root}/a.mp4"})
            except SpecError as exc:
                box["err"] = exc

        t0 = time.monotonic()
        th = threading.Thread(target=submit_stuck)
        th.start()
        time.sleep(0.2)
        ok = r.submit({"op": "remove", "input": str(seq), "output": f"{root}/b.mp4", "params": {"mask": str(mask)}})
        assert ok["status"] == "queued" and "err" not in box  # not queued behind the stuck check
        th.join(10)
        assert "could not be read within 3 s" in str(box["err"]) and box["err"].status == 422
        assert time.monotonic() - t0 < 6
    finally:
        stuck.set()
        unregister_op("test-stuck")
