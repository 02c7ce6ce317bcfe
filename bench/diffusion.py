#!/usr/bin/env python3
"""Diffusion engine benchmark: UNet evaluations per output frame, wall time,
flicker and peak memory — ours (keyframes + propagation, warped noise,
cross-frame attention) vs the naive per-frame StableDiffusionInpaintPipeline
with the same model and the same crop rule.

    python bench/diffusion.py                 # tiny random model, 80-frame bmx-trees case + SD 1.5-size cost
    python bench/diffusion.py --quick         # 24 frames, skip the full-size part
    python bench/diffusion.py --ablations     # also each consistency switch off in turn
    python bench/diffusion.py --full-frames 6 --full-steps 2
    python bench/diffusion.py --quick --no-save   # do not write bench/results/diffusion-DATE.json

Each configuration runs in its own subprocess so peak memory (ru_maxrss) is
its own. Cases come from ../shared/tools/make_case.py, scores from
../shared/tools/score.py (the acceptance scoring). The full-size part uses
the SD 1.5 UNet + VAE configuration with random weights at 512 px (cost only;
the pictures are meaningless).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VEDIT_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine() -> str:
    model = cpu_model()
    la = os.getloadavg()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{platform.node()} | {os.cpu_count()} cpus ({model}) | torch threads {torch.get_num_threads()} | "
            f"GPU {gpu} | load avg {la[0]:.1f}/{la[1]:.1f}/{la[2]:.1f}")


def read_case(case: Path, n: int):
    import cv2

    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((case / "input").glob("*.png"))[:n]]
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((case / "mask").glob("*.png"))[:n]]
    return frames, masks


def score(out_dir: Path, case: Path, n: int) -> dict:
    import cv2

    gt, mk = out_dir.parent / (out_dir.name + "_gt"), out_dir.parent / (out_dir.name + "_mask")
    gt.mkdir(exist_ok=True)
    mk.mkdir(exist_ok=True)
    for d, sub in ((gt, "gt"), (mk, "mask")):
        for i, p in enumerate(sorted((case / sub).glob("*.png"))[:n]):
            cv2.imwrite(str(d / f"{i:05d}.png"), cv2.imread(str(p), cv2.IMREAD_UNCHANGED))
    r = subprocess.run([sys.executable, str(SHARED / "tools" / "score.py"), str(out_dir), str(gt), str(mk)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


# ------------------------------------------------------------- one config
def one(cfg: dict) -> dict:
    """Run one configuration (in a subprocess) and return its figures."""
    import cv2
    import torch

    from vedit.engines.inpaint_diffusion import DiffusionInpaintEngine, naive_per_frame

    torch.set_num_threads(int(cfg.get("threads", torch.get_num_threads())))
    case, n, steps = Path(cfg["case"]), cfg["frames"], cfg["steps"]
    frames, masks = read_case(case, n)
    t_build = time.perf_counter()
    if cfg["model"] == "sd15":
        from vedit.models.dummy import build_pipeline

        pipe = build_pipeline("sd15", seed=0)
        model = pipe
    else:
        from vedit.models import load_inpaint_pipeline

        model = cfg["model"]
        pipe = load_inpaint_pipeline(model).pipe
    t_build = time.perf_counter() - t_build
    calls = {"n": 0}
    hook = pipe.unet.register_forward_hook(lambda *a: calls.__setitem__("n", calls["n"] + 1))
    out_dir = Path(cfg["out"])
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stats = {}
    if cfg["variant"] == "naive":
        outs = naive_per_frame(pipe, frames, masks, steps=steps, guidance=cfg["guidance"], seed=0)
    else:
        kw = {"ours": {}, "no-prior": dict(use_prior=False), "no-warped-noise": dict(warped_noise=False),
              "no-cross-attn": dict(cross_frame_attention=False),
              "refine-0.3": dict(refine=0.3)}[cfg["variant"]]
        eng = DiffusionInpaintEngine(model, steps=steps, guidance=cfg["guidance"],
                                     keyframe_every=cfg["keyframe_every"], **kw)
        res = eng.inpaint(frames, masks, seed=0)
        outs, stats = res.frames, res.stats
    for i, o in enumerate(outs):
        cv2.imwrite(str(out_dir / f"{i:05d}.png"), cv2.cvtColor(o, cv2.COLOR_RGB2BGR))
    wall = time.perf_counter() - t0
    hook.remove()
    r = {"variant": cfg["variant"], "model": cfg["model"] if cfg["model"] == "sd15" else "tiny", "frames": n,
         "steps": steps, "threads": torch.get_num_threads(), "unet_calls": calls["n"], "unet_per_frame": round(calls["n"] / n, 3),
         "keyframes": stats.get("keyframes"), "wall_s": round(wall, 1), "s_per_frame": round(wall / n, 3),
         "build_s": round(t_build, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if cfg.get("score", True):
        r.update({k: v for k, v in score(out_dir, case, n).items() if k != "frames"})
    if cfg["model"] == "sd15":
        r.update(component_costs(pipe))
    return r


def component_costs(pipe) -> dict:
    """Time of one UNet evaluation (CFG pair, as the pipelines run it) and
    one VAE encode+decode at 512, for extrapolating to 20 steps."""
    import torch

    with torch.no_grad():
        x = torch.randn(2, 9, 64, 64)
        e = torch.randn(2, 77, pipe.unet.config.cross_attention_dim)
        pipe.unet(x, 500, encoder_hidden_states=e)  # warm-up
        t = time.perf_counter()
        pipe.unet(x, 500, encoder_hidden_states=e)
        t_unet = time.perf_counter() - t
        img = torch.randn(1, 3, 512, 512)
        t = time.perf_counter()
        lat = pipe.vae.encode(img).latent_dist.mode()
        pipe.vae.decode(lat)
        t_vae = time.perf_counter() - t
    return {"t_unet_eval_s": round(t_unet, 2), "t_vae_enc_dec_s": round(t_vae, 2)}


def spawn(cfg: dict) -> dict:
    r = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"variant": cfg["variant"], "error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "?"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(rows):
    keys = ["variant", "model", "frames", "steps", "threads", "keyframes", "unet_calls", "unet_per_frame", "wall_s",
            "s_per_frame", "peak_rss_mb", "flicker", "psnr_mask", "psnr_full"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r.get(k, "")) for k in keys) + (f"  ERROR {r['error']}" if "error" in r else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--keyframe-every", type=int, default=10)
    ap.add_argument("--source", default=str(SHARED / "media" / "bmx-trees"))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--full-frames", type=int, default=8)
    ap.add_argument("--full-steps", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for the tiny model (a 2nd thread only spin-waits on a loaded 2-core box)")
    ap.add_argument("--full-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-save", action="store_true", help="do not write the results under bench/results/")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(json.loads(a.one))))
        return
    if a.quick:
        a.frames, a.steps, a.skip_full = min(a.frames, 24), min(a.steps, 4), True
    print("machine:", machine())
    work = Path(tempfile.mkdtemp(prefix="vedit-bench-diffusion-"))
    from vedit.models.dummy import save_dummy

    tiny = save_dummy(work / "tiny-sd-inpaint", size="tiny", seed=0)
    case = work / "case"
    subprocess.run([sys.executable, str(SHARED / "tools" / "make_case.py"), a.source, str(case), "--seed",
                    str(a.seed), "--frames", str(a.frames)], check=True, capture_output=True)
    print(f"case: {a.source} seed {a.seed}, {a.frames} frames; tiny random model (UNet (32, 64), native 64 px), "
          f"{a.steps} steps, guidance 7.5, keyframe_every {a.keyframe_every}")
    variants = ["ours", "naive"] + (["no-prior", "no-warped-noise", "no-cross-attn", "refine-0.3"]
                                    if a.ablations else [])
    rows = []
    for v in variants:
        rows.append(spawn({"case": str(case), "frames": a.frames, "steps": a.steps, "guidance": 7.5,
                           "keyframe_every": a.keyframe_every, "model": str(tiny), "variant": v, "threads": a.threads,
                           "out": str(work / f"out-{v}")}))
        print(" ", rows[-1], flush=True)
    table(rows)
    res: dict = {"source": a.source, "seed": a.seed, "frames": a.frames, "steps": a.steps,
                 "keyframe_every": a.keyframe_every, "quick": a.quick, "tiny": rows}
    ours, naive = rows[0], rows[1]
    if "error" not in ours and "error" not in naive:
        res["evals_ratio"] = round(naive["unet_per_frame"] / max(ours["unet_per_frame"], 1e-9), 2)
        print(f"UNet evaluations per output frame: ours {ours['unet_per_frame']} vs naive {naive['unet_per_frame']} "
              f"-> {res['evals_ratio']:.1f}x fewer")
        print(f"flicker (score.py): ours {ours['flicker']} vs naive {naive['flicker']}")
    if not a.skip_full:
        res["full"] = full_size(a, case, work, rows)
    print("machine after:", machine())
    if not a.no_save:
        print(f"saved {os.path.relpath(save('diffusion', res), ROOT)}")


def full_size(a, case: Path, work: Path, rows: list) -> dict:
    """The SD 1.5-size configuration (random weights), ours and naive: measured
    s/frame at a few steps and the extrapolation to the tiny run's step count."""
    n = a.full_frames
    print(f"\nfull-size SD 1.5 inpainting configuration (random weights), 512 px processing, {n} frames, "
          f"{a.full_steps} steps (CPU float32):")
    full = []
    for v in ("ours", "naive"):
        full.append(spawn({"case": str(case), "frames": n, "steps": a.full_steps, "guidance": 7.5,
                           "keyframe_every": a.keyframe_every, "model": "sd15", "variant": v, "score": False,
                           "threads": a.full_threads,
                           "out": str(work / f"full-{v}")}))
        print(" ", full[-1], flush=True)
    table(full)
    out: dict = {"frames": n, "steps": a.full_steps, "rows": full}
    fo, fn = full
    if "error" not in fo and "error" not in fn:
        print(f"measured s/output frame at {a.full_steps} steps: ours {fo['s_per_frame']} vs naive "
              f"{fn['s_per_frame']} -> ratio {fn['s_per_frame'] / fo['s_per_frame']:.2f}x")
        # extrapolate to the tiny run's step count with the measured component costs
        tu, tv = fo["t_unet_eval_s"], fo["t_vae_enc_dec_s"]
        s = a.steps
        ours_evals = rows[0]["unet_per_frame"] if "error" not in rows[0] else None
        if ours_evals is not None:
            gen_frac = (rows[0]["keyframes"] or 0) / a.frames
            # the tiny run's own s/frame stands in for the model-free work (propagation, I/O): an upper bound
            prop = rows[0]["s_per_frame"]
            e_ours = ours_evals * tu + gen_frac * 1.5 * tv + prop
            e_naive = s * tu + 1.0 * tv
            print(f"extrapolated to {s} steps on the {a.frames}-frame case ({ours_evals} UNet evals/frame for ours, "
                  f"UNet {tu}s/eval, VAE {tv}s): ours {e_ours:.1f} s/frame vs naive {e_naive:.1f} s/frame -> "
                  f"{e_naive / e_ours:.1f}x")
            out["extrapolated"] = {"steps": s, "frames": a.frames, "ours_s_per_frame": round(e_ours, 1),
                                   "naive_s_per_frame": round(e_naive, 1)}
    return out


if __name__ == "__main__":
    main()
