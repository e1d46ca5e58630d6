"""Ingestion stages as plain functions; Prefect tasks in ``tasks/`` wrap them."""
