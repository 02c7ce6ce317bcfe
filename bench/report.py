#!/usr/bin/env python3
"""Markdown tables for the README from a ``bench/remove.py`` result file.

    python bench/report.py [RESULT.json] [--no-cases]

Without a path, the newest ``bench/results/remove-*.json`` is used. Prints the
per-category table (mean psnr_mask, gain over per-frame TELEA, worst case,
detail ratio, flicker) and, unless ``--no-cases``, one row per case.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def latest(folder: str = RESULTS) -> str:
    """The newest remove-*.json in ``folder`` (names sort by date)."""
    files = sorted(glob.glob(os.path.join(folder, "remove-*.json")))
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", nargs="?", help="a remove-*.json (default: the newest in bench/results)")
    ap.add_argument("--no-cases", action="store_true", help="only the per-category table")
    a = ap.parse_args(argv)
    path = a.result or latest()
    try:
        with open(path) as fh:
            res = json.load(fh)
        text = render(res, not a.no_cases)
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"ERROR: {path} is not a bench/remove.py result ({type(exc).__name__}: {exc})")
    print(text)


if __name__ == "__main__":
    main()
