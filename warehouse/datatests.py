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

The gate runs up to three times per nightly run (end of ingest, before publish, before
the reports). A gate that finds the warehouse exactly as the last passing gate left it
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


def _scoped(table: str) -> str:
    """``table`` restricted to the activities of the incremental check."""
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
        con.register(SCOPE, pa.table({"activity_id": pa.array(sorted(set(activity_ids)),
                                                               pa.string())}))
    if names is not None:
        tests = {k: v for k, v in tests.items() if k in names}
    try:
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
    activity loaded (or replaced) after it has not been checked yet. No watermark or the
    last full run older than :data:`FULL_RUN_EVERY` mean a full run.
    """
    now = now or datetime.now(UTC)
    saved = read_stage_state(con, STAGE)
    row = fetch_one(con, "SELECT max(loaded_at), count(*) FROM activities")
    mark, n_activities = (row[0], int(row[1])) if row else (None, 0)
    if (
        full
        or saved.full_at is None
        or saved.watermark is None
        or now - saved.full_at > FULL_RUN_EVERY
        or n_activities == 0
    ):
        return None, StageState(STAGE, watermark=mark, full_at=now)
    ids = con.execute(
        "SELECT activity_id FROM activities WHERE loaded_at > ?", [saved.watermark]
    ).fetchall()
    return [i for (i,) in ids], StageState(STAGE, watermark=mark, full_at=saved.full_at)


# Tables the tests read. Small ones are fingerprinted by a hash of every row; the two
# sample tables (millions of rows) by their row count only: the pipeline never writes
# samples without writing their activity's row (a new loaded_at), so a change there
# shows in ``activities`` too.
_HASHED_TABLES = ("activities", "athletes", "sessions", "laps", "activity_gait",
                  "weekly_risk", "ingest_log")
_COUNTED_TABLES = ("samples", "sample_extras")


_FINGERPRINT_TAG = "datatests-v1:"


def state_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of everything the data tests read, table by table: equal digests mean
    equal answers. Milliseconds where the tests take seconds (they scan every sample)."""
    parts = [
        f"SELECT '{t}', count(*), coalesce(bit_xor(hash(x)), 0) FROM {t} AS x"  # noqa: S608
        for t in _HASHED_TABLES
    ] + [f"SELECT '{t}', count(*), 0 FROM {t}" for t in _COUNTED_TABLES]  # noqa: S608
    # bit_xor of row hashes: order-free; a changed row changes it (64-bit collisions aside)
    rows = con.execute(" UNION ALL ".join(parts) + " ORDER BY 1").fetchall()
    return _FINGERPRINT_TAG + ";".join(f"{t}={n}/{h}" for t, n, h in rows)


def _per_table(fingerprint: str | None) -> dict[str, str]:
    if not fingerprint or not fingerprint.startswith(_FINGERPRINT_TAG):
        return {}
    return dict(p.split("=", 1) for p in fingerprint[len(_FINGERPRINT_TAG):].split(";") if "=" in p)


def _reads(sql: str) -> set[str]:
    """The fingerprinted tables a test's SQL names (``n_samples`` is not ``samples``)."""
    return {t for t in (*_HASHED_TABLES, *_COUNTED_TABLES) if re.search(rf"\b{t}\b", sql)}


def _changed_tests(saved: str | None, now: str) -> set[str]:
    """Tests that read a table changed since the fingerprint ``saved`` (all when unknown).
    The others would read the same rows as when they last passed."""
    before, after = _per_table(saved), _per_table(now)
    if not before:
        return set(TESTS)
    changed = {t for t in after if before.get(t) != after[t]}
    return {name for name, sql in TESTS.items() if _reads(sql) & changed}


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
