import json

import click


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--check", "check", default=None, metavar="MODEL",
              help="Resolve MODEL (folder, model-dir name or cached Hugging Face id) as --model would, and say "
                   "what it can do.")
def command(as_json, check):
    """List diffusion models found locally and what they can do.

    Searched, never downloaded: VEDIT_MODEL_DIR, `model_dirs` under
    [diffusion] in $VEDIT_HOME/config.toml, $VEDIT_HOME/models and the
    Hugging Face cache.
    """
    from vedit.models import config_path, diffusion_defaults, find_models, hf_cache_dir, model_dirs, resolve_model

    if check is not None:
        info = resolve_model(check)
        if as_json:
            click.echo(json.dumps(info.as_dict(), indent=2))
        else:
            click.echo(f"{info.name}: {info.pipeline} ({info.family}, native {info.native_size}px) - {info.can}")
            click.echo(f"  path: {info.path}")
        return
    models = find_models()
    default = diffusion_defaults().get("model")
    if as_json:
        click.echo(json.dumps({"models": [m.as_dict() for m in models], "default": default,
                               "searched": [str(d) for d in model_dirs()] + [str(hf_cache_dir())],
                               "config": str(config_path())}, indent=2))
        return
    if not models:
        click.echo("no diffusion models found locally.")
    for m in models:
        click.echo(f"{m.name}")
        click.echo(f"    {m.pipeline} ({m.family}, native {m.native_size}px, {m.source}) - {m.can}")
    click.echo(f"searched: {', '.join(str(d) for d in model_dirs())}, {hf_cache_dir()}")
    click.echo(f"default model: {default or '(first inpainting model found)'}  (config: {config_path()})")
    if not models:
        click.echo("add one: vedit remove ... --engine diffusion --model PATH, set VEDIT_MODEL_DIR, or put "
                   "`model = ...` under [diffusion] in the config file")
