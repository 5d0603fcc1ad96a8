"""The analytics layer: revenue and MRR movements, cohorts, survival, sBG retention, point-in-time features.

Every function takes a connection (DuckDB or Spark) and an explicit ``as_of``
where time matters, and returns DataFrames aggregated in the engine.
"""
