"""The training journal (issue 12 part 4): journal.csv with good and bad rows, re-loading
and editing, and `gaitwatch log` appending an entry that the next run loads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from cli_support import age, cli_env, run_cli, write_config

from ingest.journal import (
    JournalError,
    SlashOrder,
    append_entry,
    decode,
    new_entry,
    parse_date,
    parse_journal,
    slash_order,
    validate,
)
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


@pytest.mark.parametrize("blank", [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\n"])
def test_a_blank_journal_is_new_unless_entries_were_loaded_from_it(
        tmp_path: Path, blank: bytes) -> None:
    """A blank journal.csv (just created; Excel's "CSV UTF-8" of an empty sheet is a BOM)
    loads nothing and is no rejection. The same file emptied after entries were loaded
    from it is refused, in words, and its entries kept: more likely a failed save than a
    journal emptied on purpose, which keeps its header line."""
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        new = load_journal(wh, "ann", NAME, blank)
        assert (new.status, new.rows) == ("unchanged", 0)
        assert _rows(wh, "SELECT count(*) FROM ingest_log") == [(0,)]
        assert load_journal(wh, "ann", NAME, GOOD_AND_BAD.encode()).status == "loaded"
        emptied = load_journal(wh, "ann", NAME, blank)
        kept = _rows(wh, "SELECT count(*) FROM journal")
        wh.run_data_tests()
    assert emptied.status == "rejected"
    assert "the 5 entries loaded from it before are kept" in emptied.reason
    assert kept == [(5,)]


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
    # 30,5, not 30.5: a ";" file is German Excel's, which reads "30.5" as a date (30 May)
    assert path.read_bytes() == ("kind;date;body_part;Notiz;text;minutes\r\n"
                                 "pain;2026-11-02;Knöchel;x;;\r\n"
                                 'pain;2026-11-03;Bänder;;"Knöchel; links";30,5\r\n'
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
    (b" \t\r\n", HEADER.encode() + b"2026-11-03,note,,,,,\n", 2),  # white space only
    # only a BOM (Excel's "CSV UTF-8" of an empty sheet): blank; the BOM tells Excel "UTF-8"
    (b"\xef\xbb\xbf", b"\xef\xbb\xbf" + HEADER.encode() + b"2026-11-03,note,,,,,\n", 2),
    (b"\xef\xbb\xbf\r\n", b"\xef\xbb\xbf" + HEADER.encode() + b"2026-11-03,note,,,,,\n", 2),
    (b"\xff\xfe", HEADER.encode() + b"2026-11-03,note,,,,,\n", 2),  # a UTF-16 BOM: blank too
])
def test_log_keeps_the_files_line_endings(
    tmp_path: Path, before: bytes, after: bytes, line: int
) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(before)
    assert append_entry(path, new_entry("note", "2026-11-03"), "ann") == line
    assert path.read_bytes() == after


FORMS = "(accepted: YYYY-MM-DD, YYYY-M-D, YYYY/M/D, YYYY.M.D, YYYYMMDD or D.M.YYYY)"


@pytest.mark.parametrize(("text", "day"), [
    ("2025-03-05", date(2025, 3, 5)),
    ("2025-3-5", date(2025, 3, 5)),
    ("2025/03/05", date(2025, 3, 5)),
    ("2025/3/5", date(2025, 3, 5)),
    ("2025.3.5", date(2025, 3, 5)),
    ("5.3.2025", date(2025, 3, 5)),  # day first: German, Central European
    ("05.03.2025", date(2025, 3, 5)),
    ("31.12.2025", date(2025, 12, 31)),
    ("29.2.2024", date(2024, 2, 29)),
    (" 2025-12-31 ", date(2025, 12, 31)),
    ("05/05/2025", date(2025, 5, 5)),  # the same day read either way
    ("20250305", date(2025, 3, 5)),  # ISO basic form: date.fromisoformat read it before
    ("20240229", date(2024, 2, 29)),
])
def test_accepted_date_forms(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize(("text", "reason"), [
    ("2025-02-29", "bad date '2025-02-29': February 2025 has no day 29"),
    ("30.2.2025", "bad date '30.2.2025': February 2025 has no day 30"),
    ("2026/11/31", "bad date '2026/11/31': November 2026 has no day 31"),
    ("2025-3-0", "bad date '2025-3-0': March 2025 has no day 0"),
    ("2025-13-01", "bad date '2025-13-01': there is no month 13"),
    ("3.13.2025", "bad date '3.13.2025': there is no month 13"),  # dots are day first
    ("0000-01-01", "bad date '0000-01-01': there is no year 0"),
    ("2025-03/05", f"bad date '2025-03/05' {FORMS}"),  # one separator throughout
    ("5.3.25", f"bad date '5.3.25' {FORMS}"),  # which century?
    ("05-03-2025", f"bad date '05-03-2025' {FORMS}"),
    ("5 March 2025", f"bad date '5 March 2025' {FORMS}"),
    ("2025-03-05T07:30", f"bad date '2025-03-05T07:30' {FORMS}"),
    ("20250230", "bad date '20250230': February 2025 has no day 30"),
    ("2025035", f"bad date '2025035' {FORMS}"),
    ("2025-W10-3", f"bad date '2025-W10-3' {FORMS}"),  # ISO week date: no spreadsheet writes it
    ("", f"bad date '' {FORMS}"),
    ("05/03/2025", "ambiguous date '05/03/2025': day/month/year or month/day/year? no slash "
                   f"date in the file has a day above 12 to tell {FORMS}"),
    ("31/31/2025", "bad date '31/31/2025': there is no month 31"),  # no day either way
])
def test_refused_dates_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_date(text)
    assert str(err.value) == reason


def test_a_file_settles_its_slash_dates() -> None:
    day_first = slash_order([(2, "05/03/2025"), (3, "2025-03-06"), (4, "13/03/2025")])
    month_first = slash_order([(2, "05/03/2025"), (3, "03/13/2025")])
    assert day_first == SlashOrder(True, shown=(1, 0))
    assert month_first == SlashOrder(False, shown=(0, 1))
    assert slash_order([(2, "29/02/2024")]) == SlashOrder(True, shown=(1, 0))  # leap year
    assert parse_date("05/03/2025", day_first) == date(2025, 3, 5)
    assert parse_date("05/03/2025", month_first) == date(2025, 5, 3)
    with pytest.raises(ValueError) as err:
        parse_date("31/04/2025", day_first)
    assert str(err.value) == ("bad date '31/04/2025' (day/month/year, as the file's other "
                              "slash dates): April 2025 has no day 31")
    with pytest.raises(ValueError) as err:
        parse_date("02/30/2025", month_first)
    assert str(err.value) == ("bad date '02/30/2025' (month/day/year, as the file's other "
                              "slash dates): February 2025 has no day 30")


@pytest.mark.parametrize("dates", [
    [(2, "05/03/2025"), (3, "06/03/2025")],  # 12 or less: either order
    [(2, "31/04/2025"), (3, "29/02/2025"), (4, "45/03/2025")],  # no real day either way
    [(2, "2025-03-13"), (3, "13.3.2025")],  # no slash dates at all
])
def test_what_does_not_settle_the_slash_order(dates: list[tuple[int, str]]) -> None:
    assert slash_order(dates) == SlashOrder(
        None, "no slash date in the file has a day above 12 to tell")


def test_slash_dates_that_disagree_evenly_are_all_refused() -> None:
    text = ("date,kind\n"
            "13/03/2025,note\n"  # line 2: only day/month/year
            "03/14/2025,note\n"  # line 3: only month/day/year
            "05/03/2025,note\n"  # line 4
            "05/05/2025,note\n"  # line 5: the same day either way
            "2025-03-15,note\n")  # line 6
    parsed = parse_journal(NAME, text.encode(), "ann")
    assert [e.entry_date for e in parsed.entries] == [date(2025, 5, 5), date(2025, 3, 15)]
    why = ("day/month/year or month/day/year? the file's slash dates disagree, 1 against 1: "
           "'13/03/2025' (line 2) is only day/month/year, '03/14/2025' (line 3) only "
           "month/day/year " + FORMS)
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, f"ambiguous date '13/03/2025': {why}"), (3, f"ambiguous date '03/14/2025': {why}"),
        (4, f"ambiguous date '05/03/2025': {why}")]


def test_a_day_first_file_reads_every_slash_date_day_first() -> None:
    text = ("date;kind;minutes\n"
            "05/03/2025;strength;30\n"  # settled by line 4
            "2025-03-06;strength;30\n"
            "13/03/2025;strength;30\n"
            "31/04/2025;strength;30\n")  # no such day, read day first
    parsed = parse_journal(NAME, text.encode(), "ann")
    assert [e.entry_date for e in parsed.entries] == [
        date(2025, 3, 5), date(2025, 3, 6), date(2025, 3, 13)]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (5, "bad date '31/04/2025' (day/month/year, as the file's other slash dates): "
            "April 2025 has no day 31")]


def test_log_reads_a_slash_date_as_the_file_does(tmp_path: Path) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(b"date;kind\n13/03/2025;note\n")
    assert append_entry(path, new_entry("note", "05/04/2025"), "ann") == 3
    with pytest.raises(ValueError, match="the file's slash dates disagree, 1 against 1"):
        append_entry(path, new_entry("note", "04/14/2025"), "ann")  # would unsettle the file
    assert path.read_bytes() == b"date;kind\n13/03/2025;note\n05/04/2025;note\n"
    assert append_entry(path, new_entry("note", "14/04/2025"), "ann") == 4
    with pytest.raises(ValueError) as err:  # the smaller side: refused, the file stays settled
        append_entry(path, new_entry("note", "04/15/2025"), "ann")
    assert str(err.value) == ("bad date '04/15/2025': a day only read month/day/year, but the "
                              "file's slash dates are day/month/year (2 rows against 1); "
                              "write 2025-04-15 if that is the day")
    assert path.read_bytes() == b"date;kind\n13/03/2025;note\n05/04/2025;note\n14/04/2025;note\n"
    assert [e.entry_date for e in parse_journal(NAME, path.read_bytes(), "ann").entries] == [
        date(2025, 3, 13), date(2025, 4, 5), date(2025, 4, 14)]


# A journal kept in Excel on Windows, German locale, as it saves "CSV": cp1252, ";",
# CRLF, decimal commas, dates typed in several ways.
EXCEL_REAL = (
    "Date;Kind;Minutes;Body part;Side;Severity;Text\r\n"
    "03.11.2025;pain;;Knöchel;left;3;nach dem Intervalltraining\r\n"  # 2
    "4.11.2025;strength;45,5;;;;Rumpf + Bänder\r\n"  # 3
    "2025-11-05;cross_training;60;;;;Radfahren, locker\r\n"  # 4
    "2025/11/6;pain;;Achillessehne;right;2,0;\r\n"  # 5
    "30.02.2025;injury;;Knöchel;left;6;umgeknickt\r\n"  # 6: no such day
    "07/11/2025;note;;;;;neue Schuhe\r\n"  # 7: 7 November or July 11?
    "2025.11.8;illness;;;;;Erkältung\r\n"  # 8
    "9.11.25;note;;;;;\r\n"  # 9: two-digit year
    "2025-11-10;pain;;Knöchel;left;7,5;\r\n"  # 10: severity is whole
).encode("cp1252")


def test_a_real_looking_excel_journal_loads_every_good_row(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "gw.duckdb") as wh:
        out = load_journal(wh, "ann", NAME, EXCEL_REAL)
        journal = _rows(wh, "SELECT entry_date, kind, minutes, body_part, side, severity, text, "
                            "source_line FROM v_journal ORDER BY source_line")
        bad = _rows(wh, "SELECT part, reason FROM ingest_log WHERE status = 'rejected' "
                        "ORDER BY part")
        wh.run_data_tests()
    assert out.status == "loaded"
    assert journal == [
        (date(2025, 11, 3), "pain", None, "Knöchel", "left", 3, "nach dem Intervalltraining", 2),
        (date(2025, 11, 4), "strength", 45.5, None, None, None, "Rumpf + Bänder", 3),
        (date(2025, 11, 5), "cross_training", 60.0, None, None, None, "Radfahren, locker", 4),
        (date(2025, 11, 6), "pain", None, "Achillessehne", "right", 2, None, 5),
        (date(2025, 11, 8), "illness", None, None, None, None, "Erkältung", 8),
    ]
    assert bad == [
        (6, "line 6: bad date '30.02.2025': February 2025 has no day 30; row not loaded"),
        (7, "line 7: ambiguous date '07/11/2025': day/month/year or month/day/year? no slash "
            f"date in the file has a day above 12 to tell {FORMS}; row not loaded"),
        (9, f"line 9: bad date '9.11.25' {FORMS}; row not loaded"),
        (10, "line 10: severity 7,5 out of range (a whole number 0-10); row not loaded"),
    ]


@pytest.mark.parametrize(("written", "kind"), [
    ("Strength training", "strength"), ("strength_training", "strength"),
    ("Strength-Training", "strength"), ("gym", "strength"), ("Weights", "strength"),
    ("weight training", "strength"), ("Cross-Training", "cross_training"),
    ("crosstraining", "cross_training"), ("injured", "injury"), ("Sick", "illness"),
    ("ill", "illness"), (" PAIN ", "pain"),
])
def test_other_names_for_a_kind(written: str, kind: str) -> None:
    parsed = parse_journal(NAME, f"date;kind\n2025-11-03;{written}\n".encode(), "ann")
    assert parsed.problems == []
    assert [e.kind for e in parsed.entries] == [kind]


@pytest.mark.parametrize("written", ["yoga", "rehab", "run", "Krafttraining", "strengths"])
def test_a_kind_we_cannot_be_sure_of_is_a_row_problem(written: str) -> None:
    parsed = parse_journal(NAME, f"date;kind\n2025-11-03;{written}\n".encode(), "ann")
    assert parsed.entries == []
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, f"unknown kind {written!r} (expected one of strength, cross_training, pain, "
            "injury, illness, note)")]


# ------------------------------------------------------------------ dates: bounds, slash order

TODAY = date(2026, 12, 2)


def test_implausible_dates_are_row_problems() -> None:
    text = ("date;kind\n"
            "5.3.2205;note\n"  # line 2: 2205 for 2025
            "5.3.1925;note\n"  # line 3
            "1999-12-31;note\n"  # line 4
            "2000-01-01;note\n"  # line 5: the first day allowed
            "2026-12-03;note\n"  # line 6: tomorrow, within 36 h of today's start
            "2026-12-04;note\n")  # line 7
    parsed = parse_journal(NAME, text.encode(), "ann", today=TODAY)
    assert [e.entry_date for e in parsed.entries] == [date(2000, 1, 1), date(2026, 12, 3)]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "date '5.3.2205' is more than 36 h after today, 2026-12-02 (max_start_ahead_h): "
            "a typo?"),
        (3, "date '5.3.1925' is before the year 2000 (earliest_start_year): a typo?"),
        (4, "date '1999-12-31' is before the year 2000 (earliest_start_year): a typo?"),
        (7, "date '2026-12-04' is more than 36 h after today, 2026-12-02 (max_start_ahead_h): "
            "a typo?")]


def test_validate_and_log_check_the_date_against_the_day_given(tmp_path: Path) -> None:
    row = {"date": "2026-12-04", "kind": "note"}
    assert validate(row, "ann", NAME, 2, today=date(2026, 12, 3)).entry_date == date(2026, 12, 4)
    with pytest.raises(ValueError, match=r"'2026-12-04' is more than 36 h after today, 2026-12-02"):
        validate(row, "ann", NAME, 2, today=TODAY)
    path = tmp_path / "journal.csv"
    path.write_bytes(b"date,kind\n")
    with pytest.raises(ValueError, match=r"'2205-03-05' is more than 36 h after today, 2026-12-02"):
        append_entry(path, new_entry("note", "2205-03-05"), "ann", today=TODAY)
    assert path.read_bytes() == b"date,kind\n"


# A day-first journal that one US-style date was typed into (line 4).
DAY_FIRST_AND_ONE_US = ("date,kind\n"
                        "13/03/2025,note\n"  # line 2: only day/month/year
                        "05/03/2025,note\n"  # line 3: either
                        "03/14/2025,note\n"  # line 4: only month/day/year
                        "20/03/2025,note\n"  # line 5: only day/month/year
                        "06/03/2025,note\n")  # line 6: either


def test_the_order_most_slash_dates_show_wins() -> None:
    assert slash_order([(2, "13/03/2025"), (3, "05/03/2025"), (4, "03/14/2025"),
                        (5, "20/03/2025")]) == SlashOrder(True, shown=(2, 1))
    parsed = parse_journal(NAME, DAY_FIRST_AND_ONE_US.encode(), "ann")
    assert [(e.source_line, e.entry_date) for e in parsed.entries] == [
        (2, date(2025, 3, 13)), (3, date(2025, 3, 5)), (5, date(2025, 3, 20)),
        (6, date(2025, 3, 6))]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (4, "bad date '03/14/2025': a day only read month/day/year, but the file's slash "
            "dates are day/month/year (2 rows against 1); write 2025-03-14 if that is the day")]


def test_one_us_date_does_not_drop_the_entries_loaded_before() -> None:
    before = DAY_FIRST_AND_ONE_US.replace("03/14/2025,note\n", "")
    loaded = [e.entry_date for e in parse_journal(NAME, before.encode(), "ann").entries]
    assert loaded == [date(2025, 3, 13), date(2025, 3, 5), date(2025, 3, 20), date(2025, 3, 6)]
    after = parse_journal(NAME, DAY_FIRST_AND_ONE_US.encode(), "ann")
    assert [e.entry_date for e in after.entries] == loaded
    assert [p.line for p in after.problems] == [4]


def test_a_month_first_file_refuses_its_day_first_rows() -> None:
    order = slash_order([(2, "03/13/2025"), (3, "03/14/2025"), (4, "03/15/2025"),
                         (5, "16/03/2025")])
    assert order == SlashOrder(False, shown=(1, 3))
    assert parse_date("03/05/2025", order) == date(2025, 3, 5)
    with pytest.raises(ValueError) as err:
        parse_date("16/03/2025", order)
    assert str(err.value) == ("bad date '16/03/2025': a day only read day/month/year, but the "
                              "file's slash dates are month/day/year (3 rows against 1); "
                              "write 2025-03-16 if that is the day")


# ------------------------------------------------------------------ thousands, decimal mark

def test_a_thousands_separator_is_ambiguous_in_every_file() -> None:
    tab = parse_journal(NAME, b"date\tkind\tminutes\n"
                              b"2025-11-03\tstrength\t1,200\n"  # line 2: US Excel, 1200
                              b"2025-11-04\tstrength\t1,5\n", "ann")  # line 3: a decimal comma
    assert [(e.source_line, e.minutes) for e in tab.entries] == [(3, 1.5)]
    assert [(p.line, p.reason) for p in tab.problems] == [
        (2, "minutes '1,200' is ambiguous: 1200 (a thousands separator) or 1,2 (a decimal "
            "comma)? write 1200 or 1,2")]
    semi = parse_journal(NAME, b"date;kind;minutes;severity\n"
                               b"2025-11-03;strength;1.200;\n"  # line 2: German Excel, 1200
                               b"2025-11-04;strength;+1.250;\n"  # line 3
                               b"2025-11-05;pain;;1,000\n"  # line 4
                               b"2025-11-06;strength;1234.500;\n", "ann")  # line 5: 4 digits first
    assert [(e.source_line, e.minutes) for e in semi.entries] == [(5, 1234.5)]
    assert [(p.line, p.reason) for p in semi.problems] == [
        (2, "minutes '1.200' is ambiguous: 1200 (a thousands separator) or 1.2 (a decimal "
            "point)? write 1200 or 1.2"),
        (3, "minutes '+1.250' is ambiguous: +1250 (a thousands separator) or +1.25 (a decimal "
            "point)? write +1250 or +1.25"),
        (4, "severity '1,000' is ambiguous: 1000 (a thousands separator) or 1 (a decimal "
            "comma)? write 1000 or 1")]
    comma = parse_journal(NAME, b"date,kind,minutes\n2025-11-03,strength,1.440\n", "ann")
    assert [(p.line, p.reason) for p in comma.problems] == [
        (2, "minutes '1.440' is ambiguous: 1440 (a thousands separator) or 1.44 (a decimal "
            "point)? write 1440 or 1.44")]


def test_a_tab_file_reads_a_decimal_comma_and_a_decimal_point() -> None:
    # Tab files come from decimal-comma and decimal-point locales alike; a comma there is
    # a decimal comma unless three digits follow it (then refused, above).
    parsed = parse_journal(NAME, b"date\tkind\tminutes\n2025-11-03\tstrength\t45,5\n"
                                 b"2025-11-04\tstrength\t45.25\n2025-11-05\tstrength\t1,2345\n",
                           "ann")
    assert parsed.problems == []
    assert [e.minutes for e in parsed.entries] == [45.5, 45.25, 1.2345]


@pytest.mark.parametrize(("before", "written"), [
    (b"date;kind;minutes\r\n", b"2026-11-03;strength;30,5\r\n"),  # ";": decimal comma
    (b"date\tkind\tminutes\n", b"2026-11-03\tstrength\t30,5\n"),  # tab, no numbers to tell
    (b"date\tkind\tminutes\n2026-11-02\tstrength\t45,5\n", b"2026-11-03\tstrength\t30,5\n"),
    # a tab file whose own numbers have points: a US "Text (Tab delimited)"
    (b"date\tkind\tminutes\n2026-11-02\tstrength\t45.5\n", b"2026-11-03\tstrength\t30.5\n"),
    # more points than commas, in a ";" file typed by hand
    (b"date;kind;minutes\n2026-11-01;strength;45.5\n2026-11-02;strength;40.25\n"
     b"2026-11-02;strength;20,5\n", b"2026-11-03;strength;30.5\n"),
    # "1,200" shows no mark: ambiguous; whole numbers show none either
    (b"date\tkind\tminutes\n2026-11-01\tstrength\t1,200\n2026-11-02\tstrength\t40\n",
     b"2026-11-03\tstrength\t30,5\n"),
    (b"date,kind,minutes\n", b"2026-11-03,strength,30.5\n"),  # commas: a decimal point
])
def test_log_writes_minutes_with_the_files_decimal_mark(
    tmp_path: Path, before: bytes, written: bytes
) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(before)
    append_entry(path, new_entry("strength", "2026-11-03", 30.5), "ann")
    assert path.read_bytes() == before + written
    assert parse_journal(NAME, path.read_bytes(), "ann").entries[-1].minutes == 30.5


def test_log_never_writes_minutes_that_read_as_ambiguous(tmp_path: Path) -> None:
    entry = new_entry("strength", "2026-11-03", 1.125)
    assert entry["minutes"] == "1.1250"  # "1.125" would be refused: 1125 or 1.125?
    path = tmp_path / "journal.csv"
    path.write_bytes(b"date;kind;minutes\n")
    append_entry(path, entry, "ann")
    assert path.read_bytes() == b"date;kind;minutes\n2026-11-03;strength;1,1250\n"
    assert [e.minutes for e in parse_journal(NAME, path.read_bytes(), "ann").entries] == [1.125]


# ------------------------------------------------------------------ UTF-16, blank files, one line

# Excel's "Unicode Text" export, German locale: UTF-16 LE with a BOM, tabs, CRLF, a
# decimal comma.
UNICODE_TEXT = b"\xff\xfe" + ("date\tkind\tminutes\tbody_part\ttext\r\n"
                              "2026-11-02\tpain\t\tKnöchel\tnach dem Lauf ✓\r\n"
                              "2026-11-03\tstrength\t45,5\t\tBänder\r\n").encode("utf-16-le")


def test_a_utf16_journal_loads() -> None:
    parsed = parse_journal(NAME, UNICODE_TEXT, "ann")
    assert parsed.problems == []
    assert [(e.kind, e.minutes, e.body_part, e.text) for e in parsed.entries] == [
        ("pain", None, "Knöchel", "nach dem Lauf ✓"), ("strength", 45.5, None, "Bänder")]
    big_endian = b"\xfe\xff" + "date\tkind\r\n2026-11-02\tnote\r\n".encode("utf-16-be")
    assert [e.entry_date for e in parse_journal(NAME, big_endian, "ann").entries] == [
        date(2026, 11, 2)]


@pytest.mark.parametrize(("data", "text", "codec"), [
    (b"\xff\xfe" + "Knöchel\r\n".encode("utf-16-le"), "Knöchel\r\n", "utf-16-le"),
    (b"\xfe\xff" + "Knöchel\r\n".encode("utf-16-be"), "Knöchel\r\n", "utf-16-be"),
    (b"\xff\xfeK\x00n", "K\ufffd", "utf-16-le"),  # half a character at the end
])
def test_utf16_is_read_by_its_bom(data: bytes, text: str, codec: str) -> None:
    assert decode(data) == (text, codec)


def test_log_appends_utf16_in_the_files_byte_order(tmp_path: Path) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(UNICODE_TEXT)
    assert append_entry(path, new_entry("strength", "2026-11-04", 30.5, text="Rücken ✓"),
                        "ann") == 4
    assert path.read_bytes() == UNICODE_TEXT + "2026-11-04\tstrength\t30,5\t\tRücken ✓\r\n".encode(
        "utf-16-le")
    assert [e.text for e in parse_journal(NAME, path.read_bytes(), "ann").entries] == [
        "nach dem Lauf ✓", "Bänder", "Rücken ✓"]
    big_endian = b"\xfe\xff" + "date\tkind\r\n2026-11-02\tnote\r\n".encode("utf-16-be")
    path.write_bytes(big_endian)
    assert append_entry(path, new_entry("note", "2026-11-03"), "ann") == 3
    assert path.read_bytes() == big_endian + "2026-11-03\tnote\r\n".encode("utf-16-be")


def test_log_refuses_damaged_utf16_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.csv"
    damaged = UNICODE_TEXT + b"2"  # half a character: all after it would be shifted
    path.write_bytes(damaged)
    with pytest.raises(JournalError, match=r"would not read back with the new row: its "
                                           r"utf-16-le text is damaged"):
        append_entry(path, new_entry("note", "2026-11-04"), "ann")
    assert path.read_bytes() == damaged


@pytest.mark.parametrize(("before", "text", "after"), [
    (b"date,kind,text\r2026-11-02,note,x\r", "a\nb", b"2026-11-03,note,a b\r"),  # CR only
    (b"date,kind,text\n2026-11-02,note,x\n", "a\rb", b"2026-11-03,note,a b\n"),
    (b"date,kind,text\n2026-11-02,note,x\n", "a\r\nb\nc", b"2026-11-03,note,a b c\n"),
    (b"date,kind,text\r\n", "sore\r\n\r\nafter", b"2026-11-03,note,sore  after\r\n"),
])
def test_log_writes_an_entry_on_one_line(
    tmp_path: Path, before: bytes, text: str, after: bytes
) -> None:
    path = tmp_path / "journal.csv"
    path.write_bytes(before)
    append_entry(path, new_entry("note", "2026-11-03", text=text), "ann")
    assert path.read_bytes() == before + after
