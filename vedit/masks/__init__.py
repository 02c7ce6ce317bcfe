"""Mattes: sources (file, person, SAM, GrabCut box, chroma key, tracked
keyframe mask), tracking through a shot, and refinement.

    from vedit.io import open_clip
    from vedit.masks import matte_stream
    for alpha in matte_stream(open_clip("shot.mp4"), "person"):
        ...  # float32 HxW in [0, 1], one per frame of the selected range
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from vedit.errors import InvalidInputError
from vedit.io import Clip
from vedit.masks.base import MatteSource
from vedit.masks.person import matte_pipeline


def make_source(source: str, **params) -> MatteSource:
    """Build a matte source by name from matte_stream's keyword arguments,
    through the engine registry (family ``matte``): built-in sources are
    registered there like a third-party one would be (``vedit.engines``
    entry points), so a plugin source works here too."""
    from vedit.engines import get_spec, names
    from vedit.errors import EngineNotFoundError

    try:
        cls = get_spec("matte", source).load()
    except EngineNotFoundError:
        raise InvalidInputError(f"unknown matte source {source!r}; choose one of: {', '.join(names('matte'))}") from None
    return cls.from_params(**{k: v for k, v in params.items() if v is not None})


def matte_stream(clip: Clip, source: str, *, mask=None, frame: int = 0, box=None, points=None,
                 chroma=None, tolerance=None, person_model: str = "auto", sam_checkpoint=None,
                 sam_model: str = "vit_b", sam2_checkpoint=None, sam2_config=None, chunk_size=None,
                 refine: bool = True, smooth: bool = True, dilate: int = 0,
                 feather: float = 0, include_shadow: bool = False, person_id=None, with_props: bool = False,
                 confidence_path=None, add_mask=None, subtract_mask=None, callback=None) -> Iterator[np.ndarray]:
    """Stream a matte for every frame of ``clip``'s selected range: float32
    HxW alpha in [0, 1] at the clip's size.

    ``source``: ``file`` (``mask`` = image/sequence/video), ``person``,
    ``sam`` (``sam_checkpoint`` + ``box``/``points`` at ``frame``), ``grabcut``
    (``box`` at ``frame``), ``sam2`` (the SAM 2 video predictor:
    ``sam2_checkpoint``, ``sam2_config`` — a config name in the ``sam2``
    package or a YAML file, default from the checkpoint's name — and
    ``box``/``points`` at ``frame``, propagated ``chunk_size`` frames at a
    time), ``chroma`` (``chroma`` = green, blue, a CSS colour name
    such as ``purple``, or #RRGGBB; ``tolerance``), ``track`` (``mask`` = keyframe mask at ``frame``).
    ``frame`` is relative to the selected range. ``refine``: hole filling and
    guided-filter edges; ``smooth``: temporal smoothing along flow;
    ``dilate`` (px, negative erodes) and ``feather`` (px) apply last.
    ``include_shadow`` (person only) adds the cast shadow — what a removal
    needs; off here because compositing keeps the person alone. ``vedit matte
    --person`` (``vedit.masks.person.person_matte_stream``) turns it on, and
    ``with_props`` (what a person holds or rides) too. ``person_id`` picks
    one person (numbered from 1 in order of appearance; default everybody).
    A tracked source (``track``, ``grabcut``, ``sam``) prints a warning line
    with the frames where its confidence drops and, with
    ``confidence_path``, writes the per-frame confidence there as JSON.
    ``track`` takes several keyframes as lists (``mask=[a, b]``,
    ``frame=[0, 60]``), tracked from both sides between them.
    ``add_mask`` / ``subtract_mask`` (paths: an image for every frame, a
    sequence or video frame for frame) are joined to / taken from the
    final matte. Parameters are checked before the first frame is produced.
    """
    from vedit.masks.keyframes import edit_mattes, open_edit_masks

    n = clip.frame_count
    frames = [0] if frame is None else list(frame) if isinstance(frame, (list, tuple)) else [frame]
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    if (len(frames) > 1 or len(masks) > 1) and source != "track":
        raise InvalidInputError("several --mask/--frame keyframes need keyframe mask images (the tracked matte); "
                                f"the {source} matte takes one")
    for f in frames:
        if not isinstance(f, (int, np.integer)) or not 0 <= int(f) < n:
            raise InvalidInputError(f"--frame {f} is outside the selected range (0..{n - 1})")
    if source != "track":
        frame, mask = frames[0], masks[0]

    src = make_source(source, mask=mask, frame=frame, box=box, points=points, chroma=chroma,
                      tolerance=tolerance, person_model=person_model, sam_checkpoint=sam_checkpoint,
                      sam_model=sam_model, sam2_checkpoint=sam2_checkpoint, sam2_config=sam2_config,
                      chunk_size=chunk_size, include_shadow=include_shadow, person_id=person_id,
                      with_props=with_props)
    src.check(clip)
    adds, subs = open_edit_masks(clip, add_mask, subtract_mask)
    if source in ("track", "grabcut", "sam"):
        src.confidence_path = confidence_path
    return edit_mattes(matte_pipeline(clip, src, refine=bool(refine), smooth=bool(smooth), dilate=int(dilate or 0),
                                      feather_px=float(feather or 0), callback=callback), adds, subs)


__all__ = ["matte_stream", "make_source", "MatteSource"]
