"""Never-revealed fill, one image at a time: the exemplar fill against TELEA.

A still shot that never shows what its hole hides is an image-completion
problem, and one case of it says little (a copied texture lands right or
wrong by chance). This bench measures the fill on many: crops of every photo
shipped with scikit-image and matplotlib, at random scales, with random blob
holes of 8-22 % of the short side (the blob shape of ``bench/cases.py``).

Per image: the fill's hole is the mask grown by 3 px (the engine's ``dilate``;
the feathered edge beyond it keeps the frame's own pixels), TELEA's the mask
grown by 3 px as in ``bench/remove.py``. Scores on the mask: psnr, psnr after
a sigma-4 blur of both (the coarse shading), and the detail ratio (``vedit score``'s).

    python bench/never.py [--images 60] [--jobs 2] [--no-save]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import machine, save  # noqa: E402
from cases import _blob, _photo_path, _read_bgr  # noqa: E402

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "camera.png", "motorcycle_left.png", "motorcycle_right.png",
          "rocket.jpg", "retina.jpg", "hubble_deep_field.jpg", "grace_hopper.jpg", "color.png", "clock_motion.png",
          "ihc.png", "moon.png", "page.png", "Minduka_Present_Blue_Pack.png", "brick.png", "gravel.png", "grass.png",
          "text.png", "coins.png", "horse.png", "cell.png"]
W, H = 480, 270


def make(i: int) -> tuple[str, np.ndarray, np.ndarray]:
    """Image ``i`` of the set: (name, truth BGR, mask bool); the same for a given i."""
    rng = np.random.default_rng(7000 + i)
    name = PHOTOS[i % len(PHOTOS)]
    im = _read_bgr(_photo_path(name))
    h, w = im.shape[:2]
    s = max(W / w, H / h) * rng.uniform(1.0, 1.6)
    im = cv2.resize(im, (int(w * s + 1), int(h * s + 1)), interpolation=cv2.INTER_AREA)
    y, x = int(rng.integers(0, im.shape[0] - H + 1)), int(rng.integers(0, im.shape[1] - W + 1))
    truth = np.ascontiguousarray(im[y:y + H, x:x + W])
    shape = _blob(rng, rng.uniform(0.08, 0.22) * H)
    c = np.array([rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.7) * H])
    m = np.zeros((H, W), np.uint8)
    cv2.fillPoly(m, [np.round(shape + c).astype(np.int32)], 255)
    return f"{i:03d}_{name.split('.')[0]}", truth, m > 0


def score(out: np.ndarray, truth: np.ndarray, m: np.ndarray) -> dict:
    """psnr and detail on the mask as ``vedit score`` measures them (one
    frame), and psnr after a sigma-4 blur of both (the coarse shading)."""
    from vedit.quality import score as vscore

    r = vscore([out], [truth], [m.astype(np.uint8) * 255], rgb=False)
    o, g = (cv2.GaussianBlur(a.astype(np.float32), (0, 0), 4) for a in (out, truth))
    coarse = 10 * np.log10(255 ** 2 / max(float(((o - g)[m] ** 2).mean()), 1e-6))
    return {"psnr": r["psnr_mask"], "psnr_coarse": round(float(coarse), 3), "detail": r["detail"]}


def one(i: int) -> dict:
    from vedit.engines.propagate import exemplar_fill

    name, truth, m = make(i)
    inp = truth.copy()
    inp[m] = 128
    grow = cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    t0 = time.perf_counter()
    ours = exemplar_fill(inp, grow, seed=i)
    sec = time.perf_counter() - t0
    telea = cv2.inpaint(inp, cv2.dilate(m.astype(np.uint8) * 255, np.ones((7, 7), np.uint8)), 5, cv2.INPAINT_TELEA)
    return {"name": name, "ours": score(ours, truth, m), "telea": score(telea, truth, m), "seconds": round(sec, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args()
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(one, range(a.images)))
    d = np.array([r["ours"]["psnr"] - r["telea"]["psnr"] for r in rows])
    # (an image whose truth is flat inside the hole has no detail ratio)
    det = np.array([r["ours"]["detail"] for r in rows if r["ours"]["detail"] is not None])
    res = {
        "images": a.images,
        "mean_vs_telea": round(float(d.mean()), 3), "worst_vs_telea": round(float(d.min()), 3),
        "below_telea_1db": int((d < -1).sum()), "below_telea_05db": int((d < -0.5).sum()),
        "detail_mean": round(float(det.mean()), 3), "detail_min": round(float(det.min()), 3),
        "detail_below_06": int((det < 0.6).sum()),
        "telea_detail_mean": round(float(np.mean([r["telea"]["detail"] for r in rows
                                                   if r["telea"]["detail"] is not None])), 3),
        "coarse_vs_telea": round(float(np.mean([r["ours"]["psnr_coarse"] - r["telea"]["psnr_coarse"]
                                                 for r in rows])), 3),
        "cases": rows,
    }
    print(f"# bench/never.py — {machine()}")
    print(f"{a.images} images, never-revealed holes 8-22 % of the short side")
    print("| | mean vs TELEA | worst | < -1 dB | < -0.5 dB | coarse vs TELEA | detail mean (min) | detail < 0.6 |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| exemplar fill | {res['mean_vs_telea']:+.2f} dB | {res['worst_vs_telea']:+.2f} | {res['below_telea_1db']} "
          f"| {res['below_telea_05db']} | {res['coarse_vs_telea']:+.2f} | {res['detail_mean']:.2f} "
          f"({res['detail_min']:.2f}) | {res['detail_below_06']} |")
    print(f"(TELEA's detail: {res['telea_detail_mean']:.2f})")
    if not a.no_save:
        print("saved", save("never", res))


if __name__ == "__main__":
    main()
