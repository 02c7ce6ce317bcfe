#!/usr/bin/env python3
"""Regenerate the bundled sample media from photos that ship inside the
scikit-image wheel (no downloads): a hand-held style pan across a photo with a
moving foreign object (and its per-frame masks), a pan past a static logo
(one mask image), and a still for ``vedit animate``. Audio is a synthetic tone.

    python sample_media/make_samples.py
"""
from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
W, H, N, FPS = 320, 180, 48, 24


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    return np.ascontiguousarray(img[:, :, :3])


def camera_path(i: int) -> tuple[float, float, float]:
    """Pan with a little hand-held wobble and a slow zoom."""
    t = i / (N - 1)
    return 40 + 150 * t + 3 * np.sin(i * 0.7), 60 + 10 * np.sin(i * 0.3), 1.0 + 0.08 * t


def render(world: np.ndarray, i: int) -> np.ndarray:
    cx, cy, z = camera_path(i)
    M = np.array([[z, 0, -cx * z], [0, z, -cy * z]], np.float64)
    return cv2.warpAffine(world, M, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def ffmpeg() -> str:
    sys.path.insert(0, os.path.dirname(HERE))
    from vedit.io import ffmpeg_exe

    return ffmpeg_exe()


def encode(frames, path, audio_hz: float | None = None):
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", str(FPS), "-i", "-"]
    if audio_hz:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency={audio_hz}:sample_rate=48000:duration={N / FPS}",
                "-c:a", "aac", "-b:a", "64k"]
    cmd += ["-c:v", "libx264", "-crf", "20", "-preset", "slow", "-pix_fmt", "yuv420p", "-shortest", path]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(np.ascontiguousarray(f).tobytes())
    p.stdin.close()
    if p.wait():
        raise SystemExit(f"ffmpeg failed for {path}")


def main():
    world = cv2.resize(photo("coffee"), (640, 420), interpolation=cv2.INTER_AREA)
    coins = photo("coins")
    obj = cv2.resize(coins[60:200, 100:240], (46, 46))
    rng = np.random.default_rng(7)
    frames, masks = [], []
    for i in range(N):
        f = render(world, i)
        # a foreign object drifting across the frame (what `vedit remove` takes out)
        x, y = int(60 + 3.2 * i), int(70 + 25 * np.sin(i / 8.0))
        m = np.zeros((H, W), np.uint8)
        cv2.circle(m, (x + 23, y + 23), 22, 255, -1)
        sel = m > 0
        f[y:y + 46, x:x + 46][sel[y:y + 46, x:x + 46]] = obj[sel[y:y + 46, x:x + 46]]
        frames.append(f)
        masks.append(m)
    del rng
    encode(frames, os.path.join(HERE, "pan.mp4"), audio_hz=440)
    mdir = os.path.join(HERE, "pan_mask")
    os.makedirs(mdir, exist_ok=True)
    for i, m in enumerate(masks):
        cv2.imwrite(os.path.join(mdir, f"{i:05d}.png"), m, [cv2.IMWRITE_PNG_BILEVEL, 1])

    # a static logo burnt into a panning shot: the camera reveals what is behind it
    logo = np.zeros((H, W), np.uint8)
    cv2.putText(logo, "LOGO", (218, 42), cv2.FONT_HERSHEY_DUPLEX, 1.1, 255, 3, cv2.LINE_AA)
    lm = cv2.dilate((logo > 0).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    world2 = cv2.resize(photo("rocket"), (640, 420), interpolation=cv2.INTER_AREA)
    lf = []
    for i in range(N):
        f = render(world2, i)
        a = (logo.astype(np.float32) / 255.0)[:, :, None]
        lf.append((f * (1 - a) + np.array([255, 255, 255]) * a).astype(np.uint8))
    encode(lf, os.path.join(HERE, "logo.mp4"))
    cv2.imwrite(os.path.join(HERE, "logo_mask.png"), lm)

    still = cv2.resize(photo("astronaut"), (384, 384), interpolation=cv2.INTER_AREA)
    cv2.imwrite(os.path.join(HERE, "still.jpg"), cv2.cvtColor(still, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    print("sample media written to", HERE)


if __name__ == "__main__":
    main()
