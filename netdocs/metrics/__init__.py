"""Query and ingest-run metrics, feedback, Prometheus exposition and reports."""
