"""Roles and what each may do; the scope of people a staff member may read about.

| permission            | admin | caseworker            | youth_coordinator | viewer |
|-----------------------|-------|-----------------------|-------------------|--------|
| dashboard (aggregates)| yes   | yes                   | yes               | yes    |
| inbox, search         | yes   | yes (own municipalities) | no             | no     |
| transcript, files     | yes   | yes (own municipalities) | no             | no     |
| act on a conversation | yes   | yes (own municipalities) | no             | no     |
| export a conversation | yes   | yes (own municipalities) | no             | no     |
| export all transcripts| yes   | no                    | no                | no     |
| audit log             | yes   | no                    | no                | no     |
| staff accounts        | yes   | no                    | no                | no     |
| manage canned replies | yes   | no                    | no                | no     |
| follow-up figures     | yes   | yes (own municipalities) | no             | yes    |
| follow-up results     | yes   | yes (own municipalities) | no             | no     |
| youth programmes      | yes   | no                    | yes (own municipalities) | no |
| broadcasts            | yes   | no                    | yes (own municipalities) | no |
| knowledge-base review | yes   | yes (own municipalities) | no             | no     |
| API tokens, webhooks  | yes   | no                    | no                | no     |
| reports (aggregates)  | yes   | no                    | no                | yes    |

Exports of every follow-up submission go with "export all transcripts" (admins); sign-up exports
with "youth programmes".

A viewer sees aggregates only and never a line of a transcript. Municipalities limit caseworkers
and youth coordinators only (`LIMITED_ROLES`); an account without any sees every municipality.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, true

from db.models import Beneficiary


class Permission(StrEnum):
    DASHBOARD = "dashboard"
    INBOX = "inbox"
    TRANSCRIPT = "transcript"
    ACT = "act"
    EXPORT_CONVERSATION = "export_conversation"
    EXPORT_ALL = "export_all"
    AUDIT = "audit"
    CANNED_MANAGE = "canned_manage"
    FOLLOWUPS = "followups"
    FOLLOWUP_RESULTS = "followup_results"
    YOUTH = "youth"
    BROADCAST = "broadcast"
    KNOWLEDGE = "knowledge"
    INTEGRATIONS = "integrations"
    REPORTS = "reports"

    STAFF = "staff"


_CASEWORK = frozenset(
    {
        Permission.DASHBOARD,
        Permission.INBOX,
        Permission.TRANSCRIPT,
        Permission.ACT,
        Permission.EXPORT_CONVERSATION,
        Permission.FOLLOWUPS,
        Permission.FOLLOWUP_RESULTS,
        Permission.KNOWLEDGE,
    }
)
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "caseworker": _CASEWORK,
    "youth_coordinator": frozenset({Permission.DASHBOARD, Permission.YOUTH, Permission.BROADCAST}),
    "viewer": frozenset({Permission.DASHBOARD, Permission.FOLLOWUPS, Permission.REPORTS}),
}

LIMITED_ROLES = ("caseworker", "youth_coordinator")


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of one request."""

    id: int
    name: str
    role: str
    municipalities: tuple[str, ...]
    locale: str | None
    csrf: str
    session_id: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    @property
    def actor(self) -> str:
        return f"staff:{self.name}"

    @property
    def limited(self) -> bool:
        return self.role in LIMITED_ROLES and bool(self.municipalities)

    def scope(self) -> ColumnElement[bool]:
        """The people this staff member may read about, as a condition on Beneficiary."""
        if self.limited:
            return Beneficiary.municipality.in_(self.municipalities)
        return true()

    def sees(self, person: Beneficiary) -> bool:
        return self.sees_place(person.municipality)

    def sees_place(self, municipality: str | None) -> bool:
        """Whether a person, cohort or sign-up of this municipality is within this staff member's reach."""
        return not self.limited or municipality in self.municipalities
