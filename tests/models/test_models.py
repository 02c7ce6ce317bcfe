"""Model discovery, config defaults, device choice and offline loading."""
from __future__ import annotations

import shutil
import socket

import numpy as np
import pytest
from click.testing import CliRunner

from vedit.errors import InvalidInputError, MissingWeightsError
from vedit.models import find_models, load_inpaint_pipeline, resolve_device, resolve_model


def test_inspect_and_discover_via_env(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("VEDIT_MODEL_DIR", str(tiny_model_dir.parent))
    found = {m.path: m for m in find_models()}
    info = found[str(tiny_model_dir)]
    assert info.family == "sd" and info.inpainting and info.native_size == 64
    assert info.pipeline == "StableDiffusionInpaintPipeline"
    # with nothing else configured, the default model is the one found
    assert resolve_model(None).path == str(tiny_model_dir)
    # and a model-dir entry can be named
    assert resolve_model(tiny_model_dir.name).path == str(tiny_model_dir)


def test_config_file_default(tiny_model_dir, isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").write_text(f'[diffusion]\nmodel = "{tiny_model_dir}"\n')
    assert resolve_model(None).path == str(tiny_model_dir)


def test_hf_cache_id_resolves_offline(tiny_model_dir, tmp_path, monkeypatch):
    repo = tmp_path / "hf-cache" / "models--acme--tiny-inpaint"
    snap = repo / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    info = resolve_model("acme/tiny-inpaint")
    assert info.source == "hf-cache" and info.path == str(snap)
    assert any(m.name == "acme/tiny-inpaint" for m in find_models())


def test_hf_cache_snapshot_with_unreadable_index_is_missing_weights(tiny_model_dir, tmp_path):
    # the snapshot has a model_index.json, but it is not a JSON object
    snap = tmp_path / "hf-cache" / "models--acme--broken" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, snap)
    (snap / "model_index.json").write_text("[]")
    with pytest.raises(MissingWeightsError, match="acme/broken.*cannot be read") as ei:
        resolve_model("acme/broken")
    assert "\n" not in str(ei.value)
    assert not any(m.name == "acme/broken" for m in find_models())


def test_missing_model_is_one_clear_line():
    with pytest.raises(MissingWeightsError) as ei:
        resolve_model("acme/not-here")
    msg = str(ei.value)
    assert "acme/not-here" in msg and "VEDIT_MODEL_DIR" in msg and "\n" not in msg
    with pytest.raises(MissingWeightsError, match="no diffusion model found"):
        resolve_model(None)


def test_folder_without_model_index(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingWeightsError, match="model_index.json"):
        resolve_model(str(tmp_path / "empty"))


def test_corrupt_weights_give_missing_weights(tiny_model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    for f in (bad / "unet").glob("*.safetensors"):
        f.unlink()
    with pytest.raises(MissingWeightsError, match="cannot load"):
        load_inpaint_pipeline(str(bad), cache=False)


def test_device_defaults():
    torch = pytest.importorskip("torch")

    dev, dt = resolve_device(None, None)
    if not torch.cuda.is_available():
        assert dev.type in ("cpu", "mps")
    assert resolve_device("cpu", None) == (torch.device("cpu"), torch.float32)
    assert resolve_device("cpu", "bf16")[1] == torch.bfloat16
    with pytest.raises(InvalidInputError, match="--dtype"):
        resolve_device("cpu", "int3")
    with pytest.raises(InvalidInputError, match="--device"):
        resolve_device("tpu9", None)


def test_offload_needs_cuda(tiny_model_dir):
    torch = pytest.importorskip("torch")

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(InvalidInputError, match="--offload"):
        load_inpaint_pipeline(str(tiny_model_dir), device="cpu", offload=True)


def test_loading_makes_no_network_call(tiny_model_dir, monkeypatch):
    import torch

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    m = load_inpaint_pipeline(str(tiny_model_dir), cache=False)
    assert type(m.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert m.pipe.unet.config.in_channels == 9 and m.dtype == torch.float32


def test_sdxl_loads_and_fills(tiny_xl_dir):
    from vedit.engines.inpaint_diffusion import DiffusionInpaintEngine

    eng = DiffusionInpaintEngine(str(tiny_xl_dir), steps=2, guidance=5.0)
    frame = np.full((64, 80, 3), 128, np.uint8)
    hole = np.zeros((64, 80), bool)
    hole[20:40, 30:50] = True
    out = eng.fill_keyframe(frame, hole, seed=0)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], frame[~hole])
    assert not np.array_equal(out[hole], frame[hole])
    assert eng.stats["unet_evals"] == 2


def test_cli_models(tiny_model_dir, monkeypatch):
    from vedit_cli.main import main

    runner = CliRunner()
    monkeypatch.setenv("VEDIT_MODEL_DIR", str(tiny_model_dir.parent))
    r = runner.invoke(main, ["models"])
    assert r.exit_code == 0, r.output
    assert str(tiny_model_dir) in r.output and "inpaint" in r.output
    r = runner.invoke(main, ["models", "--check", "acme/nothing"])
    assert r.exit_code == 1
    assert r.output.startswith("ERROR: --model 'acme/nothing'") and "Traceback" not in r.output


def test_text_to_image_model_inpaints_by_latent_blending(tmp_path):
    """A 4-channel (non-inpainting) UNet loads into the same pipeline class and
    fills by latent blending."""
    from vedit.engines.inpaint_diffusion import DiffusionInpaintEngine
    from vedit.models import inspect_model
    from vedit.models.dummy import save_dummy

    path = save_dummy(tmp_path / "tiny-t2i", in_channels=4)
    assert not inspect_model(path).inpainting
    eng = DiffusionInpaintEngine(str(path), steps=2)
    frame = np.full((64, 64, 3), 90, np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    out = eng.fill_keyframe(frame, hole, seed=1)
    assert np.array_equal(out[~hole], frame[~hole]) and not np.array_equal(out[hole], frame[hole])
