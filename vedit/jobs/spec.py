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

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from vedit import ops as _ops
from vedit.errors import InvalidInputError
from vedit.ops import register_op, unregister_op  # noqa: F401 - part of this module's API
from vedit.ops.params import OpDef, looks_like_path

log = logging.getLogger("vedit.jobs")

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
    claims: list[str] = field(default_factory=list)  # every path the job writes (output, previews...)
    real_parents: dict[str, str] = field(default_factory=dict)  # written path -> its folder's realpath

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
    read_roots: list[str] = field(default_factory=list)
    probe_timeout: float = 5.0

    def input_roots(self) -> list[str]:
        """Folders inputs may be read from: none (anywhere) when no root is set,
        else the allowed roots, the output folder and the ``--allow-read`` roots."""
        if not self.allowed_roots and not self.read_roots:
            return []
        roots = [*self.allowed_roots, *self.read_roots, *([self.output_dir] if self.output_dir else [])]
        return [os.path.realpath(r) for r in roots]


# -- validation helpers ----------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


MAX_NAME = 200  # bytes of one file name: 255 on most file systems, less the room temporary names need
MAX_SPEC = 16 * 1024  # bytes of a stored spec (JSON)


def check_text(value: Any, where: str = "spec") -> None:
    """Every string inside ``value`` must be proper Unicode (no lone surrogates):
    such text cannot be stored, shown or used as a file name (SpecError)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SpecError(f"{where or 'spec'}: text with an invalid character (a lone UTF-16 surrogate); "
                            "send proper Unicode") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, where or "spec")
            named = isinstance(k, str) and k.isidentifier()
            check_text(v, (f"{where}.{k}" if where else k) if named else where)
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_text(v, where)


def check_readable(path: str, label: str, policy: PathPolicy) -> None:
    """A path the job reads: a regular file or a folder (never a FIFO, device or
    socket: reading one can block forever or never end), inside the input roots."""
    import stat

    from vedit.io.clip import is_sequence_path

    bare = path.rstrip("/") or "/"
    try:
        st = os.stat(bare)  # stat never blocks, even on a FIFO
    except OSError:
        if is_sequence_path(bare) and os.path.isdir(os.path.dirname(bare)):
            st = os.stat(os.path.dirname(bare))
        else:
            raise SpecError(f"{label} {path!r}: no such file or folder") from None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise SpecError(f"{label} {path!r}: not a regular file or folder (a pipe, device or socket "
                        "cannot be a job input)")
    roots = policy.input_roots()
    if roots:
        real = os.path.realpath(bare)
        if not any(_under(real, r) for r in roots):
            raise PathNotAllowedError(f"{label} {path!r} resolves to {real}, outside the allowed roots "
                                      f"{', '.join(roots)}; start the server with --allow-read FOLDER to read there")


def run_probe(fn: Callable[..., Any], args: tuple, timeout: float, what: str, want: bool = False) -> Any:
    """``fn(*args)`` in a helper process (:mod:`vedit.jobs.probe`): media that does
    not answer within ``timeout`` seconds (a stalled network share...) is
    refused, and the helper stuck in it killed, instead of stalling the caller.
    Raises SpecError (the timeout, or the check's error: a ParamError's message
    keeps its param); returns ``fn``'s value when ``want``."""
    from vedit.jobs.probe import ProbeFailed, ProbeTimeout, run_check

    try:
        return run_check(fn, args, timeout, want)
    except ProbeTimeout:
        raise SpecError(f"{what}: could not be read within {timeout:g} s") from None
    except ProbeFailed as exc:
        if exc.kind == "param":
            raise SpecError(str(exc)) from None
        if exc.kind == "vedit":
            raise SpecError(f"{what}: {exc}") from None
        log.warning("%s: %s: %s", what, exc.type_name, exc)
        raise SpecError(f"{what}: cannot be read ({exc.type_name})") from None


def probe_frames(path: str, timeout: float) -> int:
    """The input's frame count, read with a timeout (see :func:`run_probe`)."""
    from vedit.jobs.probe import frame_count

    return int(run_probe(frame_count, (path,), timeout, f"input {path!r}", want=True))


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
    for part in output.split("/"):
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME:
            raise SpecError(f"output {output[:80]!r}...: a file or folder name longer than {MAX_NAME} bytes; "
                            "use a shorter name")
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


def _check_params(opdef: OpDef, params: dict[str, Any], policy: PathPolicy) -> tuple[dict[str, Any], dict[str, Any]]:
    """The given params, checked and converted by the op's definition (only the
    given ones are kept: the op fills in its defaults), and every param's value
    with the defaults (for the op's media check)."""
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
    return clean, full


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
    check_text(spec, "")
    try:
        size = len(json.dumps(spec))  # NaN and Infinity are refused with the param that holds them
    except (TypeError, ValueError, RecursionError):
        raise SpecError("spec: only JSON values (finite numbers, text, lists, objects) are allowed") from None
    if size > MAX_SPEC:
        raise SpecError(f"spec: {size} bytes of JSON, over the {MAX_SPEC}-byte limit for a job")
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
    check_readable(inp, "input", policy)

    # 3. params: the op's own definition checks types, ranges, paths and combinations
    clean, full = _check_params(opdef, params, policy)
    inputs = [inp] + [v for k, v in clean.items() if opdef[k].type in ("path", "path_or_word")
                      and isinstance(v, str) and os.path.isabs(v)]
    for k, v in clean.items():
        if opdef[k].type in ("path", "path_or_word") and isinstance(v, str) and os.path.isabs(v):
            check_readable(v, f"params.{k}", policy)

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
        n = probe_frames(inp, policy.probe_timeout)
        if start is not None and start >= n:
            raise SpecError(f"range.start = {start}: the input has {n} frames (0..{n - 1})")
        if end is not None and end > n:
            raise SpecError(f"range.end = {end}: the input has {n} frames; end is at most {n}")

    # 5. outputs, claimed together: no two paths of this job or of other active jobs coincide
    out = check_output(spec["output"], inp, inputs, policy, taken)
    claims = [out]
    for name, value in list(clean.items()):
        if opdef[name].type == "path_out" and value is not None:
            if not isinstance(value, str):
                raise SpecError(f"params.{name} = {value!r}: expected an output path")
            mine = {os.path.abspath(_output_target(c)[1]) for c in claims}
            clean[name] = check_output(value, inp, inputs, policy, set(taken) | mine)
            claims.append(clean[name])
    # 6. the media: what the op reads opens and fits together (a mask of the
    # input's size...), so such a job is a 422 now, not a failure later
    if probe and opdef.media_check is not None:
        values = {**full, **{k: v for k, v in clean.items() if opdef[k].type == "path_out"}}
        run_probe(opdef.media_check, (inp, out, values, start, end, True), policy.probe_timeout, f"input {inp!r}")
    parents = {c: os.path.realpath(os.path.dirname(_output_target(c)[1])) for c in claims}
    return JobSpec(op=op, input=inp, output=out, params=clean, start=start, end=end,
                   requested_output=spec["output"], inputs=inputs, claims=claims, real_parents=parents)
