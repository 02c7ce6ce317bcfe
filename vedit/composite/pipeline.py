"""The box around a matte's subject, which the compositor limits its work to.

The person matte replace-bg composites is the one of ``vedit matte --person``
(:func:`vedit.masks.person.person_mattes`); the stream threads are
:mod:`vedit.streams`.
"""
from __future__ import annotations

import numpy as np


def roi_of(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) box around the True pixels of ``mask`` grown by
    ``margin`` and clipped to the frame; None when nothing is set."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))
