import click

from vedit_cli.common import Progress, parse_ints, quiet_option, range_options, parse_points


@click.command("replace-bg")
@click.argument("input")
@click.option("-o", "--output", required=True, help="Output video (.mp4 .mov .webm .mkv .gif) or folder/ for PNGs.")
@click.option("-b", "--background", default=None,
              help="IMAGE, VIDEO, folder of frames, a colour (#RRGGBB, R,G,B, name), 'blur' or 'transparent'.")
@click.option("--prompt", default=None, help="Generate the new background from this text (needs a diffusion model).")
@click.option("--negative-prompt", default="", help="What the generated background should not show.")
@click.option("--model", default=None, help="Local diffusers inpainting model (path or cached id) for --prompt.")
@click.option("--engine", default="diffusion", show_default=True, help="Inpaint engine that generates --prompt plates.")
@click.option("--steps", type=int, default=20, show_default=True, help="Denoising steps for --prompt.")
@click.option("--guidance", type=float, default=7.5, show_default=True, help="Guidance scale for --prompt.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --prompt.")
@click.option("--device", default=None, help="torch device for --prompt (cpu, cuda, mps; default cpu).")
@click.option("--matte", default="person", show_default=True,
              help="person | chroma | sam | grabcut | MASK (image, folder, pattern or video; white = subject).")
@click.option("--frame", type=int, default=None,
              help="With --matte MASK: it is a keyframe mask at this frame, tracked through the shot; "
                   "with sam/grabcut: the prompt frame.")
@click.option("--box", default=None, help="X,Y,W,H subject box for --matte sam|grabcut.")
@click.option("--points", default=None, help="X,Y[,X,Y...] subject points for --matte sam.")
@click.option("--sam-checkpoint", default=None, help="Segment Anything checkpoint for --matte sam.")
@click.option("--person-model", type=click.Choice(["auto", "selfie", "pose"]), default="auto", show_default=True)
@click.option("--person-every", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Run the person model every N frames and carry the matte along optical flow between "
                   "(faster, slightly looser edges on fast motion).")
@click.option("--key", default=None, help="Key colour for --matte chroma: green, blue or #RRGGBB (default green).")
@click.option("--tolerance", type=float, default=None, help="Chroma key tolerance.")
@click.option("--refine/--no-refine", default=True, show_default=True, help="Edge-aware matte refinement.")
@click.option("--smooth/--no-smooth", default=None,
              help="Temporal smoothing of the matte (default: on, except for a --matte MASK file).")
@click.option("--dilate", type=int, default=0, help="Grow (px) or shrink (negative) the matte.")
@click.option("--feather", type=float, default=0.0, help="Soften the matte edge over this many pixels.")
@click.option("--fit", type=click.Choice(["cover", "contain", "stretch"]), default="cover", show_default=True,
              help="How the plate fills the frame (or the whole camera path).")
@click.option("--static-plate", is_flag=True, help="Do not move the plate with the camera.")
@click.option("--plate-loop/--plate-hold", default=True, show_default=True,
              help="A video plate shorter than the shot loops, or holds its last frame.")
@click.option("--light-wrap", type=float, default=0.3, show_default=True, help="Plate light over the subject edge (0 = off).")
@click.option("--match-color", is_flag=True, help="Grade the subject toward the new plate's colours.")
@click.option("--match-strength", type=float, default=0.5, show_default=True, help="0..1 for --match-color.")
@click.option("--spill/--no-spill", default=None, help="Key-colour spill suppression (default: on for --matte chroma).")
@click.option("--blur-radius", "blur", type=float, default=None, help="Blur size in px for --background blur.")
@click.option("--preview", is_flag=True, help="Fast low-resolution pass.")
@click.option("--preview-size", type=int, default=640, show_default=True, help="Long side of --preview output.")
@range_options
@quiet_option
def command(input, output, background, prompt, negative_prompt, model, engine, steps, guidance, seed, device,
            matte, frame, box, points, sam_checkpoint, person_model, person_every, key, tolerance, refine, smooth,
            dilate, feather, fit, static_plate, plate_loop, light_wrap, match_color, match_strength, spill, blur,
            preview, preview_size, start, end, quiet):
    """Keep the subject of INPUT, replace everything behind it.

    The background is a plate (image or video, fitted to the frame and moved
    with the camera), a colour, a blur of the original, transparency, or a
    scene generated from --prompt.
    """
    from vedit.ops.replace_bg import run

    if box is not None:
        box = parse_ints(box, 4, "--box")
    if points is not None:
        points = parse_points(points)
    progress = Progress(1, quiet=quiet, label="replace-bg")
    try:
        out = run(input, output, start=start, end=end, callback=progress,
                  background=background, prompt=prompt, negative_prompt=negative_prompt, model=model,
                  engine=engine, steps=steps, guidance=guidance, seed=seed, device=device, matte=matte,
                  frame=frame, box=box, points=points, sam_checkpoint=sam_checkpoint, person_model=person_model,
                  person_every=person_every,
                  key=key, tolerance=tolerance, refine=refine, smooth=smooth, dilate=dilate, feather=feather,
                  fit=fit, static_plate=static_plate, plate_loop=plate_loop, light_wrap=light_wrap,
                  match_color=match_color, match_strength=match_strength, spill=spill, blur=blur,
                  preview=preview, preview_size=preview_size)
    finally:
        progress.finish()
    if not quiet:
        click.echo(out)
