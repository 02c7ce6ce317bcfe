"""The local HTTP job server over :mod:`vedit.jobs` (DESIGN §5).

``create_app(config)`` builds the FastAPI app (in-process tests use it with
``TestClient``); ``serve(config)`` runs it with uvicorn; ``python -m
vedit.server`` and ``vedit serve`` are the command lines; ``VeditClient`` talks
to a running server.
"""
from vedit.server.config import ServerConfig, ensure_token, read_token, vedit_home  # noqa: F401


def create_app(config=None):
    from vedit.server.app import create_app as _create

    return _create(config)


def serve(config, echo=print):
    from vedit.server.app import serve as _serve

    return _serve(config, echo)


def __getattr__(name):
    if name == "VeditClient":
        from vedit.server.client import VeditClient

        return VeditClient
    raise AttributeError(name)
