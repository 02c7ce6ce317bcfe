"""The one job-server client is usable outside vedit: a copy of the file runs
on the standard library alone (what the Blender extension and the Resolve
script carry), and the config-folder lookup is the same everywhere."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import vedit.server.client as client

ROOT = Path(__file__).resolve().parents[2]


def test_client_copy_runs_on_the_standard_library_alone(tmp_path):
    shutil.copy(client.__file__, tmp_path / "vedit_client.py")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import vedit_client as c; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'vedit'], 'imported vedit'; "
            "e = c.ServerUnavailableError('x'); assert isinstance(e, ConnectionError) and isinstance(e, RuntimeError); "
            "print(c.vedit_home())")
    # -S: no site-packages at all (vedit, numpy... are not importable)
    r = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path)], capture_output=True, text=True,
                       env={"VEDIT_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "h")


def test_one_home_lookup(monkeypatch, tmp_path):
    from vedit.models import vedit_home as models_home
    from vedit.server.config import ServerConfig, token_path

    monkeypatch.setenv("VEDIT_HOME", str(tmp_path / "cfg"))
    assert str(models_home()) == client.vedit_home() == ServerConfig().home == str(tmp_path / "cfg")
    assert token_path() == str(tmp_path / "cfg" / "token")
    monkeypatch.delenv("VEDIT_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert client.vedit_home() == str(tmp_path / "xdg" / "vedit") == str(models_home())


def test_errors_join_vedit_tree_inside_vedit():
    from vedit.errors import VeditError

    assert issubclass(client.JobNotFound, VeditError) and issubclass(client.JobNotFound, LookupError)


def test_blender_extension_carries_the_client(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "plugins/blender/build_extension.py"), "-o", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    with zipfile.ZipFile(out) as z:
        assert z.read("_vedit_client.py") == Path(client.__file__).read_bytes()
        assert b"vedit.server.client" in z.read("client.py")
