"""The distribution name and the host extras: the name is not PyPI's unrelated
``vedit``, and the ComfyUI extra (installed into ComfyUI's own Python) pulls
no test tools, no ``bpy`` and nothing that caps numpy below 2."""
from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement


def _project(helpers) -> dict:
    with open(helpers.root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _closure(project: dict, extra: str) -> list[Requirement]:
    """The requirements an extra brings, self-references expanded."""
    name = project["name"]
    out: list[Requirement] = []
    todo, seen = [extra], set()
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.add(e)
        for text in project["optional-dependencies"][e]:
            req = Requirement(text)
            if req.name == name:
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def test_distribution_name_is_ours(helpers):
    p = _project(helpers)
    assert p["name"] == "vedit-toolkit"
    assert p["scripts"]["vedit"] == "vedit_cli.main:run"  # the command keeps its name (run: main, then a quick exit)
    # every pip line in the docs uses the distribution name
    for doc in ("README.md", "plugins/README.md", "plugins/comfyui/__init__.py"):
        text = (helpers.root / doc).read_text()
        assert not re.search(r"pip install [\"']?vedit\[", text), doc


def test_every_install_line_names_extras_that_exist(helpers):
    """The extras the docs tell an editor to install (``vedit-toolkit[server,person]``,
    ``".[all]"``, ``[server,person,ml]``; not a TOML table such as Resolve's
    ``[resolve]``) are all defined in pyproject.toml."""
    extras = set(_project(helpers)["optional-dependencies"])
    seen = set()
    for doc in ("README.md", "plugins/README.md", "plugins/comfyui/__init__.py", "setup.sh"):
        text = (helpers.root / doc).read_text()
        for group in re.findall(r"(?:vedit-toolkit|\.|`)\[([a-z0-9_,\- ]+)\](?!` table)", text):
            names = {n.strip() for n in group.split(",")}
            assert names <= extras, (doc, group)
            seen |= names
    assert {"server", "person", "comfyui", "ml", "timeline", "all"} <= seen


def test_comfyui_extra_is_lean(helpers):
    p = _project(helpers)
    reqs = _closure(p, "comfyui") + [Requirement(r) for r in p["dependencies"]]
    names = {r.name.lower() for r in reqs}
    assert "mediapipe" in names  # the person matte the nodes offer
    assert not names & {"bpy", "pytest", "pytest-timeout", "schemathesis", "moviepy", "scikit-image", "torch"}
    for r in reqs:
        if r.name.lower() in ("numpy", "pillow"):
            assert r.specifier.contains("2.4.0") if r.name.lower() == "numpy" else r.specifier.contains("12.0")


def test_all_is_everything(helpers):
    p = _project(helpers)
    names = {r.name.lower() for r in _closure(p, "all")}
    assert {"bpy", "pytest", "mediapipe", "torch", "fastapi", "opentimelineio"} <= names
