"""Read what one weekly report needs from the warehouse's DuckDB file (read-only).

Queries touch the warehouse tables ``athletes``, ``activities``, ``activity_gait``,
``weekly_risk`` and ``samples``. Sample-level data is aggregated in DuckDB (speed,
cadence and step length bins), so a report never pulls raw samples into Python.

Weeks are ISO weeks in the athlete's local time, as in ``weekly_risk``: an activity's
local time is its recorded UTC offset when the file had one, else the athlete's time zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from reports.charts import SPEED_STEP_M_S, RunBalance, SpeedBin, WeekPoint
from transforms.thresholds import Thresholds

SPEED_BIN_M_S = SPEED_STEP_M_S
CADENCE_BIN_SPM = 2.0
MIN_BIN_SECONDS = 20.0  # a speed bin with less running time than this is noise, not a median
HISTORY_WEEKS = 12  # weeks shown in the load, balance and session charts


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str
    reason: str
    recommendation: str
    numbers: dict[str, Any]


@dataclass
class Session:
    """One activity of the week, running or not."""

    activity_id: str
    local_start: datetime
    sport: str
    sub_sport: str | None
    name: str | None  # untrusted text from the file
    duration_s: float | None
    distance_m: float | None
    gait: dict[str, Any] | None  # the activity_gait row for runs

    @property
    def is_run(self) -> bool:
        return self.sport == "running"


@dataclass
class WeekData:
    athlete_id: str
    athlete_name: str | None
    iso_week: str
    week_start: date
    risk: dict[str, Any] | None  # the weekly_risk row, None when the week has none
    flags: list[Flag]
    flag_details_error: str | None
    missing_data: list[str]
    sessions: list[Session]
    history: list[WeekPoint]
    balance_runs: list[RunBalance]
    step_week: list[SpeedBin]
    step_baseline: list[SpeedBin]
    cadence_week: list[tuple[float, float]]
    cadence_baseline: list[tuple[float, float]]
    speed_week: list[tuple[float, float]]
    sprint_threshold_m_s: float | None
    ref_speed_m_s: float | None
    baseline_runs: int
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[Session]:
        return [s for s in self.sessions if s.is_run]

    @property
    def other_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.is_run]


def parse_iso_week(iso_week: str) -> date:
    """Monday of an ISO week written ``YYYY-Www``; ValueError on anything else."""
    try:
        year_s, week_s = iso_week.split("-W")
        return date.fromisocalendar(int(year_s), int(week_s), 1)
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"not an ISO week like 2026-W47: {iso_week!r}") from exc


def iso_week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(started_at: datetime, offset_s: int | None, tz: ZoneInfo) -> datetime:
    """Wall-clock start of an activity: the file's own UTC offset, else the athlete's zone."""
    # DuckDB returns TIMESTAMPTZ in the session's time zone: normalise to UTC first.
    utc = started_at.astimezone(UTC) if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    if offset_s is not None:
        return (utc + timedelta(seconds=int(offset_s))).replace(tzinfo=None)
    return utc.astimezone(tz).replace(tzinfo=None)


def parse_flags(raw: Any) -> tuple[list[Flag], str | None]:
    """``weekly_risk.flag_details`` (JSON text) -> flags sorted by severity.

    Returns the flags and an error text when the JSON could not be read, so the report can
    say so instead of silently showing no flags.
    """
    from reports.content import SEVERITY_ORDER

    if raw is None or raw == "":
        return [], None
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        return [], f"flag details are not valid JSON ({exc.msg})"
    if not isinstance(items, list):
        return [], "flag details are not a list"
    flags = []
    for it in items:
        if not isinstance(it, dict):
            continue
        numbers = it.get("numbers")
        flags.append(
            Flag(
                code=str(it.get("code", "unknown")),
                severity=str(it.get("severity", "info")),
                reason=str(it.get("reason") or ""),
                recommendation=str(it.get("recommendation") or ""),
                numbers=numbers if isinstance(numbers, dict) else {},
            )
        )
    flags.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
    return flags, None


def list_weeks(
    con: duckdb.DuckDBPyConnection,
    athletes: list[str] | None = None,
    weeks: list[str] | None = None,
    with_data_only: bool = True,
) -> list[dict[str, Any]]:
    """weekly_risk rows (athlete, week, level, flags) in athlete then week order."""
    sql = (
        "SELECT w.athlete_id, w.iso_week, w.week_start, w.risk_level, w.flags, w.runs, "
        "w.cross_training_sessions, w.strength_sessions, w.run_distance_m, a.name AS athlete_name "
        "FROM weekly_risk w LEFT JOIN athletes a USING (athlete_id) WHERE TRUE"
    )
    params: list[Any] = []
    if athletes is not None:
        sql += " AND list_contains(?, w.athlete_id)"
        params.append(list(athletes))
    if weeks is not None:
        sql += " AND list_contains(?, w.iso_week)"
        params.append(list(weeks))
    if with_data_only:
        sql += (
            " AND (coalesce(w.runs, 0) + coalesce(w.cross_training_sessions, 0)"
            " + coalesce(w.strength_sessions, 0)) > 0"
        )
    sql += " ORDER BY w.athlete_id, w.week_start"
    return _rows(con, sql, params)


def _activity_select(con: duckdb.DuckDBPyConnection) -> str:
    """Columns of ``activities`` we use, tolerating optional ones (name, offsets)."""
    have = columns(con, "activities")

    def pick(*names: str, cast: str = "VARCHAR") -> str:
        for n in names:
            if n in have:
                return f"a.{n}"
        return f"CAST(NULL AS {cast})"

    return (
        "a.activity_id, a.started_at, a.sport, "
        f"{pick('sub_sport')} AS sub_sport, "
        f"{pick('name', 'activity_name')} AS name, "
        f"{pick('local_offset_s', cast='INTEGER')} AS local_offset_s, "
        f"{pick('duration_s', 'total_timer_s', 'moving_s', cast='DOUBLE')} AS duration_s, "
        f"{pick('distance_m', 'total_distance_m', cast='DOUBLE')} AS distance_m"
    )


def _sessions_between(
    con: duckdb.DuckDBPyConnection,
    athlete_id: str,
    first: date,
    end: date,
    tz: ZoneInfo,
) -> list[Session]:
    """Activities whose local start date is in [first, end), with their gait row."""
    # Pad the UTC window by two days either side: local offsets are at most +-14 h.
    lo = datetime.combine(first - timedelta(days=2), datetime.min.time(), UTC)
    hi = datetime.combine(end + timedelta(days=2), datetime.min.time(), UTC)
    rows = _rows(
        con,
        f"SELECT {_activity_select(con)} FROM activities a "  # noqa: S608 - column names only
        "WHERE a.athlete_id = ? AND a.started_at >= ? AND a.started_at < ? ORDER BY a.started_at",
        [athlete_id, lo, hi],
    )
    gait_rows = _rows(
        con,
        "SELECT * FROM activity_gait WHERE athlete_id = ? AND started_at >= ? AND started_at < ?",
        [athlete_id, lo, hi],
    )
    gait = {g["activity_id"]: g for g in gait_rows}
    out = []
    for r in rows:
        local = local_time(r["started_at"], r["local_offset_s"], tz)
        if not first <= local.date() < end:
            continue
        out.append(
            Session(
                activity_id=r["activity_id"],
                local_start=local,
                sport=(r["sport"] or "unknown"),
                sub_sport=r["sub_sport"],
                name=r["name"],
                duration_s=r["duration_s"],
                distance_m=r["distance_m"],
                gait=gait.get(r["activity_id"]),
            )
        )
    return out


_SAMPLES_CTE = """
WITH s AS (
    SELECT activity_id, speed_m_s, cadence_spm, step_length_m,
           least(coalesce(epoch(lead(ts) OVER (PARTITION BY activity_id ORDER BY ts)) - epoch(ts),
                          1.0), ?) AS dt
    FROM samples
    WHERE list_contains(?, activity_id) AND sport = 'running'
)
"""


def _step_bins(
    con: duckdb.DuckDBPyConnection, ids: list[str], th: Thresholds
) -> list[SpeedBin]:
    if not ids:
        return []
    rows = con.execute(
        _SAMPLES_CTE  # noqa: S608 - constant SQL text; values are bound parameters
        + """
        , t AS (
            SELECT floor(speed_m_s / ?) * ? + ? / 2 AS bin, dt,
                   coalesce(step_length_m,
                            CASE WHEN cadence_spm > 0 THEN speed_m_s * 60 / cadence_spm END) AS sl
            FROM s
            WHERE speed_m_s >= ? AND (cadence_spm IS NULL OR cadence_spm >= ?)
        )
        SELECT bin, median(sl), quantile_cont(sl, 0.25), quantile_cont(sl, 0.75), sum(dt)
        FROM t WHERE sl BETWEEN ? AND ?
        GROUP BY bin HAVING sum(dt) >= ? ORDER BY bin
        """,
        [
            th.max_sample_gap_s, ids,
            SPEED_BIN_M_S, SPEED_BIN_M_S, SPEED_BIN_M_S,
            th.moving_speed_min_m_s, th.run_cadence_min_spm,
            th.step_length_valid_min_m, th.step_length_valid_max_m, MIN_BIN_SECONDS,
        ],
    ).fetchall()
    return [SpeedBin(float(b), float(m), float(q1), float(q3), float(s)) for b, m, q1, q3, s in rows]


def _cadence_bins(
    con: duckdb.DuckDBPyConnection, ids: list[str], th: Thresholds
) -> list[tuple[float, float]]:
    if not ids:
        return []
    rows = con.execute(
        _SAMPLES_CTE  # noqa: S608 - constant SQL text; values are bound parameters
        + """
        SELECT floor(cadence_spm / ?) * ? AS bin, sum(dt)
        FROM s
        WHERE cadence_spm BETWEEN ? AND ? AND speed_m_s >= ?
        GROUP BY bin ORDER BY bin
        """,
        [
            th.max_sample_gap_s, ids, CADENCE_BIN_SPM, CADENCE_BIN_SPM,
            th.run_cadence_min_spm, th.cadence_valid_max_spm, th.moving_speed_min_m_s,
        ],
    ).fetchall()
    return [(float(b), float(s)) for b, s in rows]


def _speed_bins(
    con: duckdb.DuckDBPyConnection, ids: list[str], th: Thresholds
) -> list[tuple[float, float]]:
    if not ids:
        return []
    rows = con.execute(
        _SAMPLES_CTE  # noqa: S608 - constant SQL text; values are bound parameters
        + """
        SELECT floor(speed_m_s / ?) * ? AS bin, sum(dt)
        FROM s WHERE speed_m_s >= ? AND speed_m_s < 12
        GROUP BY bin ORDER BY bin
        """,
        [th.max_sample_gap_s, ids, SPEED_BIN_M_S, SPEED_BIN_M_S, th.moving_speed_min_m_s],
    ).fetchall()
    return [(float(b), float(s)) for b, s in rows]


def load_week(
    con: duckdb.DuckDBPyConnection, athlete_id: str, iso_week: str, th: Thresholds
) -> WeekData:
    """Everything the report of one athlete-week shows."""
    monday = parse_iso_week(iso_week)
    sunday_end = monday + timedelta(days=7)
    athlete = _rows(con, "SELECT * FROM athletes WHERE athlete_id = ?", [athlete_id])
    tz = _zone(athlete[0].get("timezone") if athlete else None)
    name = athlete[0].get("name") if athlete else None

    risk_rows = _rows(
        con, "SELECT * FROM weekly_risk WHERE athlete_id = ? AND iso_week = ?",
        [athlete_id, iso_week],
    )
    risk = risk_rows[0] if risk_rows else None
    flags, flags_error = parse_flags(risk.get("flag_details") if risk else None)
    missing = list(risk.get("missing_data") or []) if risk else []

    # History: HISTORY_WEEKS ending with this one; weeks without a weekly_risk row show as 0.
    first_hist = monday - timedelta(weeks=HISTORY_WEEKS - 1)
    hist_rows = _rows(
        con,
        "SELECT iso_week, run_distance_m, load, acwr, runs, cross_training_sessions, "
        "strength_sessions FROM weekly_risk "
        "WHERE athlete_id = ? AND week_start >= ? AND week_start <= ?",
        [athlete_id, first_hist, monday],
    )
    by_week = {r["iso_week"]: r for r in hist_rows}
    history = []
    for i in range(HISTORY_WEEKS):
        wk = iso_week_of(first_hist + timedelta(weeks=i))
        r = by_week.get(wk, {})
        dist = r.get("run_distance_m")
        history.append(
            WeekPoint(
                iso_week=wk,
                distance_km=None if dist is None else dist / 1000.0,
                load=r.get("load"),
                acwr=r.get("acwr"),
                runs=int(r.get("runs") or 0),
                cross_training=int(r.get("cross_training_sessions") or 0),
                strength=int(r.get("strength_sessions") or 0),
                current=(wk == iso_week),
            )
        )
    # Drop leading weeks before the athlete's first data so a new athlete's chart is not
    # mostly empty bars.
    while len(history) > 1 and not history[0].current and history[0].iso_week not in by_week:
        history.pop(0)

    sessions = _sessions_between(con, athlete_id, monday, sunday_end, tz)
    run_ids = [s.activity_id for s in sessions if s.is_run]

    baseline_first = monday - timedelta(weeks=th.baseline_weeks)
    baseline_runs = [
        s.activity_id
        for s in _sessions_between(con, athlete_id, baseline_first, monday, tz)
        if s.is_run
    ]

    hist_first = parse_iso_week(history[0].iso_week)
    hist_sessions = _sessions_between(con, athlete_id, hist_first, sunday_end, tz)
    balance_runs = [
        RunBalance(
            day=s.local_start.date(),
            left_pct=float(s.gait["gct_balance_mean_left_pct"]),
            this_week=s.local_start.date() >= monday,
        )
        for s in hist_sessions
        if s.is_run and s.gait and s.gait.get("gct_balance_mean_left_pct") is not None
    ]

    week_gait = [s.gait for s in sessions if s.is_run and s.gait]
    thresholds_seen = [g["sprint_threshold_m_s"] for g in week_gait if g.get("sprint_threshold_m_s")]
    refs = [g["ref_speed_m_s"] for g in week_gait if g.get("ref_speed_m_s")]

    return WeekData(
        athlete_id=athlete_id,
        athlete_name=name,
        iso_week=iso_week,
        week_start=monday,
        risk=risk,
        flags=flags,
        flag_details_error=flags_error,
        missing_data=missing,
        sessions=sessions,
        history=history,
        balance_runs=balance_runs,
        step_week=_step_bins(con, run_ids, th),
        step_baseline=_step_bins(con, baseline_runs, th),
        cadence_week=_cadence_bins(con, run_ids, th),
        cadence_baseline=_cadence_bins(con, baseline_runs, th),
        speed_week=_speed_bins(con, run_ids, th),
        sprint_threshold_m_s=thresholds_seen[-1] if thresholds_seen else None,
        ref_speed_m_s=refs[-1] if refs else th.ref_speed_m_s,
        baseline_runs=len(baseline_runs),
    )
