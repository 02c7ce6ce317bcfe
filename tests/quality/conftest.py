"""Fixtures of the quality tests: the bench case generator (bench/cases.py,
loaded by path: bench/ is not a package) and a small case built from it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_cases() -> ModuleType:
    if "vedit_bench_cases" in sys.modules:
        return sys.modules["vedit_bench_cases"]
    spec = importlib.util.spec_from_file_location("vedit_bench_cases", ROOT / "bench" / "cases.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vedit_bench_cases"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def cases():
    return load_cases()


@pytest.fixture(scope="session")
def small_case(cases, tmp_path_factory):
    """A 14-frame 192x108 pan over the astronaut photo, static brick blob."""
    spec = cases.Spec("t_pan", "revealed", "photo:astronaut.png", 7, 0.16, pan=(90, 0), frames=14,
                      width=192, height=108)
    return cases.build_case(spec, str(tmp_path_factory.mktemp("cases")))
