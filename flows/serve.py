"""``gaitwatch serve``: the nightly and inbox-poll deployments, served from this process
to a running Prefect server; schedules from ``[schedule]``, the cron with an explicit time
zone (Prefect's default is UTC). The ephemeral server never schedules (FACTS.md): without
``PREFECT_API_URL`` this stops with a clear message. ``prefect.yaml`` declares the same
two deployments for ``prefect deploy`` + a worker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flows.config import Config, ConfigError

# Not the names prefect.yaml uses: a deployment created by `prefect deploy` (worker,
# pull steps) and one served from a process must not overwrite each other.
NIGHTLY = "nightly-served"
INBOX_POLL = "inbox-poll-served"


def build_deployments(cfg: Config) -> list[Any]:
    """The two runner deployments for ``prefect.serve``."""
    from prefect.schedules import Cron, Interval

    from flows.flows import ingest_inbox, nightly

    params = {"config": str(cfg.source)} if cfg.source else {}
    return [
        nightly.to_deployment(
            name=NIGHTLY,
            schedules=[Cron(cfg.schedule.nightly_cron, timezone=cfg.schedule.timezone)],
            parameters=params,
            concurrency_limit=1,
            description="Ingest the inbox, metrics, data tests, reports, publish.",
            tags=["gaitwatch"],
        ),
        ingest_inbox.to_deployment(
            name=INBOX_POLL,
            schedules=[Interval(timedelta(seconds=cfg.schedule.inbox_poll_seconds),
                                timezone=cfg.schedule.timezone)],
            parameters=params,
            concurrency_limit=1,
            description="Load files dropped in the inbox since the last poll.",
            tags=["gaitwatch"],
        ),
    ]


def serve_deployments(cfg: Config) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError(
            "`gaitwatch serve` needs a Prefect server: start one with "
            "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api "
            "(or schedule `gaitwatch run` with cron/systemd; see docs/operations.md)"
        )
    serve(*build_deployments(cfg))
