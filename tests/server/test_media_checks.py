"""POST /jobs runs each op's media check (check_inputs) at submit: media that
does not fit is a 422 naming the param, never a 202 and a run-time failure."""
from __future__ import annotations

import cv2
import numpy as np


def test_remove_with_a_wrong_size_mask_is_422(make_client, clip_dir):
    root, seq, mask, frames = clip_dir
    h, w = frames[0].shape[:2]
    wrong = np.zeros((h * 2, w * 2), np.uint8)
    wrong[10:40, 10:40] = 255
    cv2.imwrite(str(root / "big_mask.png"), wrong)
    c, auth, _ = make_client()
    body = {"op": "remove", "input": str(seq), "output": str(root / "o.mp4"), "params": {"mask": str(root / "big_mask.png")}}
    r = c.post("/jobs", json=body, headers=auth)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err.startswith("params.mask: ") and f"is {2 * w}x{2 * h} but the input is {w}x{h}" in err
    assert c.get("/jobs", headers=auth).json() == []  # nothing was queued
    # the right mask for the same shot is accepted
    body["params"]["mask"] = str(mask)
    r = c.post("/jobs", json=body, headers=auth)
    assert r.status_code == 202
    c.post(f"/jobs/{r.json()['id']}/cancel", headers=auth)


def test_replace_bg_with_a_missing_or_unreadable_background_is_422(make_client, clip_dir):
    root, seq, _, _ = clip_dir
    (root / "notes.png").write_text("this is not an image")
    c, auth, _ = make_client()

    def submit(background):
        return c.post("/jobs", headers=auth, json={"op": "replace-bg", "input": str(seq), "output": str(root / "o.mp4"),
                                                   "params": {"background": background}})

    r = submit(str(root / "missing.jpg"))
    assert r.status_code == 422 and r.json()["error"].startswith("params.background = "), r.text
    assert "not found" in r.json()["error"]
    r = submit(str(root / "notes.png"))
    assert r.status_code == 422 and r.json()["error"].startswith("params.background: "), r.text
    assert "cannot be read as an image or video" in r.json()["error"]
    r = submit("transparent")  # an .mp4 cannot keep it
    assert r.status_code == 422 and "params.background transparent needs an output that keeps alpha" in r.text
    assert c.get("/jobs", headers=auth).json() == []
    r = submit("#203040")
    assert r.status_code == 202
    c.post(f"/jobs/{r.json()['id']}/cancel", headers=auth)
