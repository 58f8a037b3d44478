"""One warning: its page with the disposition workflow, its dossier, and its evidence files."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from review import dispositions as flow
from review.auth import check_csrf, require
from review.evidence import EvidenceError, check_upload, evidence_for, find_evidence, read_evidence, save_evidence
from review.lookup import load_warning, read_dossier, reasons_of, triggers_of
from review.permissions import allowed
from review.pii_guard import guard_page
from review.sessions import Session
from review.users import list_users
from review.web import NotFound, app_state, record, render

router = APIRouter()
BASE = "/warnings/{theme}/{as_of}/{entity_id}"
DOSSIER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; sandbox"
)


def _assignees(request: Request, town: str | None) -> list[Any]:
    people = list_users(app_state(request).engine)
    return [u for u in people if u.active and u.role in ("reviewer", "supervisor") and u.covers(town)]


def _page(request: Request, session: Session, key: flow.WarningKey, row: dict[str, Any], **extra: Any) -> Response:
    engine, role = app_state(request).engine, session.user.role
    state = flow.current(engine, key)
    reopen = allowed(role, "disposition.reopen")
    return render(
        request,
        "warning.html.j2",
        status_code=extra.pop("status_code", 200),
        key=key,
        row=row,
        reasons=reasons_of(row),
        triggers=triggers_of(row),
        state=state,
        next_statuses=flow.allowed_next(state["status"], reopen),
        history=flow.history(engine, key),
        evidence=evidence_for(engine, key),
        assignees=_assignees(request, row.get("area")) if allowed(role, "disposition.assign") else [],
        error=extra.get("error", ""),
        saved=request.query_params.get("saved") == "1",
    )


@router.get(BASE)
def warning_page(
    request: Request,
    theme: str,
    as_of: str,
    entity_id: str,
    session: Annotated[Session, Depends(require("warning.view"))],
) -> Response:
    key, row = load_warning(request, session, theme, as_of, entity_id)
    record(request, "view.warning", key.label())
    return _page(request, session, key, row)


@router.get(BASE + "/dossier")
def dossier(
    request: Request,
    theme: str,
    as_of: str,
    entity_id: str,
    session: Annotated[Session, Depends(require("dossier.view"))],
) -> Response:
    key, row = load_warning(request, session, theme, as_of, entity_id)
    content = read_dossier(app_state(request).config.runs_dir, key)
    record(request, "view.dossier", key.label(), {"source": "run folder" if content else "warning record"})
    if content is None:
        return render(
            request, "fallback_dossier.html.j2", key=key, row=row, reasons=reasons_of(row), triggers=triggers_of(row)
        )
    headers = {"content-security-policy": DOSSIER_CSP}
    return Response(guard_page(content), media_type="text/html; charset=utf-8", headers=headers)


def _due(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _upload(file: UploadFile | None, limit: int) -> tuple[str, bytes] | None:
    if file is None or not file.filename:
        return None
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise EvidenceError(f"files are limited to {limit // (1024 * 1024)} MB")
    check_upload(file.filename, content)  # refused before any state changes
    return file.filename, content


@router.post(BASE + "/disposition", dependencies=[Depends(check_csrf)])
async def record_step(
    request: Request,
    theme: str,
    as_of: str,
    entity_id: str,
    session: Annotated[Session, Depends(require("disposition.change"))],
    to_status: Annotated[str, Form(max_length=16)],
    notes: Annotated[str, Form(max_length=flow.MAX_NOTE)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
    evidence: Annotated[UploadFile | None, File()] = None,
) -> Response:
    upload = await _safe_upload(request, evidence)
    change = flow.Change(to_status, notes, _due(due_date), reopen=to_status == flow.REOPEN_TO)
    return await run_in_threadpool(_step, request, session, (theme, as_of, entity_id), change, upload)


async def _safe_upload(request: Request, file: UploadFile | None) -> Upload:
    try:
        return await _upload(file, app_state(request).config.max_upload_bytes)
    except EvidenceError as exc:
        return exc


Upload = tuple[str, bytes] | EvidenceError | None


def _step(
    request: Request, session: Session, route: tuple[str, str, str], change: flow.Change, upload: Upload
) -> Response:
    key, row = load_warning(request, session, *route)
    state = app_state(request)
    reopening = flow.current(state.engine, key)["status"] in flow.FINAL
    if reopening and not allowed(session.user.role, "disposition.reopen"):
        return _page(request, session, key, row, error="only a supervisor may reopen a decision", status_code=403)
    if isinstance(upload, EvidenceError):
        return _page(request, session, key, row, error=str(upload), status_code=400)
    try:
        history_id = flow.transition(state.engine, key, change, session.user.username)
    except flow.DispositionError as exc:
        return _page(request, session, key, row, error=str(exc), status_code=409)
    attached = []
    if upload is not None:
        try:
            attached.append(
                save_evidence(
                    state.engine, state.config.attachments_dir, key, upload, session.user.username, history_id
                )
            )
        except EvidenceError as exc:
            record(request, "disposition.transition", key.label(), {"to": change.to_status, "history": history_id})
            return _page(request, session, key, row, error=str(exc), status_code=400)
    details = {"to": change.to_status, "history": history_id, "evidence": attached, "note_chars": len(change.notes)}
    record(request, "disposition.transition", key.label(), details)
    return RedirectResponse(f"{key_path(key)}?saved=1", status_code=303)


def key_path(key: flow.WarningKey) -> str:
    return f"/warnings/{quote(key.theme)}/{key.as_of.isoformat()}/{quote(key.entity_id)}"


@router.post(BASE + "/assign", dependencies=[Depends(check_csrf)])
def assign(
    request: Request,
    theme: str,
    as_of: str,
    entity_id: str,
    session: Annotated[Session, Depends(require("disposition.assign"))],
    assignee: Annotated[str, Form(max_length=64)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    key, row = load_warning(request, session, theme, as_of, entity_id)
    if assignee and assignee not in {u.username for u in _assignees(request, row.get("area"))}:
        return _page(request, session, key, row, error=f"{assignee} cannot take this warning", status_code=400)
    history_id = flow.assign(app_state(request).engine, key, assignee or None, _due(due_date), session.user.username)
    record(request, "disposition.assign", key.label(), {"assignee": assignee, "due": due_date, "history": history_id})
    return RedirectResponse(f"{key_path(key)}?saved=1", status_code=303)


@router.get("/evidence/{attachment_id}")
def evidence_file(
    request: Request, attachment_id: str, session: Annotated[Session, Depends(require("evidence.view"))]
) -> Response:
    state = app_state(request)
    found = find_evidence(state.engine, attachment_id)
    if found is None:
        raise NotFound()
    load_warning(request, session, found["theme"], found["as_of"].isoformat(), found["entity_id"])
    content = read_evidence(state.config.attachments_dir, found)
    if content is None:
        raise NotFound()
    record(request, "evidence.download", f"evidence:{found['id']}", {"sha256": found["sha256"]})
    disposition = f"attachment; filename=\"evidence\"; filename*=UTF-8''{quote(found['filename'])}"
    headers = {"content-disposition": disposition, "content-security-policy": "default-src 'none'; sandbox"}
    return Response(content, media_type=found["content_type"], headers=headers)
