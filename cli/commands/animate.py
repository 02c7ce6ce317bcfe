import click

from vedit_cli.common import Progress, parse_ints, quiet_option, parse_points

CAMERAS = ["dolly-in", "dolly-out", "pan-left", "pan-right", "pan-up", "pan-down", "orbit", "zoom"]


@click.command("animate")
@click.argument("image")
@click.option("-o", "--output", required=True,
              help="Output clip (.mp4 .mov .webm .mkv .gif) or folder/ for a PNG sequence.")
@click.option("--engine", default="parallax", show_default=True, help="parallax | motion | diffusion.")
@click.option("--duration", type=float, default=None, help="Seconds (default 3; diffusion: the model's length).")
@click.option("--fps", type=float, default=None, help="Frame rate (default 25; diffusion: the model's rate).")
@click.option("--frames", type=int, default=None, help="Exact frame count (overrides --duration).")
@click.option("--loop", is_flag=True, help="Seamless loop: the last frame leads back into the first.")
@click.option("--size", default=None, help="Output WxH (e.g. 1280x720) or a width; the image is fitted by --fit.")
@click.option("--aspect", default=None, help="Output aspect such as 16:9, 9:16, 1:1 (with an optional --size width).")
@click.option("--fit", type=click.Choice(["crop", "pad", "stretch"]), default="crop", show_default=True,
              help="How the image fills a new size or aspect.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (diffusion).")
@click.option("--camera", type=click.Choice(CAMERAS), default="dolly-in", show_default=True,
              help="Parallax camera move.")
@click.option("--strength", type=float, default=1.0, show_default=True, help="Size of the camera move (0..4).")
@click.option("--subject", type=click.Choice(["auto", "person", "none"]), default="auto", show_default=True,
              help="Parallax subject layer: a person matte (auto: when no --region/SAM prompt is given and a "
                   "person is found), or none (one flat plane).")
@click.option("--person-model", type=click.Choice(["auto", "selfie", "pose"]), default="auto", show_default=True)
@click.option("--region", multiple=True,
              help="Mask image (white = area). Parallax: one layer per mask, near to far; motion: where it moves.")
@click.option("--points", default=None, help="X,Y[,X,Y...] SAM prompt for a parallax subject layer.")
@click.option("--box", default=None, help="X,Y,W,H SAM prompt for a parallax subject layer.")
@click.option("--sam-checkpoint", default=None, help="Segment Anything checkpoint for --points/--box.")
@click.option("--depth-ratio", type=float, default=3.0, show_default=True,
              help="Background depth relative to the nearest subject (more = stronger parallax).")
@click.option("--motion", multiple=True, metavar="X0,Y0,X1,Y1",
              help="Motion-brush arrow (repeatable): material at X0,Y0 travels to X1,Y1 over the clip.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Scales the --motion arrows.")
@click.option("--model", default=None, help="Diffusion: local image-to-video model folder or cached HF id.")
@click.option("--prompt", default=None, help="Diffusion: text for text-conditioned models (Wan, LTX, CogVideoX).")
@click.option("--negative-prompt", default=None, help="Diffusion: what the video should not show.")
@click.option("--steps", type=int, default=None, help="Diffusion: denoising steps (default: the family's).")
@click.option("--guidance", type=float, default=None, help="Diffusion: guidance scale (SVD: the maximum).")
@click.option("--motion-bucket", type=int, default=127, show_default=True, help="SVD: amount of motion (1..255).")
@click.option("--noise-aug", type=float, default=0.02, show_default=True, help="SVD: noise added to the image.")
@click.option("--decode-chunk-size", type=int, default=None, help="Diffusion: frames decoded at once (less memory).")
@click.option("--pin-first", is_flag=True, help="Diffusion: frame 0 is exactly the input image.")
@click.option("--device", default=None, help="Diffusion: torch device (auto, cpu, cuda, mps).")
@click.option("--dtype", default=None, help="Diffusion: float32 | float16 | bfloat16.")
@click.option("--offload", type=click.Choice(["none", "model", "sequential"]), default="none", show_default=True,
              help="Diffusion: CPU offload for small GPUs.")
@click.option("--vae-tiling", is_flag=True, help="Diffusion: tiled VAE decode (less memory).")
@click.option("--max-side", type=int, default=None,
              help="Diffusion: cap the size the model runs at (default: the model's native area).")
@click.option("--start", type=int, default=None, help="With a video or sequence as IMAGE: the frame to animate.")
@quiet_option
def command(image, output, engine, duration, fps, frames, loop, size, aspect, fit, seed, camera, strength, subject,
            person_model, region, points, box, sam_checkpoint, depth_ratio, motion, speed, model, prompt,
            negative_prompt, steps, guidance, motion_bucket, noise_aug, decode_chunk_size, pin_first, device,
            dtype, offload, vae_tiling, max_side, start, quiet):
    """Turn the still IMAGE into a clip: a parallax camera move, a motion-brush
    animation (seamless with --loop) or an image-to-video diffusion model.

    \b
    vedit animate portrait.jpg -o out.mp4 --camera dolly-in --duration 4
    vedit animate lake.png -o loop.mp4 --engine motion --region water.png \\
          --motion 100,400,260,400 --loop
    vedit animate shot.png -o out.mp4 --engine diffusion --model ./svd-xt --pin-first
    """
    from vedit.ops.animate import run

    if box is not None:
        box = parse_ints(box, 4, "--box")
    if points is not None:
        points = parse_points(points)
    progress = Progress(1, quiet=quiet, label="animate")
    try:
        out = run(image, output, start=start, callback=progress, engine=engine, duration=duration, fps=fps,
                  frames=frames, loop=loop, seed=seed, size=size, aspect=aspect, fit=fit, camera=camera,
                  strength=strength, subject=subject, person_model=person_model, region=list(region) or None,
                  points=points, box=box, sam_checkpoint=sam_checkpoint, depth_ratio=depth_ratio,
                  motion=list(motion) or None, speed=speed, model=model, prompt=prompt,
                  negative_prompt=negative_prompt, steps=steps, guidance=guidance, motion_bucket=motion_bucket,
                  noise_aug=noise_aug, decode_chunk_size=decode_chunk_size, pin_first=pin_first, device=device,
                  dtype=dtype, offload=None if offload == "none" else offload, vae_tiling=vae_tiling,
                  max_side=max_side)
    finally:
        progress.finish()
    if not quiet:
        click.echo(out)
