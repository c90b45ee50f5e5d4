"""The weekly build on a schedule, safe with many aggregate instances."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from redis.asyncio import Redis

from shared.weeks import last_complete_week, shift_week

log = logging.getLogger("lagesbild.aggregate.jobs")
WEEKLY_JOB_ID = "weekly-lagesbild"
CATCH_UP_WEEKS = 8


def weeks_to_build(now: datetime, built: set[str], weeks_back: int = CATCH_UP_WEEKS) -> list[str]:
    """The last complete week plus any earlier complete week not yet built (catch-up)."""
    last = last_complete_week(now)
    candidates = [shift_week(last, -i) for i in range(weeks_back)]
    return sorted(w for w in candidates if w == last or w not in built)


BuildWeek = Callable[[str, str], Awaitable[None]]
BuiltWeeks = Callable[[str], set[str]]


async def weekly_build(
    redis: Redis,
    kommuner: list[str],
    build_week: BuildWeek,
    built_weeks: BuiltWeeks,
    now: datetime | None = None,
) -> list[tuple[str, str]]:
    """Build due weeks; a Redis lease per (kommun, week) keeps two instances from both doing it."""
    now = now or datetime.now(UTC)
    done = []
    for kommun in kommuner:
        for week in weeks_to_build(now, built_weeks(kommun)):
            lease = f"lagesbild:lease:weekly-build:{kommun}:{week}"
            if not await redis.set(lease, "1", nx=True, ex=6 * 3600):
                log.info("weekly build %s %s: another instance has it", kommun, week)
                continue
            await build_week(kommun, week)
            done.append((kommun, week))
    return done
