"""Typed op parameters: the one definition the CLI, the job server, ``GET /ops``
and the host adapters are generated from.

A :class:`Param` says what one option is (type, default, allowed values, range,
help, which engines it applies to, whether it may repeat, whether it names a
file the op reads or writes). An :class:`OpDef` is an op's list of params plus
its ``check`` (combinations of params, no media read), its ``check_inputs``
(the media: files open, sizes and frame counts agree) and its ``run``.
:meth:`OpDef.resolve` turns raw values (click's, JSON's, Python's) into checked
values, raising :class:`ParamError` (naming the param) for anything wrong; every
front end goes through it, so they accept exactly the same things.
"""
from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vedit.errors import InvalidInputError, MediaError

ParamType = Literal["str", "int", "float", "bool", "nums", "path", "path_or_word", "path_out"]
TYPES: tuple[str, ...] = ("str", "int", "float", "bool", "nums", "path", "path_or_word", "path_out")

# integers beyond this are refused (JSON numbers beyond 2**53 are not exact, and
# a 400-digit integer would otherwise reach numpy and overflow there)
INT_LIMIT = 2**53
MAX_TEXT = 10_000  # characters in a text param (prompts included)
MAX_NUMS = 4096  # numbers in one list param


class ParamError(InvalidInputError):
    """A param value is wrong (HTTP 422); ``param`` is its name."""

    status = 422

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@contextlib.contextmanager
def as_param(name: str, job: bool = False) -> Iterator[None]:
    """A media check inside the block is about param ``name``: its error becomes
    a :class:`ParamError` naming it (``params.NAME: ...`` in a job spec; on the
    CLI the message, which names the option, stays as it is)."""
    try:
        yield
    except ParamError:
        raise
    except (InvalidInputError, MediaError) as exc:
        raise ParamError(name, f"params.{name}: {exc}" if job else str(exc)) from None


def cli_flag(name: str) -> str:
    """The CLI spelling of a param name: ``chunk_size`` -> ``--chunk-size``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Param:
    """One op option.

    ``type``: ``str``, ``int``, ``float``, ``bool``, ``nums`` (numbers, as a list
    or ``"1,2,3"`` text; ``count`` fixes how many), ``path`` (an existing regular
    file or folder, or a ``name.%05d.png`` pattern in one, read by the op),
    ``path_or_word`` (a path, or one of ``words`` / a word ``check`` accepts,
    e.g. a colour), ``path_out`` (a second output the op writes).
    ``engines``: the engines the param applies to (empty: all); giving it with
    another engine is an error. ``repeat``: a list of values (CLI: repeatable).
    ``cli``: extra CLI spellings (``-m``); ``cli_off``: the off switch of a
    boolean that defaults on (``--no-shadow``). ``aliases``: older names still
    accepted by ``resolve`` (mapped to ``name``); ``value_aliases``: older
    values still accepted (``(("crop", "cover"),)``).
    """

    name: str
    type: ParamType = "str"
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | Callable[[], Sequence[Any]] | None = None
    min: float | None = None
    max: float | None = None
    engines: tuple[str, ...] = ()
    repeat: bool = False
    required: bool = False
    count: int | None = None
    words: tuple[str, ...] = ()
    cli: tuple[str, ...] = ()
    cli_off: str | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    value_aliases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"param {self.name}: unknown type {self.type!r}")
        if not self.name.isidentifier():
            raise ValueError(f"param name {self.name!r} is not an identifier")

    @property
    def flag(self) -> str:
        return cli_flag(self.name)

    def choice_values(self) -> tuple[Any, ...] | None:
        c = self.choices
        if c is None:
            return None
        return tuple(c() if callable(c) else c)

    # -- checking ---------------------------------------------------------------
    def convert(self, value: Any, label: str | None = None) -> Any:
        """``value`` checked and converted to this param's type (None stays None).
        Raises :class:`ParamError` naming the param (as ``label``)."""
        label = label or self.flag
        if value is None:
            return None
        if self.repeat:
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if self.type == "nums" and items and all(_is_number(v) for v in items):
                items = [items]  # one list of numbers given bare
            if len(items) > MAX_NUMS:
                raise ParamError(self.name, f"{label}: at most {MAX_NUMS} values")
            return [self._one(v, label) for v in items] or None
        return self._one(value, label)

    def _one(self, value: Any, label: str) -> Any:
        def bad(what: str) -> ParamError:
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            # CLI style "--dilate -1: ...", job style "params.dilate = -1: ..."
            sep = " " if label.startswith("-") else " = "
            return ParamError(self.name, f"{label}{sep}{shown}: {what}")

        t = self.type
        out: Any
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                return value.lower() in ("true", "1", "yes", "on")
            raise bad("expected true or false")
        if t == "int":
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value.strip()) < 20:
                value = int(value.strip())
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad("expected a whole number")
            if abs(value) > INT_LIMIT:
                raise bad(f"out of range (at most {INT_LIMIT} in size)")
            out = value
        elif t == "float":
            if isinstance(value, str):
                try:
                    value = float(value) if len(value) < 64 else value
                except ValueError:
                    raise bad("expected a number") from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad("expected a number")
            if isinstance(value, int) and abs(value) > INT_LIMIT:
                raise bad("out of range")
            out = float(value)
            if not math.isfinite(out):
                raise bad("expected a finite number")
        elif t == "nums":
            out = _nums(value, bad)
            if self.count is not None and len(out) != self.count:
                raise bad(f"expected {self.count} comma-separated numbers")
        else:  # text and paths
            if not isinstance(value, str):
                raise bad("expected text" if t == "str" else "expected a path")
            if len(value) > MAX_TEXT or "\x00" in value:
                raise bad("text too long or with a NUL character")
            out = value
            if t in ("path", "path_or_word", "path_out") and not value:
                raise bad("expected a path")
            if t == "path" or (t == "path_or_word" and looks_like_path(value, self.words)):
                out = _existing_path(value, bad)
            elif t == "path_or_word" and self.words and value not in self.words and self.choices is None:
                pass  # a free word (a colour...): the op's check decides
        if self.value_aliases and isinstance(out, str):
            out = dict(self.value_aliases).get(out, out)
        choices = self.choice_values()
        if choices is not None and out not in choices:
            raise bad(f"choose one of {', '.join(str(c) for c in choices)}")
        if self.min is not None and isinstance(out, (int, float)) and out < self.min:
            raise bad(f"must be at least {self.min:g}")
        if self.max is not None and isinstance(out, (int, float)) and out > self.max:
            raise bad(f"must be at most {self.max:g}")
        return out

    # -- description --------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        """JSON-Schema style description (``GET /ops``)."""
        one: dict[str, Any]
        if self.type == "nums":
            arr: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
            if self.count is not None:
                arr.update(minItems=self.count, maxItems=self.count)
            one = {"anyOf": [arr, {"type": "string", "pattern": r"^[-+0-9., eE]*$"}]}
        else:
            one = {"type": {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
                   .get(self.type, "string")}
            if self.type.startswith("path"):
                one["format"] = "path"
        choices = self.choice_values()
        if choices is not None:
            one["enum"] = list(choices)
        if self.min is not None:
            one["minimum"] = self.min
        if self.max is not None:
            one["maximum"] = self.max
        if self.words:
            one["examples"] = list(self.words)
        s: dict[str, Any] = {"type": "array", "items": one} if self.repeat else dict(one)
        s.update({"description": self.help, "default": self.default, "x-kind": self.type,
                  "x-cli": self.flag})
        if self.engines:
            s["x-engines"] = list(self.engines)
        if self.value_aliases:
            s["x-value-aliases"] = dict(self.value_aliases)
        if self.aliases:
            s["x-aliases"] = list(self.aliases)
        if self.repeat:
            s["x-repeat"] = True
        if self.required:
            s["x-required"] = True
        return s


def looks_like_path(value: str, words: Iterable[str] = ()) -> bool:
    """A ``path_or_word`` value is a path when it has a folder separator or an
    extension and is not one of the known words."""
    if value in tuple(words):
        return False
    if value.startswith("#"):
        return False  # a colour
    return os.sep in value or "/" in value or os.path.splitext(value)[1] != ""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _nums(value: Any, bad: Callable[[str], ParamError]) -> list[int | float]:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise bad("too long")
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            vals: list[Any] = [float(p) for p in parts]
        except ValueError:
            raise bad("expected comma-separated numbers") from None
    elif isinstance(value, (list, tuple)):
        flat: list[Any] = []
        for v in value:
            flat.extend(v if isinstance(v, (list, tuple)) else [v])
        if not all(_is_number(v) for v in flat):
            raise bad("expected numbers")
        vals = flat
    else:
        raise bad("expected a list of numbers or \"x,y,...\" text")
    if len(vals) > MAX_NUMS:
        raise bad(f"at most {MAX_NUMS} numbers")
    out: list[int | float] = []
    for v in vals:
        if isinstance(v, int) and abs(v) > INT_LIMIT:
            raise bad("number out of range")
        f = float(v)
        if not math.isfinite(f):
            raise bad("expected finite numbers")
        out.append(int(f) if f.is_integer() else f)
    return out


def _existing_path(value: str, bad: Callable[[str], ParamError]) -> str:
    """The absolute path of an existing regular file or folder (or a frame
    pattern in an existing folder)."""
    path = os.path.abspath(os.path.expanduser(value)) + ("/" if value.endswith("/") and len(value) > 1 else "")
    bare = path.rstrip("/") or "/"
    if os.path.isfile(bare) or os.path.isdir(bare):
        return path
    if os.path.exists(bare):
        raise bad("not a regular file or folder")
    from vedit.io.clip import is_sequence_path

    if is_sequence_path(bare) and os.path.isdir(os.path.dirname(bare)):
        return path
    raise bad("not found (no such file or folder)")


def final_path(output: str) -> str:
    """What an op returns: the absolute output path (a folder without its
    trailing slash)."""
    return os.path.abspath(output.rstrip("/") if output.endswith("/") and len(output) > 1 else output)


# -- ops ----------------------------------------------------------------------------------

#: the params every op has
OVERWRITE = Param("overwrite", "bool", False, cli=("-y",),
                  help="Replace an existing output file or non-empty output folder.")


#: video codecs an op can ask the writer for, and the containers each goes in
#: (``auto``: the container's own, see :func:`vedit.io.writer.output_kind`)
CODEC_EXTS: dict[str, tuple[str, ...]] = {
    "h264": (".mp4", ".m4v", ".mkv"),
    "hevc": (".mp4", ".m4v", ".mkv"),
    "prores": (".mov",),
    "ffv1": (".mkv",),
    "vp9": (".webm",),
}
#: what each codec is called by :class:`vedit.io.writer.Writer` (None: the container's default)
_WRITER_CODEC: dict[str, str | None] = {"h264": None, "hevc": "hevc", "prores": None, "ffv1": "ffv1", "vp9": None}

#: the output codec of the ops that write a video
CODEC = Param("codec", "str", "auto", choices=("auto", *CODEC_EXTS),
              help="Video codec: auto (by extension: .mp4/.mkv H.264, .mov ProRes, .webm VP9), h264, hevc "
                   "(.mp4/.mkv), prores (.mov), ffv1 (.mkv; lossless: every sample outside the edit kept "
                   "exactly, 10-bit kept), vp9 (.webm).")


def writer_codec(output: str, codec: str | None, alpha: bool = False, job: bool = False) -> str | None:
    """The :class:`~vedit.io.writer.Writer` codec for param ``codec`` and
    ``output``; a codec the output's container cannot hold (or that cannot
    carry the asked alpha) is a :class:`ParamError` naming the param."""
    from vedit.io.writer import output_kind

    if codec in (None, "auto"):
        return None
    label = "params.codec" if job else "--codec"
    kind = output_kind(output)
    exts = CODEC_EXTS[codec]
    if kind not in exts:
        where = "a frame sequence" if kind in ("sequence", "image") else kind
        raise ParamError("codec", f"{label} {codec}: output {output} is {where}; {codec} is written to "
                                  f"{', '.join(exts)}")
    if alpha and codec in ("h264", "hevc"):
        raise ParamError("codec", f"{label} {codec} cannot carry alpha; use ffv1 (.mkv), prores (.mov) or vp9 "
                                  "(.webm)")
    return _WRITER_CODEC[codec]


@dataclass
class OpDef:
    """One operation: its name, params, combination check, media check and run function.

    ``check(values)`` gets the converted values of every param (defaults filled
    in) and raises :class:`ParamError` for a bad combination; it reads no media.
    ``media_check(input, output, values, start, end, job)`` (see
    :meth:`check_inputs`) opens what the job reads — headers and small images,
    never a model — and checks that it fits together. ``still_input``: the
    input is one image (no frame range). ``engine_param``: the param that
    picks the engine, which params with ``engines=`` are checked against.
    """

    name: str
    params: tuple[Param, ...]
    run: Callable[..., str] | None = None
    check: Callable[[dict[str, Any]], None] | None = None
    media_check: Callable[..., Any] | None = None
    help: str = ""
    still_input: bool = False
    engine_family: str | None = None
    engine_param: str = "engine"
    _by_name: dict[str, Param] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not any(p.name == "overwrite" for p in self.params):
            self.params = (*self.params, OVERWRITE)
        names = [p.name for p in self.params]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"op {self.name}: params defined twice: {', '.join(sorted(dup))}")
        self._by_name = {p.name: p for p in self.params}
        for p in self.params:
            for a in p.aliases:
                self._by_name.setdefault(a, p)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, values: Mapping[str, Any], job: bool = False) -> dict[str, Any]:
        """Checked values for every param (defaults filled in), from the given
        ``values``. ``job``: name params as a job spec does (``params.x``)
        instead of as CLI options (``--x``). Raises :class:`ParamError`."""
        out = self.defaults()
        given: set[str] = set()
        for key, value in values.items():
            p = self._by_name.get(key) if isinstance(key, str) else None
            if p is None:
                known = ", ".join(sorted(self.names()))
                raise ParamError(str(key), f"{'params.' + str(key) if job else cli_flag(str(key))}: unknown "
                                           f"param for {self.name}; known: {known}")
            if value is None:
                continue  # the default
            label = f"params.{key}" if job else p.flag
            out[p.name] = p.convert(value, label)
            given.add(p.name)
        for p in self.params:
            label = f"params.{p.name}" if job else p.flag
            if p.required and out[p.name] in (None, "", []):
                raise ParamError(p.name, f"{label} is required: {p.help}")
            if p.engines and p.name in given and out[p.name] not in (None, False, "", [], p.default):
                engine = out.get(self.engine_param)
                if engine not in p.engines:
                    raise ParamError(p.name, f"{label} applies to engine {' or '.join(p.engines)} only "
                                             f"(engine here: {engine or 'the default'}); "
                                             f"add --engine {p.engines[0]}")
        if self.check is not None:
            self.check(out)
        return out

    def check_inputs(self, input: str, output: str, values: Mapping[str, Any], start: int | None = None,
                     end: int | None = None, job: bool = False) -> None:
        """Check the media before any work: the input opens with the range, each
        file param is what the op needs (a mask of the input's size and frame
        count, a readable background...), each param that depends on them fits
        (a box inside the frame...). ``values``: from :meth:`resolve`. Raises
        :class:`ParamError` naming the param, or ``InvalidInputError`` /
        ``MediaError`` about the input. The job server runs it at submit, so
        such a job is a 422, not a run-time failure."""
        if self.media_check is not None:
            self.media_check(input, output, dict(values), start, end, job)

    def schema(self) -> dict[str, Any]:
        """``GET /ops`` description of this op."""
        return {"help": self.help, "still_input": self.still_input,
                "required": [p.name for p in self.params if p.required],
                "params": {p.name: p.schema() for p in self.params}}


def simple_params(table: Mapping[str, str]) -> tuple[Param, ...]:
    """Params from a ``{name: type}`` table (the older ``register_op`` form);
    ``path|str`` and ``output`` are the older names of ``path_or_word`` and
    ``path_out``."""
    rename = {"path|str": "path_or_word", "output": "path_out"}
    return tuple(Param(n, rename.get(t, t)) for n, t in table.items())  # type: ignore[arg-type]
