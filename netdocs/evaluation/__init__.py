"""Retrieval evaluation: question sets, per-category / per-role / per-stage scores, a gate.

The command-line entry is ``eval/run_eval.py`` (``netdocs.evaluation.cli``)."""
