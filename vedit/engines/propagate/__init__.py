"""``propagate``: the classical removal engine (no weights), as a package.

What fills a hole pixel of frame ``t``, in order of preference:

1. **The same spot seen in another frame, where the camera model holds**
   (``camera``, ``sources``): the background's motion between any two frames
   of a chunk as a homography (neighbour links chained, every pair used
   re-fitted directly so chains do not drift); each hole pixel copied once,
   bicubic, from the nearest frame that saw it unoccluded at no lower
   resolution, with a per-frame gain. Trusted where the ring around the hole
   follows the model and an independent second source agrees.
2. **Flow-guided propagation** (``engine``) where it does not hold (parallax,
   moving subjects under the hole, dynamic backgrounds): completed optical
   flow, sweeps carrying source coordinates, a second pass on re-measured
   flow. It runs on every chunk and is the base the camera stage overwrites.
   Where the flow stops explaining the ring around the hole (a subject
   rushing past it), what chains carried across that change is checked
   against what borders the hole afterwards, so a subject that has left is
   not frozen into the hole.
3. **Pixels no frame saw** (``exemplar``): a multi-scale PatchMatch fill on
   one keyframe, carried to the other frames by the camera model (or by the
   flow where the camera model does not hold), so the same texture stays put.

``engine.PropagateInpaintEngine`` streams a shot through overlapping chunks
and runs the stages per chunk; memory is bounded by the chunk.
"""
from vedit.engines.propagate.engine import KeyframeFill, PropagateInpaintEngine, spatial_fill
from vedit.engines.propagate.exemplar import exemplar_fill

__all__ = ["KeyframeFill", "PropagateInpaintEngine", "exemplar_fill", "spatial_fill"]
