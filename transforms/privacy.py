"""Privacy zones: hide positions near places an athlete does not want to publish (home,
work). Pure polars; nothing else in the sample changes.

A sample is inside a zone when its great-circle (haversine) distance to the zone centre is
<= ``radius_m`` (mean Earth radius 6 371 008.8 m, IUGG). Inside any zone, ``lat_deg`` and
``lon_deg`` become null; the sample itself is kept (its time, heart rate, gait values are
not location data).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class PrivacyZone:
    """A circle around (``lat_deg``, ``lon_deg``) of ``radius_m`` metres."""

    lat_deg: float
    lon_deg: float
    radius_m: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat_deg <= 90.0) or not (-180.0 <= self.lon_deg <= 180.0):
            raise ValueError(f"privacy zone centre out of range: {self.lat_deg}, {self.lon_deg}")
        if not (self.radius_m >= 0.0) or math.isinf(self.radius_m):
            raise ValueError(f"privacy zone radius must be a finite non-negative number: {self.radius_m}")


def haversine_m(lat_deg: pl.Expr, lon_deg: pl.Expr, lat0_deg: float, lon0_deg: float) -> pl.Expr:
    r"""Great-circle distance to a fixed point, metres.

    .. math:: d = 2 R \arcsin \sqrt{\sin^2 \frac{\Delta\varphi}{2}
              + \cos\varphi_1 \cos\varphi_2 \sin^2 \frac{\Delta\lambda}{2}}
    """
    phi = lat_deg.radians()
    phi0 = math.radians(lat0_deg)
    dphi = phi - phi0
    dlmb = lon_deg.radians() - math.radians(lon0_deg)
    h = (dphi / 2).sin() ** 2 + phi.cos() * math.cos(phi0) * (dlmb / 2).sin() ** 2
    # clip: rounding can push h a hair above 1 for antipodal points
    return 2.0 * EARTH_RADIUS_M * h.clip(0.0, 1.0).sqrt().arcsin()


def in_privacy_zone(zones: Iterable[PrivacyZone]) -> pl.Expr:
    """True where (``lat_deg``, ``lon_deg``) lies within any zone; False without position."""
    inside = pl.lit(False)
    for z in zones:
        d = haversine_m(pl.col("lat_deg"), pl.col("lon_deg"), z.lat_deg, z.lon_deg)
        inside = inside | (d <= z.radius_m).fill_null(False)
    return inside


def mask_privacy_zones(samples: FrameT, zones: Iterable[PrivacyZone]) -> FrameT:
    """Null ``lat_deg`` and ``lon_deg`` of samples within any zone; same frame type, same
    columns, same rows and order. Without zones the frame is returned unchanged."""
    zones = list(zones)
    if not zones:
        return samples
    inside = in_privacy_zone(zones)
    return samples.with_columns(
        pl.when(inside).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("lat_deg", "lon_deg")
    )
