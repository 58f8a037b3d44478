"""The review web app: `create_app(ReviewConfig(...))` returns a FastAPI app (server-rendered, no JavaScript)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from review import routes_admin, routes_auth, routes_cases, routes_lists, routes_oversight
from review.audit import AuditLog
from review.auth import SESSION_COOKIE
from review.config import ReviewConfig
from review.db import connect, use_wal
from review.web import AppState, Forbidden, NotAuthenticated, NotFound, SecurityMiddleware, environment, record, render

STATIC = Path(__file__).parent / "static"


def _sqlite_pragmas(engine: sa.Engine) -> None:
    """WAL lets pages read while the audit log is written; it is a property of the database file."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with engine.connect() as connection:
            driver_connection = connection.connection.dbapi_connection
            assert isinstance(driver_connection, sqlite3.Connection)  # the sqlite dialect's driver (pysqlite)
            use_wal(driver_connection)


def _wants_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD")


async def _not_authenticated(request: Request, exc: Exception) -> Response:
    if _wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response: Response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    else:
        response = PlainTextResponse("sign in required", status_code=401)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _forbidden(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, Forbidden) else "forbidden"
    await run_in_threadpool(
        record, request, "access.denied", f"path:{request.url.path[:200]}", {"method": request.method, "reason": reason}
    )
    return render(request, "error.html.j2", 403, title="forbidden", text="forbidden_text")


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.html.j2", 404, title="not_found", text="not_found_text")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    if status == 403:
        return await _forbidden(request, exc)
    return PlainTextResponse(str(getattr(exc, "detail", "error")), status_code=status)


async def _invalid(request: Request, exc: Exception) -> Response:
    return render(request, "error.html.j2", 400, title="bad_request", text="bad_request")


def create_app(config: ReviewConfig) -> FastAPI:
    """Build the app over the review database named in `config` (its schema is migrated on start)."""
    engine = connect(config.db_url)
    _sqlite_pragmas(engine)
    config.attachments_dir.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="riskgen review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = AppState(config, engine, AuditLog(engine, config.secret_key, config.audit_anchor), environment())
    app.add_middleware(SecurityMiddleware, max_body=config.max_upload_bytes + 1024 * 1024)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    for module in (routes_auth, routes_lists, routes_cases, routes_oversight, routes_admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
