"""The ``nightly`` flow end to end under the Prefect test harness: an inbox built from the
real corpus (fit/, gpx/, bad/) and the generated sample athletes, one run, then checks
of everything it must leave behind (ingest_log, activities, reports, the published file,
Prefect artifacts, privacy), and a second run that must change nothing.

The run is shared by the tests of this module (module-scoped fixture): it is the
expensive part, the checks are cheap.
"""

from __future__ import annotations

import csv
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import age, copy_files, inbox_files, to_toml
from conftest import CORPUS, SAMPLE_DATA, corpus_files

SAMPLE_CONFIG = SAMPLE_DATA / "gaitwatch.toml"
SAMPLE_ATHLETES = ("control",)


@dataclass
class NightlyRun:
    root: Path
    inbox: Path
    config: Path
    db: Path
    published: Path
    reports: Path
    first: Any  # pipeline.RunReport of the first run
    second: Any  # of the second run
    log_after_first: list[tuple[Any, ...]]
    inputs: list[str]  # every file dropped, relative to the inbox
    zone: tuple[float, float, float]  # the sample config's privacy zone (lat, lon, radius_m)


def _manifest() -> dict[str, dict[str, str]]:
    with (CORPUS / "MANIFEST.csv").open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def _sample_config_doc(root: Path) -> tuple[str, tuple[float, float, float]]:
    """The shipped sample configuration with inputs/outputs moved into ``root``."""
    import tomllib

    doc = tomllib.loads(SAMPLE_CONFIG.read_text())
    doc["inbox"] = "inbox"
    doc["database"] = "out/gaitwatch.duckdb"
    doc["published_database"] = "out/analyst.duckdb"
    doc["reports"] = "out/reports"
    doc["default_athlete"] = "Casual Runner"  # corpus GPX files dropped at the top level
    doc["inbox_options"].update(
        settle_seconds=2, processed_dir="out/processed", rejected_dir="out/rejected"
    )
    zones = [z for a in doc["athletes"] for z in a.get("privacy_zones", [])]
    assert len(zones) == 1, "the sample config shows one privacy zone"
    z = zones[0]
    return to_toml(doc), (z["lat"], z["lon"], z["radius_m"])


@pytest.fixture(scope="module")
def nightly_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> NightlyRun:
    from flows.flows import nightly

    root = tmp_path_factory.mktemp("nightly")
    inbox = root / "inbox"
    if not (SAMPLE_DATA / "inbox").is_dir():
        pytest.skip("sample_data/inbox not generated")
    # one generated athlete keeps the run short: the one with the privacy zone, whose
    # files include an export zip
    for athlete in SAMPLE_ATHLETES:
        shutil.copytree(SAMPLE_DATA / "inbox" / athlete, inbox / athlete)
    copy_files(corpus_files("fit"), inbox / "corpus-fit")
    copy_files(corpus_files("gpx"), inbox)  # top level: the default athlete
    copy_files(corpus_files("bad"), inbox / "Bad Files")  # normalised to bad-files
    age(p for p in inbox.rglob("*") if p.is_file())
    text, zone = _sample_config_doc(root)
    config = root / "gaitwatch.toml"
    config.write_text(text)

    first = nightly(config=config)
    db = root / "out" / "gaitwatch.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        log = con.execute(
            "SELECT athlete_id, source_file, sha256, part, status, reason, seen_at "
            "FROM ingest_log ORDER BY ALL"
        ).fetchall()
    second = nightly(config=config)
    return NightlyRun(
        root=root,
        inbox=inbox,
        config=config,
        db=db,
        published=root / "out" / "analyst.duckdb",
        reports=root / "out" / "reports",
        first=first,
        second=second,
        log_after_first=log,
        inputs=inbox_files(inbox),
        zone=zone,
    )


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _logged_inputs(run: NightlyRun) -> dict[str, set[str]]:
    """Dropped file -> statuses of its ingest_log rows (archive members count for it)."""
    out: dict[str, set[str]] = {}
    for _athlete, source_file, _sha, _part, status, _reason, _seen in run.log_after_first:
        top = next(
            (i for i in run.inputs if source_file == i or source_file.startswith(i + "/")),
            None,
        )
        assert top is not None, f"ingest_log names a file nobody dropped: {source_file}"
        out.setdefault(top, set()).add(status)
    return out


def test_every_dropped_file_is_in_ingest_log(nightly_run: NightlyRun) -> None:
    logged = _logged_inputs(nightly_run)
    missing = sorted(set(nightly_run.inputs) - set(logged))
    assert not missing, f"files dropped but not in ingest_log: {missing}"
    assert len(nightly_run.inputs) > 100  # a sample athlete and the whole corpus


def test_statuses_match_what_the_corpus_files_are(nightly_run: NightlyRun) -> None:
    manifest = _manifest()
    logged = _logged_inputs(nightly_run)
    for name, row in manifest.items():
        kind, base = name.split("/", 1)
        rel = {"fit": f"corpus-fit/{base}", "gpx": base, "bad": f"Bad Files/{base}"}[kind]
        statuses = logged[rel]
        if kind == "bad":
            # damaged: refused with a reason, or (a reader may salvage a truncated
            # recording) loaded; never silently dropped
            assert statuses <= {"rejected", "loaded"}, (rel, statuses)
        elif row["n_records"] in ("0", "") or row["duration_s"] == "":
            # no timed records: settings, monitoring, routes, drawn tracks
            assert statuses == {"skipped"}, (rel, statuses)
        else:
            assert statuses <= {"loaded", "duplicate"}, (rel, statuses)
    # the files no reader can make sense of are refused outright
    for base in ("empty-zero-bytes.fit", "bad-crc-activity.fit", "strava-scrape-unbound-ns-prefix.gpx"):
        assert logged[f"Bad Files/{base}"] == {"rejected"}
    reasons = [r for *_, status, r, _ in nightly_run.log_after_first if status in ("rejected", "skipped")]
    assert all(r and "\n" not in r for r in reasons)


def test_folder_names_the_athlete_top_level_is_the_default(nightly_run: NightlyRun) -> None:
    athletes = {a: f for a, f, *_ in nightly_run.log_after_first}
    by_athlete: dict[str, set[str]] = {}
    for athlete, source_file, *_ in nightly_run.log_after_first:
        by_athlete.setdefault(athlete, set()).add(source_file.split("/", 1)[0])
    assert set(athletes) == {*SAMPLE_ATHLETES, "corpus-fit", "bad-files", "casual-runner"}
    assert by_athlete["bad-files"] == {"Bad Files"}
    assert all("/" not in f for a, f, *_ in nightly_run.log_after_first if a == "casual-runner")


def test_run_report_lists_the_rejected_files(nightly_run: NightlyRun) -> None:
    rejected_log = {f for _, f, _, _, status, *_ in nightly_run.log_after_first if status == "rejected"}
    reported = {o.rel for o in nightly_run.first.ingest.rejected}
    assert reported == rejected_log
    assert all(o.reason for o in nightly_run.first.ingest.rejected)


def test_activities_and_metrics_loaded(nightly_run: NightlyRun) -> None:
    db = nightly_run.db
    loaded = _query(db, "SELECT count(*) FROM ingest_log WHERE status = 'loaded'")[0][0]
    acts = _query(db, "SELECT count(*) FROM activities")[0][0]
    assert acts == loaded > 80
    per_athlete = dict(_query(db, "SELECT athlete_id, count(*) FROM weekly_risk GROUP BY ALL"))
    for athlete in SAMPLE_ATHLETES:
        assert per_athlete.get(athlete, 0) >= 14  # 14 generated weeks each
    runs_without_gait = _query(
        db,
        "SELECT count(*) FROM activities a WHERE a.sport = 'running' AND a.athlete_id IN "
        "('control') AND a.activity_id NOT IN "
        "(SELECT activity_id FROM activity_gait)",
    )[0][0]
    assert runs_without_gait == 0
    tz = dict(_query(db, "SELECT athlete_id, timezone FROM athletes"))
    assert tz["control"] == "Europe/London"  # configured athletes reach the warehouse
    assert tz["compact"] == "America/New_York"  # even those with nothing loaded yet


def test_reports_and_published_database_written(nightly_run: NightlyRun) -> None:
    index = nightly_run.reports / "index.html"
    assert index.is_file()
    weekly_html = [p for p in nightly_run.reports.rglob("*.html") if p.name != "index.html"]
    assert len(weekly_html) >= 14
    assert nightly_run.published.is_file()
    assert _query(nightly_run.published, "SELECT count(*) FROM activities") == _query(
        nightly_run.db, "SELECT count(*) FROM activities"
    )


def test_second_run_changes_nothing(nightly_run: NightlyRun) -> None:
    second = nightly_run.second.ingest
    assert second.outcomes == []  # nothing re-read, nothing re-parsed
    assert second.unchanged == len(nightly_run.inputs)
    with duckdb.connect(str(nightly_run.db), read_only=True) as con:
        log = con.execute(
            "SELECT athlete_id, source_file, sha256, part, status, reason, seen_at "
            "FROM ingest_log ORDER BY ALL"
        ).fetchall()
    assert log == nightly_run.log_after_first  # not even seen_at moved
    assert nightly_run.second.metrics.activities == 0


def test_prefect_artifacts(nightly_run: NightlyRun) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        tables = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["rejected-files"]))
        )
        summaries = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["weekly-summary"]))
        )
    # other tests of the session create artifacts with these keys too: look for ours
    assert any("Bad Files/empty-zero-bytes.fit" in str(a.data) for a in tables)
    assert any("Casey Control" in str(a.data) and "| Risk" in str(a.data) for a in summaries)


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_privacy_zone_never_reaches_published_file_or_reports(nightly_run: NightlyRun) -> None:
    lat0, lon0, radius = nightly_run.zone
    for db in (nightly_run.published, nightly_run.db):
        rows = _query(
            db,
            "SELECT s.activity_id, s.ts, s.lat_deg, s.lon_deg FROM samples s "
            "JOIN activities a USING (activity_id) WHERE a.athlete_id = 'control' ORDER BY 1, 2",
        )
        positions = [(a, lat, lon) for a, _ts, lat, lon in rows if lat is not None]
        inside = [p for p in positions if _haversine_m(p[1], p[2], lat0, lon0) <= radius]
        assert not inside, f"{len(inside)} positions inside the privacy zone in {db.name}"
        # Not vacuous: the runs start at home, so samples were masked, and the first
        # position each masked run shows lies just outside the zone's edge.
        masked = [r for r in rows if r[2] is None]
        assert 0 < len(masked) < len(positions)
        first: dict[str, Any] = {}
        first_seen: dict[str, tuple[float, float]] = {}
        for a, _ts, lat, lon in rows:
            first.setdefault(a, lat)
            if lat is not None:
                first_seen.setdefault(a, (lat, lon))
        starts_masked = [a for a, lat in first.items() if lat is None and a in first_seen]
        edge = [_haversine_m(*first_seen[a], lat0, lon0) for a in starts_masked]
        assert edge and all(radius < d < radius + 150 for d in edge), edge[:5]
    # Reports: no coordinate of the home area in any report file.
    home = re.compile(rf"{lat0:.2f}\d*[^0-9]+{lon0:.2f}\d*".replace(".", r"\."))
    for p in nightly_run.reports.rglob("*"):
        if p.is_file() and p.suffix in (".html", ".md", ".svg", ".json"):
            assert not home.search(p.read_text(errors="ignore")), p


def test_an_empty_inbox_then_a_journal_alone_run_green_and_gate_once_per_change(
    prefect_harness: None, tmp_path: Path
) -> None:
    """A first nightly run on an empty inbox, the same again, then a journal with no
    activity in it: each run publishes; an unchanged warehouse is not checked again (the
    gate's state row is not rewritten). The publish and reports steps read at the same
    time: each re-running the gate on a warehouse without activities (a full check every
    time) wrote the gate's state row twice at once, and DuckDB failed the run with
    "Conflict on tuple deletion"."""
    from flows.flows import nightly

    (tmp_path / "inbox").mkdir()
    config = tmp_path / "gaitwatch.toml"
    config.write_text(to_toml({
        "inbox": "inbox", "database": "out/gw.duckdb", "reports": "out/reports",
        "default_athlete": "ann", "inbox_options": {"settle_seconds": 0},
    }))
    db = tmp_path / "out" / "gw.duckdb"
    state = "SELECT fingerprint, updated_at FROM pipeline_state WHERE name = 'datatests'"

    assert nightly(config=config).published == tmp_path / "out" / "gw-published.duckdb"
    first = _query(db, state)
    assert len(first) == 1
    assert nightly(config=config).published is not None
    assert _query(db, state) == first  # nothing changed: nothing checked, nothing written

    journal = tmp_path / "inbox" / "ann" / "journal.csv"
    journal.parent.mkdir()
    journal.write_text("date,kind,minutes,body_part,side,severity,text\n"
                       "2025-03-03,pain,,left hip,left,3,after the long run\n", encoding="utf-8")
    age([journal])
    run = nightly(config=config)
    assert [o.status for o in run.ingest.outcomes] == ["loaded"]
    assert _query(db, "SELECT count(*) FROM activities") == [(0,)]
    after = _query(db, state)
    assert after != first  # the journal changed what the tests read: checked once
    assert nightly(config=config).published is not None
    assert _query(db, state) == after
