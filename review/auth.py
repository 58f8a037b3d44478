"""Sign-in state and the checks every route depends on: a live session, a permission, CSRF token and origin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from review.permissions import allowed
from review.security import same
from review.sessions import Session, load_session
from review.web import Forbidden, NotAuthenticated, app_state

SESSION_COOKIE = "rg_session"
LOGIN_COOKIE = "rg_login"  # double-submit token of the sign-in form (there is no session yet)


def current_session(request: Request) -> Session:
    """The signed-in user's live session; raises NotAuthenticated for none, a forged, an expired or an idle one."""
    state = app_state(request)
    idle = timedelta(minutes=state.config.idle_minutes)
    session = load_session(state.engine, state.config.secret_key, request.cookies.get(SESSION_COOKIE), idle)
    if session is None:
        raise NotAuthenticated()
    request.scope.setdefault("state", {})["session"] = session
    return session


def require(permission: str) -> Callable[..., Session]:
    """A dependency admitting only roles that hold `permission`."""

    def dependency(session: Annotated[Session, Depends(current_session)]) -> Session:
        if not allowed(session.user.role, permission):
            raise Forbidden(f"role {session.user.role} lacks {permission}")
        return session

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def check_origin(request: Request) -> None:
    """Refuse a browser POST sent from another site (Origin, Referer or Sec-Fetch-Site say so).

    Hosts are compared, not schemes: behind a TLS-terminating proxy the app sees http while the browser says https.
    """
    own = request.headers.get("host", "").lower()
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("cross-site request (Sec-Fetch-Site)")
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or _host(origin) != own):
        raise Forbidden(f"cross-origin request from {origin[:100]}")
    referer = request.headers.get("referer")
    if origin is None and referer is not None and _host(referer) != own:
        raise Forbidden("cross-origin referer")


async def check_csrf(request: Request, session: Annotated[Session, Depends(current_session)]) -> None:
    """Every state-changing request carries the session's CSRF token in its form and comes from our own origin."""
    check_origin(request)
    form = await request.form()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not same(token, session.csrf_token):
        raise Forbidden("missing or wrong CSRF token")
