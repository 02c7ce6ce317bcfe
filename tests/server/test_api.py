"""The HTTP API in-process (TestClient): DESIGN §5 routes, security, error shape, events."""
import os
import stat

import pytest
from starlette.websockets import WebSocketDisconnect

from vedit.io import open_clip

SHAPE = {"ok", "error", "type", "status"}
HOST = {"Host": "127.0.0.1:8765"}  # the TestClient's websocket always says "testserver"


def assert_error(r, status, type_=None):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == SHAPE and body["ok"] is False and body["status"] == status, body
    if type_:
        assert body["type"] == type_, body
    return body


def test_health_engines_and_token_file(client, home):
    c, auth, _ = client
    assert c.get("/health").json() == {"ok": True, "version": __import__("vedit").__version__}
    tok = home / "token"
    assert stat.S_IMODE(os.stat(tok).st_mode) == 0o600
    assert len(tok.read_text().strip()) >= 32
    eng = c.get("/engines", headers=auth).json()
    assert {"propagate", "diffusion"} <= {e["name"] for e in eng["engines"]}
    assert c.get("/openapi.json").json()["paths"]["/jobs"]["post"]


def test_submit_progress_done(client, clip_dir, h):
    c, auth, _ = client
    root, seq, mask, frames = clip_dir
    r = c.post("/jobs", headers=auth, json=h.spec(seq, root / "out.mp4", delay=0.02, mask=str(mask)))
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.headers["location"] == f"/jobs/{job_id}"
    progress = []
    while True:
        j = c.get(f"/jobs/{job_id}", headers=auth).json()
        assert {"id", "status", "progress", "stage", "output", "error"} <= set(j)
        progress.append(j["progress"])
        if j["status"] in ("done", "failed", "cancelled"):
            break
    assert j["status"] == "done", j
    assert any(0 < p < 1 for p in progress), progress
    assert len(open_clip(j["output"]).read_all()) == len(frames)
    assert [x["id"] for x in c.get("/jobs", headers=auth).json()] == [job_id]
    assert c.get("/jobs?status=done", headers=auth).json()[0]["id"] == job_id
    assert c.get("/jobs?status=queued", headers=auth).json() == []


def test_cancel_over_http(client, clip_dir, h):
    c, auth, _ = client
    root, seq, _, _ = clip_dir
    job_id = c.post("/jobs", headers=auth, json=h.spec(seq, root / "out.mp4", delay=0.2)).json()["id"]
    h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), job_id, ("running",))
    assert c.post(f"/jobs/{job_id}/cancel", headers=auth).status_code == 200
    j = h.wait_status(lambda i: c.get(f"/jobs/{i}", headers=auth).json(), job_id)
    assert j["status"] == "cancelled"
    assert not (root / "out.mp4").exists() and h.leftovers(root) == []
    assert c.post(f"/jobs/{job_id}/cancel", headers=auth).json()["status"] == "cancelled"
    assert_error(c.post("/jobs/nope/cancel", headers=auth), 404)


def test_websocket_events(client, clip_dir, h):
    c, auth, _ = client
    root, seq, _, _ = clip_dir
    job_id = c.post("/jobs", headers=auth, json=h.spec(seq, root / "ws.mp4", delay=0.02)).json()["id"]
    tok = auth["Authorization"].split()[1]
    msgs = []
    with c.websocket_connect(f"/jobs/{job_id}/events?token={tok}", headers=HOST) as ws:
        while True:
            m = ws.receive_json()
            msgs.append(m)
            if m["event"] == "final":
                break
    assert msgs[-1]["status"] == "done" and msgs[-1]["progress"] == 1.0
    fracs = [m["progress"] for m in msgs if m["status"] == "running"]
    assert len(fracs) >= 3 and fracs == sorted(fracs) and max(fracs) < 1
    # cancel through the socket, with the header instead of ?token=
    job_id = c.post("/jobs", headers=auth, json=h.spec(seq, root / "ws2.mp4", delay=0.2)).json()["id"]
    with c.websocket_connect(f"/jobs/{job_id}/events", headers={**auth, **HOST}) as ws:
        ws.send_text("cancel")
        while (m := ws.receive_json())["event"] != "final":
            pass
    assert m["status"] == "cancelled" and not (root / "ws2.mp4").exists()


def test_websocket_refusals(client):
    c, auth, _ = client
    with pytest.raises(WebSocketDisconnect) as ei:
        with c.websocket_connect("/jobs/x/events", headers=HOST) as ws:
            ws.receive_json()
    assert ei.value.code == 4401
    with pytest.raises(WebSocketDisconnect) as ei:
        with c.websocket_connect("/jobs/x/events", headers={**auth, **HOST, "Origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert ei.value.code == 4403
    with pytest.raises(WebSocketDisconnect) as ei:
        with c.websocket_connect("/jobs/x/events", headers=auth) as ws:  # Host: testserver
            ws.receive_json()
    assert ei.value.code == 4403
    with c.websocket_connect("/jobs/unknown/events", headers={**auth, **HOST}) as ws:
        assert ws.receive_json()["status"] == 404


def test_auth_host_origin(make_client, clip_dir, h):
    c, auth, _ = make_client(origins=["http://localhost:3000"])
    assert_error(c.get("/jobs"), 401, "Unauthorized")
    assert_error(c.get("/jobs", headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(c.get("/jobs", headers={"Authorization": "Basic abc"}), 401)
    assert_error(c.get("/jobs", headers={**auth, "Host": "evil.example"}), 403, "ForbiddenHost")
    assert_error(c.get("/jobs", headers={**auth, "Host": "evil.example:8765"}), 403)
    assert_error(c.get("/health", headers={"Host": "127.0.0.1.evil.example"}), 403)
    assert_error(c.get("/jobs", headers={**auth, "Origin": "http://evil.example"}), 403, "ForbiddenOrigin")
    assert_error(c.get("/jobs", headers={**auth, "Origin": "null"}), 403)
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
        assert c.get("/jobs", headers={**auth, "Host": host}).status_code == 200
    # the configured panel origin gets CORS, preflight included
    r = c.get("/jobs", headers={**auth, "Origin": "http://localhost:3000"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:3000"
    r = c.options("/jobs", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 204 and "Authorization" in r.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in c.get("/jobs", headers=auth).headers


def test_bad_requests(client, clip_dir, h, tmp_path):
    c, auth, _ = client
    root, seq, mask, _ = clip_dir
    js = {**auth, "Content-Type": "application/json"}
    assert_error(c.post("/jobs", headers=js, content=b"{not json"), 422, "InvalidJSON")
    assert_error(c.post("/jobs", headers=auth, json={"op": "explode", "input": str(seq), "output": "x.mp4"}), 422)
    assert_error(c.post("/jobs", headers=auth, json={"op": h.OP, "output": str(root / "x.mp4")}), 422)
    assert_error(c.post("/jobs", headers=auth, json={**h.spec(seq, root / "x.mp4"), "range": {"start": 4, "end": 2}}), 422)
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, root / "x.mp4", delay="x")), 422)
    assert_error(c.post("/jobs", headers=auth, json=h.spec(root / "nope", root / "x.mp4")), 422)
    assert_error(c.post("/jobs", headers=auth, json={**h.spec(seq, "x.mp4"), "input": "clips/shot"}), 422)
    # output path rules: 400
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, tmp_path / "x.mp4")), 400, "PathNotAllowedError")
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, str(root) + "/sub/../x.mp4")), 400)
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, mask, mask=str(mask))), 400)
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, str(seq) + "/")), 400)
    # size limit, unknown routes and methods keep the shape
    assert_error(c.post("/jobs", headers=js, content=b" " * 70000), 413, "PayloadTooLarge")
    assert_error(c.get("/nothing", headers=auth), 404)
    assert_error(c.delete("/jobs", headers=auth), 405)
    assert c.get("/jobs", headers=auth).json() == []


def test_allowed_roots_and_queue_limit(make_client, clip_dir, h, tmp_path):
    out = tmp_path / "renders"
    out.mkdir()
    root, seq, _, _ = clip_dir
    c, auth, app = make_client(allowed_roots=[str(out)], read_roots=[str(root)], max_queue=1)
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, root / "x.mp4")), 400)
    app.state.runner.stop()  # keep jobs queued
    assert c.post("/jobs", headers=auth, json=h.spec(seq, out / "a.mp4")).status_code == 202
    assert_error(c.post("/jobs", headers=auth, json=h.spec(seq, out / "b.mp4")), 429, "QueueFullError")
