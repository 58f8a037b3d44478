"""Sign in, sign out, the home page and the health check."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from review.auth import LOGIN_COOKIE, SESSION_COOKIE, check_csrf, check_origin, current_session, require
from review.permissions import scope_of
from review.queries import overview
from review.security import new_token, same
from review.sessions import Session, create_session, end_session
from review.users import authenticate
from review.web import Forbidden, app_state, record, render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path of this site is a valid place to return to after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    return "ok"


def _login_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    token = new_token()
    response = render(
        request,
        "login.html.j2",
        status_code,
        login_token=token,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    secure = app_state(request).config.cookie_secure
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/login")
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    login_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    check_origin(request)
    if not same(login_token, request.cookies.get(LOGIN_COOKIE)):
        raise Forbidden("sign-in form token missing or wrong")
    state, name = app_state(request), username.strip().lower()
    if state.throttle.blocked(name):
        record(request, "login.throttled", f"user:{name[:64]}")
        return _login_page(request, "login_throttled", 429)
    user = authenticate(state.engine, name, password)
    if user is None:
        state.throttle.failed(name)
        record(request, "login.failed", f"user:{name[:64]}")
        return _login_page(request, "login_failed", 401)
    state.throttle.succeeded(name)
    lifetime = timedelta(hours=state.config.session_hours)
    token, _ = create_session(state.engine, state.config.secret_key, user.username, lifetime)
    state.audit.record(user.username, "login", f"user:{user.username}", {"role": user.role})
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=state.config.cookie_secure,
        max_age=int(lifetime.total_seconds()),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, session: Annotated[Session, Depends(current_session)]) -> Response:
    state = app_state(request)
    end_session(state.engine, state.config.secret_key, request.cookies.get(SESSION_COOKIE))
    record(request, "logout", f"user:{session.user.username}")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, session: Annotated[Session, Depends(require("home.view"))]) -> Response:
    runs = overview(app_state(request).engine, scope_of(session.user)) if session.user.role != "admin" else []
    record(request, "view.home", "home")
    return render(request, "home.html.j2", runs=runs)
