#!/usr/bin/env python3
"""Markdown tables for the README from the bench result files.

    python bench/report.py [RESULT.json] [--no-cases]
    python bench/report.py --other [--results DIR]

Without a path, the newest ``bench/results/remove-*.json`` is used. Prints the
per-category table (mean psnr_mask, gain over per-frame TELEA, worst case,
detail ratio, flicker) and, unless ``--no-cases``, one row per case.

``--other`` prints the README's "Other figures" table (what | result | target
| bench) from the newest result of each bench (``bench/results/<kind>-*.json``,
written by ``bench/_common.save``), each figure with the date it was measured.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, results_of  # noqa: E402

NOT_MEASURED = "not measured since the bench saves JSON"


def latest(folder: str = RESULTS, kind: str = "remove") -> str:
    """The newest ``<kind>-<date>.json`` in ``folder`` (``remove`` excludes ``remove-holdout``)."""
    files = results_of(kind, folder)
    if not files:
        raise SystemExit(f"no bench/remove.py results in {folder}: run python bench/remove.py first")
    return files[-1]


def render(res: dict, cases: bool = True) -> str:
    """The README tables of one result as markdown."""
    lines = [(f"Measured {res.get('date', '?')} on {res.get('machine', '?')}, commit {res.get('commit', '?')}, "
             f"{len(res['cases'])} cases of `bench/cases.py`, `vedit remove` at default settings."), "",
             ("| category | cases | psnr_mask dB | TELEA dB | mean gain dB | worst Δ dB | detail | lowest detail "
             "| flicker |"), "|---|---|---|---|---|---|---|---|---|"]
    for c in res["categories"]:
        name = "**all**" if c["category"] == "all" else c["category"]
        lines.append(f"| {name} | {c['cases']} | {c['psnr_mask']:.2f} | {c['telea']:.2f} | {c['gain']:+.2f} | "
                     f"{c['worst_delta']:+.2f} | {c['detail']:.2f} | {c['min_detail']:.2f} | {c['flicker']:.2f} |")
    if cases:
        lines += ["", "| case | category | reveal | psnr_mask dB | TELEA dB | Δ dB | detail | flicker |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in res["cases"]:
            rev = "–" if r.get("reveal") is None else f"{r['reveal']:.2f}"
            s, t = r["ours"], r["telea"]
            lines.append(f"| {r['name']} | {r['category']} | {rev} | {s['psnr_mask']:.2f} | {t['psnr_mask']:.2f} | "
                         f"{r['delta']:+.2f} | {s['detail']:.2f} | {s['flicker']:.2f} |")
    return "\n".join(lines)


# ------------------------------------------------------------ other figures
def _span(values, fmt: str = ".1f") -> str:
    """``a–b`` (or ``a`` when all equal) of a list of numbers."""
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def _when(res: dict) -> str:
    """``date, load L``: when a result was saved and the 1-minute load then (where known)."""
    load = str(res.get("load") or "").split()
    return res.get("date", "?") + (f", load {load[0]}" if load else "")


def _matte_precision(r: dict) -> str:
    d, n = r["tennis"]["default"], r["tennis"]["no-shadow margin-0"]
    return (f"{d['precision']:.3f} / {d['recall']:.3f} (person alone, `--no-shadow --margin 0`: "
            f"{n['precision']:.3f} / {n['recall']:.3f})")


def _mattes(r: dict) -> str:
    parts = []
    crowd = next((v for k, v in r.get("quality", {}).items() if k.startswith("crowd")), None)
    if crowd:
        parts.append(f"synthetic four-person 720p crowd: recall {crowd['recall']:.2f}, precision {crowd['precision']:.2f}")
    if "holdout" in r:
        h = r["holdout"]
        parts.append(f"held-out multi-person clip (six people, 50–300 px): recall {h['recall']:.2f}, "
                     f"precision {h['precision']:.2f}")
    tennis = r.get("quality", {}).get("tennis 1280x720 defaults")
    if tennis:
        parts.append(f"tennis at 1280x720, defaults (shadow, props, margin): precision {tennis['precision']:.2f} / "
                     f"recall {tennis['recall']:.2f}")
    return "; ".join(parts)


def _edge(r: dict) -> str:
    e = r["edge_instability"]
    return f"{e['lower_pct']:.1f} % lower ({e['no_smoothing']:.4f} → {e['smoothing']:.4f}, {e['frames']} frames)"


def _tracking(r: dict) -> str:
    t, b = r["tracking"]["tennis"], r["tracking"]["bmx-trees box"]
    return (f"{t['frame0_iou_mean']:.3f} / {t['keyframes_iou_mean']:.3f}; bmx box {b['iou_mean']:.3f}, "
            f"from frame 66 on ≥{b['min_from_66']:.2f} (lowest: frame {b['argmin_from_66']})")


def _person_speed(r: dict) -> str:
    rows = {(x["clip"], x["pipeline"]): x for x in r["rows"]}

    def one(clip, pipeline):
        x = rows.get((clip, pipeline))
        return "–" if x is None else f"{x['fps']:.1f} fps, {x['steady_fps']:.1f} steady ({x['cpu_ms']:.0f} ms CPU)"

    loads = [x["load"] for x in r["rows"] if "matte" in x["pipeline"]]
    return (f"{one('one person', 'matte --person (shadow, props, margin)')} / "
            f"{one('one person', 'matte --person --no-shadow --no-props')} / "
            f"{one('four people', 'matte --person (shadow, props, margin)')}; {r['frames']} frames, "
            f"load {_span(loads)} on {r.get('machine', '?').split(',')[0]}")


def _replace_bg_speed(r: dict) -> str:
    s = r["speed"]
    m = next(x for x in s["modes"] if x["mode"].startswith("person matte + image plate (follows camera)"))
    return (f"{m['cpu_ms']:.0f} ms CPU a frame ({m['fps']:.1f} fps at load {m['load']}, {s['frames']} frames; "
            f"decode+encode floor {s['floor']['fps']:.0f} fps)")


def _plate(r: dict) -> str:
    f = r["following"]
    return f"{f['step_err_mean_px']:.3f} px mean, {f['step_err_max_px']:.3f} px max per frame"


def _animate_fps(r: dict) -> str:
    e2e = {x["what"].split()[0]: x["fps"] for x in r.get("end_to_end", [])}
    return (f"{_span([x['fps'] for x in r['parallax']])} / {_span([x['fps'] for x in r['motion']])} fps "
            f"(end to end to H.264: {e2e.get('parallax', float('nan')):.1f} / {e2e.get('motion', float('nan')):.1f})"
            + (", quick set of moves" if r.get("quick") else ""))


def _animate_psnr(r: dict) -> str:
    psnr0 = min(x["psnr0"] for x in r["parallax"] + r["motion"])
    motion = [x["seam_ratio"] for x in r["motion"] if x["loop"]]
    parallax = [x["seam_ratio"] for x in r["parallax"] if x["loop"]]
    return f"≥{psnr0:.0f} dB, {_span(motion, '.2f')} (motion) {_span(parallax, '.2f')} (parallax)"


def _motion_brush(r: dict) -> str:
    return (f"{max(x['direction_err_deg'] for x in r['motion']):.1f}° / "
            f"{max(x['outside_change'] for x in r['motion']):.3f} levels")


def _diffusion_rows(r: dict) -> tuple[dict, dict]:
    rows = {x["variant"]: x for x in r["tiny"]}
    return rows["ours"], rows["naive"]


def _diffusion_evals(r: dict) -> str:
    o, n = _diffusion_rows(r)
    return (f"{o['unet_per_frame']:g} vs {n['unet_per_frame']:g} ({n['unet_per_frame'] / o['unet_per_frame']:.1f}×); "
            f"{r['frames']} frames, {r['steps']} steps")


def _diffusion_flicker(r: dict) -> str:
    o, n = _diffusion_rows(r)
    return f"{o['flicker']:.3f} vs {n['flicker']:.3f} ({r['frames']} frames, {r['steps']} steps)"


def _diffusion_full(r: dict) -> str:
    f = r["full"]
    rows = {x["variant"]: x for x in f["rows"]}
    o, n = rows["ours"], rows["naive"]
    text = f"{o['s_per_frame']:.1f} vs {n['s_per_frame']:.1f} ({f['steps']} steps × {f['frames']} frames)"
    if "extrapolated" in f:
        e = f["extrapolated"]
        text += (f" (est. {e['ours_s_per_frame']:.1f} vs {e['naive_s_per_frame']:.0f} at {e['steps']} steps × "
                 f"{e['frames']} frames)")
    return text


def _server(r: dict) -> str:
    return (f"{r['failed']} failures of {r['requests']}; p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms "
            f"({r['rate']:.0f} polls/s for {r['seconds']:.0f} s, job {r['job']})")


class Row(NamedTuple):
    """One line of the "Other figures" table: which result ``kind`` it reads,
    the top-level keys that result must hold (the newest file that has them is
    used) and how the figures are written."""
    what: str
    target: str
    bench: str
    kind: str
    needs: tuple[str, ...]
    result: Callable[[dict], str]


OTHER = (
    Row("`vedit matte tennis --person` (shadow, props and margin on) against the labelled mask: precision / recall",
        "printed", "`bench/matte.py`", "matte", ("tennis",), _matte_precision),
    Row("person matte, several people (`--no-shadow --margin 0`, scored against the pasted people): recall / "
        "precision",
        "recall ≥0.8, precision ≥0.85 (held-out clip)", "`bench/mattes.py`", "mattes", ("holdout",), _mattes),
    Row("matte edge instability with vs without temporal smoothing (default matte)", "≥30 %", "`bench/matte.py`",
        "matte", ("edge_instability",), _edge),
    Row("person matte 1280×720: one person default (shadow, props, margin) / `--no-shadow --no-props` / four people "
        "default", "≥20 fps one person", "`bench/person_speed.py`", "person-speed", ("rows",), _person_speed),
    Row("matte tracking from keyframes (no model), mean IoU: tennis frame 0 / frames 0, 35, 69; bmx-trees "
        "`--box 182,58,100,130`", "≥0.5, ≥0.3 every frame from 66", "`bench/matte.py`", "matte", ("tracking",),
        _tracking),
    Row("replace-bg 1280×720, every person kept + image plate, follows camera", "≥12 fps", "`bench/replace_bg.py`",
        "replace-bg", ("speed",), _replace_bg_speed),
    Row("replace-bg plate motion error (known pan+zoom+roll)", "≤1 px", "`bench/replace_bg.py`", "replace-bg",
        ("following",), _plate),
    Row("parallax / motion render 1280×720 (render only; every frame one bicubic warp of the still)", "≥15 fps",
        "`bench/animate.py`", "animate", ("parallax", "motion"), _animate_fps),
    Row("animate: frame 0 PSNR, loop seam / median step", "≥45 dB, ≤1.5", "`bench/animate.py`", "animate",
        ("parallax", "motion"), _animate_psnr),
    Row("motion brush direction error / still-region change", "≤20° / <1", "`bench/animate.py`", "animate",
        ("motion",), _motion_brush),
    Row("diffusion remove: UNet evals per frame, ours vs naive", "≥6× fewer", "`bench/diffusion.py`", "diffusion",
        ("tiny",), _diffusion_evals),
    Row("diffusion remove flicker (tiny random model), ours vs naive per-frame", "≤1.5", "`bench/diffusion.py`",
        "diffusion", ("tiny",), _diffusion_flicker),
    Row("full-size SD1.5 config, 512², CPU: s/frame ours vs naive", "printed", "`bench/diffusion.py`", "diffusion",
        ("full",), _diffusion_full),
    Row("job server: status polls while a job runs", "no failures", "`bench/server.py`", "server", ("requests",),
        _server),
)


def newest_with(kind: str, needs: tuple[str, ...], folder: str = RESULTS) -> dict | None:
    """The newest readable ``kind`` result in ``folder`` holding every key of ``needs``."""
    for path in reversed(results_of(kind, folder)):
        try:
            with open(path) as fh:
                res = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(res, dict) and all(k in res for k in needs):
            return res
    return None


def other_row(row: Row, folder: str = RESULTS) -> str:
    """One table line; a result that cannot be read is named, not raised."""
    res = newest_with(row.kind, row.needs, folder)
    if res is None:
        text = NOT_MEASURED
    else:
        try:
            text = f"{row.result(res)} ({_when(res)})"
        except (KeyError, TypeError, ValueError, StopIteration, ZeroDivisionError) as exc:
            text = f"unreadable {row.kind} result of {res.get('date', '?')} ({type(exc).__name__}: {exc})"
    return f"| {row.what} | {text} | {row.target} | {row.bench} |"


def render_other(folder: str = RESULTS) -> str:
    """The "Other figures" table as markdown."""
    return "\n".join(["| what | result | target | bench |", "|---|---|---|---|",
                      *(other_row(r, folder) for r in OTHER)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", nargs="?", help="a remove-*.json (default: the newest in bench/results)")
    ap.add_argument("--no-cases", action="store_true", help="only the per-category table")
    ap.add_argument("--other", action="store_true", help="the 'Other figures' table from every other bench's newest result")
    ap.add_argument("--results", default=RESULTS, help="the folder of result files (default bench/results)")
    a = ap.parse_args(argv)
    if a.other:
        print(render_other(a.results))
        return
    path = a.result or latest(a.results)
    try:
        with open(path) as fh:
            res = json.load(fh)
        text = render(res, not a.no_cases)
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"ERROR: {path} is not a bench/remove.py result ({type(exc).__name__}: {exc})")
    print(text)


if __name__ == "__main__":
    main()
