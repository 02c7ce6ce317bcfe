"""Fixtures for the job tests (and the job server's, which import them): a
tiny PNG sequence with a square mask and a test op registered through the
documented hook (vedit.jobs.register_op), with helpers passed as a fixture
(``h``)."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.errors import InvalidInputError

OP = "test-invert"


def invert_op(input, output, *, start=None, end=None, callback=None, delay=0.0, fail=False, **_):
    """A real op: inverts every frame, reports progress per frame, writes atomically."""
    from vedit.io import open_clip, open_writer

    clip = open_clip(input, start=start, end=end)
    n = clip.frame_count
    with open_writer(output, clip.fps, clip.size, like=clip) as w:
        for i, f in enumerate(clip.frames()):
            if fail and i == n // 2:
                raise InvalidInputError("params.fail: asked to fail half way")
            w.write(255 - f)
            if callback:
                callback(i + 1, n, "invert")
            if delay:
                time.sleep(delay)
    return w.path


@pytest.fixture(autouse=True)
def test_op():
    from vedit.jobs import register_op, unregister_op

    register_op(OP, invert_op, params={"delay": "float", "fail": "bool", "mask": "path"})
    yield OP
    unregister_op(OP)


def make_frames(n=12, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (h // 4, w // 4, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


@pytest.fixture
def clip_dir(tmp_path):
    """tmp/clips/shot/00000.png... (12 frames 64x48) and tmp/clips/mask.png (a square)."""
    root = tmp_path / "clips"
    seq = root / "shot"
    seq.mkdir(parents=True)
    frames = make_frames()
    for i, f in enumerate(frames):
        cv2.imwrite(str(seq / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    mask = np.zeros(frames[0].shape[:2], np.uint8)
    mask[16:32, 24:40] = 255
    cv2.imwrite(str(root / "mask.png"), mask)
    return root, seq, root / "mask.png", frames


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(seq: Path, out: Path, **params) -> dict:
    return {"op": OP, "input": str(seq), "output": str(out), "params": params}


def wait_status(get, job_id, statuses=("done", "failed", "cancelled"), timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        j = get(job_id)
        if j["status"] in statuses:
            return j
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck: {j}")
        time.sleep(0.02)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "vedit-" in p.name)


@pytest.fixture
def h():
    """Helpers (conftest modules cannot be imported under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(OP=OP, spec=spec, wait_status=wait_status, leftovers=leftovers,
                           free_port=free_port, make_frames=make_frames, invert_op=invert_op)
