"""What the aggregate schedules: the weekly build (safe with many aggregate instances), the
due revisions of late reports, and the daily purge of its own tables."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from shared.weeks import last_complete_week, shift_week

log = logging.getLogger("lagesbild.aggregate.jobs")
WEEKLY_JOB_ID = "weekly-lagesbild"
DUE_REVISIONS_JOB_ID = "due-revisions"
PURGE_JOB_ID = "purge-aggregate"  # the daily purge of its own tables (retention.py)
CATCH_UP_WEEKS = 8


def weeks_to_build(now: datetime, built: set[str], weeks_back: int = CATCH_UP_WEEKS) -> list[str]:
    """The last complete week plus any earlier complete week not yet built (catch-up)."""
    last = last_complete_week(now)
    candidates = [shift_week(last, -i) for i in range(weeks_back)]
    return sorted(w for w in candidates if w == last or w not in built)


def revision_due_at(last_built: datetime, now: datetime, min_interval_s: float) -> datetime:
    """When a late report may make the week's next revision: at once if the newest one is
    at least `min_interval_s` old, else that long after it. Debounced, so a stream of late
    reports makes one revision per interval, and revisions cannot be compared to isolate a
    single report (issue #13)."""
    return max(now, last_built + timedelta(seconds=min_interval_s))


def due_revisions_check_s(min_interval_s: float) -> float:
    """How often to look for due revisions: a fifth of the interval, 1 s to 60 s."""
    return min(60.0, max(1.0, min_interval_s / 5))


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
