"""vedit.runtime: the allocator settings the CLI and server apply at start
take effect here and reach child processes (ffmpeg), without overriding a
user's own choice; release_memory is safe to call at any time."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str) -> None:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_allocator_applies_and_reaches_children():
    _run("import os, subprocess\n"
         "os.environ.pop('MALLOC_MMAP_THRESHOLD_', None); os.environ.pop('MALLOC_TRIM_THRESHOLD_', None)\n"
         "from vedit.runtime import release_memory, tune_allocator\n"
         "assert tune_allocator() is True\n"
         "assert tune_allocator() is True  # idempotent\n"
         "release_memory()\n"
         "out = subprocess.run(['sh', '-c', 'echo $MALLOC_MMAP_THRESHOLD_ $MALLOC_TRIM_THRESHOLD_'],\n"
         "                     capture_output=True, text=True).stdout.split()\n"
         "assert out == [str(32 << 20), str(512 << 20)], out\n")


def test_user_choice_is_kept_and_release_is_safe_untuned():
    _run("import os\n"
         "from vedit.runtime import release_memory, tune_allocator\n"
         "release_memory()  # before tuning: a no-op\n"
         "os.environ['MALLOC_TRIM_THRESHOLD_'] = '1234'\n"
         "tune_allocator()\n"
         "assert os.environ['MALLOC_TRIM_THRESHOLD_'] == '1234'\n")


_ARENAS = ("import ctypes, threading, numpy as np\n"
           "{setup}\n"
           "bar = threading.Barrier(4); keep = []\n"
           "def work():\n"
           "    bar.wait()  # all four threads allocate at the same time\n"
           "    keep.append(np.ones(1 << 18))\n"
           "    bar.wait()\n"
           "ts = [threading.Thread(target=work) for _ in range(4)]\n"
           "[t.start() for t in ts]; [t.join() for t in ts]\n"
           "ctypes.CDLL('libc.so.6').malloc_stats()\n")


def _arenas(setup: str) -> int:
    r = subprocess.run([sys.executable, "-c", _ARENAS.format(setup=setup)], capture_output=True, text=True,
                       env={k: v for k, v in __import__("os").environ.items() if k != "MALLOC_ARENA_MAX"})
    assert r.returncode == 0, r.stderr
    return sum(1 for line in r.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_allocator_caps_arenas():
    """Worker threads share at most two malloc arenas once tuned (each extra
    arena's heaps are unmapped and faulted in again burst after burst)."""
    assert _arenas("from vedit.runtime import tune_allocator; assert tune_allocator()") <= 2
    assert _arenas("pass") > 2  # the check can fail: untuned, threads get arenas of their own


def test_library_noise_silenced_errors_kept():
    """Native log lines written to descriptor 2 are dropped, other lines pass."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from vedit.runtime import silence_library_noise\n"
        "assert silence_library_noise(False)\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'W0000 00:00:1796544124.328009    2554 inference_feedback_manager.cc:114] Feedback\\n')\n"
        "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "os.write(2, b'ffmpeg: real problem\\n')\n"
        "sys.stderr.write('ERROR: kept\\n')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert sorted(res.stderr.strip().splitlines()) == ["ERROR: kept", "ffmpeg: real problem"]
    debug = subprocess.run([sys.executable, "-c", code.replace("assert silence_library_noise(False)",
                                                               "silence_library_noise(True)")],
                           capture_output=True, text=True, timeout=60)
    assert "inference_feedback_manager" in debug.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
@pytest.mark.parametrize("before", ["", "import cv2\n"])
def test_tune_allocator_turns_off_numpy_huge_pages_unless_asked(before):
    """Also after OpenCV is loaded, as every ``vedit`` command has it: under
    numpy 1.x an OpenCV built for numpy 2 creates ``numpy._core`` (with no
    ``multiarray``), and a lookup through ``np._core`` silently did nothing."""
    probe = (before + "import warnings\n"
             "warnings.simplefilter('ignore')\n"
             "import numpy.core.multiarray as mod\n"
             "from vedit.runtime import tune_allocator\n"
             "assert tune_allocator()\n"
             "print(mod._set_madvise_hugepage(True))\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False"]
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       env={**env, "NUMPY_MADVISE_HUGEPAGE": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
@pytest.mark.parametrize("preset, threads", [(None, "1"), ("2", "2")])
def test_the_vedit_program_gives_numpy_one_blas_thread(preset, threads):
    """The CLI asks OpenBLAS for one thread before numpy loads (its worker
    only busy-waits beside the engines' own threads); a count the user set
    wins. Checked by the variable the program sees and by the threads numpy
    leaves running after its import."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    code = ("import os, sys; import vedit_cli.main; import numpy; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seen, tasks = r.stdout.split()
    assert seen == threads
    if preset is None:
        assert int(tasks) == 1  # no BLAS worker beside the main thread
