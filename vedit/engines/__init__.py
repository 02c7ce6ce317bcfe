"""Engine registry: name → "module:Class", imported only when used.

Built-in engines are registered exactly like third-party ones (entry-point
group ``vedit.engines``), so the extension path is always exercised. A broken
plugin is reported by ``vedit engines`` and skipped, never fatal.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from vedit.errors import EngineNotFoundError, MissingDependencyError

FAMILIES = ("inpaint", "animate", "matte")


@dataclass(frozen=True)
class EngineSpec:
    name: str
    family: str
    target: str  # "module:Class"
    description: str = ""
    needs: tuple[str, ...] = ()  # importable modules required
    extra: str = ""  # pip extra that brings them
    weights: str = ""  # what weights it needs, "" when none

    def missing(self) -> list[str]:
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    @property
    def available(self) -> bool:
        return not self.missing()

    def load(self):
        missing = self.missing()
        if missing:
            raise MissingDependencyError(missing[0], self.extra or "all", f"engine '{self.name}'")
        mod, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(mod), cls)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "family": self.family, "description": self.description,
            "needs": list(self.needs), "extra": self.extra, "weights": self.weights or None,
            "available": self.available, "missing": self.missing(),
        }


_REGISTRY: dict[tuple[str, str], EngineSpec] = {}
_PLUGIN_ERRORS: list[str] = []
_loaded_entry_points = False


def register(spec: EngineSpec) -> EngineSpec:
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown engine family {spec.family!r}")
    _REGISTRY[(spec.family, spec.name)] = spec
    return spec


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="vedit.engines"):
        try:
            obj = ep.load()
            specs = obj() if callable(obj) and not isinstance(obj, EngineSpec) else obj
            for s in specs if isinstance(specs, (list, tuple)) else [specs]:
                register(s)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break vedit
            _PLUGIN_ERRORS.append(f"{ep.name}: {exc}")


def engines(family: str | None = None) -> list[EngineSpec]:
    _load_entry_points()
    return [s for (f, _), s in sorted(_REGISTRY.items()) if family in (None, f)]


def plugin_errors() -> list[str]:
    _load_entry_points()
    return list(_PLUGIN_ERRORS)


def names(family: str) -> list[str]:
    return [s.name for s in engines(family)]


def get_spec(family: str, name: str) -> EngineSpec:
    _load_entry_points()
    try:
        return _REGISTRY[(family, name)]
    except KeyError:
        raise EngineNotFoundError(
            f"unknown {family} engine {name!r}; choose one of: {', '.join(names(family)) or 'none'}"
        ) from None


def get_engine(family: str, name: str, **kwargs):
    """Instantiate an engine by family and name."""
    return get_spec(family, name).load()(**kwargs)


# -- built-in engines ---------------------------------------------------------
register(EngineSpec("propagate", "inpaint", "vedit.engines.propagate:PropagateInpaintEngine",
                    "camera-model direct sampling + flow-guided propagation + exemplar fill (default, no weights)"))
register(EngineSpec("diffusion", "inpaint", "vedit.engines.inpaint_diffusion:DiffusionInpaintEngine",
                    "latent diffusion inpainting on keyframes, propagated (flow-warped noise, cross-frame attention)",
                    needs=("torch", "diffusers", "transformers"), extra="ml",
                    weights="diffusers inpainting model (SD 1.5/2 or SDXL inpainting), local"))
register(EngineSpec("parallax", "animate", "vedit.engines.animate_parallax:ParallaxAnimateEngine",
                    "2.5D layered camera moves from a matte, background inpainted behind the subject"))
register(EngineSpec("motion", "animate", "vedit.engines.animate_motion:MotionAnimateEngine",
                    "motion brush: Eulerian motion field, forward splatting, seamless loops"))
register(EngineSpec("diffusion", "animate", "vedit.engines.animate_diffusion:DiffusionAnimateEngine",
                    "image-to-video diffusion (Stable Video Diffusion, text-conditioned i2v)",
                    needs=("torch", "diffusers", "transformers"), extra="ml",
                    weights="diffusers image-to-video model, local"))
register(EngineSpec("file", "matte", "vedit.masks.sources:FileMatteSource",
                    "mask image, sequence or video (8/16-bit, grey or alpha)"))
register(EngineSpec("person", "matte", "vedit.masks.person:PersonMatteSource",
                    "person segmentation with the models inside the MediaPipe 0.10.14 wheel (no downloads)",
                    needs=("mediapipe",), extra="person"))
register(EngineSpec("sam", "matte", "vedit.masks.sam:SamMatteSource",
                    "Segment Anything with a user checkpoint; point/box prompts, re-prompted per frame",
                    needs=("torch", "segment_anything"), extra="ml",
                    weights="segment-anything checkpoint (vit_b/vit_l/vit_h), local"))
register(EngineSpec("sam2", "matte", "vedit.masks.sam2_video:Sam2MatteSource",
                    "SAM 2 video predictor with a user checkpoint; point/box prompt on any frame, propagated "
                    "through the shot in chunks",
                    needs=("torch", "sam2"), extra="sam2",
                    weights="SAM 2 / 2.1 checkpoint (.pt) and its model config, local"))
register(EngineSpec("grabcut", "matte", "vedit.masks.sources:GrabCutMatteSource",
                    "box prompt segmented with GrabCut, tracked by flow"))
register(EngineSpec("chroma", "matte", "vedit.masks.sources:ChromaMatteSource",
                    "chroma key (green, blue, a CSS colour name or #RRGGBB) with tolerance and spill suppression"))
register(EngineSpec("track", "matte", "vedit.masks.track:TrackMatteSource",
                    "keyframe mask tracked through the shot with optical flow and colour"))
