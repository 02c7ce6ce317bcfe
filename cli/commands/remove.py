import click

from vedit_cli.common import Progress, quiet_option, range_options


@click.command("remove")
@click.argument("input")
@click.option("--mask", "-m", required=True, help="Mask image (all frames), folder/pattern of masks, or a mask video. White = remove.")
@click.option("--output", "-o", required=True, help="Output file (.mp4 .mov .webm .mkv .gif) or folder/ for PNG frames.")
@click.option("--engine", "-e", default="propagate", show_default=True, help="Inpaint engine (see `vedit engines`).")
@click.option("--dilate", default=3, show_default=True, type=int, help="Grow the mask by N pixels.")
@click.option("--feather", default=2, show_default=True, type=int, help="Soft blend band outside the grown mask, in pixels.")
@range_options
@click.option("--fps", type=float, default=None, help="Frame rate of an image-sequence input (default 25).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--chunk-size", type=int, default=None, help="Frames processed together (memory bound).")
@click.option("--model", default=None, help="[diffusion] model folder or Hugging Face cache id.")
@click.option("--prompt", default=None, help="[diffusion] text describing what should fill the region.")
@click.option("--negative-prompt", default=None, help="[diffusion] what to avoid.")
@click.option("--steps", type=int, default=None, help="[diffusion] denoising steps.")
@click.option("--guidance", type=float, default=None, help="[diffusion] classifier-free guidance scale.")
@click.option("--keyframe-every", type=int, default=None, help="[diffusion] at most K frames between keyframes.")
@click.option("--refine", type=float, default=None, help="[diffusion] strength of the per-frame refine pass (0 = off).")
@click.option("--offload", is_flag=True, default=None, help="[diffusion] model CPU offload.")
@click.option("--device", default=None, help="[diffusion] cpu, cuda, mps (default: cpu).")
@quiet_option
def command(input, mask, output, engine, dilate, feather, start, end, fps, seed, chunk_size, quiet, **diffusion):
    """Remove what MASK covers in INPUT; fill it consistently through the shot."""
    from vedit.engines import names
    from vedit.errors import EngineNotFoundError
    from vedit.ops.remove import run

    if engine not in names("inpaint"):
        raise EngineNotFoundError(f"unknown engine {engine!r}; choose one of: {', '.join(names('inpaint'))}")
    prog = Progress(0, quiet, "remove")
    try:
        path = run(input, output, mask=mask, start=start, end=end, callback=prog, engine=engine, dilate=dilate,
                   feather=feather, seed=seed, chunk_size=chunk_size, fps=fps, **diffusion)
    finally:
        prog.finish()
    if not quiet:
        click.echo(f"wrote {path}", err=True)
