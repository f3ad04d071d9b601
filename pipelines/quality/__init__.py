"""Data quality: Great Expectations suites over ``raw.*``, run as Dagster asset checks."""
