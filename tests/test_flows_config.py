"""gaitwatch.toml: paths relative to the file, validation with one clear line, the shipped
sample configuration agreeing with the generated athletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import to_toml, write_config
from conftest import SAMPLE_DATA

from flows.config import ConfigError, load_config


def test_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path = write_config(
        tmp_path / "conf" / "gaitwatch.toml",
        {"inbox": "drop", "database": "../data/gw.duckdb", "reports": "/srv/reports"},
    )
    monkeypatch.chdir(tmp_path)  # another current folder must not matter
    cfg = load_config(cfg_path)
    assert cfg.inbox == tmp_path / "conf" / "drop"
    assert cfg.database == tmp_path / "data" / "gw.duckdb"
    assert cfg.reports_dir == Path("/srv/reports")
    assert cfg.published_database == tmp_path / "data" / "gw-published.duckdb"  # beside the db
    assert cfg.source == cfg_path.resolve()


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.inbox == tmp_path / "inbox"
    assert cfg.default_athlete == "me"
    assert cfg.source is None
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", must_exist=True)


def test_cli_style_overrides_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config(write_config(tmp_path / "a" / "gaitwatch.toml", {}))
    monkeypatch.chdir(tmp_path)
    moved = cfg.with_paths(inbox=Path("other"), database=Path("x.duckdb"))
    assert moved.inbox == tmp_path / "other"
    assert moved.database == tmp_path / "x.duckdb"
    assert moved.reports_dir == cfg.reports_dir


def test_athletes_and_options_are_validated_and_normalised(tmp_path: Path) -> None:
    doc = {
        "default_athlete": "Jane Doe",
        "inbox_options": {"settle_seconds": 1.5, "processed": "move", "rejected": "leave"},
        "publish": {"strip_coordinates": True},
        "limits": {"max_records": 1000},
        "athletes": [
            {
                "id": "Jane Doe",
                "name": "Jane",
                "timezone": "Europe/Zurich",
                "height_m": 1.7,
                "max_hr_bpm": 185,
                "privacy_zones": [{"lat": 47.37, "lon": 8.54, "radius_m": 250}],
            }
        ],
    }
    cfg = load_config(write_config(tmp_path / "g.toml", doc))
    assert cfg.default_athlete == "jane-doe"
    (athlete,) = cfg.athletes
    assert athlete.athlete_id == "jane-doe" and athlete.timezone == "Europe/Zurich"
    assert athlete.privacy_zones[0].radius_m == 250.0
    assert cfg.on_processed == "move" and cfg.on_rejected == "leave"
    assert cfg.strip_coordinates is True
    assert cfg.limits.max_records == 1000 and cfg.limits.max_nesting == 4
    assert cfg.settle_seconds == 1.5


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"inbx": "x"}, "unknown key.*inbx"),
        ({"inbox": 3}, "'inbox' must be a non-empty path"),
        ({"athletes": [{"id": "a", "timezone": "Mars/Olympus"}]}, "unknown time zone 'Mars/Olympus'"),
        ({"athletes": [{"id": "a"}, {"id": "A"}]}, "listed twice: a"),
        ({"athletes": [{"id": "!!!"}]}, "invalid athlete id"),
        ({"athletes": [{"name": "x"}]}, r"athletes\[0\].id' is required"),
        (
            {"athletes": [{"id": "a", "privacy_zones": [{"lat": 95, "lon": 0, "radius_m": 10}]}]},
            r"privacy_zones\[0\].lat' = 95",
        ),
        ({"athletes": [{"id": "a", "max_hr_bpm": "high"}]}, "max_hr_bpm' must be a number"),
        ({"inbox_options": {"processed": "delete"}}, "must be \"leave\" or \"move\""),
        ({"inbox_options": {"settle_seconds": -1}}, "settle_seconds' = -1"),
        ({"publish": {"strip_coordinates": "yes"}}, "true or false"),
        ({"schedule": {"nightly_cron": "every night"}}, "cron string"),
        ({"schedule": {"timezone": "CEST+2"}}, "unknown time zone"),
        ({"limits": {"max_bytes": 1}}, r"\[limits\]: unknown limit"),
        ({"thresholds": {"no_such_threshold": 1.0}}, r"\[thresholds\]: unknown threshold"),
        ({"ingest": {"workers": -2}}, "workers' = -2"),
    ],
)
def test_invalid_configuration_is_one_clear_line(tmp_path: Path, doc: dict, message: str) -> None:
    path = write_config(tmp_path / "gaitwatch.toml", doc)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path))


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "gaitwatch.toml"
    path.write_text('inbox = "x\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_toml_writer_round_trips() -> None:
    import tomllib

    doc = {"a": 1, "b": "x", "t": {"c": True}, "athletes": [{"id": "x", "z": [{"lat": 1.5}]}]}
    assert tomllib.loads(to_toml(doc)) == doc


def test_sample_configuration_matches_the_generated_athletes() -> None:
    truth_path = SAMPLE_DATA / "truth.json"
    if not truth_path.exists():
        pytest.skip("sample_data not generated")
    truth = json.loads(truth_path.read_text())["athletes"]
    cfg = load_config(SAMPLE_DATA / "gaitwatch.toml")
    assert cfg.inbox == SAMPLE_DATA / "inbox"
    assert cfg.database.parent == SAMPLE_DATA.parent / "out"
    assert {a.athlete_id for a in cfg.athletes} == set(truth)
    for a in cfg.athletes:
        t = truth[a.athlete_id]
        assert (a.name, a.timezone, a.height_m, a.max_hr_bpm) == (
            t["name"],
            t["timezone"],
            t["height_m"],
            t["max_hr_bpm"],
        )
    zoned = [a for a in cfg.athletes if a.privacy_zones]
    assert len(zoned) == 1  # one zone, around one athlete's home, so users see it work
    (zone,) = zoned[0].privacy_zones
    home = truth[zoned[0].athlete_id]["home"]
    assert (zone.lat_deg, zone.lon_deg) == (home["lat_deg"], home["lon_deg"])
