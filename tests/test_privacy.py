"""Privacy zones: positions within a zone are nulled, nothing else changes."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.privacy import EARTH_RADIUS_M, PrivacyZone, haversine_m, mask_privacy_zones

HOME = PrivacyZone(51.5, -0.1, 200.0)
# one degree of latitude is R x pi / 180 metres on a sphere
M_PER_DEG_LAT = EARTH_RADIUS_M * math.pi / 180


def _frame(lats: list[float | None], lons: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"lat_deg": lats, "lon_deg": lons, "heart_rate_bpm": [120.0 + i for i in range(len(lats))]},
        schema={"lat_deg": pl.Float64(), "lon_deg": pl.Float64(), "heart_rate_bpm": pl.Float64()},
    )


def test_points_inside_are_nulled_outside_untouched() -> None:
    near = 51.5 + 150 / M_PER_DEG_LAT  # 150 m north of the centre
    far = 51.5 + 250 / M_PER_DEG_LAT  # 250 m north
    df = _frame([51.5, near, far, None], [-0.1, -0.1, -0.1, None])
    out = mask_privacy_zones(df, [HOME])
    assert out["lat_deg"].to_list() == [None, None, far, None]
    assert out["lon_deg"].to_list() == [None, None, -0.1, None]
    assert out["heart_rate_bpm"].equals(df["heart_rate_bpm"])  # the sample is kept
    assert out.schema == df.schema


def test_lazy_in_lazy_out_and_no_zones_is_identity() -> None:
    df = _frame([51.5, 52.0], [-0.1, -0.1])
    lazy = mask_privacy_zones(df.lazy(), [HOME])
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect()["lat_deg"].to_list() == [None, 52.0]
    assert mask_privacy_zones(df, []).equals(df)


def test_haversine_known_distances() -> None:
    df = pl.DataFrame({"lat": [0.0, 90.0, 0.0], "lon": [1.0, 0.0, 180.0]})
    d = df.select(d=haversine_m(pl.col("lat"), pl.col("lon"), 0.0, 0.0))["d"].to_list()
    # a degree along the equator, a quarter meridian, half the equator
    assert d == pytest.approx([M_PER_DEG_LAT, EARTH_RADIUS_M * math.pi / 2, EARTH_RADIUS_M * math.pi])


def test_zone_validation() -> None:
    with pytest.raises(ValueError):
        PrivacyZone(91.0, 0.0, 100.0)
    with pytest.raises(ValueError):
        PrivacyZone(0.0, 0.0, -1.0)
    with pytest.raises(ValueError):
        PrivacyZone(0.0, 0.0, float("nan"))


def _sphere_distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Spherical law of cosines (independent of the haversine form under test)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(math.radians(lon2 - lon1))
    return EARTH_RADIUS_M * math.acos(max(-1.0, min(1.0, c)))


zones_st = st.lists(
    st.builds(
        PrivacyZone,
        st.floats(-60, 60),
        st.floats(-179, 179),
        st.floats(10, 5000),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones=zones_st, data=st.data())
def test_property_no_masked_point_in_a_zone_and_outside_untouched(
    zones: list[PrivacyZone], data: st.DataObject
) -> None:
    # points scattered around the zones (some inside, some outside) and anywhere
    pts = []
    for _ in range(data.draw(st.integers(1, 30))):
        z = data.draw(st.sampled_from(zones))
        spread = data.draw(st.floats(0, 3 * z.radius_m)) / M_PER_DEG_LAT
        pts.append((
            max(-89.9, min(89.9, z.lat_deg + data.draw(st.floats(-1, 1)) * spread)),
            max(-180.0, min(180.0, z.lon_deg + data.draw(st.floats(-1, 1)) * spread)),
        ))
    df = _frame([p[0] for p in pts], [p[1] for p in pts])
    out = mask_privacy_zones(df, zones)
    for (lat, lon), new_lat, new_lon in zip(pts, out["lat_deg"], out["lon_deg"], strict=True):
        dmin = min(_sphere_distance(lat, lon, z.lat_deg, z.lon_deg) - z.radius_m for z in zones)
        if new_lat is not None:
            # kept: outside every zone (1 mm tolerance between the two formulas), unchanged
            assert dmin > -1e-3
            assert (new_lat, new_lon) == (lat, lon)
        else:
            assert new_lon is None
            assert dmin <= 1e-3  # masked: inside (or on the edge of) some zone
