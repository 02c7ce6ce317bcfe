"""The attacks of issue 20, replayed: each test is the reproduction, and it must
now fail safely (a 4xx, a failed job, nothing written outside the roots)."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import ssl
import stat
import threading
import time
import urllib.request

import pytest

from vedit.errors import InvalidInputError
from vedit.io import open_clip
from vedit.server import ServerConfig


def post(c, auth, body):
    """POST /jobs with a raw JSON body (lone surrogates, NaN kept as sent)."""
    raw = json.dumps(body, ensure_ascii=True) if not isinstance(body, str) else body
    return c.post("/jobs", headers={**auth, "Content-Type": "application/json"}, content=raw.encode())


# -- 1. inputs: regular files inside the roots, probed with a timeout; cancel always works --------------


def test_fifo_input_refused_fast_and_next_submit_accepted(make_client, clip_dir, h):
    root, seq, mask, _ = clip_dir
    c, auth, _ = make_client()
    os.mkfifo(root / "f")
    for rng in ({"start": 0, "end": 4}, None):
        body = {**h.spec(root / "f", root / "o.mp4"), **({"range": rng} if rng else {})}
        t0 = time.monotonic()
        r = post(c, auth, body)
        assert 400 <= r.status_code < 500 and time.monotonic() - t0 < 1.0
        assert "not a regular file" in r.json()["error"]
    for dev in ("/dev/zero", "/dev/urandom"):
        r = post(c, auth, h.spec(dev, root / "o.mp4"))
        assert r.status_code == 422 and "not a regular file" in r.json()["error"]
    r = post(c, auth, h.spec(seq, root / "o.mp4", mask=str(root / "f")))
    assert r.status_code == 422 and "params.mask" in r.json()["error"]
    r = post(c, auth, h.spec(seq, root / "ok.mp4", mask=str(mask)))
    assert r.status_code == 202
    assert h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), r.json()["id"])["status"] == "done"


def test_inputs_outside_the_roots_need_allow_read(make_client, clip_dir, h, tmp_path):
    root, seq, mask, _ = clip_dir
    renders = tmp_path / "renders"
    renders.mkdir()
    c, auth, _ = make_client(allowed_roots=[str(renders)])
    r = post(c, auth, h.spec(seq, renders / "o.mp4"))
    assert r.status_code == 400 and "--allow-read" in r.json()["error"]
    c2, auth2, _ = make_client(allowed_roots=[str(renders)], read_roots=[str(root)])
    assert post(c2, auth2, h.spec(seq, renders / "o.mp4", mask=str(mask))).status_code == 202
    r = post(c2, auth2, h.spec(seq, renders / "p.mp4", mask="/etc/hostname"))
    assert r.status_code == 400 and "params.mask" in r.json()["error"]


def test_a_worker_ignoring_cancel_is_replaced(make_client, clip_dir, h):
    from vedit.jobs import register_op, unregister_op

    root, seq, _, _ = clip_dir
    release = threading.Event()

    def stuck(input, output, **_):
        release.wait(30)  # a read that never returns and never reports progress
        raise InvalidInputError("released")

    register_op("test-stuck", stuck, params={})
    try:
        c, auth, app = make_client()
        app.state.runner.cancel_grace = 0.3
        get = lambda i: c.get(f"/jobs/{i}", headers=auth).json()  # noqa: E731
        a = post(c, auth, {"op": "test-stuck", "input": str(seq), "output": str(root / "s.mp4")}).json()["id"]
        b = post(c, auth, h.spec(seq, root / "after.mp4")).json()["id"]
        h.wait_status(get, a, ("running",))
        assert c.post(f"/jobs/{a}/cancel", headers=auth).status_code == 200
        t0 = time.monotonic()
        ja = h.wait_status(get, a, timeout=5)
        assert ja["status"] == "cancelled" and time.monotonic() - t0 < 3 and "replaced" in ja["error"]
        assert h.wait_status(get, b)["status"] == "done"
        release.set()
        time.sleep(0.1)
        assert get(a)["status"] == "cancelled"  # the stuck thread never writes the job again
    finally:
        release.set()
        unregister_op("test-stuck")


# -- 2. any stored row readable; delete; paging; retention; bounded specs ----------------------------------


def test_lone_surrogate_refused_and_bad_rows_still_listed(make_client, clip_dir, h, home):
    root, seq, _, _ = clip_dir
    c, auth, app = make_client()
    r = post(c, auth, json.dumps(h.spec(seq, root / "o.mp4"))[:-1] + ', "params": {"prompt": "\\ud800"}}')
    assert r.status_code == 422 and "params.prompt" in r.json()["error"] and "surrogate" in r.json()["error"]
    # rows an older server stored: a surrogate, broken JSON, bytes that are not UTF-8
    db = sqlite3.connect(str(home / "jobs.db"))
    rows = [("a1", '{"op": "remove", "params": {"prompt": "\\ud800"}, "input": "\\udcff"}', "queued"),
            ("a2", "{not json", "done"), ("a3", b"\xff\xfe{", "failed"), ("a4", "[1, 2]", "done")]
    for i, (jid, spec, st) in enumerate(rows):
        db.execute("INSERT INTO jobs (id, seq, spec, status, created, error) VALUES (?, ?, ?, ?, ?, ?)",
                   (jid, 1000 + i, spec, st, time.time(), b"\xc3(" if jid == "a3" else None))
    db.commit()
    db.close()
    r = c.get("/jobs", headers=auth)
    assert r.status_code == 200 and {j["id"] for j in r.json()} >= {"a1", "a2", "a3", "a4"}
    assert c.get("/jobs/a1", headers=auth).json()["params"]["prompt"] == "\\ud800"
    assert c.post("/jobs/a1/cancel", headers=auth).json()["status"] == "cancelled"
    for jid in ("a1", "a2", "a3", "a4"):
        assert c.delete(f"/jobs/{jid}", headers=auth).status_code == 204
        assert c.get(f"/jobs/{jid}", headers=auth).status_code == 404


def test_delete_only_finished_jobs(make_client, clip_dir, h):
    root, seq, _, _ = clip_dir
    c, auth, app = make_client()
    app.state.runner.stop()  # keep jobs queued
    jid = post(c, auth, h.spec(seq, root / "o.mp4")).json()["id"]
    r = c.delete(f"/jobs/{jid}", headers=auth)
    assert r.status_code == 409 and "cancel it first" in r.json()["error"]
    c.post(f"/jobs/{jid}/cancel", headers=auth)
    assert c.delete(f"/jobs/{jid}", headers=auth).status_code == 204
    assert c.delete(f"/jobs/{jid}", headers=auth).status_code == 404


def test_submit_cancel_flood_keeps_the_list_small(make_client, clip_dir, h, home):
    root, seq, _, _ = clip_dir
    c, auth, app = make_client(keep_jobs=120)
    app.state.runner.stop()
    pad = "x" * 9000  # a large but allowed spec
    for i in range(300):
        r = post(c, auth, {**h.spec(seq, root / f"o{i}.mp4"), "params": {"delay": 0.0}, "input": str(seq) + "/"
                           if i % 2 else str(seq)})
        assert r.status_code == 202, r.text
        c.post(f"/jobs/{r.json()['id']}/cancel", headers=auth)
    r = c.get("/jobs", headers=auth)
    assert r.status_code == 200 and len(r.content) < 1_000_000 and len(r.json()) == 50
    seen, cursor = [], None
    while True:
        r = c.get("/jobs", headers=auth, params={"limit": 40, **({"cursor": cursor} if cursor else {})})
        seen += [j["created"] for j in r.json()]
        cursor = r.headers.get("x-next-cursor")
        if not cursor:
            break
    assert len(seen) == 120 and seen == sorted(seen, reverse=True)  # retention, newest first, no repeats
    big = post(c, auth, {**h.spec(seq, root / "big.mp4"), "params": {"prompt": pad * 2}})
    assert big.status_code == 422 and "limit" in big.json()["error"]
    assert os.path.getsize(home / "jobs.db") < 2_000_000


@pytest.mark.parametrize("cursor", ["\u00b2", "\u0663", "12a", "-3", "1" * 19])
def test_foreign_cursor_is_one_clear_error(make_client, cursor):
    # digits outside ASCII ('²', Arabic-Indic three) pass str.isdigit but not int()
    c, auth, _app = make_client()
    r = c.get("/jobs", headers=auth, params={"cursor": cursor})
    assert r.status_code == 404 and "cursor" in r.json()["error"] and "start without it" in r.json()["error"]


def test_keep_days_prunes_old_finished_jobs(tmp_path):
    from vedit.jobs import JobStore

    s = JobStore(str(tmp_path / "j.db"))
    old = s.add({"op": "x"}, "/a")
    new = s.add({"op": "x"}, "/b")
    active = s.add({"op": "x"}, "/c")
    s.update(old["id"], status="done", finished=time.time() - 40 * 86400)
    s.update(new["id"], status="done", finished=time.time())
    s.update(active["id"], created=time.time() - 90 * 86400)
    assert s.prune(None, 30 * 86400) == 1
    assert {r["id"] for r in s.list()} == {new["id"], active["id"]}


# -- 3. outputs re-resolved at write time, previews claimed, temporaries after a crash ---------------------


@pytest.fixture(params=["proc", "no-proc"])
def pinning(request, monkeypatch):
    """Both ways a job's writes are pinned: through /proc (Linux), and through
    the runner's private staging folder (systems without /proc, e.g. macOS)."""
    import vedit.jobs.runner as runner

    if request.param == "no-proc":
        monkeypatch.setattr(runner, "USE_PROC", False)
    else:
        fd = os.open("/", os.O_RDONLY)
        try:
            if not runner.proc_names_folders(fd):
                pytest.skip("no /proc on this system")
        finally:
            os.close(fd)
    return request.param



def test_output_folder_swapped_for_a_symlink_fails_the_job(make_client, clip_dir, h, tmp_path, pinning):
    root, seq, _, _ = clip_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "sub").mkdir()
    c, auth, _ = make_client(allowed_roots=[str(root)])
    get = lambda i: c.get(f"/jobs/{i}", headers=auth).json()  # noqa: E731
    busy = post(c, auth, h.spec(seq, root / "busy.mp4", delay=0.05)).json()["id"]
    jid = post(c, auth, h.spec(seq, root / "sub" / "x.mp4")).json()["id"]
    os.rename(root / "sub", root / "sub_old")
    os.symlink(outside, root / "sub")
    job = h.wait_status(get, jid)
    assert h.wait_status(get, busy)["status"] == "done"
    assert job["status"] == "failed" and job["error_type"] == "PathNotAllowedError"
    assert os.listdir(outside) == [] and os.listdir(root / "sub_old") == []


def test_folder_swapped_while_the_job_runs(make_client, clip_dir, h, tmp_path, pinning):
    """The swap happens after the op wrote its temporary output: the commit checks again."""
    from vedit.jobs import register_op, unregister_op

    root, seq, _, _ = clip_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "sub").mkdir()

    def swapping(input, output, **kw):
        path = h.invert_op(input, output, **kw)
        os.rename(root / "sub", root / "sub_old")
        os.symlink(outside, root / "sub")
        return path

    register_op("test-swap", swapping, params={})
    try:
        c, auth, _ = make_client(allowed_roots=[str(root)])
        jid = post(c, auth, {"op": "test-swap", "input": str(seq), "output": str(root / "sub" / "x.mp4")}).json()
        job = h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), jid["id"])
    finally:
        unregister_op("test-swap")
    assert job["status"] == "failed" and "replaced" in job["error"]
    assert os.listdir(outside) == [] and os.listdir(root / "sub_old") == []


@pytest.mark.parametrize("out_name", ["x.mp4", "frames/"])
def test_folders_swapped_mid_write_nothing_lands_outside(make_client, clip_dir, h, tmp_path, out_name, pinning,
                                                         home):
    """The output's and the preview's folders are swapped for symlinks to folders
    outside the root while the op is writing: every file it creates after the
    swap (a video, a frame sequence, a preview) stays in the job's staging
    folders (in the pinned folders, or the runner's private one without /proc),
    the job fails, and nothing ever appears outside — also mid-write."""
    from vedit.io import open_writer
    from vedit.jobs import register_op, unregister_op

    root, seq, _, _ = clip_dir
    outside, outside_pv = tmp_path / "outside", tmp_path / "outside_pv"
    for d in (outside, outside_pv, root / "sub", root / "pv"):
        d.mkdir()
    ready, go, written, release = (threading.Event() for _ in range(4))
    seen: dict = {}

    def pausing(input, output, *, preview=None, callback=None, start=None, end=None, **_):
        clip = open_clip(input)
        ready.set()
        assert go.wait(20)
        # after the swap: the writer creates its files by the path it was given
        with open_writer(output, clip.fps, clip.size, like=clip) as w:
            for f in clip.frames():
                w.write(f)
            with open(preview, "x", encoding="utf-8") as fh:
                fh.write("preview")
            written.set()
            assert release.wait(20)
        return w.path

    register_op("test-pause", pausing, params={"preview": "path_out"})
    try:
        c, auth, _ = make_client(allowed_roots=[str(root)])
        r = post(c, auth, {"op": "test-pause", "input": str(seq), "output": f"{root}/sub/{out_name}",
                           "params": {"preview": str(root / "pv" / "p.mp4")}})
        assert r.status_code == 202, r.text
        assert ready.wait(20)
        for name, away in (("sub", outside), ("pv", outside_pv)):
            os.rename(root / name, root / f"{name}_old")
            os.symlink(away, root / name)
        go.set()
        assert written.wait(20)
        # mid-write: the files are in the staging folders, none outside
        stages = [root / "sub_old", root / "pv_old"] if pinning == "proc" else [home / "staging"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the encoder opens its file once it has read a frame
            seen["inside"] = [p.name for d in stages for p in d.rglob("*") if p.is_file()]
            if len(seen["inside"]) > 1:
                break
            time.sleep(0.05)
        seen["outside"] = [p.name for d in (outside, outside_pv) for p in d.rglob("*")]
        release.set()
        job = h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), r.json()["id"])
    finally:
        go.set()
        release.set()
        unregister_op("test-pause")
    assert seen["outside"] == []
    assert "p.mp4" in seen["inside"] and any(n.endswith((".mp4", ".png")) for n in seen["inside"] if n != "p.mp4")
    assert job["status"] == "failed" and job["error_type"] == "PathNotAllowedError"
    assert "was replaced while the job ran" in job["error"] and "/proc/" not in job["error"]
    assert os.listdir(outside) == [] and os.listdir(outside_pv) == []
    assert os.listdir(root / "sub_old") == [] and os.listdir(root / "pv_old") == []
    assert os.listdir(home / "staging") == []


def _preview_op(input, output, *, preview=None, tag="", callback=None, start=None, end=None, **_):
    from vedit.io import open_clip, open_writer

    clip = open_clip(input)
    with open_writer(output, clip.fps, clip.size, like=clip) as w:
        for i, f in enumerate(clip.frames()):
            w.write(f)
            if callback:
                callback(i + 1, clip.frame_count, "copy")
    if preview:
        with open(preview, "x", encoding="utf-8") as fh:
            fh.write(tag)
    return w.path


@pytest.fixture
def preview_op():
    from vedit.jobs import register_op, unregister_op

    register_op("test-preview", _preview_op, params={"preview": "path_out", "tag": "str"})
    yield "test-preview"
    unregister_op("test-preview")


def test_two_jobs_never_share_a_preview(make_client, clip_dir, preview_op, h, pinning):
    root, seq, _, _ = clip_dir
    c, auth, app = make_client()
    get = lambda i: c.get(f"/jobs/{i}", headers=auth).json()  # noqa: E731
    prev = str(root / "prev.mp4")
    a = post(c, auth, {"op": preview_op, "input": str(seq), "output": str(root / "a.mp4"),
                       "params": {"preview": prev, "tag": "first"}}).json()["id"]
    b = post(c, auth, {"op": preview_op, "input": str(seq), "output": str(root / "b.mp4"),
                       "params": {"preview": prev, "tag": "second"}}).json()["id"]
    # the preview may not take the output's name either
    r = post(c, auth, {"op": preview_op, "input": str(seq), "output": str(root / "c.txt.mp4"),
                       "params": {"preview": str(root / "b.mp4"), "tag": "third"}})
    ja, jb = h.wait_status(get, a), h.wait_status(get, b)
    assert ja["status"] == jb["status"] == "done"
    assert ja["params"]["preview"] == prev and jb["params"]["preview"] != prev
    assert open(prev).read() == "first" and open(jb["params"]["preview"]).read() == "second"
    if r.status_code == 202:
        jc = h.wait_status(get, r.json()["id"])
        assert jc["params"]["preview"] != str(root / "b.mp4")
    assert open_clip(jb["output"]).frame_count == 12
    assert h.leftovers(root) == []


def test_crash_leaves_no_temporaries(clip_dir, preview_op, tmp_path):
    from vedit.jobs import JobStore, Runner

    root, seq, _, _ = clip_dir
    pdir = root / "previews"
    pdir.mkdir()
    store = JobStore(str(tmp_path / "j.db"))
    spec = {"op": preview_op, "input": str(seq), "output": str(root / "o.mp4"),
            "params": {"preview": str(pdir / "p.mp4")}, "claims": [str(root / "o.mp4"), str(pdir / "p.mp4")]}
    row = store.add(spec, str(root / "o.mp4"))
    store.update(row["id"], status="running")
    jid = row["id"]
    left = [root / f".o.vedit-job-{jid}.mp4", pdir / f".p.vedit-job-{jid}.mp4",
            pdir / f"..p.vedit-job-{jid}.vedit-tmp-1a2b3c4d.mp4", root / f".o.vedit-job-{jid}"]
    # the staging folders a running job writes in (output's and preview's), with what the writer left
    left += [root / f".vedit-job-{jid}.0", pdir / f".vedit-job-{jid}.1"]
    for p in left[:3]:
        p.write_bytes(b"partial")
    for d in left[3:]:
        d.mkdir()
        (d / "00000.png").write_bytes(b"x")
    (pdir / "keep.mp4").write_bytes(b"user file")
    Runner(store).recover()  # what start() does first
    assert not any(p.exists() for p in left)
    assert (pdir / "keep.mp4").exists() and store.get(jid)["status"] == "failed"


# -- 4. numbers and names ---------------------------------------------------------------------------


def test_numbers_and_names_are_422_naming_the_param(make_client, clip_dir, h):
    root, seq, mask, _ = clip_dir
    c, auth, _ = make_client()
    base = h.spec(seq, root / "o.mp4")
    big = "9" * 400
    r = post(c, auth, json.dumps(base)[:-1] + f', "params": {{"delay": {big}}}}}')
    assert r.status_code == 422 and "params.delay" in r.json()["error"]
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        r = post(c, auth, json.dumps(base)[:-1] + ', "range": {"start": 0}, "params": {"delay": ' + bad + "}}")
        assert r.status_code == 422 and "delay" in r.json()["error"], bad
    for v in ('"3"', "true", "1.5", "-1", big):
        r = post(c, auth, json.dumps(base)[:-1] + ', "range": {"start": ' + v + "}}")
        assert r.status_code == 422 and "range.start" in r.json()["error"], v
    r = post(c, auth, h.spec(seq, root / ("n" * 300 + ".mp4")))
    assert r.status_code == 422 and "shorter name" in r.json()["error"]
    remove = {"op": "remove", "input": str(seq), "output": str(root / "r.mp4")}
    r = post(c, auth, remove)
    assert r.status_code == 422 and "params.mask" in r.json()["error"]
    for name, v in (("dilate", 1e9), ("feather", 1e308), ("dilate", -1)):
        r = post(c, auth, {**remove, "params": {"mask": str(mask), name: v}})
        assert r.status_code == 422 and f"params.{name}" in r.json()["error"], (name, v)


# -- 5. token and database files ---------------------------------------------------------------------


def test_token_rotated_when_readable_by_others_or_short(tmp_path):
    from vedit.server.config import ensure_token

    home = tmp_path / "home"
    lines: list[str] = []
    tok = ensure_token(str(home), echo=lines.append)
    assert len(tok) >= 43 and stat.S_IMODE(os.stat(home / "token").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700 and lines == []
    assert ensure_token(str(home), echo=lines.append) == tok
    os.chmod(home / "token", 0o644)
    new = ensure_token(str(home), echo=lines.append)
    assert new != tok and (home / "token").read_text().strip() == new
    assert stat.S_IMODE(os.stat(home / "token").st_mode) == 0o600
    assert len(lines) == 1 and "readable by other users" in lines[0] and "read the token file again" in lines[0]
    (home / "token").write_text("a\n")
    assert len(ensure_token(str(home), echo=lines.append)) >= 43 and "shorter" in lines[-1]


def test_database_files_private(make_client, clip_dir, h, home):
    root, seq, _, _ = clip_dir
    c, auth, _ = make_client()
    jid = post(c, auth, h.spec(seq, root / "o.mp4")).json()["id"]
    h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), jid)
    files = [f for f in os.listdir(home) if f.startswith("jobs.db")]
    assert "jobs.db" in files and "jobs.db-wal" in files
    for f in files:
        assert stat.S_IMODE(os.stat(home / f).st_mode) == 0o600, f
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


# -- 6. remote binding only with TLS; connection timeouts -------------------------------------------------


def test_remote_binding_needs_allow_remote_and_tls(tmp_path):
    from vedit.server.tls import make_cert

    with pytest.raises(InvalidInputError, match="--allow-remote"):
        ServerConfig(home=str(tmp_path), host="0.0.0.0").validate()
    with pytest.raises(InvalidInputError, match="needs TLS"):
        ServerConfig(home=str(tmp_path), host="192.168.1.5", allow_remote=True).validate()
    cert, key = make_cert(str(tmp_path / "tls"), ["192.168.1.5"])
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    cfg = ServerConfig(home=str(tmp_path), host="0.0.0.0", allow_remote=True, tls_cert=cert, tls_key=key)
    assert cfg.validate().url.startswith("https://")
    ServerConfig(home=str(tmp_path), host="127.0.0.2").validate()  # any loopback address is fine


def test_tls_and_header_timeout(tls_server, home):
    port, _url, cert = tls_server
    ctx = ssl.create_default_context(cafile=cert)
    tok = (home / "token").read_text().strip()
    req = urllib.request.Request(f"https://127.0.0.1:{port}/jobs", headers={"Authorization": f"Bearer {tok}"})
    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
        assert r.status == 200 and json.loads(r.read()) == []
    # half-open connections: a partial request head, and nothing at all
    conns = []
    for partial in (b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n", b""):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        if partial:
            s.sendall(partial)
        conns.append(s)
    t0 = time.monotonic()
    for s in conns:
        try:
            assert s.recv(100) == b""  # closed by the server
        except (ConnectionResetError, ssl.SSLError):
            pass
        s.close()
    assert time.monotonic() - t0 < 3


def test_made_certificate_is_for_tls_servers(tmp_path):
    """macOS refuses a server certificate without the serverAuth usage."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from vedit.server.tls import make_cert
    cert, _key = make_cert(str(tmp_path))
    c = x509.load_pem_x509_certificate(open(cert, "rb").read())
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in list(eku)
