import json

import click


@click.command("engines")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--family", type=click.Choice(["inpaint", "animate", "matte"]), default=None)
def command(as_json, family):
    """List engines: name, family, what they need, whether usable here."""
    from vedit.engines import engines, plugin_errors

    rows = [s.as_dict() for s in engines(family)]
    if as_json:
        click.echo(json.dumps({"engines": rows, "plugin_errors": plugin_errors()}, indent=2))
        return
    click.echo(f"{'family':<8} {'name':<10} {'available':<10} needs")
    for r in rows:
        needs = ", ".join(r["needs"]) or "-"
        if r["weights"]:
            needs += f"; weights: {r['weights']}"
        avail = "yes" if r["available"] else f"no ({r['extra']})"
        click.echo(f"{r['family']:<8} {r['name']:<10} {avail:<10} {needs}")
        click.echo(f"{'':<8} {'':<10} {'':<10} {r['description']}")
    for e in plugin_errors():
        click.echo(f"plugin skipped: {e}", err=True)
