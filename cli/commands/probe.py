import json

import click


@click.command("probe")
@click.argument("input")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(input, as_json):
    """Print fps, frames, size, duration, audio and codec of INPUT."""
    from vedit.io import probe

    info = probe(input)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for k, v in info.items():
        click.echo(f"{k:>12}: {v}")
