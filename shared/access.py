"""Who may do what: organisations, their tokens, roles and permissions, rate limits.

Shared by every service that checks a token (the intake, the published lägesbild, the
TiB's live picture). A token is 32 random bytes shown once at `org add`; only its sha256
is stored. The token is the organisation's identity: a report's `organisation` always
comes from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from shared.categories import Source
from shared.models_access import Organisation

TOKEN_PREFIX = "lgb_"
RATE_WINDOW_S = 60

# What each role may do. Other services check the same names (e.g. "live" for the TiB's
# live picture, "restricted_lagesbild" for the meeting's map).
SUBMIT = "submit"  # send reports and nollrapporter
OWN_STATUS = "own_status"  # see the status of the organisation's own reports
VIEW_REPORTS = "view_reports"  # see single reports of the kommun (scrubbed, no identity)
AGGREGATED = "aggregated"  # counts per area and week
AUDIT = "audit"  # read the audit log
RECORD_DECISIONS = "record_decisions"  # enter and close the meeting's decisions (maps-serve)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "reporter": frozenset({SUBMIT, OWN_STATUS}),
    "tib": frozenset(
        {SUBMIT, OWN_STATUS, VIEW_REPORTS, AGGREGATED, "live", "tasking", "restricted_lagesbild"}
    ),
    "meeting": frozenset({VIEW_REPORTS, AGGREGATED, "restricted_lagesbild", RECORD_DECISIONS}),
    "public": frozenset({AGGREGATED}),
    "admin": frozenset(
        {SUBMIT, OWN_STATUS, VIEW_REPORTS, AGGREGATED, AUDIT, "live", "tasking"}
        | {"restricted_lagesbild", RECORD_DECISIONS, "admin"}
    ),
}
ROLES = tuple(ROLE_PERMISSIONS)
ROLE_LABELS = {
    "reporter": "Rapportör",
    "tib": "Tjänsteman i beredskap",
    "meeting": "Samverkansmöte",
    "public": "Allmänheten",
    "admin": "Administratör",
}


# --- tokens ------------------------------------------------------------------------


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def role_allows(role: str, permission: str | None) -> bool:
    return permission is None or permission in ROLE_PERMISSIONS.get(role, frozenset())


# --- organisations -----------------------------------------------------------------


class OrganisationError(ValueError):
    """A request to change organisations that cannot be done, in Swedish."""


@dataclass(frozen=True)
class Caller:
    """The organisation behind a request's token."""

    organisation: str
    kommun: str
    role: str
    sources: tuple[str, ...]

    def can(self, permission: str | None) -> bool:
        return role_allows(self.role, permission)


def create_organisation(
    engine: Engine, name: str, kommun: str, role: str, sources: list[str]
) -> tuple[Organisation, str]:
    """Register an organisation; returns it and its token (the only time it is known)."""
    name = name.strip()
    _check_new_organisation(name, kommun, role, sources)
    token = new_token()
    org = Organisation(
        name=name,
        kommun=kommun,
        role=role,
        allowed_sources=",".join(dict.fromkeys(sources)),
        token_hash=hash_token(token),
        created_at=datetime.now(UTC),
    )
    with Session(engine) as s:
        s.add(org)
        try:
            s.commit()
        except IntegrityError:
            raise OrganisationError(f"Organisationen {name!r} finns redan.") from None
        s.refresh(org)
    return org, token


def _check_new_organisation(name: str, kommun: str, role: str, sources: list[str]) -> None:
    if not name:
        raise OrganisationError("Ange organisationens namn.")
    if not (len(kommun) == 4 and kommun.isdigit()):
        raise OrganisationError(f"Kommunkoden {kommun!r} ska vara fyra siffror, t.ex. 0580.")
    if role not in ROLE_PERMISSIONS:
        raise OrganisationError(f"Okänd roll {role!r}; välj en av {', '.join(ROLES)}.")
    unknown = [s for s in sources if s not in Source.__members__.values()]
    if unknown:
        known = ", ".join(s.value for s in Source)
        raise OrganisationError(f"Okänd källa {', '.join(unknown)}; välj bland {known}.")
    if role_allows(role, SUBMIT) and not sources:
        raise OrganisationError("En organisation som rapporterar behöver minst en --source.")


def list_organisations(engine: Engine) -> list[Organisation]:
    with Session(engine) as s:
        return list(s.exec(select(Organisation).order_by(Organisation.name)).all())


def revoke_organisation(engine: Engine, name: str) -> bool:
    """Revoke the organisation's token; False when there is no such active organisation."""
    with Session(engine) as s:
        org = s.exec(select(Organisation).where(Organisation.name == name)).first()
        if org is None or org.revoked_at is not None:
            return False
        org.revoked_at = datetime.now(UTC)
        s.add(org)
        s.commit()
    return True


def find_caller(engine: Engine, token: str) -> Caller | None:
    """The active organisation holding `token`, or None."""
    digest = hash_token(token)
    with Session(engine) as s:
        org = s.exec(select(Organisation).where(Organisation.token_hash == digest)).first()
    # The lookup already matched the hash; the constant-time compare keeps it so if the
    # lookup ever becomes a scan or a prefix search.
    if org is None or org.revoked_at is not None or not token_matches(token, org.token_hash):
        return None
    return Caller(org.name, org.kommun, org.role, tuple(org.sources))


def caller_by_name(engine: Engine, name: str) -> Caller | None:
    with Session(engine) as s:
        org = s.exec(select(Organisation).where(Organisation.name == name)).first()
    if org is None or org.revoked_at is not None:
        return None
    return Caller(org.name, org.kommun, org.role, tuple(org.sources))


# --- rate limit --------------------------------------------------------------------


async def rate_limited(redis: Redis, token_hash: str, per_minute: int) -> int | None:
    """Count one request in the token's fixed one-minute window; seconds to wait when
    over the limit, else None. Fixed windows may let 2x through across a window edge,
    which is fine for keeping one misbehaving client from flooding the stream."""
    if per_minute <= 0:
        return None
    now = time.time()
    window = int(now // RATE_WINDOW_S)
    key = f"lagesbild:intake:rate:{token_hash[:32]}:{window}"
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW_S + 1)
    count, _ = await pipe.execute()
    if int(count) <= per_minute:
        return None
    return max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))
