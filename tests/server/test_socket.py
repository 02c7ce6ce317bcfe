"""Over a real socket: the Python client, WebSocket events, the CLI, and a
server process killed mid-job and restarted."""
import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from vedit.io import open_clip
from vedit.server.client import AuthError, JobNotFound, ServerError, ServerUnavailableError, VeditClient


def test_client_roundtrip(live_server, clip_dir, h):
    url, token, _ = live_server
    root, seq, mask, frames = clip_dir
    c = VeditClient(url)  # token read from $VEDIT_HOME/token
    assert c.health()["ok"] is True
    job_id = c.submit(h.spec(seq, root / "out.mp4", delay=0.02, mask=str(mask)))
    seen = []
    job = c.wait(job_id, timeout=60, poll=0.02, on_progress=lambda j: seen.append(j["progress"]))
    assert job["status"] == "done" and job["output"] == str(root / "out.mp4")
    assert any(0 < p < 1 for p in seen)
    assert open_clip(job["output"]).frame_count == len(frames)
    assert c.list()[0]["id"] == job_id
    with pytest.raises(JobNotFound):
        c.get("nope")
    with pytest.raises(ServerError) as ei:
        c.submit(h.spec(seq, root / ".." / "x.mp4"))
    assert ei.value.status == 400
    with pytest.raises(AuthError):
        VeditClient(url, token="wrong").list()
    with pytest.raises(ServerUnavailableError, match="vedit serve"):
        VeditClient(f"http://127.0.0.1:{h.free_port()}", token="x").list()


def test_websocket_over_socket(live_server, clip_dir, h):
    import websockets

    url, token, _ = live_server
    root, seq, _, _ = clip_dir
    job_id = VeditClient(url, token).submit(h.spec(seq, root / "ws.mp4", delay=0.03))

    async def listen():
        msgs = []
        async with websockets.connect(url.replace("http", "ws") + f"/jobs/{job_id}/events?token={token}") as ws:
            async for raw in ws:
                msgs.append(json.loads(raw))
        return msgs

    msgs = asyncio.run(listen())
    assert msgs[-1]["event"] == "final" and msgs[-1]["status"] == "done"
    assert sum(m["status"] == "running" for m in msgs) >= 3

    async def refused():
        async with websockets.connect(url.replace("http", "ws") + f"/jobs/{job_id}/events?token={token}",
                                      origin="http://evil.example") as ws:
            await ws.recv()

    with pytest.raises(Exception) as ei:
        asyncio.run(refused())
    assert "403" in str(ei.value)


def test_jobs_cli(live_server, clip_dir, h):
    from vedit_cli.main import main

    url, token, _ = live_server
    root, seq, _, _ = clip_dir
    c = VeditClient(url, token)
    done_id = c.submit(h.spec(seq, root / "a.mp4"))
    c.wait(done_id, 60)
    slow_id = c.submit(h.spec(seq, root / "b.mp4", delay=0.3))
    r = CliRunner()
    out = r.invoke(main, ["jobs", "list", "--url", url])
    assert out.exit_code == 0, out.output
    assert done_id in out.output and slow_id in out.output and "done" in out.output
    out = r.invoke(main, ["jobs", "show", done_id, "--json", "--url", url])
    assert json.loads(out.output)["output"] == str(root / "a.mp4")
    out = r.invoke(main, ["jobs", "cancel", slow_id, "--url", url])
    assert out.exit_code == 0 and slow_id in out.output
    assert c.wait(slow_id, 30)["status"] == "cancelled"
    out = r.invoke(main, ["jobs", "show", "nope", "--url", url])
    assert out.exit_code == 1 and out.output.startswith("ERROR: no job with id")
    out = r.invoke(main, ["jobs", "list", "--url", f"http://127.0.0.1:{h.free_port()}"])
    assert out.exit_code == 1 and "no vedit server" in out.output and "Traceback" not in out.output


def _wait_health(url, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read()}")
        try:
            return VeditClient(url, token="-").health()
        except ServerUnavailableError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def test_vedit_serve_command(tmp_path, h):
    port = h.free_port()
    env = dict(os.environ, VEDIT_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "vedit_cli.main", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_health(f"http://127.0.0.1:{port}", proc)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"http://127.0.0.1:{port}" in out and str(tmp_path / "home" / "token") in out
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in out, out
    # a second server on a busy port: one clear line, exit 1
    import socket

    port = h.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        r = subprocess.run([sys.executable, "-m", "vedit_cli.main", "serve", "--port", str(port)],
                           capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("ERROR: --port") and "Traceback" not in r.stderr


SERVER_SCRIPT = """
import sys, time
from vedit.errors import InvalidInputError
from vedit.jobs import register_op
{op}
register_op("test-invert", invert_op, params={{"delay": "float", "fail": "bool", "mask": "path"}})
from vedit.server.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_mid_job_and_restart(tmp_path, clip_dir, h):
    root, seq, _, _ = clip_dir
    script = tmp_path / "server.py"
    script.write_text(SERVER_SCRIPT.format(op=textwrap.dedent(inspect.getsource(h.invert_op))))
    home = tmp_path / "home"
    env = dict(os.environ, VEDIT_HOME=str(home))
    port = h.free_port()
    url = f"http://127.0.0.1:{port}"

    def start():
        p = subprocess.Popen([sys.executable, str(script), "--port", str(port)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
        _wait_health(url, p)
        return p

    proc = start()
    try:
        c = VeditClient(url, (home / "token").read_text().strip())
        done_id = c.submit(h.spec(seq, root / "done.mp4"))
        assert c.wait(done_id, 60)["status"] == "done"
        slow_id = c.submit(h.spec(seq, root / "slow.mp4", delay=0.3))
        queued_id = c.submit(h.spec(seq, root / "queued.mp4"))
        while c.get(slow_id)["done"] < 2:
            time.sleep(0.05)
        assert any(f"vedit-job-{slow_id}" in p.name for p in root.iterdir()), "a temp output exists mid-job"
        proc.kill()  # SIGKILL: no shutdown handler runs
        proc.wait(30)

        proc = start()
        jobs = {j["id"]: j for j in c.list()}
        assert set(jobs) == {done_id, slow_id, queued_id}
        assert jobs[done_id]["status"] == "done" and os.path.exists(jobs[done_id]["output"])
        assert jobs[slow_id]["status"] == "failed"
        assert "interrupted" in jobs[slow_id]["error"] and jobs[slow_id]["error_type"] == "Interrupted"
        assert c.wait(queued_id, 60)["status"] == "done"
        assert not (root / "slow.mp4").exists()
        assert h.leftovers(root) == [] and not any(p.name.startswith(".") for p in root.iterdir())
    finally:
        proc.kill()
        proc.wait(30)


def test_polling_load_short(live_server, clip_dir, h):
    """A short version of bench/server.py: 150 polls/s for 3 s while a job runs,
    no failed request, the job completes."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "server.py"
    spec = importlib.util.spec_from_file_location("bench_server", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    url, token, _ = live_server
    root, seq, _, frames = clip_dir
    c = VeditClient(url, token)
    job_id = c.submit(h.spec(seq, root / "load.mp4", delay=0.2))
    lat, failures, wall = asyncio.run(bench.poll_load(url, token, job_id, 150, 3))
    assert failures == [] and len(lat) == 450
    assert c.wait(job_id, 60)["status"] == "done"
