"""Thin Prefect tasks around netdocs stages: names, retries, logging — no logic."""
