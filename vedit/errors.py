"""Error hierarchy. Every error vedit raises on purpose derives from VeditError
and also from the matching builtin, so callers can catch either."""
from __future__ import annotations


class VeditError(Exception):
    """Root of all deliberate vedit errors; the CLI prints these as one line."""


class InvalidInputError(VeditError, ValueError):
    """A value given by the user is wrong (size, range, option, mask...)."""


class MediaError(VeditError, OSError):
    """A media file cannot be read or written."""


class MediaNotFoundError(MediaError, FileNotFoundError):
    """A media path does not exist."""


class OutputExistsError(MediaError, FileExistsError):
    """An output would replace an existing file or non-empty folder (``--overwrite`` allows it)."""


class EngineNotFoundError(VeditError, LookupError):
    """An engine name is not in the registry."""


class MissingWeightsError(VeditError, FileNotFoundError):
    """Model weights are not available locally."""


class MissingDependencyError(VeditError, ImportError):
    """An optional dependency (extra) is not installed."""

    def __init__(self, package: str, extra: str, what: str = ""):
        self.package, self.extra = package, extra
        msg = f"{what or package} needs the '{package}' package: pip install \"vedit-toolkit[{extra}]\""
        super().__init__(msg)


class JobCancelled(VeditError):
    """Cooperative cancellation of a running job."""


def require(module: str, extra: str, what: str = ""):
    """Import an optional module or raise MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(module.split(".")[0], extra, what) from exc
