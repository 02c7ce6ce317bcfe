"""The ``propagate`` inpaint engine (registry name); the code is the
:mod:`vedit.engines.propagate` package."""
from vedit.engines.propagate import KeyframeFill, PropagateInpaintEngine, exemplar_fill, spatial_fill
from vedit.engines.propagate.engine import _coarse_grid, _upsample_box

__all__ = ["KeyframeFill", "PropagateInpaintEngine", "_coarse_grid", "_upsample_box", "exemplar_fill",
           "spatial_fill"]
