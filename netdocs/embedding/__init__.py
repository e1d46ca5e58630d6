"""Embedders: the protocol, the packaged local model, OpenAI, a hashing test model, the cache."""
