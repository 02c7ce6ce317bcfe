import click

from vedit_cli.common import Progress, parse_ints, quiet_option, range_options


@click.command("matte")
@click.argument("input")
@click.option("-o", "--output", required=True,
              help="Folder/ for a PNG sequence, or .mp4/.mkv (grey matte), or .mov/.webm with --alpha.")
@click.option("--person", is_flag=True, help="Matte people (MediaPipe models in the wheel, no downloads).")
@click.option("--person-model", type=click.Choice(["auto", "pose", "selfie"]), default="auto", show_default=True,
              help="pose: full/half body; selfie: close-ups; auto picks per shot.")
@click.option("--include-shadow/--no-shadow", default=True, show_default=True,
              help="--person: also matte the person's cast shadow on the ground (what a removal needs; "
                   "--no-shadow for the person alone, e.g. to composite).")
@click.option("--margin", type=int, default=None,
              help="--person: grow the refined matte by N px (default 1.25% of the frame height: 3 px at 240p, "
                   "9 px at 720p, 14 px at 1080p; 0 = the model's edge). Added to --dilate.")
@click.option("--mask", default=None,
              help="Keyframe mask image at --frame (tracked through the shot), or a mask sequence/video (used as is).")
@click.option("--frame", type=int, default=0, show_default=True, help="Keyframe for --mask/--box/--points (from --start).")
@click.option("--box", default=None, help="X,Y,W,H around the object on --frame (GrabCut, or SAM prompt).")
@click.option("--points", default=None, help="X,Y[,X,Y...] on the object on --frame (SAM prompt).")
@click.option("--sam-checkpoint", default=None, type=click.Path(), help="segment-anything checkpoint (local file).")
@click.option("--sam-model", type=click.Choice(["vit_b", "vit_l", "vit_h"]), default="vit_b", show_default=True)
@click.option("--chroma", default=None, help="Chroma key: green, blue or #RRGGBB.")
@click.option("--tolerance", type=float, default=None, help="Chroma key tolerance 0..1 (default 0.18).")
@click.option("--refine/--no-refine", default=True, show_default=True, help="Hole filling + guided-filter edges.")
@click.option("--smooth/--no-smooth", default=True, show_default=True, help="Temporal smoothing along optical flow.")
@click.option("--dilate", type=int, default=0, show_default=True, help="Grow (px) or shrink (negative) the matte.")
@click.option("--feather", type=float, default=0, show_default=True, help="Soften the edge over N px.")
@click.option("--alpha", is_flag=True, help="Write the footage with the matte as alpha (.mov ProRes 4444, .webm, folder/).")
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default="8", show_default=True,
              help="PNG matte bit depth (16 for a grey PNG folder only).")
@click.option("--preview", default=None, help="Also write a preview video here.")
@click.option("--preview-style", type=click.Choice(["overlay", "checker"]), default="overlay", show_default=True)
@range_options
@quiet_option
def command(input, output, person, person_model, include_shadow, margin, mask, frame, box, points, sam_checkpoint,
            sam_model, chroma, tolerance, refine, smooth, dilate, feather, alpha, bit_depth, preview, preview_style, start, end, quiet):
    """Build a matte of INPUT: a person, a tracked keyframe mask, a box
    (GrabCut), SAM points/box, or a chroma key."""
    from vedit.io import open_clip
    from vedit.ops.matte import run

    box_v = parse_ints(box, 4, "--box") if box else None
    pts_v = parse_ints(points, None, "--points") if points else None
    if pts_v is not None and (not pts_v or len(pts_v) % 2):
        raise click.BadParameter("expected X,Y[,X,Y...]", param_hint="--points")
    n = open_clip(input, start=start, end=end).frame_count
    bar = Progress(n, quiet=quiet, label="matte")
    try:
        out = run(input, output, start=start, end=end, callback=bar, person=person, mask=mask, frame=frame,
                  box=box_v, points=pts_v, chroma=chroma, tolerance=tolerance, person_model=person_model,
                  sam_checkpoint=sam_checkpoint, sam_model=sam_model, refine=refine, smooth=smooth,
                  dilate=dilate, feather=feather, alpha=alpha, bit_depth=int(bit_depth), preview=preview,
                  preview_style=preview_style, include_shadow=include_shadow, margin=margin)
    finally:
        bar.finish()
    if not quiet:
        click.echo(out)
