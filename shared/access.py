"""Who may do what: organisations, their tokens, roles and permissions, kommun scope, rate
limits and the throttling of failed token checks.

Shared by every service that checks a token (the intake, the published lägesbild, the
TiB's live picture and patrol orders). A token is 32 random bytes shown once at `org add`;
only its sha256 is stored. The token is the organisation's identity: a report's
`organisation` always comes from it.

Two things are not roles but marks on an organisation:
- a *guard company* (`org add … --guard-company`, `org guard-company NAME`): a reporter
  whose sources are only vaktare/ordningsvakt; only such an organisation may take the TiB's
  patrol orders (permission GUARD_ORDERS). Field workers and nattvandrare never can.
- an administrator's *extra kommuner* (`org add … --role admin --kommun A --kommun B`):
  every other token acts for its own kommun only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis as SyncRedis
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
LIVE = "live"  # the TiB's live picture, presence, every patrol order of the kommun
TASKING = "tasking"  # issue, change and cancel patrol orders; the patrol recommendation
RESTRICTED_LAGESBILD = "restricted_lagesbild"  # the archive's restricted pages
ADMIN = "admin"
# Acknowledge, check in, check out and report the outcome of a patrol order. No role has
# it: it comes with the guard-company mark (see `Caller.can`).
GUARD_ORDERS = "guard_orders"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "reporter": frozenset({SUBMIT, OWN_STATUS}),
    "tib": frozenset(
        {SUBMIT, OWN_STATUS, VIEW_REPORTS, AGGREGATED, LIVE, TASKING, RESTRICTED_LAGESBILD}
    ),
    "meeting": frozenset({VIEW_REPORTS, AGGREGATED, RESTRICTED_LAGESBILD, RECORD_DECISIONS}),
    "public": frozenset({AGGREGATED}),
    "admin": frozenset(
        {SUBMIT, OWN_STATUS, VIEW_REPORTS, AGGREGATED, AUDIT, LIVE, TASKING}
        | {RESTRICTED_LAGESBILD, RECORD_DECISIONS, ADMIN}
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
# A guard company reports as guards, nothing else: an organisation that also reports as
# field workers, nattvandrare, … is not one, whatever it is called.
GUARD_SOURCES = frozenset({Source.VAKTARE.value, Source.ORDNINGSVAKT.value})
GUARD_COMPANY_ROLE = "reporter"


# --- tokens ------------------------------------------------------------------------


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def role_allows(role: str, permission: str | None) -> bool:
    return permission is None or permission in ROLE_PERMISSIONS.get(role, frozenset())


def may_be_guard_company(role: str, sources: Iterable[str]) -> bool:
    sources = set(sources)
    return role == GUARD_COMPANY_ROLE and bool(sources) and sources <= GUARD_SOURCES


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
    guard_company: bool = False
    extra_kommuner: tuple[str, ...] = ()  # an administrator's further kommuner

    @property
    def kommuner(self) -> tuple[str, ...]:
        """Every kommun the token acts for: its own, and an administrator's further ones."""
        return (self.kommun, *self.extra_kommuner)

    def covers(self, kommun: str | None) -> bool:
        return kommun in self.kommuner

    def can(self, permission: str | None) -> bool:
        if permission == GUARD_ORDERS:
            return self.guard_company and may_be_guard_company(self.role, self.sources)
        return role_allows(self.role, permission)

    def can_any(self, permissions: str | Iterable[str] | None) -> bool:
        if permissions is None or isinstance(permissions, str):
            return self.can(permissions)
        return any(self.can(p) for p in permissions)


def _caller(org: Organisation) -> Caller:
    extra = tuple(k for k in org.kommun_list if k != org.kommun) if org.role == ADMIN else ()
    return Caller(
        org.name, org.kommun, org.role, tuple(org.sources), bool(org.guard_company), extra
    )


def create_organisation(
    engine: Engine,
    name: str,
    kommun: str,
    role: str,
    sources: list[str],
    *,
    guard_company: bool = False,
    extra_kommuner: Iterable[str] = (),
) -> tuple[Organisation, str]:
    """Register an organisation; returns it and its token (the only time it is known)."""
    name = name.strip()
    extra = [k for k in dict.fromkeys(k.strip() for k in extra_kommuner) if k != kommun]
    _check_new_organisation(name, kommun, role, sources)
    _check_kommuner(role, extra)
    if guard_company:
        _check_guard_company(name, role, sources)
    token = new_token()
    org = Organisation(
        name=name,
        kommun=kommun,
        role=role,
        allowed_sources=",".join(dict.fromkeys(sources)),
        token_hash=hash_token(token),
        created_at=datetime.now(UTC),
        guard_company=guard_company,
        extra_kommuner=",".join(extra),
    )
    with Session(engine) as s:
        s.add(org)
        try:
            s.commit()
        except IntegrityError:
            raise OrganisationError(f"Organisationen {name!r} finns redan.") from None
        s.refresh(org)
    return org, token


def _check_kommun_code(kommun: str) -> None:
    if not (len(kommun) == 4 and kommun.isdigit()):
        raise OrganisationError(f"Kommunkoden {kommun!r} ska vara fyra siffror, t.ex. 0580.")


def _check_new_organisation(name: str, kommun: str, role: str, sources: list[str]) -> None:
    if not name:
        raise OrganisationError("Ange organisationens namn.")
    _check_kommun_code(kommun)
    if role not in ROLE_PERMISSIONS:
        raise OrganisationError(f"Okänd roll {role!r}; välj en av {', '.join(ROLES)}.")
    unknown = [s for s in sources if s not in Source.__members__.values()]
    if unknown:
        known = ", ".join(s.value for s in Source)
        raise OrganisationError(f"Okänd källa {', '.join(unknown)}; välj bland {known}.")
    if role_allows(role, SUBMIT) and not sources:
        raise OrganisationError("En organisation som rapporterar behöver minst en --source.")


def _check_kommuner(role: str, extra: list[str]) -> None:
    for kommun in extra:
        _check_kommun_code(kommun)
    if extra and role != ADMIN:
        raise OrganisationError(
            f"Bara en administratör kan gälla flera kommuner; rollen {role} gäller en "
            "(ange --kommun en gång)."
        )


def _check_guard_company(name: str, role: str, sources: Iterable[str]) -> None:
    if role != GUARD_COMPANY_ROLE:
        raise OrganisationError(
            f"Ett väktarbolag har rollen {GUARD_COMPANY_ROLE}, inte {role}: {name} kan inte "
            "markeras som väktarbolag."
        )
    others = sorted(set(sources) - GUARD_SOURCES)
    if others or not sources:
        raise OrganisationError(
            f"Ett väktarbolag rapporterar bara som väktare eller ordningsvakt; {name} har "
            f"källorna {', '.join(sorted(sources)) or '–'}. Fältarbetare, nattvandrare och "
            "andra tar inte väktaruppdrag."
        )


def set_guard_company(engine: Engine, name: str, guard_company: bool) -> Organisation:
    """Mark (or unmark) an active organisation as a guard company that may take orders."""
    with Session(engine) as s:
        org = s.exec(select(Organisation).where(Organisation.name == name)).first()
        if org is None or org.revoked_at is not None:
            raise OrganisationError(f"Ingen aktiv organisation heter {name!r}.")
        if guard_company:
            _check_guard_company(org.name, org.role, org.sources)
        org.guard_company = guard_company
        s.add(org)
        s.commit()
        s.refresh(org)
    return org


def list_organisations(engine: Engine) -> list[Organisation]:
    with Session(engine) as s:
        return list(s.exec(select(Organisation).order_by(Organisation.name)).all())


def organisations_in(engine: Engine, kommuner: Collection[str]) -> list[str]:
    """The names of the organisations of these kommuner (revoked ones too)."""
    with Session(engine) as s:
        rows = s.exec(select(Organisation.name, Organisation.kommun)).all()
    return [name for name, kommun in rows if kommun in kommuner]


def revoke_organisation(engine: Engine, name: str) -> bool:
    """Revoke the organisation's token; False when there is no such active organisation.
    Every service checks the token on each request (and the TiB's open live streams at
    every heartbeat), so the revocation holds at once."""
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
    return _caller(org)


def caller_by_name(engine: Engine, name: str) -> Caller | None:
    with Session(engine) as s:
        org = s.exec(select(Organisation).where(Organisation.name == name)).first()
    if org is None or org.revoked_at is not None:
        return None
    return _caller(org)


# --- client address ----------------------------------------------------------------


def _address_in(address: str, networks: Collection[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in networks
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: Collection[str]) -> str:
    """The client's address: the peer's, unless the peer is a configured reverse proxy;
    then the nearest address in X-Forwarded-For that is not one of those proxies. Without
    configured proxies the header is ignored (anyone can write it)."""
    if not forwarded_for or not trusted_proxies or not _address_in(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _address_in(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


# --- rate limit and failed-authentication throttle -------------------------------------
#
# Fixed one-minute windows in Redis (one INCRBY per check). A fixed window may let twice the
# limit through across a window edge, which is fine for keeping one misbehaving client from
# flooding a service. The sync variants are for the archive server's threaded endpoints.


def _window(now: float) -> tuple[int, int]:
    """The current window and the whole seconds until it ends (at least 1)."""
    window = int(now // RATE_WINDOW_S)
    return window, max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))


def _rate_key(scope: str, who: str, window: int) -> str:
    digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:32]
    return f"lagesbild:{scope}:rate:{digest}:{window}"


def _fail_key(address: str, window: int) -> str:
    # One count per address for every service: three services do not give three budgets.
    return f"lagesbild:authfail:{address}:{window}"


async def rate_limited(
    redis: Redis, who: str, per_minute: int, *, scope: str = "intake", cost: int = 1
) -> int | None:
    """Count `cost` units (a request, or the reports of a batch) in `who`'s window of
    `scope`; seconds to wait when that goes over `per_minute` (then nothing is counted),
    else None. `per_minute` 0: no limit."""
    if per_minute <= 0 or cost <= 0:
        return None
    window, wait = _window(time.time())
    key = _rate_key(scope, who, window)
    pipe = redis.pipeline(transaction=True)
    pipe.incrby(key, cost)
    pipe.expire(key, RATE_WINDOW_S + 1)
    count, _ = await pipe.execute()
    if int(count) <= per_minute:
        return None
    await redis.decrby(key, cost)  # refused: a smaller batch may still fit
    return wait


def rate_limited_sync(
    redis: SyncRedis, who: str, per_minute: int, *, scope: str, cost: int = 1
) -> int | None:
    """`rate_limited` for synchronous callers."""
    if per_minute <= 0 or cost <= 0:
        return None
    window, wait = _window(time.time())
    key = _rate_key(scope, who, window)
    pipe = redis.pipeline(transaction=True)
    pipe.incrby(key, cost)
    pipe.expire(key, RATE_WINDOW_S + 1)
    count, _ = pipe.execute()
    if int(count) <= per_minute:
        return None
    redis.decrby(key, cost)
    return wait


async def auth_blocked(redis: Redis, address: str, limit: int) -> int | None:
    """Seconds to wait when `address` has failed `limit` token checks this minute."""
    if limit <= 0:
        return None
    window, wait = _window(time.time())
    count = await redis.get(_fail_key(address, window))
    return wait if count is not None and int(count) >= limit else None


async def auth_failed(redis: Redis, address: str, limit: int) -> None:
    """Count one failed token check (an unknown or revoked token) from `address`."""
    if limit <= 0:
        return
    window, _ = _window(time.time())
    key = _fail_key(address, window)
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW_S + 1)
    await pipe.execute()


def auth_blocked_sync(redis: SyncRedis, address: str, limit: int) -> int | None:
    if limit <= 0:
        return None
    window, wait = _window(time.time())
    count: Any = redis.get(_fail_key(address, window))
    return wait if count is not None and int(count) >= limit else None


def auth_failed_sync(redis: SyncRedis, address: str, limit: int) -> None:
    if limit <= 0:
        return
    window, _ = _window(time.time())
    key = _fail_key(address, window)
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW_S + 1)
    pipe.execute()


# --- secrets out of the logs -----------------------------------------------------------

# Open311's `api_key` travels in the query string (the spec wants it there); `token=` is
# what old links carried. Neither may reach a log line, nor may any token-shaped string.
_SECRET_PARAM = re.compile(r"(?i)((?:^|[?&;\s])(?:api_key|token|access_token|nyckel)=)[^&;#\s\"']*")
_TOKEN_SHAPE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{8,}")
REDACTED = "[dolt]"


def redact_secrets(text: str) -> str:
    """`text` with secret query parameters and token-shaped strings replaced."""
    return _TOKEN_SHAPE.sub(TOKEN_PREFIX + REDACTED, _SECRET_PARAM.sub(r"\1" + REDACTED, text))


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments through `redact_secrets`. The
    arguments stay a tuple of the same length: uvicorn's access formatter unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact_secrets(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def install_log_redaction(names: Iterable[str] = SERVER_LOGGERS) -> None:
    """Put `RedactSecrets` on the HTTP servers' loggers (idempotent). A logger's filters
    survive uvicorn's own logging set-up (dictConfig leaves existing filters alone)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
