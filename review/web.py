"""What every route shares: the app state, rendering with autoescaped Jinja2, errors, audit records, headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from review import labels
from review.audit import AuditLog
from review.config import ReviewConfig
from review.i18n import LANG_COOKIE, LANGS, translator
from review.permissions import allowed
from review.throttle import LoginThrottle
from risk_models.pii import mask_text

TEMPLATES = Path(__file__).parent / "templates"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # not "no-referrer": browsers then send `Origin: null` with our own forms
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class NotAuthenticated(Exception):
    """No live session: sign in again."""


class Forbidden(Exception):
    """The signed-in user may not do this (role, town, CSRF or origin)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(Exception):
    """Nothing is served for this request."""


@dataclass
class AppState:
    config: ReviewConfig
    engine: sa.Engine
    audit: AuditLog
    templates: Environment
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def environment() -> Environment:
    """Jinja2 with autoescaping on for every template (plain `Environment()` escapes nothing)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mask"] = mask_text
    env.filters["local_time"] = labels.local_time
    env.globals |= {
        "theme_title": labels.theme_title,
        "tier_label": labels.tier_label,
        "list_status_label": labels.list_status_label,
        "disposition_label": labels.disposition_label,
        "group_label": labels.group_label,
        "role_label": labels.role_label,
    }
    return env


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.review
    return state


def lang_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("lang", "zh"))


def lang_url(request: Request, lang: str) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    return request.url.path + "?" + urlencode({**params, "lang": lang})


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state, lang = app_state(request), lang_of(request)
    session = request.scope.get("state", {}).get("session")
    role = session.user.role if session else ""
    page = state.templates.get_template(template).render(
        t=translator(lang),
        lang=lang,
        session=session,
        user=session.user if session else None,
        csrf=session.csrf_token if session else "",
        can=lambda permission: bool(session) and allowed(role, permission),
        path=request.url.path,
        lang_zh=lang_url(request, "zh"),
        lang_en=lang_url(request, "en"),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def record(request: Request, action: str, obj: str, details: dict[str, Any] | None = None) -> None:
    """Write an audit event for the signed-in user (or `anonymous`)."""
    session = request.scope.get("state", {}).get("session")
    actor = session.user.username if session else "anonymous"
    app_state(request).audit.record(actor, action, obj, details)


def _query_lang(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang")
    return values[0] if values and values[0] in LANGS else None


def _cookie_lang(headers: dict[bytes, bytes]) -> str | None:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except Exception:  # a malformed cookie header is ignored, not fatal
        return None
    morsel = cookie.get(LANG_COOKIE)
    return morsel.value if morsel and morsel.value in LANGS else None


class SecurityMiddleware:
    """Language choice, request-size limit and security headers on every response (pure ASGI, no body buffering)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        chosen = _query_lang(scope)
        scope.setdefault("state", {})["lang"] = chosen or _cookie_lang(headers) or "zh"
        length = headers.get(b"content-length", b"0" if scope["method"] in ("GET", "HEAD") else b"")
        if not length.isdigit():  # a body of unknown length (chunked) is not accepted
            await _plain(send, 411, b"content-length required")
            return
        if int(length) > self.max_body:
            await _plain(send, 413, b"request too large")
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = dict(COMMON_HEADERS)
                extra["content-security-policy"] = PAGE_CSP
                extra["cache-control"] = "private, max-age=3600" if static else "no-store"
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                if chosen:
                    added.append((b"set-cookie", f"{LANG_COOKIE}={chosen}; Path=/; SameSite=Strict".encode()))
                message["headers"] = list(message.get("headers", [])) + added
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
