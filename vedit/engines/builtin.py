"""The built-in engines and matte sources, as the ``vedit.engines`` entry point
``builtin`` gives them (see :mod:`vedit.engines`): the same way a third-party
package adds its own. Targets are imported only when an engine is used."""
from __future__ import annotations

from vedit.engines import EngineSpec


def builtin_engines() -> list[EngineSpec]:
    """Every engine that ships with vedit, by family (inpaint, animate, matte)."""
    return [
        EngineSpec("propagate", "inpaint", "vedit.engines.propagate:PropagateInpaintEngine",
                   "camera-model direct sampling + flow-guided propagation + exemplar fill (default, no weights)"),
        EngineSpec("diffusion", "inpaint", "vedit.engines.inpaint_diffusion:DiffusionInpaintEngine",
                   "latent diffusion inpainting on keyframes, propagated (flow-warped noise, cross-frame attention)",
                   needs=("torch", "diffusers", "transformers"), extra="ml",
                   weights="diffusers inpainting model (SD 1.5/2 or SDXL inpainting), local"),
        EngineSpec("parallax", "animate", "vedit.engines.animate_parallax:ParallaxAnimateEngine",
                   "2.5D layered camera moves from a matte, background inpainted behind the subject"),
        EngineSpec("motion", "animate", "vedit.engines.animate_motion:MotionAnimateEngine",
                   "motion brush: Eulerian motion field, forward splatting, seamless loops"),
        EngineSpec("diffusion", "animate", "vedit.engines.animate_diffusion:DiffusionAnimateEngine",
                   "image-to-video diffusion (Stable Video Diffusion, text-conditioned i2v)",
                   needs=("torch", "diffusers", "transformers"), extra="ml",
                   weights="diffusers image-to-video model, local"),
        EngineSpec("file", "matte", "vedit.masks.sources:FileMatteSource",
                   "mask image, sequence or video (8/16-bit, grey or alpha)"),
        EngineSpec("person", "matte", "vedit.masks.person:PersonMatteSource",
                   "person segmentation with the models inside the MediaPipe 0.10.14 wheel (no downloads)",
                   needs=("mediapipe",), extra="person"),
        EngineSpec("sam", "matte", "vedit.masks.sam:SamMatteSource",
                   "Segment Anything with a user checkpoint; point/box prompts, re-prompted per frame",
                   needs=("torch", "segment_anything"), extra="ml",
                   weights="segment-anything checkpoint (vit_b/vit_l/vit_h), local"),
        EngineSpec("sam2", "matte", "vedit.masks.sam2_video:Sam2MatteSource",
                   "SAM 2 video predictor with a user checkpoint; point/box prompt on any frame, propagated "
                   "through the shot in chunks",
                   needs=("torch", "sam2"), extra="sam2",
                   weights="SAM 2 / 2.1 checkpoint (.pt) and its model config, local"),
        EngineSpec("grabcut", "matte", "vedit.masks.sources:GrabCutMatteSource",
                   "box prompt segmented with GrabCut, tracked by flow"),
        EngineSpec("chroma", "matte", "vedit.masks.sources:ChromaMatteSource",
                   "chroma key (green, blue, a CSS colour name or #RRGGBB) with tolerance and spill suppression"),
        EngineSpec("track", "matte", "vedit.masks.track:TrackMatteSource",
                   "keyframe mask tracked through the shot with optical flow and colour"),
    ]
