#!/usr/bin/env bash
# One-command set-up: installs vedit with everything the main job and the tests
# need (CPU torch from this machine's disk, MediaPipe 0.10.14 person models,
# diffusers, the job server, OpenTimelineIO, bpy for the Blender adapter test),
# then runs the main job on the bundled sample media.
set -euo pipefail
cd "$(dirname "$0")"
# the distribution is vedit-toolkit; drop a checkout installed under its old name "vedit"
# (or PyPI's unrelated "vedit"), which would shadow the `vedit` command
if python -m pip show -q vedit >/dev/null 2>&1; then python -m pip uninstall -y -q vedit; fi
python -m pip install -q -e ".[all]"
# the SAM 2 video predictor engine's package (sdist only): built against the torch
# installed above, without its optional CUDA extension (the engine runs without it)
python -m pip install -q setuptools wheel
SAM2_BUILD_CUDA=0 python -m pip install -q --no-build-isolation "sam2==1.1.0" "hydra-core>=1.3.2" "iopath>=0.1.10"
# ComfyUI's own requirements (less torch*, already installed) for the real-ComfyUI
# adapter test, when the ComfyUI source is beside the checkout (skipped otherwise)
COMFY=../shared/hosts/comfyui-0.3.64.tar.gz
if [ -f "$COMFY" ]; then
  tar -xzOf "$COMFY" ComfyUI/requirements.txt | grep -vE '^(torch|torchvision|torchaudio)$' > /tmp/vedit_comfyui_req.txt
  python -m pip install -q -r /tmp/vedit_comfyui_req.txt requests
fi
# the linter and type checker .ci/run runs (pinned: a new release must not break CI by itself)
python -m pip install -q "ruff==0.17.6" "mypy==2.4.1"
# Debian Chromium for the Premiere panel test (skipped with a reason if absent)
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
    || echo "note: chromium not installed; the Premiere panel test will be skipped"
fi
mkdir -p out
vedit remove sample_media/pan.mp4 --mask sample_media/pan_mask -o out/pan_removed.mp4 --overwrite
vedit probe out/pan_removed.mp4
# the compiled Y'CbCr conversion long clips use, compiled now rather than on the first one
python -m vedit.io.ycc_jit
