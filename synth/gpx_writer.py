"""GPX 1.1 writer for simulated runs, in the two flavours most exports use.

- ``garmin``: as Garmin Connect exports it: ``creator="Garmin Connect"``, Garmin
  TrackPointExtension v1 under the ``ns3:`` prefix, millisecond ``.000Z`` times.
- ``strava``: as Strava exports it: ``creator="StravaGPX"``, the same extension under the
  ``gpxtpx:`` prefix, whole-second times, activity ``<type>running</type>``.

In both, ``cad`` is strides per minute for one foot (TrackPointExtension v1 has no
steps/min field), ``hr`` is beats per minute, ``atemp`` degrees Celsius.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

import numpy as np

from synth.model import Activity

_TPX = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"


def _times(ts: np.ndarray, millis: bool) -> list[str]:
    fmt = "%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%SZ"
    return [datetime.fromtimestamp(int(t), tz=UTC).strftime(fmt) for t in ts]


def encode_gpx(act: Activity, flavour: str, name: str) -> bytes:
    """GPX bytes for one run (``flavour`` is "garmin" or "strava")."""
    if flavour not in ("garmin", "strava"):
        raise ValueError(f"unknown GPX flavour {flavour!r}")
    garmin = flavour == "garmin"
    px = "ns3" if garmin else "gpxtpx"
    c = act.cols
    times = _times(act.ts, millis=garmin)
    lat = [f"{x:.7f}" for x in c["lat_deg"]]
    lon = [f"{x:.7f}" for x in c["lon_deg"]]
    ele = [f"{x:.1f}" for x in c["altitude_m"]]
    hr = c["heart_rate_bpm"].astype(int).tolist()
    # per-foot cadence, whole strides/min as these exports write it
    cad = np.floor(c["cadence_spm"] / 2).astype(int).tolist()
    temp = c["temperature_c"].astype(int).tolist() if "temperature_c" in c else None
    start = times[0]
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>']
    if garmin:
        out.append(
            '<gpx creator="Garmin Connect" version="1.1" '
            'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
            'http://www.topografix.com/GPX/11.xsd" '
            'xmlns:ns3="' + _TPX + '" xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:ns2="http://www.garmin.com/xmlschemas/GpxExtensions/v3">'
        )
        out.append(
            '  <metadata>\n    <link href="connect.garmin.com">\n      <text>Garmin Connect</text>\n'
            f"    </link>\n    <time>{start}</time>\n  </metadata>"
        )
        out.append(
            f"  <trk>\n    <name>{escape(name)}</name>\n    <type>running</type>\n    <trkseg>"
        )
    else:
        out.append(
            '<gpx creator="StravaGPX" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
            'http://www.topografix.com/GPX/1/1/gpx.xsd" version="1.1" '
            'xmlns="http://www.topografix.com/GPX/1/1" xmlns:gpxtpx="' + _TPX + '" '
            'xmlns:gpxx="http://www.garmin.com/xmlschemas/GpxExtensions/v3">'
        )
        out.append(f"  <metadata>\n    <time>{start}</time>\n  </metadata>")
        out.append(
            f"  <trk>\n    <name>{escape(name)}</name>\n    <type>running</type>\n    <trkseg>"
        )
    for i in range(len(times)):
        ext = f"<{px}:hr>{hr[i]}</{px}:hr><{px}:cad>{cad[i]}</{px}:cad>"
        if temp is not None and garmin:
            ext = f"<{px}:atemp>{temp[i]}.0</{px}:atemp>" + ext
        out.append(
            f'      <trkpt lat="{lat[i]}" lon="{lon[i]}">\n        <ele>{ele[i]}</ele>\n'
            f"        <time>{times[i]}</time>\n"
            f"        <extensions>\n          <{px}:TrackPointExtension>{ext}</{px}:TrackPointExtension>\n"
            "        </extensions>\n      </trkpt>"
        )
    out.append("    </trkseg>\n  </trk>\n</gpx>\n")
    return "\n".join(out).encode("utf-8")
