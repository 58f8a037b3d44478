"""Ranked warning lists per theme and business date: filters, sort, search, pages, and the CSV export."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from review.auth import require
from review.dispositions import STATUSES
from review.exports import reason_texts, warnings_csv
from review.labels import LIST_STATUS_LABELS, TIER_ORDER
from review.permissions import scope_of
from review.queries import ListFilter, all_warnings, facets, list_warnings, parse_key, run_exists
from review.sessions import Session
from review.web import Forbidden, NotFound, app_state, lang_of, record, render

router = APIRouter()
SORT_KEYS = ("rank", "probability", "name", "town", "disposition", "due")


def _run(request: Request, session: Session, theme: str, as_of: str) -> tuple[str, date, ListFilter]:
    """A pushed run named by the route, and the filter; a reviewer may filter only on own towns."""
    parsed = parse_key(theme, as_of)
    if parsed is None or not run_exists(app_state(request).engine, parsed[0], parsed[1]):
        raise NotFound()
    f = ListFilter.from_params(request.query_params)
    if f.town and not session.user.covers(f.town):
        raise Forbidden(f"town {f.town} outside the user's towns")
    return parsed[0], parsed[1], f


def _details(f: ListFilter, total: int) -> dict[str, Any]:
    return {"filter": {k: v for k, v in f.__dict__.items() if v not in ("", None)}, "rows": total}


@router.get("/warnings/{theme}/{as_of}")
def warning_list(
    request: Request, theme: str, as_of: str, session: Annotated[Session, Depends(require("list.view"))]
) -> Response:
    name, day, f = _run(request, session, theme, as_of)
    state, scope = app_state(request), scope_of(session.user)
    page = list_warnings(state.engine, name, day, f, scope, state.config.page_size)
    record(request, "view.list", f"list:{name}/{day.isoformat()}", _details(f, page.total) | {"page": page.page})
    lang = lang_of(request)
    first_reason = {r["entity_id"]: (reason_texts(r, lang, top=1) or [""])[0] for r in page.rows}
    return render(
        request,
        "list.html.j2",
        theme=name,
        as_of=day,
        f=f,
        page=page,
        first_reason=first_reason,
        facets=facets(state.engine, name, day, scope),
        tiers=TIER_ORDER,
        statuses=tuple(LIST_STATUS_LABELS),
        dispositions=STATUSES,
        sorts=SORT_KEYS,
        export_query=f.query_string(page=1),
    )


@router.get("/warnings/{theme}/{as_of}/export.csv")
def export_list(
    request: Request, theme: str, as_of: str, session: Annotated[Session, Depends(require("list.export"))]
) -> Response:
    name, day, f = _run(request, session, theme, as_of)
    rows = all_warnings(app_state(request).engine, name, day, f, scope_of(session.user))
    record(request, "export.csv", f"list:{name}/{day.isoformat()}", _details(f, len(rows)))
    filename = f"warnings_{name}_{day.isoformat()}.csv"
    return Response(
        warnings_csv(rows, lang_of(request)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
