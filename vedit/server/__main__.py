"""``python -m vedit.server``: the same as ``vedit serve`` without the CLI package."""
from __future__ import annotations

import argparse
import sys

from vedit.runtime import one_blas_thread

one_blas_thread()  # before anything imports numpy

from vedit.errors import VeditError  # noqa: E402
from vedit.server.config import ServerConfig, vedit_home  # noqa: E402


def parse_args(argv=None) -> ServerConfig:
    p = argparse.ArgumentParser(prog="python -m vedit.server", description="vedit local job server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--allowed-root", action="append", default=[], help="folder outputs may be written in")
    p.add_argument("--output-dir", default=None, help="folder for relative output paths (always allowed)")
    p.add_argument("--origin", action="append", default=[], help="allowed panel origin, e.g. http://localhost:3000")
    p.add_argument("--allow-host", action="append", default=[], help="extra Host name to accept")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-queue", type=int, default=100)
    p.add_argument("--max-body", type=int, default=64 * 1024)
    p.add_argument("--requeue-interrupted", action="store_true")
    p.add_argument("--home", default=None, help="config folder (default $VEDIT_HOME or ~/.config/vedit)")
    p.add_argument("--allow-read", action="append", default=[], help="folder inputs may also be read from")
    p.add_argument("--keep-jobs", type=int, default=200)
    p.add_argument("--keep-days", type=float, default=30.0)
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (needs TLS)")
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)
    a = p.parse_args(argv)
    return ServerConfig(home=a.home or vedit_home(), host=a.host, port=a.port, allowed_roots=a.allowed_root,
                        output_dir=a.output_dir, origins=a.origin, allowed_hosts=a.allow_host,
                        workers=a.workers, max_queue=a.max_queue, max_body=a.max_body,
                        requeue_interrupted=a.requeue_interrupted, read_roots=a.allow_read,
                        keep_jobs=a.keep_jobs, keep_days=a.keep_days, allow_remote=a.allow_remote,
                        tls_cert=a.tls_cert, tls_key=a.tls_key)


def main(argv=None) -> int:
    from vedit.server.app import serve

    try:
        serve(parse_args(argv), echo=lambda m: print(m, flush=True))
    except VeditError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
