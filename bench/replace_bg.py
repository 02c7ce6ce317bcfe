"""Benchmark for `vedit replace-bg`: speed at 1280x720 (person matte + image
plate following the camera, and other modes) against the decode+encode floor,
peak memory, and camera-following accuracy on a shot with known motion.

    python bench/replace_bg.py [--frames 60] [--skip-speed]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("VEDIT_SHARED_MEDIA", ROOT.parent / "shared" / "media"))


def machine() -> str:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
    return f"{os.cpu_count()} CPUs, {model}, load average {' '.join(load)}"


def texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (2, 8, 32):
        n = rng.random((h // s + 2, w // s + 2, 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] * (s / 42.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def make_720p(path: Path, n: int) -> None:
    from vedit.io import open_writer

    files = sorted((MEDIA / "tennis").glob("*.png"))
    with open_writer(str(path), 25, (1280, 720)) as w:
        for i in range(n):
            k = i % (2 * len(files) - 2)
            f = files[k if k < len(files) else 2 * len(files) - 2 - k]  # ping-pong
            img = cv2.resize(cv2.imread(str(f)), (1280, 720), interpolation=cv2.INTER_CUBIC)
            w.write(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def speed(n: int) -> None:
    from vedit.io import open_clip, open_writer
    from vedit.ops.replace_bg import run

    tmp = Path(tempfile.mkdtemp(prefix="vedit-bench-"))
    src = tmp / "tennis720.mp4"
    make_720p(src, n)
    plate = tmp / "plate.jpg"
    cv2.imwrite(str(plate), texture(1080, 1920, 5))
    t0 = time.perf_counter()
    clip = open_clip(str(src))
    with open_writer(str(tmp / "floor.mp4"), clip.fps, clip.size, like=clip) as w:
        for f in clip.frames():
            w.write(f)
    floor = n / (time.perf_counter() - t0)
    print(f"\n## speed, 1280x720, {n} frames ({machine()})")
    print(f"| mode | fps | x I/O floor |\n|---|---|---|\n| decode+encode floor | {floor:.1f} | 1.00 |")
    modes = [
        ("person matte + image plate (follows camera)", dict(background=str(plate))),
        ("person matte + image plate --static-plate", dict(background=str(plate), static_plate=True)),
        ("person matte + blur", dict(background="blur")),
        ("person matte + image plate --preview", dict(background=str(plate), preview=True)),
    ]
    for name, kw in modes:
        t0 = time.perf_counter()
        run(str(src), str(tmp / "out.mp4"), **kw)
        fps = n / (time.perf_counter() - t0)
        print(f"| {name} | {fps:.1f} | {fps / floor:.2f} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (all runs): {peak:.0f} MiB")


def following() -> None:
    """Known camera (pan + zoom + roll) over a photo-like texture, a moving
    subject, a textured plate: the plate's per-frame motion vs the truth."""
    from vedit.composite import CameraTracker, PlateRenderer
    from vedit.composite.plate import Background
    from vedit.composite.track import path_bounds

    h, w, n = 240, 432, 60
    world = texture(900, 1300, 3)
    Gs, frames, alphas = [], [], []
    for t in range(n):
        s, ang = 1 + 0.003 * t, 0.0015 * t
        c, si = np.cos(ang) * s, np.sin(ang) * s
        G = np.array([[c, -si, 200 + 4.0 * t], [si, c, 200 + 6 * np.sin(t / 6)], [0, 0, 1]])
        f = cv2.warpPerspective(world, G, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        a = np.zeros((h, w), np.float32)
        a[60:220, 150 + 2 * t % 100: 230 + 2 * t % 100] = 1
        f[a > 0] = (200, 60, 60)
        frames.append(f), alphas.append(a), Gs.append(G)
    truth = [np.linalg.inv(G) @ Gs[0] for G in Gs]
    t0 = time.perf_counter()
    tr = CameraTracker(w, h)
    for f, a in zip(frames, alphas):
        tr.update(f, a)
    ms = (time.perf_counter() - t0) / n * 1000
    box = path_bounds(tr.paths, w, h)
    bg = Background("image", "bench", image=texture(600, 900, 9))
    ren = PlateRenderer(bg, (w, h), 25, n, box=box, paths=tr.paths)
    ys, xs = np.mgrid[8:h - 8:8, 8:w - 8:8]
    P = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)[:, None, :]
    step_err, abs_err = [], []
    for t in range(1, n):
        true_step = truth[t] @ np.linalg.inv(truth[t - 1])
        plate_step = ren.transform(t) @ np.linalg.inv(ren.transform(t - 1))
        step_err.append(np.linalg.norm(cv2.perspectiveTransform(P, true_step) - cv2.perspectiveTransform(P, plate_step), axis=2).mean())
        abs_err.append(np.linalg.norm(cv2.perspectiveTransform(P, truth[t]) - cv2.perspectiveTransform(P, tr.paths[t]), axis=2).mean())
    true_motion = np.mean([np.linalg.norm(cv2.perspectiveTransform(P, truth[t] @ np.linalg.inv(truth[t - 1])) - P, axis=2).mean() for t in range(1, n)])
    print(f"\n## camera following, {w}x{h}, {n} frames, pan+zoom+roll, true motion {true_motion:.2f} px/frame")
    print(f"plate motion error per frame: mean {np.mean(step_err):.3f} px, max {np.max(step_err):.3f} px")
    print(f"accumulated position error: mean {np.mean(abs_err):.3f} px, max {np.max(abs_err):.3f} px")
    print(f"tracking cost {ms:.1f} ms/frame; failed steps {tr.failed}; --static-plate error = true motion "
          f"({true_motion:.2f} px/frame)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--skip-speed", action="store_true")
    a = ap.parse_args()
    print(f"machine: {machine()}, python {sys.version.split()[0]}")
    following()
    if not a.skip_speed:
        speed(a.frames)


if __name__ == "__main__":
    main()
