"""Oversight pages: closed-loop KPIs, the audit log with its verification, a firm's explanation, model runs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from review import dispositions as flow
from review.auth import require
from review.db import dispositions, warnings_table
from review.kpis import compute_kpis, sector_chart
from review.lookup import load_warning, read_manifest, reasons_of, triggers_of
from review.permissions import scope_of
from review.queries import published
from review.sessions import Session
from review.web import app_state, lang_of, record, render

router = APIRouter()
AUDIT_PAGE = 100


@router.get("/kpis")
def kpis(request: Request, session: Annotated[Session, Depends(require("kpi.view"))]) -> Response:
    engine = app_state(request).engine
    themes = sorted({r["theme"] for r in published(engine)})
    chosen = request.query_params.get("theme", "prepaid_cards" if "prepaid_cards" in themes else "")
    theme = chosen if chosen in themes else None
    scope = scope_of(session.user)
    figures = compute_kpis(engine, theme, scope)
    record(request, "view.kpis", f"kpis:{theme or 'all'}")
    chart = sector_chart(engine, theme, scope, lang_of(request))
    groups = sorted(figures.by_group.items(), key=lambda item: -item[1]["pushed"])
    return render(request, "kpis.html.j2", themes=themes, theme=theme, k=figures, chart=chart, groups=groups)


@router.get("/audit")
def audit_page(request: Request, session: Annotated[Session, Depends(require("audit.view"))]) -> Response:
    audit = app_state(request).audit
    page_text = request.query_params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 1_000_000 else 1
    action = request.query_params.get("action", "")[:64]
    result = audit.verify()
    events = audit.events(AUDIT_PAGE, (page - 1) * AUDIT_PAGE, action or None)
    total = audit.count(action or None)
    record(request, "view.audit", "audit", {"page": page, "action": action, "verified": result.ok})
    pages = max(1, (total + AUDIT_PAGE - 1) // AUDIT_PAGE)
    return render(
        request, "audit.html.j2", result=result, events=events, page=page, pages=pages, action=action, total=total
    )


@router.get("/audit/verify")
def audit_verify(request: Request, session: Annotated[Session, Depends(require("audit.view"))]) -> Response:
    result = app_state(request).audit.verify()
    record(request, "audit.verify", "audit", {"ok": result.ok, "problems": len(result.problems)})
    body = {"ok": result.ok, "events": result.events, "days": result.days, "problems": result.problems}
    return JSONResponse(body)


@router.get("/explanations/{theme}/{as_of}/{entity_id}")
def explanation(
    request: Request,
    theme: str,
    as_of: str,
    entity_id: str,
    session: Annotated[Session, Depends(require("explanation.view"))],
) -> Response:
    key, row = load_warning(request, session, theme, as_of, entity_id)
    state = app_state(request)
    manifest = read_manifest(state.config.runs_dir, key)
    record(request, "view.explanation", key.label())
    return render(
        request,
        "explanation.html.j2",
        key=key,
        row=row,
        reasons=reasons_of(row),
        triggers=triggers_of(row),
        manifest=manifest,
        state=flow.current(state.engine, key),
        history=flow.history(state.engine, key),
    )


def _tier_outcomes(engine: sa.Engine) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    w, d = warnings_table, dispositions
    joined = w.outerjoin(d, sa.and_(d.c.theme == w.c.theme, d.c.as_of == w.c.as_of, d.c.entity_id == w.c.entity_id))
    status = sa.func.coalesce(d.c.status, "pending")
    query = sa.select(w.c.theme, w.c.as_of, w.c.tier, status.label("s"), sa.func.count().label("n"))
    query = query.select_from(joined).group_by(w.c.theme, w.c.as_of, w.c.tier, status)
    table: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    with engine.connect() as connection:
        for r in connection.execute(query):
            cell = table.setdefault((r.theme, r.as_of.isoformat()), {}).setdefault(r.tier, {})
            cell[r.s] = cell.get(r.s, 0) + r.n
    return table


@router.get("/models")
def models(request: Request, session: Annotated[Session, Depends(require("models.view"))]) -> Response:
    state = app_state(request)
    runs = published(state.engine)
    outcomes = _tier_outcomes(state.engine)
    rows: list[dict[str, Any]] = []
    for run in runs:
        key = flow.WarningKey(run["theme"], run["as_of"], "manifest")
        manifest = read_manifest(state.config.runs_dir, key)
        tiers = outcomes.get((run["theme"], run["as_of"].isoformat()), {})
        rows.append({**run, "manifest": manifest, "tiers": tiers, "inputs": json.dumps(manifest.get("inputs", {}))})
    record(request, "view.models", "models", {"runs": len(rows)})
    return render(request, "models.html.j2", runs=rows)
