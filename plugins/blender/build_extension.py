"""Build the installable Blender extension zip from ``vedit_vse/``.

    python plugins/blender/build_extension.py [-o dist/]

Produces ``vedit_vse-<version>.zip`` with ``blender_manifest.toml`` at the zip
root, the layout ``blender --command extension build`` makes (that command
needs a Blender binary; this script needs only Python). The panel's op schema
(``ops_schema.json``) is made afresh from vedit's op definitions when vedit can
be imported, so the zip's forms match the vedit it was built with."""
from __future__ import annotations

import argparse
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "vedit_vse")
# vedit's one job-server client (stdlib only), carried inside the add-on
CLIENT = os.path.join(HERE, "..", "..", "vedit", "server", "client.py")
SKIP_DIRS = {"__pycache__", ".git"}
SKIP_EXT = (".pyc", ".pyo", ".blend1", ".zip")


def manifest_field(text: str, key: str) -> str:
    m = re.search(rf'^{key}\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise SystemExit(f"ERROR: blender_manifest.toml has no {key}")
    return m.group(1)


def fresh_schema() -> str | None:
    """The panel's op schema made now from vedit's op definitions
    (``make_ops_schema.py``), or None where vedit cannot be imported (then the
    committed ``vedit_vse/ops_schema.json`` is packed)."""
    sys.path.insert(0, os.path.dirname(HERE))
    try:
        import make_ops_schema
    finally:
        sys.path.pop(0)
    try:
        return make_ops_schema.render()[make_ops_schema.BLENDER]
    except ImportError:
        return None


def build(out_dir: str) -> str:
    with open(os.path.join(SRC, "blender_manifest.toml"), encoding="utf-8") as f:
        text = f.read()
    ext_id, version = manifest_field(text, "id"), manifest_field(text, "version")
    schema_text = fresh_schema()
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"{ext_id}-{version}.zip")
    tmp = target + ".part"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(SRC):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                if name.endswith(SKIP_EXT):
                    continue
                full = os.path.join(root, name)
                if full == os.path.join(SRC, "ops_schema.json") and schema_text is not None:
                    continue
                z.write(full, os.path.relpath(full, SRC))
        z.write(CLIENT, "_vedit_client.py")
        if schema_text is not None:
            z.writestr("ops_schema.json", schema_text)
    os.replace(tmp, target)
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output-dir", default=os.path.join(HERE, "dist"))
    args = ap.parse_args(argv)
    print(build(args.output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
