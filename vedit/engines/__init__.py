"""Engine registry: name → "module:Class", imported only when used.

Every engine and matte source the ops use comes from here: inpaint engines
(``remove``, ``replace-bg --prompt``), animate engines (``animate``) and matte
sources (``matte``, ``replace-bg --matte``). Built-in engines are registered
exactly like third-party ones: an entry point in the group ``vedit.engines``
(ours is ``builtin = "vedit.engines.builtin:builtin_engines"`` in
pyproject.toml) names a callable returning :class:`EngineSpec` s, loaded on
first use. So the extension path is always exercised. A broken plugin is
reported by ``vedit engines`` and skipped, never fatal.

A third-party package declares, in its own pyproject.toml::

    [project.entry-points."vedit.engines"]
    mine = "my_package.vedit_engines:engines"   # -> list[EngineSpec]
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from vedit.errors import EngineNotFoundError, MissingDependencyError

FAMILIES = ("inpaint", "animate", "matte")


@dataclass(frozen=True)
class EngineSpec:
    name: str
    family: str
    target: str  # "module:Class"
    description: str = ""
    needs: tuple[str, ...] = ()  # importable modules required
    extra: str = ""  # pip extra that brings them
    weights: str = ""  # what weights it needs, "" when none

    def missing(self) -> list[str]:
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    @property
    def available(self) -> bool:
        return not self.missing()

    def load(self):
        missing = self.missing()
        if missing:
            raise MissingDependencyError(missing[0], self.extra or "all", f"engine '{self.name}'")
        mod, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(mod), cls)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "family": self.family, "description": self.description,
            "needs": list(self.needs), "extra": self.extra, "weights": self.weights or None,
            "available": self.available, "missing": self.missing(),
        }


_REGISTRY: dict[tuple[str, str], EngineSpec] = {}
_PLUGIN_ERRORS: list[str] = []
_loaded_entry_points = False


def register(spec: EngineSpec) -> EngineSpec:
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown engine family {spec.family!r}")
    _REGISTRY[(spec.family, spec.name)] = spec
    return spec


#: the entry point that brings the built-in engines (declared in pyproject.toml)
BUILTIN = ("builtin", "vedit.engines.builtin:builtin_engines")


def _register_from(name: str, load) -> None:
    """Register what one entry point gives (an :class:`EngineSpec`, a list of
    them, or a callable returning either); a failure is recorded, not raised."""
    try:
        obj = load()
        specs = obj() if callable(obj) and not isinstance(obj, EngineSpec) else obj
        for s in specs if isinstance(specs, (list, tuple)) else [specs]:
            register(s)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break vedit
        _PLUGIN_ERRORS.append(f"{name}: {exc}")


def _load_entry_points() -> None:
    """Load the ``vedit.engines`` entry points once: ours first, so a third
    party's engine of the same name replaces a built-in. Run from a source
    tree whose install metadata lacks our entry point (not installed, or
    installed before it existed), ours is loaded from :data:`BUILTIN` through
    the same loader."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    from importlib.metadata import EntryPoint, entry_points

    eps = list(entry_points(group="vedit.engines"))
    ours = [ep for ep in eps if ep.value == BUILTIN[1]][:1] or [EntryPoint(*BUILTIN, "vedit.engines")]
    for ep in ours + [ep for ep in eps if ep.value != BUILTIN[1]]:
        _register_from(ep.name, ep.load)


def engines(family: str | None = None) -> list[EngineSpec]:
    _load_entry_points()
    return [s for (f, _), s in sorted(_REGISTRY.items()) if family in (None, f)]


def plugin_errors() -> list[str]:
    _load_entry_points()
    return list(_PLUGIN_ERRORS)


def names(family: str) -> list[str]:
    return [s.name for s in engines(family)]


def get_spec(family: str, name: str) -> EngineSpec:
    _load_entry_points()
    try:
        return _REGISTRY[(family, name)]
    except KeyError:
        raise EngineNotFoundError(
            f"unknown {family} engine {name!r}; choose one of: {', '.join(names(family)) or 'none'}"
        ) from None


def get_engine(family: str, name: str, **kwargs):
    """Instantiate an engine by family and name."""
    return get_spec(family, name).load()(**kwargs)
