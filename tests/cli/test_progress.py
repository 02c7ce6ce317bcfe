"""The CLI progress bar: one line that never goes back, ETA from the overall rate."""
from __future__ import annotations

import re

from vedit_cli.common import Progress


def test_bar_never_goes_back(capsys):
    p = Progress(10, quiet=False, label="x")
    shown = []
    for done, total in [(2, 10), (5, 10), (1, 10), (6, 20), (20, 20)]:
        p._last = -1.0  # draw every report
        p(done, total, "stage")
        line = capsys.readouterr().err.rsplit("\r", 1)[-1]
        m = re.search(r"\[([#-]+)\] (\d+)/(\d+)", line)
        shown.append(m.group(1).count("#") / len(m.group(1)))
    assert shown == sorted(shown), shown
    assert shown[-1] == 1.0
