"""netdocs: retrieval-augmented answering over a network team's own documentation."""

__version__ = "0.1.0"
