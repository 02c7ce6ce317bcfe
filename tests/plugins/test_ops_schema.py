"""The panels' forms come from the one op definition: the schema files the
Blender add-on and the Premiere panel carry are what ``vedit/ops`` produces
now, and the Blender fields built from them have the definitions' defaults,
choices and ranges, and send only what the editor changed, in a form the
definition accepts."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from vedit.ops import OPS, get_def


def _load(helpers, name, rel):
    spec = importlib.util.spec_from_file_location(name, helpers.root / rel)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def maker(helpers):
    return _load(helpers, "make_ops_schema", "plugins/make_ops_schema.py")


@pytest.fixture
def forms(helpers):
    return _load(helpers, "vedit_vse_forms", "plugins/blender/vedit_vse/forms.py")


def test_committed_schema_files_match_the_definitions(maker):
    for path, text in maker.render().items():
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, f"{path} is out of date: run python plugins/make_ops_schema.py"
    assert maker.main(["--check"]) == 0
    data = json.loads(maker.render()[maker.BLENDER])
    assert set(data["ops"]) == set(OPS)
    assert data["ops"]["remove"]["params"]["dilate"]["default"] == get_def("remove")["dilate"].default


def test_check_fails_on_a_stale_file(maker, tmp_path, monkeypatch):
    stale = tmp_path / "ops_schema.json"
    stale.write_text('{"ops": {}}\n')
    monkeypatch.setattr(maker, "BLENDER", str(stale))
    assert maker.main(["--check"]) == 1
    assert stale.read_text() == '{"ops": {}}\n'  # --check writes nothing
    assert maker.main([]) == 0 and json.loads(stale.read_text())["ops"]["matte"]


def test_blender_fields_carry_the_definitions(forms):
    fields = forms.fields()
    by_op = {}
    for f in fields:
        by_op.setdefault(f.op, []).append(f)
    assert set(by_op) == set(forms.PANEL_OPS)
    for op, fs in by_op.items():
        d = get_def(op)
        shown = {f.param for f in fs}
        # every param is in the form except the ones the add-on sets itself
        assert shown == set(d.names()) - forms.HIDDEN - forms.OWN[op] - {p.name for p in d.params
                                                                          if p.type == "path_out"}
        assert set(forms.MAIN[op]) <= shown
        for f in fs:
            p = d[f.param]
            choices = p.choice_values()
            if f.kind == "enum" and choices is not None:
                ids = [i[0] for i in f.items]
                assert [c for c in ids if c != forms.DEFAULT_ITEM] == [str(c) for c in choices], f.prop
                assert f.default == (forms.DEFAULT_ITEM if p.default is None else str(p.default)), f.prop
            elif f.kind == "bool":
                assert f.default is p.default, f.prop
            elif f.kind in ("int", "float"):
                assert f.default == p.default, f.prop
                if p.min is not None:
                    assert f.min == p.min, f.prop
                if p.max is not None:
                    assert f.max == min(p.max, forms.INT32), f.prop
            elif f.kind == "text":
                assert f.default == ("" if p.default is None else str(p.default)), f.prop
            else:  # a tri-state bool without a default
                assert p.type == "bool" and p.default is None
            # the untouched field sends nothing: the op's own default applies
            assert forms.value_of(f, f.default) is None, f.prop
    # the engine list is the definition's
    eng = next(f for f in by_op["remove"] if f.param == "engine")
    assert [i[0] for i in eng.items] == list(get_def("remove")["engine"].choice_values())
    assert eng.default == "propagate"


def test_blender_params_are_what_the_definition_accepts(forms, tmp_path):
    fields = forms.fields()
    mask = tmp_path / "m.png"
    mask.write_bytes(b"x")
    values = {f.prop: f.default for f in fields}

    def params(op):
        return forms.params_from(values.get, op, flist=fields)

    assert params("remove") == {} and params("matte") == {} and params("replace-bg") == {}
    values.update({"remove__dilate": 6, "remove__fps": "12.5", "remove__fill_gaps": "hold",
                   "remove__steps": "30"})  # steps applies to the diffusion engine only: not sent
    p = params("remove")
    assert p == {"dilate": 6, "fps": 12.5, "fill_gaps": "hold"}
    get_def("remove").resolve(dict(p, mask=str(mask)), job=True)
    values["remove__engine"] = "diffusion"
    assert params("remove")["steps"] == 30
    values.update({"matte__bit_depth": "16", "matte__smooth": False, "matte__box": "1,2,30,40",
                   "matte__add_mask": f"{mask};{mask}", "matte__source": "grabcut"})
    p = params("matte")
    assert p == {"bit_depth": 16, "smooth": False, "box": "1,2,30,40", "add_mask": [str(mask), str(mask)],
                 "source": "grabcut"}
    v = get_def("matte").resolve(dict(p, bit_depth=8), job=True)
    assert v["box"] == [1, 2, 30, 40] and v["add_mask"] == [str(mask)] * 2
    values.update({"replace_bg__spill": "off", "replace_bg__background": "#00ff00"})
    assert params("replace-bg") == {"spill": False, "background": "#00ff00"}
    # a bad value is passed on as typed: the definition names the param
    values["remove__fps"] = "fast"
    with pytest.raises(Exception, match="fps"):
        get_def("remove").resolve(dict(params("remove"), mask=str(mask)), job=True)
