"""Prefect flows: ingest (scheduled and backfill)."""
