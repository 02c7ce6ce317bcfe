"""Load test for the job server: N status polls per second for D seconds while a
job runs; prints latency percentiles, failures, and whether the job completed.

    python bench/server.py                      # 200 polls/s for 30 s, synthetic job
    python bench/server.py --rate 400 --seconds 10
    python bench/server.py --op remove          # the real remove op on a synthetic pan (needs vedit.ops.remove)
    python bench/server.py --no-save            # do not write bench/results/server-DATE.json

The server runs in its own process (``python -m vedit.server`` plus a
registered synthetic op), exactly as panels see it; polls are open-loop (fired
on schedule, not after the previous answer) over keep-alive connections.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, save  # noqa: E402

SERVER = r"""
import sys, time
from vedit.jobs import register_op

def slow_invert(input, output, *, start=None, end=None, callback=None, delay=0.1, **_):
    from vedit.io import open_clip, open_writer
    clip = open_clip(input, start=start, end=end)
    n = clip.frame_count
    with open_writer(output, clip.fps, clip.size, like=clip) as w:
        for i, f in enumerate(clip.frames()):
            w.write(255 - f)
            callback(i + 1, n, "invert")
            time.sleep(delay)
    return w.path

register_op("bench-invert", slow_invert, params={"delay": "float"})
from vedit.server.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def machine() -> str:
    model = cpu_model()
    la = os.getloadavg()
    return f"{os.cpu_count()} CPUs ({model}); load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(folder: str, n: int, w: int = 320, h: int = 180) -> None:
    rng = np.random.default_rng(0)
    world = cv2.resize(rng.integers(0, 255, (h // 8, (w + 2 * n) // 8, 3), dtype=np.uint8),
                       (w + 2 * n, h), interpolation=cv2.INTER_CUBIC)
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), world[:, 2 * i: 2 * i + w])
    mask = np.zeros((h, w), np.uint8)
    mask[h // 3: 2 * h // 3, w // 3: w // 2] = 255
    cv2.imwrite(os.path.join(os.path.dirname(folder), "mask.png"), mask)


def vm_hwm_mib(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")  # json.dump writes NaN, which json.load reads back


async def poll_load(url: str, token: str, job_id: str, rate: float, seconds: float, conns: int = 16):
    """Open-loop GETs over ``conns`` keep-alive HTTP/1.1 connections (a minimal
    client, so the load generator is not the bottleneck on a 2-core machine)."""
    host, port = url.split("//")[1].split(":")
    req = (f"GET /jobs/{job_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode()
    queue: asyncio.Queue = asyncio.Queue()
    lat: list[float] = []
    failures: list[str] = []

    async def worker():
        reader = writer = None
        while True:
            t_sched = await queue.get()
            if t_sched is None:
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(req)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await asyncio.wait_for(reader.readexactly(length), 10)
                if status != 200:
                    failures.append(f"HTTP {status}")
                else:
                    json.loads(body)
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                failures.append(type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
            # latency from when the poll was due: queueing in the client counts too
            lat.append(time.perf_counter() - t_sched)
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(conns)]
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(due)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start
    return lat, failures, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200.0, help="status polls per second")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to poll")
    ap.add_argument("--op", default="bench-invert", choices=["bench-invert", "remove"])
    ap.add_argument("--no-save", action="store_true", help="do not write the results under bench/results/")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="vedit-bench-server-")
    home = os.path.join(work, "home")
    seq = os.path.join(work, "clips", "pan")
    frames = 240 if args.op == "bench-invert" else 120
    make_clip(seq, frames)
    script = os.path.join(work, "server.py")
    open(script, "w").write(SERVER)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, VEDIT_HOME=home)
    proc = subprocess.Popen([sys.executable, script, "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from vedit.server.client import ServerUnavailableError, VeditClient

    try:
        for _ in range(600):
            try:
                VeditClient(url, token="-").health()
                break
            except ServerUnavailableError:
                time.sleep(0.1)
        token = open(os.path.join(home, "token")).read().strip()
        c = VeditClient(url, token)
        params = {"delay": args.seconds * 1.15 / frames} if args.op == "bench-invert" else \
            {"mask": os.path.join(work, "clips", "mask.png")}
        spec = {"op": args.op, "input": seq, "output": os.path.join(work, "clips", "out.mp4"), "params": params}
        t0 = time.perf_counter()
        job_id = c.submit(spec)
        print(f"machine: {machine()}")
        print(f"job {job_id}: op {args.op}, {frames} frames 320x180; polling {args.rate:.0f}/s for {args.seconds:.0f} s")
        lat, failures, wall = asyncio.run(poll_load(url, token, job_id, args.rate, args.seconds))
        during = c.get(job_id)
        job = c.wait(job_id, timeout=600)
        job_s = time.perf_counter() - t0
        ms = np.array(lat) * 1000
        print(f"requests: {len(lat)} in {wall:.1f} s = {len(lat) / wall:.1f}/s; failed: {len(failures)}"
              + (f" ({', '.join(sorted(set(failures)))})" if failures else ""))
        print("latency ms: " + "  ".join(f"p{q}={np.percentile(ms, q):.1f}" for q in (50, 90, 95, 99))
              + f"  max={ms.max():.1f}  mean={ms.mean():.1f}")
        print(f"job status at end of load: {during['status']} ({100 * during['progress']:.0f}%); "
              f"final: {job['status']} after {job_s:.1f} s; output {job['output']}")
        if job["status"] == "done":
            from vedit.io import open_clip

            print(f"output frames: {open_clip(job['output']).frame_count} (expected {frames})")
        print(f"server peak RSS: {vm_hwm_mib(proc.pid):.0f} MiB; load average after: "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        figures = {"op": args.op, "target_rate": args.rate, "seconds": args.seconds, "requests": len(lat),
                   "failed": len(failures), "failure_kinds": sorted(set(failures)), "rate": round(len(lat) / wall, 1),
                   **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 95, 99)},
                   "max_ms": round(float(ms.max()), 2), "job": job["status"], "job_s": round(job_s, 1),
                   "server_peak_rss_mib": round(vm_hwm_mib(proc.pid), 1)}
        print(json.dumps(figures))
        if not args.no_save:
            print(f"saved {os.path.relpath(save('server', figures), os.getcwd())}")
        return 0 if not failures and job["status"] == "done" else 1
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
