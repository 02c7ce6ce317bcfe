"""Click commands generated from op definitions (``vedit.ops.params``): every
param becomes an option with its help, default and choices, so the CLI cannot
drift from the job server and ``GET /ops``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vedit.ops.params import OpDef, Param
from vedit.runtime import set_quiet
from vedit_cli.common import Progress


def click_option(p: Param) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option for one param (values are checked by ``OpDef.resolve``)."""
    help_text = p.help
    if p.engines:
        help_text = f"[{'|'.join(p.engines)}] {help_text}"
    shown = p.default is not None and p.default is not False and p.default != ""
    kw: dict[str, Any] = {"help": help_text, "default": p.default, "show_default": shown}
    decls: list[str]
    if p.type == "bool" and not p.repeat:
        if p.default is False and not p.cli_off:
            decls = [p.flag, *p.cli]
            kw.update(is_flag=True, show_default=False)
        else:
            off = p.cli_off or "--no-" + p.flag[2:]
            decls = [f"{p.flag}/{off}", *p.cli]
    else:
        decls = [p.flag, *p.cli]
        choices = p.choice_values()
        if callable(p.choices) and choices is not None:
            # a registry (engines): checked by the op, so an unknown name is one
            # clear ERROR line naming the choices, like any other bad value
            kw["metavar"] = "[" + "|".join(str(c) for c in choices) + "]"
        elif choices is not None:
            # older values (value_aliases) stay accepted, the help shows the current ones
            names = [str(c) for c in choices] + [a for a, _ in p.value_aliases]
            kw["type"] = click.Choice(names)
            kw["metavar"] = "[" + "|".join(str(c) for c in choices) + "]"
        elif p.type == "int":
            kw["type"] = click.INT
        elif p.type == "float":
            kw["type"] = click.FLOAT
        if p.metavar:
            kw["metavar"] = p.metavar
        if p.repeat:
            kw.update(multiple=True, default=None)
        if p.required:
            kw["required"] = True
        if p.type == "int" and choices is not None and p.default is not None:
            kw["default"] = str(p.default)
    return click.option(*decls, p.name, **kw)


def op_command(op: OpDef, name: str, *, argument: str = "INPUT", frames: str = "range",
               output_help: str = "Output file (.mp4 .mov .webm .mkv .gif) or folder/ for PNG frames.",
               doc: str | None = None) -> click.Command:
    """A ``vedit <name>`` command for ``op``: INPUT, ``-o OUTPUT``, the frame
    range (``frames``: ``range`` = --start/--end, ``start`` = --start only),
    ``--quiet`` and one option per param."""

    def callback(**kw: Any) -> None:
        input_path, output = kw.pop("input"), kw.pop("output")
        start, end, quiet = kw.pop("start", None), kw.pop("end", None), kw.pop("quiet")
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()
                  if v is not None and v != ()}
        run = op.run
        assert run is not None
        progress = Progress(1, quiet=quiet, label=name)
        set_quiet(quiet)
        try:
            path = run(input_path, output, start=start, end=end, callback=progress, **params)
        finally:
            progress.finish()
        if not quiet:
            click.echo(path)

    f: Callable[..., Any] = callback
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)
    if frames == "range":
        f = click.option("--end", type=int, default=None, help="Last frame, exclusive (like a slice).")(f)
        f = click.option("--start", type=int, default=None, help="First frame to process (from 0).")(f)
    elif frames == "start":
        f = click.option("--start", type=int, default=None,
                         help=f"With a video or sequence as {argument}: the frame to use.")(f)
    for p in reversed(op.params):
        f = click_option(p)(f)
    f = click.option("-o", "--output", required=True, help=output_help)(f)
    f = click.argument("input", metavar=argument)(f)
    return click.command(name, help=doc or op.help, context_settings={"max_content_width": 100})(f)
