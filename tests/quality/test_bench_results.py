"""bench/_common.save and ``bench/report.py --other``: every bench's figures
kept as bench/results/<kind>-<date>.json and the README's "Other figures"
table generated from the newest of each kind."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT


def _load(name: str):
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"vedit_bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def common():
    return _load("_common")


@pytest.fixture(scope="module")
def report():
    return _load("report")


def test_save_writes_dated_json_with_machine(common, tmp_path):
    a = common.save("server", {"failed": 0, "p50_ms": 1.5, "commit": "not mine"}, folder=str(tmp_path))
    b = common.save("server", {"failed": 2}, folder=str(tmp_path))
    common.save("server-holdout", {"failed": 1}, folder=str(tmp_path))
    assert os.path.basename(a).startswith("server-") and a != b and b.endswith("-2.json")
    with open(a) as fh:
        res = json.load(fh)
    assert res["kind"] == "server" and res["failed"] == 0 and res["p50_ms"] == 1.5
    assert res["commit"] != "not mine" and "cores" in res["machine"] and len(res["load"].split()) == 3
    # exactly the kind, oldest first: server-holdout is another kind
    assert common.results_of("server", str(tmp_path)) == [a, b]
    with pytest.raises(ValueError):
        common.save("Server 2026-01-01", {}, folder=str(tmp_path))


def _write(folder, name, res):
    (folder / name).write_text(json.dumps({"date": name[-20:-5], **res}))


def test_other_table_newest_of_each_kind(report, tmp_path):
    tiny = [{"variant": "ours", "unet_per_frame": 1.5, "flicker": 0.9}, {"variant": "naive", "unet_per_frame": 20,
                                                                        "flicker": 8.8}]
    full = {"frames": 4, "steps": 1, "rows": [{"variant": "ours", "s_per_frame": 42.8},
                                              {"variant": "naive", "s_per_frame": 66.5}]}
    _write(tmp_path, "diffusion-2026-01-01-1000.json", {"frames": 80, "steps": 20, "tiny": tiny, "full": full})
    quick = [dict(r, unet_per_frame=r["unet_per_frame"] * 2) for r in tiny]
    _write(tmp_path, "diffusion-2026-01-02-1000.json", {"frames": 24, "steps": 4, "tiny": quick})
    _write(tmp_path, "server-2026-01-01-1000.json", {"requests": 6000, "failed": 0, "p50_ms": 1.3, "p99_ms": 5.1,
                                                     "rate": 200.0, "seconds": 30, "job": "done", "load": "4.9 4 5"})
    _write(tmp_path, "server-2026-01-03-1000.json", {"broken": True})  # newer but without the figures
    table = report.render_other(str(tmp_path)).splitlines()
    assert table[:2] == ["| what | result | target | bench |", "|---|---|---|---|"]
    assert len(table) == 2 + len(report.OTHER) and all(line.count(" | ") == 3 for line in table[2:])
    rows = {r.what: line for r, line in zip(report.OTHER, table[2:])}
    evals = next(v for k, v in rows.items() if k.startswith("diffusion remove: UNet"))
    assert "| 3 vs 40 (13.3×); 24 frames, 4 steps (2026-01-02-1000) |" in evals  # the newest quick run
    sd = next(v for k, v in rows.items() if k.startswith("full-size SD1.5"))
    assert "42.8 vs 66.5 (1 steps × 4 frames) (2026-01-01-1000)" in sd  # the newest that has the full part
    server = next(v for k, v in rows.items() if k.startswith("job server"))
    assert "0 failures of 6000; p50 1.3 ms, p99 5.1 ms (200 polls/s for 30 s, job done) (2026-01-01-1000, load 4.9)" \
        in server
    animate = next(v for k, v in rows.items() if k.startswith("motion brush"))
    assert f"| {report.NOT_MEASURED} |" in animate


def test_server_bench_saves_and_reports(tmp_path):
    env = dict(os.environ, VEDIT_BENCH_RESULTS=str(tmp_path))
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "server.py"), "--rate", "40", "--seconds", "1"],
                       env=env, capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    (saved,) = tmp_path.glob("server-*.json")
    res = json.loads(saved.read_text())
    assert res["requests"] == 40 and res["failed"] == 0 and res["job"] == "done" and res["p99_ms"] > 0
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), "--other", "--results", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    measured = [line for line in out.splitlines()[2:] if "not measured since the bench saves JSON" not in line]
    assert len(measured) == 1 and measured[0].startswith("| job server")  # every other bench: no result here
    assert f"| 0 failures of 40; p50 {res['p50_ms']:.1f} ms" in measured[0] and res["date"] in measured[0]
