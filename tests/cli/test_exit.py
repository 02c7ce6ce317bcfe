"""The ``vedit`` program's exit: the command's status and its whole output,
without waiting for the interpreter's teardown, never cutting short a thread
that is still working, and silent when its reader goes away."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_media" / "pan.mp4"


def _vedit(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vedit_cli.main", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def test_status_and_the_whole_output_come_back():
    r = _vedit("probe", str(SAMPLE))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split(":", 1)[1].strip().endswith("pan.mp4") and any("frames" in x for x in lines)
    assert lines[-1].strip()  # the last line arrived: stdout was flushed before the quick exit
    r = _vedit("probe", str(SAMPLE.with_name("missing.mp4")))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("ERROR:")


def test_a_thread_still_working_is_waited_for(tmp_path):
    """A command that leaves a non-daemon thread working: the program waits
    for it (normal shutdown) instead of ending the process under it."""
    flag = tmp_path / "done.txt"
    code = textwrap.dedent(f"""
        import threading, time, click
        import vedit_cli.main as M

        @click.command()
        def late():
            def work():
                time.sleep(0.5)
                open({str(flag)!r}, "w").write("finished")
            threading.Thread(target=work).start()

        M.main = late
        M.run()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert flag.read_text() == "finished"


def test_exit_handlers_run_before_the_quick_exit(tmp_path):
    flag = tmp_path / "atexit.txt"
    code = textwrap.dedent(f"""
        import atexit, click
        import vedit_cli.main as M

        @click.command()
        def job():
            atexit.register(lambda: open({str(flag)!r}, "w").write("ran"))
            raise SystemExit(3)

        M.main = job
        M.run()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and flag.read_text() == "ran"


def test_a_reader_that_goes_away_is_not_an_error():
    """``vedit probe x | head -1``: the pipe closes before probe writes; no
    'ERROR: BrokenPipeError' line on the terminal."""
    p = subprocess.Popen([sys.executable, "-m", "vedit_cli.main", "probe", str(SAMPLE)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # gone before the interpreter has even started
    err = p.stderr.read()
    p.wait(timeout=120)
    assert "ERROR" not in err and "Traceback" not in err
    assert p.returncode in (0, 1)
