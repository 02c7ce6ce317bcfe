"""Optical flow in one place: dense flow (OpenCV DIS), forward-backward
consistency, flow completion inside holes, warping.

Convention: ``flow_ab`` maps frame a to frame b, i.e. a(x) ≈ b(x + flow_ab(x)),
so ``warp(b, flow_ab)`` aligns b onto a.
"""
from vedit.flow.dense import FlowEstimator, compute_flow  # noqa: F401
from vedit.flow.ops import complete_flow, fb_consistency, fit_global_motion, homography_flow, warp, warp_mask  # noqa: F401
