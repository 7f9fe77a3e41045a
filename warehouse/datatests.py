"""Data tests (dbt style) run after every load and before every publish.

Each test is one SQL query returning the offending rows; zero rows = pass. A failure
raises :class:`DataTestError` listing every broken test with a few examples, and the
pipeline does not publish.

Honest invariants only: devices may write two samples with the same timestamp, so
sample uniqueness is checked as "the activity holds exactly the samples its file had"
(count = activities.n_samples), which catches double and partial loads.

Incremental runs (``activity_ids`` given) check the per-activity sample invariants
(:data:`SCOPED`) only for those activities: those tests scan every sample and cost
O(warehouse); the orphan checks of ``samples`` and ``sample_extras`` compare row counts
with the activities' totals (:data:`TOTALS`). Every other test still runs on the whole
warehouse. Without ``activity_ids`` everything is checked in full.

The gate runs before every publish and every report rendering, and at the end of every
flow that writes (the nightly run: once, before both). A gate that finds the warehouse
exactly as the last passing gate left it
(:func:`state_fingerprint`, kept in ``pipeline_state.fingerprint``) passes without
running the tests again: they would read the same rows and give the same answer. After
a change it runs only the tests that read a changed table (the gate before publishing
follows the metrics, which change ``activity_gait`` and ``weekly_risk`` only: the scans
of every sample are not repeated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from ingest.errors import GaitwatchError
from ingest.exports import GARMIN_JSON, JOURNAL, STRAVA_CSV
from ingest.journal import KINDS, SESSION_KINDS, SIDES
from ingest.limits import PAIN_SCALE_MAX
from transforms.chartbins import KINDS as CHART_BIN_KINDS
from transforms.evaluate import EPISODE_KINDS, LEVELS, RULES
from transforms.thresholds import INTEGER_THRESHOLDS, threshold_values
from warehouse.migrate import StageState, fetch_one, read_stage_state, write_stage_state

# A full data-test run at least this often, even when every run in between is incremental.
FULL_RUN_EVERY = timedelta(days=7)
STAGE = "datatests"  # pipeline_state.name of the gate's watermark

# Samples may lie this far outside [activities.started_at, activities.ended_at]: devices
# write a record a few seconds before the session start or after its end (stop event).
TIME_WINDOW_TOLERANCE_S = 300.0
# Timer time may exceed elapsed time by this much: both are rounded independently (ms).
DURATION_TOLERANCE_S = 2.0

ACCEPTED_STATUS = ("loaded", "duplicate", "skipped", "rejected", "replaced")
ACCEPTED_RISK = ("low", "moderate", "high", "insufficient_data")
ACCEPTED_ASYMMETRY = ("balanced", "moderate", "high")
# "summary": an activity known only from an export list or the journal (migration 005).
ACCEPTED_FORMAT = ("fit", "tcx", "gpx", "summary")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v + "'" for v in values) + ")"


def _orphans(child: str, parent: str, key: str) -> str:
    return (
        f"SELECT DISTINCT c.{key} FROM {child} AS c "  # noqa: S608
        f"WHERE c.{key} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {parent} AS p WHERE p.{key} = c.{key})"
    )


def _count_matches(child: str, count_col: str) -> str:
    return (
        f"SELECT a.activity_id, a.{count_col} AS expected, coalesce(c.n, 0) AS found "  # noqa: S608
        f"FROM activities AS a LEFT JOIN (SELECT activity_id, count(*) AS n FROM {child} "
        f"GROUP BY activity_id) AS c USING (activity_id) WHERE coalesce(c.n, 0) <> a.{count_col}"
    )


# The registered relation holding the activity ids of an incremental check.
SCOPE = "_gw_datatest_scope"
# The samples of those activities, read once per incremental check (temporary table): the
# scoped tests of samples each scanned every sample's activity id for them (the ids are
# hashes, so no row group can be skipped), three scans of millions of rows per gate.
SCOPED_SAMPLES = "_gw_datatest_samples"
_SCOPED_SAMPLE_COLUMNS = "activity_id, ts, session_index"


def _scoped(table: str) -> str:
    """``table`` restricted to the activities of the incremental check."""
    if table == "samples":
        return f"(SELECT * FROM {SCOPED_SAMPLES})"  # noqa: S608 - our name
    return (
        f"(SELECT * FROM {table} WHERE activity_id IN (SELECT activity_id FROM {SCOPE}))"  # noqa: S608
    )


# name -> SQL returning offending rows
TESTS: dict[str, str] = {
    # keys unique and not null
    "activities.activity_id unique, not null": (
        "SELECT activity_id, count(*) FROM activities GROUP BY activity_id "
        "HAVING activity_id IS NULL OR count(*) > 1"
    ),
    "athletes.athlete_id unique, not null": (
        "SELECT athlete_id, count(*) FROM athletes GROUP BY athlete_id "
        "HAVING athlete_id IS NULL OR count(*) > 1"
    ),
    "sessions (activity_id, session_index) unique": (
        "SELECT activity_id, session_index FROM sessions GROUP BY ALL HAVING count(*) > 1"
    ),
    "laps (activity_id, lap_index) unique": (
        "SELECT activity_id, lap_index FROM laps GROUP BY ALL HAVING count(*) > 1"
    ),
    "activity_gait.activity_id unique": (
        "SELECT activity_id FROM activity_gait GROUP BY ALL HAVING count(*) > 1"
    ),
    "weekly_risk (athlete_id, week_start) unique": (
        "SELECT athlete_id, week_start FROM weekly_risk GROUP BY ALL HAVING count(*) > 1"
    ),
    "ingest_log (athlete_id, source_file, sha256, part) unique": (
        "SELECT athlete_id, source_file, sha256, part FROM ingest_log GROUP BY ALL "
        "HAVING count(*) > 1"
    ),
    # relationships
    "samples -> activities": _orphans("samples", "activities", "activity_id"),
    "sample_extras -> activities": _orphans("sample_extras", "activities", "activity_id"),
    "sessions -> activities": _orphans("sessions", "activities", "activity_id"),
    "laps -> activities": _orphans("laps", "activities", "activity_id"),
    "activity_gait -> activities": _orphans("activity_gait", "activities", "activity_id"),
    "activities -> athletes": _orphans("activities", "athletes", "athlete_id"),
    "weekly_risk -> athletes": _orphans("weekly_risk", "athletes", "athlete_id"),
    "activity_gait athlete and start agree with activities": (
        "SELECT g.activity_id FROM activity_gait AS g JOIN activities AS a USING (activity_id) "
        "WHERE g.athlete_id IS DISTINCT FROM a.athlete_id "
        "OR g.started_at IS DISTINCT FROM a.started_at"
    ),
    "samples.session_index -> sessions": (
        "SELECT DISTINCT s.activity_id, s.session_index FROM samples AS s "
        "JOIN activities AS a USING (activity_id) WHERE a.n_sessions > 0 AND NOT EXISTS "
        "(SELECT 1 FROM sessions AS x WHERE x.activity_id = s.activity_id "
        "AND x.session_index IS NOT DISTINCT FROM s.session_index)"
    ),
    "ingest_log loaded/duplicate/replaced -> activities": (
        "SELECT l.source_file, l.status, l.activity_id FROM ingest_log AS l "
        "WHERE l.status IN ('loaded', 'duplicate', 'replaced') AND (l.activity_id IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM activities AS a WHERE a.activity_id = l.activity_id))"
    ),
    "every activity has exactly one loaded ingest_log row with its sha256": (
        "SELECT a.activity_id, count(l.activity_id) AS n FROM activities AS a "
        "LEFT JOIN ingest_log AS l ON l.activity_id = a.activity_id AND l.status = 'loaded' "
        "AND l.sha256 = a.sha256 AND l.athlete_id = a.athlete_id "
        "GROUP BY a.activity_id HAVING count(l.activity_id) <> 1"
    ),
    # accepted values
    "ingest_log.status accepted": (
        f"SELECT status FROM ingest_log WHERE status IS NULL OR status NOT IN {_in(ACCEPTED_STATUS)}"  # noqa: S608
    ),
    "activities.format accepted": (
        f"SELECT format FROM activities WHERE format NOT IN {_in(ACCEPTED_FORMAT)}"  # noqa: S608
    ),
    "weekly_risk.risk_level accepted": (
        f"SELECT risk_level FROM weekly_risk WHERE risk_level IS NULL "  # noqa: S608
        f"OR risk_level NOT IN {_in(ACCEPTED_RISK)}"
    ),
    "weekly_risk.asymmetry_level accepted": (
        f"SELECT asymmetry_level FROM weekly_risk WHERE asymmetry_level IS NOT NULL "  # noqa: S608
        f"AND asymmetry_level NOT IN {_in(ACCEPTED_ASYMMETRY)}"
    ),
    "weekly_risk.iso_week matches week_start (a Monday)": (
        "SELECT athlete_id, iso_week, week_start FROM weekly_risk "
        "WHERE iso_week <> strftime(week_start, '%G-W%V') OR isodow(week_start) <> 1"
    ),
    # row-level invariants
    "activities duration_s <= elapsed_s": (
        f"SELECT activity_id, duration_s, elapsed_s FROM activities "  # noqa: S608
        f"WHERE duration_s > elapsed_s + {DURATION_TOLERANCE_S}"
    ),
    "activities started_at <= ended_at": (
        "SELECT activity_id FROM activities WHERE ended_at < started_at"
    ),
    "activity_gait analysed_s <= moving_s": (
        "SELECT activity_id, analysed_s, moving_s FROM activity_gait "  # noqa: S608
        f"WHERE analysed_s > moving_s + {DURATION_TOLERANCE_S}"
    ),
    "activities hold their samples (count = n_samples, at least one)": (
        # summary-only activities (export lists, journal) have no samples by design
        _count_matches("samples", "n_samples") + " OR (a.n_samples < 1 AND NOT a.summary_only)"
    ),
    "activities hold their sessions (count = n_sessions)": _count_matches("sessions", "n_sessions"),
    "activities hold their laps (count = n_laps)": _count_matches("laps", "n_laps"),
    "activities hold their extras (count = n_extras)": _count_matches("sample_extras", "n_extras"),
    "sample times within their activity": (
        "SELECT a.activity_id, min(s.ts) AS first_ts, max(s.ts) AS last_ts, "  # noqa: S608
        "any_value(a.started_at) AS started_at, any_value(a.ended_at) AS ended_at "
        "FROM samples AS s JOIN activities AS a USING (activity_id) GROUP BY a.activity_id "
        f"HAVING min(s.ts) < any_value(a.started_at) - to_seconds({TIME_WINDOW_TOLERANCE_S}) "
        f"OR max(s.ts) > any_value(a.ended_at) + to_seconds({TIME_WINDOW_TOLERANCE_S})"
    ),
}


# -- the tables of migrations 004-008 (pipeline state, exports, journal, back-test) -----

# Tables and their primary keys: DuckDB enforces a declared key (unique, not null), so the
# test is that the key is still declared (a table recreated by CREATE TABLE AS, or by a
# migration that forgot it, loses it and duplicates would then load silently).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "athletes": ("athlete_id",),
    "activities": ("activity_id",),
    "inbox_files": ("path",),
    "pipeline_state": ("name",),
    "export_activities": ("athlete_id", "source", "external_id"),
    "journal": ("entry_id",),
    "athlete_evaluation": ("athlete_id", "signal"),
    "evaluation_episodes": ("athlete_id", "episode"),
    "evaluation_layoffs": ("athlete_id", "return_iso_week"),
    "evaluation_state": ("athlete_id",),
    "thresholds_in_use": ("name",),
}
# inbox_files.outcome: warehouse.files.OUTCOMES as recorded ("changed" files are left for
# the next run, never recorded), and "imported" for rows carried over from the pre-004
# side file (warehouse.store._import_side_files, athlete unknown: '').
ACCEPTED_INBOX_OUTCOME = ("loaded", "duplicate", "unchanged", "skipped", "rejected", "imported")
ACCEPTED_SOURCE = ("file", STRAVA_CSV, GARMIN_JSON, JOURNAL)
ACCEPTED_EXPORT_SOURCE = (STRAVA_CSV, GARMIN_JSON)
ACCEPTED_STAGE = ("metrics", STAGE)  # pipeline_state.name (migration 004)
N_SIGNALS = len(RULES) + len(LEVELS)


def _primary_keys_sql() -> str:
    wanted = ", ".join(
        f"('{t}', [{', '.join(repr(c) for c in cols)}])" for t, cols in PRIMARY_KEYS.items()
    )
    return (
        f"SELECT w.t, w.cols FROM (VALUES {wanted}) AS w(t, cols) "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM duckdb_constraints() AS c WHERE c.table_name = w.t "
        "AND c.constraint_type = 'PRIMARY KEY' AND c.constraint_column_names = w.cols)"
    )


# SHA-256 of an athlete's journal rows as warehouse.evaluation.journal_hashes computes it
# (same text, hashed by DuckDB): the back-test is checked against the journal only for
# athletes whose stored evaluation read the journal as it is now (a journal changed by
# this run's ingest is re-evaluated by the metrics stage, after the first gate).
_FRESH_EVALUATIONS = (
    "SELECT s.athlete_id FROM evaluation_state AS s JOIN (SELECT athlete_id, "
    "sha256(string_agg(concat_ws('|', entry_id, entry_date, kind, coalesce(body_part, ''), "
    "coalesce(CAST(severity AS VARCHAR), '')), chr(10) ORDER BY entry_id)) AS h "
    "FROM journal GROUP BY athlete_id) AS j USING (athlete_id) WHERE s.journal_sha256 = j.h"
)
_EPISODE_KINDS = _in(EPISODE_KINDS)

# name -> SQL, merged into TESTS below (tests/test_datatests_coverage.py breaks each alone)
TESTS_004_008: dict[str, str] = {
    # keys
    "primary keys declared": _primary_keys_sql(),
    # relationships
    "journal -> athletes": _orphans("journal", "athletes", "athlete_id"),
    "export_activities -> athletes": _orphans("export_activities", "athletes", "athlete_id"),
    "export_activities linked activity -> activities (same athlete)": (
        "SELECT e.source, e.external_id, e.activity_id FROM export_activities AS e "
        "WHERE e.activity_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM activities AS a "
        "WHERE a.activity_id = e.activity_id AND a.athlete_id = e.athlete_id)"
    ),
    "inbox_files -> athletes": (
        # imported rows (pre-004 side file) do not know their athlete; an unchanged list
        # file wrote nothing (a header-only journal of a new athlete creates no athlete)
        "SELECT i.path, i.athlete_id FROM inbox_files AS i "
        "WHERE i.outcome NOT IN ('imported', 'unchanged') "
        "AND NOT EXISTS (SELECT 1 FROM athletes AS p WHERE p.athlete_id = i.athlete_id)"
    ),
    "evaluation_state -> athletes": _orphans("evaluation_state", "athletes", "athlete_id"),
    "back-test rows only for evaluated athletes (-> evaluation_state)": (
        "SELECT b.t, b.athlete_id FROM (SELECT 'athlete_evaluation' AS t, athlete_id "
        "FROM athlete_evaluation UNION SELECT 'evaluation_episodes', athlete_id "
        "FROM evaluation_episodes UNION SELECT 'evaluation_layoffs', athlete_id "
        "FROM evaluation_layoffs) AS b WHERE NOT EXISTS "
        "(SELECT 1 FROM evaluation_state AS s WHERE s.athlete_id = b.athlete_id)"
    ),
    # accepted values
    "journal.kind accepted": (
        f"SELECT entry_id, kind FROM journal WHERE kind NOT IN {_in(KINDS)}"  # noqa: S608
    ),
    "journal.side accepted": (
        f"SELECT entry_id, side FROM journal WHERE side NOT IN {_in(SIDES)}"  # noqa: S608
    ),
    "journal.severity within the 0-10 pain scale": (
        "SELECT entry_id, severity FROM journal "  # noqa: S608
        f"WHERE severity < 0 OR severity > {PAIN_SCALE_MAX}"
    ),
    "inbox_files.outcome accepted": (
        "SELECT path, outcome FROM inbox_files "  # noqa: S608
        f"WHERE outcome NOT IN {_in(ACCEPTED_INBOX_OUTCOME)}"
    ),
    "activities.source accepted": (
        "SELECT activity_id, source FROM activities "  # noqa: S608
        f"WHERE source IS NULL OR source NOT IN {_in(ACCEPTED_SOURCE)}"
    ),
    "export_activities.source accepted": (
        "SELECT external_id, source FROM export_activities "  # noqa: S608
        f"WHERE source NOT IN {_in(ACCEPTED_EXPORT_SOURCE)}"
    ),
    "athlete_evaluation signal and kind accepted": (
        "SELECT athlete_id, signal, kind FROM athlete_evaluation "  # noqa: S608
        f"WHERE NOT ((kind = 'rule' AND signal IN {_in(RULES)}) "
        f"OR (kind = 'level' AND signal IN {_in(LEVELS)}))"
    ),
    "pipeline_state.name accepted": (
        f"SELECT name FROM pipeline_state WHERE name NOT IN {_in(ACCEPTED_STAGE)}"  # noqa: S608
    ),
    # consistency
    "summary-only activities and only they have format summary and a list source": (
        "SELECT activity_id, summary_only, format, source FROM activities "
        "WHERE summary_only IS DISTINCT FROM (format = 'summary') "
        "OR summary_only IS DISTINCT FROM (source <> 'file')"
    ),
    "summary-only activities hold no recording (samples, sessions, laps, extras, gait)": (
        "SELECT a.activity_id FROM activities AS a WHERE a.summary_only AND (a.n_samples <> 0 "
        "OR a.n_sessions <> 0 OR a.n_laps <> 0 OR a.n_extras <> 0 OR a.n_data_columns <> 0 "
        "OR a.has_gps OR a.has_running_dynamics OR a.has_gct_balance "
        "OR EXISTS (SELECT 1 FROM activity_gait AS g WHERE g.activity_id = a.activity_id))"
    ),
    "summary-only listed activities -> their export_activities row": (
        "SELECT a.activity_id, a.source, a.external_id FROM activities AS a "  # noqa: S608
        f"WHERE a.summary_only AND a.source IN {_in(ACCEPTED_EXPORT_SOURCE)} AND NOT EXISTS "
        "(SELECT 1 FROM export_activities AS e WHERE e.activity_id = a.activity_id "
        "AND e.athlete_id = a.athlete_id AND e.source = a.source "
        "AND e.external_id = a.external_id)"
    ),
    "journal activities -> their strength/cross-training entry": (
        "SELECT a.activity_id, a.external_id FROM activities AS a "  # noqa: S608
        f"WHERE a.source = '{JOURNAL}' AND NOT EXISTS (SELECT 1 FROM journal AS j "
        "WHERE j.entry_id = a.external_id AND j.athlete_id = a.athlete_id "
        f"AND j.kind IN {_in(SESSION_KINDS)})"
    ),
    "strength/cross-training journal entries have their activity (or its recording)": (
        # the loader keeps the richer of two overlapping activities: a recording that
        # starts with a journal session replaces it, and the entry's log row becomes a
        # duplicate of the recording
        "SELECT j.entry_id, j.kind FROM journal AS j "  # noqa: S608
        f"WHERE j.kind IN {_in(SESSION_KINDS)} AND NOT EXISTS (SELECT 1 FROM activities AS a "
        f"WHERE a.source = '{JOURNAL}' AND a.external_id = j.entry_id "
        "AND a.athlete_id = j.athlete_id AND a.summary_only) AND NOT EXISTS (SELECT 1 "
        "FROM ingest_log AS l WHERE l.athlete_id = j.athlete_id "
        "AND l.source_file = j.source_file AND l.part = j.source_line "
        "AND l.status = 'duplicate' AND l.activity_id IS NOT NULL)"
    ),
    "inbox_files rejected/skipped have a reason and an ingest_log row": (
        "SELECT i.path, i.outcome, i.reason FROM inbox_files AS i "
        "WHERE i.outcome IN ('rejected', 'skipped') AND (nullif(trim(i.reason), '') IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM ingest_log AS l WHERE l.athlete_id = i.athlete_id "
        "AND l.status IN ('rejected', 'skipped') "
        "AND (l.source_file = i.path OR starts_with(l.source_file, i.path || '/'))))"
    ),
    "athlete_evaluation rates agree with their counts": (
        "SELECT athlete_id, signal FROM athlete_evaluation WHERE warning_weeks > scored_weeks "
        "OR preceded > episodes OR warning_weeks < 0 OR preceded < 0 "
        "OR (alarm_rate IS NULL) <> (scored_weeks = 0) "
        "OR abs(alarm_rate - warning_weeks / greatest(scored_weeks, 1)) > 1e-9 "
        "OR (hit_rate IS NULL) <> (episodes = 0) "
        "OR abs(hit_rate - preceded / greatest(episodes, 1)) > 1e-9 "
        "OR (median_lead_days IS NULL) <> (preceded = 0)"
    ),
    "athlete_evaluation.scored_weeks = the athlete's scored weekly_risk weeks": (
        "SELECT e.athlete_id, e.signal, e.scored_weeks FROM athlete_evaluation AS e "
        "WHERE e.scored_weeks <> (SELECT count(*) FROM weekly_risk AS w "
        "WHERE w.athlete_id = e.athlete_id AND w.risk_level <> 'insufficient_data')"
    ),
    "athlete_evaluation.episodes = the athlete's evaluation_episodes": (
        "SELECT e.athlete_id, e.signal, e.episodes FROM athlete_evaluation AS e "
        "WHERE e.episodes <> (SELECT count(*) FROM evaluation_episodes AS x "
        "WHERE x.athlete_id = e.athlete_id)"
    ),
    "evaluated athletes with weeks have every signal": (
        "SELECT s.athlete_id, (SELECT count(*) FROM athlete_evaluation AS e "  # noqa: S608
        "WHERE e.athlete_id = s.athlete_id) AS n FROM evaluation_state AS s "
        "WHERE EXISTS (SELECT 1 FROM weekly_risk AS w WHERE w.athlete_id = s.athlete_id) "
        f"AND (SELECT count(*) FROM athlete_evaluation AS e "
        f"WHERE e.athlete_id = s.athlete_id) <> {N_SIGNALS}"
    ),
    "evaluation_episodes numbered 1, 2, ... in date order": (
        "SELECT athlete_id, episode, start_date FROM (SELECT *, row_number() OVER "
        "(PARTITION BY athlete_id ORDER BY start_date) AS n FROM evaluation_episodes) "
        "WHERE episode <> n"
    ),
    "evaluation_episodes are the journal's pain/injury entries": (
        # start and end are entries' days; entries and max_severity count the entries
        # between them (episodes never overlap)
        "SELECT e.athlete_id, e.episode, e.start_date, e.end_date, e.entries, "  # noqa: S608
        "count(j.entry_id) AS found FROM evaluation_episodes AS e "
        f"JOIN ({_FRESH_EVALUATIONS}) AS f USING (athlete_id) "
        "LEFT JOIN journal AS j ON j.athlete_id = e.athlete_id "
        f"AND j.kind IN {_EPISODE_KINDS} AND j.entry_date BETWEEN e.start_date AND e.end_date "
        "GROUP BY ALL HAVING count(j.entry_id) <> e.entries "
        "OR min(j.entry_date) IS DISTINCT FROM e.start_date "
        "OR max(j.entry_date) IS DISTINCT FROM e.end_date "
        "OR max(j.severity) IS DISTINCT FROM any_value(e.max_severity)"
    ),
    "evaluation_layoffs are return weeks of weekly_risk": (
        "SELECT l.athlete_id, l.return_iso_week, l.days_off FROM evaluation_layoffs AS l "
        "WHERE NOT EXISTS (SELECT 1 FROM weekly_risk AS w WHERE w.athlete_id = l.athlete_id "
        "AND w.iso_week = l.return_iso_week AND w.return_week = 1 "
        "AND w.days_off_before = l.days_off)"
    ),
}
TESTS.update(TESTS_004_008)


# -- migration 010: the thresholds the metrics used (thresholds_in_use) ----------------

KNOWN_THRESHOLDS = tuple(threshold_values())  # every field of transforms.thresholds.Thresholds

# name -> SQL, merged into TESTS (tests/test_datatests_coverage.py breaks each alone). The
# key (name) is in PRIMARY_KEYS. An empty table is valid: metrics never ran on data.
TESTS_010: dict[str, str] = {
    "thresholds_in_use.name known to transforms/thresholds.py": (
        "SELECT name, value FROM thresholds_in_use "  # noqa: S608
        f"WHERE name NOT IN {_in(KNOWN_THRESHOLDS)}"
    ),
    "thresholds_in_use.value a valid threshold (finite, >= 0, whole for integer ones)": (
        # load_thresholds refuses negative values and fractions of integer thresholds
        "SELECT name, value FROM thresholds_in_use "  # noqa: S608
        "WHERE value IS NULL OR NOT isfinite(value) OR value < 0 "
        f"OR (name IN {_in(tuple(sorted(INTEGER_THRESHOLDS)))} AND value <> round(value))"
    ),
}
TESTS.update(TESTS_010)


# -- migration 011: the report's chart bins (activity_chart_bins) ----------------------

# Written with the activity's gait row, one total row per binned activity (its rows are
# only ever written with a new total row). Scans of a few hundred rows per run: about
# 0.1 s per gate at 2,000 runs.
_BINS = "activity_chart_bins"
TESTS_011: dict[str, str] = {
    # the total rows only: every row has its activity's total row (the last rule)
    "activity_chart_bins -> activity_gait": _orphans(
        f"(SELECT activity_id FROM {_BINS} WHERE kind = 'total')", "activity_gait", "activity_id"),  # noqa: S608
    "activity_chart_bins.kind accepted, with its bin columns": (
        f"SELECT activity_id, kind FROM {_BINS} "  # noqa: S608
        f"WHERE kind IS NULL OR kind NOT IN {_in(CHART_BIN_KINDS)} "
        "OR (kind IN ('step', 'speed')) <> (speed_bin_m_s IS NOT NULL) "
        "OR (kind = 'cadence') <> (cadence_bin_spm IS NOT NULL) "
        "OR (kind = 'step') <> (step_length_mm IS NOT NULL) "
        "OR (kind = 'total') <> (binned_at IS NOT NULL)"
    ),
    "activity_chart_bins.seconds finite, > 0 in a bin (>= 0 in a total)": (
        f"SELECT activity_id, kind, seconds FROM {_BINS} "  # noqa: S608
        "WHERE NOT isfinite(seconds) OR seconds < 0 OR (kind <> 'total' AND seconds = 0)"
    ),
    # An activity's bins are written at once, one row per bin by construction (a
    # group_by), with one total row: a second write without the delete doubles the total
    # row. (A key over every bin column costs 0.24 s per gate at 2,000 runs.)
    "activity_chart_bins one total row per binned activity": (
        f"SELECT activity_id FROM {_BINS} WHERE kind = 'total' "  # noqa: S608
        "GROUP BY ALL HAVING count(*) > 1"
    ),
    "activity_chart_bins rows have their activity's total row": (
        f"SELECT DISTINCT activity_id FROM {_BINS} AS b WHERE NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {_BINS} AS t WHERE t.activity_id = b.activity_id AND t.kind = 'total')"
    ),
}
TESTS.update(TESTS_011)


def _scope_sql(sql: str) -> str:
    for table in ("activities", "samples", "sample_extras"):
        sql = sql.replace(f"FROM {table} AS", f"FROM {_scoped(table)} AS")
        sql = sql.replace(f"JOIN {table} AS", f"JOIN {_scoped(table)} AS")
        sql = sql.replace(f"count(*) AS n FROM {table} ", f"count(*) AS n FROM {_scoped(table)} ")
    return sql


# Tests that scan every sample, per activity: an incremental run checks them only for its
# activities (name -> SQL over the scope).
SCOPED: dict[str, str] = {
    name: _scope_sql(TESTS[name])
    for name in (
        "samples.session_index -> sessions",
        "activities hold their samples (count = n_samples, at least one)",
        "activities hold their extras (count = n_extras)",
        "sample times within their activity",
    )
}



def _total_matches(child: str, count_col: str) -> str:
    """Offending row when ``child`` holds another number of rows than the activities
    account for: ``count(*)`` (table metadata, no scan) against ``sum(count_col)``."""
    return (
        f"SELECT found, expected FROM (SELECT (SELECT count(*) FROM {child}) AS found, "  # noqa: S608
        f"(SELECT coalesce(sum({count_col}), 0) FROM activities) AS expected) "
        "WHERE found <> expected"
    )


# The orphan checks of the two sample tables, in an incremental run, through totals: the
# anti-join scans every sample (most of an incremental gate's time). With the scoped
# per-activity counts it is the same check: the new activities hold exactly their
# samples, the older ones held theirs when they last passed and the pipeline writes no
# sample without a new ``loaded_at`` for its activity (the premise of :func:`scope`), so
# equal totals leave no sample without an activity. The weekly full run checks directly.
TOTALS: dict[str, str] = {
    "samples -> activities": _total_matches("samples", "n_samples"),
    "sample_extras -> activities": _total_matches("sample_extras", "n_extras"),
}


@dataclass
class TestResult:
    name: str
    failures: int
    examples: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failures == 0


class DataTestError(GaitwatchError):
    """One or more data tests failed: nothing is published and no report is written
    (the one exception for it everywhere; the CLI exits with 3)."""

    def __init__(self, failed: list[TestResult]) -> None:
        self.failed = failed
        lines = [f"{len(failed)} data test(s) failed:"]
        lines += [f"- {line}" for line in self.failures]
        super().__init__("\n".join(lines))

    @property
    def failures(self) -> list[str]:
        """One line per failing test."""
        return [f"{r.name}: {r.failures} row(s), e.g. {r.examples[:3]}" for r in self.failed]


def run(
    con: duckdb.DuckDBPyConnection,
    raise_on_failure: bool = True,
    activity_ids: Sequence[str] | None = None,
    names: set[str] | None = None,
) -> list[TestResult]:
    """Run every test in :data:`TESTS` (or only those in ``names``); raise
    :class:`DataTestError` on any failure.

    With ``activity_ids`` (an incremental run: the activities loaded since the last
    passing check), the tests of :data:`SCOPED` look at those activities only and the
    sample orphan checks compare totals (:data:`TOTALS`).
    """
    results: list[TestResult] = []
    tests = dict(TESTS)
    if activity_ids is not None:
        tests.update(SCOPED)
        tests.update(TOTALS)
    if names is not None:
        tests = {k: v for k, v in tests.items() if k in names}
    if activity_ids is not None:
        con.register(SCOPE, pa.table({"activity_id": pa.array(sorted(set(activity_ids)),
                                                               pa.string())}))
    try:
        if activity_ids is not None and any(SCOPED_SAMPLES in sql for sql in tests.values()):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {SCOPED_SAMPLES} AS SELECT "  # noqa: S608
                f"{_SCOPED_SAMPLE_COLUMNS} FROM samples "
                f"WHERE activity_id IN (SELECT activity_id FROM {SCOPE})"
            )
        for name, sql in tests.items():
            row = fetch_one(con, f"SELECT count(*) FROM ({sql})")  # noqa: S608
            n = int(row[0]) if row else 0
            examples = (
                con.execute(f"SELECT * FROM ({sql}) LIMIT 5").fetchall() if n else []  # noqa: S608
            )
            results.append(TestResult(name, n, examples))
    finally:
        if activity_ids is not None:
            con.unregister(SCOPE)
            con.execute(f"DROP TABLE IF EXISTS {SCOPED_SAMPLES}")
    failed = [r for r in results if not r.passed]
    if failed and raise_on_failure:
        raise DataTestError(failed)
    return results


def scope(
    con: duckdb.DuckDBPyConnection, full: bool = False, now: datetime | None = None
) -> tuple[list[str] | None, StageState]:
    """The activities an incremental gate must check (None: check everything), and the
    state to save once they pass.

    The watermark is the largest ``activities.loaded_at`` a passing run had seen: every
    activity loaded (or replaced) after it has not been checked yet; with no watermark (no
    activity when the last run passed), every activity. No passing run yet, or the last
    full run older than :data:`FULL_RUN_EVERY`, mean a full run. An empty warehouse is
    not a reason for one: an empty inbox, or a first drop holding only a journal, would
    then check everything in every gate of a run, and the two gates of the nightly run's
    last steps (publish and reports, concurrent) would both write the gate's state row:
    DuckDB refuses the second write ("Conflict on tuple deletion") and the run failed.
    """
    now = now or datetime.now(UTC)
    saved = read_stage_state(con, STAGE)
    row = fetch_one(con, "SELECT max(loaded_at) FROM activities")
    mark = row[0] if row else None
    if full or saved.full_at is None or now - saved.full_at > FULL_RUN_EVERY:
        return None, StageState(STAGE, watermark=mark, full_at=now)
    if saved.watermark is None:
        ids = con.execute("SELECT activity_id FROM activities").fetchall()
    else:
        ids = con.execute(
            "SELECT activity_id FROM activities WHERE loaded_at > ?", [saved.watermark]
        ).fetchall()
    return [i for (i,) in ids], StageState(STAGE, watermark=mark, full_at=saved.full_at)


# Tables the tests read. Small ones are fingerprinted by a hash of every row; the two
# sample tables (millions of rows) by their row count only: the pipeline never writes
# samples without writing their activity's row (a new loaded_at), so a change there
# shows in ``activities`` too.
_HASHED_TABLES = ("activities", "athletes", "sessions", "laps", "activity_gait",
                  "weekly_risk", "ingest_log", "inbox_files", "pipeline_state",
                  "export_activities", "journal", "athlete_evaluation",
                  "evaluation_episodes", "evaluation_layoffs", "evaluation_state",
                  "thresholds_in_use")
_COUNTED_TABLES = ("samples", "sample_extras")
# Tables fingerprinted by their row count and a hash of some rows (table -> which): the
# metrics write an activity's chart bins only with a new total row (a new binned_at).
_PARTLY_HASHED = {"activity_chart_bins": "x.kind = 'total'"}
# Rows left out of a table's digest: the gate's own state row, written after every
# passing gate, would otherwise make every next gate see pipeline_state as changed.
_NOT_FINGERPRINTED = {"pipeline_state": f"name <> '{STAGE}'"}
_CONSTRAINTS = "duckdb_constraints"


_FINGERPRINT_TAG = "datatests-v1:"


def state_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of everything the data tests read, table by table: equal digests mean
    equal answers. Milliseconds where the tests take seconds (they scan every sample)."""
    parts = [
        f"SELECT '{t}', count(*), coalesce(bit_xor(hash(x)), 0) FROM {t} AS x"  # noqa: S608
        + (f" WHERE {_NOT_FINGERPRINTED[t]}" if t in _NOT_FINGERPRINTED else "")
        for t in _HASHED_TABLES
    ] + [f"SELECT '{t}', count(*), 0 FROM {t}" for t in _COUNTED_TABLES] + [  # noqa: S608
        f"SELECT '{t}', count(*), coalesce(bit_xor(hash(x)) FILTER (WHERE {rows}), 0) "  # noqa: S608
        f"FROM {t} AS x" for t, rows in _PARTLY_HASHED.items()
    ] + [
        # the declared keys (the test "primary keys declared" reads them): a migration
        # that recreates a table changes them without changing a row
        f"SELECT '{_CONSTRAINTS}', count(*), coalesce(bit_xor(hash(c.table_name, "  # noqa: S608
        "c.constraint_type, c.constraint_text)), 0) FROM duckdb_constraints() AS c "
        "WHERE c.database_name = current_database()"
    ]
    # bit_xor of row hashes: order-free; a changed row changes it (64-bit collisions aside)
    rows = con.execute(" UNION ALL ".join(parts) + " ORDER BY 1").fetchall()
    return _FINGERPRINT_TAG + ";".join(f"{t}={n}/{h}" for t, n, h in rows)


def _per_table(fingerprint: str | None) -> dict[str, str]:
    if not fingerprint or not fingerprint.startswith(_FINGERPRINT_TAG):
        return {}
    return dict(p.split("=", 1) for p in fingerprint[len(_FINGERPRINT_TAG):].split(";") if "=" in p)


def _reads(sql: str) -> set[str]:
    """The fingerprinted tables a test's SQL names (``n_samples`` is not ``samples``)."""
    return {t for t in (*_HASHED_TABLES, *_COUNTED_TABLES, *_PARTLY_HASHED, _CONSTRAINTS)
            if re.search(rf"\b{t}\b", sql)}


# What each test reads, worked out once (a regex per table per test, in every gate).
# "primary keys declared" names the tables only as values in its list: it reads the
# declared keys alone, and a new row in one of them does not change its answer.
READS: dict[str, frozenset[str]] = {name: frozenset(_reads(sql)) for name, sql in TESTS.items()}
READS["primary keys declared"] = frozenset({_CONSTRAINTS})


def _changed_tests(saved: str | None, now: str) -> set[str]:
    """Tests that read a table changed since the fingerprint ``saved`` (all when unknown).
    The others would read the same rows as when they last passed."""
    before, after = _per_table(saved), _per_table(now)
    if not before:
        return set(TESTS)
    changed = {t for t in after if before.get(t) != after[t]}
    return {name for name, reads in READS.items() if reads & changed}


def gate(con: duckdb.DuckDBPyConnection, full: bool = False) -> list[TestResult]:
    """The data tests as the pipeline's one gate before publishing or rendering reports.

    Incremental (:func:`scope`; ``full=True``: everything). Raises :class:`DataTestError`
    on any failure; on success the new watermark and the warehouse's
    :func:`state_fingerprint` are saved in ``pipeline_state`` (a transaction of its own:
    the tests write nothing else). A later incremental gate runs only the tests reading a
    table whose fingerprint changed since, and returns no results when none did.
    """
    ids, state = scope(con, full)
    fingerprint = state_fingerprint(con)
    names = None
    if ids is not None:
        names = _changed_tests(read_stage_state(con, STAGE).fingerprint, fingerprint)
        if not names:
            return []
    state = replace(state, fingerprint=fingerprint)
    results = run(con, raise_on_failure=True, activity_ids=ids, names=names)
    con.execute("BEGIN")
    try:
        write_stage_state(con, state)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return results
