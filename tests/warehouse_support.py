"""Shared helpers for the warehouse tests (no tests here).

The corpus is read once per test process (``corpus_results``): reading it is the slow
part, and every warehouse test wants the same real ReadResults.
"""

from __future__ import annotations

import copyreg
import functools
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from conftest import CORPUS

from ingest import errors as ingest_errors

# Columns that legitimately differ between two loads of the same inputs.
VOLATILE = {
    "activities": ["loaded_at"],
    "ingest_log": ["seen_at", "first_seen_at", "status_changed_at"],
    "athletes": ["updated_at"],
}
TABLES = ["athletes", "activities", "sessions", "laps", "samples", "sample_extras", "activity_chart_bins",
          "activity_gait", "weekly_risk", "ingest_log"]


@functools.lru_cache(maxsize=1)
def _read_corpus() -> tuple[Any, ...]:
    from ingest.reader import read_path

    results: list[Any] = []
    for kind in ("fit", "gpx", "bad"):
        folder = CORPUS / kind
        if folder.is_dir():
            results.extend(read_path(folder, name_root=CORPUS))
    return tuple(results)


def corpus_results() -> list[Any]:
    """ReadResults of every file in corpus fit/, gpx/ and bad/ (read once per process)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return list(_read_corpus())


def corpus_inputs() -> list[str]:
    """Every corpus file name as the reader names it (relative to the corpus root)."""
    return sorted(
        str(p.relative_to(CORPUS))
        for kind in ("fit", "gpx", "bad")
        for p in (CORPUS / kind).iterdir()
        if p.is_file()
    )


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per table: (row count, order-independent checksum of all non-volatile columns)."""
    out = {}
    for t in TABLES:
        excl = VOLATILE.get(t)
        cols = f"* EXCLUDE ({', '.join(excl)})" if excl else "*"
        n, h = con.execute(
            f"SELECT count(*), coalesce(sum(hash(x)), 0) FROM (SELECT {cols} FROM {t}) AS x"  # noqa: S608
        ).fetchall()[0]
        out[t] = (int(n), int(h))
    return out


def make_errors_picklable() -> None:
    """IngestError's __init__ takes (source, reason, offset), which default pickling does
    not pass back; register a reducer so ReadResults can go to a subprocess."""

    def reduce(e: ingest_errors.IngestError) -> tuple[Any, ...]:
        return (type(e), (e.source, e.reason, e.offset))

    for obj in vars(ingest_errors).values():
        if isinstance(obj, type) and issubclass(obj, ingest_errors.IngestError):
            copyreg.pickle(obj, reduce)  # type: ignore[arg-type]


def gpx_bytes(samples: pl.DataFrame, name: str = "Morning Run") -> bytes:
    """A GPX 1.1 file (Garmin TrackPointExtension hr/cad) with the samples' points.

    Cadence is written per foot (strides/min, as Garmin does): spm / 2.
    """
    pts = []
    for r in samples.filter(pl.col("lat_deg").is_not_null()).iter_rows(named=True):
        ts: datetime = r["ts"]
        ext = ""
        if r["heart_rate_bpm"] is not None or r["cadence_spm"] is not None:
            hr = f"<gpxtpx:hr>{int(r['heart_rate_bpm'])}</gpxtpx:hr>" if r["heart_rate_bpm"] is not None else ""
            cad = f"<gpxtpx:cad>{int(r['cadence_spm'] / 2)}</gpxtpx:cad>" if r["cadence_spm"] is not None else ""
            ext = f"<extensions><gpxtpx:TrackPointExtension>{hr}{cad}</gpxtpx:TrackPointExtension></extensions>"
        ele = f"<ele>{r['altitude_m']:.1f}</ele>" if r["altitude_m"] is not None else ""
        pts.append(
            f'<trkpt lat="{r["lat_deg"]:.7f}" lon="{r["lon_deg"]:.7f}">{ele}'
            f"<time>{ts.strftime('%Y-%m-%dT%H:%M:%SZ')}</time>{ext}</trkpt>"
        )
    body = "\n".join(pts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="gaitwatch test" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
        f"<trk><name>{name}</name><type>running</type><trkseg>\n{body}\n</trkseg></trk></gpx>\n"
    ).encode()


def read_one(source_file: str, data: bytes) -> Any:
    """The ReadResult of one in-memory file, through the real reader."""
    from ingest.reader import iter_bytes

    results = list(iter_bytes(source_file, data))
    assert len(results) == 1
    return results[0]


def working_db(tmp_path: Path, name: str = "work.duckdb") -> Path:
    return tmp_path / name
