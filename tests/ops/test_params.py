"""Param conversion and op-level checks: one definition, one set of rules."""
from __future__ import annotations

import math
import os

import pytest

from vedit.ops import get_def, register_op, unregister_op
from vedit.ops.params import OpDef, Param, ParamError
from vedit.ops.progress import OverallProgress


@pytest.mark.parametrize("param, value, want", [
    (Param("n", "int"), "12", 12),
    (Param("n", "int"), 3.0, 3),
    (Param("x", "float"), "0.25", 0.25),
    (Param("x", "float"), 2, 2.0),
    (Param("b", "bool"), "true", True),
    (Param("b", "bool"), False, False),
    (Param("box", "nums", count=4), "1, 2,3,4", [1, 2, 3, 4]),
    (Param("box", "nums", count=4), [1.5, 2, 3, 4], [1.5, 2, 3, 4]),
    (Param("m", "nums", repeat=True, count=4), ["1,2,3,4", [5, 6, 7, 8]], [[1, 2, 3, 4], [5, 6, 7, 8]]),
    (Param("m", "nums", repeat=True, count=4), [1, 2, 3, 4], [[1, 2, 3, 4]]),
    (Param("c", "str", choices=("a", "b")), "b", "b"),
    (Param("d", "int", choices=(8, 16)), "16", 16),
    (Param("bg", "path_or_word", words=("blur",)), "blur", "blur"),
    (Param("bg", "path_or_word"), "#202830", "#202830"),
])
def test_convert_good(param, value, want):
    assert param.convert(value) == want


@pytest.mark.parametrize("param, value, words", [
    (Param("n", "int"), "abc", "expected a whole number"),
    (Param("n", "int"), 2.5, "expected a whole number"),
    (Param("n", "int"), True, "expected a whole number"),
    (Param("n", "int"), int("9" * 400), "out of range"),
    (Param("x", "float"), math.nan, "finite"),
    (Param("x", "float"), math.inf, "finite"),
    (Param("x", "float"), "abc", "expected a number"),
    (Param("x", "float"), int("9" * 400), "out of range"),
    (Param("x", "float", min=0, max=1), 1.5, "at most 1"),
    (Param("n", "int", min=0), -1, "at least 0"),
    (Param("b", "bool"), "maybe", "true or false"),
    (Param("b", "bool"), 1, "true or false"),
    (Param("box", "nums", count=4), "1,2,3", "expected 4"),
    (Param("box", "nums"), "1,x", "comma-separated numbers"),
    (Param("box", "nums"), [1, [math.inf]], "finite"),
    (Param("c", "str", choices=("a", "b")), "z", "choose one of a, b"),
    (Param("s", "str"), 5, "expected text"),
    (Param("s", "str"), "a\x00b", "NUL"),
    (Param("p", "path"), "/no/such/file.png", "no such file or folder"),
    (Param("p", "path"), "/dev/null", "not a regular file or folder"),
    (Param("p", "path"), "", "expected a path"),
])
def test_convert_bad_names_the_param(param, value, words):
    with pytest.raises(ParamError) as ei:
        param.convert(value)
    assert ei.value.param == param.name
    assert words in str(ei.value) and param.flag in str(ei.value)
    assert ei.value.status == 422


def test_resolve_defaults_aliases_required_and_engines(tmp_path):
    mask = tmp_path / "m.png"
    mask.write_bytes(b"x")
    remove = get_def("remove")
    v = remove.resolve({"mask": str(mask)})
    assert v["dilate"] == 3 and v["engine"] == "propagate" and v["overwrite"] is False
    assert v["mask"] == os.path.abspath(mask)
    with pytest.raises(ParamError, match=r"--mask is required"):
        remove.resolve({})
    with pytest.raises(ParamError, match=r"params.mask is required"):
        remove.resolve({}, job=True)
    with pytest.raises(ParamError, match=r"--prompt applies to engine diffusion only"):
        remove.resolve({"mask": str(mask), "prompt": "grass"})
    assert remove.resolve({"mask": str(mask), "prompt": "grass", "engine": "diffusion"})["prompt"] == "grass"
    with pytest.raises(ParamError, match=r"--nonsense: unknown param for remove"):
        remove.resolve({"mask": str(mask), "nonsense": 1})
    # an older name still accepted
    bg = get_def("replace-bg").resolve({"background": "blur", "blur": 6})
    assert bg["blur_radius"] == 6.0
    with pytest.raises(ParamError, match="exactly one of --background"):
        get_def("replace-bg").resolve({})


def test_same_name_same_values_across_ops():
    animate, bg = get_def("animate"), get_def("replace-bg")
    assert animate["fit"].choices == bg["fit"].choices == ("cover", "contain", "stretch")
    assert animate.resolve({"fit": "crop"})["fit"] == "cover"  # the older values still work
    assert animate.resolve({"fit": "pad"})["fit"] == "contain"
    # --chroma is the key colour in both matte and replace-bg (--key still accepted)
    assert bg.resolve({"background": "blur", "key": "blue"})["chroma"] == "blue"
    assert get_def("matte")["chroma"].type == bg["chroma"].type == "str"


def test_op_checks_combinations():
    with pytest.raises(ParamError, match="--engine motion needs at least one --motion"):
        get_def("animate").resolve({"engine": "motion"})
    with pytest.raises(ParamError, match="--margin applies to --person only"):
        get_def("matte").resolve({"box": "1,2,30,40", "margin": 3})
    with pytest.raises(ParamError, match="say what to matte"):
        get_def("matte").resolve({})


def test_every_op_has_overwrite_and_duplicate_names_are_refused():
    for name in ("remove", "replace-bg", "matte", "animate"):
        assert get_def(name)["overwrite"].type == "bool"
    with pytest.raises(ValueError, match="defined twice"):
        OpDef("x", (Param("a"), Param("a")))


def test_register_op_is_the_one_registry():
    from vedit.jobs import op_names

    def run(input, output, **_):
        return output

    register_op("test-echo", run, params={"level": "int", "where": "path|str"})
    try:
        assert "test-echo" in op_names()
        assert get_def("test-echo")["where"].type == "path_or_word"
        assert get_def("test-echo").resolve({"level": "4"})["level"] == 4
    finally:
        unregister_op("test-echo")
    assert "test-echo" not in op_names()


def test_overall_progress_never_goes_back():
    seen = []
    p = OverallProgress(lambda d, t, s: seen.append((d, t, s)), 100)
    first, second = p.part(0, 50), p.part(50, 50)
    for i in range(11):
        first(i, 10, "matte")
    first(3, 10, "matte")  # a stage that restarts its count
    for i in range(0, 21, 5):
        second(i, 20, "composite")
    p.finish()
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and done[-1] == 100
    assert {t for _, t, _ in seen} == {100}
    assert seen[-1][2] == "done" and ("composite" in {s for _, _, s in seen})


# A param name shared by several ops means one thing: same type, same choices
# (in any order), same repeatability. The differences below are deliberate
# (what differs and why); anything else that drifts fails here.
_SAME_NAME_EXCEPTIONS = {
    # each op's --engine chooses among its own family's engines (see the next test)
    "engine": "choices",
    # `remove` runs the inpaint diffusion engine, which offloads the whole model only
    "offload": "choices",
    # keyframes: matte takes one --frame after each of several --mask; replace-bg one keyframe mask
    "frame": "repeat",
    "mask": "repeat",
}


def test_shared_names_mean_the_same_across_ops():
    ops = [get_def(n) for n in ("remove", "replace-bg", "matte", "animate")]
    by_name: dict[str, list] = {}
    for op in ops:
        for p in op.params:
            by_name.setdefault(p.name, []).append((op.name, p))
    drift = []
    for name, uses in sorted(by_name.items()):
        if len(uses) < 2:
            continue
        allowed = _SAME_NAME_EXCEPTIONS.get(name)
        kinds = {
            "type": {p.type for _, p in uses},
            "choices": {frozenset(map(str, p.choice_values() or ())) for _, p in uses},
            "repeat": {p.repeat for _, p in uses},
        }
        for kind, values in kinds.items():
            if len(values) > 1 and kind != allowed:
                drift.append(f"{name}: {kind} differs: " + ", ".join(f"{o}={getattr(p, kind)!r}" for o, p in uses))
    assert drift == []
    # the exceptions still hold (a fixed one is taken off the list)
    for name, kind in _SAME_NAME_EXCEPTIONS.items():
        uses = by_name[name]
        values = {str(p.choice_values()) if kind == "choices" else getattr(p, kind) for _, p in uses}
        assert len(values) > 1, f"{name} no longer differs in {kind}: remove it from _SAME_NAME_EXCEPTIONS"


def test_engine_choices_are_the_ops_engine_family():
    from vedit.engines import names

    for op in ("remove", "replace-bg", "animate"):
        d = get_def(op)
        assert d.engine_family is not None
        assert sorted(d["engine"].choice_values()) == sorted(names(d.engine_family))
    assert sorted(get_def("matte")["source"].choice_values()) == sorted(names("matte"))
