"""The vedit nodes inside a real ComfyUI (v0.3.64 from ../shared/hosts/):
the server is started on loopback with the nodes linked into custom_nodes/,
workflows are posted to /prompt like the ComfyUI frontend does, and the images
SaveImage wrote are checked, as is the error a wrong mask gives.

Skipped with a reason where ../shared/hosts is absent (a fresh clone) or
ComfyUI's own requirements are not installed (setup.sh installs them)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARBALL = ROOT.parent / "shared" / "hosts" / "comfyui-0.3.64.tar.gz"
N, H, W = 4, 64, 96


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _frames() -> list[np.ndarray]:
    """A textured pan (BGR) with a white 12x12 square fixed in the frame (a logo)."""
    rng = np.random.default_rng(5)
    world = cv2.resize((rng.random((H // 4, (W + 4 * N) // 4, 3)) * 200 + 20).astype(np.uint8), (W + 4 * N, H),
                       interpolation=cv2.INTER_CUBIC)
    out = []
    for i in range(N):
        f = np.ascontiguousarray(world[:, 3 * i: 3 * i + W])
        f[26:38, 42:54] = 255
        out.append(f)
    return out


def _mask() -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[24:40, 40:56] = 255
    return m


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    if not TARBALL.is_file():
        pytest.skip(f"ComfyUI source not found at {TARBALL} (../shared/hosts is not part of a fresh clone)")
    missing = [m for m in ("aiohttp", "comfyui_frontend_package", "alembic", "torchsde", "einops", "spandrel")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"ComfyUI's requirements are not installed ({', '.join(missing)}); setup.sh installs them")
    base = tmp_path_factory.mktemp("comfyui")
    with tarfile.open(TARBALL) as t:
        t.extractall(base, filter="data")
    app = base / "ComfyUI"
    (app / "custom_nodes" / "vedit").symlink_to(ROOT / "plugins" / "comfyui", target_is_directory=True)
    inp, out = base / "input", base / "output"
    inp.mkdir()
    out.mkdir()
    for i, f in enumerate(_frames()):
        cv2.imwrite(str(inp / f"f{i}.png"), f)
    cv2.imwrite(str(inp / "mask.png"), _mask())
    matte = np.zeros((H, W), np.uint8)
    matte[10:54, 20:76] = 255
    cv2.imwrite(str(inp / "matte.png"), matte)
    port = _free_port()
    log = open(base / "comfyui.log", "wb")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                             "--disable-auto-launch", "--input-directory", str(inp), "--output-directory", str(out),
                             "--database-url", "sqlite:///:memory:"],
                            cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ComfyUI did not start:\n{(base / 'comfyui.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/object_info/VeditRemove", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        yield url, out, base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_prompt(url: str, graph: dict, timeout: float = 120) -> dict:
    """POST the API-format workflow to /prompt and wait for its /history entry."""
    body = json.dumps({"prompt": graph, "client_id": "vedit-test"}).encode()
    req = urllib.request.Request(url + "/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            pid = json.loads(r.read())["prompt_id"]
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"/prompt refused the workflow: {exc.read().decode()[:2000]}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/history/{pid}", timeout=10) as r:
            hist = json.loads(r.read())
        if pid in hist and hist[pid].get("status", {}).get("completed") is not None:
            entry = hist[pid]
            if entry["status"].get("status_str") in ("success", "error"):
                return entry
        time.sleep(0.3)
    raise AssertionError(f"workflow not finished after {timeout}s")


def frames_batch(first_id: int = 10) -> tuple[dict, list]:
    """LoadImage nodes for the N frames joined by Batch Images: (nodes, link to the batch)."""
    g: dict = {}
    for i in range(N):
        g[str(first_id + i)] = {"class_type": "LoadImage", "inputs": {"image": f"f{i}.png"}}
    link = [str(first_id), 0]
    for i in range(1, N):
        nid = str(first_id + N + i)
        g[nid] = {"class_type": "ImageBatch", "inputs": {"image1": link, "image2": [str(first_id + i), 0]}}
        link = [nid, 0]
    return g, link


def saved(entry: dict, out: Path, node: str) -> list[np.ndarray]:
    imgs = entry["outputs"][node]["images"]
    return [cv2.imread(str(out / im["subfolder"] / im["filename"]), cv2.IMREAD_UNCHANGED) for im in imgs]


def test_four_workflows_and_a_bad_mask(comfy):
    url, out, base = comfy
    src = _frames()
    g, batch = frames_batch()
    mask = {"class_type": "LoadImageMask", "inputs": {"image": "mask.png", "channel": "red"}}

    # remove: the square is filled from the pan; far pixels come back exactly
    rm = dict(g, **{"1": mask,
                    "2": {"class_type": "VeditRemove", "inputs": {"images": batch, "masks": ["1", 0],
                                                                  "engine": "propagate", "dilate": 3}},
                    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "rm"}}})
    entry = run_prompt(url, rm)
    assert entry["status"]["status_str"] == "success", entry["status"]
    res = saved(entry, out, "3")
    assert len(res) == N and res[0].shape == (H, W, 3)
    far = np.ones((H, W), bool)
    far[14:50, 30:66] = False
    for r, s in zip(res, src):
        assert r[28:36, 44:52].mean() < 200  # the white square is gone
        # SaveImage truncates 255 * value to uint8: a loaded 8-bit value may come back 1 lower
        assert np.abs(r[far].astype(int) - s[far]).max() <= 1

    # replace-bg: a matte from a mask file, a red plate outside it
    bg = dict(g, **{"1": {"class_type": "LoadImageMask", "inputs": {"image": "matte.png", "channel": "red"}},
                    "2": {"class_type": "VeditReplaceBackground",
                          "inputs": {"images": batch, "color": "#ff0000", "matte": ["1", 0], "light_wrap": 0.0}},
                    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "bg"}}})
    entry = run_prompt(url, bg)
    assert entry["status"]["status_str"] == "success", entry["status"]
    res = saved(entry, out, "3")
    assert len(res) == N
    for r, s in zip(res, src):
        border = r[:6].reshape(-1, 3).mean(0)  # BGR
        assert border[2] > 230 and border[1] < 25 and border[0] < 25
        assert np.abs(r[14:50, 24:72].astype(int) - s[14:50, 24:72]).max() <= 1  # the kept subject, untouched

    # matte: the square tracked from a keyframe mask; its confidence shown by Preview Any
    mt = dict(g, **{"1": mask,
                    "2": {"class_type": "VeditMatte", "inputs": {"images": batch, "source": "track", "frame": 0,
                                                                 "keyframe_mask": ["1", 0]}},
                    "3": {"class_type": "MaskToImage", "inputs": {"mask": ["2", 0]}},
                    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "mt"}},
                    "5": {"class_type": "PreviewAny", "inputs": {"source": ["2", 2]}}})
    entry = run_prompt(url, mt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    res = saved(entry, out, "4")
    assert len(res) == N
    for r in res:
        grey = r if r.ndim == 2 else r[..., 0]
        assert grey[28:36, 44:52].mean() > 200 and grey[:, :20].mean() < 20
    conf = json.loads(entry["outputs"]["5"]["text"][0])
    assert len(conf) == N and all(0.0 <= c <= 1.0 for c in conf)

    # animate: a still becomes frames with a camera move
    an = {"1": {"class_type": "LoadImage", "inputs": {"image": "f0.png"}},
          "2": {"class_type": "VeditAnimate", "inputs": {"image": ["1", 0], "engine": "parallax", "duration": 0.5,
                                                         "fps": 8.0, "camera": "pan-left", "loop": False}},
          "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "an"}}}
    entry = run_prompt(url, an)
    assert entry["status"]["status_str"] == "success", entry["status"]
    res = saved(entry, out, "3")
    assert len(res) == 4 and res[0].shape == (H, W, 3)
    assert np.abs(res[0].astype(int) - src[0]).mean() < 2  # frame 0 is the still
    assert np.abs(res[-1].astype(int) - res[0]).mean() > 1  # the camera moved

    # the usual mistake: Load Image's MASK of an opaque PNG (an empty 64x64 mask)
    bad = dict(g, **{"2": {"class_type": "VeditRemove", "inputs": {"images": batch, "masks": ["10", 1],
                                                                   "engine": "propagate", "dilate": 3}},
                     "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "bad"}}})
    entry = run_prompt(url, bad)
    assert entry["status"]["status_str"] == "error"
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors and errors[0]["node_type"] == "VeditRemove"
    msg = errors[0]["exception_message"]
    assert "mask size 64x64 differs from the images' 96x64" in msg and "Load Image (as Mask)" in msg


def test_widgets_the_server_serves_come_from_the_op_definitions(comfy):
    """What the ComfyUI frontend builds its widgets from (GET /object_info):
    the defaults and choices of the op definitions, the CLI's dilate default
    included; Vedit Matte lists its confidence outputs."""
    from vedit.ops import get_def

    url, _, _ = comfy
    with urllib.request.urlopen(url + "/object_info", timeout=30) as r:
        info = json.loads(r.read())
    remove = info["VeditRemove"]["input"]["required"]
    d = get_def("remove")
    assert remove["dilate"][1]["default"] == d["dilate"].default == 3
    assert remove["engine"][0] == [str(c) for c in d["engine"].choice_values()]
    assert remove["engine"][1]["default"] == d["engine"].default
    animate = info["VeditAnimate"]["input"]["required"]
    a = get_def("animate")
    assert animate["camera"][0] == [str(c) for c in a["camera"].choice_values()]
    assert animate["camera"][1]["default"] == a["camera"].default
    wrap = info["VeditReplaceBackground"]["input"]["optional"]["light_wrap"][1]
    assert wrap["default"] == get_def("replace-bg")["light_wrap"].default
    matte = info["VeditMatte"]
    assert matte["output"] == ["MASK", "FLOAT", "STRING"]
    assert matte["output_name"][1:] == ["min_confidence", "confidence"]
