"""The one job-server client is usable outside vedit: a copy of the file runs
on the standard library alone (what the Blender extension and the Resolve
script carry), and the config-folder lookup is the same everywhere."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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


# -- against a live loopback server --------------------------------------------------

def _submit_n(c, seq, tmp_path, n):
    return [c.submit({"op": "test-invert", "input": str(seq), "output": str(seq.parent / f"out{i}.mp4")})
            for i in range(n)]


def test_list_all_follows_the_next_cursor(live_server, clip_dir, tmp_path):
    url, token, _ = live_server
    _, seq, _, _ = clip_dir
    c = client.VeditClient(url, token=token)
    ids = _submit_n(c, seq, tmp_path, 5)
    first, cursor = c.page(limit=2)
    assert [j["id"] for j in first] == ids[::-1][:2] and cursor  # newest first, more to come
    assert c.list(limit=2) == first
    everything = c.list_all(page_size=2)  # three requests: 2 + 2 + 1
    assert [j["id"] for j in everything] == ids[::-1]
    assert c.page(limit=10)[1] is None  # one page holds them all: no cursor
    assert [j["id"] for j in c.list_all()] == ids[::-1]


def test_rotated_token_is_read_again_after_a_401(home, request, clip_dir, tmp_path):
    """The real rotation: a token file found readable by others is replaced when
    the server starts; a client that read the old one retries with the new one."""
    home.mkdir(parents=True)
    old = "o" * 64
    (home / "token").write_text(old + "\n")
    (home / "token").chmod(0o644)
    c = client.VeditClient()  # reads the token file ($VEDIT_HOME is home)
    assert c.token == old
    url, new, _ = request.getfixturevalue("live_server")
    assert new != old and (home / "token").stat().st_mode & 0o077 == 0
    c.url = url
    assert c.list() == []
    assert c.token == new
    _, seq, _, _ = clip_dir
    assert c.wait(_submit_n(c, seq, tmp_path, 1)[0], timeout=60)["status"] == "done"

    # a token given explicitly is the caller's choice: a 401 is reported, not retried
    stale = client.VeditClient(url, token=old)
    with pytest.raises(client.AuthError) as exc:
        stale.list()
    assert exc.value.status == 401 and stale.token == old
    # a token file that still holds a refused token: one 401, no loop
    (home / "token").write_text(old + "\n")
    c.token = old
    with pytest.raises(client.AuthError):
        c.list()


def test_https_with_the_servers_ca_file(tls_server, clip_dir, tmp_path, monkeypatch):
    _port, url, cert = tls_server
    _, seq, _, _ = clip_dir
    c = client.VeditClient(url, cafile=cert)
    assert c.health()["ok"] is True
    job = c.wait(_submit_n(c, seq, tmp_path, 1)[0], timeout=60)
    assert job["status"] == "done" and (seq.parent / "out0.mp4").stat().st_size > 0
    monkeypatch.setenv("VEDIT_CA_FILE", cert)
    assert [j["id"] for j in client.VeditClient(url).list_all()] == [job["id"]]
    monkeypatch.delenv("VEDIT_CA_FILE")

    # the self-signed certificate is not trusted without its CA file: one clear error
    with pytest.raises(client.ServerUnavailableError, match="TLS to https://127.0.0.1") as exc:
        client.VeditClient(url).health()
    assert exc.value.type == "TLS"
    # plain http to the TLS port is no server
    with pytest.raises(client.ServerUnavailableError):
        client.VeditClient(url.replace("https", "http"), timeout=5).health()
    with pytest.raises(ValueError, match="CA file"):
        client.VeditClient(url, cafile=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="http:// or https://"):
        client.VeditClient("ftp://127.0.0.1:1")


def test_blender_zips_client_copy_over_https_without_vedit(tls_server, home, tmp_path):
    """The copy the Blender build vendors, run with no site-packages (no vedit),
    talks to the TLS server: its CA file from $VEDIT_CA_FILE, the token from
    $VEDIT_HOME, every page of the job list."""
    _port, url, cert = tls_server
    out = subprocess.run([sys.executable, str(ROOT / "plugins/blender/build_extension.py"), "-o", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    with zipfile.ZipFile(out) as z:
        z.extract("_vedit_client.py", tmp_path / "copy")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import _vedit_client as c; k = c.VeditClient(sys.argv[2]); "
            "print(k.health()['ok'], k.list_all(page_size=1), "
            "[m for m in sys.modules if m.split('.')[0] == 'vedit'])")
    r = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path / "copy"), url], capture_output=True, text=True,
                       env={"VEDIT_HOME": str(home), "VEDIT_CA_FILE": cert, "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "[]", "[]"]
