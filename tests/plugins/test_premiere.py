"""Premiere UXP panel: its real HTML/JS in headless Chromium (driven over the
Chrome DevTools Protocol), against a live ``vedit serve``, with the host
module (js/host.js) swapped for a stand-in. Clicks submit, follows progress
over WebSocket, and checks the import call gets the finished file."""
from __future__ import annotations

import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PANEL = HERE.parents[1] / "plugins" / "premiere"
CHROMIUM = os.environ.get("VEDIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def test_manifest_v5():
    m = json.loads((PANEL / "manifest.json").read_text())
    assert m["manifestVersion"] == 5
    assert m["host"]["app"] == "premierepro"
    # the premierepro calls host.js makes (getEndTime, SequenceEditor actions, ...) are documented from 25.6
    assert m["host"]["minVersion"] == "25.6.0"
    doms = m["requiredPermissions"]["network"]["domains"]
    assert "http://127.0.0.1:8765" in doms and "ws://127.0.0.1:8765" in doms
    # macOS Premiere allows only TLS from UXP: https/wss to the local server must be allowed too
    assert "https://127.0.0.1:8765" in doms and "wss://127.0.0.1:8765" in doms
    assert (PANEL / m["main"]).is_file()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        if path.split("?")[0] == "/js/host.js":
            return str(HERE / "premiere_host_standin.js")
        return super().translate_path(path)

    def log_message(self, *a):
        pass


@pytest.fixture
def panel_site():
    handler = functools.partial(_Handler, directory=str(PANEL))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server_origins(panel_site):
    return [panel_site]


class CDP:
    """The few Chrome DevTools Protocol calls the test needs."""

    def __init__(self, ws_url):
        from websockets.sync.client import connect

        self._conn = connect(ws_url, max_size=2**24, open_timeout=20)
        self.ws = self._conn.__enter__()
        self.ids = itertools.count(1)

    def call(self, method, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, selector):
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                        " const r = e.getBoundingClientRect();"
                        " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def close(self):
        self._conn.__exit__(None, None, None)


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM:
        pytest.skip("Chromium not found (install Debian's chromium or set VEDIT_CHROMIUM)")
    profile = tmp_path / "chrome"
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage", "--remote-debugging-port=0",
                             # the TLS test's server has a self-signed certificate (trusting it is the OS's part)
                             "--ignore-certificate-errors", f"--user-data-dir={profile}",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [p for p in json.loads(r.read()) if p["type"] == "page"]
        cdp = CDP(pages[0]["webSocketDebuggerUrl"])
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_panel_submit_progress_import(tmp_path, helpers, panel_site, live_server, browser):
    url, token, _ = live_server
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    matte = np.zeros((48, 64), np.uint8)
    matte[:24] = 255  # keep the top half (the frame-number band), replace the rest
    cv2.imwrite(str(tmp_path / "matte.png"), matte)
    # the selected clip: source in 0.125 s, out 0.625 s at 24 fps -> frames [3, 15)
    selected = {"name": "shot", "path": str(clip), "inSeconds": 3 / 24, "outSeconds": 15 / 24, "fps": 24,
                "startSeconds": 10.0, "trackIndex": 0}
    b = browser
    b.call("Page.enable")
    b.call("Page.addScriptToEvaluateOnNewDocument",
           source=f"window.__veditTest = {json.dumps({'clip': selected, 'token': token})};")
    b.call("Page.navigate", url=panel_site + "/index.html")
    deadline = time.monotonic() + 30
    while b.eval("document.readyState + ':' + (typeof window.veditPanel)") != "complete:object":
        assert time.monotonic() < deadline, "panel did not load"
        time.sleep(0.1)
    # fill the form the way a user does: pick the op (change event shows its fields), type the mask path
    b.eval("(() => { const s = document.getElementById('op'); s.value = 'replace-bg';"
           " s.dispatchEvent(new Event('change')); })()")
    assert b.eval("getComputedStyle(document.getElementById('p-replace-bg-matte').parentElement).display") == "block"
    b.eval("document.getElementById('p-replace-bg-matte').focus()")
    b.call("Input.insertText", text=str(tmp_path / "matte.png"))
    b.eval("document.getElementById('p-replace-bg-background').focus()")
    b.call("Input.insertText", text="#00ff00")
    b.eval(f"document.getElementById('server').value = {json.dumps(url)}")
    b.click("#submit")

    seen = []
    deadline = time.monotonic() + 240
    while True:
        st = b.eval("JSON.stringify({calls: window.__calls, p: document.getElementById('progress').dataset.value,"
                    " status: document.getElementById('status').textContent,"
                    " busy: document.getElementById('submit').disabled})")
        st = json.loads(st)
        if st["p"] is not None:
            seen.append(float(st["p"]))
        if not st["busy"] and any(c[0] == "importAndPlace" for c in st["calls"]) or "ERROR" in st["status"]:
            break
        assert time.monotonic() < deadline, f"panel stuck: {st}"
        time.sleep(0.1)
    assert "ERROR" not in st["status"], st["status"]
    names = [c[0] for c in st["calls"]]
    assert names == ["getSelectedClip", "readToken", "importAndPlace"]
    assert st["calls"][1] == ["readToken", ""]  # no token file set: the host's default file
    _, path, placed_clip = st["calls"][-1]
    assert placed_clip["trackIndex"] == 0 and placed_clip["startSeconds"] == 10.0
    assert os.path.dirname(path) == str(tmp_path) and path.endswith(".mp4")
    assert seen[-1] == 1.0 and len(seen) >= 2
    # the server ran the job on exactly the clip's source range
    req = urllib.request.Request(url + "/jobs", headers={"Authorization": f"Bearer {token}"})
    jobs = json.loads(urllib.request.urlopen(req, timeout=10).read())
    jobs = jobs.get("jobs", jobs) if isinstance(jobs, dict) else jobs
    assert any(j.get("output") == path and j.get("status") == "done" for j in jobs)
    from vedit.io import open_clip

    frames = open_clip(path).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(3, 15))
    bottom = np.stack(frames)[:, 34:, :].reshape(-1, 3).mean(0)
    assert bottom[1] > 200 and bottom[0] < 60 and bottom[2] < 60  # the green plate
    assert "Placed on video track 2" in st["status"]


def _open_panel(b, site, cfg):
    b.call("Page.enable")
    b.call("Page.addScriptToEvaluateOnNewDocument", source=f"window.__veditTest = {json.dumps(cfg)};")
    b.eval("window.__old = true")  # marks the page being left, so the wait below sees the new one
    b.call("Page.navigate", url=site + "/index.html")
    deadline = time.monotonic() + 30
    while b.eval("document.readyState + ':' + (typeof window.veditPanel) + ':' + (window.__old === true)") \
            != "complete:object:false":
        assert time.monotonic() < deadline, "panel did not load"
        time.sleep(0.1)


def _wait_idle(b, timeout=240):
    deadline = time.monotonic() + timeout
    time.sleep(0.2)
    while True:
        st = json.loads(b.eval("JSON.stringify({calls: window.__calls, status: document.getElementById('status')"
                               ".textContent, busy: document.getElementById('submit').disabled})"))
        if not st["busy"]:
            return st
        assert time.monotonic() < deadline, f"panel stuck: {st}"
        time.sleep(0.1)


def test_settings_token_and_speed_changed_clip(tmp_path, helpers, panel_site, live_server, browser):
    """The Settings section: a pasted token is saved (it survives a reload) and
    used instead of the token file; a clip whose speed was changed is refused
    before anything is sent."""
    url, token, _ = live_server
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    normal = {"name": "shot", "path": str(clip), "inSeconds": 3 / 24, "outSeconds": 15 / 24, "fps": 24,
              "startSeconds": 10.0, "endSeconds": 10.0 + 12 / 24, "trackIndex": 0}
    slow = dict(normal, endSeconds=10.0 + 24 / 24)  # 12 source frames over 24 timeline frames: 50 %
    b = browser
    _open_panel(b, panel_site, {"clip": slow, "token": "not-the-token"})
    b.eval(f"document.getElementById('server').value = {json.dumps(url)}")
    b.eval(f"document.getElementById('token').value = {json.dumps(token)}")
    b.eval("document.getElementById('settings').open = true")
    b.click("#saveSettings")
    assert b.eval("document.getElementById('status').textContent") == "Settings saved"
    _open_panel(b, panel_site, {"clip": slow, "token": "not-the-token"})  # a new session of the panel
    assert b.eval("document.getElementById('token').value") == token
    assert b.eval("document.getElementById('server').value") == url

    b.click("#submit")
    st = _wait_idle(b)
    assert "plays at 50%" in st["status"] and "100% speed" in st["status"]
    assert [c[0] for c in st["calls"]] == ["getSelectedClip"]  # nothing sent, nothing imported

    mask = np.zeros((48, 64), np.uint8)
    mask[30:40, 20:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    b.eval(f"window.__veditTest.clip = {json.dumps(normal)}")
    b.eval("(() => { const s = document.getElementById('op'); s.value = 'remove'; s.dispatchEvent(new Event('change'));"
           f" document.getElementById('p-remove-mask').value = {json.dumps(str(tmp_path / 'mask.png'))}; }})()")
    b.click("#submit")
    st = _wait_idle(b)
    assert "ERROR" not in st["status"], st["status"]
    # the pasted token was used: the host's token file (a wrong token here) was never read
    assert [c[0] for c in st["calls"]] == ["getSelectedClip", "getSelectedClip", "importAndPlace"]
    from vedit.io import open_clip

    frames = open_clip(st["calls"][-1][1]).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(3, 15))


@pytest.mark.parametrize("server_tls", [True])
def test_https_server_used_as_given_with_wss_and_a_rotated_token(tmp_path, helpers, panel_site, live_server,
                                                                  browser, server_tls):
    """Over TLS (the server's pair from ``vedit serve --make-cert``): an https://
    address is used as given, "Use HTTPS" upgrades an http:// one, progress comes
    over wss://, and a token file rewritten by a rotation is read again after a 401."""
    url, token, home = live_server
    assert url.startswith("https://")
    clip = helpers.write_numbered_clip(tmp_path / "shot.mp4", n=20, fps=24)
    mask = np.zeros((48, 64), np.uint8)
    mask[30:40, 20:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    selected = {"name": "shot", "path": str(clip), "inSeconds": 3 / 24, "outSeconds": 15 / 24, "fps": 24,
                "startSeconds": 10.0, "endSeconds": 10.0 + 12 / 24, "trackIndex": 0}
    b = browser
    b.call("Page.enable")
    b.call("Page.addScriptToEvaluateOnNewDocument", source=(
        "window.__sockets = []; const W = window.WebSocket;"
        " window.WebSocket = function (u, p) { const w = new W(u, p);"
        " const rec = {url: u, messages: 0}; window.__sockets.push(rec);"
        " w.addEventListener('message', () => { rec.messages += 1; }); return w; };"))
    stale = "s" * 64  # what the token file held before the server rotated it
    _open_panel(b, panel_site, {"clip": selected, "token": token, "tokens": [stale]})
    port = url.rsplit(":", 1)[1]
    b.eval(f"document.getElementById('server').value = {json.dumps(url)}")
    assert b.eval("document.getElementById('https').checked") is False
    assert b.eval("veditPanel.serverUrl()") == url  # as given, not downgraded
    assert b.eval("veditPanel.socketUrl('/x')") == f"wss://127.0.0.1:{port}/x"
    b.eval(f"document.getElementById('server').value = 'http://127.0.0.1:{port}'")
    b.eval("document.getElementById('https').checked = true")
    assert b.eval("veditPanel.serverUrl()") == url  # the option upgrades http:// to https://
    b.eval("document.getElementById('settings').open = true")
    b.click("#saveSettings")
    assert b.eval("document.getElementById('status').textContent") == "Settings saved"
    _open_panel(b, panel_site, {"clip": selected, "token": token, "tokens": [stale]})  # saved across sessions
    assert b.eval("document.getElementById('https').checked") is True
    assert b.eval("veditPanel.serverUrl()") == url

    b.eval("(() => { const s = document.getElementById('op'); s.value = 'remove'; s.dispatchEvent(new Event('change'));"
           f" document.getElementById('p-remove-mask').value = {json.dumps(str(tmp_path / 'mask.png'))}; }})()")
    b.click("#submit")
    st = _wait_idle(b)
    assert "ERROR" not in st["status"], st["status"]
    # the stale token got a 401, the file was read again and the job went through
    assert [c[0] for c in st["calls"]] == ["getSelectedClip", "readToken", "readToken", "importAndPlace"]
    sockets = json.loads(b.eval("JSON.stringify(window.__sockets)"))
    assert sockets and all(s["url"].startswith(f"wss://127.0.0.1:{port}/jobs/") for s in sockets)
    assert sum(s["messages"] for s in sockets) > 0  # progress came over wss
    from vedit.io import open_clip

    frames = open_clip(st["calls"][-1][1]).read_all()
    assert [helpers.frame_number(f) for f in frames] == list(range(3, 15))


def test_panel_fields_come_from_the_op_definitions(panel_site, browser):
    """Every param of remove, replace-bg and matte has a field built from
    js/ops_schema.js with the definition's default, choices and range; an
    untouched form sends nothing but what is required; engine-specific
    params show only with their engine."""
    from vedit.ops import get_def

    b = browser
    _open_panel(b, panel_site, {"clip": {}, "token": "x"})
    assert b.eval("Array.from(document.getElementById('op').options).map(o => o.value)") == \
        ["remove", "replace-bg", "matte"]
    dump = b.eval("Array.from(document.querySelectorAll('#fields [id][data-param]')).map(e => ({op: e.dataset.op,"
                  " param: e.dataset.param, tag: e.tagName, type: e.type, value: e.value, checked: e.checked,"
                  " options: e.tagName === 'SELECT' ? Array.from(e.options).map(o => o.value) : null,"
                  " min: e.min, max: e.max}))")
    hidden = {"overwrite", "preview_style", "draft", "draft_size"}
    for op in ("remove", "replace-bg", "matte"):
        d = get_def(op)
        mine = {f["param"]: f for f in dump if f["op"] == op}
        assert set(mine) == {p.name for p in d.params if p.name not in hidden and p.type != "path_out"}, op
        for name, f in mine.items():
            p = d[name]
            choices = p.choice_values()
            if choices is not None and not p.repeat:
                assert f["tag"] == "SELECT" and [o for o in f["options"] if o] == [str(c) for c in choices], name
                assert f["value"] == ("" if p.default is None else str(p.default)), name
            elif p.type == "bool" and p.default is not None:
                assert f["type"] == "checkbox" and f["checked"] is p.default, (op, name)
            elif p.type == "bool":
                assert f["options"] == ["", "on", "off"] and f["value"] == "", name
            elif p.type in ("int", "float") and p.default is not None and not p.repeat:
                assert f["type"] == "number" and float(f["value"]) == p.default, (op, name)
                if p.min is not None:
                    assert float(f["min"]) == p.min, (op, name)
            else:
                assert f["type"] == "text" and f["value"] == "", (op, name)

    def read(op):
        return b.eval(f"(() => {{ const s = document.getElementById('op'); s.value = {json.dumps(op)};"
                      " s.dispatchEvent(new Event('change'));"
                      " try { return veditPanel.readOptions(); } catch (e) { return 'ERROR ' + e.message; } })()")

    assert read("remove").startswith("ERROR remove needs mask:")
    assert read("matte") == {"op": "matte", "params": {"person": True}}
    assert read("replace-bg") == {"op": "replace-bg", "params": {}}
    b.eval("document.getElementById('p-remove-mask').value = '/shots/m.png';"
           " document.getElementById('p-remove-dilate').value = '6';"
           " document.getElementById('p-remove-fps').value = '12.5';"
           " document.getElementById('p-remove-steps').value = '30'")
    # steps applies to the diffusion engine only: hidden and not sent with the default engine
    assert read("remove") == {"op": "remove", "params": {"mask": "/shots/m.png", "dilate": 6, "fps": 12.5}}
    shown = "getComputedStyle(document.getElementById('p-remove-steps').parentElement).display"
    assert b.eval(shown) == "none"
    b.eval("(() => { const e = document.getElementById('p-remove-engine'); e.value = 'diffusion';"
           " e.dispatchEvent(new Event('change')); })()")
    assert b.eval(shown) == "block"
    assert read("remove")["params"] == {"mask": "/shots/m.png", "engine": "diffusion", "dilate": 6, "fps": 12.5,
                                        "steps": 30}
    b.eval("document.getElementById('p-matte-mask').value = '/k/a.png; /k/b.png';"
           " document.getElementById('p-matte-frame').value = '0;20';"
           " document.getElementById('p-matte-smooth').checked = false;"
           " document.getElementById('p-matte-bit_depth').value = '16'")
    assert read("matte")["params"] == {"mask": ["/k/a.png", "/k/b.png"], "frame": [0, 20], "smooth": False,
                                       "bit_depth": 16}


NODE = shutil.which("node")


def _place(tracks, insert_adds_track=True, existing=()):
    """host.js's importAndPlace under Node with a fake premierepro module
    (tests/plugins/premiere_host_fake.js): the clip sits on V1 at 10.0-10.5 s."""
    if not NODE:
        pytest.skip("Node.js not found")
    clip = {"name": "shot", "path": "/media/shot.mp4", "inSeconds": 0.125, "outSeconds": 0.625, "fps": 24,
            "startSeconds": 10.0, "endSeconds": 10.5, "trackIndex": 0}
    sc = {"tracks": tracks, "clip": clip, "path": "/media/shot_remove_3-15.mp4", "insertAddsTrack": insert_adds_track,
          "existing": list(existing)}
    out = subprocess.run([NODE, str(HERE / "premiere_host_fake.js"), str(PANEL / "js" / "host.js"), json.dumps(sc)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_result_goes_on_the_first_free_track_above():
    # V2 is busy over the clip's time, V3 holds a clip elsewhere only: V3 it is
    r = _place([[[10.0, 10.5]], [[9.0, 10.2]], [[20.0, 21.0]]])
    assert r["result"] == {"trackIndex": 2}
    assert [(a["kind"], a["v"], a["t"], a["path"]) for a in r["actions"]] == \
        [("overwrite", 2, 10.0, "/media/shot_remove_3-15.mp4")]
    # a clip that ends where ours starts does not count as in the way
    r = _place([[[10.0, 10.5]], [[9.0, 10.0], [10.5, 12.0]]])
    assert r["result"] == {"trackIndex": 1} and r["actions"][0]["kind"] == "overwrite"


def test_no_free_track_adds_one_or_says_so():
    r = _place([[[10.0, 10.5]], [[9.0, 10.2]]])
    assert r["result"] == {"trackIndex": 2} and len(r["tracks"]) == 3
    (a,) = r["actions"]
    assert a["kind"] == "insert" and a["v"] == 2 and a["limitShift"] is True and a["t"] == 10.0
    # only the clip on the new track: nothing else moved
    assert r["tracks"][:2] == [[{"s": 10.0, "e": 10.5}], [{"s": 9.0, "e": 10.2}]]
    r = _place([[[10.0, 10.5]]], insert_adds_track=False)
    assert r["error"].startswith("no free video track above V1 at the clip's time, and Premiere did not add one")
    assert "/media/shot_remove_3-15.mp4" in r["error"]


def test_the_item_this_import_made_is_placed():
    """Premiere's importFiles answers only true/false: the item placed is the
    one that import added (here in a sub-bin), not an earlier import of the
    same file sitting in the root bin."""
    r = _place([[[10.0, 10.5]]], existing=["/media/shot_remove_3-15.mp4"])
    (a,) = r["actions"]
    assert a["id"] == "new" and a["path"] == "/media/shot_remove_3-15.mp4"
