"""Media checks at submit run in helper processes: one that hangs is killed
(with what it started) at its timeout, the submit gets a 422 on time, and no
thread or process is left behind."""
from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from tests.jobs import probes
from vedit.jobs import JobStore, PathPolicy, Runner, SpecError, validate_spec
from vedit.jobs.probe import POOL
from vedit.ops import register_op, unregister_op


@pytest.fixture
def probe_ops(test_op):
    register_op("test-hang", lambda *a, **k: "", params={"marker": "str"}, check_inputs=probes.hang)
    register_op("test-fine", lambda *a, **k: "", params={"marker": "str"}, check_inputs=probes.fine)
    yield
    unregister_op("test-hang")
    unregister_op("test-fine")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_hung_media_check_is_killed_on_time(clip_dir, tmp_path, probe_ops):
    root, seq, _, _ = clip_dir
    policy = PathPolicy(probe_timeout=1.0)
    ok = {"op": "test-fine", "input": str(seq), "output": str(root / "a.mp4"), "params": {"marker": "x"}}
    validate_spec(ok, policy)  # a helper is started and ready
    with pytest.raises(SpecError, match="params.marker: refused by the check"):  # its error keeps the param
        validate_spec({**ok, "params": {"marker": "refuse"}}, policy)
    me = psutil.Process()
    children = {p.pid for p in me.children(recursive=True)}
    threads = threading.active_count()
    marker = tmp_path / "pids"
    t0 = time.monotonic()
    with pytest.raises(SpecError, match="could not be read within 1 s"):
        validate_spec({**ok, "op": "test-hang", "params": {"marker": str(marker)}}, policy)
    took = time.monotonic() - t0
    assert took < 1.5, took
    helper, grandchild = map(int, marker.read_text().split())
    deadline = time.monotonic() + 5
    while not (_gone(helper) and _gone(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(helper) and _gone(grandchild)  # killed, with what it started
    assert helper not in {p.pid for p in me.children(recursive=True)}  # and reaped
    assert {p.pid for p in me.children(recursive=True)} <= children
    assert threading.active_count() == threads
    t0 = time.monotonic()
    validate_spec(ok, policy)  # the next check is answered (by a new helper)
    assert time.monotonic() - t0 < 1.0 + 60  # a fresh helper's start is not counted against the check


def test_runner_submit_of_a_hung_check_is_422_and_the_next_is_accepted(clip_dir, tmp_path, probe_ops, h):
    root, seq, _, _ = clip_dir
    r = Runner(JobStore(str(tmp_path / "j.db")), policy=PathPolicy(probe_timeout=0.5))
    r.submit({"op": "test-fine", "input": str(seq), "output": str(root / "warm.mp4"), "params": {"marker": "x"}})
    t0 = time.monotonic()
    with pytest.raises(SpecError) as err:
        r.submit({"op": "test-hang", "input": str(seq), "output": str(root / "a.mp4"),
                  "params": {"marker": str(tmp_path / "pids")}})
    assert err.value.status == 422 and time.monotonic() - t0 < 1.0
    job = r.submit(h.spec(seq, root / "b.mp4") | {"range": {"start": 0, "end": 4}})  # frame count: a helper too
    assert job["status"] == "queued"
    with pytest.raises(SpecError, match="range.end = 40: the input has 12 frames"):
        r.submit(h.spec(seq, root / "c.mp4") | {"range": {"start": 0, "end": 40}})


def test_pool_helpers_end_with_the_pool():
    POOL.warm()
    pids = POOL.pids()
    assert pids
    POOL.close()
    assert POOL.pids() == [] and all(_gone(p) for p in pids)
    assert not {p.pid for p in psutil.Process().children()} & set(pids)
    assert os.getpid() not in pids
