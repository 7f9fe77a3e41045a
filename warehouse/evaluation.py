"""The stored back-test (issue 14 item 5): :func:`transforms.evaluate.evaluate` of each
athlete's ``weekly_risk`` rows against their ``journal``, written to
``athlete_evaluation``, ``evaluation_episodes`` and ``evaluation_layoffs``
(warehouse/sql/008_evaluation.sql) by the metrics stage, inside its transaction, so the
back-test always describes the weekly rows beside it.

An athlete is re-evaluated when their weeks were recomputed, or when their journal changed
since the last evaluation (``evaluation_state.journal_sha256``): pain and injury entries
create no activity, so they never move the metrics watermark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from transforms.evaluate import (
    EPISODE_SCHEMA,
    LAYOFF_SCHEMA,
    LEVELS,
    RATES_SCHEMA,
    RULES,
    Evaluation,
    evaluate,
)
from transforms.thresholds import Thresholds
from warehouse.store import Warehouse
from warehouse.summaries import journal_frame

# transforms' column names -> the table's ("end" is an SQL keyword)
_EPISODE_COLUMNS = {"start": "start_date", "end": "end_date"}
_SIGNAL_ORDER = (*RULES, *LEVELS)


def journal_hashes(wh: Warehouse) -> dict[str, str]:
    """Per athlete, a SHA-256 over the journal rows the back-test reads."""
    rows = wh.con.execute(
        "SELECT athlete_id, string_agg(concat_ws('|', entry_id, entry_date, kind, "
        "coalesce(body_part, ''), coalesce(CAST(severity AS VARCHAR), '')), chr(10) "
        "ORDER BY entry_id) FROM journal GROUP BY athlete_id"
    ).fetchall()
    return {a: hashlib.sha256((text or "").encode()).hexdigest() for a, text in rows}


def refresh_evaluation(
    wh: Warehouse, th: Thresholds, recomputed: Mapping[str, Any] | None = None
) -> list[str]:
    """Re-evaluate the athletes in ``recomputed`` (athletes whose weekly rows were
    rewritten) and those whose journal changed since their stored evaluation, in the
    caller's transaction (joined, or one of its own). Returns the athletes evaluated."""
    hashes = journal_hashes(wh)
    stored = dict(wh.con.execute(
        "SELECT athlete_id, journal_sha256 FROM evaluation_state").fetchall())
    with_weeks = {a for (a,) in wh.con.execute(
        "SELECT DISTINCT athlete_id FROM weekly_risk").fetchall()}
    empty = hashlib.sha256(b"").hexdigest()
    todo = set(recomputed or ()) | {
        a for a in with_weeks | set(stored) if stored.get(a) != hashes.get(a, empty)
    }
    now = datetime.now(UTC)
    with wh.transaction():
        for athlete_id in sorted(todo):
            weekly = wh.weekly_risk_frame(athlete_id)
            ev = evaluate(weekly, journal_frame(wh, athlete_id), th) if weekly.height else None
            write_evaluation(wh, athlete_id, ev)
            wh.con.execute(
                "INSERT OR REPLACE INTO evaluation_state VALUES (?, ?, ?)",
                [athlete_id, hashes.get(athlete_id, empty), now],
            )
    return sorted(todo)


def write_evaluation(wh: Warehouse, athlete_id: str, ev: Evaluation | None) -> None:
    """Replace the athlete's stored back-test with ``ev`` (None: remove it)."""
    with wh.transaction():
        for table in ("athlete_evaluation", "evaluation_episodes", "evaluation_layoffs"):
            wh.con.execute(f"DELETE FROM {table} WHERE athlete_id = ?", [athlete_id])  # noqa: S608
        if ev is None:
            return
        wh._insert_arrow("athlete_evaluation", ev.rates.to_arrow())
        wh._insert_arrow("evaluation_episodes", ev.episodes.rename(_EPISODE_COLUMNS).to_arrow())
        wh._insert_arrow("evaluation_layoffs", ev.layoffs.to_arrow())


def read_evaluation(wh: Warehouse, athlete_id: str) -> Evaluation:
    """The stored back-test of one athlete, as :class:`transforms.evaluate.Evaluation`."""

    def frame(sql: str, schema: dict[str, pl.DataType], *more: Any) -> pl.DataFrame:
        got = wh._frame(sql, [athlete_id, *more])
        if got.height == 0:
            return pl.DataFrame(schema=schema)
        return got.select([pl.col(c).cast(t) for c, t in schema.items()])

    rates = frame(
        f"SELECT {', '.join(RATES_SCHEMA)} FROM athlete_evaluation WHERE athlete_id = ? "  # noqa: S608
        "ORDER BY list_position(?::VARCHAR[], signal), signal", RATES_SCHEMA, list(_SIGNAL_ORDER))
    episodes = frame(
        "SELECT athlete_id, episode, start_date AS start, end_date AS \"end\", entries, "
        "max_severity, body_parts, preceded_by, lead_days FROM evaluation_episodes "
        "WHERE athlete_id = ? ORDER BY episode", EPISODE_SCHEMA)
    layoffs = frame(
        f"SELECT {', '.join(LAYOFF_SCHEMA)} FROM evaluation_layoffs WHERE athlete_id = ? "  # noqa: S608
        "ORDER BY return_iso_week", LAYOFF_SCHEMA)
    return Evaluation(rates=rates, episodes=episodes, layoffs=layoffs)
