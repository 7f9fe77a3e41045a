"""Read what the weekly reports need from the warehouse's DuckDB file (read-only).

Reports read only the documented analyst views (``v_report_weeks``,
``v_report_activities``, ``v_report_chart_bins``, ``v_report_samples``;
warehouse/sql/views/50_reports.sql), never the tables: local time, the sample interval,
speed, step rate and step length are defined once there, exactly as the gait metrics
define them. The charts' speed, cadence and step-length bins are summed in DuckDB from the
per-activity bins the metrics stage stores (``v_report_chart_bins``), or, for a run not
binned yet, derived there from ``v_report_samples``: a report never pulls raw samples into
Python.

The index adds each athlete's stored back-test (``v_evaluation``, ``v_pain_episodes``,
``v_layoffs``; warehouse/sql/008_evaluation.sql) and each week its journal (``v_journal``).

Reading is batched: :func:`load_weeks` answers any number of athlete-weeks with a handful
of queries (weeks, activities, journal, and one for the chart bins), instead of a dozen
queries per week. Weeks are ISO weeks in the athlete's local time, as in ``weekly_risk``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from reports.charts import RunBalance, SpeedBin, WeekPoint
from transforms.chartbins import CHART_CADENCE_BIN_SPM, CHART_MAX_SPEED_M_S, CHART_SPEED_BIN_M_S
from transforms.thresholds import Thresholds

MIN_BIN_SECONDS = 20.0  # a speed bin with less running time than this is noise, not a median
HISTORY_WEEKS = 12  # weeks shown in the load, balance and session charts
HEALTH_KINDS = ("pain", "injury", "illness")  # journal entries a week's report lists
# Rows one load_weeks call sums its chart bins from (samples of runs not binned yet, else
# stored bins, about a tenth as many): DuckDB holds them all at once, so this (not the
# number of weeks) bounds the memory of a batch, whatever the history's density. About 110
# one-hour runs at 1 s, or 1,000 binned; 500k samples kept rendering under ~250 MB.
MAX_BATCH_SAMPLES = 400_000


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
    description: str | None = None  # untrusted text from the export list or journal
    summary_only: bool = False  # known from a list or the journal only: no recording
    source: str | None = None  # file, strava_csv, garmin_json or journal

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
    journal: list[dict[str, Any]] = field(default_factory=list)  # v_journal rows of the week
    fingerprint: str = ""  # of everything the report shows (see week_fingerprints)

    @property
    def runs(self) -> list[Session]:
        return [s for s in self.sessions if s.is_run]

    @property
    def other_sessions(self) -> list[Session]:
        return [s for s in self.sessions if not s.is_run]

    @property
    def health_entries(self) -> list[dict[str, Any]]:
        """Pain, injury and illness entries of the journal this week."""
        return [e for e in self.journal if e["kind"] in HEALTH_KINDS]


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
    """Athlete-weeks (athlete, week, level, flags) in athlete then week order."""
    sql = (
        "SELECT athlete_id, iso_week, week_start, risk_level, flag_codes AS flags, runs, "
        "cross_training_sessions, strength_sessions, run_distance_m, athlete_name "
        "FROM v_report_weeks WHERE TRUE"
    )
    params: list[Any] = []
    if athletes is not None:
        sql += " AND list_contains(?, athlete_id)"
        params.append(list(athletes))
    if weeks is not None:
        sql += " AND list_contains(?, iso_week)"
        params.append(list(weeks))
    if with_data_only:
        # a week of pain or injury without training (the runner stopped) still has a page
        sql += (
            " AND ((coalesce(runs, 0) + coalesce(cross_training_sessions, 0)"
            " + coalesce(strength_sessions, 0)) > 0 OR EXISTS (SELECT 1 FROM v_journal AS j"
            " WHERE j.athlete_id = v_report_weeks.athlete_id"
            " AND CAST(date_trunc('week', j.entry_date) AS DATE) = v_report_weeks.week_start"
            " AND list_contains(?, j.kind)))"
        )
        params.append(list(HEALTH_KINDS))
    sql += " ORDER BY athlete_id, week_start"
    return _rows(con, sql, params)


_WEEK_COLUMNS = (
    "athlete_id, athlete_name, iso_week, week_start, risk_level, flag_codes AS flags, runs, "
    "cross_training_sessions, strength_sessions, run_distance_m, \"load\", acwr, "
    "compact_gait_score, asymmetry_level, baseline_weeks, missing_codes AS missing_data, "
    "flag_details, run_load, other_load, run_acwr, days_off_before, return_week, "
    "prebreak_run_time_s, device_changed_on"
)

_ACTIVITY_COLUMNS = (
    "activity_id, athlete_id, sport, sub_sport, name, file_sha256, started_local, week_start_local, duration_s, "
    "distance_m, gait_moving_s, gait_distance_m, cadence_median_spm, "
    "step_length_at_ref_speed_m, ref_speed_m_s, sprint_threshold_m_s, sprint_s, "
    "gct_balance_mean_left_pct, trimp, description, summary_only, source"
)

_JOURNAL_COLUMNS = (
    "entry_id, athlete_id, entry_date, CAST(date_trunc('week', entry_date) AS DATE) AS week_start, "
    "kind, minutes, body_part, side, severity, text, source_line"
)

# The chart bins of every run the requested weeks show (their own runs and the trailing
# baseline's), per activity first, then summed per target week, so a run's bins are never
# multiplied by the number of weeks they serve. Per activity they come from the bins the
# metrics stage stored (v_report_chart_bins); a run without stored bins (binned by no
# metrics run yet) is binned here from v_report_samples, the same way
# (transforms/chartbins.py; tests/test_chart_bins.py compares the two). Step-length
# quartiles are time-weighted "lower" quantiles (the smallest value whose share of
# running time reaches q), as in transforms/gait.py's wquantile, at 1 mm resolution.
# Bins are lower edges; a step-length point is drawn at its speed bin's centre.
_STORED_BINS = """
    SELECT kind, activity_id, coalesce(speed_bin_m_s, cadence_bin_spm) AS bin,
           step_length_mm AS sl_mm, seconds AS w
    FROM v_report_chart_bins
    WHERE kind <> 'total' AND list_contains(?::VARCHAR[], activity_id)
"""
_DERIVED_BINS = """
    SELECT 'step' AS kind, activity_id, floor(v / ?) * ? AS bin,
           round(sl * 1000) AS sl_mm, sum(dt) AS w
    FROM s WHERE sl IS NOT NULL AND (spm IS NULL OR spm >= ?)
    GROUP BY ALL
    UNION ALL
    SELECT 'cadence', activity_id, floor(spm / ?) * ?, NULL, sum(dt)
    FROM s WHERE spm BETWEEN ? AND ?
    GROUP BY ALL
    UNION ALL
    SELECT 'speed', activity_id, floor(v / ?) * ?, NULL, sum(dt)
    FROM s WHERE v < ?
    GROUP BY ALL
"""
_SAMPLES_CTE = """, s AS MATERIALIZED (
    -- a plain list of ids (not a join) lets DuckDB filter before the view's window
    SELECT activity_id, speed_calc_m_s AS v, steps_per_min AS spm,
           step_length_calc_m AS sl, interval_s AS dt
    FROM v_report_samples
    WHERE list_contains(?::VARCHAR[], activity_id) AND is_running AND is_moving
)"""
_BINS_SQL = """
WITH tgt AS (
    SELECT unnest(?::VARCHAR[]) AS athlete_id, unnest(?::DATE[]) AS week_start
), roles AS (
    SELECT a.activity_id, t.athlete_id, t.week_start,
           a.week_start_local = t.week_start AS this_week
    FROM v_report_activities AS a
    JOIN tgt AS t
      ON a.athlete_id = t.athlete_id
     AND a.week_start_local >= t.week_start - to_days(7 * ?::INTEGER)
     AND a.week_start_local <= t.week_start
    WHERE a.sport = 'running'
){samples}, per_activity AS (
{per_activity}
), per_week AS (
    SELECT p.kind, r.athlete_id, r.week_start, r.this_week, p.bin, p.sl_mm, sum(p.w) AS w
    FROM per_activity AS p JOIN roles AS r USING (activity_id)
    WHERE r.this_week OR p.kind <> 'speed'
    GROUP BY ALL
), cum AS (
    SELECT *,
           sum(w) OVER (PARTITION BY kind, athlete_id, week_start, this_week, bin
                        ORDER BY sl_mm ROWS UNBOUNDED PRECEDING) AS acc,
           sum(w) OVER (PARTITION BY kind, athlete_id, week_start, this_week, bin) AS total
    FROM per_week
)
SELECT kind, athlete_id, week_start, this_week,
       bin + CASE WHEN kind = 'step' THEN ? / 2 ELSE 0 END AS bin,
       min(sl_mm) FILTER (WHERE acc >= 0.5 * total) / 1000 AS median_m,
       min(sl_mm) FILTER (WHERE acc >= 0.25 * total) / 1000 AS q1_m,
       min(sl_mm) FILTER (WHERE acc >= 0.75 * total) / 1000 AS q3_m,
       max(total) AS seconds
FROM cum
GROUP BY ALL
HAVING kind <> 'step' OR max(total) >= ?
ORDER BY kind, athlete_id, week_start, this_week, bin
"""


@dataclass
class _Bins:
    step: dict[bool, list[SpeedBin]] = field(default_factory=lambda: {True: [], False: []})
    cadence: dict[bool, list[tuple[float, float]]] = field(
        default_factory=lambda: {True: [], False: []}
    )
    speed: list[tuple[float, float]] = field(default_factory=list)


def _has_stored_bins(con: duckdb.DuckDBPyConnection) -> bool:
    """False for a file from before migration 011 opened as it is (no v_report_chart_bins):
    its runs are binned from their samples."""
    try:
        con.execute("SELECT 1 FROM v_report_chart_bins LIMIT 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True


def _chart_bins(
    con: duckdb.DuckDBPyConnection,
    targets: list[tuple[str, date]],
    run_ids: list[str],
    th: Thresholds,
    stored: bool = True,
) -> dict[tuple[str, date], _Bins]:
    """Speed, cadence and step-length bins of each target athlete-week (this week and the
    trailing baseline), in one query. ``run_ids``: the runs of those weeks and baselines.
    ``stored=False`` bins every run from its samples, ignoring the stored bins."""
    out: dict[tuple[str, date], _Bins] = defaultdict(_Bins)
    if not targets or not run_ids:
        return out
    sb, cb = CHART_SPEED_BIN_M_S, CHART_CADENCE_BIN_SPM
    binned: set[str] = set()
    if stored and _has_stored_bins(con):
        binned = {a for (a,) in con.execute(
            "SELECT activity_id FROM v_report_chart_bins "
            "WHERE kind = 'total' AND list_contains(?::VARCHAR[], activity_id)", [run_ids],
        ).fetchall()}
    have = [i for i in run_ids if i in binned]
    derive = [i for i in run_ids if i not in binned]
    # only the sources in use: an empty id list would still cost a scan of the samples
    parts: list[str] = []
    params: list[Any] = [[a for a, _ in targets], [w for _, w in targets], th.baseline_weeks]
    if derive:
        params.append(derive)
    if have:  # implies stored
        parts.append(_STORED_BINS)
        params.append(have)
    if derive:
        parts.append(_DERIVED_BINS)
        params += [
            sb, sb, th.run_cadence_min_spm,
            cb, cb, th.run_cadence_min_spm, th.cadence_valid_max_spm,
            sb, sb, CHART_MAX_SPEED_M_S,
        ]
    params += [sb, MIN_BIN_SECONDS]
    sql = _BINS_SQL.format(
        samples=_SAMPLES_CTE if derive else "", per_activity="    UNION ALL\n".join(parts)
    )
    rows = con.execute(sql, params).fetchall()
    for kind, athlete, week_start, this_week, b, med, q1, q3, secs in rows:
        bins = out[(athlete, week_start)]
        if kind == "step":
            bins.step[this_week].append(
                SpeedBin(float(b), float(med), float(q1), float(q3), float(secs))
            )
        elif kind == "cadence":
            bins.cadence[this_week].append((float(b), float(secs)))
        else:
            bins.speed.append((float(b), float(secs)))
    return out


def _session(r: dict[str, Any]) -> Session:
    gait = None
    if r["sport"] == "running" and r["gait_moving_s"] is not None:
        gait = {
            "moving_s": r["gait_moving_s"],
            "distance_m": r["gait_distance_m"],
            **{k: r[k] for k in (
                "cadence_median_spm", "step_length_at_ref_speed_m", "ref_speed_m_s",
                "sprint_threshold_m_s", "sprint_s", "gct_balance_mean_left_pct", "trimp",
            )},
        }
    return Session(
        activity_id=r["activity_id"],
        local_start=r["started_local"],
        sport=(r["sport"] or "unknown"),
        sub_sport=r["sub_sport"],
        name=r["name"],
        duration_s=r["duration_s"],
        distance_m=r["distance_m"],
        gait=gait,
        description=r.get("description"),
        summary_only=bool(r.get("summary_only")),
        source=r.get("source"),
    )


def _history(rows_by_week: dict[str, dict[str, Any]], monday: date, iso_week: str) -> list[WeekPoint]:
    """HISTORY_WEEKS ending with this one; weeks without a row show as 0."""
    first_hist = monday - timedelta(weeks=HISTORY_WEEKS - 1)
    history = []
    for i in range(HISTORY_WEEKS):
        wk = iso_week_of(first_hist + timedelta(weeks=i))
        r = rows_by_week.get(wk, {})
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
    while len(history) > 1 and not history[0].current and history[0].iso_week not in rows_by_week:
        history.pop(0)
    return history


@dataclass
class _Rows:
    """The week and activity rows of some athletes: what every report is built from,
    apart from the sample-level chart bins."""

    names: dict[str, str | None]
    weeks: dict[str, dict[str, dict[str, Any]]]  # athlete -> iso week -> row
    activities: dict[tuple[str, date], list[dict[str, Any]]]  # (athlete, local Monday)
    journal: dict[tuple[str, date], list[dict[str, Any]]] = field(default_factory=dict)


def _read_rows(con: duckdb.DuckDBPyConnection, athletes: list[str]) -> _Rows:
    week_rows = _rows(
        con,
        f"SELECT {_WEEK_COLUMNS} FROM v_report_weeks WHERE list_contains(?, athlete_id)",  # noqa: S608 - constant text
        [athletes],
    )
    names: dict[str, str | None] = {a: None for a in athletes}
    weeks_by_athlete: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in week_rows:
        weeks_by_athlete[r["athlete_id"]][r["iso_week"]] = r
        names[r["athlete_id"]] = r["athlete_name"]
    missing_names = [a for a, n in names.items() if n is None]
    if missing_names:
        # An athlete with activities but no weekly row yet still has a display name.
        for a, n in con.execute(
            "SELECT DISTINCT athlete_id, athlete_name FROM v_activities "
            "WHERE list_contains(?, athlete_id)", [missing_names]
        ).fetchall():
            names[a] = n
    acts = _rows(
        con,
        f"SELECT {_ACTIVITY_COLUMNS} FROM v_report_activities "  # noqa: S608 - constant text
        "WHERE list_contains(?, athlete_id) ORDER BY athlete_id, started_at, activity_id",
        [athletes],
    )
    by_week: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for r in acts:
        by_week[(r["athlete_id"], r["week_start_local"])].append(r)
    journal: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(
        con,
        f"SELECT {_JOURNAL_COLUMNS} FROM v_journal "  # noqa: S608 - constant text
        "WHERE list_contains(?, athlete_id) ORDER BY athlete_id, entry_date, source_line",
        [athletes],
    ):
        journal[(r["athlete_id"], r["week_start"])].append(r)
    return _Rows(names, weeks_by_athlete, by_week, journal)


def _covered(monday: date, th: Thresholds) -> list[date]:
    """Mondays whose activities a week's report shows: its history and its baseline."""
    n = max(HISTORY_WEEKS - 1, th.baseline_weeks)
    return [monday - timedelta(weeks=i) for i in range(n, -1, -1)]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _digests(con: duckdb.DuckDBPyConnection, sql: str, athletes: list[str]) -> dict[tuple[str, Any], str]:
    """(athlete, key) -> md5 digest, from ``sql`` returning those three columns."""
    return {(a, k): d for a, k, d in con.execute(sql, [athletes]).fetchall()}


# What a page shows, digested per week in SQL (the rows as DuckDB prints them): one pass
# over the athletes' weeks, activities and journal, not one serialisation per page.
_WEEK_DIGESTS = (
    "SELECT w.athlete_id, w.iso_week, md5(CAST(w AS VARCHAR)) FROM ("  # noqa: S608 - constant text
    f"SELECT {_WEEK_COLUMNS} FROM v_report_weeks WHERE list_contains(?, athlete_id)) AS w"
)
_ACTIVITY_DIGESTS = (
    "SELECT a.athlete_id, a.week_start_local, md5(string_agg(CAST(a AS VARCHAR), chr(31) "  # noqa: S608
    "ORDER BY a.started_local, a.activity_id)) FROM ("
    f"SELECT {_ACTIVITY_COLUMNS} FROM v_report_activities WHERE list_contains(?, athlete_id)) AS a "
    "GROUP BY ALL"
)
_JOURNAL_DIGESTS = (
    "SELECT j.athlete_id, j.week_start, md5(string_agg(CAST(j AS VARCHAR), chr(31) "  # noqa: S608
    "ORDER BY j.entry_date, j.source_line, j.entry_id)) FROM ("
    f"SELECT {_JOURNAL_COLUMNS} FROM v_journal WHERE list_contains(?, athlete_id)) AS j GROUP BY ALL"
)
_NAMES = (
    "SELECT athlete_id, 'name', any_value(athlete_name) FROM v_activities "
    "WHERE list_contains(?, athlete_id) GROUP BY ALL"
)


def week_fingerprints(
    con: duckdb.DuckDBPyConnection, targets: list[tuple[str, str]], th: Thresholds, code: str
) -> dict[tuple[str, str], str]:
    """A hash of everything each athlete-week's report shows: its weekly rows and the
    activities (with their gait numbers and file hashes, so also their samples) of every
    week its charts cover, its journal entries, the athlete's name, the thresholds and
    ``code`` (the report code's version). Four cheap queries (each week digested once, in
    SQL); an unchanged fingerprint means an unchanged report."""
    athletes = sorted({a for a, _ in targets})
    weeks = _digests(con, _WEEK_DIGESTS, athletes)
    acts = _digests(con, _ACTIVITY_DIGESTS, athletes)
    journal = _digests(con, _JOURNAL_DIGESTS, athletes)
    names = _digests(con, _NAMES, athletes)
    fixed = [code, repr(th)]
    out = {}
    for a, w in targets:
        monday = parse_iso_week(w)
        covered = [[weeks.get((a, iso_week_of(m))), acts.get((a, m))] for m in _covered(monday, th)]
        out[(a, w)] = _digest([*fixed, names.get((a, "name")), covered, journal.get((a, monday))])[:32]
    return out


def sample_batches(
    con: duckdb.DuckDBPyConnection,
    targets: list[tuple[str, str]],
    th: Thresholds,
    max_samples: int = MAX_BATCH_SAMPLES,
) -> list[list[tuple[str, str]]]:
    """Split ``targets`` (in their order) into consecutive batches for :func:`load_weeks`
    whose chart data covers at most ``max_samples`` rows: the runs of each week and of its
    trailing baseline, counted once per batch (neighbouring weeks share baselines), each
    run by the rows its chart bins are summed from (its stored bins, else its samples).
    A single week over the budget is a batch of its own. One query (the runs' rows)."""
    if not targets:
        return []
    runs: dict[tuple[str, date], list[tuple[str, int]]] = defaultdict(list)
    sql = (
        "SELECT r.activity_id, r.athlete_id, r.week_start_local, {rows} "
        "FROM v_report_activities AS r JOIN v_activities AS a USING (activity_id) {join}"
        "WHERE r.sport = 'running' AND list_contains(?, r.athlete_id)"
    )
    if _has_stored_bins(con):
        sql = sql.format(
            rows="coalesce(b.n, a.n_samples, 0)",
            join="LEFT JOIN (SELECT activity_id, count(*) AS n FROM v_report_chart_bins "
                 "GROUP BY ALL) AS b USING (activity_id) ",
        )
    else:
        sql = sql.format(rows="coalesce(a.n_samples, 0)", join="")
    for activity_id, athlete_id, monday, n in con.execute(
        sql, [sorted({a for a, _ in targets})]
    ).fetchall():
        runs[(athlete_id, monday)].append((activity_id, int(n)))
    batches: list[list[tuple[str, str]]] = []
    batch: list[tuple[str, str]] = []
    seen: set[str] = set()  # runs the current batch reads already
    total = 0
    for athlete_id, iso_week in targets:
        monday = parse_iso_week(iso_week)
        covered = [
            run
            for i in range(th.baseline_weeks + 1)
            for run in runs.get((athlete_id, monday - timedelta(weeks=i)), [])
        ]
        added = sum(n for run_id, n in covered if run_id not in seen)
        if batch and total + added > max_samples:
            batches.append(batch)
            batch, seen, total = [], set(), 0
            added = sum(n for _, n in covered)
        batch.append((athlete_id, iso_week))
        seen.update(run_id for run_id, _ in covered)
        total += added
    if batch:
        batches.append(batch)
    return batches


def load_weeks(
    con: duckdb.DuckDBPyConnection, targets: list[tuple[str, str]], th: Thresholds,
    code: str = "", fingerprints: Mapping[tuple[str, str], str] | None = None,
) -> list[WeekData]:
    """Everything the reports of the given (athlete id, ISO week) pairs show, in order.
    ``fingerprints``: the targets' :func:`week_fingerprints` when the caller has them
    already (render_reports computes them to choose the weeks), else computed here."""
    if not targets:
        return []
    mondays = [(a, parse_iso_week(w)) for a, w in targets]
    rows = _read_rows(con, sorted({a for a, _ in targets}))
    prints = fingerprints if fingerprints is not None else week_fingerprints(con, targets, th, code)
    names, weeks_by_athlete = rows.names, rows.weeks
    sessions_by_week = {k: [_session(r) for r in v] for k, v in rows.activities.items()}
    wanted = {
        (a, m - timedelta(weeks=i)) for a, m in mondays for i in range(th.baseline_weeks + 1)
    }
    run_ids = [
        s.activity_id
        for key in sorted(wanted)
        for s in sessions_by_week.get(key, [])
        if s.is_run
    ]
    bins = _chart_bins(con, sorted(set(mondays)), run_ids, th)

    out = []
    for (athlete_id, iso_week), (_, monday) in zip(targets, mondays, strict=True):
        by_week = weeks_by_athlete.get(athlete_id, {})
        risk = by_week.get(iso_week)
        flags, flags_error = parse_flags(risk.get("flag_details") if risk else None)
        missing = list(risk.get("missing_data") or []) if risk else []
        history = _history(by_week, monday, iso_week)
        sessions = sessions_by_week.get((athlete_id, monday), [])
        baseline_runs = sum(
            1
            for i in range(1, th.baseline_weeks + 1)
            for s in sessions_by_week.get((athlete_id, monday - timedelta(weeks=i)), [])
            if s.is_run
        )
        hist_first = parse_iso_week(history[0].iso_week)
        balance_runs = [
            RunBalance(
                day=s.local_start.date(),
                left_pct=float(s.gait["gct_balance_mean_left_pct"]),
                this_week=s.local_start.date() >= monday,
            )
            for i in range((monday - hist_first).days // 7, -1, -1)
            for s in sessions_by_week.get((athlete_id, monday - timedelta(weeks=i)), [])
            if s.is_run and s.gait and s.gait.get("gct_balance_mean_left_pct") is not None
        ]
        week_gait = [s.gait for s in sessions if s.is_run and s.gait]
        thresholds_seen = [g["sprint_threshold_m_s"] for g in week_gait if g.get("sprint_threshold_m_s")]
        refs = [g["ref_speed_m_s"] for g in week_gait if g.get("ref_speed_m_s")]
        b = bins.get((athlete_id, monday), _Bins())
        out.append(
            WeekData(
                athlete_id=athlete_id,
                athlete_name=names.get(athlete_id),
                iso_week=iso_week,
                week_start=monday,
                risk=risk,
                flags=flags,
                flag_details_error=flags_error,
                missing_data=missing,
                sessions=sessions,
                history=history,
                balance_runs=balance_runs,
                step_week=b.step[True],
                step_baseline=b.step[False],
                cadence_week=b.cadence[True],
                cadence_baseline=b.cadence[False],
                speed_week=b.speed,
                sprint_threshold_m_s=thresholds_seen[-1] if thresholds_seen else None,
                ref_speed_m_s=refs[-1] if refs else th.ref_speed_m_s,
                baseline_runs=baseline_runs,
                journal=rows.journal.get((athlete_id, monday), []),
                fingerprint=prints[(athlete_id, iso_week)],
            )
        )
    return out


def load_week(
    con: duckdb.DuckDBPyConnection, athlete_id: str, iso_week: str, th: Thresholds
) -> WeekData:
    """Everything the report of one athlete-week shows."""
    return load_weeks(con, [(athlete_id, iso_week)], th)[0]


@dataclass
class BackTest:
    """One athlete's stored back-test (v_evaluation, v_pain_episodes, v_layoffs)."""

    rates: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    layoffs: list[dict[str, Any]] = field(default_factory=list)


def load_back_tests(con: duckdb.DuckDBPyConnection) -> dict[str, BackTest]:
    """Every athlete's back-test, rules first, then levels (the table order of the index)."""
    from transforms.evaluate import LEVELS, RULES

    out: dict[str, BackTest] = defaultdict(BackTest)
    for r in _rows(
        con,
        "SELECT * FROM v_evaluation ORDER BY athlete_id, list_position(?::VARCHAR[], signal)",
        [[*RULES, *LEVELS]],
    ):
        out[r["athlete_id"]].rates.append(r)
    for r in _rows(con, "SELECT * FROM v_pain_episodes ORDER BY athlete_id, episode", []):
        out[r["athlete_id"]].episodes.append(r)
    for r in _rows(con, "SELECT * FROM v_layoffs ORDER BY athlete_id, return_iso_week", []):
        out[r["athlete_id"]].layoffs.append(r)
    return dict(out)
