"""The CLI and the job server describe every op identically: each CLI option
(other than INPUT, --output, the frame range and --quiet) is a job param of the
same name on ``GET /ops`` with a compatible type, default and choices, and
every job param is a CLI option."""
from __future__ import annotations

import importlib

import click
import pytest

from vedit.server import ServerConfig, create_app

TOKEN = "contract-token-0123456789abcdef0123"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Host": "127.0.0.1:8765"}
OPS = {"remove": "remove", "replace-bg": "replace_bg", "matte": "matte", "animate": "animate"}
NOT_PARAMS = {"input", "output", "start", "end", "quiet", "help"}


@pytest.fixture(scope="module")
def ops_json(tmp_path_factory):
    from fastapi.testclient import TestClient

    app = create_app(ServerConfig(home=str(tmp_path_factory.mktemp("home")), token=TOKEN))
    r = TestClient(app).get("/ops", headers=HEADERS)
    app.state.store.close()
    assert r.status_code == 200, r.text
    return r.json()["ops"]


def _cli_type(opt: click.Option) -> str:
    if opt.is_flag or opt.secondary_opts:
        return "boolean"
    t = opt.type
    if isinstance(t, click.Choice):
        return "choice"
    return {click.INT: "integer", click.FLOAT: "number"}.get(t, "string")


def _mismatches(op: str, schema: dict) -> list[str]:
    cmd = importlib.import_module(f"vedit_cli.commands.{OPS[op]}").command
    cli = {p.name: p for p in cmd.params if isinstance(p, click.Option) and p.name not in NOT_PARAMS}
    job = schema["params"]
    out = [f"{op}: CLI --{n} is not a job param" for n in sorted(set(cli) - set(job))]
    out += [f"{op}: job param {n} has no CLI option" for n in sorted(set(job) - set(cli))]
    for name in sorted(set(cli) & set(job)):
        opt, js = cli[name], job[name]
        if opt.opts[0] != js["x-cli"]:
            out.append(f"{op}.{name}: CLI spelling {opt.opts[0]} vs {js['x-cli']}")
        item = js["items"] if js.get("type") == "array" else js
        if bool(opt.multiple) != (js.get("type") == "array"):
            out.append(f"{op}.{name}: repeatable in one front end only")
        kind = _cli_type(opt)
        if kind == "choice":
            accepted = [str(c) for c in item.get("enum", [])] + list(js.get("x-value-aliases", {}))
            if accepted != list(opt.type.choices):
                out.append(f"{op}.{name}: choices {list(opt.type.choices)} vs {item.get('enum')}")
            continue
        jtype = item.get("type", "string" if "anyOf" in item else None)
        if kind != jtype:
            out.append(f"{op}.{name}: CLI {kind} vs job {jtype}")
        default = None if opt.multiple else opt.default
        if default != js["default"]:
            out.append(f"{op}.{name}: default {default!r} vs {js['default']!r}")
    return out


@pytest.mark.parametrize("op", list(OPS))
def test_cli_and_server_agree(op, ops_json):
    assert _mismatches(op, ops_json[op]) == []


def test_contract_catches_a_drift(ops_json, monkeypatch):
    """The comparison is not vacuous: a param the CLI lacks, and a type that
    differs, are both reported."""
    schema = {**ops_json["remove"], "params": dict(ops_json["remove"]["params"])}
    schema["params"]["phantom"] = {"type": "integer", "default": None, "x-cli": "--phantom"}
    schema["params"]["dilate"] = {**schema["params"]["dilate"], "type": "boolean"}
    found = _mismatches("remove", schema)
    assert "remove: job param phantom has no CLI option" in found
    assert any(m.startswith("remove.dilate: CLI integer vs job boolean") for m in found)


def test_ops_schema_is_json_schema_style(ops_json):
    assert set(OPS) <= set(ops_json)
    remove = ops_json["remove"]
    assert remove["required"] == ["mask"]
    d = remove["params"]["dilate"]
    assert (d["type"], d["default"], d["minimum"]) == ("integer", 3, 0) and d["description"]
    assert remove["params"]["refine_strength"]["type"] == "number"  # a strength; "refine" is a switch elsewhere
    assert remove["params"]["refine_strength"]["x-engines"] == ["diffusion"]
    # same name, same meaning across ops
    for name in ("refine", "fit", "chroma", "feather", "dilate", "seed", "engine"):
        kinds = {ops_json[op]["params"][name].get("type") for op in OPS if name in ops_json[op]["params"]}
        assert len(kinds) == 1 or kinds == {"integer", "number"}, (name, kinds)
    assert ops_json["animate"]["params"]["fit"]["enum"] == ops_json["replace-bg"]["params"]["fit"]["enum"]
    assert ops_json["animate"]["params"]["offload"]["enum"] == ["none", "model", "sequential"]
    assert ops_json["animate"]["params"]["region"]["type"] == "array"
    assert ops_json["animate"]["still_input"] is True
    for op in OPS:
        assert ops_json[op]["params"]["overwrite"]["type"] == "boolean"
        for name, p in ops_json[op]["params"].items():
            assert p["description"], f"{op}.{name} has no help"
