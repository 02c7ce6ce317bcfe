import click

from vedit.ops import OPS
from vedit_cli.common import Progress, quiet_option


def _parse_param(text: str):
    from vedit.errors import InvalidInputError

    if "=" not in text:
        raise InvalidInputError(f"--param {text!r}: expected KEY=VALUE (for example --param dilate=4)")
    k, v = text.split("=", 1)
    for conv in (int, float):
        try:
            return k.strip(), conv(v)
        except ValueError:
            pass
    if v.lower() in ("true", "false"):
        return k.strip(), v.lower() == "true"
    return k.strip(), v


@click.command("timeline")
@click.argument("timeline")
@click.option("-o", "--output", required=True, help="New timeline (.otio, .xml FCP7, .edl).")
@click.option("--op", required=True, type=click.Choice(list(OPS)),
              help="Operation to run on each selected clip.")
@click.option("--mask", default=None, help="Mask for remove / matte; {name}, {index}, {track} are filled per clip.")
@click.option("--background", default=None, help="replace-bg: image, video, colour or 'blur'.")
@click.option("--prompt", default=None, help="replace-bg: generate the background from text.")
@click.option("--matte", default=None, help="replace-bg: 'person' or a mask path.")
@click.option("--engine", default=None, help="Engine for the op.")
@click.option("--param", "extra", multiple=True, help="Any other op option as KEY=VALUE (repeatable).")
@click.option("--track", "tracks", multiple=True, help="Only clips on this video track (number from 1, or name).")
@click.option("--marker", "markers", multiple=True, help="Only clips carrying a marker/colour label with this name or colour.")
@click.option("--name", "names", multiple=True, help="Only clips with this name (wildcards allowed).")
@click.option("--media-dir", default=None, help="Folder for the result media (default: <output>_media/).")
@click.option("--format", "fmt", default="mp4", type=click.Choice(["mp4", "mov", "mkv", "webm"]),
              help="Container of the result media.")
@click.option("--rate", type=float, default=None, help="Frame rate to read an EDL with (EDLs do not store it).")
@click.option("--dry-run", is_flag=True, help="List the clips that would be processed, then stop.")
@quiet_option
def command(timeline, output, op, mask, background, prompt, matte, engine, extra, tracks, markers, names,
            media_dir, fmt, rate, dry_run, quiet):
    """Run an operation on the clips of TIMELINE and write a new timeline with
    the results on a new video track above, at the same record times."""
    from vedit.timeline import process_timeline

    params = {k: v for k, v in dict(mask=mask, background=background, prompt=prompt, matte=matte,
                                     engine=engine).items() if v is not None}
    params.update(dict(_parse_param(p) for p in extra))
    prog = Progress(1, quiet=quiet or dry_run, label=op)
    rep = process_timeline(timeline, output, op=op, params=params, tracks=list(tracks), markers=list(markers),
                           names=list(names), media_dir=media_dir, result_format="." + fmt, rate=rate,
                           callback=prog, dry_run=dry_run)
    prog.finish()
    for it in rep.items:
        click.echo(f"{it.track_name:>8}  {it.name:<24} frames {it.start}-{it.end}  {it.media_path}"
                   + (f" -> {it.output}" if it.output and not dry_run else ""))
    if not dry_run:
        click.echo(f"wrote {rep.output} ({len(rep.items)} clips on track {', '.join(rep.track_names)})")
