"""Host adapters' form fields generated from the op definitions, so a panel
shows the same choices, defaults, ranges and help as ``vedit OP --help``."""
from __future__ import annotations

from typing import Any

from vedit.ops import get_def
from vedit.ops.params import INT_LIMIT

# ComfyUI's widgets need finite bounds
_COMFY_INT_MAX = 2**31 - 1


def comfy_input(op: str, name: str, **extra: Any) -> tuple[Any, ...]:
    """A ComfyUI ``INPUT_TYPES`` entry for param ``name`` of ``op``: a choice
    list, ``INT``, ``FLOAT``, ``BOOLEAN`` or ``STRING`` with its default,
    bounds and help as tooltip. ``extra`` overrides options (e.g. ``step``)."""
    p = get_def(op)[name]
    opts: dict[str, Any] = {"tooltip": p.help}
    choices = p.choice_values()
    if p.default is not None:
        opts["default"] = p.default
    if choices is not None:
        opts.update(extra)
        return [str(c) for c in choices], opts
    kind = {"int": "INT", "float": "FLOAT", "bool": "BOOLEAN"}.get(p.type, "STRING")
    if kind in ("INT", "FLOAT"):
        limit = _COMFY_INT_MAX if kind == "INT" else float(INT_LIMIT)
        opts["min"] = p.min if p.min is not None else -limit
        opts["max"] = p.max if p.max is not None else limit
        opts.setdefault("default", opts["min"] if opts["min"] > 0 else 0)
    elif kind == "STRING":
        opts.setdefault("default", "")
    opts.update(extra)
    return kind, opts
