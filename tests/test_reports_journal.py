"""What issues 12 and 14 added to the reports, on the hand-built warehouse file plus
journal entries, summary-only activities, return / new-watch / other-training flags and
the stored back-test (reports_support.add_journal_and_back_test). Every expected number is
counted by hand from that fixture in the comments."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from reports_support import (
    HOSTILE,
    LAST_WEEK,
    WEEKS,
    A11yChecker,
    add_journal_and_back_test,
    build_fixture_db,
)

from reports.render import render_reports


@pytest.fixture(scope="module")
def journal_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_fixture_db(tmp_path_factory.mktemp("whj") / "warehouse.duckdb")
    return add_journal_and_back_test(path)


@pytest.fixture(scope="module")
def out(journal_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reportsj")
    render_reports(journal_db, out)
    return out


def _page(out: Path, week: str, ext: str = "html") -> str:
    return (out / "anna" / f"{week}.{ext}").read_text(encoding="utf-8")


def _section(html: str, heading_id: str) -> str:
    m = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert m, heading_id
    return m.group(1)


def test_runs_table_shows_names_shortened_descriptions_and_summary_only_runs(out: Path) -> None:
    html = _page(out, LAST_WEEK)
    runs = re.search(r'<table id="runs-table">(.*?)</table>', html, re.S)
    assert runs
    row = next(r for r in runs.group(1).split("<tr>") if "Treadmill at the gym" in r)
    assert "(from activity list, no recording)" in row
    # 8 x 41 characters, then the hostile text: cut near 140 characters, before it
    assert "Easy miles on the treadmill, legs heavy." in row and " …" in row
    assert "alert(1)" not in row
    assert "<script>" not in html
    # the run counts: 3 recorded + 1 from the list
    assert "4 runs in" in runs.group(1)
    md = _page(out, LAST_WEEK, "md")
    assert "Treadmill at the gym (from activity list, no recording): Easy miles" in md


def test_journal_sessions_are_counted_and_marked(out: Path) -> None:
    html = _page(out, LAST_WEEK)
    other = re.search(r'<table id="other-table">(.*?)</table>', html, re.S)
    assert other and "strength (journal) <span class=\"mark\" data-summary-only>(from your journal, no recording)" in other.group(1)
    assert "Squats and lunges" in other.group(1)
    assert "<dd data-other-training>0 cross-training, 1 strength (1 from your journal)</dd>" in html
    assert "- Other training: 0 cross-training, 1 strength (1 from your journal)\n" in _page(out, LAST_WEEK, "md")


def test_pain_and_illness_entries_show_with_a_clinician_line(out: Path) -> None:
    html = _page(out, LAST_WEEK)
    sec = _section(html, "journal-h")
    items = re.findall(r'<li data-journal="([a-z]+)">(.*?)</li>', sec, re.S)
    assert [k for k, _ in items] == ["pain", "illness"]  # not the strength entry
    assert items[0][1] == (
        "<strong>Tue 17 Nov, Pain</strong>: left knee (left), severity 3/10. Sore after the long run"
    )
    assert "See a clinician" in sec
    md = _page(out, LAST_WEEK, "md")
    assert "- **Tue 17 Nov, Pain**: left knee (left), severity 3/10. Sore after the long run" in md
    assert "Sore after the long run\n- **Thu 19 Nov, Illness**. A cold\n\n**See a clinician" in md
    # a week without entries says so, and has no clinician line of its own
    quiet = _section(_page(out, WEEKS[-2]), "journal-h")
    assert "No pain, injury or illness was noted" in quiet and "See a clinician" not in quiet


def test_a_week_with_an_injury_and_no_training_gets_its_page(out: Path) -> None:
    html = _page(out, WEEKS[-3])  # no activity: rendered for its journal entry
    sec = _section(html, "journal-h")
    assert "<strong>Wed 04 Nov, Injury</strong>: calf (right), severity 5/10" in sec
    assert "See a clinician" in sec and "No runs were recorded this week." in html


def test_return_new_watch_and_other_training_have_titles_from_their_numbers(out: Path) -> None:
    html = _page(out, WEEKS[-2])
    status = re.findall(r'<p class="status" data-status>(.*?)</p>', html)
    assert status == [
        "Returning after 15 days off (week 1 back)",
        "New watch since 2026-11-09: gait baselines rebuild over the next 4 weeks",
    ]
    recs = _section(html, "recs-h")
    assert "Other training: 1 cross-training and 1 strength session, counted and encouraged" in recs
    assert "Cross-training and strength: keep it up" in recs
    assert "Returning after a break" in recs  # the plan's title
    md = _page(out, WEEKS[-2], "md")
    assert "Returning after 15 days off (week 1 back)" in md
    assert "### New watch since 2026-11-09: gait baselines rebuild over the next 4 weeks (info)" in md


def test_index_shows_the_back_test_with_layoffs(out: Path) -> None:
    html = (out / "index.html").read_text(encoding="utf-8")
    table = re.search(r'<table class="back-test" data-athlete="anna">(.*?)</table>', html, re.S)
    assert table
    rows = {
        sig: [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<(?:th|td)[^>]*>(.*?)</(?:th|td)>", body, re.S)]
        for sig, body in re.findall(r'<tr data-signal="([a-z_]+)">(.*?)</tr>', table.group(1), re.S)
    }
    # 8 weekly rows, W45 insufficient_data: 7 scored. Warnings: W47 compact_gait (moderate)
    # and level moderate. Two episodes: the calf injury on Wed 4 Nov and the knee pain on
    # Tue 17 Nov (13 days apart); W47 ends on the 22nd, after both: none preceded. Chance:
    # Mondays from 28 days after Mon 28 Sep (W44-W47, 4), none 1-28 days after 22 Nov: 0 %.
    assert rows["compact_gait"] == ["Compact gait", "1 of 7", "14 %", "0 of 2", "–", "0 %"]
    assert rows["moderate_or_high"] == ["Moderate or high risk level", "1 of 7", "14 %", "0 of 2", "–", "0 %"]
    assert rows["high"] == ["High risk level", "0 of 7", "0 %", "0 of 2", "–", "0 %"]
    assert rows["load_spike"][1:3] == ["0 of 7", "0 %"]
    assert "7 scored weeks, 2 pain or injury episodes" in table.group(1)
    assert "small numbers from one runner: a screening aid" in html
    assert re.search(r'<li data-episode="2">Episode 2: 2026-11-17, left knee, severity up to 3/10: '
                     r"no moderate or high week in the 28 days before</li>", html)
    # W42 (Mon 12 Oct): a return after 14 days, nothing in the journal from 28 Sep to 18 Oct:
    # a possible layoff. W46 (Mon 9 Nov, 15 days off: 25 Oct - 15 Nov) holds the calf injury
    # of 4 Nov: explained, no layoff.
    assert re.findall(r'<li data-layoff="([0-9W-]+)">', html) == [WEEKS[2]]
    assert re.search(rf'<li data-layoff="{WEEKS[2]}">Possible layoff \(no running, nothing in the journal\): '
                     rf"14 days without running before {WEEKS[2]}", html)
    md = (out / "index.md").read_text(encoding="utf-8")
    assert "| Compact gait | 1 of 7 | 14 % | 0 of 2 | – | 0 % |" in md
    assert "- Episode 1: 2026-11-04, calf, severity up to 5/10: no moderate or high week" in md
    assert (f"- Possible layoff (no running, nothing in the journal): 14 days without running "
            f"before {WEEKS[2]}\n") in md
    assert HOSTILE not in html and HOSTILE not in md


def test_pages_stay_accessible(out: Path) -> None:
    for page in [out / "index.html", *(out / "anna").glob("*.html")]:
        assert A11yChecker().check(page.read_text(encoding="utf-8")) == [], page


def test_a_journal_change_rerenders_only_its_week(journal_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(journal_db, db)
    out = tmp_path / "out"
    render_reports(db, out)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO journal VALUES ('j-new', 'anna', ?, 'injury', NULL, 'calf', "
                    "'right', 6, 'Tweaked it', 'anna/journal.csv', 5)",
                    [date.fromisocalendar(2026, int(WEEKS[3][-2:]), 3)])  # its Wednesday
    changed = render_reports(db, out)
    assert sorted(str(p.relative_to(out)) for p in changed) == [
        f"anna/{WEEKS[3]}.html", f"anna/{WEEKS[3]}.md", "index.html", "index.md"]
    assert "calf (right), severity 6/10" in _page(out, WEEKS[3])
