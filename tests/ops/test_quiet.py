"""An op called from Python, as the job server and a host application call it
(not through the CLI), prints none of MediaPipe's native log lines (TFLite,
absl/glog, protobuf); ``VEDIT_DEBUG=1`` keeps them."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mediapipe")

ROOT = Path(__file__).resolve().parents[2]
NOISE = re.compile(r"^[IWEF]\d{4} |absl::|TensorFlow Lite|inference_feedback|GetPrototype|EGL", re.M)

SCRIPT = """
import sys
import cv2, numpy as np
from vedit.ops import get_op

still = cv2.imread(sys.argv[1])
import os
os.makedirs(sys.argv[2] + "/shot")
for i in range(3):
    cv2.imwrite(f"{sys.argv[2]}/shot/{i:05d}.png", np.roll(still, 2 * i, axis=1))
out = get_op("matte")(sys.argv[2] + "/shot", sys.argv[2] + "/matte/", person=True)
print(len(os.listdir(out)))
"""


def _run(tmp: Path, **env: str) -> subprocess.CompletedProcess:
    tmp.mkdir()
    return subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "sample_media" / "still.jpg"), str(tmp)],
                          capture_output=True, text=True, timeout=300, cwd=tmp,
                          env={**os.environ, "VEDIT_DEBUG": "", **env})


def test_person_matte_from_python_prints_no_library_noise(tmp_path):
    quiet = _run(tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.split() == ["3"]
    assert NOISE.findall(quiet.stderr) == [], quiet.stderr
    # the lines are there to silence: debug shows them
    debug = _run(tmp_path / "debug", VEDIT_DEBUG="1")
    assert debug.returncode == 0, debug.stderr
    assert NOISE.search(debug.stderr), debug.stderr
