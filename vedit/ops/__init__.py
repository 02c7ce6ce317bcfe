"""Operations: the Python API that the CLI, the job runner and the adapters
all call. One module per op (``remove``, ``replace_bg``, ``matte``,
``animate``), each exposing ``PARAMS`` (its typed params), ``OP`` (an
:class:`~vedit.ops.params.OpDef`) and::

    run(input: str, output: str, *, start=None, end=None, callback=None, **params) -> str

How to add a param (one place)
------------------------------
Add a :class:`~vedit.ops.params.Param` to ``PARAMS`` in ``vedit/ops/<op>.py``
(name, type, default, choices or min/max, help; ``engines=`` when it applies
to some engines only; ``repeat=True`` when the CLI may give it several times),
then read it from ``v = OP.resolve(params)`` in ``run``. The click option
(``--my-param``, help included), the job server's validation (422 naming the
param), ``GET /ops`` and the adapters' forms all follow; the contract test in
``tests/ops`` fails if anything disagrees. Checks that involve several params
go in the op's ``check_params(values)`` (no media reads); checks that need the
media (sizes, frame counts, files that must decode) go in its
``check_inputs(input, output, values, start, end, job)`` (``OpDef.media_check``),
which ``run`` calls first and the job server runs at submit, outside any lock
and with a timeout.

``params`` use the CLI option names (underscored). ``callback(done, total,
stage)`` reports one overall progress that never goes back (see
:mod:`vedit.ops.progress`); raising ``vedit.errors.JobCancelled`` inside it
cancels cooperatively. Outputs are written atomically (temp name, then
rename); ``overwrite=True`` (every op has it; CLI ``--overwrite``/``-y``)
allows replacing an existing output. ``run`` returns the final output path,
absolute.

The registry (:func:`get_def`, :func:`register_op`) is the one list of ops:
the job server and the CLI read it; tests and plugins add ops through
:func:`register_op`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from vedit.errors import InvalidInputError
from vedit.ops.params import OpDef, Param, ParamError, simple_params

__all__ = ["OPS", "OpDef", "Param", "ParamError", "get_def", "get_op", "op_names", "register_op",
           "unregister_op"]

#: built-in ops: job-spec name -> module in vedit.ops
OPS: dict[str, str] = {"remove": "remove", "replace-bg": "replace_bg", "matte": "matte", "animate": "animate"}

_EXTRA: dict[str, OpDef] = {}


def op_names() -> list[str]:
    """Every op a job or the CLI can run: built-ins, then registered ones."""
    return list(OPS) + [n for n in _EXTRA if n not in OPS]


def get_def(name: str) -> OpDef:
    """The :class:`OpDef` of op ``name``."""
    if name in _EXTRA:
        return _EXTRA[name]
    if name not in OPS:
        raise InvalidInputError(f"unknown op {name!r}; choose one of: {', '.join(op_names())}")
    op: OpDef = importlib.import_module(f"vedit.ops.{OPS[name]}").OP
    return op


def get_op(name: str) -> Callable[..., str]:
    """The ``run`` function of an op by its job-spec name."""
    run = get_def(name).run
    assert run is not None
    return run


def register_op(name: str | OpDef, run: Callable[..., str] | None = None,
                params: Mapping[str, str] | tuple[Param, ...] | list[Param] | None = None,
                still_input: bool = False, check: Callable[[dict[str, Any]], None] | None = None,
                check_inputs: Callable[..., Any] | None = None) -> OpDef:
    """Make an op available to job specs, the runner, the server and ``GET /ops``.

    Either an :class:`OpDef`, or ``name``, ``run`` (the ops signature) and
    ``params`` (a tuple of :class:`Param`, or an older ``{name: type}`` table);
    ``check`` and ``check_inputs`` as :class:`OpDef`'s ``check`` and ``media_check``.
    """
    if isinstance(name, OpDef):
        op = name
    else:
        ps = simple_params(params) if isinstance(params, Mapping) else tuple(params or ())
        op = OpDef(name, ps, run=run, check=check, media_check=check_inputs, still_input=still_input)
    _EXTRA[op.name] = op
    return op


def unregister_op(name: str) -> None:
    _EXTRA.pop(name, None)
