"""A small world for the access tests: the three HTTP services (intake, TiB, archive) on
one real SQLite file and a real redis-server, two kommuner (0580 and 0581) with one
organisation of every kind in each, and helpers that make fresh resources (patrol orders
in a given state, open decisions, received reports) in either kommun."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.intake import audit
from services.intake.config import IntakeSettings
from services.intake.main import create_app as create_intake
from services.intake.models import IntakeReceipt
from services.maps import decision_store
from services.maps.config import MapsSettings
from services.maps.publish import publish_week
from services.maps.server import create_server_app
from services.tib import store
from services.tib.config import TibSettings
from services.tib.main import create_app as create_tib
from shared.access import create_organisation
from shared.contracts import DecisionV1, PatrolOrderEventV1, PatrolOrderV1
from shared.db import init_db, make_engine
from shared.weeks import iso_week_of, shift_week
from tests.support.snapshots import make_areas, rich_snapshot

OWN, OTHER = "0580", "0581"
KOMMUNER = (OWN, OTHER)
# The callers of the matrix: no token, each role, and two kinds of reporter that differ
# only in what they may do with patrol orders.
ROLES = ("none", "reporter", "tib", "meeting", "public", "admin", "guard", "fieldworker")
# role -> (access role, sources, guard company)
ORGS: dict[str, tuple[str, list[str], bool]] = {
    "reporter": ("reporter", ["vaktare"], False),  # guards' source, but not marked
    "tib": ("tib", ["ovrig"], False),
    "meeting": ("meeting", [], False),
    "public": ("public", [], False),
    "admin": ("admin", ["ovrig"], False),
    "guard": ("reporter", ["vaktare"], True),
    "fieldworker": ("reporter", ["faltsekreterare"], False),
}
IN_LINKOPING = {"lat": 58.4108, "lon": 15.6214}
WEEK = "2026-W47"


def org_name(role: str, kommun: str) -> str:
    return f"{role}-{kommun}"


@dataclass
class World:
    engine: Engine
    redis_url: str
    out: Path
    apps: dict[str, FastAPI]
    clients: dict[str, TestClient]
    tokens: dict[tuple[str, str], str]  # (role, kommun) -> token
    receipts: dict[tuple[str, str], int]  # (role, kommun) -> the org's receipt id of "r-1"
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    def token(self, role: str, kommun: str = OWN) -> str | None:
        return None if role == "none" else self.tokens[(role, kommun)]

    def bearer(self, role: str, kommun: str = OWN) -> dict[str, str]:
        token = self.token(role, kommun)
        return {"Authorization": f"Bearer {token}"} if token else {}

    # --- fresh resources -------------------------------------------------------------

    def order(self, kommun: str, status: str = "issued", assigned_to: str | None = None) -> str:
        """A new patrol order of `kommun` in `status` (issued or checked_in), as the TiB
        (and the kommun's guard company) would have made it."""
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        order = PatrolOrderV1(
            kommun=kommun, place="Skäggetorps centrum", lat=58.427, lon=15.589,
            area="Skäggetorp", start=start, end=start + timedelta(hours=4),
            task="Synlig patrullering", assigned_to=assigned_to,
        )  # fmt: skip
        events = [
            PatrolOrderEventV1(
                order_id=order.order_id,
                kommun=kommun,
                kind="issued",
                at=datetime.now(UTC),
                by=org_name("tib", kommun),
                order=order,
            )
        ]
        if status == "checked_in":
            guard = assigned_to or org_name("guard", kommun)
            events.append(
                PatrolOrderEventV1(
                    order_id=order.order_id,
                    kommun=kommun,
                    kind="checked_in",
                    at=datetime.now(UTC),
                    by=guard,
                )
            )
        for event in events:
            store.append_event(self.engine, event)
        return order.order_id

    def decision(self, kommun: str) -> str:
        """An open decision of `kommun`, as the archive server heard it on the stream."""
        now = datetime.now(UTC)
        decision = DecisionV1(
            decision_id=f"{kommun}-{uuid.uuid4().hex[:12]}",
            kommun=kommun,
            measure="Väktare vid skolan kvällstid",
            target="Skäggetorp",
            categories=["klotter"],
            responsible=["Kommunen"],
            from_week=iso_week_of(now),
            until_week=shift_week(iso_week_of(now), 4),
            decided_at=now,
        )
        assert decision_store.save_decision(self.engine, decision)
        return decision.decision_id

    def close(self) -> None:
        self._stack.close()


def decision_form(kommun: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "measure": "Extra nattvandring fredag och lördag",
        "target": "Skäggetorp",
        "categories": ["klotter"],
        "responsible": "Nattvandrarna",
        "from_week": shift_week(iso_week_of(now), 1),
        "until_week": shift_week(iso_week_of(now), 4),
        "decision_id": f"{kommun}-{uuid.uuid4().hex[:12]}",
    }


def report(kommun: str = OWN) -> dict[str, Any]:
    when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    return {"report_id": uuid.uuid4().hex, "kommun": kommun, "category": "klotter",
            "occurred_at": when, "description": "Klotter på muren", **IN_LINKOPING}  # fmt: skip


def order_body() -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return {
        "place": "Skäggetorps centrum",
        "lat": 58.427,
        "lon": 15.589,
        "area": "Skäggetorp",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
        "task": "Synlig patrullering vid entrén",
    }


def _receipt(engine: Engine, organisation: str, kommun: str) -> int:
    now = datetime.now(UTC)
    row = IntakeReceipt(
        organisation=organisation, report_id="r-1", kommun=kommun, channel="api",
        entry_id="0-1", content_hash="x", category="klotter", lat=58.41, lon=15.62,
        description_scrubbed="", occurred_at=now, submitted_at=now,
    )  # fmt: skip
    with Session(engine) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    assert row.id is not None
    return row.id


def build_world(tmp_path: Path, redis_url: str, **limits: Any) -> World:
    """Everything on one SQLite file; `limits` override the settings (all services)."""
    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    out = tmp_path / "out"
    engine = make_engine(db_url)
    init_db(engine)
    snap = rich_snapshot()
    for kommun in KOMMUNER:
        publish_week(out, snap.model_copy(update={"kommun": kommun}), make_areas(), tiles=None)
    common: dict[str, Any] = {
        "redis_url": redis_url,
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "kommuner": list(KOMMUNER),
        "auth_failures_per_minute": 0,
    }
    common |= {
        k: v for k, v in limits.items() if k in ("auth_failures_per_minute", "trusted_proxies")
    }
    intake = IntakeSettings(
        **common,
        intake_tile_url="",
        intake_rate_limit_per_minute=limits.get("intake_rate_limit_per_minute", 100_000),
    )
    tib = TibSettings(
        **common,
        tib_tile_url="",
        tib_heartbeat_seconds=limits.get("tib_heartbeat_seconds", 0.2),
        tib_rate_limit_per_minute=limits.get("tib_rate_limit_per_minute", 100_000),
        claim_idle_ms=1000,
        claim_interval_ms=300,
    )
    maps = MapsSettings(
        **common,
        output_dir=out,
        map_tiles="",
        maps_rate_limit_per_minute=limits.get("maps_rate_limit_per_minute", 100_000),
    )
    tokens: dict[tuple[str, str], str] = {}
    receipts: dict[tuple[str, str], int] = {}
    for kommun in KOMMUNER:
        for role, (access_role, sources, guard) in ORGS.items():
            name = org_name(role, kommun)
            _, tokens[(role, kommun)] = create_organisation(
                engine, name, kommun, access_role, sources, guard_company=guard
            )
            if sources:
                receipts[(role, kommun)] = _receipt(engine, name, kommun)
            audit.record(engine, name, access_role, "view", f"test:{name}")
    apps = {
        "intake": create_intake(intake),
        "tib": create_tib(tib),
        "maps": create_server_app(maps),
    }
    world = World(engine, redis_url, out, apps, {}, tokens, receipts)
    for name, app in apps.items():
        client = TestClient(app, follow_redirects=False)
        world.clients[name] = world._stack.enter_context(client)
    return world
