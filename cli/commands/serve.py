import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep loopback).")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--allowed-root", "allowed_roots", multiple=True, type=click.Path(file_okay=False),
              help="Folder outputs may be written in (repeatable). Default: next to each input.")
@click.option("--output-dir", default=None, type=click.Path(file_okay=False),
              help="Folder for relative output paths (always allowed).")
@click.option("--origin", "origins", multiple=True, help="Allowed panel origin, e.g. http://localhost:3000 (repeatable).")
@click.option("--allow-host", "allowed_hosts", multiple=True, help="Extra Host name to accept (repeatable).")
@click.option("--workers", default=1, show_default=True, type=int, help="Jobs run at the same time.")
@click.option("--max-queue", default=100, show_default=True, type=int, help="Queued jobs before 429.")
@click.option("--requeue-interrupted", is_flag=True, help="Re-queue jobs a crash interrupted instead of failing them.")
def command(host, port, allowed_roots, output_dir, origins, allowed_hosts, workers, max_queue, requeue_interrupted):
    """Run the local job server for editor panels (token in $VEDIT_HOME/token)."""
    from vedit.server import ServerConfig, serve

    cfg = ServerConfig(host=host, port=port, allowed_roots=list(allowed_roots), output_dir=output_dir,
                       origins=list(origins), allowed_hosts=list(allowed_hosts), workers=workers,
                       max_queue=max_queue, requeue_interrupted=requeue_interrupted)
    serve(cfg, echo=lambda m: click.echo(m, err=False))
