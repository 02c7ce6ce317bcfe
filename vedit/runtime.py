"""Process-wide settings for long frame loops.

A frame loop allocates and frees the same few large buffers (frames, maps,
patches of a few MB) thousands of times. glibc's default allocator returns
such blocks to the kernel on free (``mmap``/trim) and every new one is then
page-faulted in again: at 1080p that was a third of the compositing time
(``bench/remove.py``). :func:`tune_allocator` keeps freed blocks in the heap
for reuse instead, and caps malloc at two arenas: every extra thread arena
is a set of 64 MB mmap'd heaps that are unmapped when they empty and faulted
in again by the next burst of frames. Measured on a 300-frame 1080p
``vedit remove``: kernel time 14.9 s -> 5.0 s, 2.2 M -> 0.5 M page faults,
peak RSS 2197 -> 2005 MB, wall time -14 % (with the per-chunk trim that
:func:`release_memory` used to do removed as well: see there).
The command line and the job server call it once at start; a host
application embedding the library may call it too (it changes when memory
goes back to the kernel and how threads share the heap; the peak measured
lower, never higher).

:func:`silence_library_noise` keeps native libraries' log lines (MediaPipe's
TFLite, absl/glog) and protobuf warnings off the terminal unless ``--debug``;
:func:`import_mediapipe`, the one place the person models' library is loaded,
calls it, so a Python caller and the job server print no more than the CLI
does (``VEDIT_DEBUG=1`` or ``--debug`` keeps the lines).
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import io
import os
import re
import sys
import threading
import warnings

from vedit.errors import require

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit: blocks below it come from the heap
_TRIM_THRESHOLD = 512 << 20  # free heap top kept before it is handed back
_ARENA_MAX = 2  # the main heap plus one: worker threads share them (few large allocations, little contention)

_tuned: bool | None = None
_libc = None


def one_blas_thread() -> None:
    """Ask numpy's BLAS (OpenBLAS) for one thread, unless the user chose a
    count: it must run before numpy is first imported. OpenBLAS otherwise
    starts a worker per core that busy-waits after each call; the engines
    run their own threads and hand BLAS only small matrices, so that worker
    only takes CPU from them (figures: ``bench/results/remove-experiments-*``)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
    if _tuned and "MALLOC_ARENA_MAX" not in os.environ:  # the user's choice wins
        mallopt(_M_ARENA_MAX, _ARENA_MAX)
    if _tuned:
        _libc = libc
        _numpy_small_pages()
    return _tuned


def _numpy_small_pages() -> None:
    """Stop numpy asking for transparent huge pages on its large arrays
    (unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise). With the kernel's
    ``madvise`` THP policy, each first touch of such an array then faults in
    a 2 MB page, compacting memory to find one, and zeroes all of it even
    where a box of it is used: 1080p ``vedit remove`` on 100 frames spent
    ~2 s more kernel time that way than with plain pages."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    fn = _numpy_madvise_switch()
    if fn is not None:
        fn(False)


def _numpy_madvise_switch():
    """numpy's ``_set_madvise_hugepage`` (``numpy._core.multiarray`` from
    numpy 2, ``numpy.core.multiarray`` before), or None. Looked up by module
    name, not as ``np._core``: under numpy 1.x an OpenCV built for numpy 2
    imports the forward-compatibility package ``numpy._core``, which has no
    ``multiarray`` of its own."""
    import importlib

    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy 2 warns on numpy.core
                mod = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(mod, "_set_madvise_hugepage", None)
        if fn is not None:
            return fn
    return None


def release_memory() -> None:
    """Hand free heap pages back to the kernel (glibc ``malloc_trim``) when
    :func:`tune_allocator` is in effect: at the end of a long job (the
    propagate engine does when its stream ends), so a server process does not
    keep a job's peak. Calling it between the chunks of a frame loop keeps the
    peak flat with many malloc arenas, but with the two that
    :func:`tune_allocator` allows the peak stays flat without it (1080p
    ``vedit remove``: 1931 MB for 150 frames, 1960 MB for 600) and every chunk
    would fault its buffers in again (kernel time x3 on 300 frames)."""
    if _libc is not None:
        try:
            _libc.malloc_trim(0)
        except (AttributeError, OSError):  # pragma: no cover - no malloc_trim
            pass


# -- library noise -------------------------------------------------------------
# MediaPipe's C++ core (glog/absl, TFLite) writes straight to file descriptor 2,
# from its own threads and at any time during inference, not only when a model
# is created; an environment variable or Python logging cannot reach all of it.
_NOISE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-]+:\d+\]"  # glog / absl line prefix
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|INFO: Created TensorFlow Lite"
    rb"|INFO: Initialized TensorFlow Lite)")
_filter_thread: threading.Thread | None = None
# --debug (or VEDIT_DEBUG=1): native libraries' log lines stay on the terminal
_debug = os.environ.get("VEDIT_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def silence_library_noise(debug: bool = False) -> bool:
    """Keep third-party libraries' log lines (TFLite, absl/glog, protobuf
    warnings) off the terminal, so ``-q`` prints nothing but errors; a no-op
    with ``debug``. Lines reaching file descriptor 2 that look like a native
    library's log are dropped and every other line passes through unchanged
    (an ffmpeg or Python error still shows). Python's own ``sys.stderr`` keeps
    writing straight to the terminal. Returns whether the descriptor filter
    is in place (it is only installed when ``sys.stderr`` is descriptor 2).
    Once asked for ``debug`` (or with ``VEDIT_DEBUG=1``), later calls in the
    process (:func:`import_mediapipe`) leave the terminal alone too."""
    global _filter_thread, _debug
    _debug = _debug or bool(debug)
    if _debug:
        return False
    for k, v in (("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "3"), ("ABSL_MIN_LOG_LEVEL", "2")):
        os.environ.setdefault(k, v)
    warnings.filterwarnings("ignore", module=r"google\.protobuf")
    warnings.filterwarnings("ignore", message=r".*SymbolDatabase\.GetPrototype")
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")
    if _filter_thread is not None:
        return True
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return False
    except (AttributeError, OSError, ValueError):  # a test runner's captured stream
        return False
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = io.TextIOWrapper(io.FileIO(terminal, "w", closefd=False), encoding=sys.stderr.encoding,
                                  errors="backslashreplace", line_buffering=True, write_through=True)
    _filter_thread = threading.Thread(target=_pump, args=(read_end, terminal), name="vedit-stderr-filter",
                                      daemon=True)
    _filter_thread.start()
    atexit.register(_stop_filter, terminal)
    return True


def _pump(read_end: int, terminal: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        keep = [line for line in lines if not _NOISE.match(line)]
        if keep:
            os.write(terminal, b"\n".join(keep) + b"\n")
    if pending and not _NOISE.match(pending):
        os.write(terminal, pending)
    os.close(read_end)


def _stop_filter(terminal: int) -> None:
    """At exit: give descriptor 2 back to the terminal and let the filter drain."""
    try:
        os.dup2(terminal, 2)
    except OSError:
        return
    if _filter_thread is not None:
        _filter_thread.join(timeout=1.0)


_quiet = False


def set_quiet(quiet: bool) -> None:
    """Front ends with a ``--quiet`` switch turn informational lines off."""
    global _quiet
    _quiet = bool(quiet)


def info(message: str) -> None:
    """An informational line on stderr (what an op chose), unless quiet.
    Warnings and errors do not go through here: they always show."""
    if not _quiet:
        sys.stderr.write(message.rstrip("\n") + "\n")


def import_mediapipe():
    """The ``mediapipe`` module, with its native log lines (and the
    environment that quiets them, which must be set before its C++ core
    loads) kept off the terminal unless debug was asked for; raises
    ``MissingDependencyError`` naming the ``person`` extra without it."""
    silence_library_noise(_debug)
    return require("mediapipe", "person", "the person matte")
