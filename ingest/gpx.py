"""GPX reader: GPX 1.0/1.1 tracks -> the canonical schema (ingest/schema.py).

The bytes are first parsed by :func:`ingest.safety.safe_parse_xml` (defusedxml: no
entity expansion, no external entities; depth, size and point-count limits), then the
tree is handed to gpxpy's own field parser, so gpxpy never sees hostile XML.

Extension values (heart rate, cadence, power, temperature, speed, distance) are read by
their local tag name through one table, :data:`EXTENSION_FIELDS`, whatever namespace or
prefix a vendor used (Garmin TrackPointExtension v1/v2 as ``gpxtpx:``/``ns3:``, cluetrust
GPXDATA, Garmin PowerExtension, bare ``<bpm>``/``<rpm>``/``<power>`` tags).

The track helpers (timestamp repair, distance, speed, cadence units, sport inference,
the session row) live in :mod:`ingest.track`, shared with :mod:`ingest.tcx`.
"""

from __future__ import annotations

import hashlib
from xml.etree.ElementTree import Element

import gpxpy.gpx
import gpxpy.gpxfield

from ingest.errors import CorruptFileError, NotAnActivityError
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.safety import Deadline, local_name, safe_parse_xml
from ingest.schema import (
    ParsedActivity,
)
from ingest.track import (
    EXTENSION_FIELDS,
    TrackData,
    assemble_activity,
    haversine_m,
    parse_float,
)

__all__ = ["haversine_m", "read_gpx"]  # haversine_m: moved to ingest.track, kept here for callers


# GPX <trkpt> children gpxpy reads itself; every other child (<extensions>, GPX 1.0-style
# <speed> in 1.1 files, vendor tags) goes through EXTENSION_FIELDS
STANDARD_TRKPT_TAGS = frozenset(
    {"ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link", "sym", "type",
     "fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "url", "urlname", "course"}
)


# --------------------------------------------------------------------------- public


def read_gpx(source_file: str, data: bytes, limits: Limits | None = None) -> list[ParsedActivity]:
    """Read one GPX file. One activity (session 0) per file with timestamped track points.

    Raises
    ------
    CorruptFileError
        Malformed XML, undeclared prefixes, a track point without lat/lon.
    NotAnActivityError
        Routes/waypoints/metadata only, no track points, no timestamps.
    UnsafeInputError, ResourceLimitError
        Entity/DTD tricks, too deep, too large, too many points, too slow.
    """
    limits = limits or DEFAULT_LIMITS
    deadline = Deadline(source_file, limits.decode_timeout_s)
    root = safe_parse_xml(data, source_file, limits, count_tag="trkpt", deadline=deadline)
    if local_name(root.tag) != "gpx":
        raise CorruptFileError(source_file, f"not a GPX document: root element is <{local_name(root.tag)}>")
    ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    _strip_namespace(root, ns)
    version = root.get("version")
    gpx = gpxpy.gpx.GPX()
    try:
        gpxpy.gpxfield.gpx_fields_from_xml(gpx, root, version or "1.0")  # type: ignore[arg-type]
    except gpxpy.gpx.GPXException as exc:
        raise CorruptFileError(source_file, f"invalid GPX: {_one_line(str(exc))}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise CorruptFileError(source_file, f"invalid GPX value: {type(exc).__name__}: {_one_line(str(exc))}") from None
    deadline.check()

    n_points = sum(len(s.points) for t in gpx.tracks for s in t.segments)
    if n_points == 0:
        what = []
        if gpx.routes:
            what.append(f"{sum(len(r.points) for r in gpx.routes)} route points")
        if gpx.waypoints:
            what.append(f"{len(gpx.waypoints)} waypoints")
        has = ", ".join(what) if what else "metadata only"
        raise NotAnActivityError(source_file, f"GPX has no track points ({has}): a route or plan, not a recording")

    track = TrackData()
    names: list[str] = []
    types: list[str] = []
    for trk_el, trk in zip(_children(root, "trk"), gpx.tracks, strict=False):
        # from the tree: gpxpy's GPX 1.0 model (also used when version is missing) has no <type>
        for tag, found in (("name", names), ("type", types)):
            el = trk_el.find(tag)
            text = "".join(el.itertext()).strip() if el is not None else ""
            if text:
                found.append(text)
        for seg_el, seg in zip(_children(trk_el, "trkseg"), trk.segments, strict=False):
            track.new_segment()
            for k, (pt_el, pt) in enumerate(zip(_children(seg_el, "trkpt"), seg.points, strict=False)):
                values = _point_extras(pt_el)
                if values.get("speed_m_s") is None and pt.speed is not None:
                    values["speed_m_s"] = pt.speed
                track.add(pt.time, pt.latitude, pt.longitude, pt.elevation, values)
                if k % 4096 == 4095:
                    deadline.check()
            deadline.check()

    name = names[0] if names else (gpx.name.strip() if gpx.name and gpx.name.strip() else None)
    creator = (root.get("creator") or "").strip() or None
    sha = hashlib.sha256(data).hexdigest()
    activity = assemble_activity(
        source_file,
        sha,
        fmt="gpx",
        track=track,
        sport_hint=types[0] if types else None,
        name=name,
        device=creator,
        limits=limits,
    )
    return [activity]


# --------------------------------------------------------------------------- GPX details


def _strip_namespace(root: Element, ns: str) -> None:
    """gpxpy expects GPX elements without a namespace (its own parser deletes the
    default xmlns before parsing). Extension elements keep theirs."""
    if not ns:
        return
    prefix = "{" + ns + "}"
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith(prefix):
            el.tag = el.tag[len(prefix) :]


def _children(el: Element, tag: str) -> list[Element]:
    # same selection and order as gpxpy's list fields (direct children, document order)
    return [c for c in el if c.tag == tag]


def _point_extras(pt_el: Element) -> dict[str, float | None]:
    """Values from a point's <extensions> and other non-standard children of <trkpt>
    (GPX 1.0-style <speed> in 1.1 files), mapped through :data:`EXTENSION_FIELDS`.
    Read from the tree, not from gpxpy, which drops <extensions> in GPX 1.0 files and
    files without a version attribute."""
    values: dict[str, float | None] = {}
    for child in pt_el:
        tag = local_name(child.tag)
        if tag not in STANDARD_TRKPT_TAGS:
            _collect(child, values)
    return values


def _collect(el: Element, values: dict[str, float | None]) -> None:
    for sub in el.iter():
        if len(sub):
            continue
        column = EXTENSION_FIELDS.get(local_name(sub.tag).lower())
        if column is None or values.get(column) is not None:
            continue
        values[column] = parse_float(sub.text)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

