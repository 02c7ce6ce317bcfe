"""Shared bench helpers: the machine description and the JSON result writer.

Every bench ends with :func:`save`, so each measurement is kept as
``bench/results/<kind>-<YYYY-MM-DD-HHMM>.json`` (date, commit, machine, load
and the bench's figures) and the README tables are generated from those files
by ``bench/report.py`` instead of being copied by hand.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# VEDIT_BENCH_RESULTS points a run (a test, a trial) at another folder
RESULTS = os.environ.get("VEDIT_BENCH_RESULTS") or os.path.join(ROOT, "bench", "results")
# <kind>-<YYYY-MM-DD-HHMM>[-N].json: the kind is everything before the date
RESULT_NAME = re.compile(r"^(?P<kind>[a-z0-9_-]+?)-(?P<stamp>\d{4}-\d{2}-\d{2}-\d{4})(?:-(?P<n>\d+))?\.json$")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("?" where unknown)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine() -> str:
    """Cores, CPU model and Python version: what a figure was measured on."""
    return f"{os.cpu_count()} cores, {cpu_model()}, python {platform.python_version()}"


def git_head() -> str:
    """The short commit of the checkout, ``+dirty`` when ``vedit/`` has uncommitted changes ("?" outside git)."""
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False, capture_output=True,
                       text=True)
    if r.returncode:
        return "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "vedit"], check=False,
                           capture_output=True, text=True).stdout.strip()
    return r.stdout.strip() + ("+dirty" if dirty else "")


def save(kind: str, result: dict, folder: str = RESULTS) -> str:
    """Write ``result`` as ``<folder>/<kind>-<YYYY-MM-DD-HHMM>.json`` with the
    date, commit, machine and load average first; returns the path.

    A second save of the same kind in the same minute gets a ``-2``, ``-3``
    suffix rather than replacing the first (names still sort by time).
    """
    if not re.fullmatch(r"[a-z0-9_-]+", kind) or re.search(r"-\d{4}-\d{2}-\d{2}", kind):
        raise ValueError(f"bench result kind {kind!r}: use lower-case letters, digits, '-' and '_'")
    os.makedirs(folder, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H%M")
    path = os.path.join(folder, f"{kind}-{stamp}.json")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(folder, f"{kind}-{stamp}-{n}.json")
    head = {"kind": kind, "date": time.strftime("%Y-%m-%d %H:%M"), "commit": git_head(), "machine": machine(),
            "load": load_average()}
    with open(path, "w") as fh:
        json.dump({**head, **{k: v for k, v in result.items() if k not in head}}, fh, indent=1, default=_plain)
        fh.write("\n")
    return path


def results_of(kind: str, folder: str = RESULTS) -> list[str]:
    """The result files of exactly ``kind`` in ``folder``, oldest first
    (``remove`` does not match ``remove-holdout``)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        m = RESULT_NAME.match(name)
        if m and m["kind"] == kind:
            found.append((m["stamp"], int(m["n"] or 1), name))
    return [os.path.join(folder, name) for *_, name in sorted(found)]


def _plain(x):
    """numpy scalars and arrays as plain JSON numbers and lists."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")
