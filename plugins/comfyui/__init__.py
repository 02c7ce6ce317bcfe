"""vedit custom nodes for ComfyUI. Install: link or copy this folder to
``ComfyUI/custom_nodes/vedit`` in a ComfyUI whose Python has vedit installed
(``pip install "vedit-toolkit[comfyui]"``)."""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: F401

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
