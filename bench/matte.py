"""Matte benchmark: person precision/recall on DAVIS tennis, edge stability
with and without temporal smoothing, keyframe tracking IoU (tennis,
bmx-trees), and person-matte speed at 1280x720.   python bench/matte.py"""
from __future__ import annotations

import glob
import os
import resource
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
MEDIA = os.environ.get("VEDIT_SHARED_MEDIA", os.path.join(ROOT, "..", "shared", "media"))

from vedit.io import open_clip, open_writer  # noqa: E402
from vedit.masks import matte_stream  # noqa: E402
from vedit.masks.refine import edge_instability  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model  # noqa: E402


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} CPUs, {model}, load avg {os.getloadavg()[0]:.2f}"


def gts(name):
    return [cv2.imread(p, 0) > 127 for p in sorted(glob.glob(os.path.join(MEDIA, name + "_mask", "*.png")))]


def main():
    print("machine:", machine())
    # 1. person precision / recall
    clip = open_clip(os.path.join(MEDIA, "tennis"))
    g = gts("tennis")
    P, R, empty = [], [], 0
    t = time.perf_counter()
    alphas = []
    for a, m in zip(matte_stream(clip, "person"), g):
        p = a > 0.5
        empty += not p.any()
        inter = (p & m).sum()
        P.append(inter / max(p.sum(), 1))
        R.append(inter / m.sum())
        alphas.append(a)
    dt = time.perf_counter() - t
    print(f"tennis person matte: precision {np.mean(P):.3f} recall {np.mean(R):.3f} "
          f"(min P {min(P):.3f}), empty frames {empty}/{len(P)}, {len(P) / dt:.1f} fps at 432x240")
    # 2. stability with / without temporal smoothing
    frames = clip.read_all()
    raw = list(matte_stream(clip, "person", smooth=False))
    s0, s1 = edge_instability(raw, frames), edge_instability(alphas, frames)
    print(f"edge instability (flow-aligned |da| in edge band): no smoothing {s0:.4f}, "
          f"smoothing {s1:.4f} -> {100 * (1 - s1 / s0):.1f}% lower")
    # 3. tracking from the frame-0 mask only
    for name in ("tennis", "bmx-trees"):
        c = open_clip(os.path.join(MEDIA, name))
        gg = gts(name)
        key = sorted(glob.glob(os.path.join(MEDIA, name + "_mask", "*.png")))[0]
        t = time.perf_counter()
        ious = [((a > 0.5) & m).sum() / max(((a > 0.5) | m).sum(), 1)
                for a, m in zip(matte_stream(c, "track", mask=key), gg)]
        print(f"{name} tracked from frame 0: mean IoU {np.mean(ious):.3f} over {len(ious)} frames "
              f"(last 10: {np.mean(ious[-10:]):.3f}), {len(ious) / (time.perf_counter() - t):.1f} fps")
    # 4. speed at 1280x720
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "tennis720.mp4")
        with open_writer(src, 25, (1280, 720)) as w:
            for f in frames:
                w.write(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC))
        c720 = open_clip(src)
        t = time.perf_counter()
        n = sum(1 for _ in c720.frames())
        dec = n / (time.perf_counter() - t)
        t = time.perf_counter()
        n = sum(1 for _ in matte_stream(c720, "person"))
        fps = n / (time.perf_counter() - t)
        t = time.perf_counter()
        n = sum(1 for _ in matte_stream(c720, "person", refine=False, smooth=False))
        fps_raw = n / (time.perf_counter() - t)
        from vedit.ops.matte import run

        t = time.perf_counter()
        run(src, os.path.join(tmp, "m") + "/", person=True)
        fps_e2e = n / (time.perf_counter() - t)
        print(f"1280x720 person matte: {fps:.1f} fps (decode only {dec:.1f} fps; without refine/smooth "
              f"{fps_raw:.1f} fps; end to end with PNG writing {fps_e2e:.1f} fps)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; machine: {machine()}")


if __name__ == "__main__":
    main()
