"""Scheduled jobs for any service: APScheduler 3 in Europe/Stockholm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from shared.weeks import STOCKHOLM

_DAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
Job = Callable[[], Awaitable[object]]
Schedule: TypeAlias = str | BaseTrigger  # a cron line, or any APScheduler trigger


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
    names = set(weekday.replace(",", " ").replace("-", " ").split())
    if weekday != "*" and not names <= _DAY_NAMES:
        raise ValueError(f"give the weekday by name (mon…sun), not {weekday!r}")
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=STOCKHOLM
    )


def make_scheduler(jobs: dict[str, tuple[Schedule, Job]]) -> AsyncIOScheduler:
    """job id -> (cron line or trigger, coroutine function). Start it inside the running loop."""
    scheduler = AsyncIOScheduler(
        timezone=STOCKHOLM,
        # Weekly and daily jobs: a run missed while the service was down is made up once
        # (coalesce) within six hours, never several times.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
    )
    for job_id, (when, job) in jobs.items():
        trigger = parse_cron(when) if isinstance(when, str) else when
        scheduler.add_job(job, trigger, id=job_id, replace_existing=True)
    return scheduler
