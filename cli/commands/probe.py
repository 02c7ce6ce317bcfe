import json

import click


@click.command("probe")
@click.argument("input")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--fill-gaps", type=click.Choice(["hold"]), default=None,
              help="Read a numbered sequence with missing frames, holding the frame before each gap.")
def command(input, as_json, fill_gaps):
    """Print what INPUT holds: size, frame rate (exact; VFR flagged), frames
    (counted from packets where the container's count is not exact),
    duration, audio, codec, pixel format and bit depth, colour description
    (primaries, transfer, matrix, range), pixel aspect, field order,
    timecode, and a sequence's name pattern and numbers."""
    from vedit.io import open_clip

    info = open_clip(input, fill_gaps=fill_gaps).info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    width = max(len(k) for k in info)
    for k, v in info.items():
        click.echo(f"{k:>{width}}: {v}")
