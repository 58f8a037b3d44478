"""User administration (admin), readable by auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from review.auth import check_csrf, require
from review.sessions import Session
from review.users import ROLE_LABELS, ROLES, UserError, add_user, list_users, update_user
from review.web import app_state, record, render

router = APIRouter()


def _towns(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _users_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    people = list_users(app_state(request).engine)
    return render(
        request,
        "users.html.j2",
        status_code,
        people=people,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        error=error,
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/admin/users")
def users_page(request: Request, session: Annotated[Session, Depends(require("users.view"))]) -> Response:
    record(request, "view.users", "users")
    return _users_page(request)


@router.post("/admin/users", dependencies=[Depends(check_csrf)])
def create_user(
    request: Request,
    session: Annotated[Session, Depends(require("users.manage"))],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[str, Form(max_length=32)],
    towns: Annotated[str, Form(max_length=2000)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    state = app_state(request)
    try:
        add_user(
            state.engine,
            username.strip().lower(),
            password,
            role,
            _towns(towns),
            display_name=display_name.strip() or None,
            audit=state.audit,
            actor=session.user.username,
        )
    except UserError as exc:
        return _users_page(request, str(exc), 400)
    return RedirectResponse("/admin/users?saved=1", status_code=303)


@router.post("/admin/users/{username}", dependencies=[Depends(check_csrf)])
def change_user(
    request: Request,
    username: str,
    session: Annotated[Session, Depends(require("users.manage"))],
    role: Annotated[str, Form(max_length=32)],
    towns: Annotated[str, Form(max_length=2000)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    state = app_state(request)
    try:
        update_user(
            state.engine,
            username,
            role=role,
            towns=_towns(towns),
            active=active == "on",
            password=password or None,
            audit=state.audit,
            actor=session.user.username,
        )
    except UserError as exc:
        return _users_page(request, str(exc), 400)
    return RedirectResponse("/admin/users?saved=1", status_code=303)
