"""Who may do what. Everything not listed for a role is refused with 403; reviewers are also limited to their towns."""

from __future__ import annotations

from review.queries import Scope
from review.users import User

READERS = frozenset({"reviewer", "supervisor", "auditor", "data_scientist"})
CASEWORK = frozenset({"reviewer", "supervisor", "auditor"})  # may open individual warnings and dossiers
EVERYONE = frozenset({"reviewer", "supervisor", "auditor", "data_scientist", "admin"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "home.view": EVERYONE,
    "list.view": READERS,
    "list.export": READERS,
    "warning.view": CASEWORK,
    "dossier.view": CASEWORK,
    "evidence.view": CASEWORK,
    "disposition.change": frozenset({"reviewer", "supervisor"}),
    "disposition.assign": frozenset({"supervisor"}),
    "disposition.reopen": frozenset({"supervisor"}),
    "kpi.view": READERS,
    "explanation.view": frozenset({"supervisor", "auditor"}),
    "audit.view": frozenset({"auditor"}),
    "models.view": frozenset({"data_scientist", "auditor"}),
    "users.view": frozenset({"admin", "auditor"}),
    "users.manage": frozenset({"admin"}),
}


def allowed(role: str, permission: str) -> bool:
    """True when the role holds the permission (an unknown permission is held by nobody)."""
    return role in PERMISSIONS.get(permission, frozenset())


def scope_of(user: User) -> Scope:
    """The towns whose warnings a user sees: a reviewer's own towns, everyone else all of them."""
    return user.towns if user.role == "reviewer" else None
