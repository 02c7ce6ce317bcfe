"""Spec validation and the output path policy, without a server."""
import os

import pytest

from vedit.jobs import PathNotAllowedError, PathPolicy, SpecError, validate_spec


def test_valid_spec_normalised(clip_dir, h):
    root, seq, mask, _ = clip_dir
    job = validate_spec({"op": h.OP, "input": str(seq), "output": str(root / "out.mp4"),
                         "params": {"delay": 1, "mask": str(mask)}, "range": {"start": 2, "end": 5}})
    assert job.output == str(root / "out.mp4")
    assert job.params == {"delay": 1.0, "mask": str(mask)}
    assert (job.start, job.end) == (2, 5)
    assert str(mask) in job.inputs


@pytest.mark.parametrize("bad, words", [
    ({"op": "explode"}, "op 'explode' is unknown"),
    ({"input": None}, "input is missing"),
    ({"input": "/no/such/clip.mp4"}, "no such file"),
    ({"params": {"delay": "slow"}}, "params.delay"),
    ({"params": {"fail": 1}}, "expected true or false"),
    ({"params": {"nonsense": 3}}, "unknown param"),
    ({"params": {"mask": "/no/mask.png"}}, "params.mask"),
    ({"range": {"start": 5, "end": 5}}, "end 5 must be greater"),
    ({"range": {"start": -1}}, "range.start"),
    ({"range": {"end": 99}}, "the input has 12 frames"),
    ({"range": {"start": 1.5}}, "range.start"),
    ({"extra": 1}, "unknown job spec field"),
    ({"output": "out.xyz"}, "unknown format"),
])
def test_bad_specs_are_spec_errors(clip_dir, h, bad, words):
    root, seq, _, _ = clip_dir
    s = {"op": h.OP, "input": str(seq), "output": str(root / "out.mp4"), "params": {}}
    s.update(bad)
    with pytest.raises(SpecError, match=None) as ei:
        validate_spec(s)
    assert words in str(ei.value)
    assert ei.value.status == 422


def test_output_policy(clip_dir, tmp_path, h):
    root, seq, mask, _ = clip_dir
    base = {"op": h.OP, "input": str(seq)}
    # outside the input's folder
    with pytest.raises(PathNotAllowedError, match="outside"):
        validate_spec({**base, "output": str(tmp_path / "out.mp4")})
    # '..' refused even when it would land inside
    with pytest.raises(PathNotAllowedError, match=r"'\.\.'"):
        validate_spec({**base, "output": str(root / "shot" / ".." / "out.mp4")})
    # equal to an input (the mask) / inside the input folder
    with pytest.raises(PathNotAllowedError, match="is the input"):
        validate_spec({**base, "output": str(mask), "params": {"mask": str(mask)}})
    with pytest.raises(PathNotAllowedError, match="inside the input folder"):
        validate_spec({**base, "output": str(seq / "out.mp4")})
    # symlink escape: a link inside the root pointing outside it
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(PathNotAllowedError, match="outside"):
        validate_spec({**base, "output": str(root / "link" / "out.mp4")})
    os.symlink(outside / "x.mp4", root / "dangling.mp4")
    with pytest.raises(PathNotAllowedError, match="outside"):
        validate_spec({**base, "output": str(root / "dangling.mp4")})
    # allowed roots replace the default; relative outputs go to output_dir
    pol = PathPolicy(allowed_roots=[str(outside)], read_roots=[str(root)])
    assert validate_spec({**base, "output": str(outside / "o.mp4")}, pol).output == str(outside / "o.mp4")
    with pytest.raises(PathNotAllowedError):
        validate_spec({**base, "output": str(root / "o.mp4")}, pol)
    pol = PathPolicy(output_dir=str(outside))
    assert validate_spec({**base, "output": "rel.mp4"}, pol).output == str(outside / "rel.mp4")
    with pytest.raises(SpecError, match="absolute"):
        validate_spec({**base, "input": "clips/shot", "output": "x.mp4"}, PathPolicy(require_absolute=True))


def test_unique_names(clip_dir, h):
    root, seq, _, _ = clip_dir
    (root / "out.mp4").write_bytes(b"taken")
    (root / "out-1.mp4").write_bytes(b"taken")
    job = validate_spec({"op": h.OP, "input": str(seq), "output": str(root / "out.mp4")})
    assert job.output == str(root / "out-2.mp4")
    # a name claimed by a queued job is skipped too
    job = validate_spec({"op": h.OP, "input": str(seq), "output": str(root / "out.mp4")},
                        taken={str(root / "out-2.mp4")})
    assert job.output == str(root / "out-3.mp4")
    # folders: an empty one is fine, a full one gets -1
    (root / "frames").mkdir()
    assert validate_spec({"op": h.OP, "input": str(seq), "output": str(root / "frames") + "/"}).output \
        == str(root / "frames") + "/"
    (root / "frames" / "a.png").write_bytes(b"x")
    assert validate_spec({"op": h.OP, "input": str(seq), "output": str(root / "frames") + "/"}).output \
        == str(root / "frames-1") + "/"


def test_second_output_param_follows_the_policy(clip_dir, tmp_path):
    root, seq, _, _ = clip_dir
    base = {"op": "matte", "input": str(seq), "output": str(root / "m.mov"), "params": {"person": True}}
    with pytest.raises(PathNotAllowedError, match="outside"):
        validate_spec({**base, "params": {"person": True, "preview": str(tmp_path / "p.mp4")}})
    (root / "p.mp4").write_bytes(b"x")
    job = validate_spec({**base, "params": {"person": True, "preview": str(root / "p.mp4")}})
    assert job.params["preview"] == str(root / "p-1.mp4")


def test_root_folder_itself_is_not_an_output(clip_dir, tmp_path, h):
    root, seq, _, _ = clip_dir
    renders = tmp_path / "renders"
    renders.mkdir()
    pol = PathPolicy(allowed_roots=[str(renders)], read_roots=[str(root)])
    with pytest.raises(PathNotAllowedError, match="allowed folder itself"):
        validate_spec({"op": h.OP, "input": str(seq), "output": str(renders) + "/"}, pol)
    (renders / "shot").mkdir()
    (renders / "shot" / "old.png").write_bytes(b"x")
    assert validate_spec({"op": h.OP, "input": str(seq), "output": str(renders / "shot") + "/"}, pol).output \
        == str(renders / "shot-1") + "/"
