"""employment-match: skill → occupation matching over ESCO-style embeddings (see README.md)."""

__version__ = "1.0"
