"""The runner without HTTP: progress, cancel, atomic/unique outputs, restart recovery."""
import time

import numpy as np
import pytest

from vedit.io import open_clip
from vedit.jobs import JobStore, QueueFullError, Runner


@pytest.fixture
def runner(tmp_path):
    r = Runner(JobStore(str(tmp_path / "jobs.db")), persist_interval=0.0)
    r.start()
    yield r
    r.stop()


def test_done_with_progress_and_playable_output(runner, clip_dir, h):
    root, seq, _, frames = clip_dir
    job = runner.submit(h.spec(seq, root / "inv" , delay=0.01) | {"output": str(root / "inv") + "/"})
    seen = []
    while True:
        j = runner.get(job["id"])
        seen.append((j["status"], j["progress"], j["done"]))
        if j["status"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.005)
    assert j["status"] == "done", j
    assert j["progress"] == 1.0 and j["done"] == 12 and j["total"] == 12
    running = [p for s, p, _ in seen if s == "running"]
    assert running and 0 < max(running) < 1, "progress was never reported while running"
    assert running == sorted(running)
    out = open_clip(j["output"]).read_all()
    assert len(out) == 12
    # lossless PNG output: exactly the inverted input
    assert all(np.array_equal(o, 255 - f) for o, f in zip(out, frames))
    assert h.leftovers(root) == []


def test_range_and_mp4(runner, clip_dir, h):
    root, seq, _, frames = clip_dir
    job = runner.submit(h.spec(seq, root / "inv.mp4") | {"range": {"start": 3, "end": 9}})
    j = runner.wait(job["id"], 30)
    assert j["status"] == "done", j
    out = open_clip(j["output"]).read_all()
    assert len(out) == 6
    def err(a, b):
        return np.abs(a.astype(int) - (255 - b).astype(int)).mean()

    # lossy H.264 of a tiny noisy clip: the first frame is frame 3 inverted, not its neighbours
    assert err(out[0], frames[3]) < 20 and err(out[0], frames[3]) < 0.7 * err(out[0], frames[2])
    assert err(out[-1], frames[8]) < 0.7 * err(out[-1], frames[9])


def test_cancel_mid_job_leaves_nothing(runner, clip_dir, h):
    root, seq, _, _ = clip_dir
    job = runner.submit(h.spec(seq, root / "inv.mp4", delay=0.2))
    h.wait_status(runner.get, job["id"], ("running",))
    while runner.get(job["id"])["done"] < 2:
        time.sleep(0.01)
    runner.cancel(job["id"])
    j = runner.wait(job["id"], 30)
    assert j["status"] == "cancelled" and j["done"] < 12
    assert not (root / "inv.mp4").exists()
    assert h.leftovers(root) == []
    # idempotent
    assert runner.cancel(job["id"])["status"] == "cancelled"


def test_queued_jobs_run_in_order_and_cancel_when_queued(runner, clip_dir, h):
    root, seq, _, _ = clip_dir
    a = runner.submit(h.spec(seq, root / "a.mp4", delay=0.05))
    b = runner.submit(h.spec(seq, root / "a.mp4"))  # same name: claimed, so b gets a-1.mp4
    c = runner.submit(h.spec(seq, root / "c.mp4"))
    assert b["output"] == str(root / "a-1.mp4")
    assert runner.cancel(c["id"])["status"] == "cancelled"
    ja, jb = runner.wait(a["id"], 30), runner.wait(b["id"], 30)
    assert ja["status"] == jb["status"] == "done"
    assert jb["started"] >= ja["finished"] - 1e-3, "one worker runs jobs in submission order"
    assert not (root / "c.mp4").exists()


def test_target_created_meanwhile_is_not_overwritten(runner, clip_dir, h):
    root, seq, _, _ = clip_dir
    job = runner.submit(h.spec(seq, root / "x.mp4", delay=0.05))
    (root / "x.mp4").write_bytes(b"user file")
    j = runner.wait(job["id"], 30)
    assert j["status"] == "done" and j["output"] == str(root / "x-1.mp4")
    assert (root / "x.mp4").read_bytes() == b"user file"


def test_failure_is_reported_without_output(runner, clip_dir, h):
    root, seq, _, _ = clip_dir
    j = runner.wait(runner.submit(h.spec(seq, root / "f.mp4", fail=True))["id"], 30)
    assert j["status"] == "failed" and "asked to fail" in j["error"] and j["error_type"] == "InvalidInputError"
    assert not (root / "f.mp4").exists() and h.leftovers(root) == []


def test_queue_full(tmp_path, clip_dir, h):
    root, seq, _, _ = clip_dir
    r = Runner(JobStore(str(tmp_path / "q.db")), max_queue=2)  # not started: nothing drains
    r.submit(h.spec(seq, root / "1.mp4"))
    r.submit(h.spec(seq, root / "2.mp4"))
    with pytest.raises(QueueFullError):
        r.submit(h.spec(seq, root / "3.mp4"))


def test_recovery_after_crash(tmp_path, clip_dir, h):
    root, seq, _, _ = clip_dir
    db = str(tmp_path / "crash.db")
    r = Runner(JobStore(db))
    running = r.submit(h.spec(seq, root / "r.mp4"))
    queued = r.submit(h.spec(seq, root / "q.mp4"))
    done = r.submit(h.spec(seq, root / "d.mp4"))
    # as a killed process leaves it: one running with a temp file, one done
    tmp = root / f".r.vedit-job-{running['id']}.mp4"
    tmp.write_bytes(b"partial")
    r.store.update(running["id"], status="running", tmp_output=str(tmp))
    r.store.update(done["id"], status="done", progress=1.0)
    r.store.close()

    r2 = Runner(JobStore(db))
    r2.start()
    try:
        jr = r2.get(running["id"])
        assert jr["status"] == "failed" and "interrupted" in jr["error"]
        assert not tmp.exists()
        assert r2.get(done["id"])["status"] == "done"
        assert r2.wait(queued["id"], 30)["status"] == "done"
    finally:
        r2.stop()
    # with requeue_interrupted, the interrupted job runs again
    r3 = Runner(JobStore(db), requeue_interrupted=True)
    r3.store.update(running["id"], status="running", error=None)
    r3.start()
    try:
        assert r3.wait(running["id"], 30)["status"] == "done"
    finally:
        r3.stop()


@pytest.mark.parametrize("out_name", ["inv.mp4", "frames/"])
def test_staging_on_another_file_system_is_copied_in(clip_dir, h, tmp_path, monkeypatch, out_name):
    """Without /proc the op writes in the runner's private staging folder; when
    that is on another file system than the output (here tmpfs), the result is
    copied into the pinned folder under a temporary name, then linked into
    place: a whole output, nothing left in either folder."""
    import os

    import vedit.jobs.runner as runner_mod

    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to stage on")
    monkeypatch.setattr(runner_mod, "USE_PROC", False)
    staging = os.path.join(shm, f"vedit-test-staging-{os.getpid()}-{out_name.strip('/.')}")
    root, seq, _, frames = clip_dir
    r = Runner(JobStore(str(tmp_path / "jobs.db")), staging_dir=staging)
    r.start()
    try:
        j = r.wait(r.submit(h.spec(seq, root / "x") | {"output": f"{root}/{out_name}"})["id"], 30)
        assert j["status"] == "done", j
        assert j["output"].rstrip("/") == f"{root}/{out_name}".rstrip("/")
        out = open_clip(j["output"]).read_all()
        assert len(out) == 12
        if out_name.endswith("/"):  # lossless frames: exactly the inverted input
            assert all(np.array_equal(o, 255 - f) for o, f in zip(out, frames))
        assert os.listdir(staging) == [] and h.leftovers(root) == []
        assert oct(os.stat(staging).st_mode & 0o777) == "0o700"
    finally:
        r.stop()
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
