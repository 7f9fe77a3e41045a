"""Support for the report tests (no tests here): a hand-built warehouse file, an HTML
accessibility checker and a minimal Chrome DevTools Protocol client over a pipe.

The hand-built DuckDB file has the warehouse's tables with the columns of the schemas in
``ingest/schema.py`` and ``transforms/schema.py``, filled with rows written by hand so
that edge cases are certain: a week without running dynamics, hostile names, an empty
week, a flagged week and a clean one. The weekly_risk rows are written, not computed:
these tests are about what the report shows for given warehouse content.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import astuple, dataclass, field, is_dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl

from ingest.schema import SAMPLE_SCHEMA
from transforms.schema import ACTIVITY_GAIT_SCHEMA, ACTIVITY_INPUT_SCHEMA, WEEKLY_RISK_SCHEMA
from warehouse import migrate

HOSTILE = "<script>alert(1)</script>"
HOSTILE_RUN = '<img src=x onerror="alert(2)"> | *bold* [link](http://x)'

ATHLETES_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "name": pl.String(),
    "timezone": pl.String(),
    "height_m": pl.Float64(),
    "max_hr_bpm": pl.Float64(),
}


def _monday(iso_week: str) -> date:
    y, w = iso_week.split("-W")
    return date.fromisocalendar(int(y), int(w), 1)


def _week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


@dataclass
class FixtureWeek:
    iso_week: str
    runs: int = 3
    dynamics: bool = True
    balance_left_pct: float = 50.2
    step_factor: float = 1.0  # < 1: shorter steps at the same speed (compact)
    strength: int = 1
    cross: int = 0
    risk_level: str = "low"
    flags: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    asymmetry_level: str | None = "balanced"


LAST_WEEK = "2026-W47"
WEEKS = [_week(_monday(LAST_WEEK) - timedelta(weeks=k)) for k in range(7, -1, -1)]

COMPACT_FLAG = {
    "code": "compact_gait",
    "severity": "moderate",
    "reason": "Step length at 3.0 m/s 1.02 m vs baseline 1.09 m (z = 1.4).",
    "numbers": {"step_length_at_ref_speed_m": 1.02, "baseline_m": 1.09, "z": 1.4},
    "recommendation": "Two strength sessions a week and one strides session.",
}
NO_STRENGTH_FLAG = {
    "code": "no_strength",
    "severity": "low",
    "reason": "No strength session in 2 weeks.",
    "numbers": {"weeks": 2},
    "recommendation": "Add two strength sessions a week.",
}


def fixture_weeks() -> list[FixtureWeek]:
    weeks = [FixtureWeek(w) for w in WEEKS[:-3]]
    # W45: empty week (a gap in training), still a weekly_risk row.
    weeks.append(FixtureWeek(WEEKS[-3], runs=0, strength=0, risk_level="insufficient_data",
                             asymmetry_level=None, missing=["no_running_dynamics", "no_cadence"]))
    # W46: the watch without running dynamics.
    weeks.append(FixtureWeek(WEEKS[-2], dynamics=False, asymmetry_level=None, cross=1,
                             missing=["no_running_dynamics", "no_gct_balance"]))
    # W47: compact and no strength, hostile activity name on one run.
    weeks.append(FixtureWeek(WEEKS[-1], step_factor=0.93, strength=0, risk_level="moderate",
                             flags=[NO_STRENGTH_FLAG, COMPACT_FLAG]))
    return weeks


def _samples(activity_id: str, athlete_id: str, start: datetime, wk: FixtureWeek,
             seed: int) -> dict[str, list[Any]]:
    """30 minutes at 1 Hz: steady 2.6-3.4 m/s with six 20 s strides at 5.5 m/s."""
    n = 1800
    cols: dict[str, list[Any]] = {k: [] for k in ("ts", "speed_m_s", "cadence_spm",
                                                   "step_length_m", "stance_time_ms",
                                                   "gct_balance_left_pct")}
    for i in range(n):
        base = 3.0 + 0.4 * math.sin((i + seed * 37) / 97.0)
        stride = (i % 300) < 20 and i > 200
        speed = 5.5 if stride else base
        # Compact weeks: same speeds, higher cadence, so shorter steps (step = v * 60 / spm).
        cadence = (140 + 9 * speed) / wk.step_factor
        step = speed * 60 / cadence
        cols["ts"].append(start + timedelta(seconds=i))
        cols["speed_m_s"].append(speed)
        cols["cadence_spm"].append(cadence)
        cols["step_length_m"].append(step if wk.dynamics else None)
        cols["stance_time_ms"].append(240.0 if wk.dynamics else None)
        bal = wk.balance_left_pct + 0.3 * math.sin(i / 50.0)
        cols["gct_balance_left_pct"].append(bal if wk.dynamics else None)
    cols["activity_id"] = [activity_id] * n
    cols["athlete_id"] = [athlete_id] * n
    cols["sport"] = ["running"] * n
    cols["session_index"] = [0] * n
    return cols


def chart_numbers(bins: Any) -> list[float]:
    """One athlete-week's chart bins (reports.data._Bins) as one list of numbers, the
    parts' lengths first: two ways of binning compare with pytest.approx."""
    parts = (bins.step[True], bins.step[False], bins.cadence[True], bins.cadence[False], bins.speed)
    rows = [astuple(x) if is_dataclass(x) else x for p in parts for x in p]
    return [len(p) for p in parts] + [float(v) for row in rows for v in row]


def build_fixture_db(path: Path, athlete_id: str = "anna", name: str = HOSTILE) -> Path:
    """Write a small warehouse-shaped DuckDB file and return its path."""
    athletes = pl.DataFrame(
        {"athlete_id": [athlete_id, "bob"], "name": [name, "Bob"],
         "timezone": ["Europe/Oslo", "America/New_York"], "height_m": [1.7, 1.8],
         "max_hr_bpm": [190.0, 185.0]},
        schema=ATHLETES_SCHEMA,
    )
    acts: list[dict[str, Any]] = []
    gait: list[dict[str, Any]] = []
    risk: list[dict[str, Any]] = []
    sample_parts: list[pl.DataFrame] = []
    seed = 0
    for wk in fixture_weeks():
        monday = _monday(wk.iso_week)
        dist = 0.0
        for r in range(wk.runs):
            seed += 1
            # 07:30 local Oslo (UTC+1 in November) on Mon/Wed/Sat.
            start = datetime.combine(monday + timedelta(days=(0, 2, 5)[r % 3]),
                                     datetime.min.time(), UTC) + timedelta(hours=6, minutes=30)
            aid = f"{athlete_id}-{wk.iso_week}-r{r}"
            run_name = HOSTILE_RUN if (wk.iso_week == LAST_WEEK and r == 1) else f"Morning run {r + 1}"
            d = 1800 * 3.2
            dist += d
            acts.append({"activity_id": aid, "athlete_id": athlete_id, "sport": "running",
                         "sub_sport": "generic", "started_at": start, "local_offset_s": 3600,
                         "duration_s": 1800.0, "elapsed_s": 1850.0, "distance_m": d,
                         "avg_heart_rate_bpm": 145.0, "name": run_name})
            g: dict[str, Any] = {k: None for k in ACTIVITY_GAIT_SCHEMA}
            g.update(activity_id=aid, athlete_id=athlete_id, started_at=start, moving_s=1800.0,
                     analysed_s=1700.0, distance_m=d, cadence_median_spm=177.0 + (6 if wk.step_factor < 1 else 0),
                     step_length_at_ref_speed_m=1.09 * wk.step_factor, ref_speed_m_s=3.0,
                     sprint_threshold_m_s=5.0, sprint_s=120.0, sprint_efforts=6, trimp=55.0 + r,
                     cadence_share=1.0, dynamics_share=1.0 if wk.dynamics else 0.0,
                     balance_share=1.0 if wk.dynamics else 0.0)
            if wk.dynamics:
                g.update(gct_balance_mean_left_pct=wk.balance_left_pct + 0.1 * r,
                         gct_balance_dev_pct=abs(wk.balance_left_pct - 50), stance_time_median_ms=240.0)
            gait.append(g)
            sample_parts.append(pl.DataFrame(_samples(aid, athlete_id, start, wk, seed)))
        for k in range(wk.strength):
            acts.append({"activity_id": f"{athlete_id}-{wk.iso_week}-s{k}", "athlete_id": athlete_id,
                         "sport": "training", "sub_sport": "strength_training",
                         "started_at": datetime.combine(monday + timedelta(days=3), datetime.min.time(), UTC)
                         + timedelta(hours=17), "local_offset_s": 3600, "duration_s": 2400.0,
                         "elapsed_s": 2400.0, "distance_m": None, "avg_heart_rate_bpm": 110.0,
                         "name": "Gym"})
        for k in range(wk.cross):
            acts.append({"activity_id": f"{athlete_id}-{wk.iso_week}-c{k}", "athlete_id": athlete_id,
                         "sport": "cycling", "sub_sport": "road",
                         "started_at": datetime.combine(monday + timedelta(days=6), datetime.min.time(), UTC)
                         + timedelta(hours=9), "local_offset_s": 3600, "duration_s": 3600.0,
                         "elapsed_s": 3700.0, "distance_m": 30000.0, "avg_heart_rate_bpm": 130.0,
                         "name": HOSTILE})
        row: dict[str, Any] = {k: None for k in WEEKLY_RISK_SCHEMA}
        row.update(athlete_id=athlete_id, iso_week=wk.iso_week, week_start=monday, runs=wk.runs,
                   run_distance_m=dist, run_time_s=1800.0 * wk.runs, load=60.0 * wk.runs + 40 * wk.strength,
                   acute_load=25.0, chronic_load=24.0, acwr=1.04 if wk.runs else 0.4,
                   cross_training_sessions=wk.cross, strength_sessions=wk.strength,
                   sprint_s=120.0 * wk.runs, sprint_efforts=6 * wk.runs,
                   step_length_at_ref_speed_m=1.09 * wk.step_factor if wk.runs else None,
                   compact_gait_score=1.4 if wk.step_factor < 1 else (0.1 if wk.runs else None),
                   asymmetry_level=wk.asymmetry_level,
                   gct_balance_left_pct=wk.balance_left_pct if wk.dynamics and wk.runs else None,
                   baseline_weeks=min(6, WEEKS.index(wk.iso_week)), risk_level=wk.risk_level,
                   flags=[f["code"] for f in wk.flags], flag_details=json.dumps(wk.flags),
                   missing_data=wk.missing)
        risk.append(row)

    act_schema = {**ACTIVITY_INPUT_SCHEMA, "name": pl.String()}
    activities = pl.DataFrame(acts, schema=act_schema)
    gait_df = pl.DataFrame(gait, schema=ACTIVITY_GAIT_SCHEMA)
    risk_df = pl.DataFrame(risk, schema=WEEKLY_RISK_SCHEMA)
    sample_schema = {"activity_id": pl.String(), "athlete_id": pl.String(), **SAMPLE_SCHEMA}
    samples = pl.concat(
        [p.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))) for p in sample_parts],
        how="diagonal",
    )
    samples = samples.select(
        [(pl.col(c).cast(t) if c in samples.columns else pl.lit(None, dtype=t)).alias(c)
         for c, t in sample_schema.items()]
    )
    now = datetime(2026, 11, 24, tzinfo=UTC)
    athletes = athletes.with_columns(updated_at=pl.lit(now))
    # The NOT NULL bookkeeping columns of the warehouse's activities table.
    activities = activities.with_columns(
        ended_at=pl.col("started_at") + pl.duration(seconds=pl.col("elapsed_s")),
        format=pl.lit("fit"), n_samples=pl.lit(1800), n_sessions=pl.lit(1), n_laps=pl.lit(1),
        n_extras=pl.lit(0), n_data_columns=pl.lit(8), has_gps=pl.lit(False),
        has_running_dynamics=pl.lit(True), has_gct_balance=pl.lit(True),
        source_file=pl.col("activity_id") + ".fit", sha256=pl.col("activity_id"),
        loaded_at=pl.lit(now),
    )
    samples = samples.drop("athlete_id")
    if path.exists():
        path.unlink()
    # The real tables: the warehouse's own migrations, then rows inserted by column name.
    con = migrate.connect(path)
    try:
        migrate.migrate(con)
        for table, df in (("athletes", athletes), ("activities", activities),
                          ("activity_gait", gait_df), ("weekly_risk", risk_df),
                          ("samples", samples)):
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                [table]).fetchall()}
            arrow = df.select([c for c in df.columns if c in have]).to_arrow()  # noqa: F841
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM arrow")  # noqa: S608 - fixed names
    finally:
        con.close()
    return path


LONG_DESCRIPTION = "Easy miles on the treadmill, legs heavy. " * 8 + HOSTILE
PAIN_DAY = _monday(LAST_WEEK) + timedelta(days=1)  # Tuesday of the flagged week


def add_journal_and_back_test(path: Path, athlete_id: str = "anna") -> Path:
    """Issue 12/14 content on top of :func:`build_fixture_db`: in ``LAST_WEEK`` a
    summary-only run from the Strava list (long, hostile description), a journal strength
    session (a summary-only activity, as warehouse.summaries loads it), a pain and an
    illness entry; an injury in the empty week ``WEEKS[-3]``; in ``WEEKS[-2]`` a return after
    15 days off, a new watch and other training flagged; in ``WEEKS[2]`` a return after 14
    days off; then the stored back-test, written by warehouse.evaluation."""
    from transforms.thresholds import DEFAULT_THRESHOLDS
    from warehouse.evaluation import refresh_evaluation
    from warehouse.store import Warehouse

    monday = _monday(LAST_WEEK)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    common = {"athlete_id": athlete_id, "local_offset_s": 3600, "avg_heart_rate_bpm": None,
              "format": "summary", "n_samples": 0, "n_sessions": 0, "n_laps": 0, "n_extras": 0,
              "n_data_columns": 0, "has_gps": False, "has_running_dynamics": False,
              "has_gct_balance": False, "loaded_at": now, "summary_only": True}
    run_start = datetime.combine(monday + timedelta(days=3), datetime.min.time(), UTC) + timedelta(hours=6)
    gym_start = datetime.combine(monday + timedelta(days=4), datetime.min.time(), UTC) + timedelta(hours=11)
    acts = [
        {**common, "activity_id": f"{athlete_id}-manual-run", "sport": "running", "sub_sport": None,
         "started_at": run_start, "ended_at": run_start + timedelta(seconds=2400),
         "duration_s": 2400.0, "elapsed_s": 2400.0, "distance_m": 8000.0,
         "name": "Treadmill at the gym", "description": LONG_DESCRIPTION,
         "source_file": "strava/activities.csv", "sha256": "csv", "source": "strava_csv"},
        {**common, "activity_id": f"{athlete_id}-journal-gym", "sport": "training",
         "sub_sport": "strength_training", "started_at": gym_start,
         "ended_at": gym_start + timedelta(seconds=1800), "duration_s": 1800.0,
         "elapsed_s": 1800.0, "distance_m": None, "name": "strength (journal)",
         "description": "Squats and lunges", "source_file": f"{athlete_id}/journal.csv",
         "sha256": "journal", "source": "journal"},
    ]
    journal = [
        ("j-pain", PAIN_DAY, "pain", None, "left knee", "left", 3, "Sore after the long run", 2),
        ("j-ill", PAIN_DAY + timedelta(days=2), "illness", None, None, None, None, "A cold", 3),
        ("j-gym", PAIN_DAY + timedelta(days=3), "strength", 30.0, None, None, None, "Squats and lunges", 4),
        # the empty week (no activity): an injury, the reason there was no training
        ("j-calf", _monday(WEEKS[-3]) + timedelta(days=2), "injury", None, "calf", "right", 5, None, 5),
    ]
    w46 = [
        {"code": "returning", "severity": "info",
         "reason": "Returning after 15 days off, week 1: 90 min of running, within 50% of your pre-break 180 min a week.",
         "numbers": {"days_off": 15, "return_week": 1, "run_time_s": 5400.0,
                     "prebreak_run_time_s": 10800.0, "allowed_share": 0.5},
         "recommendation": "Back after a break: keep building gradually."},
        {"code": "new_device", "severity": "info",
         "reason": "New watch (coros pace3) since 2026-11-09: gait baselines rebuild over the next 4 week(s); compact gait is not judged until then.",
         "numbers": {"device_changed_on": "2026-11-09", "weeks_left": 4}, "recommendation": ""},
        {"code": "other_training", "severity": "info",
         "reason": "1 cross-training and 1 strength session(s) this week (80 load points): counted and shown.",
         "numbers": {"cross_training_sessions": 1, "strength_sessions": 1, "other_load": 80.0},
         "recommendation": "Keep it up."},
    ]
    con = migrate.connect(path)
    try:
        for a in acts:
            cols = ", ".join(a)
            con.execute(f"INSERT INTO activities ({cols}) VALUES ({', '.join('?' * len(a))})",  # noqa: S608
                        list(a.values()))
        for e in journal:
            con.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [e[0], athlete_id, *e[1:-1], f"{athlete_id}/journal.csv", e[-1]])
        con.execute(
            "UPDATE weekly_risk SET flags = ?, flag_details = ?, days_off_before = 15, "
            "return_week = 1, device_changed_on = DATE '2026-11-09', run_load = 150, "
            "other_load = 80 WHERE athlete_id = ? AND iso_week = ?",
            [[f["code"] for f in w46], json.dumps(w46), athlete_id, WEEKS[-2]],
        )
        # an earlier return whose break (14 days up to W42's Sunday) has no journal entry
        con.execute("UPDATE weekly_risk SET days_off_before = 14, return_week = 1 "
                    "WHERE athlete_id = ? AND iso_week = ?", [athlete_id, WEEKS[2]])
        # the journal strength session counts in the week (as weekly_risk counts it)
        con.execute("UPDATE weekly_risk SET strength_sessions = 1, runs = runs + 1, "
                    "run_distance_m = run_distance_m + 8000 WHERE athlete_id = ? "
                    "AND iso_week = ?", [athlete_id, LAST_WEEK])
    finally:
        con.close()
    with Warehouse.open(path) as wh:
        refresh_evaluation(wh, DEFAULT_THRESHOLDS, {athlete_id: None})
    return path


# --- accessibility checker ---------------------------------------------------------------


class A11yChecker(HTMLParser):
    """Collects basic accessibility problems of one HTML page.

    Checks: ``<html lang>``; exactly one h1 and no skipped heading level going down;
    every ``<svg>`` has role="img" with a ``<title>`` (or aria-label); every ``<img>`` has
    alt; every ``<th>`` has scope; every table has a caption or aria-label; no scripts.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.headings: list[int] = []
        self.lang: str | None = None
        self.svg_count = 0
        self._svg_stack: list[dict[str, Any]] = []
        self._tables: list[dict[str, bool]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            level = int(tag[1])
            if self.headings and level > self.headings[-1] + 1:
                self.problems.append(f"heading h{level} follows h{self.headings[-1]}")
            if not self.headings and level != 1:
                self.problems.append(f"first heading is h{level}")
            self.headings.append(level)
        elif tag == "svg":
            self.svg_count += 1
            self._svg_stack.append({"attrs": a, "title": False})
        elif tag == "title" and self._svg_stack:
            self._svg_stack[-1]["title"] = True
        elif tag == "img" and not a.get("alt"):
            self.problems.append("img without alt")
        elif tag == "th" and a.get("scope") not in ("col", "row", "colgroup", "rowgroup"):
            self.problems.append("th without scope")
        elif tag == "table":
            self._tables.append({"caption": bool(a.get("aria-label"))})
        elif tag == "caption" and self._tables:
            self._tables[-1]["caption"] = True
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg_stack:
            svg = self._svg_stack.pop()
            attrs = svg["attrs"]
            if attrs.get("role") != "img":
                self.problems.append("svg without role=img")
            if not (svg["title"] or attrs.get("aria-label")):
                self.problems.append("svg without title or aria-label")
        elif tag == "table" and self._tables:
            if not self._tables.pop()["caption"]:
                self.problems.append("table without caption")

    def check(self, html: str) -> list[str]:
        self.feed(html)
        self.close()
        if not self.lang:
            self.problems.append("html without lang")
        if self.headings.count(1) != 1:
            self.problems.append(f"{self.headings.count(1)} h1 elements")
        if self.scripts:
            self.problems.append(f"{self.scripts} script elements")
        return self.problems


# --- Chrome DevTools Protocol over --remote-debugging-pipe -----------------------------


def chromium_binary() -> str | None:
    """A Chromium that runs, or None (tests then skip, saying so). A name on PATH is not
    enough: a hidden binary (an empty file mounted over it) or a broken install counts
    as absent rather than failing every browser test."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if not found:
            continue
        try:
            # bound for a slow first start of a wrapper script, not a speed check
            probe = subprocess.run([found, "--version"], capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return found
    return None


class Browser:
    """Headless Chromium driven through the DevTools protocol on fds 3/4 (no port, no
    websocket): messages are JSON terminated by a NUL byte."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="gaitwatch-chromium-")
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()
        # The child's fd 3 reads our commands and fd 4 writes its answers.
        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank",
        ]

        def remap() -> None:
            # Move the pipe ends to 3 and 4 via fds >= 10, so that neither overwrites the
            # other, and make just those two inheritable: our other fds are created
            # non-inheritable (PEP 446) and do not leak into chromium.
            import fcntl

            r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
            w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        # close_fds=False: subprocess would close fds 3/4 after preexec_fn otherwise.
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            args, close_fds=False, preexec_fn=remap,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child_w, self._from_child_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class PageResult:
    console: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    log_entries: list[dict[str, Any]]
    dialogs: list[dict[str, Any]]
    failed_requests: list[dict[str, Any]]
    requests: list[str]
    evaluated: Any


def open_page(browser: Browser, url: str, expression: str, screenshot: Path | None,
              width: int = 1280) -> PageResult:
    """Open ``url`` in a new tab, wait for load, evaluate ``expression`` (returned by
    value), take a full-page screenshot, and collect console messages, uncaught
    exceptions, log entries (e.g. CSP violations), JavaScript dialogs and requests."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                 session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_event("Page.loadEventFired")
    browser.drain(0.5)
    value = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                         session=session)
    if screenshot is not None:
        metrics = browser.send("Page.getLayoutMetrics", session=session)
        height = int(metrics["cssContentSize"]["height"])
        shot = browser.send("Page.captureScreenshot",
                            {"format": "png", "captureBeyondViewport": True,
                             "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
                            session=session, timeout=60)
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
    browser.drain(0.2)
    evs = [e for e in browser.events if e.get("sessionId") == session]
    browser.send("Target.closeTarget", {"targetId": target})

    def of(method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in evs if e.get("method") == method]

    return PageResult(
        console=of("Runtime.consoleAPICalled"),
        exceptions=of("Runtime.exceptionThrown"),
        log_entries=[p["entry"] for p in of("Log.entryAdded")],
        dialogs=of("Page.javascriptDialogOpening"),
        failed_requests=of("Network.loadingFailed"),
        requests=[p["request"]["url"] for p in of("Network.requestWillBeSent")],
        evaluated=value.get("result", {}).get("value"),
    )
