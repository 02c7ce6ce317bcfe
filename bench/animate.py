"""Benchmark of `vedit animate` (parallax and motion engines) at 1280x720.

    python bench/animate.py [--frames 75] [--quick] [--no-save]

Prints, per engine/move: render fps (engine only, and end to end through
``vedit.ops.animate.run`` writing H.264), frame-0 PSNR, unfilled pixels,
loop seam (|last − first| / median step), motion-brush direction error
(DIS flow vs the arrow) and change outside the region, and peak memory
(tracemalloc for the render loop, ru_maxrss for the process). Uses a frame of
the shared DAVIS footage (../shared/media) when present, else a synthetic
texture. The figures are also saved as bench/results/animate-DATE.json.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = Path(os.environ.get("VEDIT_SHARED_MEDIA", ROOT.parent / "shared" / "media"))

from vedit.engines.animate_motion import MotionAnimateEngine  # noqa: E402
from vedit.engines.animate_parallax import CAMERAS, ParallaxAnimateEngine  # noqa: E402
from vedit.flow import compute_flow  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, save  # noqa: E402

W, H = 1280, 720


def machine() -> str:
    model = cpu_model()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return f"{os.cpu_count()} CPUs, {model}, load average {load[0]:.2f} (1 min) at start, OpenCV threads {cv2.getNumThreads()}"


def load_inputs():
    """A 1280x720 still and a subject mask (tennis player), plus a 'water'
    region (lower third) for the motion brush."""
    src = MEDIA / "tennis" / "00000.png"
    msk = MEDIA / "tennis_mask" / "00000.png"
    if src.is_file() and msk.is_file():
        img = cv2.cvtColor(cv2.imread(str(src)), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(msk), cv2.IMREAD_GRAYSCALE)
        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_CUBIC)
        mask = (cv2.resize(mask, (W, H), interpolation=cv2.INTER_LINEAR) > 127).astype(np.uint8) * 255
        name = "DAVIS tennis frame 0 (432x240 upscaled)"
    else:
        rng = np.random.default_rng(0)
        img = cv2.resize(rng.integers(0, 255, (H // 16, W // 16, 3), dtype=np.uint8), (W, H),
                         interpolation=cv2.INTER_CUBIC)
        mask = np.zeros((H, W), np.uint8)
        cv2.circle(mask, (W // 2, H // 2), H // 4, 255, -1)
        name = "synthetic texture"
    region = np.zeros((H, W), np.uint8)
    region[int(H * 0.62):, :] = 255
    return img, mask, region, name


def psnr(a, b) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def gradient_energy(img) -> float:
    """Mean Sobel magnitude of the grey image, 8 px border excluded."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))[8:-8, 8:-8].mean())


def seam_ratio(frames) -> tuple[float, float]:
    steps = [float(np.abs(frames[i + 1].astype(np.float32) - frames[i]).mean()) for i in range(len(frames) - 1)]
    seam = float(np.abs(frames[-1].astype(np.float32) - frames[0]).mean())
    med = float(np.median(steps))
    return seam / max(med, 1e-9), med


def timed(output):
    tracemalloc.start()
    t0 = time.perf_counter()
    frames = list(output.frames)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return frames, dt, peak


def timed_fps_only(output) -> float:
    t0 = time.perf_counter()
    n = 0
    for _ in output.frames:
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--quick", action="store_true", help="fewer moves")
    ap.add_argument("--no-save", action="store_true", help="do not write the results under bench/results/")
    args = ap.parse_args()
    n = args.frames
    img, mask, region, name = load_inputs()
    print(f"machine: {machine()}")
    print(f"input: {name}, {W}x{H}, {n} frames per run")
    res: dict = {"input": name, "size": f"{W}x{H}", "frames": n, "quick": args.quick, "parallax": [], "motion": [],
                 "arrow_region": [], "memory": [], "end_to_end": []}

    print("\n== parallax (1 subject layer + inpainted background) ==")
    eng = ParallaxAnimateEngine()
    t0 = time.perf_counter()
    eng.build_layers(img, [mask])
    res["layer_build_s"] = round(time.perf_counter() - t0, 2)
    print(f"layer build (matte prep + inpaint behind subject): {res['layer_build_s']:.2f} s")
    print(f"{'camera':<10} {'loop':<5} {'fps':>6} {'psnr0':>7} {'seam/median':>11}")
    moves = ["dolly-in", "pan-left", "orbit"] if args.quick else list(CAMERAS)
    for cam in moves:
        for loop in (False, True):
            out = eng.animate(img, num_frames=n, mattes=[mask], camera=cam, loop=loop)
            # the layer build is counted apart; time the frame loop only
            frames, dt, _ = timed(out)
            ratio, _ = seam_ratio(frames)
            print(f"{cam:<10} {str(loop):<5} {n / dt:6.1f} {psnr(frames[0], img):7.1f} {ratio:11.2f}")
            res["parallax"].append({"camera": cam, "loop": loop, "fps": round(n / dt, 2),
                                    "psnr0": round(psnr(frames[0], img), 2), "seam_ratio": round(ratio, 3)})

    print("\n== motion brush (region = lower 38% of the frame) ==")
    arrow = (300, 600, 420, 570)
    want = np.degrees(np.arctan2(arrow[3] - arrow[1], arrow[2] - arrow[0]))
    inner = cv2.erode(region, np.ones((31, 31), np.uint8)) > 0
    inner[:, :40] = inner[:, -40:] = False
    print(f"{'loop':<5} {'fps':>6} {'psnr0':>7} {'seam/median':>11} {'dir err':>8} {'outside':>8}")
    for loop in (False, True):
        out = MotionAnimateEngine().animate(img, num_frames=n, arrows=[arrow], region=region, loop=loop)
        frames, dt, _ = timed(out)
        ratio, _ = seam_ratio(frames)
        errs = []
        # a bounce loop goes out along the arrow and back: its first half counts
        for t in range(5, (n // 2 - 2) if loop else n - 1, max(1, n // 12 if loop else n // 6)):
            fl = compute_flow(frames[t], frames[t + 1], preset="medium", max_side=640)
            v = np.median(fl[inner], axis=0)
            got = np.degrees(np.arctan2(v[1], v[0]))
            errs.append(abs((got - want + 180) % 360 - 180))
        outside = max(float(np.abs(f.astype(np.float32) - img)[region == 0].mean()) for f in frames)
        print(f"{str(loop):<5} {n / dt:6.1f} {psnr(frames[0], img):7.1f} {ratio:11.2f} {max(errs):7.1f}° "
              f"{outside:8.3f}")
        res["motion"].append({"loop": loop, "fps": round(n / dt, 2), "psnr0": round(psnr(frames[0], img), 2),
                              "seam_ratio": round(ratio, 3), "direction_err_deg": round(float(max(errs)), 2),
                              "outside_change": round(outside, 4)})
    print("\n== motion brush, one arrow, no region (region found under the arrow) ==")
    print(f"{'loop style':<10} {'fps':>6} {'region s':>8} {'min GE ratio':>12}")
    for style in ("bounce", "flow"):
        eng_m = MotionAnimateEngine(loop_style=style)
        t0 = time.perf_counter()
        regs = eng_m.arrow_regions(img, [arrow])
        t_reg = time.perf_counter() - t0
        out = eng_m.animate(img, num_frames=n, arrows=[arrow], regions=regs, loop=True)
        frames, dt, _ = timed(out)
        e0 = gradient_energy(frames[0])
        worst = min(gradient_energy(f) / e0 for f in frames)
        print(f"{style:<10} {n / dt:6.1f} {t_reg:8.2f} {worst:12.3f}   {out.stats['regions'][0]}")
        res["arrow_region"].append({"loop_style": style, "fps": round(n / dt, 2), "region_s": round(t_reg, 2),
                                    "min_gradient_energy_ratio": round(worst, 4)})

    print("\n== memory vs clip length (tracemalloc peak while streaming frames) ==")
    for label, make in (("motion loop", lambda m: MotionAnimateEngine().animate(
                            img, num_frames=m, arrows=[arrow], region=region, loop=True)),
                        ("parallax orbit loop", lambda m: eng.animate(img, num_frames=m, mattes=[mask],
                                                                       camera="orbit", loop=True))):
        for m in (n, 4 * n):
            tracemalloc.start()
            for _ in make(m).frames:
                pass
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{label:<20} {m:5d} frames: peak {peak / 2**20:.1f} MB")
            res["memory"].append({"what": label, "frames": m, "peak_mb": round(peak / 2**20, 1)})

    print("\n== end to end: vedit.ops.animate.run → H.264 mp4 (decode still + render + encode) ==")
    from vedit.ops.animate import run

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "still.png")
        cv2.imwrite(src, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        mpath = os.path.join(d, "subj.png")
        cv2.imwrite(mpath, mask)
        rpath = os.path.join(d, "water.png")
        cv2.imwrite(rpath, region)
        for label, kw in (("parallax dolly-in", dict(engine="parallax", region=mpath, camera="dolly-in")),
                          ("motion loop", dict(engine="motion", region=rpath, motion=[arrow], loop=True))):
            t0 = time.perf_counter()
            run(src, os.path.join(d, label.replace(" ", "_") + ".mp4"), frames=n, **kw)
            dt = time.perf_counter() - t0
            print(f"{label:<18} {n / dt:6.1f} fps ({dt:.2f} s for {n} frames, includes layer build / x264)")
            res["end_to_end"].append({"what": label, "fps": round(n / dt, 2), "seconds": round(dt, 2)})
    print(f"\nprocess peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"load average now {os.getloadavg()[0]:.2f}")
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if not args.no_save:
        print(f"saved {os.path.relpath(save('animate', res), ROOT)}")


if __name__ == "__main__":
    main()
