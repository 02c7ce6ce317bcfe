"""Shared bench helpers."""
from __future__ import annotations

import os


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
