"""vedit.runtime.tune_allocator: the allocator settings the CLI and server
apply at start take effect here and reach child processes (ffmpeg)."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_allocator_applies_and_reaches_children():
    code = (
        "import os, subprocess, sys\n"
        "os.environ.pop('MALLOC_MMAP_THRESHOLD_', None); os.environ.pop('MALLOC_TRIM_THRESHOLD_', None)\n"
        "from vedit.runtime import tune_allocator\n"
        "assert tune_allocator() is True\n"
        "assert tune_allocator() is True  # idempotent\n"
        "out = subprocess.run(['sh', '-c', 'echo $MALLOC_MMAP_THRESHOLD_ $MALLOC_TRIM_THRESHOLD_'],\n"
        "                     capture_output=True, text=True).stdout.split()\n"
        "print(out)\n"
        "assert out == [str(32 << 20), str(512 << 20)], out\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_user_choice_is_kept():
    """A value the user set is not overridden for child processes."""
    code = (
        "import os\n"
        "os.environ['MALLOC_TRIM_THRESHOLD_'] = '1234'\n"
        "from vedit.runtime import tune_allocator\n"
        "tune_allocator()\n"
        "assert os.environ['MALLOC_TRIM_THRESHOLD_'] == '1234'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
