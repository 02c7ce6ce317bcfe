"""``vedit`` console entry point. Commands live one per module in
``vedit_cli.commands`` and are imported only when invoked, so ``vedit --help``,
``vedit probe`` and ``vedit engines`` never import torch."""
from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading

from vedit.runtime import one_blas_thread

one_blas_thread()  # before anything imports numpy

import click  # noqa: E402

from vedit import __version__  # noqa: E402

# command name -> module in vedit_cli.commands, short help (shown without importing)
COMMANDS = {
    "probe": ("probe", "Print fps, frames, size, duration, audio and codec of a clip."),
    "remove": ("remove", "Remove what is inside a mask and fill it consistently through the shot."),
    "replace-bg": ("replace_bg", "Keep the subject, replace the background (plate, colour, blur, prompt)."),
    "matte": ("matte", "Build a matte (person, SAM, box, chroma, tracked keyframe mask)."),
    "animate": ("animate", "Turn a still image into a clip (parallax, motion brush, image-to-video)."),
    "serve": ("serve", "Run the local job server for editor panels."),
    "jobs": ("jobs", "List, show or cancel jobs on a running server."),
    "timeline": ("timeline", "Run an operation on the clips of a timeline (OTIO, FCP7 XML, EDL)."),
    "engines": ("engines", "List engines: name, family, needs, available here."),
    "models": ("models", "List diffusion models found locally and what they can do."),
    "score": ("score", "Score a removal: PSNR/SSIM/flicker/detail vs the truth, or a no-reference report."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        mod = importlib.import_module(f"vedit_cli.commands.{COMMANDS[name][0]}")
        return mod.command

    def format_commands(self, ctx, formatter):
        rows = [(n, h) for n, (_, h) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("ERROR: interrupted; no output was written", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader of stdout went away (``vedit probe x | head -3``):
            # nothing to report, and nothing more may be written there
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            from vedit.errors import VeditError

            if ctx.obj and ctx.obj.get("debug"):
                raise
            if isinstance(exc, VeditError):
                click.echo(f"ERROR: {exc}", err=True)
            else:
                click.echo(f"ERROR: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vedit")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx, debug):
    """vedit: local-first, temporally consistent generative video editing."""
    from vedit.runtime import silence_library_noise, tune_allocator

    tune_allocator()  # long frame loops: reuse freed buffers (no page-fault churn)
    silence_library_noise(debug)  # TFLite/absl/protobuf log lines off the terminal
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def run() -> None:
    """The ``vedit`` program: :func:`main`, then a quick exit.

    A finished job's process spends ~0.4 s tearing the interpreter down
    (freeing every module and object one by one: numba, OpenCV, PyAV, the
    frame buffers) before the shell gets it back. Once the command is done
    nothing of that matters: the exit handlers run, stdout and stderr are
    flushed and the process ends with the command's status. Only when no
    other non-daemon thread is alive (one could still be finishing work);
    otherwise Python's normal shutdown waits for it."""
    try:
        main.main(prog_name="vedit")
        code: int = 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
