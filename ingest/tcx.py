"""TCX (Garmin Training Center Database v2) reader -> the canonical schema.

Strava bulk exports are full of ``.tcx.gz``. Each ``<Activity>`` becomes one
:class:`ParsedActivity` with one session (index 0) built from its laps, one lap row per
``<Lap>``, and one sample per ``<Trackpoint>``. Elements are matched by local name, so
the namespace prefix a tool chose (``ns3:``, ``ax:``, none) does not matter.

Units: ``RunCadence`` (ActivityExtension v2) is strides/min for one foot -> x2 to
steps/min; lap ``AvgRunCadence`` likewise. ``Speed`` is m/s, ``Watts`` W.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from xml.etree.ElementTree import Element

import polars as pl

from ingest.errors import CorruptFileError, IngestError, NotAnActivityError
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.safety import Deadline, iter_local, local_name, safe_parse_xml
from ingest.schema import LAP_SCHEMA, ParsedActivity
from ingest.track import TrackData, assemble_activity, parse_float, sport_from_words, to_utc

# TCX Activity@Sport (Running | Biking | Other) -> FIT sport vocabulary
TCX_SPORTS: dict[str, str] = {"running": "running", "biking": "cycling"}

# Trackpoint extension tags (local name, lower-case) -> our column
TPX_FIELDS: dict[str, str] = {"speed": "speed_m_s", "runcadence": "run_cadence", "watts": "power_w"}


def read_tcx(source_file: str, data: bytes, limits: Limits | None = None) -> list[ParsedActivity]:
    """Read a TCX file: one :class:`ParsedActivity` per ``<Activity>`` with timestamped
    trackpoints.

    Raises
    ------
    CorruptFileError
        Malformed XML, not a TCX document.
    NotAnActivityError
        Courses/workouts only, or activities without timestamped trackpoints.
    UnsafeInputError, ResourceLimitError
        Entity/DTD tricks, too deep, too large, too many trackpoints, too slow.
    """
    limits = limits or DEFAULT_LIMITS
    deadline = Deadline(source_file, limits.decode_timeout_s)
    root = safe_parse_xml(data, source_file, limits, count_tag="Trackpoint", deadline=deadline)
    if local_name(root.tag) != "TrainingCenterDatabase":
        raise CorruptFileError(source_file, f"not a TCX document: root element is <{local_name(root.tag)}>")
    sha = hashlib.sha256(data).hexdigest()
    activities_el = [a for acts in iter_local(root, "Activities") for a in iter_local(acts, "Activity")]
    if not activities_el:
        present = sorted({local_name(c.tag) for c in root if local_name(c.tag) not in ("Author", "Extensions")})
        what = ", ".join(present) if present else "nothing"
        raise NotAnActivityError(source_file, f"TCX holds no recorded activity ({what})")

    results: list[ParsedActivity] = []
    skipped: list[str] = []
    for n, act in enumerate(activities_el):
        name = source_file if len(activities_el) == 1 else f"{source_file}#{n}"
        try:
            results.append(_read_activity(name, sha, act, limits, deadline))
        except NotAnActivityError as exc:
            skipped.append(exc.reason)
        except IngestError:
            raise
    if not results:
        raise NotAnActivityError(source_file, skipped[0] if len(skipped) == 1 else
                                 f"none of {len(skipped)} activities has timestamped trackpoints")
    if skipped:
        for r in results:
            r.meta.warnings.append(f"{len(skipped)} other activit(y/ies) in this file skipped: {skipped[0]}")
    return results


def _text(el: Element | None, *path: str) -> str | None:
    """Text of the element reached by local names ``path`` below ``el``, stripped."""
    cur = el
    for step in path:
        if cur is None:
            return None
        cur = next(iter_local(cur, step), None)
    if cur is None or cur.text is None:
        return None
    t = cur.text.strip()
    return t or None


def _num(el: Element | None, *path: str) -> float | None:
    return parse_float(_text(el, *path))


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return to_utc(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):
        return None


def _ext_values(el: Element, table: dict[str, str]) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for ext in iter_local(el, "Extensions"):
        for sub in ext.iter():
            if len(sub):
                continue
            column = table.get(local_name(sub.tag).lower())
            if column is not None and values.get(column) is None:
                values[column] = parse_float(sub.text)
    return values


def _read_activity(source: str, sha: str, act: Element, limits: Limits, deadline: Deadline) -> ParsedActivity:
    sport_attr = (act.get("Sport") or "").strip()
    sport_hint = TCX_SPORTS.get(sport_attr.lower()) or sport_from_words(sport_attr)
    laps = list(iter_local(act, "Lap"))
    track = TrackData()
    any_run_cadence = False
    lap_rows: list[dict[str, object]] = []
    lap_starts: list[datetime | None] = []
    lap_last_ts: list[datetime | None] = []
    for lap_index, lap in enumerate(laps):
        last_ts: datetime | None = None
        for trk in iter_local(lap, "Track"):
            track.new_segment()
            for tp in iter_local(trk, "Trackpoint"):
                ts = _time(_text(tp, "Time"))
                ext = _ext_values(tp, TPX_FIELDS)
                run_cad = ext.pop("run_cadence", None)
                cadence = run_cad if run_cad is not None else _num(tp, "Cadence")
                any_run_cadence = any_run_cadence or run_cad is not None
                values = {
                    "distance_m": _num(tp, "DistanceMeters"),
                    "heart_rate_bpm": _num(tp, "HeartRateBpm", "Value"),
                    "cadence": cadence,
                    **ext,
                }
                track.add(ts, _num(tp, "Position", "LatitudeDegrees"), _num(tp, "Position", "LongitudeDegrees"),
                          _num(tp, "AltitudeMeters"), values)
                if ts is not None:
                    last_ts = ts
            deadline.check()
        lap_starts.append(_time(lap.get("StartTime")))
        lap_last_ts.append(last_ts)
        lap_rows.append(_lap_row(lap, lap_index))

    if len(track) == 0:
        raise NotAnActivityError(source, f"TCX activity ({sport_attr or 'no sport'}) has no trackpoints: a manual entry")

    # a lap's elapsed time runs to the next lap's start (or its own last trackpoint)
    for i, row in enumerate(lap_rows):
        start = lap_starts[i]
        end = lap_starts[i + 1] if i + 1 < len(lap_starts) and lap_starts[i + 1] else lap_last_ts[i]
        row["started_at"] = start
        row["total_elapsed_s"] = (end - start).total_seconds() if start and end and end >= start else None

    factor = 2.0 if any_run_cadence else None
    for row in lap_rows:
        # lap cadence: running laps carry AvgRunCadence (per foot), bike laps <Cadence> rpm
        lap_run_cad = row.pop("_avg_run_cadence")
        bike_cad = row.pop("_cadence")
        if isinstance(lap_run_cad, float):
            row["avg_cadence_spm"] = lap_run_cad * 2.0
        elif isinstance(bike_cad, float) and sport_hint != "running":
            row["avg_cadence_spm"] = bike_cad
    laps_df = _lap_frame(lap_rows)

    device = _text(act, "Creator", "Name")
    notes = _text(act, "Notes")
    warnings: list[str] = []
    session = _session_from_laps(laps_df)
    activity = assemble_activity(
        source,
        sha,
        fmt="tcx",
        track=track,
        sport_hint=sport_hint,
        name=notes,
        device=device,
        limits=limits,
        sport_is_authoritative=sport_hint is not None,
        cadence_always_per_foot=factor is not None,
        laps=laps_df,
        session_overrides=session,
        extra_warnings=warnings,
    )
    _reconcile_times(activity)
    return activity


def _lap_row(lap: Element, lap_index: int) -> dict[str, object]:
    lx = _ext_values(
        lap,
        {"avgspeed": "avg_speed_m_s", "avgruncadence": "_avg_run_cadence", "avgwatts": "avg_power_w", "steps": "steps"},
    )
    steps = lx.pop("steps", None)
    return {
        "session_index": 0,
        "lap_index": lap_index,
        "total_timer_s": _num(lap, "TotalTimeSeconds"),
        "total_distance_m": _num(lap, "DistanceMeters"),
        "max_speed_m_s": _num(lap, "MaximumSpeed"),
        "total_calories_kcal": _num(lap, "Calories"),
        "avg_heart_rate_bpm": _num(lap, "AverageHeartRateBpm", "Value"),
        "max_heart_rate_bpm": _num(lap, "MaximumHeartRateBpm", "Value"),
        "total_strides": steps / 2.0 if steps is not None else None,  # Steps counts both feet
        "_cadence": _num(lap, "Cadence"),
        "avg_speed_m_s": lx.get("avg_speed_m_s"),
        "avg_power_w": lx.get("avg_power_w"),
        "_avg_run_cadence": lx.get("_avg_run_cadence"),
    }


#: Lap columns the session roll-up reads: null when no lap carries them (Strava-app TCX
#: runs without heart rate or cadence).
_ROLLED_UP = (
    "total_timer_s",
    "total_distance_m",
    "total_calories_kcal",
    "max_speed_m_s",
    "max_heart_rate_bpm",
    "avg_heart_rate_bpm",
    "avg_cadence_spm",
    "avg_power_w",
    "total_strides",
)


def _lap_frame(lap_rows: list[dict[str, object]]) -> pl.DataFrame | None:
    """Lap rows -> frame with every column any lap has, plus the rolled-up ones (null)."""
    if not lap_rows:
        return None
    names = list(dict.fromkeys([k for row in lap_rows for k in row] + list(_ROLLED_UP)))
    return pl.DataFrame(
        [{k: row.get(k) for k in names} for row in lap_rows], schema={k: LAP_SCHEMA[k] for k in names}
    )


def _session_from_laps(laps: pl.DataFrame | None) -> dict[str, object]:
    """The device's lap summaries rolled up into the session: sums, maxima, and
    timer-weighted means."""
    if laps is None or laps.height == 0:
        return {}
    w = pl.col("total_timer_s")

    def wmean(c: str) -> pl.Expr:
        ok = pl.col(c).is_not_null() & w.is_not_null() & (w > 0)
        return pl.when(ok.any()).then((pl.col(c) * w).filter(ok).sum() / w.filter(ok).sum()).otherwise(None)

    row = laps.select(
        pl.col("total_timer_s").sum().alias("total_timer_s") if laps["total_timer_s"].null_count() < laps.height
        else pl.lit(None, dtype=pl.Float64()).alias("total_timer_s"),
        pl.col("total_distance_m").max().alias("_dist_max"),
        pl.col("total_distance_m").sum().alias("total_distance_m"),
        pl.col("total_calories_kcal").sum().alias("total_calories_kcal")
        if laps["total_calories_kcal"].null_count() < laps.height
        else pl.lit(None, dtype=pl.Float64()).alias("total_calories_kcal"),
        pl.col("max_speed_m_s").max(),
        pl.col("max_heart_rate_bpm").max(),
        wmean("avg_heart_rate_bpm").alias("avg_heart_rate_bpm"),
        wmean("avg_cadence_spm").alias("avg_cadence_spm"),
        wmean("avg_power_w").alias("avg_power_w"),
        pl.col("total_strides").sum().alias("total_strides")
        if laps["total_strides"].null_count() < laps.height
        else pl.lit(None, dtype=pl.Float64()).alias("total_strides"),
    ).row(0, named=True)
    row.pop("_dist_max")
    if laps["total_distance_m"].null_count() == laps.height:
        row["total_distance_m"] = None
    timer, dist = row.get("total_timer_s"), row.get("total_distance_m")
    if isinstance(timer, float) and isinstance(dist, float) and timer > 0:
        row["avg_speed_m_s"] = dist / timer
    return row


def _reconcile_times(activity: ParsedActivity) -> None:
    """Timer time cannot exceed elapsed time; lap sums rounded by the device can, by a
    second or so. Clamp, and say so when it is more than rounding."""
    s = activity.sessions
    timer, elapsed = s["total_timer_s"][0], s["total_elapsed_s"][0]
    if timer is None or elapsed is None or timer <= elapsed:
        return
    if timer - elapsed > 1.0:
        activity.meta.warnings.append(
            f"lap timer total {timer:.0f} s exceeds the recorded span {elapsed:.0f} s; clamped"
        )
    activity.sessions = s.with_columns(pl.lit(elapsed, dtype=pl.Float64()).alias("total_timer_s"))
