"""The compiled sweep step (vedit.engines.sweep) against the NumPy step."""
import numpy as np
import pytest

from vedit.engines import sweep
from vedit.engines.inpaint_propagate import PropagateInpaintEngine
from vedit.flow.ops import _grid

numba = pytest.importorskip("numba")


def _problem(seed, n=7, h=40, w=56):
    rng = np.random.default_rng(seed)
    hw = []
    for t in range(n):
        m = np.zeros((h, w), bool)
        y, x = 8 + t, 10 + 3 * t
        m[y:y + 16, x:x + 20] = True
        m[rng.integers(0, h, 12), rng.integers(0, w, 12)] = True  # scattered specks
        hw.append(m)
    # flows: a pan with noise, some landings outside the frame, a NaN patch
    fwd = [(rng.normal(0, 2.5, (h, w, 2)) + [2.7, -1.3]).astype(np.float32) for _ in range(n - 1)]
    bwd = [(rng.normal(0, 2.5, (h, w, 2)) + [-2.7, 1.3]).astype(np.float32) for _ in range(n - 1)]
    fwd[2][10:14, 12:20] = np.nan
    ok_f = [rng.random((h, w)) < 0.8 for _ in range(n - 1)]
    ok_b = [rng.random((h, w)) < 0.8 for _ in range(n - 1)]
    return n, h, w, hw, fwd, bwd, ok_f, ok_b


def _run(jit, seed):
    n, h, w, hw, fwd, bwd, ok_f, ok_b = _problem(seed)
    eng = PropagateInpaintEngine(jit=jit)
    xs, ys = _grid(h, w)
    known = [~x for x in hw]
    key_known = [np.zeros((h, w), bool) for _ in range(n)]
    res, state = eng._sweeps(n, h, w, known, key_known, hw, fwd, bwd, ok_f, ok_b, xs, ys)
    first = [tuple(a.copy() for a in r) for r in res]
    # a keyframe: its unreached pixels become sources, only those are swept again
    k = 3
    key_known[k] = hw[k] & ~res[k][4]
    res2, _ = eng._sweeps(n, h, w, known, key_known, hw, fwd, bwd, ok_f, ok_b, xs, ys, state=state, new_key=k)
    return first, [tuple(a.copy() for a in r) for r in res2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_sweeps_equal_numpy_sweeps(seed):
    assert sweep.step_kernel() is not None, "numba is installed but the kernel did not compile"
    a1, a2 = _run(False, seed)
    b1, b2 = _run(True, seed)
    reached = 0
    for ra, rb in zip(a1 + a2, b1 + b2):
        for x, y in zip(ra, rb):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        reached += int(ra[4].sum())
    # the problem is not trivial: chains reach into the holes, some pixels not
    n, h, w, hw, *_ = _problem(seed)
    got = [int((hw[t] & a1[t][4]).sum()) for t in range(n)]
    assert sum(got) > 0.3 * sum(int(x.sum()) for x in hw)
    assert any(int((hw[t] & ~a1[t][4]).sum()) for t in range(n))
    # second candidates were found too
    assert sum(int((r[8] > 0).sum()) for r in a1) > 0


def test_no_jit_switch(monkeypatch):
    monkeypatch.setattr(sweep, "_tried", False)
    monkeypatch.setattr(sweep, "_kernel", None)
    monkeypatch.setenv("VEDIT_NO_JIT", "1")
    assert sweep.step_kernel() is None
