"""Weekly risk reports: one self-contained HTML page and one Markdown file per athlete and
ISO week with data, plus an index, rendered from the warehouse's DuckDB file.

Everything that comes from the data (athlete and activity names, flag reasons) is
untrusted text: the HTML templates autoescape it, and Markdown output goes through
:func:`md_escape` (raw HTML in Markdown would otherwise pass straight through to a
viewer). The HTML page loads nothing from the network and runs no script; its
Content-Security-Policy forbids both, as a second line of defence.

Public API
----------
- :func:`render_reports` (db path -> written files), used by ``gaitwatch run`` / ``report``.
- :func:`render_week` (open connection, one athlete-week -> html and md paths).
- :func:`summary_markdown` (open connection -> Markdown table for a Prefect artifact).
"""

from __future__ import annotations

import hashlib
import html
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from reports import charts, content
from reports.data import (
    BackTest,
    Flag,
    WeekData,
    list_weeks,
    load_back_tests,
    load_weeks,
    parse_iso_week,
    sample_batches,
    week_fingerprints,
)
from transforms.thresholds import DEFAULT_THRESHOLDS, Thresholds
from warehouse.instances import is_held
from warehouse.migrate import memory_limit, utc_session

TEMPLATES = Path(__file__).resolve().parent / "templates"
# DuckDB keeps every block it reads cached up to its memory limit (80 % of RAM by
# default), so over a whole history the cache grows with the database file. The pipeline's
# limit (warehouse.migrate.memory_limit, 100 MB: a few times one sample batch's needs,
# data.MAX_BATCH_SAMPLES) evicts earlier batches' blocks; a query over it spills to a
# temporary folder, and one that still does not fit runs again under DuckDB's default
# limit (_load_bounded).
# The report code's version, part of every page's data fingerprint: a changed template or
# chart re-renders every page, unchanged code and data leave a page as it is.
CODE_VERSION = hashlib.sha256(
    b"".join(
        p.read_bytes()
        for p in sorted([*Path(__file__).resolve().parent.glob("*.py"), *TEMPLATES.iterdir()])
        if p.is_file()
    )
).hexdigest()[:16]
_FINGERPRINT = re.compile(r'<meta name="gaitwatch-data" content="([0-9a-f]*)">')

FLAG_TITLES: dict[str, str] = {
    "compact_gait": "Compact gait",
    "asymmetry": "Left/right asymmetry",
    "load_spike": "Load spike",
    "monotony": "Monotonous training",
    "no_sprints": "No fast running",
    "no_strength": "No strength training",
    "distance_progression": "Fast rise in weekly distance",
    "asymmetry_drift": "Balance drifts during runs",
    "low_cadence": "Low step rate",
    "return_progression": "Returning after a break: more running than the return steps",
    "returning": "Returning after a break",
    "new_device": "New watch or sensor",
    "other_training": "Other training, counted and encouraged",
}

_SAFE_PART = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ISO_WEEK = re.compile(r"\d{4}-W\d{2}")
# Characters with a meaning in Markdown (CommonMark/GFM incl. tables) that must show literally.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value: Any) -> str:
    """Make untrusted text show literally in Markdown: HTML-escape it (so ``<script>``
    stays text in any renderer), backslash-escape Markdown punctuation, flatten newlines.
    ``Markup`` values are trusted template output and pass unchanged."""
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = html.escape(text, quote=False)  # quotes mean nothing in Markdown text
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_part(text: str) -> str:
    """A path component for an athlete id: the id itself when it is a plain slug,
    else a stable hash, so no value from the database can climb out of ``out_dir``."""
    if _SAFE_PART.fullmatch(text):
        return text
    return "athlete-" + hashlib.sha256(text.encode()).hexdigest()[:12]


# --- formatting filters (shared by both environments) ---------------------------------


def _num(x: Any, spec: str = ".1f", unit: str = "") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    return format(x, spec) + unit


def _km(m: float | None) -> str:
    return _num(None if m is None else m / 1000.0, ".1f")


def _duration(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _pace(distance_m: float | None, seconds: float | None) -> str:
    """min:ss per km from distance and moving time."""
    if not distance_m or not seconds or distance_m < 50:
        return "–"
    per_km = seconds / (distance_m / 1000.0)
    m, s = divmod(int(round(per_km)), 60)
    return f"{m}:{s:02d}"


def _value(v: Any) -> str:
    """A number from flag details, rounded for reading; other values as text."""
    if isinstance(v, bool) or v is None:
        return "–" if v is None else str(v).lower()
    if isinstance(v, float):
        return format(v, ".3g")
    return str(v)


def _session_name(s: Any) -> str:
    """The activity's own name, else its kind: FIT files usually carry no name."""
    if s.name:
        return str(s.name)
    kind = "Run" if s.is_run else str(s.sport).replace("_", " ").capitalize()
    if s.sub_sport and s.sub_sport not in ("generic", "all"):
        return f"{kind} ({str(s.sub_sport).replace('_', ' ')})"
    return kind


def _session_kind(s: Any) -> str:
    """Sport in words: 'Strength training', 'Cycling (road)'."""
    sport = str(s.sport).replace("_", " ")
    sub = str(s.sub_sport or "").replace("_", " ")
    if sub and sub not in ("generic", "all"):
        if sport == "training" and sub.endswith("training"):
            return sub.capitalize()
        return f"{sport.capitalize()} ({sub})"
    return sport.capitalize()


def _title(code: str) -> str:
    return FLAG_TITLES.get(code, code.replace("_", " ").capitalize())


def _heading(f: Flag) -> str:
    """A flag's title with its own numbers where they say more than the code: "Returning
    after 23 days off", "New watch since 2023-09-22: gait baselines rebuild over the next
    4 weeks"."""
    n = f.numbers
    if f.code in ("returning", "return_progression") and isinstance(n.get("days_off"), int):
        head = f"Returning after {n['days_off']} days off"
        if isinstance(n.get("return_week"), int):
            head += f" (week {n['return_week']} back)"
        if f.code == "return_progression":
            head += ": more running than the return steps suggest"
        return head
    if f.code == "new_device" and n.get("device_changed_on"):
        what = "New watch" if f.reason.lower().startswith("new watch") else "New running-dynamics sensor"
        left = n.get("weeks_left")
        tail = f": gait baselines rebuild over the next {left} week{'' if left == 1 else 's'}" if isinstance(left, int) else ""
        return f"{what} since {n['device_changed_on']}{tail}"
    if f.code == "other_training":
        cross, strength = n.get("cross_training_sessions") or 0, n.get("strength_sessions") or 0
        return (f"Other training: {cross} cross-training and {strength} strength "
                f"session{'' if strength == 1 else 's'}, counted and encouraged")
    return _title(f.code)


def _short(text: Any, limit: int = content.DESCRIPTION_CHARS) -> str:
    """Free text on one line, cut at a word boundary after ``limit`` characters."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + " …"


def _summary_mark(s: Any) -> str:
    """What a summary-only activity is, in words; empty for a recorded one."""
    if not getattr(s, "summary_only", False):
        return ""
    return content.SUMMARY_ONLY.get(str(s.source), content.SUMMARY_ONLY["default"])


def _signal_label(signal: str) -> str:
    return content.SIGNAL_LABELS.get(signal) or _title(signal)


def _bytecode_cache(kind: str) -> BytecodeCache | None:
    """Compiled templates kept between processes: compiling them costs a nightly run
    0.1-0.2 s, more than rendering its few pages. Jinja's own per-user folder in the
    temporary directory (created owner-only, refused if anyone else owns it); an entry is
    keyed by the template's name and checked against its source, and each environment
    (HTML escaping or Markdown) has its own names. None, compiling each time, where no
    such folder can be made."""
    try:
        return FileSystemBytecodeCache(pattern=f"__gaitwatch_{kind}_%s.cache")
    except (OSError, RuntimeError):
        return None


def _environment(markdown: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        bytecode_cache=_bytecode_cache("md" if markdown else "html"),
        # HTML: autoescape every value. Markdown: no HTML autoescape, but every {{ }}
        # output goes through md_escape via finalize, so nothing can be forgotten.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"),
                                     default_for_string=True, default=True)
        if not markdown else False,
        finalize=md_escape if markdown else None,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, km=_km, duration=_duration, pace=_pace, flag_title=_title,
                       value=_value, session_name=_session_name,
                       session_kind=_session_kind, flag_heading=_heading, short=_short,
                       summary_mark=_summary_mark, signal_label=_signal_label)
    return env


_HTML_ENV = _environment(markdown=False)
_MD_ENV = _environment(markdown=True)


# --- report context -----------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    flag: Flag
    title: str
    plan: content.Plan | None
    plan_shown_above: str | None  # title of an identical plan already shown for another flag


def _recommendations(week: WeekData) -> list[Recommendation]:
    out: list[Recommendation] = []
    shown: dict[tuple[content.Exercise, ...], str] = {}
    for f in week.flags:
        plan = content.PLANS.get(f.code)
        above = None
        if plan is not None and plan.exercises and plan.exercises in shown:
            above = shown[plan.exercises]
        elif plan is not None and plan.exercises:
            shown[plan.exercises] = plan.title
        out.append(Recommendation(f, _heading(f), plan, above))
    return out


def _missing_notes(week: WeekData) -> list[str]:
    codes = list(week.missing_data)
    if "no_running_dynamics" in codes and "no_gct_balance" in codes:
        codes.remove("no_gct_balance")  # said already: no dynamics means no balance either
    notes = [content.MISSING.get(code, f"Not available this week: {code}.") for code in codes]
    risk = week.risk or {}
    balance_codes = {"no_running_dynamics", "no_gct_balance"}
    if week.runs and risk.get("asymmetry_level") is None and not balance_codes & set(week.missing_data):
        notes.append(content.MISSING["no_gct_balance"])
    if week.risk is None:
        notes.append("There is no weekly risk assessment for this week in the warehouse.")
    if week.flag_details_error:
        notes.append(f"The explanation of this week's flags could not be read: {week.flag_details_error}.")
    if not week.runs and "no_runs" not in week.missing_data:
        notes.append(content.MISSING["no_runs"])
    return notes


def _asymmetry_text(week: WeekData) -> str:
    level = (week.risk or {}).get("asymmetry_level")
    if level is None:
        if not week.runs:
            return "not measured: no runs this week"
        if "no_running_dynamics" in week.missing_data:
            return "not measured: no running dynamics data this week"
        return "not measured: no ground contact time balance data this week"
    return str(level)


def _week_sprint_s(week: WeekData) -> float | None:
    values = [r.gait.get("sprint_s") for r in week.runs if r.gait]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _charts(week: WeekData, th: Thresholds) -> list[charts.Chart]:
    zones = charts.GctZones(th.balance_balanced_max_pct, th.balance_moderate_max_pct)
    return [
        charts.load_chart(week.history, (th.acwr_low, th.acwr_moderate, th.acwr_high)),
        charts.step_length_chart(week.step_week, week.step_baseline, week.ref_speed_m_s),
        charts.cadence_chart(week.cadence_week, week.cadence_baseline),
        charts.gct_balance_chart(week.balance_runs, zones),
        charts.speed_chart(week.speed_week, week.sprint_threshold_m_s, _week_sprint_s(week)),
        charts.sessions_chart(week.history),
    ]


def _context(week: WeekData, th: Thresholds, chart_list: list[charts.Chart]) -> dict[str, Any]:
    risk = week.risk or {}
    level = str(risk.get("risk_level") or "insufficient_data")
    label, symbol = content.RISK_LABELS.get(level, (level, "?"))
    return {
        "week": week,
        "risk": risk,
        "level": level,
        "level_label": label,
        "level_symbol": symbol,
        "top_flags": week.flags[:3],
        "asymmetry_text": _asymmetry_text(week),
        "recommendations": _recommendations(week),
        "missing_notes": _missing_notes(week),
        "charts": chart_list,
        "evidence": [(k, content.EVIDENCE[k]) for k in content.EVIDENCE_ORDER],
        "evidence_by_key": content.EVIDENCE,
        "disclaimer": content.DISCLAIMER,
        "disclaimer_headline": content.DISCLAIMER_HEADLINE,
        "th": th,
        "display_name": week.athlete_name or week.athlete_id,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "week_end": (week.week_start + timedelta(days=6)).isoformat(),
        "status_lines": [_heading(f) for f in week.flags if f.code in _STATUS_CODES],
        "health": week.health_entries,
        "has_pain": any(e["kind"] in ("pain", "injury") for e in week.health_entries),
        "journal_kinds": content.JOURNAL_KINDS,
        "clinician": content.CLINICIAN,
        "journal_sessions": sum(1 for s in week.other_sessions if s.source == "journal"),
    }


# Said under the level badge: why this week is judged differently (returns, new devices).
_STATUS_CODES = ("returning", "return_progression", "new_device")


def render_week(
    con: duckdb.DuckDBPyConnection,
    athlete_id: str,
    iso_week: str,
    out_dir: Path,
    thresholds: Thresholds | None = None,
) -> tuple[Path, Path]:
    """Render one athlete-week to ``out_dir/<athlete>/<iso_week>.html`` and ``.md``.

    Works for any week, also one without data: the report then says what is missing.
    """
    if not _ISO_WEEK.fullmatch(iso_week):
        raise ValueError(f"not an ISO week like 2026-W47: {iso_week!r}")
    parse_iso_week(iso_week)
    th = thresholds or DEFAULT_THRESHOLDS
    (week,) = load_weeks(con, [(athlete_id, iso_week)], th, CODE_VERSION)
    return _write_week(week, Path(out_dir), th)


def _written_fingerprint(out_dir: Path, athlete_id: str, iso_week: str) -> str | None:
    """The data fingerprint of the report already in ``out_dir``, None when there is none
    (or its Markdown twin is missing)."""
    html_path = out_dir / safe_part(athlete_id) / f"{iso_week}.html"
    if not html_path.with_suffix(".md").exists():
        return None
    try:
        with html_path.open(encoding="utf-8") as f:
            head = f.read(4096)
    except OSError:
        return None
    m = _FINGERPRINT.search(head)
    return m.group(1) if m else None


def _write_week(week: WeekData, out_dir: Path, th: Thresholds) -> tuple[Path, Path]:
    chart_list = _charts(week, th)
    ctx = _context(week, th, chart_list)
    folder = out_dir / safe_part(week.athlete_id)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{week.iso_week}.html"
    md_path = folder / f"{week.iso_week}.md"
    html_path.write_text(_HTML_ENV.get_template("week.html.j2").render(ctx), encoding="utf-8")
    md_path.write_text(_MD_ENV.get_template("week.md.j2").render(ctx), encoding="utf-8")
    return html_path, md_path


def _index_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(
            r["athlete_id"],
            {
                "athlete_id": r["athlete_id"],
                "name": r.get("athlete_name") or r["athlete_id"],
                "folder": Markup(safe_part(r["athlete_id"])),  # slug only: safe in a URL
                "weeks": [],
            },
        )
        level = str(r.get("risk_level") or "insufficient_data")
        g["weeks"].append(
            {
                **r,
                "level": level,
                "level_label": content.RISK_LABELS.get(level, (level, "?"))[0],
                "level_symbol": content.RISK_LABELS.get(level, (level, "?"))[1],
                "flags": list(r.get("flags") or []),
            }
        )
    for g in groups.values():
        g["weeks"].sort(key=lambda w: w["week_start"], reverse=True)
    return list(groups.values())


def _write_index(
    rows: list[dict[str, Any]], out_dir: Path, back_tests: dict[str, BackTest] | None = None
) -> list[Path]:
    groups = _index_groups(rows)
    for g in groups:
        g["back_test"] = (back_tests or {}).get(g["athlete_id"])
        for w in g["weeks"]:
            # Only link reports that exist: a filtered run renders some weeks, and the index
            # still lists every week with data.
            w["rendered"] = (out_dir / str(g["folder"]) / f"{w['iso_week']}.html").exists()
    ctx = {
        "groups": groups,
        "disclaimer": content.DISCLAIMER,
        "disclaimer_headline": content.DISCLAIMER_HEADLINE,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "back_test_note": content.BACK_TEST_NOTE,
        "no_episodes_note": content.NO_EPISODES_NOTE,
        "layoff_note": content.LAYOFF_NOTE,
    }
    html_path = out_dir / "index.html"
    md_path = out_dir / "index.md"
    html_path.write_text(_HTML_ENV.get_template("index.html.j2").render(ctx), encoding="utf-8")
    md_path.write_text(_MD_ENV.get_template("index.md.j2").render(ctx), encoding="utf-8")
    return [html_path, md_path]


def _load_bounded(
    con: duckdb.DuckDBPyConnection, targets: list[tuple[str, str]], th: Thresholds,
    fingerprints: Mapping[tuple[str, str], str],
) -> list[WeekData]:
    """load_weeks under the pipeline's memory limit; a batch that does not fit (one week of
    extreme recordings, over the sample budget on its own) gets DuckDB's default limit."""
    try:
        return load_weeks(con, targets, th, CODE_VERSION, fingerprints)
    except duckdb.OutOfMemoryException:
        con.execute("RESET memory_limit")
        try:
            return load_weeks(con, targets, th, CODE_VERSION, fingerprints)
        finally:
            con.execute("SET memory_limit = ?", [memory_limit()])


def _connect(db_path: Path | str, spill: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or, while this process holds the file for a run
    (warehouse.store.Warehouse.held), one to the held instance: DuckDB refuses a second
    configuration of an open file, and a new instance would not see uncheckpointed commits
    cheaply. Timestamps and week bounds in UTC."""
    if is_held(db_path):
        con = duckdb.connect(str(db_path))
    else:
        con = duckdb.connect(str(db_path), read_only=True)
        con.execute("SET temp_directory = ?", [spill])  # a read-only instance has none
    utc_session(con)
    con.execute("SET memory_limit = ?", [memory_limit()])
    return con


def render_reports(
    db_path: Path | str,
    out_dir: Path | str,
    athletes: Iterable[str] | None = None,
    weeks: Iterable[str] | None = None,
    thresholds: Thresholds | None = None,
) -> list[Path]:
    """Render every athlete-week with data (optionally only some athletes / ISO weeks)
    from the DuckDB file at ``db_path`` (opened read-only) into ``out_dir``.

    Returns the written paths: per week an HTML and a Markdown file, then
    ``index.html`` and ``index.md``, which list every athlete-week with data in the
    database (linking those whose report exists in ``out_dir``), so a filtered run keeps
    a complete index. A week whose page in ``out_dir`` was rendered from the same data by
    the same code (its ``gaitwatch-data`` fingerprint) is left as it is and not returned.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="gaitwatch-reports-") as spill,
        _connect(db_path, spill) as con,
    ):
        rows = list_weeks(
            con,
            athletes=list(athletes) if athletes is not None else None,
            weeks=list(weeks) if weeks is not None else None,
        )
        th = thresholds or DEFAULT_THRESHOLDS
        # Only weeks whose data (or the report code) changed since their page was written:
        # a nightly run with one new file re-renders the weeks it shows up in. The
        # fingerprints are a few digests per week, computed in SQL in four queries; the
        # chart data then comes in batches bounded by the samples they cover
        # (data.sample_batches): a dense history makes more batches, not bigger ones, so
        # peak memory does not grow with the runs per week. Each batch's weeks are dropped
        # once written.
        targets = [(r["athlete_id"], r["iso_week"]) for r in rows]
        fingerprints = week_fingerprints(con, targets, th, CODE_VERSION)
        todo = [t for t in targets if _written_fingerprint(out, *t) != fingerprints[t]]
        for part in sample_batches(con, todo, th):
            weeks_data = _load_bounded(con, part, th, fingerprints)
            for week in weeks_data:
                written.extend(_write_week(week, out, th))
            del weeks_data
        written.extend(_write_index(list_weeks(con), out, load_back_tests(con)))
    return written


def latest_weeks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Each athlete's latest ISO week with results."""
    rows = con.execute("SELECT DISTINCT max(iso_week) FROM v_weekly_risk GROUP BY athlete_id")
    return sorted(w for (w,) in rows.fetchall() if w)


def summary_markdown(
    con: duckdb.DuckDBPyConnection,
    athletes: Iterable[str] | None = None,
    weeks: Iterable[str] | None = None,
) -> str:
    """A Markdown table of athlete-weeks with risk level and flags, for a Prefect artifact."""
    rows = list_weeks(
        con,
        athletes=list(athletes) if athletes is not None else None,
        weeks=list(weeks) if weeks is not None else None,
    )
    ctx = {
        "groups": _index_groups(rows),
        "disclaimer": content.DISCLAIMER,
        "disclaimer_headline": content.DISCLAIMER_HEADLINE,
    }
    return _MD_ENV.get_template("summary.md.j2").render(ctx)
