-- 010: the thresholds the stored metrics were computed with (transforms/thresholds.py
-- defaults with gaitwatch.toml [thresholds] applied), written by the metrics stage in the
-- same transaction as its results and only when a value changed. The analyst views read
-- them from here (v_report_samples), so a chart and a metric use the same numbers.

CREATE TABLE thresholds_in_use (
    name    VARCHAR NOT NULL PRIMARY KEY,
    value   DOUBLE NOT NULL,
    unit    VARCHAR,
    set_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE thresholds_in_use IS 'Grain: one row per threshold of transforms/thresholds.py (every field of Thresholds): the value the last metrics run used, defaults with gaitwatch.toml [thresholds] applied. Written with the metrics it describes; empty until metrics ran on data (the views then use the defaults).';
COMMENT ON COLUMN thresholds_in_use.name IS 'Threshold name, a field of transforms.thresholds.Thresholds (docs/metrics.md gives its reference)';
COMMENT ON COLUMN thresholds_in_use.value IS 'Value in use (integer thresholds hold whole numbers)';
COMMENT ON COLUMN thresholds_in_use.unit IS 'Unit, from the name''s suffix (s, m, m/s, steps/min, %, days, weeks, bpm, mm, z); null for ratios, shares and counts';
COMMENT ON COLUMN thresholds_in_use.set_at IS 'When the metrics stage last changed this value, UTC';
