"""Operations: the Python API that the CLI, the job runner and the adapters
all call. One module per op (``remove``, ``replace_bg``, ``matte``,
``animate``), each exposing::

    run(input: str, output: str, *, start=None, end=None, callback=None, **params) -> str

``params`` mirror the CLI options (underscored names). ``callback(done, total,
stage)`` reports progress; raising ``vedit.errors.JobCancelled`` inside it
cancels cooperatively. Outputs are written atomically (temp name, then rename)
and the final output path is returned.
"""
from __future__ import annotations

import importlib

OPS = {"remove": "remove", "replace-bg": "replace_bg", "matte": "matte", "animate": "animate"}


def get_op(name: str):
    """The ``run`` function of an op by its job-spec name."""
    from vedit.errors import InvalidInputError

    if name not in OPS:
        raise InvalidInputError(f"unknown op {name!r}; choose one of: {', '.join(OPS)}")
    return importlib.import_module(f"vedit.ops.{OPS[name]}").run
