"""CSS colour names wherever a colour is accepted: the replace-bg background
(colour plate) and the chroma key of matte and replace-bg."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vedit.composite import parse_color
from vedit.errors import InvalidInputError
from vedit.masks.sources import parse_colour
from vedit.ops import get_op

from .conftest import read_seq, write_seq


def test_css_names_parse():
    assert parse_color("purple") == (128, 0, 128)
    assert parse_color("Orange") == (255, 165, 0)
    assert parse_color("rebeccapurple") == (102, 51, 153)
    assert parse_color("light goldenrod yellow") == (250, 250, 210)
    assert parse_color("green") == (0, 128, 0) and parse_color("lime") == (0, 255, 0)  # as CSS has them
    assert parse_color("notacolour") is None
    # key colours: green/blue stay the screen colours, other names are CSS
    assert parse_colour("green") == (0, 177, 64)
    assert parse_colour("magenta") == (255, 0, 255)
    with pytest.raises(InvalidInputError, match="CSS colour name"):
        parse_colour("greenish")


def _keyed_shot(tmp_path, screen):
    """A flat ``screen`` colour with a grey square (the subject)."""
    frames = []
    for _ in range(3):
        f = np.empty((32, 48, 3), np.uint8)
        f[:] = screen
        f[8:24, 16:32] = 110
        frames.append(f)
    return write_seq(tmp_path / "in", frames)


def test_background_css_name_fills_the_plate(tmp_path):
    seq = _keyed_shot(tmp_path, (0, 255, 0))
    out = get_op("replace-bg")(str(seq), str(tmp_path / "out") + "/", background="purple", chroma="lime",
                               refine=False, smooth=False, light_wrap=0.0, spill=False)
    got = read_seq(out)
    assert len(got) == 3
    assert got[1][2, 2].tolist() == [128, 0, 128]  # the lime screen became CSS purple
    assert got[1][16, 24].tolist() == [110, 110, 110]  # the subject kept


def test_matte_chroma_css_name(tmp_path):
    seq = _keyed_shot(tmp_path, (255, 165, 0))  # an orange screen
    out = get_op("matte")(str(seq), str(tmp_path / "m") + "/", chroma="orange", refine=False, smooth=False)
    m = cv2.imread(str(sorted((tmp_path / "m").glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
    assert out.endswith("m")
    assert m[16, 24] == 255 and m[2, 2] == 0
    assert np.count_nonzero(m > 127) == 16 * 16
