"""Caches of the query side (results, question embeddings) and their statistics."""
