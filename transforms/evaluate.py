"""Back-test of the weekly flags against a runner's journal: how often each rule and each
risk level warns, whether pain and injury episodes were preceded by a warning, and how
that compares with chance. Pure functions on polars frames (no I/O).

Definitions (docs/metrics.md, "Back-test"):

- A *warning* of a rule: the rule raised with severity moderate or high (``info`` flags
  are notes, not warnings). A warning of a level: the week's ``risk_level``.
- *Scored weeks*: weeks whose level is not ``insufficient_data``. Alarm rate: share of
  scored weeks with the warning.
- *Episode*: pain or injury journal entries of one athlete, each within
  ``episode_gap_days`` of the previous one, form one episode; it starts on its first entry.
- *Preceded*: a warning week ended (its Sunday) 1 to ``evaluate_window_days`` days before
  the episode started, so the weekly report could have been read before. Lead time: days
  from the end of the latest such week to the start.
- *Chance*: for every week of the history after the first ``evaluate_window_days``, would
  an episode starting on its Monday have been "preceded"? The share of such weeks is what
  the hit rate of a rule that knows nothing would be.
- *Possible layoffs*: breaks of ``break_min_days`` or more without running
  (``weekly_risk.days_off_before``) with no journal entry of any kind during them:
  maybe an unrecorded injury, maybe a holiday. Labelled as such, never counted as episodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any

import polars as pl

from transforms.thresholds import DEFAULT_THRESHOLDS, Thresholds

EPISODE_KINDS = ("pain", "injury")
RULES = ("load_spike", "distance_progression", "return_progression", "compact_gait", "asymmetry")
LEVELS = ("high", "moderate_or_high")
LAYOFF_LABEL = "possible layoff (no running, nothing in the journal)"
# Said wherever the back-test is shown: a few episodes on one history prove nothing.
HONEST_NOTE = (
    "How the warnings did on this runner's own past: small numbers, a screening aid, not a "
    "validation. A hit rate near the chance rate means the warning told no more than chance."
)

JOURNAL_SCHEMA: dict[str, pl.DataType] = {
    "entry_id": pl.String(),
    "athlete_id": pl.String(),
    "entry_date": pl.Date(),
    "kind": pl.String(),  # strength | cross_training | pain | injury | illness | note
    "minutes": pl.Float64(),
    "body_part": pl.String(),
    "side": pl.String(),
    "severity": pl.Int32(),  # 0-10
    "text": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int32(),
}

RATES_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "signal": pl.String(),  # a rule code, "high" or "moderate_or_high"
    "kind": pl.String(),  # "rule" | "level"
    "scored_weeks": pl.Int32(),
    "warning_weeks": pl.Int32(),
    "alarm_rate": pl.Float64(),  # warning_weeks / scored_weeks
    "episodes": pl.Int32(),
    "preceded": pl.Int32(),  # episodes with a warning 1-28 days before
    "hit_rate": pl.Float64(),  # preceded / episodes (null without episodes)
    "chance_rate": pl.Float64(),  # share of all 4-week windows that hold a warning
    "median_lead_days": pl.Float64(),
}

EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "episode": pl.Int32(),  # 1, 2, ... per athlete
    "start": pl.Date(),
    "end": pl.Date(),
    "entries": pl.Int32(),
    "max_severity": pl.Int32(),
    "body_parts": pl.String(),  # comma-separated, as written
    "preceded_by": pl.List(pl.String()),  # signals that warned 1-28 days before
    "lead_days": pl.Int32(),  # from the latest moderate-or-high week, null if none
}

LAYOFF_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "return_iso_week": pl.String(),  # the week running resumed
    "days_off": pl.Int32(),
    "label": pl.String(),
}


@dataclass(frozen=True)
class Evaluation:
    rates: pl.DataFrame  # RATES_SCHEMA
    episodes: pl.DataFrame  # EPISODE_SCHEMA
    layoffs: pl.DataFrame  # LAYOFF_SCHEMA


def pain_episodes(journal: pl.DataFrame, th: Thresholds = DEFAULT_THRESHOLDS) -> pl.DataFrame:
    """Pain and injury entries grouped into episodes (``EPISODE_SCHEMA`` without the
    warning columns): an entry within ``episode_gap_days`` of the previous one continues
    the episode."""
    cols = ["athlete_id", "episode", "start", "end", "entries", "max_severity", "body_parts"]
    rows = (
        journal.filter(pl.col("kind").is_in(EPISODE_KINDS))
        .sort("athlete_id", "entry_date")
        .select("athlete_id", "entry_date", "severity", "body_part")
        .to_dicts()
    )
    out: list[dict[str, Any]] = []
    for r in rows:
        cur = out[-1] if out else None
        if (
            cur is not None and cur["athlete_id"] == r["athlete_id"]
            and (r["entry_date"] - cur["end"]).days <= th.episode_gap_days
        ):
            cur["end"] = r["entry_date"]
            cur["entries"] += 1
            if r["severity"] is not None:
                cur["max_severity"] = max(cur["max_severity"] or 0, r["severity"])
            if r["body_part"] and r["body_part"] not in cur["_parts"]:
                cur["_parts"].append(r["body_part"])
            continue
        n = 1 + sum(e["athlete_id"] == r["athlete_id"] for e in out)
        out.append({
            "athlete_id": r["athlete_id"], "episode": n, "start": r["entry_date"],
            "end": r["entry_date"], "entries": 1, "max_severity": r["severity"],
            "_parts": [r["body_part"]] if r["body_part"] else [],
        })
    for e in out:
        e["body_parts"] = ", ".join(e.pop("_parts")) or None
    return pl.DataFrame(out, schema={c: EPISODE_SCHEMA[c] for c in cols})


def _warnings(week: dict[str, Any]) -> set[str]:
    """Signals a weekly_risk row warns with: rule codes of moderate/high flags, levels."""
    got = {
        f["code"] for f in json.loads(week["flag_details"] or "[]")
        if f.get("severity") in ("moderate", "high") and f["code"] in RULES
    }
    if week["risk_level"] == "high":
        got.add("high")
    if week["risk_level"] in ("moderate", "high"):
        got.add("moderate_or_high")
    return got


def evaluate(
    weekly: pl.DataFrame, journal: pl.DataFrame | None = None, th: Thresholds = DEFAULT_THRESHOLDS
) -> Evaluation:
    """Back-test ``weekly`` (``weekly_risk`` rows, one or more athletes) against ``journal``
    (``JOURNAL_SCHEMA`` columns; None or empty: no episodes). See the module docstring."""
    if journal is None:
        journal = pl.DataFrame(schema=JOURNAL_SCHEMA)
    episodes = pain_episodes(journal, th)
    window = th.evaluate_window_days
    signals = [*RULES, *LEVELS]
    rates: list[dict[str, Any]] = []
    ep_rows: list[dict[str, Any]] = []
    layoffs: list[dict[str, Any]] = []
    for athlete in sorted(set(weekly["athlete_id"].to_list())):
        weeks = weekly.filter(pl.col("athlete_id") == athlete).sort("week_start").to_dicts()
        warned = [(w["week_start"] + timedelta(days=6), _warnings(w)) for w in weeks]
        scored = [w for w in weeks if w["risk_level"] != "insufficient_data"]
        eps = episodes.filter(pl.col("athlete_id") == athlete).to_dicts()

        def before(start: date, signal: str, warned: list[tuple[date, set[str]]] = warned) -> int | None:
            """Lead days from the latest warning week ending 1..window days before start."""
            leads = [
                (start - end).days for end, sig in warned
                if signal in sig and 1 <= (start - end).days <= window
            ]
            return min(leads) if leads else None

        # chance: an episode starting on each Monday after the first ``window`` days
        mondays = [w["week_start"] for w in weeks if w["week_start"] >= weeks[0]["week_start"] + timedelta(days=window)]
        for s in signals:
            n_warn = sum(s in _warnings(w) for w in scored)
            leads = [before(e["start"], s) for e in eps]
            hits = [x for x in leads if x is not None]
            chance = sum(before(m, s) is not None for m in mondays)
            rates.append({
                "athlete_id": athlete, "signal": s, "kind": "level" if s in LEVELS else "rule",
                "scored_weeks": len(scored), "warning_weeks": n_warn,
                "alarm_rate": n_warn / len(scored) if scored else None,
                "episodes": len(eps), "preceded": len(hits),
                "hit_rate": len(hits) / len(eps) if eps else None,
                "chance_rate": chance / len(mondays) if mondays else None,
                "median_lead_days": float(median(hits)) if hits else None,
            })
        for e in eps:
            ep_rows.append({
                **e,
                "preceded_by": [s for s in signals if before(e["start"], s) is not None],
                "lead_days": before(e["start"], "moderate_or_high"),
            })
        entries = journal.filter(pl.col("athlete_id") == athlete)["entry_date"].to_list()
        for w in weeks:
            off = w.get("days_off_before")
            if w.get("return_week") != 1 or off is None or off < th.break_min_days:
                continue
            # the break ended in this week: it lies within [Monday - off, Sunday]
            lo, hi = w["week_start"] - timedelta(days=off), w["week_start"] + timedelta(days=6)
            if not any(lo <= d <= hi for d in entries):
                layoffs.append({
                    "athlete_id": athlete, "return_iso_week": w["iso_week"], "days_off": off,
                    "label": LAYOFF_LABEL,
                })
    return Evaluation(
        rates=pl.DataFrame(rates, schema=RATES_SCHEMA),
        episodes=pl.DataFrame(ep_rows, schema=EPISODE_SCHEMA),
        layoffs=pl.DataFrame(layoffs, schema=LAYOFF_SCHEMA),
    )


def summary_text(ev: Evaluation) -> str:
    """Plain-text summary for the command line: one line per signal, then episodes and
    possible layoffs. Rates are descriptive: a hit rate near the chance rate means the
    signal told nothing beyond chance on this history."""
    lines: list[str] = [HONEST_NOTE] if ev.rates.height else []
    for r in ev.rates.iter_rows(named=True):
        hit = "-" if r["hit_rate"] is None else f"{r['preceded']}/{r['episodes']} ({r['hit_rate']:.0%})"
        chance = "-" if r["chance_rate"] is None else f"{r['chance_rate']:.0%}"
        alarm = "-" if r["alarm_rate"] is None else f"{r['alarm_rate']:.0%}"
        lead = "" if r["median_lead_days"] is None else f", median lead {r['median_lead_days']:.0f} d"
        lines.append(
            f"{r['athlete_id']} {r['signal']:<22} warned in {r['warning_weeks']}/{r['scored_weeks']} "
            f"scored weeks ({alarm}); episodes preceded {hit}{lead}; chance {chance}"
        )
    for e in ev.episodes.iter_rows(named=True):
        lead = "no warning before" if e["lead_days"] is None else f"warning {e['lead_days']} d before"
        lines.append(
            f"{e['athlete_id']} episode {e['episode']}: {e['start']} to {e['end']}, "
            f"{e['entries']} entries, {e['body_parts'] or 'body part not given'}: {lead}"
        )
    for x in ev.layoffs.iter_rows(named=True):
        lines.append(
            f"{x['athlete_id']} {x['return_iso_week']}: {x['days_off']} days without running "
            f"before this week: {x['label']}"
        )
    return "\n".join(lines)
