"""Frame builders shared by the transforms tests (no tests here).

Samples are built column by column through ``ingest.schema.conform``, so every frame has
exactly the warehouse's sample columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ingest.schema import SAMPLE_SCHEMA, conform
from transforms.schema import ACTIVITY_INPUT_SCHEMA

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # a Monday


def samples(
    n: int,
    *,
    activity_id: str = "a1",
    athlete_id: str = "ath",
    start: datetime = T0,
    step_s: float | Sequence[float] = 1.0,
    sport: str = "running",
    **cols: Any,
) -> pl.DataFrame:
    """``n`` samples; each keyword is a scalar (repeated) or a list of length ``n``.

    ``step_s`` is the spacing (scalar) or the list of the ``n - 1`` spacings.
    """
    gaps = [float(step_s)] * (n - 1) if isinstance(step_s, int | float) else [float(x) for x in step_s]
    assert len(gaps) == n - 1
    t = [start]
    for g in gaps:
        t.append(t[-1] + timedelta(seconds=g))
    data: dict[str, Any] = {"ts": t, "session_index": [0] * n, "sport": [sport] * n}
    for k, v in cols.items():
        data[k] = list(v) if isinstance(v, list | tuple) else [v] * n
        assert len(data[k]) == n, k
    df = conform(pl.DataFrame(data, strict=False), SAMPLE_SCHEMA)
    return df.with_columns(activity_id=pl.lit(activity_id), athlete_id=pl.lit(athlete_id))


def activities(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """ACTIVITY_INPUT_SCHEMA frame; missing keys are null."""
    return pl.DataFrame(
        [{k: r.get(k) for k in ACTIVITY_INPUT_SCHEMA} for r in rows], schema=ACTIVITY_INPUT_SCHEMA
    )


def athletes_frame(rows: Iterable[tuple[str, str, float | None]]) -> pl.DataFrame:
    """athlete_id, name, timezone, height_m, max_hr_bpm."""
    rs = list(rows)
    return pl.DataFrame(
        {
            "athlete_id": [r[0] for r in rs],
            "name": [r[0].title() for r in rs],
            "timezone": [r[1] for r in rs],
            "height_m": [1.75] * len(rs),
            "max_hr_bpm": [r[2] for r in rs],
        },
        schema={
            "athlete_id": pl.String(),
            "name": pl.String(),
            "timezone": pl.String(),
            "height_m": pl.Float64(),
            "max_hr_bpm": pl.Float64(),
        },
    )


def frames_from_inbox(inbox: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read ``inbox/<athlete>/...`` with ingest.read_path: (samples, activities).

    The athlete is the folder name under ``inbox/``; ``activity_id`` is the file's sha256
    plus the activity's index within the file (chained FIT files hold several).
    """
    from ingest.reader import read_path

    sample_frames: list[pl.DataFrame] = []
    act_rows: list[dict[str, Any]] = []
    for athlete_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        athlete = athlete_dir.name
        for res in read_path(athlete_dir, name_root=inbox):
            if res.error is not None:
                continue
            for i, act in enumerate(res.activities):
                aid = f"{act.meta.sha256[:16]}-{i}"
                sample_frames.append(
                    act.samples.with_columns(activity_id=pl.lit(aid), athlete_id=pl.lit(athlete))
                )
                ses = act.sessions
                act_rows.append(
                    {
                        "activity_id": aid,
                        "athlete_id": athlete,
                        "sport": act.meta.sport,
                        "sub_sport": act.meta.sub_sport,
                        "started_at": act.meta.started_at,
                        "local_offset_s": act.meta.local_offset_s,
                        "duration_s": ses["total_timer_s"].sum() if ses.height else None,
                        "elapsed_s": ses["total_elapsed_s"].sum() if ses.height else None,
                        "distance_m": ses["total_distance_m"].sum() if ses.height else None,
                        "avg_heart_rate_bpm": ses["avg_heart_rate_bpm"].mean() if ses.height else None,
                    }
                )
    return pl.concat(sample_frames, how="vertical_relaxed"), activities(act_rows)
