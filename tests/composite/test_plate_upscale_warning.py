"""replace-bg says so (one stderr line) when the background plate is enlarged
more than 2x to cover the frame, and stays silent otherwise."""
from __future__ import annotations

import cv2
import pytest

from vedit.ops import get_op

from .conftest import texture


@pytest.mark.parametrize("plate, warned", [((40, 30), True), ((100, 75), False)])
def test_upscaled_plate_warns(shot, tmp_path, capsys, plate, warned):
    seq, mask, _, _ = shot
    p = tmp_path / "plate.png"
    cv2.imwrite(str(p), texture(plate[1], plate[0], seed=3))
    out = get_op("replace-bg")(str(seq), str(tmp_path / "out") + "/", end=4, background=str(p), matte=str(mask),
                               static_plate=True, refine=False, smooth=False)
    assert len(list((tmp_path / "out").iterdir())) == 4 and out
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "upscaled" in ln]
    if warned:  # 128x96 frame from 40x30: 3.2x
        assert lines == ["warning: the 40x30 background plate is upscaled 3.2x to cover 128x96; "
                         "it will look soft (use a larger plate)"]
    else:
        assert lines == []
