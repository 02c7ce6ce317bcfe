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

import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from vedit.errors import InvalidInputError, VeditError

# -- errors --------------------------------------------------------------------


class SpecError(InvalidInputError):
    """The job spec is malformed or names something that does not exist (HTTP 422)."""

    status = 422


class PathNotAllowedError(InvalidInputError):
    """The output path breaks the path policy (HTTP 400)."""

    status = 400


# -- ops and their params --------------------------------------------------------

# Param types: "str", "int", "float", "bool", "path" (an existing file/folder,
# counted as an input), "path|str" (an existing path, else a keyword such as a
# colour or "blur"/"person"), "nums" (list of numbers or "1,2,3" text), "output"
# (a second output path, e.g. a preview: the same path policy as ``output``).
_COMMON = {"engine": "str", "seed": "int", "device": "str", "dtype": "str", "model": "str",
           "steps": "int", "prompt": "str", "negative_prompt": "str", "guidance": "float",
           "strength": "float", "chunk_size": "int", "crf": "int", "codec": "str"}

OP_PARAMS: dict[str, dict[str, str]] = {
    "remove": {**_COMMON, "mask": "path", "dilate": "int", "feather": "float",
               "keyframe_every": "int", "overlap": "int", "flow_preset": "str", "refine": "bool",
               "offload": "bool", "vae_tiling": "bool"},
    "replace-bg": {"background": "path|str", "prompt": "str", "negative_prompt": "str", "model": "str",
                   "engine": "str", "steps": "int", "guidance": "float", "seed": "int", "device": "str",
                   "dtype": "str", "matte": "path|str", "person_model": "str", "key": "str",
                   "tolerance": "float", "box": "nums", "points": "nums", "frame": "int",
                   "sam_checkpoint": "path", "sam_model": "str", "refine": "bool", "smooth": "bool",
                   "dilate": "int", "feather": "float", "fit": "str", "static_plate": "bool",
                   "plate_loop": "bool", "light_wrap": "float", "match_color": "bool",
                   "match_strength": "float", "spill": "bool", "blur": "float", "preview": "bool",
                   "preview_size": "int", "track_model": "str", "plate_size": "int"},
    "matte": {"source": "str", "person": "bool", "mask": "path", "frame": "int",
              "box": "nums", "points": "nums", "chroma": "str", "tolerance": "float",
              "sam_checkpoint": "path", "sam_model": "str", "person_model": "str",
              "refine": "bool", "smooth": "bool", "dilate": "int", "feather": "float",
              "alpha": "bool", "bit_depth": "int", "preview": "output", "preview_style": "str",
              "despill": "bool", "include_shadow": "bool", "margin": "int"},
    "animate": {**_COMMON, "duration": "float", "fps": "float", "loop": "bool", "motion": "nums",
                "region": "path", "camera": "str", "matte": "path|str", "amount": "float",
                "depth": "path", "frames": "int", "motion_bucket": "int", "offload": "bool",
                "vae_tiling": "bool"},
}
# ops whose input is a still image: a frame range makes no sense for them
STILL_INPUT_OPS = {"animate"}

# Extra ops registered at run time (tests, plugins): name -> run function.
OP_FUNCS: dict[str, Callable[..., str]] = {}


def register_op(name: str, run: Callable[..., str], params: dict[str, str] | None = None,
                still_input: bool = False) -> None:
    """Make ``run`` available as op ``name`` to specs, the runner and the server.

    ``run`` has the ops signature ``run(input, output, *, start, end, callback, **params)``;
    ``params`` declares its param names and types (see :data:`OP_PARAMS`).
    """
    OP_FUNCS[name] = run
    OP_PARAMS[name] = dict(params or {})
    if still_input:
        STILL_INPUT_OPS.add(name)


def unregister_op(name: str) -> None:
    OP_FUNCS.pop(name, None)
    OP_PARAMS.pop(name, None)
    STILL_INPUT_OPS.discard(name)


def op_names() -> list[str]:
    return list(OP_PARAMS)


def get_op_func(name: str) -> Callable[..., str]:
    """The run function of op ``name``: a registered one first, else ``vedit.ops``."""
    if name in OP_FUNCS:
        return OP_FUNCS[name]
    from vedit.ops import get_op

    return get_op(name)


def _declared_params(op: str) -> set[str] | None:
    """Params an op module declares beyond the table: a ``PARAMS`` dict or
    named keyword arguments of ``run``. None when the module cannot be loaded."""
    try:
        fn = get_op_func(op)
    except Exception:  # noqa: BLE001 - op module not written yet or broken
        return None
    names = set(getattr(inspect.getmodule(fn), "PARAMS", {}) or {})
    try:
        sig = inspect.signature(fn)
        names |= {p.name for p in sig.parameters.values()
                  if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    except (TypeError, ValueError):
        pass
    return names - {"input", "output", "start", "end", "callback"}


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


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_param(op: str, name: str, kind: str, value, policy: PathPolicy) -> Any:
    where = f"params.{name}"
    if value is None:
        return None
    if kind == "str":
        if not isinstance(value, str):
            raise SpecError(f"{where} = {value!r}: expected a string")
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            raise SpecError(f"{where} = {value!r}: expected an integer")
        return value
    if kind == "float":
        if not (_is_int(value) or isinstance(value, float)) or value != value or value in (float("inf"), float("-inf")):
            raise SpecError(f"{where} = {value!r}: expected a finite number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(f"{where} = {value!r}: expected true or false")
        return value
    if kind == "nums":
        if isinstance(value, str):
            parts = [p for p in value.replace(" ", "").split(",") if p]
            try:
                [float(p) for p in parts]
            except ValueError:
                raise SpecError(f"{where} = {value!r}: expected comma-separated numbers") from None
            return value
        if isinstance(value, list) and all((_is_int(v) or isinstance(v, float)) for v in value):
            return value
        if isinstance(value, list) and all(isinstance(v, list) and all(_is_int(x) or isinstance(x, float) for x in v)
                                           for v in value):
            return value
        raise SpecError(f"{where} = {value!r}: expected a list of numbers or \"x,y,...\" text")
    if kind in ("path", "path|str"):
        if not isinstance(value, str) or not value or "\x00" in value:
            raise SpecError(f"{where} = {value!r}: expected a path")
        looks_like_path = os.sep in value or os.path.splitext(value)[1] != ""
        if kind == "path|str" and not looks_like_path:
            return value  # a keyword: colour name, #RRGGBB, blur, person
        if policy.require_absolute and not os.path.isabs(value):
            raise SpecError(f"{where} = {value!r}: use an absolute path")
        path = os.path.abspath(value)
        from vedit.io.clip import is_sequence_path

        if not os.path.exists(path) and not (is_sequence_path(path) and os.path.isdir(os.path.dirname(path))):
            raise SpecError(f"{where} = {value!r}: no such file or folder")
        return path
    raise SpecError(f"{where}: unknown param type {kind!r}")  # pragma: no cover


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
    if op not in OP_PARAMS:
        raise SpecError(f"op {op!r} is unknown; choose one of: {', '.join(op_names())}")
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

    # 3. params
    table = OP_PARAMS[op]
    clean: dict[str, Any] = {}
    declared = None
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"param name {name!r} is not valid; use underscored option names like chunk_size")
        kind = table.get(name)
        if kind is None:
            declared = _declared_params(op) if declared is None else declared
            if not declared or name not in declared:
                raise SpecError(f"params.{name}: unknown param for op {op!r}; known: {', '.join(sorted(table))}")
            if not isinstance(value, (str, int, float, bool, list, type(None))):
                raise SpecError(f"params.{name} = {value!r}: expected a string, number, boolean or list")
            clean[name] = value
            continue
        if kind == "output":
            clean[name] = value  # checked below, once every input is known
            continue
        clean[name] = _check_param(op, name, kind, value, policy)
    inputs = [inp] + [v for k, v in clean.items() if table.get(k, "").startswith("path")
                      and isinstance(v, str) and os.path.isabs(v)]

    # 4. range
    start, end = rng.get("start"), rng.get("end")
    for k, v in (("start", start), ("end", end)):
        if v is not None and (not _is_int(v) or v < 0):
            raise SpecError(f"range.{k} = {v!r}: expected a frame number >= 0")
    if start is not None and end is not None and end <= start:
        raise SpecError(f"range: end {end} must be greater than start {start} (end is exclusive)")
    if op in STILL_INPUT_OPS and (start is not None or end is not None):
        raise SpecError(f"range: op {op!r} takes a still image; leave range out")
    if probe and op not in STILL_INPUT_OPS and (start is not None or end is not None):
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
        if table.get(name) == "output" and value is not None:
            if not isinstance(value, str):
                raise SpecError(f"params.{name} = {value!r}: expected an output path")
            clean[name] = check_output(value, inp, inputs, policy, set(taken) | {os.path.abspath(out.rstrip("/"))})
    return JobSpec(op=op, input=inp, output=out, params=clean, start=start, end=end,
                   requested_output=spec["output"], inputs=inputs)
