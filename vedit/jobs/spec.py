"""Job specs: the JSON form of one operation, validated before any work.

A spec is ``{"op", "input", "output", "params": {...}, "range": {"start", "end"}}``
(DESIGN §5). :func:`validate_spec` checks it completely — op, params and their
types, input readable, range inside the clip, output path allowed — and returns
a normalised :class:`JobSpec` whose ``output`` is the final path the job will
write (a unique name when the requested one exists).

Two error kinds, so a server can answer with the right status:
:class:`SpecError` (the spec itself is wrong: 422) and :class:`PathNotAllowedError`
(the output path breaks the path policy: 400). Both are ``InvalidInputError``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from vedit import ops as _ops
from vedit.errors import InvalidInputError, VeditError
from vedit.ops import register_op, unregister_op  # noqa: F401 - part of this module's API
from vedit.ops.params import OpDef, looks_like_path

# -- errors --------------------------------------------------------------------


class SpecError(InvalidInputError):
    """The job spec is malformed or names something that does not exist (HTTP 422)."""

    status = 422


class PathNotAllowedError(InvalidInputError):
    """The output path breaks the path policy (HTTP 400)."""

    status = 400


# -- ops and their params --------------------------------------------------------
# One registry of ops and their typed params: vedit.ops (OpDef / Param).

def op_names() -> list[str]:
    return _ops.op_names()


def get_op_func(name: str) -> Callable[..., str]:
    """The run function of op ``name`` (built-in or registered)."""
    return _ops.get_op(name)


def op_schema() -> dict[str, Any]:
    """Every op's params, JSON-Schema style (``GET /ops``)."""
    return {n: _ops.get_def(n).schema() for n in op_names()}


# -- the validated spec --------------------------------------------------------------


@dataclass
class JobSpec:
    op: str
    input: str
    output: str  # the final path (unique when the requested one existed)
    params: dict[str, Any] = field(default_factory=dict)
    start: int | None = None
    end: int | None = None
    requested_output: str = ""
    inputs: list[str] = field(default_factory=list)  # every path the job reads

    def as_dict(self) -> dict:
        return {"op": self.op, "input": self.input, "output": self.output, "params": dict(self.params),
                "range": {"start": self.start, "end": self.end}}


@dataclass
class PathPolicy:
    """Where outputs may go.

    ``allowed_roots``: folders outputs must stay inside (after resolving
    symlinks). When empty, the default is *next to the input*: the input's
    folder and below. ``output_dir`` is always allowed, and relative outputs are
    resolved against it (else against the input's folder). ``require_absolute``
    refuses relative input paths (a server's working directory means nothing to
    a panel).
    """

    allowed_roots: list[str] = field(default_factory=list)
    output_dir: str | None = None
    require_absolute: bool = False


# -- validation helpers ----------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _output_target(output: str) -> tuple[str, str]:
    """(kind, the file or folder the output occupies on disk)."""
    from vedit.io.writer import output_kind

    kind = output_kind(output)
    target = output.rstrip("/" + os.sep) if kind == "sequence" else output
    if kind == "sequence" and "%" in os.path.basename(target):
        target = os.path.dirname(target)
    return kind, target


def unique_output(output: str, taken: set[str] | frozenset = frozenset()) -> str:
    """``output`` if nothing is there (and no other job claimed it), else the
    first free ``name-1.ext``, ``name-2.ext``... (``name-1/`` for folders)."""
    kind, target = _output_target(output)
    if kind == "sequence" and "%" in os.path.basename(output.rstrip("/")):
        # a pattern inside a folder: make the folder unique
        suffix = output[len(target):]
    else:
        suffix = "/" if kind == "sequence" else ""

    def free(t: str) -> bool:
        if os.path.realpath(t) in taken or os.path.abspath(t) in taken:
            return False
        if os.path.lexists(t):
            # an existing empty folder is a fine place for a frame sequence
            return kind == "sequence" and os.path.isdir(t) and not os.path.islink(t) and not os.listdir(t)
        return True

    if free(target):
        return output
    base, ext = (target, "") if kind == "sequence" else os.path.splitext(target)
    for i in range(1, 10000):
        cand = f"{base}-{i}{ext}"
        if free(cand):
            return cand + suffix
    raise PathNotAllowedError(f"output {output!r}: no free name found next to it; choose another name")


def check_output(output: str, input_path: str, inputs: list[str], policy: PathPolicy,
                 taken: set[str] | frozenset = frozenset()) -> str:
    """Apply the path policy to ``output``; returns the final (unique) absolute path."""
    if not isinstance(output, str) or not output.strip() or "\x00" in output:
        raise SpecError(f"output {output!r}: expected a path such as /videos/out.mp4")
    parts = output.replace("\\", "/").split("/")
    if ".." in parts:
        raise PathNotAllowedError(f"output {output!r}: '..' is not allowed in output paths; give a direct path")
    trailing = "/" if output.endswith(("/", os.sep)) else ""
    if not os.path.isabs(output):
        base = policy.output_dir or os.path.dirname(os.path.abspath(input_path.rstrip("/")))
        output = os.path.join(base, output)
    output = os.path.abspath(output) + trailing
    try:
        kind, target = _output_target(output)
    except InvalidInputError as exc:
        raise SpecError(str(exc)) from None

    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise PathNotAllowedError(f"output {output!r}: folder {parent} does not exist; create it first")
    real_parent = os.path.realpath(parent)
    real_target = os.path.join(real_parent, os.path.basename(target))
    if os.path.islink(target):
        # writing through a symlink would land wherever it points
        real_target = os.path.realpath(target)

    if policy.allowed_roots:
        roots = [os.path.realpath(r) for r in policy.allowed_roots]
        where = "the allowed roots " + ", ".join(roots)
    else:
        roots = [os.path.realpath(os.path.dirname(os.path.abspath(input_path.rstrip("/"))))]
        where = f"the input's folder {roots[0]}"
    if policy.output_dir:
        roots.append(os.path.realpath(policy.output_dir))
        where += f" or the output folder {roots[-1]}"
    if any(real_target == r for r in roots):
        # temporaries and unique names are siblings of the target: they would land outside
        raise PathNotAllowedError(f"output {output!r} is the allowed folder itself; write into a new "
                                  f"folder or file inside it, e.g. {os.path.join(output.rstrip('/'), 'out')}/")
    if not any(_under(real_target, r) for r in roots):
        raise PathNotAllowedError(
            f"output {output!r} resolves to {real_target}, outside {where}; "
            "write next to the input or start the server with --allowed-root")

    for i in inputs:
        real_in = os.path.realpath(i.rstrip("/"))
        if real_target == real_in:
            raise PathNotAllowedError(f"output {output!r} is the input {i}; choose another output path")
        if os.path.isdir(real_in) and _under(real_target, real_in):
            raise PathNotAllowedError(
                f"output {output!r} is inside the input folder {i} and would change it; write beside it")
    if not os.access(real_parent, os.W_OK):
        raise PathNotAllowedError(f"output {output!r}: folder {parent} is not writable")
    final = unique_output(output, taken)
    real_final = os.path.join(real_parent, os.path.basename(_output_target(final)[1]))
    if not any(_under(real_final, r) for r in roots):
        # e.g. a full allowed root given as the output folder: its unique sibling is outside
        raise PathNotAllowedError(f"output {output!r} exists and its unique alternative {final} would be "
                                  f"outside {where}; choose a new name inside")
    return final


# -- the spec ------------------------------------------------------------------------

_KEYS = {"op", "input", "output", "params", "range"}


def _check_params(opdef: OpDef, params: dict[str, Any], policy: PathPolicy) -> dict[str, Any]:
    """The given params, checked and converted by the op's definition; only the
    given ones are kept (the op fills in its defaults)."""
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"param name {name!r} is not valid; use underscored option names like chunk_size")
        p = opdef._by_name.get(name)
        if p is None:
            continue  # resolve names it
        if policy.require_absolute and isinstance(value, str) and value and p.type.startswith("path") \
                and (p.type != "path_or_word" or looks_like_path(value, p.words)) and not os.path.isabs(value):
            raise SpecError(f"params.{name} = {value!r}: use an absolute path")
    try:
        full = opdef.resolve({k: v for k, v in params.items()
                              if k not in opdef._by_name or opdef[k].type != "path_out"}, job=True)
    except InvalidInputError as exc:
        raise SpecError(str(exc)) from None
    clean: dict[str, Any] = {}
    for name, value in params.items():
        p = opdef[name]
        if p.type == "path_out":
            clean[p.name] = value  # checked with the output path policy, below
        elif value is not None:
            clean[p.name] = full[p.name]
    return clean


def validate_spec(spec: dict, policy: PathPolicy | None = None, taken: set[str] | frozenset = frozenset(),
                  probe: bool = True) -> JobSpec:
    """Validate a job spec dict completely; returns the normalised :class:`JobSpec`.

    Raises :class:`SpecError` (malformed, unknown op or param, missing input, bad
    range) or :class:`PathNotAllowedError` (output path policy). ``taken`` holds
    outputs claimed by other jobs, so two queued jobs never share a name.
    """
    policy = policy or PathPolicy()
    # 1. shape
    if not isinstance(spec, dict):
        raise SpecError(f"job spec must be a JSON object, got {type(spec).__name__}")
    extra = set(spec) - _KEYS
    if extra:
        raise SpecError(f"unknown job spec field(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(_KEYS))}")
    op = spec.get("op")
    if not isinstance(op, str) or op not in op_names():
        raise SpecError(f"op {op!r} is unknown; choose one of: {', '.join(op_names())}")
    opdef = _ops.get_def(op)
    for key in ("input", "output"):
        if key not in spec or spec[key] in (None, ""):
            raise SpecError(f"{key} is missing; give a path")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise SpecError(f"params must be an object, got {type(params).__name__}")
    rng = spec.get("range") or {}
    if not isinstance(rng, dict) or set(rng) - {"start", "end"}:
        raise SpecError(f"range {rng!r}: expected {{\"start\": N, \"end\": N}}")

    # 2. input
    inp = spec["input"]
    if not isinstance(inp, str) or "\x00" in inp:
        raise SpecError(f"input {inp!r}: expected a path")
    if policy.require_absolute and not os.path.isabs(inp):
        raise SpecError(f"input {inp!r}: use an absolute path")
    inp = os.path.abspath(inp) + ("/" if inp.endswith("/") and len(inp) > 1 else "")
    from vedit.io.clip import is_sequence_path

    if not os.path.exists(inp) and not (is_sequence_path(inp) and os.path.isdir(os.path.dirname(inp))):
        raise SpecError(f"input {spec['input']!r}: no such file or folder")

    # 3. params: the op's own definition checks types, ranges, paths and combinations
    clean = _check_params(opdef, params, policy)
    inputs = [inp] + [v for k, v in clean.items() if opdef[k].type in ("path", "path_or_word")
                      and isinstance(v, str) and os.path.isabs(v)]

    # 4. range
    start, end = rng.get("start"), rng.get("end")
    for k, v in (("start", start), ("end", end)):
        if v is not None and (not _is_int(v) or v < 0):
            raise SpecError(f"range.{k} = {v!r}: expected a frame number >= 0")
    if start is not None and end is not None and end <= start:
        raise SpecError(f"range: end {end} must be greater than start {start} (end is exclusive)")
    if opdef.still_input and end is not None:
        raise SpecError(f"range.end: op {op!r} takes a still image (range.start picks the frame of a video); "
                        "leave range.end out")
    if probe and (start is not None or end is not None):
        try:
            from vedit.io import open_clip

            n = open_clip(inp).frame_count
        except VeditError as exc:
            raise SpecError(f"input {spec['input']!r}: {exc}") from None
        if start is not None and start >= n:
            raise SpecError(f"range.start = {start}: the input has {n} frames (0..{n - 1})")
        if end is not None and end > n:
            raise SpecError(f"range.end = {end}: the input has {n} frames; end is at most {n}")

    # 5. outputs
    out = check_output(spec["output"], inp, inputs, policy, taken)
    for name, value in list(clean.items()):
        if opdef[name].type == "path_out" and value is not None:
            if not isinstance(value, str):
                raise SpecError(f"params.{name} = {value!r}: expected an output path")
            clean[name] = check_output(value, inp, inputs, policy, set(taken) | {os.path.abspath(out.rstrip("/"))})
    return JobSpec(op=op, input=inp, output=out, params=clean, start=start, end=end,
                   requested_output=spec["output"], inputs=inputs)
