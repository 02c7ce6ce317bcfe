"""Process-wide settings for long frame loops.

A frame loop allocates and frees the same few large buffers (frames, maps,
patches of a few MB) thousands of times. glibc's default allocator returns
such blocks to the kernel on free (``mmap``/trim) and every new one is then
page-faulted in again: at 1080p that was a third of the compositing time
(``bench/remove.py``). :func:`tune_allocator` keeps freed blocks in the heap
for reuse instead. The command line and the job server call it once at start;
a host application embedding the library may call it too (it only changes
when memory goes back to the kernel, not how much is used at the peak).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit: blocks below it come from the heap
_TRIM_THRESHOLD = 512 << 20  # free heap top kept before it is handed back

_tuned: bool | None = None
_libc = None


def tune_allocator() -> bool:
    """Keep freed buffers below 32 MB in the heap (and up to 512 MB of free
    heap) on glibc, in this process and the processes it starts; a no-op
    elsewhere. Returns whether the settings took here."""
    global _tuned, _libc
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    # the same for child processes (the ffmpeg decoders and encoders of a job),
    # unless the user chose otherwise
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(_MMAP_THRESHOLD))
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(_TRIM_THRESHOLD))
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    if _tuned:
        _libc = libc
    return _tuned


def release_memory() -> None:
    """Hand free heap pages back to the kernel (glibc ``malloc_trim``) when
    :func:`tune_allocator` is in effect. Streaming loops call it between
    chunks: buffers are reused within a chunk, and the peak stays flat in clip
    length instead of creeping up with heap fragmentation."""
    if _libc is not None:
        try:
            _libc.malloc_trim(0)
        except (AttributeError, OSError):  # pragma: no cover - no malloc_trim
            pass
