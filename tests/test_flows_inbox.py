"""The inbox convention through the ``ingest_inbox`` flow (Prefect test harness): files
still being copied wait, temporary names are ignored, unchanged files are not re-read,
processed/rejected files are moved (never deleted) when configured, one task per batch."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import age, inbox_files, write_config
from conftest import CORPUS

GOOD = ["fit/fenix5-run-dynamics-short.fit", "fit/fenix5-bike-short.fit", "gpx/garmin-connect-run-ns3-cad-hr-short.gpx"]
BAD = ["bad/empty-zero-bytes.fit", "bad/bad-crc-activity.fit"]


def _drop(inbox: Path, athlete: str, names: list[str], aged: bool = True) -> list[Path]:
    out = []
    for n in names:
        src = CORPUS / n
        if not src.exists():
            pytest.skip(f"corpus file {n} missing")
        dest = inbox / athlete / src.name if athlete else inbox / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        out.append(dest)
    if aged:
        age(out)
    return out


def _config(root: Path, **inbox_options: Any) -> Path:
    return write_config(
        root / "gaitwatch.toml",
        {
            "inbox": "inbox",
            "database": "out/gw.duckdb",
            "default_athlete": "solo",
            "inbox_options": {"settle_seconds": 60, **inbox_options},
        },
    )


def _log(root: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(root / "out" / "gw.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT athlete_id, source_file, status FROM ingest_log ORDER BY ALL"
        ).fetchall()


def test_file_still_being_copied_waits_for_the_next_run(prefect_harness: None, tmp_path: Path) -> None:
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    _drop(inbox, "ana", GOOD[:1])
    (fresh,) = _drop(inbox, "ana", GOOD[1:2], aged=False)  # modified just now
    (inbox / "ana" / "half.fit.part").write_bytes(b"partial download")
    (inbox / "ana" / ".hidden.fit").write_bytes(b"editor backup")
    config = _config(tmp_path)

    first = ingest_inbox(config=config)
    assert [o.rel for o in first.outcomes] == ["ana/fenix5-run-dynamics-short.fit"]
    assert first.unsettled == ["ana/fenix5-bike-short.fit"]
    assert [f for _, f, _ in _log(tmp_path)] == ["ana/fenix5-run-dynamics-short.fit"]

    age([fresh])  # the copy has finished
    second = ingest_inbox(config=config)
    assert [(o.rel, o.status) for o in second.outcomes] == [("ana/fenix5-bike-short.fit", "loaded")]
    assert second.unchanged == 1 and second.unsettled == []
    logged = {f for _, f, _ in _log(tmp_path)}
    assert logged == {"ana/fenix5-run-dynamics-short.fit", "ana/fenix5-bike-short.fit"}


def test_unchanged_files_are_not_read_again_changed_ones_are(prefect_harness: None, tmp_path: Path) -> None:
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    (target, _) = _drop(inbox, "", GOOD[:2])  # top level: the default athlete
    config = _config(tmp_path)
    first = ingest_inbox(config=config)
    assert {o.status for o in first.outcomes} == {"loaded"}
    assert {a for a, _, _ in _log(tmp_path)} == {"solo"}

    again = ingest_inbox(config=config)
    assert again.outcomes == [] and again.unchanged == 2

    os.utime(target)  # touched, same bytes: read, recognised by content, nothing stored twice
    age([target], 120)
    touched = ingest_inbox(config=config)
    assert [(o.rel, o.status) for o in touched.outcomes] == [(target.name, "unchanged")]

    # new content under the same name: read and loaded as what it now is
    shutil.copyfile(CORPUS / "fit" / "fenix5-walk-dynamics.fit", target)
    age([target], 90)
    changed = ingest_inbox(config=config)
    assert [(o.rel, o.status) for o in changed.outcomes] == [(target.name, "loaded")]
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        sports = sorted(r[0] for r in con.execute("SELECT sport FROM activities").fetchall())
    assert sports == ["cycling", "running", "walking"]


def test_processed_and_rejected_files_are_moved_never_deleted(prefect_harness: None, tmp_path: Path) -> None:
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    _drop(inbox, "ana", GOOD)
    _drop(inbox, "Bob", BAD)
    before = inbox_files(inbox)
    config = _config(tmp_path, processed="move", rejected="move", processed_dir="done", rejected_dir="inbox/rejected")

    report = ingest_inbox(config=config)
    assert {o.rel for o in report.rejected} == {"Bob/empty-zero-bytes.fit", "Bob/bad-crc-activity.fit"}
    processed = inbox_files(tmp_path / "done")
    rejected = inbox_files(inbox / "rejected")
    assert processed == sorted(f"ana/{Path(n).name}" for n in GOOD)
    assert rejected == ["Bob/bad-crc-activity.fit", "Bob/empty-zero-bytes.fit"]
    assert sorted(processed + rejected) == before  # every input still exists, once
    assert inbox_files(inbox) == [f"rejected/{r}" for r in rejected]

    # the rejected folder lies inside the inbox: it is not scanned again
    again = ingest_inbox(config=config)
    assert again.outcomes == [] and again.invalid == [] and again.unchanged == 0

    # the same file dropped again: recognised by content, nothing stored twice, moved aside
    _drop(inbox, "ana", GOOD[:1])
    dropped = ingest_inbox(config=config)
    assert [o.status for o in dropped.outcomes] == ["unchanged"]
    assert (tmp_path / "done" / "ana" / "fenix5-run-dynamics-short.1.fit").exists()
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM activities").fetchall() == [(3,)]


def test_invalid_athlete_folder_is_reported_not_lost(prefect_harness: None, tmp_path: Path) -> None:
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    _drop(inbox, "???", GOOD[:1])
    report = ingest_inbox(config=_config(tmp_path))
    assert [o.rel for o in report.rejected] == ["???/fenix5-run-dynamics-short.fit"]
    assert "athlete" in report.rejected[0].reason


def test_file_names_not_in_utf8_are_loaded_under_an_escaped_name(
    prefect_harness: None, tmp_path: Path
) -> None:
    # Latin-1 names (an old zip, a Windows copy) reach Python with lone surrogates that
    # DuckDB, polars and Prefect cannot encode: the whole run used to stop with a
    # UnicodeEncodeError. The files load; the warehouse names them with \\xNN escapes;
    # moving a processed file keeps its real name on disk.
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    src = CORPUS / GOOD[0]
    if not src.exists():
        pytest.skip(f"corpus file {GOOD[0]} missing")
    folder = os.fsencode(inbox) + b"/J\xf6rg"  # "Jörg" in Latin-1
    os.makedirs(folder)
    names = [folder + b"/caf\xe9 run.fit", os.fsencode(inbox) + b"/ana/\xe9t\xe9.fit"]
    os.makedirs(os.path.dirname(names[1]))
    for n in names:
        shutil.copyfile(src, n)
        age([Path(os.fsdecode(n))])
    config = _config(tmp_path, processed="move", processed_dir="done")

    report = ingest_inbox(config=config)
    assert sorted((o.rel, o.status) for o in report.outcomes) == [
        ("J\\xf6rg/caf\\xe9 run.fit", "loaded"), ("ana/\\xe9t\\xe9.fit", "loaded"),
    ]
    assert _log(tmp_path) == [
        ("ana", "ana/\\xe9t\\xe9.fit", "loaded"), ("jorg", "J\\xf6rg/caf\\xe9 run.fit", "loaded"),
    ]
    done = sorted(os.listdir(os.fsencode(tmp_path / "done" / "ana")))
    assert done == [b"\xe9t\xe9.fit"]  # moved under its own name
    assert os.listdir(os.fsencode(tmp_path / "done") + b"/J\xf6rg") == [b"caf\xe9 run.fit"]
    again = ingest_inbox(config=config)
    assert again.outcomes == [] and again.invalid == []


@pytest.mark.timeout(180)  # the named pipe used to block the run for ever
def test_odd_inbox_entries_are_reported_and_never_block_the_run(
    prefect_harness: None, tmp_path: Path
) -> None:
    # A named pipe blocked the run for ever; a broken link and a linked folder were passed
    # over without a word; a file dated in the future (a clock set wrong, a FAT volume's
    # local time) counted as "still being copied" until that time came.
    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    _drop(inbox, "ana", GOOD[:1])
    (ahead,) = _drop(inbox, "ana", GOOD[1:2])
    os.utime(ahead, (time.time() + 10 * 3600, time.time() + 10 * 3600))
    os.mkfifo(inbox / "ana" / "pipe.fit")
    age([inbox / "ana" / "pipe.fit"])  # settled: the previous code then read it, and blocked
    (inbox / "ana" / "broken.fit").symlink_to(tmp_path / "nowhere.fit")
    _drop(tmp_path / "elsewhere", "runs", GOOD[2:3])
    (inbox / "ana" / "linked").symlink_to(tmp_path / "elsewhere" / "runs")
    time.sleep(1.5)  # the last change here (ctime) of every file is older than settle_seconds
    report = ingest_inbox(config=_config(tmp_path, settle_seconds=1))
    assert sorted((o.rel, o.status) for o in report.outcomes) == [
        ("ana/fenix5-bike-short.fit", "loaded"), ("ana/fenix5-run-dynamics-short.fit", "loaded"),
    ]
    assert report.unsettled == []
    reasons = dict((o.rel, o.reason) for o in report.rejected)
    assert sorted(reasons) == ["ana/broken.fit", "ana/linked/", "ana/pipe.fit"]
    assert reasons["ana/broken.fit"] == "broken symbolic link: nothing to read"
    assert reasons["ana/pipe.fit"] == "not a regular file (named pipe, socket or device): nothing to read"
    assert reasons["ana/linked/"].startswith("symbolic link to a folder, not followed")


def test_scan_judges_future_dates_by_the_last_change_and_sets_aside_name_twins(tmp_path: Path) -> None:
    from ingest.inbox import InboxRules, scan_inbox

    inbox = tmp_path / "inbox"
    folder = inbox / "ana"
    folder.mkdir(parents=True)
    src = (CORPUS / GOOD[0]).read_bytes()
    # dated 10 h ahead (a FAT volume's local time), just copied: still settling
    (folder / "ahead.fit").write_bytes(src)
    os.utime(folder / "ahead.fit", (time.time() + 36_000, time.time() + 36_000))
    # a Latin-1 name whose escaped text equals a real name typed with a backslash
    (folder / "caf\\xe9.fit").write_bytes(src)
    with open(os.fsencode(folder) + b"/caf\xe9.fit", "wb") as out:
        out.write(src)
    (folder / "other.fit").write_bytes(src)
    # a Latin-1 athlete folder: the configured athlete "jorg", not "jrg"
    os.makedirs(os.fsencode(inbox) + b"/J\xf6rg")
    with open(os.fsencode(inbox) + b"/J\xf6rg/run.fit", "wb") as out:
        out.write(src)
    rules = InboxRules(inbox, "solo", 60.0, tmp_path / "done", tmp_path / "rejected")
    # now: every file was just written here, the one dated 10 h ahead too (by its ctime)
    assert "ana/ahead.fit" in scan_inbox(rules).unsettled
    scan = scan_inbox(rules, now=time.time() + 120)  # two minutes on: all settled
    assert scan.unsettled == []
    assert sorted((f.rel, f.athlete_id) for f in scan.ready) == [
        ("J\\xf6rg/run.fit", "jorg"), ("ana/ahead.fit", "ana"), ("ana/caf\\xe9.fit", "ana"),
        ("ana/other.fit", "ana"),
    ]
    # the real name "caf\\xe9.fit" stays; the Latin-1 one that reads the same is set aside
    assert [f.path.name for f in scan.ready if f.rel == "ana/caf\\xe9.fit"] == ["caf\\xe9.fit"]
    assert scan.invalid == [("ana/caf\\xe9.fit", "its name, not valid UTF-8, reads the same as "
                                                "another file's: rename it")]


def test_one_task_per_batch_of_one_athlete(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.flows import ingest_inbox

    inbox = tmp_path / "inbox"
    _drop(inbox, "ana", GOOD + BAD)  # 5 files of one athlete
    _drop(inbox, "bob", GOOD[:1])  # 1 file of another
    state = ingest_inbox(config=_config(tmp_path), batch_size=2, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    deadline = time.monotonic() + 120  # a bound for a loaded machine, not a speed check
    names: list[str] = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:  # task runs are reported asynchronously
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            names = sorted(r.name for r in runs if r.name.startswith("ingest "))
            if len(names) == 4:
                break
            time.sleep(0.2)
        run_name = client.read_flow_run(flow_run_id).name
    # the run's name says what it did
    assert run_name.startswith("ingest inbox gaitwatch.toml ")
    assert run_name.endswith(": 4 loaded, 2 rejected"), run_name
    # ana: 3 batches (2 + 2 + 1 files), bob: 1; each named after what it loads
    assert len(names) == 4, names
    assert sum(n.startswith("ingest ana:") for n in names) == 3
    assert any(n == "ingest bob: bob/fenix5-run-dynamics-short.fit" for n in names)


def test_flow_parameters_are_validated(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.flows import ingest_inbox, weekly_reports

    config = _config(tmp_path)
    with pytest.raises(ParameterTypeError):
        ingest_inbox(config=config, batch_size=0)
    with pytest.raises(ParameterTypeError):
        weekly_reports(config=config, weeks=["2026-47"])


def test_busy_database_is_retried_not_failed(prefect_harness: None, tmp_path: Path) -> None:
    """Another process holds the working database (DuckDB allows one writer) while the
    flow starts: the ingest task is retried and succeeds once the file is free."""
    import subprocess
    import sys

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.flows import ingest_inbox
    from warehouse.store import Warehouse

    inbox = tmp_path / "inbox"
    _drop(inbox, "ana", GOOD[:1])
    config = _config(tmp_path)
    db = tmp_path / "out" / "gw.duckdb"
    db.parent.mkdir()
    Warehouse.open(db).close()
    # The holder keeps the lock until the first attempt has failed on it and a retry is
    # scheduled (seen in the task's own log record), then lets go: no race between a
    # fixed holding time and the retry delays on a slow machine.
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('locked', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

    class ReleaseOnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Retry 1/" in record.getMessage() and holder.stdin is not None and not holder.stdin.closed:
                holder.stdin.write("release\n")
                holder.stdin.close()

    task_log = logging.getLogger("prefect.task_runs")
    level, handler = task_log.level, ReleaseOnRetry(logging.INFO)
    task_log.addHandler(handler)
    task_log.setLevel(logging.INFO)
    try:
        state = ingest_inbox(config=config, return_state=True)
    finally:
        task_log.removeHandler(handler)
        task_log.setLevel(level)
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=120)
    report = state.result()
    assert [o.status for o in report.outcomes] == ["loaded"]
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    attempts = {r.name.split(":")[0]: r.run_count for r in runs}
    # The first task to open the database (the scan reads the inbox file state there)
    # failed on the lock, was retried, and the run went on to load the file.
    assert max(attempts.values()) > 1, attempts
