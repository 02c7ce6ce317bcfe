"""Person matte speed at 1280x720, one person and four, against the decode floor.

    python bench/person_speed.py                 # 140 frames, table + bench/results/person-speed-DATE.json
    python bench/person_speed.py --frames 70 --no-save   # the table only

One person: the labelled DAVIS tennis clip upscaled to 1280x720 (played
forwards and back to the frame count). Four people: the clip of
tests/masks/crowd.py (the tennis player pasted four times, 330 to 55 px
tall). Each row runs the person matte pipeline (vedit.masks.person) to the
end and reports

- fps: frames / wall time, start-up included (models, the first frame's full
  scan for people);
- steady fps: the frames after the first / the time after the first matte;
- CPU ms/frame: user+sys of every thread (less sensitive than fps to other
  people's load on a shared machine: on an idle 2-core machine fps can reach
  about 2000 / CPU ms).

Rows: ``vedit matte --person`` as it writes (cast shadow, props, margin),
the same without shadow and props, and replace-bg's person matte (the same
pipeline before output sizing). The decode floor is decoding alone. The
last line is the matte's quality on the native tennis clip (IoU with the
labelled masks, which include the cast shadow and racket).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
MEDIA = Path(os.environ.get("VEDIT_SHARED_MEDIA", ROOT.parent / "shared" / "media"))

from _common import cpu_model, load_average, save  # noqa: E402


def machine() -> str:
    return f"{os.cpu_count()} CPUs, {cpu_model()}, python {sys.version.split()[0]}, load {load_average()}"


def cpu_seconds() -> float:
    return time.process_time()


def timed(stream) -> dict:
    """Run ``stream`` to the end: fps, steady fps (after the first item),
    CPU ms/frame and the load average at the end."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    n, first = 0, None
    for _ in stream:
        n += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    steady = (n - 1) / (end - first) if n > 1 and first is not None and end > first else float("nan")
    return {"frames": n, "fps": round(n / (end - t0), 2), "steady_fps": round(steady, 2),
            "cpu_ms": round(1000 * (cpu_seconds() - c0) / max(n, 1), 1), "first_s": round((first or end) - t0, 2),
            "load": round(os.getloadavg()[0], 2)}


def clips(tmp: Path, n: int) -> tuple[str, str]:
    """The one-person and four-person 1280x720 clips (H.264)."""
    import importlib.util

    from vedit.io import open_clip, open_writer

    frames = open_clip(str(MEDIA / "tennis")).read_all()
    one = tmp / "one720.mp4"
    with open_writer(str(one), 25, (1280, 720)) as w:
        period = 2 * len(frames) - 2
        for i in range(n):
            k = i % period
            f = frames[k if k < len(frames) else period - k]
            w.write(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC))
    spec = importlib.util.spec_from_file_location("crowd", ROOT / "tests" / "masks" / "crowd.py")
    crowd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crowd)
    four_frames, _ = crowd.build(MEDIA, n=n)
    four = tmp / "four720.mp4"
    with open_writer(str(four), 25, (1280, 720)) as w:
        for f in four_frames:
            w.write(f)
    return str(one), str(four)


def quality() -> dict:
    """IoU of ``vedit matte --person`` on the native tennis clip with the labelled masks."""
    from vedit.io import open_clip
    from vedit.masks.person import person_matte_stream

    gts = [cv2.imread(p, 0) > 127 for p in sorted(glob.glob(str(MEDIA / "tennis_mask" / "*.png")))]
    ious = []
    for a, g in zip(person_matte_stream(open_clip(str(MEDIA / "tennis"))), gts):
        p = a > 0.5
        ious.append((p & g).sum() / max(1, (p | g).sum()))
    return {"tennis_iou_mean": round(float(np.mean(ious)), 3), "tennis_iou_min": round(float(np.min(ious)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=140)
    ap.add_argument("--no-save", action="store_true", help="do not write the results under bench/results/")
    ap.add_argument("--skip-quality", action="store_true")
    a = ap.parse_args()

    import mediapipe  # noqa: F401 - a one-time import (seconds) is no cost of a clip

    from vedit.io import open_clip
    from vedit.masks.person import person_matte_stream, person_mattes

    print(f"machine: {machine()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="vedit-person-speed-") as tmp:
        one, four = clips(Path(tmp), a.frames)
        print(f"\n## person matte at 1280x720, {a.frames} frames")
        print("| clip | pipeline | fps | steady fps | CPU ms/frame | start-up s | load |\n|---|---|---|---|---|---|---|")
        for label, path in (("one person", one), ("four people", four)):
            clip = open_clip(path)
            runs = (("decode floor", lambda: clip.frames()),
                    ("matte --person (shadow, props, margin)", lambda: person_matte_stream(clip)),
                    ("matte --person --no-shadow --no-props",
                     lambda: person_matte_stream(clip, include_shadow=False, with_props=False)),
                    ("replace-bg's person matte", lambda: person_mattes(clip, keep_frames=True)))
            for name, make in runs:
                r = timed(make())
                rows.append({"clip": label, "pipeline": name, **r})
                print(f"| {label} | {name} | {r['fps']:.1f} | {r['steady_fps']:.1f} | {r['cpu_ms']:.0f} | "
                      f"{r['first_s']:.2f} | {r['load']:.2f} |", flush=True)
    q = {} if a.skip_quality else quality()
    if q:
        print(f"\ntennis (432x240) matte --person vs labelled masks: IoU mean {q['tennis_iou_mean']:.3f}, "
              f"min {q['tennis_iou_min']:.3f}")
    if not a.no_save:
        out = save("person-speed", {"frames": a.frames, "rows": rows, "quality": q})
        print(f"saved {os.path.relpath(out, ROOT)}")

if __name__ == "__main__":
    main()
