"""The weekly build on a schedule (APScheduler 3, Europe/Stockholm), safe with many instances."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from redis.asyncio import Redis

from shared.weeks import STOCKHOLM, last_complete_week, shift_week

log = logging.getLogger("lagesbild.aggregate.jobs")
WEEKLY_JOB_ID = "weekly-lagesbild"
CATCH_UP_WEEKS = 8
_DAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


def parse_cron(expression: str) -> CronTrigger:
    """A five-field cron line ("0 6 * * mon") in Europe/Stockholm.

    Day-of-week must be given by name: APScheduler counts 0 as Monday, crontab as
    Sunday, and a silent one-day shift of the weekly meeting's picture is worse than an
    error at start-up.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron needs 5 fields (minute hour day month weekday): {expression!r}")
    minute, hour, day, month, weekday = fields
    if (
        weekday != "*"
        and not set(weekday.replace(",", " ").replace("-", " ").split()) <= _DAY_NAMES
    ):
        raise ValueError(f"give the weekday by name (mon…sun), not {weekday!r}")
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=STOCKHOLM
    )


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


def make_scheduler(cron: str, job: Callable[[], Awaitable[object]]) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=STOCKHOLM,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
    )
    scheduler.add_job(job, parse_cron(cron), id=WEEKLY_JOB_ID, replace_existing=True)
    return scheduler
