"""What the ingest schedules: the daily purge of its own tables (GDPR retention)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from services.ingest.config import IngestSettings
from services.ingest.retention import PURGES
from shared.retention import purge_job
from shared.scheduling import Job, Schedule

PURGE_JOB_ID = "purge-ingest"


def scheduled_jobs(settings: IngestSettings, engine: Engine) -> dict[str, tuple[Schedule, Job]]:
    """job id -> (when, job), for `shared.scheduling.make_scheduler`."""
    purge = purge_job(engine, PURGES, retention_days=settings.retention_days, run_by="ingest")
    return {PURGE_JOB_ID: (settings.purge_cron, purge)}
