-- 011: per-activity histograms behind the weekly report's speed, cadence and step-length
-- charts, written by the metrics stage with the activity's gait row (same transaction)
-- from the samples it derives anyway (transforms/chartbins.py). A report then sums a few
-- hundred rows per run instead of re-deriving every sample of its week and baseline
-- through v_report_samples (docs/performance.md, sixth pass). Empty after this migration:
-- the next metrics run bins every run, and until then the reports use v_report_samples.
-- No primary key: the metrics stage writes the rows of an activity at once, one per bin
-- by construction, and a data test checks one total row per activity (an index over
-- every bin column would cost more than it saves).

CREATE TABLE activity_chart_bins (
    activity_id      VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    speed_bin_m_s    DOUBLE,
    cadence_bin_spm  DOUBLE,
    step_length_mm   INTEGER,
    seconds          DOUBLE NOT NULL,
    binned_at        TIMESTAMPTZ
);
COMMENT ON TABLE activity_chart_bins IS 'Grain: one row per running activity, chart kind and bin (transforms/chartbins.py): running, moving time per speed bin x step length (step), cadence bin (cadence) and speed bin (speed), with the thresholds in use, plus one total row per binned activity. Written by the metrics stage with the activity''s activity_gait row; deleted when its activity is replaced. Read through v_report_chart_bins.';
COMMENT ON COLUMN activity_chart_bins.activity_id IS 'References activities.activity_id';
COMMENT ON COLUMN activity_chart_bins.kind IS 'step (speed bin x step length), cadence (step-rate bin), speed (speed bin) or total (one row per binned activity: all its running, moving time)';
COMMENT ON COLUMN activity_chart_bins.speed_bin_m_s IS 'Lower edge of the 0.25 m/s speed bin (step and speed rows; speeds of 12 m/s and more are not charted), metres per second';
COMMENT ON COLUMN activity_chart_bins.cadence_bin_spm IS 'Lower edge of the 2 steps/min bin of the running step rate, run_cadence_min_spm to cadence_valid_max_spm (cadence rows), steps per minute';
COMMENT ON COLUMN activity_chart_bins.step_length_mm IS 'Step length rounded to the millimetre (step rows; samples with a running step rate or none), millimetres';
COMMENT ON COLUMN activity_chart_bins.seconds IS 'Running, moving time of the activity in this bin (total rows: in all), seconds';
COMMENT ON COLUMN activity_chart_bins.binned_at IS 'When the metrics stage wrote this activity''s bins, UTC (total rows only; new at every rewrite)';
