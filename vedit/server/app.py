"""The FastAPI app (DESIGN §5). ``create_app(config)`` only builds it; ``serve``
configures uvicorn and runs it, so tests can call the app in-process."""

import asyncio
import contextlib
import json
import logging
import re
import socket
from enum import Enum
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from vedit import __version__
from vedit.errors import InvalidInputError, VeditError
from vedit.jobs import TERMINAL, JobStore, PathPolicy, Runner, op_names, op_schema
from vedit.server.config import ServerConfig, ensure_token
from vedit.server.security import SecurityMiddleware, _BodyTooLarge

log = logging.getLogger("vedit.server")

# -- schema ----------------------------------------------------------------------


class ErrorOut(BaseModel):
    ok: Literal[False] = False
    error: str
    type: str
    status: int


class RangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "3" and true are not frame numbers
    start: int | None = Field(None, ge=0, le=2**31, description="first frame, from 0")
    end: int | None = Field(None, ge=1, le=2**31, description="last frame, exclusive")


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    stage: str
    output: str | None = None
    error: str | None = None
    error_type: str | None = None
    op: str | None = None
    input: str | None = None
    requested_output: str | None = None
    params: dict[str, Any] = {}
    range: dict[str, Any] = {}
    done: int = 0
    total: int = 0
    eta: float | None = Field(None, description="seconds left in the current stage")
    created: float | None = None
    started: float | None = None
    finished: float | None = None


class SubmitOut(BaseModel):
    id: str
    status: str
    output: str


class HealthOut(BaseModel):
    ok: bool
    version: str


def _spec_model():
    """The job spec body; ``op`` is an enum of the ops known when the app is built."""
    ops = Enum("Op", {re.sub(r"\W", "_", n) or "op": n for n in op_names()}, type=str)  # type: ignore[misc]

    class JobSpecIn(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
            "op": "remove", "input": "/clips/shot.mp4", "output": "/clips/shot_clean.mp4",
            "params": {"mask": "/clips/mask.png"}, "range": {"start": 0, "end": 48}}]})
        op: ops
        input: str = Field(..., min_length=1, description="absolute path of a video, frame folder or pattern")
        output: str = Field(..., min_length=1, description="output path; a unique name is used if it exists")
        params: dict[str, Any] = Field(default_factory=dict, description="op options (CLI options, underscored)")
        range: RangeIn | None = None

    return JobSpecIn


_ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorOut} for s in (400, 401, 403, 404, 413, 422, 429)}


def _err(status: int, error: str, type_: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error, "type": type_, "status": status}, status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        e = next(e for e in errs if e.get("type") == "json_invalid")
        return f"malformed JSON body: {e.get('ctx', {}).get('error', e.get('msg'))}", "InvalidJSON"
    parts = []
    for e in errs[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg')}")
    more = f" (and {len(errs) - 3} more)" if len(errs) > 3 else ""
    return "; ".join(parts) + more, "ValidationError"


# -- app --------------------------------------------------------------------------


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Build the app: store, runner (started with the app's lifespan), routes,
    error handlers and the security middleware."""
    config = (config or ServerConfig()).validate()
    token = config.token or ensure_token(config.home)
    store = JobStore(config.db_path)
    runner = Runner(store, workers=config.workers, max_queue=config.max_queue,
                    policy=PathPolicy(list(config.allowed_roots), config.output_dir, require_absolute=True,
                                      read_roots=list(config.read_roots)),
                    requeue_interrupted=config.requeue_interrupted, keep_jobs=config.keep_jobs,
                    keep_days=config.keep_days)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        runner.start()
        try:
            yield
        finally:
            await asyncio.to_thread(runner.stop, 10.0)
            store.close()

    app = FastAPI(title="vedit job server", version=__version__, lifespan=lifespan,
                  description="Local job server for editor panels. Every route but /health and the "
                              "schema needs `Authorization: Bearer TOKEN` (token file in the vedit "
                              "config folder).")
    app.state.config, app.state.runner, app.state.store = config, runner, store
    bearer = HTTPBearer(auto_error=False, description="token from $VEDIT_HOME/token")

    # -- errors: one shape for all ------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def _on_validation(request: Request, exc: RequestValidationError):
        msg, kind = _validation_message(exc)
        return _err(422, msg, kind)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException):
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return _err(exc.status_code, str(exc.detail), kind)

    @app.exception_handler(VeditError)
    async def _on_vedit(request: Request, exc: VeditError):
        status = getattr(exc, "status", 400 if isinstance(exc, InvalidInputError) else 500)
        return _err(status, str(exc), type(exc).__name__)

    @app.exception_handler(Exception)
    async def _on_any(request: Request, exc: Exception):
        if isinstance(exc, _BodyTooLarge):
            return _err(413, f"request body is over the {config.max_body}-byte limit", "PayloadTooLarge")
        log.exception("unhandled error on %s", request.url.path)
        return _err(500, f"internal error ({type(exc).__name__}); see the server log", "InternalError")

    # -- routes -------------------------------------------------------------------
    deps = [Depends(bearer)]  # documents the scheme; checked by the middleware
    JobSpecIn = _spec_model()

    @app.get("/health", response_model=HealthOut, tags=["server"])
    def health():
        """Liveness; needs no token."""
        return {"ok": True, "version": __version__}

    @app.get("/engines", dependencies=deps, responses=_ERRORS, tags=["server"])
    def engines() -> dict:
        """The engine registry: name, family, needs, available here."""
        from vedit.engines import engines as all_engines
        from vedit.engines import plugin_errors

        return {"engines": [s.as_dict() for s in all_engines()], "plugin_errors": plugin_errors()}

    @app.get("/ops", dependencies=deps, responses=_ERRORS, tags=["jobs"])
    def ops() -> dict:
        """Ops a job can run and their params, JSON-Schema style: type, default,
        choices (``enum``), ``minimum``/``maximum``, help (``description``), the
        CLI option (``x-cli``), the engines a param applies to (``x-engines``)."""
        return {"ops": op_schema()}

    @app.post("/jobs", status_code=202, response_model=SubmitOut, dependencies=deps, responses=_ERRORS,
              tags=["jobs"])
    def submit(spec: JobSpecIn):  # type: ignore[valid-type]
        """Queue a job. 422: bad spec; 400: output path not allowed; 429: queue full."""
        # python mode: the JSON mode would turn NaN and Infinity into null (a silent default)
        body = BaseModel.model_dump(spec, mode="python", exclude_none=False)
        body["op"] = getattr(body["op"], "value", body["op"])
        if body.get("range") is None:
            body.pop("range")
        job = runner.submit(body)
        return JSONResponse({"id": job["id"], "status": job["status"], "output": job["output"]},
                            status_code=202, headers={"Location": f"/jobs/{job['id']}"})

    @app.get("/jobs", response_model=list[JobOut], dependencies=deps, responses=_ERRORS, tags=["jobs"])
    def list_jobs(status: Literal["queued", "running", "done", "failed", "cancelled"] | None = None,
                  limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=20)):
        """Jobs, newest first, ``limit`` at a time (50 by default). When more are
        left, the ``X-Next-Cursor`` header holds the ``cursor`` for the next page."""
        jobs, nxt = runner.page(status=status, limit=limit, cursor=cursor)
        headers = {"X-Next-Cursor": nxt} if nxt else {}
        return JSONResponse(jobs, headers=headers)

    @app.get("/jobs/{job_id}", response_model=JobOut, dependencies=deps, responses=_ERRORS, tags=["jobs"])
    async def get_job(job_id: str):
        """One job: status, progress 0..1, stage, output, error."""
        # panels poll this: answered on the event loop (an indexed SQLite read,
        # live progress from memory) without a thread hop or model validation
        return JSONResponse(runner.get(job_id))

    @app.post("/jobs/{job_id}/cancel", response_model=JobOut, dependencies=deps, responses=_ERRORS,
              tags=["jobs"])
    def cancel_job(job_id: str):
        """Cancel (idempotent). A running job stops at its next progress step and
        leaves no output."""
        return runner.cancel(job_id)

    @app.delete("/jobs/{job_id}", status_code=204, dependencies=deps, responses=_ERRORS | {409: {"model": ErrorOut}},
                tags=["jobs"])
    def delete_job(job_id: str):
        """Forget a finished job (its output file stays). 409 while it is queued or running."""
        runner.delete(job_id)
        return Response(status_code=204)

    @app.websocket("/jobs/{job_id}/events")
    async def job_events(ws: WebSocket, job_id: str):
        """Progress messages (the job dict plus ``event``) until the job finishes.
        Send ``"cancel"`` (or ``{"action": "cancel"}``) to cancel it."""
        await ws.accept()
        try:
            job = await asyncio.to_thread(runner.get, job_id)
        except VeditError as exc:
            await ws.send_json({"ok": False, "error": str(exc), "type": type(exc).__name__, "status": 404})
            await ws.close(code=4404)
            return
        recv = asyncio.ensure_future(ws.receive())
        last = None
        try:
            while True:
                v = runner.version(job_id)
                if v != last:
                    last = v
                    job = await asyncio.to_thread(runner.get, job_id)
                    await ws.send_json({"event": "final" if job["status"] in TERMINAL else "progress", **job})
                    if job["status"] in TERMINAL:
                        break
                done, _ = await asyncio.wait({recv}, timeout=0.05)
                if done:
                    msg = recv.result()
                    if msg["type"] == "websocket.disconnect":
                        return
                    text = (msg.get("text") or "").strip()
                    with contextlib.suppress(ValueError, AttributeError):
                        if text == "cancel" or json.loads(text or "{}").get("action") == "cancel":
                            await asyncio.to_thread(runner.cancel, job_id)
                    recv = asyncio.ensure_future(ws.receive())
            await ws.close(code=1000)
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            recv.cancel()

    return _wrap(app, token, config)


def _wrap(app: FastAPI, token: str, config: ServerConfig) -> FastAPI:
    """Install the security middleware outermost (before FastAPI's own stack)."""
    app.add_middleware(SecurityMiddleware, token=token, origins=config.origins,
                       allowed_hosts=config.allowed_hosts, max_body=config.max_body)
    return app


def port_free(host: str, port: int) -> bool:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _protocol(header_timeout: float):
    """uvicorn's h11 protocol with a header timeout: a connection must send a
    complete request head within ``header_timeout`` seconds of opening (or of its
    previous response), else it is closed; half-open connections cannot pile up."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None  # still armed: no request head within the limit
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state != h11.IDLE:
                self._disarm()  # the request head is in

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

    return Protocol


def uvicorn_config(app: Any, config: ServerConfig) -> Any:
    """uvicorn settings: TLS when configured, idle (keep-alive) and header
    timeouts, small header limits."""
    import uvicorn

    return uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                          lifespan="on", http=_protocol(config.header_timeout),
                          timeout_keep_alive=int(max(1, config.idle_timeout)),
                          h11_max_incomplete_event_size=16 * 1024, limit_concurrency=512,
                          ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key)


def serve(config: ServerConfig, echo=print) -> None:
    """Run the server until interrupted (the ``vedit serve`` body)."""
    import uvicorn

    config.validate()
    ensure_token(config.home, echo=echo)
    if config.port and not port_free(config.host, config.port):
        raise InvalidInputError(f"--port {config.port}: already in use on {config.host} "
                                "(another vedit serve?); choose another port")
    from vedit.runtime import tune_allocator

    tune_allocator()  # jobs are long frame loops in this process
    app = create_app(config)
    echo(f"vedit server {__version__} at {config.url}")
    echo(f"token file: {config.token_file} (send 'Authorization: Bearer <token>')")
    echo(f"jobs database: {config.db_path}")
    if config.allow_remote:
        echo(f"listening on {config.host} over TLS: any machine that reaches it and holds the token can run jobs")
    uvicorn.Server(uvicorn_config(app, config)).run()
