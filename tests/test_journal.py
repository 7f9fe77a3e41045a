"""The training journal (issue 12 part 4): journal.csv with good and bad rows, re-loading
and editing, and `gaitwatch log` appending an entry that the next run loads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from cli_support import age, cli_env, run_cli, write_config

from ingest.journal import JournalError, append_entry, decode, new_entry, parse_journal
from warehouse.store import Warehouse
from warehouse.summaries import load_journal

HEADER = "date,kind,minutes,body_part,side,severity,text\n"
GOOD_AND_BAD = (
    HEADER
    + '2026-11-02,strength,40,,,,"legs, core"\n'  # line 2
    + "2026-11-03,yoga,30,,,,\n"  # line 3: unknown kind
    + "2026-11-04,cross_training,45,,,,Swim 2 km\n"  # line 4
    + "2026-11-31,pain,,knee,left,3,\n"  # line 5: bad date
    + '2026-11-05,pain,,left hip,left,4,"sore after\nthe long run"\n'  # lines 6-7
    + "2026-11-06,pain,,left hip,left,11,\n"  # line 8: severity out of range
    + "2026-11-07,illness,,,,,cold\n"  # line 9
    + "2026-11-08,note,,,,,new shoes\n"  # line 10
)
NAME = "ann/journal.csv"


def _rows(wh: Warehouse, sql: str) -> list[tuple[object, ...]]:
    return wh.con.execute(sql).fetchall()


def test_good_rows_load_and_each_bad_row_is_named(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        out = load_journal(wh, "ann", NAME, GOOD_AND_BAD.encode())
        journal = _rows(wh, "SELECT entry_date, kind, minutes, body_part, side, severity, text, "
                            "source_line FROM v_journal ORDER BY source_line")
        acts = _rows(wh, "SELECT sport, sub_sport, duration_s, summary_only, source, "
                         "CAST(started_local AS DATE) FROM v_activities ORDER BY started_at")
        bad = _rows(wh, "SELECT source_file, part, reason FROM ingest_log WHERE status = 'rejected' ORDER BY part")
        wh.run_data_tests()
    assert out.status == "loaded"
    assert journal == [
        (date(2026, 11, 2), "strength", 40.0, None, None, None, "legs, core", 2),
        (date(2026, 11, 4), "cross_training", 45.0, None, None, None, "Swim 2 km", 4),
        (date(2026, 11, 5), "pain", None, "left hip", "left", 4, "sore after\nthe long run", 6),
        (date(2026, 11, 7), "illness", None, None, None, None, "cold", 9),
        (date(2026, 11, 8), "note", None, None, None, None, "new shoes", 10),
    ]
    assert acts == [
        ("training", "strength_training", 2400.0, True, "journal", date(2026, 11, 2)),
        ("swimming", None, 2700.0, True, "journal", date(2026, 11, 4)),
    ]
    assert [(f, p) for f, p, _r in bad] == [(NAME, 3), (NAME, 5), (NAME, 8)]
    assert "yoga" in bad[0][2] and "line 3" in bad[0][2]
    assert "2026-11-31" in bad[1][2] and "line 5" in bad[1][2]
    assert "severity 11" in bad[2][2] and "line 8" in bad[2][2]


def test_reload_is_idempotent_and_an_edited_line_updates(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        load_journal(wh, "ann", NAME, GOOD_AND_BAD.encode())
        before = _rows(wh, "SELECT activity_id, loaded_at FROM activities ORDER BY ALL")
        again = load_journal(wh, "ann", NAME, GOOD_AND_BAD.encode())
        assert again.status == "unchanged"
        assert _rows(wh, "SELECT activity_id, loaded_at FROM activities ORDER BY ALL") == before
        edited = GOOD_AND_BAD.replace("2026-11-02,strength,40", "2026-11-02,strength,55")
        edited = edited.replace("2026-11-03,yoga,30", "2026-11-03,strength,30")
        load_journal(wh, "ann", NAME, edited.encode())
        acts = _rows(wh, "SELECT started_at::DATE, duration_s FROM activities ORDER BY ALL")
        n_journal = _rows(wh, "SELECT count(*) FROM journal")[0][0]
        bad = _rows(wh, "SELECT part FROM ingest_log WHERE status = 'rejected' ORDER BY part")
        wh.run_data_tests()
    assert acts == [(date(2026, 11, 2), 3300.0), (date(2026, 11, 3), 1800.0),
                    (date(2026, 11, 4), 2700.0)]
    assert n_journal == 6
    assert bad == [(5,), (8,)]


def test_header_problems_are_one_readable_rejection(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        out = load_journal(wh, "ann", NAME, b"day,what\n2026-11-02,strength\n")
        bad = _rows(wh, "SELECT source_file, status, reason FROM ingest_log")
    assert out.status == "rejected"
    assert bad[0][:2] == (NAME, "rejected") and "no column date, kind" in str(bad[0][2])


def test_append_creates_the_file_with_a_header_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "inbox" / "ann" / "journal.csv"
    assert append_entry(path, {"date": "2026-11-30", "kind": "strength", "minutes": "40"}, "ann") == 2
    assert append_entry(path, {"date": "2026-11-30", "kind": "pain", "body_part": "left hip",
                               "side": "left", "severity": "3", "text": 'said "ouch", twice'},
                        "ann") == 3
    with pytest.raises(ValueError, match="severity 12"):
        append_entry(path, {"date": "2026-11-30", "kind": "pain", "severity": "12"}, "ann")
    parsed = parse_journal(NAME, path.read_bytes(), "ann")
    assert parsed.problems == []
    assert [(e.kind, e.minutes, e.severity, e.text) for e in parsed.entries] == [
        ("strength", 40.0, None, None), ("pain", None, 3, 'said "ouch", twice')]
    assert not list(path.parent.glob(".*.tmp"))


def test_gaitwatch_log_appends_and_the_next_run_loads_it(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.flows import ingest_inbox

    config = write_config(tmp_path / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "default_athlete": "solo",
        "inbox_options": {"settle_seconds": 0},
    })
    env = cli_env()
    first = run_cli(["log", "strength", "--athlete", "ann", "--minutes", "40",
                     "--date", "2026-11-30", "--text", "legs", "-c", str(config)], env=env)
    assert first.returncode == 0, first.stderr
    second = run_cli(["log", "pain", "--athlete", "ann", "--body-part", "left hip",
                      "--side", "left", "--severity", "3", "--date", "2026-12-01",
                      "-c", str(config)], env=env)
    assert second.returncode == 0, second.stderr
    refused = run_cli(["log", "pain", "--athlete", "ann", "--severity", "12", "-c", str(config)],
                      env=env)
    assert refused.returncode == 2 and "severity 12" in refused.stderr
    journal = tmp_path / "inbox" / "ann" / "journal.csv"
    assert journal.read_text().count("\n") == 3
    age([journal])
    report = ingest_inbox(config=config)
    assert [(o.rel, o.status) for o in report.outcomes] == [("ann/journal.csv", "loaded")]
    with duckdb.connect(str(tmp_path / "out" / "gw.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT kind, minutes, body_part, severity FROM v_journal "
                           "ORDER BY entry_date").fetchall()
        strength = con.execute("SELECT count(*) FROM activities WHERE sub_sport = "
                               "'strength_training' AND summary_only").fetchall()[0][0]
    assert rows == [("strength", 40.0, None, None), ("pain", None, "left hip", 3)]
    assert strength == 1


def test_numbers_are_plain_decimals_and_inf_or_nan_is_a_row_problem() -> None:
    text = (HEADER
            + "2026-11-02,pain,,knee,left,inf,\n"  # line 2: crashed the whole load (OverflowError)
            + "2026-11-03,pain,,knee,left,nan,\n"  # line 3
            + "2026-11-04,strength,1e1,,,,\n"  # line 4
            + "2026-11-05,strength,4_0,,,,\n"  # line 5
            + "2026-11-06,strength,40.,,,,\n"  # line 6: fine
            + "2026-11-07,pain,,knee,left,3.0,\n")  # line 7: fine, a whole number
    parsed = parse_journal(NAME, text.encode(), "ann")
    assert [(e.source_line, e.minutes, e.severity) for e in parsed.entries] == [
        (6, 40.0, None), (7, None, 3)]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "severity 'inf' is not a number"), (3, "severity 'nan' is not a number"),
        (4, "minutes '1e1' is not a number"), (5, "minutes '4_0' is not a number")]


def test_log_writes_minutes_without_an_exponent(tmp_path: Path) -> None:
    assert new_entry("strength", "2026-11-30", 45.5)["minutes"] == "45.5"
    assert new_entry("strength", "2026-11-30", 40.0)["minutes"] == "40"
    big = new_entry("strength", "2026-11-30", 1e6)
    assert big["minutes"] == "1000000"  # "{:g}" wrote 1e+06: "not a number", not the range
    with pytest.raises(ValueError, match=r"minutes 1000000 out of range"):
        append_entry(tmp_path / "journal.csv", big, "ann")


# The same three entries as a spreadsheet may save them: the separator follows the header.
THREE_ROWS = [["date", "kind", "minutes", "body_part", "text"],
              ["2026-11-02", "strength", "40", "", "legs, core; then abs"],
              ["2026-11-03", "pain", "", "left hip", "after the long run"],
              ["2026-11-04", "cross_training", "45", "", "Swim 2 km"]]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_the_separator_is_read_from_the_header(sep: str) -> None:
    lines = [sep.join(f'"{v}"' if (sep in v or ";" in v) else v for v in row)
             for row in THREE_ROWS]
    parsed = parse_journal(NAME, ("\r\n".join(lines) + "\r\n").encode(), "ann")
    assert parsed.problems == []
    assert [(e.entry_date, e.kind, e.minutes, e.body_part, e.text, e.source_line)
            for e in parsed.entries] == [
        (date(2026, 11, 2), "strength", 40.0, None, "legs, core; then abs", 2),
        (date(2026, 11, 3), "pain", None, "left hip", "after the long run", 3),
        (date(2026, 11, 4), "cross_training", 45.0, None, "Swim 2 km", 4)]


@pytest.mark.parametrize(("header", "missing"), [
    ("day;what;minutes", "no column date, kind in the header"),
    ("day\twhat", "no column date, kind in the header"),
    ("date;what;minutes", "no column kind in the header"),  # the ";" header names date
    ("Datum,Art", "no column date, kind in the header"),
])
def test_a_header_without_date_or_kind_is_refused_whole(header: str, missing: str) -> None:
    with pytest.raises(JournalError, match=missing) as err:
        parse_journal(NAME, f"{header}\n2026-11-02;strength;40\n".encode(), "ann")
    assert "separated by commas, semicolons or tabs" in str(err.value)


def test_a_decimal_comma_counts_where_the_comma_is_not_the_separator() -> None:
    semi = parse_journal(NAME, b"date;kind;minutes;severity\n2026-11-02;strength;45,5;\n"
                               b"2026-11-03;pain;;3,0\n2026-11-04;pain;;2,5\n", "ann")
    assert [(e.minutes, e.severity) for e in semi.entries] == [(45.5, None), (None, 3)]
    assert [(p.line, p.reason) for p in semi.problems] == [
        (4, "severity 2,5 out of range (a whole number 0-10)")]
    comma = parse_journal(NAME, b'date,kind,minutes\n2026-11-02,strength,"1,440"\n', "ann")
    assert comma.entries == []
    assert [(p.line, p.reason) for p in comma.problems] == [
        (2, "minutes '1,440' is not a number (a decimal comma is read only in files "
            "separated by semicolons or tabs)")]


def test_too_many_values_names_the_files_own_separator() -> None:
    parsed = parse_journal(NAME, b"date;kind;text\n2026-11-02;note;a;b\n", "ann")
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "4 values for 3 columns (quote text that holds semicolons)")]


@pytest.mark.parametrize(("data", "text", "codec"), [
    ("Knöchel".encode(), "Knöchel", "utf-8"),
    (b"\xef\xbb\xbf" + "Knöchel".encode(), "Knöchel", "utf-8"),  # Excel's "CSV UTF-8"
    (b"Kn\xf6chel, B\xe4nder \x80", "Knöchel, Bänder €", "cp1252"),  # Excel on Windows
    (b"\xef\xbb\xbfKn\xf6chel", "Knöchel", "cp1252"),  # a BOM, then cp1252 appended
    (b"Kn\xf6chel \x8d", "Knöchel \x8d", "latin-1"),  # 0x8D: no cp1252 character
])
def test_text_is_utf8_else_cp1252_else_latin1(data: bytes, text: str, codec: str) -> None:
    assert decode(data) == (text, codec)


# Excel on Windows, German locale: "CSV (Trennzeichen-getrennt)" is cp1252, ";", CRLF.
EXCEL_DE = ("date;kind;minutes;body_part;side;severity;text\r\n"
            "2026-11-02;pain;;Knöchel;left;3;nach dem Lauf\r\n"
            "2026-11-03;strength;45,5;;;;Übungen für die Bänder\r\n").encode("cp1252")


def test_a_cp1252_journal_loads_with_its_umlauts() -> None:
    parsed = parse_journal(NAME, EXCEL_DE, "ann")
    assert parsed.problems == []
    assert [(e.kind, e.minutes, e.body_part, e.severity, e.text) for e in parsed.entries] == [
        ("pain", None, "Knöchel", 3, "nach dem Lauf"),
        ("strength", 45.5, None, None, "Übungen für die Bänder")]


def test_log_appends_in_the_files_own_layout(tmp_path: Path) -> None:
    path = tmp_path / "journal.csv"
    # columns in another order, one of ours missing, one of the user's own
    path.write_bytes("kind;date;body_part;Notiz;text;minutes\r\n"
                     "pain;2026-11-02;Knöchel;x;;\r\n".encode("cp1252"))
    entry = new_entry("pain", "2026-11-03", 30.5, "Bänder", text="Knöchel; links")
    assert append_entry(path, entry, "ann") == 3
    assert path.read_bytes() == ("kind;date;body_part;Notiz;text;minutes\r\n"
                                 "pain;2026-11-02;Knöchel;x;;\r\n"
                                 'pain;2026-11-03;Bänder;;"Knöchel; links";30.5\r\n'
                                 ).encode("cp1252")
    parsed = parse_journal(NAME, path.read_bytes(), "ann")
    assert parsed.problems == []
    assert [(e.entry_date, e.minutes, e.body_part, e.text) for e in parsed.entries] == [
        (date(2026, 11, 2), None, "Knöchel", None),
        (date(2026, 11, 3), 30.5, "Bänder", "Knöchel; links")]


def test_log_refuses_what_the_file_cannot_hold_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.csv"
    before = "date;kind;text\r\n2026-11-02;note;Knöchel\r\n".encode("cp1252")
    path.write_bytes(before)
    with pytest.raises(JournalError, match="no column severity in the header"):
        append_entry(path, new_entry("pain", "2026-11-03", severity=3), "ann")
    with pytest.raises(ValueError, match=r"the journal is cp1252 text, which has no '✓'"):
        append_entry(path, new_entry("note", "2026-11-03", text="done ✓"), "ann")
    assert path.read_bytes() == before
    broken = b'date,kind,text\n2026-11-02,note,"never closed\n'
    path.write_bytes(broken)
    with pytest.raises(JournalError, match=r"would not read as a row of its own: fix line 2 first"):
        append_entry(path, new_entry("note", "2026-11-03", text="lost"), "ann")
    assert path.read_bytes() == broken
    assert not list(tmp_path.glob(".*.tmp"))


def test_gaitwatch_log_says_why_nothing_was_written(tmp_path: Path) -> None:
    journal = tmp_path / "inbox" / "ann" / "journal.csv"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"date;kind\n2026-11-02;note\n")
    config = write_config(tmp_path / "gaitwatch.toml", {"inbox": "inbox",
                                                        "database": "out/gw.duckdb"})
    out = run_cli(["log", "pain", "--athlete", "ann", "--severity", "3",
                   "--date", "2026-11-03", "-c", str(config)], env=cli_env())
    assert out.returncode == 2
    assert "journal entry not written" in out.stderr and "no column severity" in out.stderr
    assert journal.read_bytes() == b"date;kind\n2026-11-02;note\n"


@pytest.mark.parametrize(("before", "after", "line"), [
    (b"date,kind\n2026-11-02,note\n", b"date,kind\n2026-11-02,note\n2026-11-03,note\n", 3),
    (b"date,kind\r\n2026-11-02,note", b"date,kind\r\n2026-11-02,note\r\n2026-11-03,note\r\n", 3),
    (b"date,kind\r2026-11-02,note\r", b"date,kind\r2026-11-02,note\r2026-11-03,note\r", 3),
    (b"date;kind", b"date;kind\n2026-11-03;note\n", 2),
    (b"\n", HEADER.encode() + b"2026-11-03,note,,,,,\n", 2),  # blank: a new journal
])
def test_log_keeps_the_files_line_endings(
    tmp_path: Path, before: bytes, after: bytes, line: int
) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(before)
    assert append_entry(path, new_entry("note", "2026-11-03"), "ann") == line
    assert path.read_bytes() == after
