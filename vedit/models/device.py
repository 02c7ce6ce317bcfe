"""Device and dtype choice for torch models: CPU float32 unless asked;
CUDA (fp16, or bf16 where supported) or Apple MPS (fp16) when present."""
from __future__ import annotations

from vedit.errors import InvalidInputError

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}


def resolve_device(device=None, dtype=None):
    """Return ``(torch.device, torch.dtype)``.

    ``device``: None/'auto' picks CUDA, then MPS, then CPU; or 'cpu', 'cuda',
    'cuda:1', 'mps'. ``dtype``: None picks float32 on CPU, float16 on CUDA/MPS;
    or 'float32'|'float16'|'bfloat16' (or a torch.dtype).
    """
    import torch

    name = str(device) if device is not None else "auto"
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"--device {device!r}: not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"--device {device!r}: CUDA is not available here; use --device cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InvalidInputError(f"--device {device!r}: MPS is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"--device {device!r}: unsupported device type; use cpu, cuda or mps")

    if dtype is None or dtype == "auto":
        dt = torch.float32 if dev.type == "cpu" else torch.float16
    elif isinstance(dtype, torch.dtype):
        dt = dtype
    else:
        key = _DTYPES.get(str(dtype).lower().replace("torch.", ""))
        if key is None:
            raise InvalidInputError(f"--dtype {dtype!r}: choose float32, float16 or bfloat16")
        dt = getattr(torch, key)
    if dev.type == "cuda" and dt == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise InvalidInputError("--dtype bfloat16: this GPU has no bf16 support; use --dtype float16")
    return dev, dt
