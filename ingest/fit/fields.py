"""FIT vendor field -> gaitwatch canonical column, written once.

Both FIT decoders (fitparse and the fast path in :mod:`ingest.fit.fast`) first produce
the same intermediate record columns, named like the FIT profile and in the profile's
units after scale/offset (``step_length`` mm, ``stance_time`` ms, ...), with Unix-second
timestamps and positions already in degrees. This module says how those become
``ingest.schema`` columns: which FIT field feeds which column (first present wins), by
what factor, and whether the device's 0 means "not measured".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Seconds between the Unix epoch and the FIT epoch (1989-12-31T00:00:00Z).
FIT_EPOCH_S = 631_065_600
#: FIT date_time values below this are seconds since device power-up, not wall time.
FIT_MIN_WALL_TIME = 0x10000000
#: semicircles -> degrees: 180 / 2**31
SEMICIRCLE_DEG = 180.0 / 2**31


@dataclass(frozen=True)
class FieldMap:
    column: str  # canonical column (ingest.schema)
    sources: tuple[str, ...]  # FIT field names, preferred first
    scale: float = 1.0  # canonical = fit_value * scale
    zero_is_null: bool = False  # the device writes 0 when it did not measure


# Record message -> SAMPLE_SCHEMA. Cadence and power are built separately in ingest.fit
# (cadence depends on the session's sport, power on native vs developer fields).
RECORD_FIELDS: tuple[FieldMap, ...] = (
    FieldMap("lat_deg", ("position_lat",)),
    FieldMap("lon_deg", ("position_long",)),
    # enhanced_* carry the same value with a wider range; prefer them
    FieldMap("altitude_m", ("enhanced_altitude", "altitude")),
    FieldMap("distance_m", ("distance",)),
    # speed 0 is real (standing at a crossing)
    FieldMap("speed_m_s", ("enhanced_speed", "speed")),
    # a heart rate of 0 is a strap that lost contact
    FieldMap("heart_rate_bpm", ("heart_rate",), zero_is_null=True),
    # running dynamics: 0 is written during pauses and without a sensor (FACTS.md)
    FieldMap("step_length_m", ("step_length",), scale=0.001, zero_is_null=True),  # mm -> m
    FieldMap("stance_time_ms", ("stance_time",), zero_is_null=True),
    FieldMap("gct_balance_left_pct", ("stance_time_balance",), zero_is_null=True),  # % left
    FieldMap("vertical_oscillation_mm", ("vertical_oscillation",), zero_is_null=True),
    FieldMap("vertical_ratio_pct", ("vertical_ratio",), zero_is_null=True),
    # 0 degC is a real temperature
    FieldMap("temperature_c", ("temperature",)),
)

#: Native record fields the decoders must deliver (everything RECORD_FIELDS reads, plus
#: what ingest.fit combines itself).
RECORD_SOURCE_FIELDS: tuple[str, ...] = (
    "timestamp",
    *dict.fromkeys(s for fm in RECORD_FIELDS for s in fm.sources),
    "cadence",
    "fractional_cadence",
    "power",
)

# Session/lap message -> the summary columns shared by SESSION_SCHEMA and LAP_SCHEMA.
# Cadence and total_strides depend on the sport and are built in ingest.fit.
SUMMARY_FIELDS: tuple[FieldMap, ...] = (
    FieldMap("total_elapsed_s", ("total_elapsed_time",)),
    FieldMap("total_timer_s", ("total_timer_time",)),
    FieldMap("total_distance_m", ("total_distance",)),
    FieldMap("total_ascent_m", ("total_ascent",)),
    FieldMap("total_descent_m", ("total_descent",)),
    FieldMap("total_calories_kcal", ("total_calories",)),
    FieldMap("avg_speed_m_s", ("enhanced_avg_speed", "avg_speed")),
    FieldMap("max_speed_m_s", ("enhanced_max_speed", "max_speed")),
    FieldMap("avg_heart_rate_bpm", ("avg_heart_rate",), zero_is_null=True),
    FieldMap("max_heart_rate_bpm", ("max_heart_rate",), zero_is_null=True),
    # some devices write avg_* dynamics of 0 although nothing was recorded (corpus README)
    FieldMap("avg_step_length_m", ("avg_step_length",), scale=0.001, zero_is_null=True),
    FieldMap("avg_stance_time_ms", ("avg_stance_time",), zero_is_null=True),
    FieldMap("avg_gct_balance_left_pct", ("avg_stance_time_balance",), zero_is_null=True),
    FieldMap("avg_vertical_oscillation_mm", ("avg_vertical_oscillation",), zero_is_null=True),
    FieldMap("avg_vertical_ratio_pct", ("avg_vertical_ratio",), zero_is_null=True),
    FieldMap("avg_power_w", ("avg_power",), zero_is_null=True),
)

#: Session cadence: fitparse resolves the running sub-field name, other decoders do not.
SUMMARY_CADENCE_FIELDS: tuple[str, ...] = ("avg_running_cadence", "avg_cadence")
SUMMARY_CYCLES_FIELDS: tuple[str, ...] = ("total_strides", "total_cycles")

#: Every session/lap field ingest.fit reads (FIT profile names, sub-field names included).
#: The fast path decodes a file's summary messages with fitfast only when these fields
#: are written as the profile says (ingest.fit.fast); add here what the builder starts reading.
SUMMARY_SOURCE_FIELDS: tuple[str, ...] = (
    "start_time",
    "timestamp",
    "sport",
    "sub_sport",
    *dict.fromkeys(s for fm in SUMMARY_FIELDS for s in fm.sources),
    *SUMMARY_CADENCE_FIELDS,
    "avg_fractional_cadence",
    *SUMMARY_CYCLES_FIELDS,
)
#: file_id fields ingest.fit reads (``product`` under any of its sub-field names).
FILE_ID_SOURCE_FIELDS: tuple[str, ...] = (
    "type",
    "manufacturer",
    "product",
    "garmin_product",
    "favero_product",
    "product_name",
    "serial_number",
    "time_created",
)
#: activity fields ingest.fit reads.
ACTIVITY_SOURCE_FIELDS: tuple[str, ...] = ("timestamp", "local_timestamp")

#: Sports whose FIT cadence is strides/min of one foot (FIT profile: running, walking,
#: hiking, mountaineering). Decided by the session's sport, never by field presence:
#: running dynamics also appear in cycling and transition sessions (FACTS.md).
FOOT_SPORTS: frozenset[str] = frozenset({"running", "walking", "hiking", "mountaineering"})
#: Sub-sports that make a generic/fitness-equipment session a foot session
#: (some devices log a treadmill run as fitness_equipment/treadmill).
FOOT_SUB_SPORTS: frozenset[str] = frozenset(
    {"treadmill", "indoor_running", "indoor_walking", "casual_walking", "speed_walking"}
)
#: Sports whose sub_sport may turn them into a foot session.
GENERIC_SPORTS: frozenset[str] = frozenset({"", "generic", "fitness_equipment", "training"})

#: Plausible running step rate, steps/min. Outside it a record's cadence is the sensor
#: ramping at a stop (e.g. 24 spm on a FR70 footpod), not gait; set to null at ingest.
#: Sprinting tops out near 260 spm, jogging rarely below 140 (Heiderscheit et al., Med Sci
#: Sports Exerc 2011; project invariant in STYLE.md: 60-260 spm for runs).
RUNNING_CADENCE_SPM: tuple[float, float] = (60.0, 260.0)

#: Developer fields that carry running power, used for power_w only when the file has no
#: native power. Matched on the field_description's native_field_num (record.power = 7)
#: or, for apps that do not set it, on the name (Stryd "Power", Garmin Running Power
#: "RP_Power"), case-insensitive.
RECORD_POWER_FIELD_NUM = 7
DEV_POWER_NAMES: frozenset[str] = frozenset({"power", "rp_power"})

#: file_id.type values that are recorded activities.
ACTIVITY_FILE_TYPES: frozenset[str] = frozenset({"activity", "4"})


def is_foot_sport(sport: str | None, sub_sport: str | None) -> bool:
    """True when FIT cadence of this session is strides/min of one foot."""
    sport = sport or ""
    return sport in FOOT_SPORTS or (
        sport in GENERIC_SPORTS and (sub_sport or "") in FOOT_SUB_SPORTS
    )


# --------------------------------------------------------------------------------------
# The decoder-independent intermediate: what fitparse and the fast path both deliver.


@dataclass
class DevColumn:
    """One developer field of the record message, aligned with the record rows."""

    source: str  # developer app: manufacturer name if declared, else "dev<index>"
    name: str  # field_description.field_name
    units: str | None
    native_field_num: int | None  # the native record field it mirrors (7 = power), if declared
    values: np.ndarray  # float64, NaN where absent


@dataclass
class DevDescription:
    """A field_description message: a developer field's name and meaning."""

    source: str
    name: str
    units: str | None
    native_mesg_num: int | None  # message it belongs to (20 = record), if declared
    native_field_num: int | None
    #: (developer_data_index, field_definition_number): the field's identity; a device may
    #: describe the same field twice (COROS "Effort Pace"), which is still one field
    key: tuple[int, int] | None = None


@dataclass
class RawSegment:
    """One FIT file (one header; chained files hold several) as decoded.

    ``records`` holds the RECORD_SOURCE_FIELDS present in the file as float64 columns of
    equal length (NaN = absent/invalid), in profile units after scale/offset, timestamps in
    Unix seconds and positions in degrees. Summary messages are dicts of profile field name
    -> number, with date_time fields in Unix seconds and enums as FIT profile names
    (:func:`enum_name`).
    """

    file_id: dict[str, Any] | None = None
    activity: dict[str, Any] | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    n_records: int = 0
    records: dict[str, np.ndarray] = field(default_factory=dict)
    dev_records: list[DevColumn] = field(default_factory=list)
    dev_descriptions: list[DevDescription] = field(default_factory=list)
    # developer fields of session/lap messages: (unix ts, source, "session:<name>", value, units)
    dev_summary: list[tuple[float, str, str, float, str | None]] = field(default_factory=list)
    #: what the decoder had to work around, as warnings (both decoders word them alike)
    notes: list[str] = field(default_factory=list)


#: FIT profile enum names that fitparse 1.2's profile (2018) lacks, taken from the FIT SDK
#: 21.x profile (garmin-fit-sdk ``Profile["types"]``). Numbers still unknown stay numbers.
ENUM_SUPPLEMENT: dict[str, dict[int, str]] = {
    "manufacturer": {
        41: "shimano",
        125: "nci_technology",
        126: "iqsquare",
        127: "leomo",
        128: "ifit_com",
        129: "coros_byte",
        130: "versa_design",
        131: "chileaf",
        132: "cycplus",
        133: "gravaa_byte",
        134: "sigeyi",
        135: "coospo",
        136: "geoid",
        137: "bosch",
        138: "kyto",
        139: "kinetic_sports",
        140: "decathlon_byte",
        141: "tq_systems",
        142: "tag_heuer",
        143: "keiser_fitness",
        144: "zwift_byte",
        145: "porsche_ep",
        146: "blackbird",
        147: "meilan_byte",
        148: "ezon",
        149: "laisi",
        150: "myzone",
        151: "abawo",
        152: "bafang",
        153: "luhong_technology",
        294: "coros",
        295: "virtugo",
        296: "velosense",
        297: "cycligentinc",
        298: "trailforks",
        299: "mahle_ebikemotion",
        300: "nurvv",
        301: "microprogram",
        302: "zone5cloud",
        303: "greenteg",
        304: "yamaha_motors",
        305: "whoop",
        306: "gravaa",
        307: "onelap",
        308: "monark_exercise",
        309: "form",
        310: "decathlon",
        311: "syncros",
        312: "heatup",
        313: "cannondale",
        314: "true_fitness",
        315: "RGT_cycling",
        316: "vasa",
        317: "race_republic",
        318: "fazua",
        319: "oreka_training",
        320: "lsec",
        321: "lululemon_studio",
        322: "shanyue",
        323: "spinning_mda",
        324: "hilldating",
        325: "aero_sensor",
        326: "nike",
        327: "magicshine",
        328: "ictrainer",
        329: "absolute_cycling",
        330: "eo_swimbetter",
        331: "mywhoosh",
        332: "ravemen",
        333: "tektro_racing_products",
        334: "darad_innovation_corporation",
        335: "cycloptim",
        337: "runna",
        339: "zepp",
        340: "peloton",
        341: "carv",
        342: "tissot",
        345: "real_velo",
        346: "wetech",
        347: "jespr",
        348: "huawei",
        349: "gotoes",
        350: "cadence_app",
        351: "una_watch",
        352: "tymewear",
        353: "exposure_lights",
        354: "forto_cycling",
    },
    "sport": {
        49: "baseball",
        53: "diving",
        56: "shooting",
        58: "winter_sport",
        59: "grinding",
        62: "hiit",
        63: "video_gaming",
        64: "racket",
        65: "wheelchair_push_walk",
        66: "wheelchair_push_run",
        67: "meditation",
        68: "para_sport",
        69: "disc_golf",
        70: "team_sport",
        71: "cricket",
        72: "rugby",
        73: "hockey",
        74: "lacrosse",
        75: "volleyball",
        76: "water_tubing",
        77: "wakesurfing",
        78: "water_sport",
        79: "archery",
        80: "mixed_martial_arts",
        81: "motor_sports",
        82: "snorkeling",
        83: "dance",
        84: "jump_rope",
        85: "pool_apnea",
        86: "mobility",
        87: "geocaching",
        88: "canoeing",
    },
    "sub_sport": {
        62: "breathing",
        63: "ccr_diving",
        65: "sail_race",
        66: "expedition",
        67: "ultra",
        68: "indoor_climbing",
        69: "bouldering",
        70: "hiit",
        71: "indoor_grinding",
        72: "hunting_with_dogs",
        73: "amrap",
        74: "emom",
        75: "tabata",
        77: "esport",
        78: "triathlon",
        79: "duathlon",
        80: "brick",
        81: "swim_run",
        82: "adventure_race",
        83: "trucker_workout",
        84: "pickleball",
        85: "padel",
        86: "indoor_wheelchair_walk",
        87: "indoor_wheelchair_run",
        88: "indoor_hand_cycling",
        90: "field",
        91: "ice",
        92: "ultimate",
        93: "platform",
        94: "squash",
        95: "badminton",
        96: "racquetball",
        97: "table_tennis",
        98: "overland",
        99: "trolling_motor",
        110: "fly_canopy",
        111: "fly_paraglide",
        112: "fly_paramotor",
        113: "fly_pressurized",
        114: "fly_navigate",
        115: "fly_timer",
        116: "fly_altimeter",
        117: "fly_wx",
        118: "fly_vfr",
        119: "fly_ifr",
        121: "dynamic_apnea",
        123: "enduro",
        124: "rucking",
        125: "rally",
        126: "pool_triathlon",
        127: "e_bike_enduro",
    },
    "file": {},
}


def enum_name(type_name: str, value: Any) -> str | None:
    """FIT enum value -> profile name (fitparse's profile), unknown numbers as text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    from fitparse.profile import FIELD_TYPES

    ftype = FIELD_TYPES.get(type_name)
    values = getattr(ftype, "values", None) or {}
    try:
        key = int(value)
    except (TypeError, ValueError):
        return str(value)
    name = values.get(key) or ENUM_SUPPLEMENT.get(type_name, {}).get(key)
    return str(name if name is not None else key)


def misaligned_note(fields: list[tuple[int, int, int, str]]) -> str:
    """The warning for fields decoded as bytes: (message number, field number, size, base type)."""
    from fitparse.profile import MESSAGE_TYPES

    kinds = sorted({(m, f, s, b) for m, f, s, b in fields})
    parts = []
    for mesg, num, size, base in kinds[:3]:
        mtype = MESSAGE_TYPES.get(mesg)
        mname = mtype.name if mtype else f"message {mesg}"
        fdef = mtype.fields.get(num) if mtype else None
        fname = fdef.name if fdef else f"field {num}"
        parts.append(f"{mname}.{fname} ({size} bytes declared as {base})")
    more = f" and {len(kinds) - 3} more" if len(kinds) > 3 else ""
    return (
        f"{len(fields)} definition(s) of a field whose size is not a multiple of its base type: "
        f"decoded as bytes and ignored, as the FIT SDK does: {', '.join(parts)}{more}"
    )
