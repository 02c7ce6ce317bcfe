"""The engine registry's one discovery path: the ``vedit.engines`` entry
points. Built-in engines are declared there like a third-party package's; a
fake installed distribution (a dist-info folder on sys.path) adds an inpaint
engine that ``remove`` then runs on real pixels; a broken plugin is reported
and skipped."""
from __future__ import annotations

import tomllib
from importlib.metadata import entry_points

import cv2
import numpy as np
import pytest

import vedit.engines as reg
from tests.helpers import ROOT, read_sequence

PLUGIN = '''
import numpy as np
from vedit.engines import EngineSpec
from vedit.engines.base import InpaintOutput


class MeanFillEngine:
    """Fills the hole with the mean colour of the rest of the frame."""

    def __init__(self, dilate=0, feather=0, **_):
        self.dilate = dilate

    def inpaint(self, frames, masks, seed=0, callback=None, total=None):
        def run():
            for i, (f, m) in enumerate(zip(frames, masks)):
                hole = np.asarray(m) > 127
                out = f.copy()
                out[hole] = f[~hole].mean(axis=0).round().astype(np.uint8)
                if callback is not None:
                    callback(i + 1, total, "mean fill")
                yield out
        return InpaintOutput(run(), total or 0)


def engines():
    return [EngineSpec("meanfill", "inpaint", "vedit_fake_plugin:MeanFillEngine", "test: mean colour fill")]
'''


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as a new process sees it: nothing loaded yet."""
    monkeypatch.setattr(reg, "_REGISTRY", {})
    monkeypatch.setattr(reg, "_PLUGIN_ERRORS", [])
    monkeypatch.setattr(reg, "_loaded_entry_points", False)
    return reg


def _install(site, name, entry_points_txt, module=None):
    """A minimal installed distribution: NAME-1.0.dist-info with METADATA and
    entry_points.txt, plus the module it points at."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points_txt)
    if module is not None:
        (site / f"{name}.py").write_text(module)


def test_builtins_are_declared_and_installed_as_an_entry_point():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["vedit.engines"]
    assert declared[reg.BUILTIN[0]] == reg.BUILTIN[1]
    installed = {ep.name: ep.value for ep in entry_points(group="vedit.engines")}
    assert installed.get(reg.BUILTIN[0]) == reg.BUILTIN[1], \
        "the installed metadata lacks the built-in entry point: run pip install -e ."


def test_builtins_come_through_the_loader(fresh_registry):
    assert fresh_registry._REGISTRY == {}
    assert fresh_registry.names("inpaint") == ["diffusion", "propagate"]
    assert fresh_registry.names("animate") == ["diffusion", "motion", "parallax"]
    assert {"person", "chroma", "file", "track", "sam", "grabcut"} <= set(fresh_registry.names("matte"))
    assert fresh_registry.plugin_errors() == []


def test_third_party_engine_found_and_used_by_remove(fresh_registry, tmp_path, monkeypatch, pan_sequence):
    site = tmp_path / "site"
    _install(site, "vedit_fake_plugin", "[vedit.engines]\nmeanfill = vedit_fake_plugin:engines\n", PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    assert "meanfill" in fresh_registry.names("inpaint") and "propagate" in fresh_registry.names("inpaint")
    # the op's --engine choices come from the registry: remove runs it
    from vedit.ops.remove import run

    seq, mask, frames = pan_sequence
    out = run(str(seq), str(tmp_path / "out") + "/", end=3, mask=str(mask), engine="meanfill", dilate=0, feather=0)
    got = read_sequence(out)
    hole = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127
    assert len(got) == 3
    for f, g in zip(frames, got):
        assert np.array_equal(g[~hole], f[~hole])
        want = f[~hole].mean(axis=0).round()
        assert np.abs(g[hole].astype(float) - want).max() <= 1  # one flat colour: the engine's mean


def test_broken_plugin_is_reported_and_skipped(fresh_registry, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install(site, "vedit_broken_plugin", "[vedit.engines]\nbroken = vedit_no_such_module:engines\n")
    monkeypatch.syspath_prepend(str(site))
    assert "propagate" in fresh_registry.names("inpaint")
    errors = fresh_registry.plugin_errors()
    assert len(errors) == 1 and errors[0].startswith("broken: ") and "vedit_no_such_module" in errors[0]
