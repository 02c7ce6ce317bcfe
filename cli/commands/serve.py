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
@click.option("--allow-read", "read_roots", multiple=True, type=click.Path(file_okay=False),
              help="Folder inputs may also be read from (repeatable). With --allowed-root, inputs must be "
                   "inside an allowed root or one of these.")
@click.option("--keep-jobs", default=200, show_default=True, type=int, help="Finished jobs kept in the history.")
@click.option("--keep-days", default=30.0, show_default=True, type=float, help="Days a finished job is kept.")
@click.option("--allow-remote", is_flag=True, help="Allow a --host other machines can reach (needs TLS).")
@click.option("--tls-cert", default=None, type=click.Path(dir_okay=False), help="TLS certificate (PEM).")
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False), help="TLS private key (PEM).")
@click.option("--make-cert", is_flag=True,
              help="Make a self-signed certificate pair in $VEDIT_HOME/tls for --host and loopback, then exit.")
def command(host, port, allowed_roots, output_dir, origins, allowed_hosts, workers, max_queue, requeue_interrupted,
            read_roots, keep_jobs, keep_days, allow_remote, tls_cert, tls_key, make_cert):
    """Run the local job server for editor panels (token in $VEDIT_HOME/token)."""
    import os

    from vedit.server import ServerConfig, serve, vedit_home

    if make_cert:
        from vedit.server.tls import make_cert as _make

        cert, key = _make(os.path.join(vedit_home(), "tls"), [host])
        click.echo(f"certificate: {cert}\nkey: {key}\nstart with: vedit serve --host {host} --allow-remote "
                   f"--tls-cert {cert} --tls-key {key}")
        return
    cfg = ServerConfig(host=host, port=port, allowed_roots=list(allowed_roots), output_dir=output_dir,
                       origins=list(origins), allowed_hosts=list(allowed_hosts), workers=workers,
                       max_queue=max_queue, requeue_interrupted=requeue_interrupted, read_roots=list(read_roots),
                       keep_jobs=keep_jobs, keep_days=keep_days, allow_remote=allow_remote, tls_cert=tls_cert,
                       tls_key=tls_key)
    serve(cfg, echo=lambda m: click.echo(m, err=False))
