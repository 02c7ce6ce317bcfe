"""Matte benchmark: person precision/recall on DAVIS tennis, edge stability
with and without temporal smoothing, keyframe tracking IoU (tennis,
bmx-trees: one keyframe, three keyframes, the bmx box prompt), and
person-matte speed at 1280x720 for one person and for four (the synthetic
crowd of tests/masks/crowd.py).

    python bench/matte.py                 # everything
    python bench/matte.py --skip-speed    # all but the 1280x720 speed (bench/person_speed.py has it)
    python bench/matte.py track           # tracking only
    python bench/matte.py speed           # 1280x720 speed only (one person, four people)

Each run also saves its figures as bench/results/matte-DATE.json (``--no-save``: not).
"""
from __future__ import annotations

import argparse
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
from vedit.masks.person import person_matte_stream  # noqa: E402
from vedit.masks.refine import edge_instability  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, save  # noqa: E402


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} CPUs, {model}, load avg {os.getloadavg()[0]:.2f}"


def load() -> str:
    """Load averages (1, 5, 15 min) as `uptime` prints them: other engineers share the CPUs."""
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(stream):
    """Frames, wall seconds and process CPU seconds to exhaust ``stream``."""
    t, c = time.perf_counter(), time.process_time()
    n = sum(1 for _ in stream)
    return n, time.perf_counter() - t, time.process_time() - c


def gts(name):
    return [cv2.imread(p, 0) > 127 for p in sorted(glob.glob(os.path.join(MEDIA, name + "_mask", "*.png")))]


def bench_tracking(names=("tennis", "bmx-trees")) -> dict:
    """Keyframe tracking from the frame-0 mask only (no model): mean IoU with
    the DAVIS masks through the full matte pipeline, and the tracker's own speed."""
    from vedit.masks.track import track_frames

    res: dict = {}

    for name in names:
        c = open_clip(os.path.join(MEDIA, name))
        gg = gts(name)
        key = sorted(glob.glob(os.path.join(MEDIA, name + "_mask", "*.png")))[0]
        t = time.perf_counter()
        ious = [((a > 0.5) & m).sum() / max(((a > 0.5) | m).sum(), 1)
                for a, m in zip(matte_stream(c, "track", mask=key), gg)]
        dt = time.perf_counter() - t
        frames = c.read_all()
        t = time.perf_counter()
        raw = track_frames(frames, 0, gg[0].astype(np.float32))
        dt_raw = time.perf_counter() - t
        raw_iou = np.mean([((a > 0.5) & m).sum() / max(((a > 0.5) | m).sum(), 1) for a, m in zip(raw, gg)])
        print(f"{name} tracked from frame 0: mean IoU {np.mean(ious):.3f} over {len(ious)} frames "
              f"(last 10: {np.mean(ious[-10:]):.3f}, min {np.min(ious):.3f}), {len(ious) / dt:.1f} fps; "
              f"tracker alone (no refine/smooth): mean IoU {raw_iou:.3f}, {dt_raw:.1f} s for "
              f"{len(frames)} frames at {frames[0].shape[1]}x{frames[0].shape[0]}")
        r = res[name] = {"frame0_iou_mean": round(float(np.mean(ious)), 4), "frame0_iou_min": round(float(np.min(ious)), 4),
                         "frame0_iou_last10": round(float(np.mean(ious[-10:])), 4), "fps": round(len(ious) / dt, 2),
                         "tracker_alone_iou_mean": round(float(raw_iou), 4)}
        masks = sorted(glob.glob(os.path.join(MEDIA, name + "_mask", "*.png")))
        keys = [0, len(masks) // 2, len(masks) - 1]
        ious = [((a > 0.5) & m).sum() / max(((a > 0.5) | m).sum(), 1)
                for a, m in zip(matte_stream(c, "track", mask=[masks[k] for k in keys], frame=keys), gg)]
        print(f"{name} keyframes {keys}: mean IoU {np.mean(ious):.3f}, min {np.min(ious):.3f}")
        r.update(keyframes=keys, keyframes_iou_mean=round(float(np.mean(ious)), 4),
                 keyframes_iou_min=round(float(np.min(ious)), 4))
    c = open_clip(os.path.join(MEDIA, "bmx-trees"))
    ious = np.array([((a > 0.5) & m).sum() / max(((a > 0.5) | m).sum(), 1)
                     for a, m in zip(matte_stream(c, "grabcut", box=(182, 58, 100, 130)), gts("bmx-trees"))])
    print(f"bmx-trees --box 182,58,100,130 --frame 0: mean IoU {ious.mean():.3f}, from frame 66 on min "
          f"{ious[66:].min():.3f} (frames below 0.3: {np.flatnonzero(ious < 0.3).tolist()})")
    res["bmx-trees box"] = {"box": [182, 58, 100, 130], "iou_mean": round(float(ious.mean()), 4),
                            "min_from_66": round(float(ious[66:].min()), 4),
                            "argmin_from_66": 66 + int(np.argmin(ious[66:])),
                            "frames_below_0.3": np.flatnonzero(ious < 0.3).tolist()}
    return res


def bench_speed(frames=None) -> dict:
    """Person matte speed at 1280x720: one person (tennis upscaled) and four
    (the synthetic crowd), with the load average next to each number."""
    import importlib.util

    if frames is None:
        frames = open_clip(os.path.join(MEDIA, "tennis")).read_all()
    spec = importlib.util.spec_from_file_location("crowd", os.path.join(ROOT, "tests", "masks", "crowd.py"))
    crowd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crowd)
    from pathlib import Path

    four, _ = crowd.build(Path(MEDIA), n=40)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "tennis720.mp4")
        with open_writer(src, 25, (1280, 720)) as w:
            for f in frames:
                w.write(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC))
        src4 = os.path.join(tmp, "crowd720.mp4")
        with open_writer(src4, 25, (1280, 720)) as w:
            for f in four:
                w.write(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC))
        c720, c4 = open_clip(src), open_clip(src4)
        n, dt, cpu = timed(c720.frames())
        print(f"1280x720 decode only: {n / dt:.1f} fps, {1000 * cpu / n:.1f} ms CPU a frame ({load()})")
        rows = [{"what": "decode only", "fps": round(n / dt, 2), "cpu_ms": round(1000 * cpu / n, 1), "load": load()}]
        for label, stream in (("one person, person matte (shadow, props)", lambda: person_matte_stream(c720)),
                              ("one person, --no-shadow --no-props",
                               lambda: person_matte_stream(c720, include_shadow=False, with_props=False)),
                              ("one person, without refine/smooth",
                               lambda: person_matte_stream(c720, refine=False, smooth=False)),
                              ("four people, person matte (shadow, props)", lambda: person_matte_stream(c4))):
            n, dt, cpu = timed(stream())
            # CPU ms a frame (all threads) barely depends on the load; fps does
            print(f"1280x720 {label}: {n / dt:.1f} fps, {1000 * cpu / n:.1f} ms CPU a frame ({load()})")
            rows.append({"what": label, "fps": round(n / dt, 2), "cpu_ms": round(1000 * cpu / n, 1), "load": load()})
        from vedit.ops.matte import run

        t = time.perf_counter()
        run(src, os.path.join(tmp, "m") + "/", person=True)
        fps = c720.frame_count / (time.perf_counter() - t)
        print(f"1280x720 end to end (vedit matte --person, PNG writing): {fps:.1f} fps ({load()})")
        rows.append({"what": "end to end (vedit matte --person, PNG writing)", "fps": round(fps, 2), "load": load()})
    return {"size": "1280x720", "rows": rows}


def quality() -> dict:
    """Person precision / recall on tennis (the matte ``vedit matte --person``
    writes: person + cast shadow + margin, and the person alone) and the edge
    instability with and without temporal smoothing."""
    clip = open_clip(os.path.join(MEDIA, "tennis"))
    g = gts("tennis")
    res: dict = {"tennis": {}}
    for key, label, kw in (("default", "default (shadow, margin 1.25% of height)", {}),
                           ("no-shadow margin-0", "--no-shadow --margin 0", {"include_shadow": False, "margin": 0})):
        P, R, empty = [], [], 0
        t = time.perf_counter()
        alphas = []
        for a, m in zip(person_matte_stream(clip, **kw), g):
            p = a > 0.5
            empty += not p.any()
            inter = (p & m).sum()
            P.append(inter / max(p.sum(), 1))
            R.append(inter / m.sum())
            alphas.append(a)
        dt = time.perf_counter() - t
        print(f"tennis person matte {label}: precision {np.mean(P):.3f} recall {np.mean(R):.3f} "
              f"(min P {min(P):.3f}, min R {min(R):.3f}), empty frames {empty}/{len(P)}, "
              f"{len(P) / dt:.1f} fps at 432x240 ({load()})")
        res["tennis"][key] = {"precision": round(float(np.mean(P)), 4), "recall": round(float(np.mean(R)), 4),
                              "min_precision": round(float(min(P)), 4), "min_recall": round(float(min(R)), 4),
                              "empty_frames": int(empty), "frames": len(P), "fps": round(len(P) / dt, 2)}
        if not kw:
            default_alphas = alphas
    # stability with / without temporal smoothing
    frames = clip.read_all()
    raw = list(person_matte_stream(clip, smooth=False))
    s0, s1 = edge_instability(raw, frames), edge_instability(default_alphas, frames)
    print(f"edge instability (flow-aligned |da| in edge band): no smoothing {s0:.4f}, "
          f"smoothing {s1:.4f} -> {100 * (1 - s1 / s0):.1f}% lower")
    res["edge_instability"] = {"frames": len(frames), "no_smoothing": round(float(s0), 5),
                               "smoothing": round(float(s1), 5), "lower_pct": round(float(100 * (1 - s1 / s0)), 1)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", default="all", choices=("all", "track", "speed"))
    ap.add_argument("--skip-speed", action="store_true", help="leave out the 1280x720 speed part")
    ap.add_argument("--no-save", action="store_true", help="do not write the results under bench/results/")
    a = ap.parse_args()
    print("machine:", machine())
    res: dict = {}
    if a.what == "all":
        res.update(quality())
    if a.what in ("all", "track"):
        res["tracking"] = bench_tracking()
    if a.what == "speed" or (a.what == "all" and not a.skip_speed):
        res["speed"] = bench_speed()
    res["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"peak RSS {res['peak_rss_mib']} MiB; machine: {machine()}")
    if not a.no_save:
        print(f"saved {os.path.relpath(save('matte', res), ROOT)}")


if __name__ == "__main__":
    main()
