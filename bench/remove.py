#!/usr/bin/env python3
"""Benchmark ``vedit remove`` (default engine and settings) along DESIGN §7.

Quality: every case of ``bench/cases.py`` (revealed / partly / never revealed
by the camera, real footage with moving subjects, dynamic backgrounds; built
once into a cache folder), filled by ``vedit.ops.remove.run`` at default
settings and, next to it, by per-frame cv2.inpaint TELEA (radius 5, mask
dilated 3 px), both scored by :mod:`vedit.quality` (the ``score.py``
definitions: psnr_mask, psnr_full, ssim_full, flicker, and the detail ratio,
always read next to PSNR since PSNR rewards blur; on still shots the truth
carries sensor noise, so a noise-free fill scores flicker below 1). Prints one
row per case and a per-category table, and writes everything to
``bench/results/remove-<date>.json`` (``bench/report.py`` turns the latest one
into the README tables); ``--crops DIR`` saves crops to look at. Speed: fps at 432x240 (bmx-trees), 960x540 and
1920x1080 (running_car upscaled), each next to the decode+encode-only floor of
the same clip (``--repeat N``: the median of N runs), and peak memory for 150 vs 600
frames at 1080p (``--memory``); the speed tables go to ``bench/results/remove-speed-<date-time>.md``.

    python bench/remove.py [--cases 'rev_*'] [--jobs 2] [--quick] [--no-speed] [--memory]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
sys.path.insert(0, ROOT)

RESULTS = os.path.join(ROOT, "bench", "results")
QUICK = ["rev_panzoom_coffee", "rev_turn_motorcycle", "part_pan_astronaut", "never_coffee", "mov_bmx_moving",
         "dyn_ripple_pan_rocket"]


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} cores, {model}, {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def _telea_frames(case) -> Iterator[np.ndarray]:
    """Per-frame TELEA of a case's input, RGB (the reference fill)."""
    k = np.ones((7, 7), np.uint8)
    for name in sorted(os.listdir(case.input)):
        f = cv2.imread(os.path.join(case.input, name))
        m = cv2.imread(os.path.join(case.mask, name), 0)
        yield cv2.cvtColor(cv2.inpaint(f, cv2.dilate(m, k), 5, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)


def telea_score(case) -> dict:
    """TELEA's scores of a case, cached next to the case (they never change)."""
    from vedit.io import open_clip, open_masks
    from vedit.quality import score

    path = os.path.join(case.path, "telea.json")
    key = case.spec.get("seed"), case.frames, 1
    if os.path.exists(path):
        with open(path) as fh:
            d = json.load(fh)
        if d.get("key") == list(key):
            return d["score"]
    gt = open_clip(case.gt)
    s = score(_telea_frames(case), gt.frames(), iter(open_masks(case.mask, gt)))
    with open(path, "w") as fh:
        json.dump({"key": list(key), "score": s}, fh)
    return s


def save_crops(case, out: str, path: str) -> None:
    """Input, ours, TELEA and the truth side by side, cropped around the mask,
    at a quarter, half and three quarters of the shot (to look at, every time)."""
    from vedit.io.clip import list_sequence

    names = [os.path.basename(f) for f in list_sequence(case.gt)]
    k = np.ones((7, 7), np.uint8)
    rows = []
    for name in (names[len(names) // 4], names[len(names) // 2], names[3 * len(names) // 4]):
        inp = cv2.imread(os.path.join(case.input, name))
        m = cv2.imread(os.path.join(case.mask, name), 0)
        ys, xs = np.nonzero(m)
        pad = 24
        y0, y1 = max(0, ys.min() - pad), min(m.shape[0], ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(m.shape[1], xs.max() + pad + 1)
        tel = cv2.inpaint(inp, cv2.dilate(m, k), 5, cv2.INPAINT_TELEA)
        ims = [inp, cv2.imread(os.path.join(out, name)), tel, cv2.imread(os.path.join(case.gt, name))]
        crops = [im[y0:y1, x0:x1] for im in ims]
        scale = max(1.0, 200 / (y1 - y0))
        rows.append(np.hstack([cv2.resize(c, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
                               for c in crops]))
    width = max(r.shape[1] for r in rows)
    rows = [cv2.copyMakeBorder(r, 0, 4, 0, width - r.shape[1], cv2.BORDER_CONSTANT) for r in rows]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    cv2.imwrite(path, np.vstack(rows))


def quality_case(case, tmp: str, crops: str | None = None) -> dict:
    """Run ours at default settings on one case and score it next to TELEA
    (with ``crops``, also write ``crops/<case>.png``: input | ours | TELEA | truth)."""
    from vedit.ops.remove import run as remove
    from vedit.quality import score_files

    out = os.path.join(tmp, case.name) + "/"
    t = time.time()
    remove(case.input, out, mask=case.mask)
    dt = time.time() - t
    s = score_files(out, case.gt, case.mask)
    te = telea_score(case)
    if crops:
        save_crops(case, out, os.path.join(crops, f"{case.name}.png"))
    return {"name": case.name, "category": case.category, "reveal": case.reveal, "frames": case.frames,
            "size": f"{case.width}x{case.height}", "ours": s, "telea": te,
            "delta": round(s["psnr_mask"] - te["psnr_mask"], 2), "fps": round(case.frames / dt, 2)}


def _worker(args: tuple) -> dict:
    case, tmp, crops = args
    try:
        return quality_case(case, tmp, crops)
    finally:
        shutil.rmtree(os.path.join(tmp, case.name), ignore_errors=True)


def category_table(rows: list[dict]) -> list[dict]:
    """Per category (and overall): mean psnr_mask, mean gain over TELEA, mean
    and lowest detail, mean flicker, worst delta."""
    from cases import CATEGORIES

    out = []
    for cat in [*CATEGORIES, "all"]:
        rs = [r for r in rows if cat in ("all", r["category"])]
        if not rs:
            continue
        out.append({"category": cat, "cases": len(rs),
                    "psnr_mask": round(float(np.mean([r["ours"]["psnr_mask"] for r in rs])), 2),
                    "telea": round(float(np.mean([r["telea"]["psnr_mask"] for r in rs])), 2),
                    "gain": round(float(np.mean([r["delta"] for r in rs])), 2),
                    "worst_delta": round(float(min(r["delta"] for r in rs)), 2),
                    "detail": round(float(np.mean([r["ours"]["detail"] for r in rs])), 3),
                    "min_detail": round(float(min(r["ours"]["detail"] for r in rs)), 3),
                    "flicker": round(float(np.mean([r["ours"]["flicker"] for r in rs])), 3)})
    return out


def print_case_row(r: dict) -> None:
    s, t = r["ours"], r["telea"]
    rev = "" if r["reveal"] is None else f"{r['reveal']:.2f}"
    print(f"| {r['name']} | {r['category']} | {rev} | {s['psnr_mask']:.2f} | {t['psnr_mask']:.2f} | "
          f"{r['delta']:+.2f} | {s['detail']:.3f} | {t['detail']:.3f} | {s['flicker']:.3f} | {t['flicker']:.3f} | "
          f"{s['ssim_full']:.4f} | {r['fps']:.1f} |", flush=True)


def quality(tmp: str, patterns: list[str] | None, jobs: int, root: str, crops: str | None = None,
            case_set: str = "tuning") -> dict:
    from cases import build_cases

    t0 = time.time()
    cases = build_cases(root, patterns, case_set=case_set)
    print(f"\n## Quality (DESIGN §7): ours vs per-frame TELEA, {len(cases)} cases from bench/cases.py "
          f"(built in {time.time() - t0:.0f} s)")
    print("| case | category | reveal | psnr_mask | TELEA | Δ dB | detail | TELEA detail | flicker | TELEA flicker "
          "| ssim | fps (in-process, incl. I/O) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as ex:
            for r in ex.map(_worker, [(c, tmp, crops) for c in cases]):
                print_case_row(r)
                rows.append(r)
    else:
        for c in cases:
            r = _worker((c, tmp, crops))
            print_case_row(r)
            rows.append(r)
    table = category_table(rows)
    print("\n## Per category")
    print("| category | cases | psnr_mask | TELEA | mean gain dB | worst Δ dB | detail | lowest detail | flicker |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in table:
        print(f"| {c['category']} | {c['cases']} | {c['psnr_mask']:.2f} | {c['telea']:.2f} | {c['gain']:+.2f} | "
              f"{c['worst_delta']:+.2f} | {c['detail']:.3f} | {c['min_detail']:.3f} | {c['flicker']:.3f} |")
    return {"cases": rows, "categories": table, "seconds": round(time.time() - t0, 1)}


def git_head() -> str:
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "vedit"], check=False, capture_output=True,
                           text=True).stdout.strip()
    return r.stdout.strip() + ("+dirty" if dirty else "") if r.returncode == 0 else "?"


def write_results(res: dict, kind: str = "remove") -> str:
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{kind}-{time.strftime('%Y-%m-%d-%H%M')}.json")
    with open(path, "w") as fh:
        json.dump(res, fh, indent=1)
    return path


def _fresh(path: str) -> str:
    """``path`` with no file there (the writers refuse to replace outputs)."""
    if os.path.isfile(path):
        os.remove(path)
    return path


def ours(inp, mask, out, extra=()):
    _fresh(out)
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "vedit_cli.main", "remove", inp, "--mask", mask, "-o", out, "--quiet",
                        *extra], check=False, capture_output=True, text=True)
    dt = time.time() - t
    if r.returncode:
        raise SystemExit(r.stderr)
    return dt


def peak_rss_mb(cmd) -> float:
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], check=False, capture_output=True, text=True) if os.path.exists(
        "/usr/bin/time") else None
    if r is not None and r.returncode == 0:
        for line in r.stderr.splitlines():
            if "Maximum resident set size" in line:
                return int(line.split(":")[1]) / 1024
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, capture_output=True)
    return max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def make_clip(path, size, frames):
    """running_car resized to ``size`` (looped to ``frames``), lossless-ish H.264."""
    from vedit.io import open_clip, open_writer

    _fresh(path)
    src = open_clip(os.path.join(SHARED, "media", "running_car", "running_car.mp4"))
    fr = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in src.frames()]
    with open_writer(path, src.fps, size, crf=18) as w:
        for i in range(frames):
            w.write(fr[i % len(fr)])
    mask = cv2.imread(os.path.join(SHARED, "media", "running_car", "mask_logo.png"), 0)
    mpath = path + ".mask.png"
    cv2.imwrite(mpath, cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))
    return mpath


def make_blob_masks(folder, size, frames):
    """A moving disc 12 % of the frame height across the frame (the issue's speed
    case), one PNG a frame."""
    os.makedirs(folder, exist_ok=True)
    w, h = size
    r = int(round(0.06 * h))
    for i in range(frames):
        m = np.zeros((h, w), np.uint8)
        x = int(w * (0.2 + 0.6 * i / max(1, frames - 1)))
        y = int(h * (0.55 + 0.05 * np.sin(i / 7.0)))
        cv2.circle(m, (x, y), r, 255, -1)
        cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), m)
    return folder


def floor(inp, out):
    from vedit.io import open_clip, open_writer

    _fresh(out)
    t = time.time()
    c = open_clip(inp)
    with open_writer(out, c.fps, c.size, like=c) as w:
        for f in c.frames():
            w.write(f)
    return c.frame_count / (time.time() - t)


def speed(tmp, quick, memory, repeat=1, save=True):
    """Print the speed (and with ``memory`` the peak-memory) tables; unless
    ``save`` is False also write them, under the machine line (cores, CPU,
    load at the start), to ``bench/results/remove-speed-<date-time>.md``."""
    lines = [f"# bench/remove.py — {machine()}"]

    def emit(s=""):
        lines.append(s)
        print(s, flush=True)

    emit("\n## Speed — `vedit remove` (propagate) vs decode+encode floor of the same clip")
    emit("| clip | frames | ours fps | floor fps | ratio |")
    emit("|---|---|---|---|---|")
    seq = os.path.join(SHARED, "media", "bmx-trees")
    mask = os.path.join(SHARED, "media", "bmx-trees_mask")
    n = 80
    # like the other rows, the median of ``repeat`` runs (one run can be a
    # cold start: a first run after a while waited seconds on the disk)
    dts = sorted(ours(seq, mask, os.path.join(tmp, "s432.mp4")) for _ in range(repeat))
    dt = dts[len(dts) // 2]
    from vedit.io import open_clip, open_writer

    t = time.time()
    c = open_clip(seq)
    with open_writer(os.path.join(tmp, "f432.mp4"), c.fps, c.size) as w:
        for f in c.frames():
            w.write(f)
    fl = n / (time.time() - t)
    runs = f" (runs: {', '.join(f'{n / x:.1f}' for x in dts)} fps)" if repeat > 1 else ""
    emit(f"| bmx-trees 432x240 (PNG/JPEG seq in, mp4 out) | {n} | {n / dt:.1f} | {fl:.1f} | {n / dt / fl:.2f}{runs} |")
    for size in ([(960, 540)] if quick else [(960, 540), (1920, 1080)]):
        clip = os.path.join(tmp, f"car_{size[0]}.mp4")
        nfr = 100
        m = make_clip(clip, size, nfr)
        # this host's speed drifts by ±20 % within minutes: the floor is measured
        # before and after each run of ours and the ratio taken to their mean;
        # with --repeat the median run is shown
        fls = [floor(clip, os.path.join(tmp, f"floor_{size[0]}.mp4"))]

        def timed(mask, out, label):
            """``repeat`` runs of ours, each against the mean of the floors
            measured before and after it; the median run becomes a row."""
            runs = []
            for _ in range(repeat):
                dt = ours(clip, mask, os.path.join(tmp, out))
                fls.append(floor(clip, os.path.join(tmp, f"floor_{size[0]}.mp4")))
                fl = (fls[-2] + fls[-1]) / 2
                runs.append((nfr / dt / fl, nfr / dt, fl))
            runs.sort()
            r, fps, fl = runs[len(runs) // 2]
            extra = f" (runs: {', '.join(f'{x[0]:.2f}' for x in runs)})" if repeat > 1 else ""
            emit(f"| running_car {size[0]}x{size[1]}, {label} | {nfr} | {fps:.1f} | {fl:.1f} | {r:.2f}{extra} |")

        timed(m, f"out_{size[0]}.mp4", "logo mask")
        if size[1] == 1080:
            blob = make_blob_masks(os.path.join(tmp, "blob_1080"), size, nfr)
            timed(blob, "out_blob_1080.mp4", "moving disc 12 % of height")
    if memory:
        emit("\n## Peak memory at 1920x1080 vs clip length")
        emit("| frames | peak RSS MB |")
        emit("|---|---|")
        for nfr in (150, 600):
            clip = os.path.join(tmp, f"mem_{nfr}.mp4")
            m = make_clip(clip, (1920, 1080), nfr)
            rss = peak_rss_mb([sys.executable, "-m", "vedit_cli.main", "remove", clip, "--mask", m, "-o",
                               os.path.join(tmp, f"memout_{nfr}.mp4"), "--quiet"])
            emit(f"| {nfr} | {rss:.0f} |")
    if save:
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, f"remove-speed-{time.strftime('%Y-%m-%d-%H%M')}.md")
        with open(path, "w") as fh:
            fh.write("\n".join(lines).replace("\n\n\n", "\n\n") + "\n")
        print(f"\nspeed results: {os.path.relpath(path, ROOT)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", action="append", metavar="PATTERN",
                    help="case names or shell patterns from bench/cases.py (repeatable; default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run in parallel (processes)")
    ap.add_argument("--root", default=None, help="case cache folder (default: bench/cases.py's)")
    ap.add_argument("--crops", metavar="DIR", help="write DIR/<case>.png: input | ours | TELEA | truth crops")
    ap.add_argument("--quick", action="store_true", help="one or two cases per category, no 1080p")
    ap.add_argument("--memory", action="store_true", help="also measure peak memory 150 vs 600 frames at 1080p")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-save", action="store_true",
                    help="do not write bench/results/remove-<date>.json and remove-speed-<date>.md")
    ap.add_argument("--repeat", type=int, default=1, help="runs per speed clip (median shown)")
    from cases import DEFAULT_ROOT, add_set_options

    # quality on another case set of bench/cases.py, saved as remove-<set>-*
    add_set_options(ap)
    a = ap.parse_args()

    from vedit.runtime import tune_allocator

    # as the vedit CLI and server do at start (so in-process runs, the floor
    # included, see the same allocator)
    tune_allocator()
    print(f"# bench/remove.py — {machine()}")
    patterns = [p for arg in a.cases or [] for p in arg.split(",") if p] or (QUICK if a.quick else None)
    with tempfile.TemporaryDirectory() as tmp:
        if not a.no_quality:
            res = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": git_head(), "machine": machine(),
                   "settings": "vedit.ops.remove.run defaults", "patterns": patterns, "case_set": a.set,
                   **quality(tmp, patterns, max(1, a.jobs), a.root or DEFAULT_ROOT, a.crops, a.set)}
            if not a.no_save:
                kind = "remove" if a.set == "tuning" else f"remove-{a.set}"
                print(f"\nresults: {os.path.relpath(write_results(res, kind), ROOT)}")
        if not a.no_speed:
            speed(tmp, a.quick, a.memory, max(1, a.repeat), save=not a.no_save)


if __name__ == "__main__":
    main()
