"""The job server client for the add-on: vedit's one client
(``vedit/server/client.py``, standard library only). Where vedit is installed
in Blender's Python it is imported from there; the extension zip carries a
copy as ``_vedit_client.py`` (``build_extension.py`` adds it)."""
from __future__ import annotations

try:
    from vedit.server.client import AuthError, Client, JobNotFound, ServerError, ServerUnavailableError, read_token, vedit_home
except ImportError:  # the built extension, in a Blender without vedit
    from ._vedit_client import AuthError, Client, JobNotFound, ServerError, ServerUnavailableError, read_token, vedit_home  # type: ignore[no-redef]

__all__ = ["AuthError", "Client", "JobNotFound", "ServerError", "ServerUnavailableError", "read_token", "vedit_home"]
