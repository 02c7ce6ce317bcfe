"""The panel's option fields, built from the op definitions (``ops_schema.json``,
written by ``plugins/make_ops_schema.py`` from ``vedit/ops``: the same data as
the server's ``GET /ops``), so the add-on shows each param with the type,
default, choices, range and help ``vedit OP --help`` has, and a new param
appears here without touching the add-on.

Plain Python (no ``bpy``): :func:`fields` says what each Blender property is,
:func:`params_from` turns property values back into job params (only the ones
the editor changed from the definition's default are sent). ``__init__.py``
makes the Blender properties from the fields."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_FILE = os.path.join(HERE, "ops_schema.json")

#: ops the sequencer panel runs on a movie strip (animate takes a still)
PANEL_OPS = ("remove", "replace-bg", "matte")
#: params the add-on sets itself: the mask picker (file or strip), the output,
#: the matte coming back as alpha
OWN = {"remove": {"mask"}, "replace-bg": {"matte"}, "matte": {"mask", "alpha"}}
#: params kept off the form (path_out params, such as matte's preview, never show):
#: overwrite, matte's preview look, replace-bg's low-resolution draft
HIDDEN = {"overwrite", "preview_style", "draft", "draft_size"}
#: shown at the top of the op's form; every other param is under "More options"
MAIN = {"remove": ("engine", "dilate", "feather"),
        "replace-bg": ("background", "prompt", "engine", "fit", "light_wrap"),
        "matte": ("source", "person", "person_model", "include_shadow", "dilate", "feather")}
DEFAULT_ITEM = "__default__"  # enum item: send nothing, the op's default applies
INT32 = 2**31 - 1  # Blender's IntProperty range


@dataclass
class Field:
    """One Blender property for param ``param`` of op ``op``.

    ``kind``: ``bool``, ``int``, ``float``, ``enum`` or ``text``. A param whose
    default is "none" (decided by the op) and that has no choices is a text
    field (empty = the op's default); a boolean without a default is an enum
    (default / on / off); choices are an enum, with a "default" item when
    the definition has no default."""

    prop: str
    op: str
    param: str
    kind: str
    label: str
    help: str
    default: Any
    schema: dict[str, Any] = field(repr=False)
    items: list[tuple[str, str, str]] | None = None
    min: float | None = None
    max: float | None = None
    file: bool = False
    engines: tuple[str, ...] = ()
    main: bool = False

    def bpy_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the Blender property."""
        kw: dict[str, Any] = {"name": self.label, "description": self.help}
        if self.kind == "enum":
            kw.update(items=self.items, default=self.default)
        elif self.kind == "text":
            kw["default"] = self.default
            if self.file:
                kw["subtype"] = "FILE_PATH"
        else:
            kw["default"] = self.default
            if self.min is not None:
                kw["min"] = self.min
            if self.max is not None:
                kw["max"] = self.max
        return kw


def load_schema(path: str = SCHEMA_FILE) -> dict[str, Any]:
    """The ``ops`` mapping of the schema file (``GET /ops``'s answer)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    ops: dict[str, Any] = data.get("ops", data)
    return ops


def prop_name(op: str, param: str) -> str:
    return f"{op.replace('-', '_')}__{param}"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _one(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of one value (a repeatable param's item)."""
    return schema["items"] if schema.get("type") == "array" and schema.get("x-repeat") else schema


def make_field(op: str, name: str, schema: dict[str, Any]) -> Field:
    one = _one(schema)
    kind_x = schema.get("x-kind", "str")
    default = schema.get("default")
    repeat = bool(schema.get("x-repeat"))
    help_ = schema.get("description", "")
    common = dict(prop=prop_name(op, name), op=op, param=name, label=_label(name), schema=schema,
                  engines=tuple(schema.get("x-engines") or ()), main=name in MAIN.get(op, ()))
    choices = one.get("enum")
    if choices is not None and not repeat:
        items = [(str(c), str(c), "") for c in choices]
        if default is None:
            items.insert(0, (DEFAULT_ITEM, "(default)", "the op decides"))
        return Field(kind="enum", help=help_, items=items,
                     default=DEFAULT_ITEM if default is None else str(default), **common)
    if kind_x == "bool" and not repeat:
        if default is None:
            items = [(DEFAULT_ITEM, "(default)", "the op decides"), ("on", "On", ""), ("off", "Off", "")]
            return Field(kind="enum", help=help_, items=items, default=DEFAULT_ITEM, **common)
        return Field(kind="bool", help=help_, default=bool(default), **common)
    if kind_x in ("int", "float") and not repeat and default is not None:
        lo, hi = one.get("minimum"), one.get("maximum")
        if kind_x == "int":
            lo = max(int(lo), -INT32) if lo is not None else -INT32
            hi = min(int(hi), INT32) if hi is not None else INT32
            return Field(kind="int", help=help_, default=int(default), min=lo, max=hi, **common)
        return Field(kind="float", help=help_, default=float(default), min=lo, max=hi, **common)
    # free text: optional numbers, number lists, paths, words, repeatable values
    hint = []
    if kind_x in ("int", "float"):
        rng = [f">= {one['minimum']:g}" if "minimum" in one else "", f"<= {one['maximum']:g}" if "maximum" in one else ""]
        hint.append(f"a {'whole ' if kind_x == 'int' else ''}number {' '.join(r for r in rng if r)}".rstrip())
    if kind_x == "nums":
        hint.append("comma-separated numbers")
    if repeat:
        hint.append("several values separated by ';'")
    if default is None:
        hint.append("empty = the op's default")
    text_default = "" if default is None else (";".join(map(str, default)) if isinstance(default, list) else str(default))
    return Field(kind="text", help=help_ + (f" ({'; '.join(hint)})" if hint else ""), default=text_default,
                 file=kind_x in ("path", "path_or_word", "path_out") and not repeat, **common)


def fields(ops: dict[str, Any] | None = None) -> list[Field]:
    """Every field of every panel op, in definition order (main ones first per op)."""
    ops = load_schema() if ops is None else ops
    out: list[Field] = []
    for op in PANEL_OPS:
        params = (ops.get(op) or {}).get("params") or {}
        skip = HIDDEN | OWN.get(op, set())
        fs = [make_field(op, n, s) for n, s in params.items()
              if n not in skip and s.get("x-kind") != "path_out"]
        order = {n: i for i, n in enumerate(MAIN.get(op, ()))}
        out.extend(sorted((f for f in fs if f.main), key=lambda f: order[f.param]))
        out.extend(f for f in fs if not f.main)
    return out


def applies(f: Field, engine: str | None) -> bool:
    """Whether ``f`` applies with ``engine`` (an engine-specific param does not
    apply with another engine and is neither shown nor sent)."""
    return not f.engines or (engine in f.engines)


def _number(text: str, kind: str) -> Any:
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        return text  # the server names the param and says what it expects


def value_of(f: Field, value: Any) -> Any:
    """The job param for property value ``value``; None = not sent (the op's default)."""
    kind_x = f.schema.get("x-kind", "str")
    if f.kind == "enum":
        if value == DEFAULT_ITEM or (f.schema.get("default") is not None and value == str(f.schema["default"])):
            return None
        if kind_x == "bool":
            return value == "on"
        return _number(value, kind_x) if kind_x in ("int", "float") else value
    if f.kind in ("bool", "int", "float"):
        return None if value == f.default else value
    text = str(value or "").strip()
    if not text or text == f.default:
        return None
    if f.schema.get("x-repeat"):
        parts = [t.strip() for t in text.split(";") if t.strip()]
        return [_number(t, kind_x) if kind_x in ("int", "float") else t for t in parts]
    if kind_x in ("int", "float"):
        return _number(text, kind_x)
    return text


def params_from(get: Any, op: str, ops: dict[str, Any] | None = None,
                flist: list[Field] | None = None) -> dict[str, Any]:
    """Job params of ``op`` from the panel: ``get(prop)`` reads a property.
    Only values changed from the definition's defaults are sent; params of
    another engine than the chosen one are left out."""
    flist = fields(ops) if flist is None else flist
    mine = [f for f in flist if f.op == op]
    engine_field = next((f for f in mine if f.param == "engine"), None)
    engine = get(engine_field.prop) if engine_field else None
    if engine_field is not None and engine in (None, DEFAULT_ITEM):
        engine = engine_field.schema.get("default")
    out: dict[str, Any] = {}
    for f in mine:
        if not applies(f, engine):
            continue
        v = value_of(f, get(f.prop))
        if v is not None:
            out[f.param] = v
    return out
