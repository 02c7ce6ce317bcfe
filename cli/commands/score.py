"""``vedit score``: how good a removal is, for users checking their own results."""
from __future__ import annotations

import json

import click

_FULL = (("psnr_mask", "dB in the mask"), ("psnr_full", "dB over whole frames"), ("ssim_full", "mean SSIM"),
         ("flicker", "1.0 = as stable as the truth"), ("detail", "1.0 = as crisp as the truth"))
_NOREF = (("flicker", "hole vs ring of real footage, 1.0 = as stable"),
          ("coverage", "hole pixels the output's own flow could follow"),
          ("detail", "hole vs ring, 1.0 = as crisp as the surroundings"))


@click.command("score")
@click.argument("output")
@click.option("--mask", "-m", required=True, help="Mask image (all frames), folder/pattern of masks, or a mask video.")
@click.option("--truth", "-t", default=None, help="The clean clip (ground truth). Without it: a no-reference report.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(output: str, mask: str, truth: str | None, as_json: bool) -> None:
    """Score OUTPUT (a video or a folder of frames) inside MASK.

    With --truth: psnr_mask, psnr_full, ssim_full, flicker and detail (the
    definitions of DESIGN §7). Without: flicker and detail of the fill against
    the real footage around it, and the frames where the fill pops.
    """
    from vedit.quality import score_files, score_noref_files

    res = score_files(output, truth, mask) if truth else score_noref_files(output, mask)
    if as_json:
        click.echo(json.dumps(res))
        return
    for key, meaning in _FULL if truth else _NOREF:
        v = "n/a" if res[key] is None else res[key]
        click.echo(f"{key:>12}: {v:<8} ({meaning})")
    if not truth:
        frames = res["abrupt_frames"]
        click.echo(f"{'abrupt':>12}: {', '.join(map(str, frames)) if frames else 'none'} (frames where the fill pops)")
    click.echo(f"{'frames':>12}: {res['frames']}")
