"""Weekly reports rendered from a hand-built warehouse file (see reports_support):
files written, flags and recommendations shown, missing data said plainly, untrusted text
escaped in HTML and Markdown, basic accessibility, self-contained pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from reports_support import (
    HOSTILE,
    HOSTILE_RUN,
    LAST_WEEK,
    WEEKS,
    A11yChecker,
    build_fixture_db,
)

from reports.render import (
    latest_weeks,
    md_escape,
    render_reports,
    render_week,
    safe_part,
    summary_markdown,
)


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_db(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def rendered(fixture_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("reports")
    return out, render_reports(fixture_db, out)


def _html(out: Path, week: str) -> str:
    return (out / "anna" / f"{week}.html").read_text(encoding="utf-8")


def _md(out: Path, week: str) -> str:
    return (out / "anna" / f"{week}.md").read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Element names, attributes and data-* markers of a page, as a browser would parse."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    p.close()
    return p


def _section(html: str, heading_id: str) -> str:
    """The HTML of one <section> by its heading id."""
    m = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert m, heading_id
    return m.group(1)


def test_writes_one_html_and_md_per_week_with_data_plus_index(rendered: tuple[Path, list[Path]]) -> None:
    out, paths = rendered
    names = sorted(str(p.relative_to(out)) for p in paths)
    # W45 has a weekly_risk row but no activity: no report. bob has no weekly_risk rows.
    weeks_with_data = [w for w in WEEKS if w != WEEKS[-3]]
    expected = sorted(
        [f"anna/{w}.html" for w in weeks_with_data]
        + [f"anna/{w}.md" for w in weeks_with_data]
        + ["index.html", "index.md"]
    )
    assert names == expected
    assert all(p.stat().st_size > 500 for p in paths)


def test_index_lists_weeks_with_risk_levels_and_links(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    tags = _parse((out / "index.html").read_text(encoding="utf-8"))
    rows = {a["data-week"]: a["data-risk-level"] for t, a in tags.tags if t == "tr" and "data-week" in a}
    assert rows[LAST_WEEK] == "moderate"
    assert rows[WEEKS[0]] == "low"
    assert WEEKS[-3] not in rows
    links = {a["href"] for t, a in tags.tags if t == "a"}
    assert f"anna/{LAST_WEEK}.html" in links and f"anna/{LAST_WEEK}.md" in links
    md = (out / "index.md").read_text(encoding="utf-8")
    assert f"[{LAST_WEEK}](anna/{LAST_WEEK}.md)" in md
    assert "Moderate" in md and "Compact gait" in md


def test_flagged_week_shows_flags_reasons_and_strength_plan(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    html = _html(out, LAST_WEEK)
    tags = _parse(html)
    glance = [a for t, a in tags.tags if "data-risk-level" in a]
    assert glance[0]["data-risk-level"] == "moderate"
    recs = _section(html, "recs-h")
    rec_flags = re.findall(r'<div class="flag [^"]*" data-flag="([a-z_]+)"', recs)
    # Sorted by severity: moderate compact_gait before low no_strength.
    assert rec_flags == ["compact_gait", "no_strength"]
    for exercise, dose in (
        ("Squats", "3 sets x 8-10 reps"),
        ("lunges", "3 sets x 8 reps per leg"),
        ("Step-ups", "3 sets x 10 reps per leg"),
        (("Romanian deadlifts", "3 sets x 8 reps")),
    ):
        assert re.search(rf"{exercise}.*?</th><td>{re.escape(dose)}</td>", recs), exercise
    assert "twice a week" in recs
    assert "Step length at 3.0 m/s 1.02 m vs baseline 1.09 m" in recs
    # The strength plan is shown once, and the second flag points to it.
    assert recs.count("Romanian deadlifts") == 1
    assert "Follow the strength plan under" in recs
    assert "Screening aid, not a diagnosis." in html
    md = _md(out, LAST_WEEK)
    assert "### Strength and strides" not in md  # plan titles are bold text, flag titles are headings
    assert "### Compact gait (moderate)" in md and "| Romanian deadlifts | 3 sets x 8 reps |" in md


def test_clean_week_has_no_flags_and_no_recommendations(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    html = _html(out, WEEKS[3])
    assert "data-flag=" not in html
    recs = _section(html, "recs-h")
    assert "No flags this week" in recs
    assert "deadlift" not in recs.lower() and "deload" not in recs.lower()
    assert "Nothing was flagged this week" in html
    assert "Asymmetry</dt><dd data-asymmetry>balanced</dd>" in html


def test_week_without_running_dynamics_says_so(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    week = WEEKS[-2]
    html = _html(out, week)
    assert "<dd data-asymmetry>not measured: no running dynamics data this week</dd>" in html
    missing = _section(html, "missing-h")
    assert "No running dynamics this week" in missing
    assert "Asymmetry could not be measured" in missing
    # No this-week balance is plotted or quoted for the week.
    assert "no balance data this week" in html
    assert "balanced" not in _section(html, "glance-h")
    md = _md(out, week)
    assert "Asymmetry: not measured: no running dynamics data this week" in md
    # The run table shows a dash, not a made-up balance.
    row = re.search(r"\| Mon [^\n]*\|\n", md)
    assert row and row.group(0).split("|")[8].strip() == "–"


def test_empty_week_and_week_without_risk_row_render_and_say_why(fixture_db: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        html_path, md_path = render_week(con, "anna", WEEKS[-3], tmp_path)
        html = html_path.read_text(encoding="utf-8")
        assert "No runs this week, so no gait measures" in html
        assert "Insufficient data" in html
        assert "No running dynamics this week" in html
        # Charts of this week's runs say there is nothing to draw; history charts still draw.
        assert 'id="chart-cadence" data-nodata' in html
        assert 'id="chart-load"' in html and "<svg" in html
        far_html, _ = render_week(con, "anna", "2025-W10", tmp_path)
        text = far_html.read_text(encoding="utf-8")
        assert "There is no weekly risk assessment for this week" in text
        assert "data-risk-level=\"insufficient_data\"" in text
    assert md_path.read_text(encoding="utf-8").startswith("# ")


def test_untrusted_names_are_text_in_html(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    for page in [out / "index.html", *sorted((out / "anna").glob("*.html"))]:
        html = page.read_text(encoding="utf-8")
        tags = _parse(html)
        assert not [t for t, _ in tags.tags if t in ("script", "img", "iframe", "object")], page
        assert not any(k.startswith("on") for _, a in tags.tags for k in a), page
        assert HOSTILE not in html
        assert HOSTILE in "".join(tags.text), page  # shows as text after entity decoding
    last = _parse(_html(out, LAST_WEEK))
    assert HOSTILE_RUN in "".join(last.text)


def test_untrusted_names_are_text_in_markdown(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    md = _md(out, LAST_WEEK)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;alert\\(1\\)" not in md  # parentheses are not over-escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    # The run name's pipe and brackets cannot break the table or make a link.
    runs = md.split("### Runs", 1)[1].split("### Cross-training", 1)[0]
    table = [line for line in runs.splitlines() if line.startswith("|")]
    assert len(table) == 5  # header, separator, three runs
    header_cells = len(re.split(r"(?<!\\)\|", table[0]))
    assert all(len(re.split(r"(?<!\\)\|", line)) == header_cells for line in table)
    assert "\\[link\\]" in md and "\\*bold\\*" in md
    index_md = (out / "index.md").read_text(encoding="utf-8")
    assert "## &lt;script&gt;alert(1)&lt;/script&gt; (anna)" in index_md


def test_md_escape_and_safe_part() -> None:
    assert md_escape("a|b*c_d[e]`f\\") == "a\\|b\\*c\\_d\\[e\\]\\`f\\\\"
    assert md_escape("<b>&") == "&lt;b&gt;&amp;"
    assert md_escape("line\nbreak") == "line break"
    assert md_escape(None) == ""
    assert safe_part("anna_b-2") == "anna_b-2"
    for bad in ("../../etc", "Anna", "a/b", "", "x" * 65):
        part = safe_part(bad)
        assert re.fullmatch(r"athlete-[0-9a-f]{12}", part), bad
    assert safe_part("../x") != safe_part("../y")


def test_pages_pass_basic_accessibility_checks(rendered: tuple[Path, list[Path]]) -> None:
    out, paths = rendered
    for page in (p for p in paths if p.suffix == ".html"):
        problems = A11yChecker().check(page.read_text(encoding="utf-8"))
        assert problems == [], (page, problems)


def test_checker_catches_problems() -> None:
    # The checker itself must be able to fail.
    bad = (
        "<html><body><h2>x</h2><h1>a</h1><h3>skip</h3><table><tr><th>h</th></tr></table>"
        "<svg><g></g></svg><img src='data:,'></body></html>"
    )
    problems = A11yChecker().check(bad)
    for expected in ("html without lang", "first heading is h2", "heading h3 follows h1",
                     "th without scope", "table without caption", "svg without role=img",
                     "svg without title or aria-label", "img without alt"):
        assert expected in problems


def test_charts_are_inline_labelled_svg_with_unique_ids(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    html = _html(out, LAST_WEEK)
    figures = re.findall(r'<figure class="chart" id="chart-([a-z]+)".*?</figure>', html, re.S)
    assert figures == ["load", "steplength", "cadence", "gct", "speed", "sessions"]
    for key in figures:
        fig = re.search(rf'<figure class="chart" id="chart-{key}".*?</figure>', html, re.S)
        assert fig
        svg = fig.group(0)
        assert f'aria-labelledby="gw-{key}-title gw-{key}-desc"' in svg
        assert re.search(rf'<title id="gw-{key}-title">[^<]+</title>', svg)
        assert len(re.findall(r"<(path|use|rect)\b", svg)) > 20, key
        assert "<figcaption>" in svg
        # Grey-safe: series differ by hatch or dash pattern, not colour alone.
        assert "<pattern" in svg or "stroke-dasharray" in svg, key
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', html):
        assert ref in ids, ref


def test_units_are_labelled_on_axes(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    html = _html(out, LAST_WEEK)
    for label in ("Running distance (km)", "ACWR (ratio)", "Speed (m/s)", "Step length (m)",
                  "Cadence (steps/min)", "GCT balance (% left)", "Sessions (count)",
                  "(min, square-root scale)"):
        assert label in html, label


def test_pages_are_self_contained(rendered: tuple[Path, list[Path]]) -> None:
    out, paths = rendered
    for page in (p for p in paths if p.suffix == ".html"):
        html = page.read_text(encoding="utf-8")
        tags = _parse(html)
        for tag, attrs in tags.tags:
            assert tag not in ("link", "script", "iframe"), (page, tag)
            for key in ("src", "href", "xlink:href", "action"):
                value = attrs.get(key) or ""
                assert not re.match(r"[a-z]+:", value) or value.startswith("data:"), (page, value)
        assert "@import" not in html and "url(http" not in html
        assert "default-src 'none'" in html


def test_invalid_flag_details_are_reported_not_dropped(fixture_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(fixture_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE weekly_risk SET flag_details = '{not json' WHERE iso_week = ?", [LAST_WEEK]
        )
    with duckdb.connect(str(db), read_only=True) as con:
        html_path, _ = render_week(con, "anna", LAST_WEEK, tmp_path / "out")
    html = html_path.read_text(encoding="utf-8")
    assert "The explanation of this week&#39;s flags could not be read" in html


def test_filters_and_summary_markdown(fixture_db: Path, tmp_path: Path) -> None:
    paths = render_reports(fixture_db, tmp_path, athletes=["anna"], weeks=[LAST_WEEK])
    assert sorted(p.name for p in paths) == sorted(
        [f"{LAST_WEEK}.html", f"{LAST_WEEK}.md", "index.html", "index.md"]
    )
    index = _parse((tmp_path / "index.html").read_text(encoding="utf-8"))
    listed = [str(a["data-week"]) for t, a in index.tags if t == "tr" and "data-week" in a]
    links = {a["href"] for t, a in index.tags if t == "a"}
    # The index still lists every week with data, and links only the reports that exist.
    assert sorted(listed) == sorted(w for w in WEEKS if w != WEEKS[-3])
    assert links == {f"anna/{LAST_WEEK}.html", f"anna/{LAST_WEEK}.md"}
    assert render_reports(fixture_db, tmp_path / "none", athletes=["nobody"])[-1].name == "index.md"
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        latest = summary_markdown(con, weeks=latest_weeks(con))  # each athlete's latest week
        md = summary_markdown(con, weeks=WEEKS)
    latest_lines = [line for line in latest.splitlines() if line.startswith("| &lt;script")]
    assert len(latest_lines) == 1 and LAST_WEEK in latest_lines[0]
    lines = [line for line in md.splitlines() if line.startswith("| &lt;script")]
    assert len(lines) == len(WEEKS) - 1  # every week with data, not the empty one
    last = [line for line in lines if LAST_WEEK in line]
    assert len(last) == 1 and "Compact gait" in last[0] and "No strength training" in last[0]
    assert "<script>" not in md


def test_bad_iso_week_is_rejected(fixture_db: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        for bad in ("2026-47", "../2026-W47", "2026-W99"):
            with pytest.raises(ValueError):
                render_week(con, "anna", bad, tmp_path)


def test_flag_details_numbers_shown(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    recs = _section(_html(out, LAST_WEEK), "recs-h")
    assert "<dt><code>baseline_m</code></dt><dd>1.09</dd>" in recs


def test_rendering_loads_no_font_and_logs_nothing(fixture_db: Path, tmp_path: Path) -> None:
    # A fresh matplotlib config/font cache and every logger at DEBUG: a font lookup (the
    # old "findfont: Font family ... not found" flood) or any warning would show here.
    code = (
        "import logging, sys, warnings\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "warnings.simplefilter('always')\n"
        "from pathlib import Path\n"
        "from reports.render import render_reports\n"
        f"render_reports(Path({str(fixture_db)!r}), Path({str(tmp_path / 'out')!r}))\n"
        "print('matplotlib loaded' if 'matplotlib' in sys.modules else 'no matplotlib')\n"
    )
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "PYTHONWARNINGS": "always"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "no matplotlib"
    assert "findfont" not in proc.stderr and "font" not in proc.stderr.lower(), proc.stderr[-2000:]
    assert proc.stderr.strip() == "", proc.stderr[-2000:]


# `gaitwatch run` on sample data with a fresh matplotlib cache, quiet: see
# tests/test_cli.py::test_run_on_sample_data_is_quiet_whatever_fonts_are_installed (it
# checks everything the test that was here checked).


def test_second_run_rewrites_only_weeks_whose_data_changed(fixture_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(fixture_db, db)
    out = tmp_path / "out"
    first = render_reports(db, out)
    weeks_first = sorted(p.name for p in first if p.parent != out)
    assert len(weeks_first) > 4
    before = {p: p.read_bytes() for p in first if p.parent != out}
    # Same data, same code: every page stays as it is; the index is always written.
    again = render_reports(db, out)
    assert sorted(p.name for p in again) == ["index.html", "index.md"]
    assert all(p.read_bytes() == b for p, b in before.items())
    # One number of the last week changes: that week's pages (and only they) are new.
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE weekly_risk SET acwr = 1.77 WHERE athlete_id = 'anna' AND iso_week = ?",
                    [LAST_WEEK])
    changed = render_reports(db, out)
    assert sorted(str(p.relative_to(out)) for p in changed) == [
        f"anna/{LAST_WEEK}.html", f"anna/{LAST_WEEK}.md", "index.html", "index.md"]
    assert "1.77" in _html(out, LAST_WEEK)
    # A deleted page is written again.
    (out / "anna" / f"{WEEKS[0]}.md").unlink()
    assert f"anna/{WEEKS[0]}.html" in [str(p.relative_to(out)) for p in render_reports(db, out)]
    # One run of a middle week changes: its week and every later page, whose charts show
    # the last 12 weeks (all 8 fixture weeks), are new; the earlier weeks are not (the
    # empty W45 has no page).
    middle = WEEKS[3]
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        run = con.execute(
            "SELECT activity_id FROM v_report_activities WHERE athlete_id = 'anna' AND sport = 'running' "
            "AND week_start_local = ? ORDER BY started_local LIMIT 1",
            [date.fromisocalendar(int(middle[:4]), int(middle[-2:]), 1)],
        ).fetchone()[0]
        con.execute("UPDATE activity_gait SET cadence_median_spm = 171.5 WHERE activity_id = ?", [run])
    rewritten = {p.stem for p in render_reports(db, out) if p.parent != out}
    assert rewritten == {w for w in WEEKS[3:] if f"{w}.html" in weeks_first}
    assert len(rewritten) == 4


def test_sample_batches_split_by_samples_and_give_the_same_weeks(fixture_db: Path) -> None:
    # Issue 15 item 5: chart data is read in batches bounded by samples, not weeks; how
    # the weeks are split must not change what a week shows.
    from reports.data import load_weeks, sample_batches
    from transforms.thresholds import DEFAULT_THRESHOLDS as th

    targets = [("anna", w) for w in WEEKS]
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        n_samples = con.execute(
            "SELECT sum(n_samples) FROM v_activities WHERE athlete_id = 'anna' AND sport = 'running'"
        ).fetchone()[0]
        assert n_samples > 0
        assert sample_batches(con, targets, th, max_samples=n_samples) == [targets]
        one_each = sample_batches(con, targets, th, max_samples=1)
        assert one_each == [[t] for t in targets]
        whole = load_weeks(con, targets, th)
        split = [w for batch in one_each for w in load_weeks(con, batch, th)]
    assert split == whole
    assert any(w.step_week for w in whole)  # the comparison covers real chart bins
