"""Pure polars analytics: per-sample gait metrics, per-run summaries, weekly load and risk.

Public API
----------
- :func:`transforms.gait.derive_samples` (LazyFrame -> LazyFrame) and the metric
  expressions in :mod:`transforms.gait` (``steps_per_min()``, ``step_length_m()``, ...)
- :func:`transforms.gait.activity_gait` -> ``ACTIVITY_GAIT_SCHEMA``
- :func:`transforms.risk.weekly_risk` -> ``WEEKLY_RISK_SCHEMA``;
  :func:`transforms.risk.weeks_to_recompute` for incremental updates
- :class:`transforms.thresholds.Thresholds`, :func:`transforms.thresholds.load_thresholds`
- :class:`transforms.privacy.PrivacyZone`, :func:`transforms.privacy.mask_privacy_zones`

Nothing here imports Prefect, DuckDB or reports (layering: ingest -> transforms -> warehouse).
Formulas, units and references: docs/metrics.md.
"""
