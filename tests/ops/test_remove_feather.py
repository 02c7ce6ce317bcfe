"""``remove --feather`` is a float, as in matte and replace-bg (soften the edge
over N px); the propagate engine blends over whole pixels, so the op rounds it
to the nearest one (half up) and whole numbers behave as before."""
from __future__ import annotations

import numpy as np

from vedit.io import open_clip
from vedit.ops import get_def, get_op


def _remove(seq, mask, out, feather):
    path = get_op("remove")(str(seq), str(out), mask=str(mask), dilate=3, feather=feather, codec="ffv1",
                            start=0, end=6)
    return np.stack(list(open_clip(path).frames()))


def test_feather_is_a_float_rounded_to_whole_pixels(pan_sequence, tmp_path):
    seq, mask, frames = pan_sequence
    assert get_def("remove")["feather"].type == "float"
    two = _remove(seq, mask, tmp_path / "two.mkv", 2)
    three = _remove(seq, mask, tmp_path / "three.mkv", 3)
    # a wider band changes pixels: the comparisons below can fail
    assert not np.array_equal(two, three)
    assert np.array_equal(_remove(seq, mask, tmp_path / "two_f.mkv", 2.0), two)
    assert np.array_equal(_remove(seq, mask, tmp_path / "low.mkv", 2.4), two)
    assert np.array_equal(_remove(seq, mask, tmp_path / "half.mkv", 2.5), three)


def test_cli_takes_a_fractional_feather(pan_sequence, tmp_path):
    from click.testing import CliRunner

    from vedit_cli.main import main

    seq, mask, _ = pan_sequence
    out = tmp_path / "o.mkv"
    r = CliRunner().invoke(main, ["remove", str(seq), "-m", str(mask), "-o", str(out), "--feather", "1.5",
                                  "--end", "4", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert open_clip(str(out)).frame_count == 4
    r = CliRunner().invoke(main, ["remove", str(seq), "-m", str(mask), "-o", str(tmp_path / "b.mkv"),
                                  "--feather", "-0.5", "-q"], catch_exceptions=False)
    assert r.exit_code == 1 and "--feather -0.5: must be at least 0" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "b.mkv").exists()
