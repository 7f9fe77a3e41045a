-- 003: columns the transforms appended to ACTIVITY_GAIT_SCHEMA / WEEKLY_RISK_SCHEMA
-- (issue 4). ADD COLUMN appends, keeping the tables in the schemas' column order.

ALTER TABLE activity_gait ADD COLUMN cadence_mean_spm DOUBLE;
ALTER TABLE activity_gait ADD COLUMN hr_share DOUBLE;
ALTER TABLE activity_gait ADD COLUMN load_method VARCHAR;
COMMENT ON COLUMN activity_gait.cadence_mean_spm IS 'Mean cadence: steps / running timer time including stops, steps per minute (comparable to the device session average)';
COMMENT ON COLUMN activity_gait.hr_share IS 'Share of moving running time with heart rate, 0-1';
COMMENT ON COLUMN activity_gait.load_method IS 'How trimp was computed: hr_trimp (Banister TRIMP from heart rate) or pace_duration (no heart rate); see docs/metrics.md';

ALTER TABLE weekly_risk ADD COLUMN distance_progression_pct DOUBLE;
COMMENT ON COLUMN weekly_risk.distance_progression_pct IS 'Running distance versus the mean of the 2 previous weeks, % change (Nielsen 2014)';
