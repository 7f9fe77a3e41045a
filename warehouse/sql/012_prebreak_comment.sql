-- 012: the pre-break level of a return is null without regular training before the break
-- (stop 21: the 4 weeks with runs must lie within return_prebreak_span_weeks of the last
-- run before it); the column's documentation says so. A comment only: no data changes.

COMMENT ON COLUMN weekly_risk.prebreak_run_time_s IS 'In return weeks: mean weekly running time, seconds, of the last return_prebreak_weeks weeks with runs before the break, when all lie within return_prebreak_span_weeks weeks up to its last run; null otherwise (no regular training to return to: the return is only noted, flag returning)';
