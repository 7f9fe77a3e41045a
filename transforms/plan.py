"""Incremental-recompute planning, as pure functions: what the metrics stage must
recompute given what changed since its last run. No I/O; the warehouse keeps the state
(``pipeline_state``) and the flows only pass it along.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from transforms.risk import weeks_to_recompute

# The metrics code's version: a digest of transforms/*.py. A gaitwatch whose metrics or
# flags changed recomputes every stored activity and week once, so that a history is never
# judged half by the old rules and half by the new (reports/render.py's CODE_VERSION does
# the same for pages).
CODE_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(Path(__file__).resolve().parent.glob("*.py")))
).hexdigest()[:16]


def metrics_fingerprint(thresholds: Mapping[str, Any], athletes: Sequence[Sequence[Any]]) -> str:
    """What the metrics depend on besides the data: threshold overrides, the athletes'
    settings (``[id, timezone, height_m, max_hr_bpm]`` each) and the metrics code
    (:data:`CODE_VERSION`). When it changes, everything is recomputed."""
    payload = {
        "thresholds": {k: thresholds[k] for k in sorted(thresholds)},
        "athletes": [list(a) for a in athletes],
        "code": CODE_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class MetricsPlan:
    """What one metrics run recomputes."""

    full: bool  # every running activity's gait metrics and every week
    # athlete -> first week_start to recompute (None: all of that athlete's weeks);
    # athletes not listed keep their weekly rows.
    weeks_from: dict[str, date | None] = field(default_factory=dict)


def plan_metrics(
    activities: pl.DataFrame,
    athletes: pl.DataFrame | None,
    fingerprint: str,
    saved_fingerprint: str | None,
    watermark: datetime | None,
    full: bool = False,
) -> MetricsPlan:
    """The weeks to recompute after activities were loaded since ``watermark`` (the
    largest ``loaded_at`` the last metrics run saw).

    A full plan when asked, when the fingerprint changed, or when there is no watermark.
    Otherwise, per athlete with newly loaded activities, the first week touched by them
    and every later week (:func:`transforms.risk.weeks_to_recompute`).
    """
    ids = sorted(activities["athlete_id"].unique().to_list()) if activities.height else []
    if full or saved_fingerprint != fingerprint or watermark is None:
        return MetricsPlan(True, dict.fromkeys(ids))
    fresh = activities.filter(pl.col("loaded_at") > pl.lit(watermark))
    fresh = fresh.group_by("athlete_id").agg(pl.col("started_at").min())
    plan: dict[str, date | None] = {}
    for athlete_id, started in sorted(fresh.iter_rows()):
        weeks = weeks_to_recompute(activities, athletes, started, [athlete_id])
        plan[athlete_id] = weeks["week_start"].min() if weeks.height else None  # type: ignore[assignment]
    return MetricsPlan(False, plan)
