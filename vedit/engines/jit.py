"""numba's ``njit`` where numba is usable; otherwise a decorator that leaves
the function as Python (numba is a dependency: this is only for an install
whose numba or llvmlite cannot load, where callers fall back or run slowly)."""
from __future__ import annotations

try:
    from numba import njit

    HAVE_NUMBA = True
except Exception:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

    def njit(*_a, **_k):  # type: ignore[no-redef]
        return lambda f: f

__all__ = ["HAVE_NUMBA", "njit"]
