"""bench/remove.py and bench/report.py: a real case run end to end through the
default engine next to TELEA, the per-category aggregation, the README tables."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import cv2
import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("vedit_bench_remove", ROOT / "bench" / "remove.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(name, cat, ours, telea, detail, flicker):
    return {"name": name, "category": cat, "reveal": None, "frames": 10, "size": "8x8", "fps": 1.0,
            "ours": {"psnr_mask": ours, "detail": detail, "flicker": flicker, "ssim_full": 0.9},
            "telea": {"psnr_mask": telea, "detail": 0.4, "flicker": 3.0}, "delta": round(ours - telea, 2)}


def test_category_table(bench):
    rows = [_row("a", "revealed", 40.0, 20.0, 1.0, 1.0), _row("b", "revealed", 30.0, 21.0, 0.8, 1.2),
            _row("c", "never", 19.0, 20.0, 0.5, 0.9)]
    table = {c["category"]: c for c in bench.category_table(rows)}
    assert set(table) == {"revealed", "never", "all"}
    rev = table["revealed"]
    assert rev["cases"] == 2 and rev["gain"] == pytest.approx(14.5) and rev["worst_delta"] == pytest.approx(9.0)
    assert rev["detail"] == pytest.approx(0.9) and rev["min_detail"] == pytest.approx(0.8)
    assert table["all"]["worst_delta"] == pytest.approx(-1.0) and table["all"]["cases"] == 3


def test_report_renders_latest(bench, tmp_path):
    rows = [_row("a", "revealed", 40.0, 20.0, 1.0, 1.0), _row("c", "never", 19.0, 20.0, 0.5, 0.9)]
    res = {"date": "d", "machine": "m", "commit": "c", "cases": rows, "categories": bench.category_table(rows)}
    (tmp_path / "remove-2000-01-01-0000.json").write_text("{}")
    (tmp_path / "remove-2000-01-02-0000.json").write_text(json.dumps(res))
    spec = importlib.util.spec_from_file_location("vedit_bench_report", ROOT / "bench" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    assert report.latest(str(tmp_path)).endswith("remove-2000-01-02-0000.json")
    text = report.render(res)
    assert "| revealed | 1 | 40.00 | 20.00 | +20.00 | +20.00 | 1.00 | 1.00 | 1.00 |" in text
    assert "| c | never | – | 19.00 | 20.00 | -1.00 | 0.50 | 0.90 |" in text
    bad = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), str(tmp_path / "remove-2000-01-01-0000.json")],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "not a bench/remove.py result" in bad.stderr


def test_quality_case_end_to_end(bench, small_case, tmp_path):
    r = bench.quality_case(small_case, str(tmp_path), crops=str(tmp_path / "crops"))
    assert r["name"] == "t_pan" and r["frames"] == 14 and r["fps"] > 0
    assert r["delta"] == pytest.approx(r["ours"]["psnr_mask"] - r["telea"]["psnr_mask"], abs=0.011)
    # a static blob over a pan that reveals everything: the shot holds the answer
    assert r["ours"]["psnr_mask"] > r["telea"]["psnr_mask"] + 3 and r["ours"]["flicker"] < r["telea"]["flicker"]
    crops = cv2.imread(str(tmp_path / "crops" / "t_pan.png"))
    assert crops is not None and crops.shape[0] >= 3 * 200  # three frames, crops scaled to 200 px high
    q = crops.shape[1] // 4  # input | ours | TELEA | truth: the pasted input is far from the truth
    assert abs(crops[:200, :q].astype(int) - crops[:200, 3 * q:4 * q].astype(int)).mean() > 5
    with open(f"{small_case.path}/telea.json") as fh:  # TELEA's scores are cached with the case
        assert json.load(fh)["score"] == r["telea"]
