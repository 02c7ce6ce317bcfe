"""vedit.runtime: the allocator settings the CLI and server apply at start
take effect here and reach child processes (ffmpeg), without overriding a
user's own choice; release_memory is safe to call at any time."""
from __future__ import annotations

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
