"""Media checks for the probe tests, at module level so the checker's helper
process can import them (closures cannot be sent there)."""
from __future__ import annotations

import os
import subprocess
import time


def hang(input, output, values, start, end, job):
    """A check that never answers (a stalled share): it starts a child of its
    own, writes both process ids to ``values["marker"]``, and sleeps."""
    child = subprocess.Popen(["sleep", "120"])
    with open(values["marker"], "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {child.pid}\n")
    time.sleep(120)


def fine(input, output, values, start, end, job):
    """A check that answers at once, from the helper process."""
    if values.get("marker") == "refuse":
        from vedit.ops.params import ParamError

        raise ParamError("marker", "params.marker: refused by the check")
